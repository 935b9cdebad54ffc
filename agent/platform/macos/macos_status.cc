#include "agent/platform/macos/macos_status.h"

#include <SystemConfiguration/SystemConfiguration.h>

namespace vigil::agent::macos {

Status systemConfigurationStatus(const std::string& what) {
  const int code = SCError();
  return Status::unavailable(what + ": " + SCErrorString(code) + " (" + std::to_string(code) + ")");
}

}  // namespace vigil::agent::macos
