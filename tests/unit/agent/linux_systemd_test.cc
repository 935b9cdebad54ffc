#define BOOST_TEST_MODULE agent_linux_systemd
#include <stdlib.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <chrono>
#include <string>

#include "agent/platform/linux/linux_platform.h"
#include "tests/support/temp_dir.h"
#include "tests/unit/agent/platform_test_support.h"
#include "tests/unit/agent/posix_test_support.h"

using vigil::StatusCode;
using vigil::agent::linux_platform::makePowerMonitor;
using vigil::agent::linux_platform::makeSystemdServiceControl;
using vigil::agent::platform_testing::errorText;
using vigil::agent::platform_testing::FakeNotifySocket;
using vigil::agent::platform_testing::RecordingEventSink;
using vigil::testing::TempDir;
using namespace std::chrono_literals;

namespace {

// Sets the watchdog variables systemd would set, and clears them afterwards.
struct WatchdogEnvironment {
  WatchdogEnvironment(const std::string& usec, const std::string& pid) {
    setenv("WATCHDOG_USEC", usec.c_str(), 1);
    setenv("WATCHDOG_PID", pid.c_str(), 1);
  }
  ~WatchdogEnvironment() {
    unsetenv("WATCHDOG_USEC");
    unsetenv("WATCHDOG_PID");
  }
};

}  // namespace

BOOST_AUTO_TEST_CASE(the_service_manager_hears_ready_alive_and_stopping) {
  const TempDir temp;
  FakeNotifySocket systemd(temp.sub("notify"));
  auto control = makeSystemdServiceControl();

  control->ready("beating every 60 s\nto example.org");
  BOOST_TEST(systemd.next() == "READY=1\nSTATUS=beating every 60 s to example.org");
  control->alive();
  BOOST_TEST(systemd.next() == "WATCHDOG=1");
  control->stopping();
  BOOST_TEST(systemd.next() == "STOPPING=1");
}

// Started by anything but systemd, NOTIFY_SOCKET is unset: a notify socket that exists all the
// same hears nothing, until the environment names it (read at each call, not once).
BOOST_AUTO_TEST_CASE(outside_systemd_notifications_go_nowhere) {
  const TempDir temp;
  FakeNotifySocket unnamed(temp.sub("notify"), /*announce=*/false);
  auto control = makeSystemdServiceControl();
  control->ready("up");
  control->alive();
  control->stopping();
  BOOST_TEST(unnamed.pending() == "(none)");
  BOOST_TEST(!control->aliveInterval().has_value());

  unnamed.announce();
  control->alive();
  BOOST_TEST(unnamed.pending() == "WATCHDOG=1");
}

// Under systemd without WatchdogSec=, no alive interval is asked for; an alive() made anyway
// (the heartbeat loop makes one per beat) still reaches systemd, which ignores it.
BOOST_AUTO_TEST_CASE(without_a_watchdog_no_interval_is_asked_and_alive_is_harmless) {
  const TempDir temp;
  FakeNotifySocket systemd(temp.sub("notify"));
  unsetenv("WATCHDOG_USEC");
  unsetenv("WATCHDOG_PID");
  auto control = makeSystemdServiceControl();
  BOOST_TEST(!control->aliveInterval().has_value());
  BOOST_TEST(systemd.pending() == "(none)");  // asking sends nothing
  control->alive();
  BOOST_TEST(systemd.pending() == "WATCHDOG=1");
  BOOST_TEST(systemd.pending() == "(none)");
}

BOOST_AUTO_TEST_CASE(the_alive_interval_is_half_the_watchdog_period_for_this_process) {
  auto control = makeSystemdServiceControl();
  {
    const WatchdogEnvironment watchdog("20000000", std::to_string(getpid()));
    const auto interval = control->aliveInterval();
    BOOST_TEST_REQUIRE(interval.has_value());
    BOOST_TEST((*interval == 10s));
  }
  {
    const WatchdogEnvironment someone_elses("20000000", std::to_string(getpid() + 1));
    BOOST_TEST(!control->aliveInterval().has_value());
  }
}

BOOST_AUTO_TEST_CASE(power_monitor_starts_or_says_why_it_cannot) {
  RecordingEventSink sink;
  auto monitor = makePowerMonitor();
  auto started = monitor->start(sink);
  if (started.ok()) {
    BOOST_TEST_MESSAGE("logind reachable: watching sleep and shutdown");
    monitor->releaseHold();
    const auto before = std::chrono::steady_clock::now();
    monitor->stop();
    BOOST_TEST((std::chrono::steady_clock::now() - before < 5s));
  } else {
    BOOST_TEST_MESSAGE("power monitor unavailable: " << errorText(started));
    BOOST_TEST((started.code() == StatusCode::kUnavailable));
    const std::string& why = started.message();
    BOOST_TEST(
        (why.rfind("no system bus: sleep/shutdown notices from logind unavailable", 0) == 0 ||
         why.rfind("logind is not running", 0) == 0),
        why);
    monitor->releaseHold();  // harmless when never started
    monitor->stop();
  }
  BOOST_TEST(sink.size() == 0u);
}
