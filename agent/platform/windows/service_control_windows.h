#pragma once

// What the Windows service control manager and the console tell the agent, as SystemEvents.
// Pure functions: the service host (service_host_windows.cc) calls them from its handlers.

#include <windows.h>

#include <mutex>
#include <optional>

#include "agent/core/platform.h"

namespace vigil::agent::windows {

// The name the agent's service is installed under (sc.exe create VigilAgent ...).
inline constexpr wchar_t kServiceName[] = L"VigilAgent";

// The event a control sent to the service's HandlerEx stands for: STOP is kServiceStop;
// PRESHUTDOWN and SHUTDOWN are kSystemShutdown; POWEREVENT with PBT_APMSUSPEND is kSuspending
// and with PBT_APMRESUMEAUTOMATIC or PBT_APMRESUMESUSPEND kResumed; SESSIONCHANGE with
// WTS_SESSION_LOGOFF is kSessionLogoff. nullopt for anything else (INTERROGATE, other power
// and session events, controls the service does not accept). `event_type` is HandlerEx's
// dwEventType and only matters for POWEREVENT and SESSIONCHANGE.
std::optional<SystemEvent> translateServiceControl(DWORD control, DWORD event_type);

// The SERVICE_ACCEPT_* flags of a running agent: exactly the controls
// translateServiceControl() gives an event for.
DWORD acceptedControlsWhenRunning();

// The event a console control (SetConsoleCtrlHandler's dwCtrlType) stands for when the agent
// runs in a console: Ctrl+C, Ctrl+Break and closing the window are kServiceStop,
// CTRL_SHUTDOWN_EVENT is kSystemShutdown, CTRL_LOGOFF_EVENT is kSessionLogoff.
std::optional<SystemEvent> translateConsoleControl(DWORD ctrl_type);

// Sends each event the service or console handler receives to the sink that wants it:
// kSuspending and kResumed to the power monitor's sink (or, while none is registered, to the
// service's); kSystemShutdown to both (once when they are the same sink); everything else to
// the service's. Thread-safe. Sinks do not block (SystemEventSink's contract), so events are
// delivered under the lock, and a setter returns only once no event is being delivered to the
// sink it replaces.
class ServiceEventRouter {
 public:
  void setServiceSink(SystemEventSink* sink);
  void setPowerSink(SystemEventSink* sink);
  void route(SystemEvent event);

 private:
  std::mutex mu_;
  SystemEventSink* service_sink_ = nullptr;
  SystemEventSink* power_sink_ = nullptr;
};

}  // namespace vigil::agent::windows
