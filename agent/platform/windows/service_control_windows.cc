#include "agent/platform/windows/service_control_windows.h"

namespace vigil::agent::windows {

std::optional<SystemEvent> translateServiceControl(DWORD control, DWORD event_type) {
  switch (control) {
    case SERVICE_CONTROL_STOP:
      return SystemEvent::kServiceStop;
    case SERVICE_CONTROL_PRESHUTDOWN:
    case SERVICE_CONTROL_SHUTDOWN:
      return SystemEvent::kSystemShutdown;
    case SERVICE_CONTROL_POWEREVENT:
      switch (event_type) {
        case PBT_APMSUSPEND:
          return SystemEvent::kSuspending;
        case PBT_APMRESUMEAUTOMATIC:
        case PBT_APMRESUMESUSPEND:
          return SystemEvent::kResumed;
        default:
          return std::nullopt;
      }
    // A user logging off does not end the service or the machine: no goodbye. (In console
    // mode the agent lives in the session, so there CTRL_LOGOFF_EVENT is a goodbye.)
    default:
      return std::nullopt;
  }
}

DWORD acceptedControlsWhenRunning() {
  return SERVICE_ACCEPT_STOP | SERVICE_ACCEPT_PRESHUTDOWN | SERVICE_ACCEPT_SHUTDOWN |
         SERVICE_ACCEPT_POWEREVENT;
}

std::optional<SystemEvent> translateConsoleControl(DWORD ctrl_type) {
  switch (ctrl_type) {
    case CTRL_C_EVENT:
    case CTRL_BREAK_EVENT:
    case CTRL_CLOSE_EVENT:
      return SystemEvent::kServiceStop;
    case CTRL_SHUTDOWN_EVENT:
      return SystemEvent::kSystemShutdown;
    case CTRL_LOGOFF_EVENT:
      return SystemEvent::kSessionLogoff;
    default:
      return std::nullopt;
  }
}

void ServiceEventRouter::setServiceSink(SystemEventSink* sink) {
  std::lock_guard<std::mutex> lock(mu_);
  service_sink_ = sink;
}

void ServiceEventRouter::setPowerSink(SystemEventSink* sink) {
  std::lock_guard<std::mutex> lock(mu_);
  power_sink_ = sink;
}

void ServiceEventRouter::route(SystemEvent event) {
  std::lock_guard<std::mutex> lock(mu_);
  auto deliver = [event](SystemEventSink* sink) {
    if (sink != nullptr) sink->onSystemEvent(event);
  };
  switch (event) {
    case SystemEvent::kSuspending:
    case SystemEvent::kResumed:
      deliver(power_sink_ != nullptr ? power_sink_ : service_sink_);
      break;
    case SystemEvent::kSystemShutdown:
      deliver(service_sink_);
      if (power_sink_ != service_sink_) deliver(power_sink_);
      break;
    default:
      deliver(service_sink_);
      break;
  }
}

}  // namespace vigil::agent::windows
