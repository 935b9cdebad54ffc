#pragma once

#include <string>

namespace vigil::agent {

// The system's CA bundle file, for an agent.conf without ca_file: on Linux the first that
// exists of the bundles Debian/Ubuntu, RHEL/Alma/Rocky/Fedora, SUSE and Alpine install (the
// released agent's libcurl is built without a CA path of its own, so one binary serves every
// distribution); elsewhere, and when none exists, empty: libcurl's own default (Schannel's
// and Secure Transport's system stores, OpenSSL's default directory).
std::string systemCaBundle();

}  // namespace vigil::agent
