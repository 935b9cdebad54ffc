#define BOOST_TEST_MODULE agent_windows_service_control
#include <windows.h>

#include <boost/test/unit_test.hpp>
#include <optional>
#include <string>
#include <vector>

#include "agent/platform/windows/service_control_windows.h"
#include "agent/platform/windows/windows_platform.h"

namespace win = vigil::agent::windows;
using vigil::agent::SystemEvent;

namespace {

struct ControlCase {
  DWORD control = 0;
  DWORD event_type = 0;
  std::optional<SystemEvent> expected;
};

const char* nameOf(const std::optional<SystemEvent>& e) {
  return e ? vigil::agent::systemEventName(*e) : "none";
}

// Records the names of the events it receives.
class RecordingSink final : public vigil::agent::SystemEventSink {
 public:
  void onSystemEvent(SystemEvent e) override { events.push_back(nameOf(e)); }
  std::vector<std::string> events;
};

}  // namespace

BOOST_AUTO_TEST_CASE(service_controls_translate_to_system_events) {
  const ControlCase cases[] = {
      {SERVICE_CONTROL_STOP, 0, SystemEvent::kServiceStop},
      {SERVICE_CONTROL_PRESHUTDOWN, 0, SystemEvent::kSystemShutdown},
      {SERVICE_CONTROL_SHUTDOWN, 0, SystemEvent::kSystemShutdown},
      {SERVICE_CONTROL_POWEREVENT, PBT_APMSUSPEND, SystemEvent::kSuspending},
      {SERVICE_CONTROL_POWEREVENT, PBT_APMRESUMEAUTOMATIC, SystemEvent::kResumed},
      {SERVICE_CONTROL_POWEREVENT, PBT_APMRESUMESUSPEND, SystemEvent::kResumed},
      {SERVICE_CONTROL_POWEREVENT, PBT_APMPOWERSTATUSCHANGE, std::nullopt},
      {SERVICE_CONTROL_POWEREVENT, PBT_POWERSETTINGCHANGE, std::nullopt},
      // A user's logoff ends neither the service nor the machine.
      {SERVICE_CONTROL_SESSIONCHANGE, WTS_SESSION_LOGOFF, std::nullopt},
      {SERVICE_CONTROL_SESSIONCHANGE, WTS_SESSION_LOGON, std::nullopt},
      {SERVICE_CONTROL_SESSIONCHANGE, WTS_SESSION_LOCK, std::nullopt},
      {SERVICE_CONTROL_INTERROGATE, 0, std::nullopt},
      {SERVICE_CONTROL_PAUSE, 0, std::nullopt},
      {SERVICE_CONTROL_CONTINUE, 0, std::nullopt},
      {SERVICE_CONTROL_PARAMCHANGE, 0, std::nullopt},
      {200, 0, std::nullopt},  // a user-defined control
  };
  for (const ControlCase& c : cases) {
    BOOST_TEST_CONTEXT("control " << c.control << " event " << c.event_type) {
      const auto got = win::translateServiceControl(c.control, c.event_type);
      BOOST_TEST(nameOf(got) == nameOf(c.expected));
    }
  }
}

BOOST_AUTO_TEST_CASE(running_service_accepts_exactly_the_translated_controls) {
  const DWORD accepted = win::acceptedControlsWhenRunning();
  BOOST_TEST((accepted & SERVICE_ACCEPT_STOP) != 0u);
  BOOST_TEST((accepted & SERVICE_ACCEPT_PRESHUTDOWN) != 0u);
  BOOST_TEST((accepted & SERVICE_ACCEPT_SHUTDOWN) != 0u);
  BOOST_TEST((accepted & SERVICE_ACCEPT_POWEREVENT) != 0u);
  BOOST_TEST((accepted & SERVICE_ACCEPT_SESSIONCHANGE) == 0u);
  BOOST_TEST((accepted & SERVICE_ACCEPT_PAUSE_CONTINUE) == 0u);
  BOOST_TEST((accepted & SERVICE_ACCEPT_PARAMCHANGE) == 0u);
}

BOOST_AUTO_TEST_CASE(console_controls_translate_to_system_events) {
  BOOST_TEST(nameOf(win::translateConsoleControl(CTRL_C_EVENT)) == "service_stop");
  BOOST_TEST(nameOf(win::translateConsoleControl(CTRL_BREAK_EVENT)) == "service_stop");
  BOOST_TEST(nameOf(win::translateConsoleControl(CTRL_CLOSE_EVENT)) == "service_stop");
  BOOST_TEST(nameOf(win::translateConsoleControl(CTRL_SHUTDOWN_EVENT)) == "system_shutdown");
  BOOST_TEST(nameOf(win::translateConsoleControl(CTRL_LOGOFF_EVENT)) == "session_logoff");
  BOOST_TEST(nameOf(win::translateConsoleControl(42)) == "none");
}

// Outside the SCM the dispatcher cannot connect, so the host runs the body in console mode and
// returns its exit code.
BOOST_AUTO_TEST_CASE(host_outside_the_scm_runs_the_body_in_console_mode) {
  auto pair = win::makeServiceHostAndPowerMonitor();
  RecordingSink events;
  bool ran = false;
  const int code = pair.service->run(events, [&](vigil::agent::ServiceControl& control) {
    ran = true;
    control.ready("console");
    control.alive();
    BOOST_TEST(!control.aliveInterval().has_value());
    control.stopping();
    return 7;
  });
  BOOST_TEST(ran);
  BOOST_TEST(code == 7);
}

BOOST_AUTO_TEST_CASE(router_sends_power_events_to_the_power_monitor_once_it_listens) {
  win::ServiceEventRouter router;
  RecordingSink service;
  RecordingSink power;
  router.setServiceSink(&service);
  router.route(SystemEvent::kSuspending);  // no power monitor yet: the service hears it
  router.setPowerSink(&power);
  router.route(SystemEvent::kSuspending);
  router.route(SystemEvent::kResumed);
  router.route(SystemEvent::kServiceStop);
  router.route(SystemEvent::kSessionLogoff);
  router.route(SystemEvent::kSystemShutdown);  // both need to know
  const std::vector<std::string> service_expected = {"suspending", "service_stop", "session_logoff",
                                                     "system_shutdown"};
  const std::vector<std::string> power_expected = {"suspending", "resumed", "system_shutdown"};
  BOOST_TEST(service.events == service_expected, boost::test_tools::per_element());
  BOOST_TEST(power.events == power_expected, boost::test_tools::per_element());

  router.setPowerSink(nullptr);  // PowerMonitor::stop()
  router.route(SystemEvent::kResumed);
  BOOST_TEST(power.events.size() == power_expected.size());
  BOOST_TEST(service.events.back() == "resumed");
}

BOOST_AUTO_TEST_CASE(router_delivers_shutdown_once_to_a_sink_registered_twice) {
  win::ServiceEventRouter router;
  RecordingSink agent;
  router.setServiceSink(&agent);
  router.setPowerSink(&agent);
  router.route(SystemEvent::kSystemShutdown);
  BOOST_TEST(agent.events.size() == 1u);
}
