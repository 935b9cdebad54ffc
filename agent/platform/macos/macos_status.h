#pragma once

// The one place where errors of Apple's frameworks become vigil Status values. POSIX errors
// (errno) go through agent/platform/posix/posix_status.h.

#include <string>

#include "common/status.h"

namespace vigil::agent::macos {

// A failed SystemConfiguration call, from SCError() of the calling thread:
// "what: SCErrorString (code)". Call it right after the failure, before any other SC call.
Status systemConfigurationStatus(const std::string& what);

}  // namespace vigil::agent::macos
