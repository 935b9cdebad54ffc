#pragma once

namespace vigil::agent {

// The agent's version as reported on the wire and by --version; set by the build.
constexpr char kAgentVersion[] = VIGIL_VERSION;

}  // namespace vigil::agent
