#include "agent/core/waiter.h"

namespace vigil::agent {

const char* systemEventName(SystemEvent event) {
  switch (event) {
    case SystemEvent::kNetworkChanged:
      return "network_changed";
    case SystemEvent::kResumed:
      return "resumed";
    case SystemEvent::kSuspending:
      return "suspending";
    case SystemEvent::kSystemShutdown:
      return "system_shutdown";
    case SystemEvent::kSessionLogoff:
      return "session_logoff";
    case SystemEvent::kServiceStop:
      return "service_stop";
    case SystemEvent::kBeaconUnanswered:
      return "beacon_unanswered";
  }
  return "unknown";
}

}  // namespace vigil::agent
