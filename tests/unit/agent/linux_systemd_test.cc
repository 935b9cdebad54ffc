#define BOOST_TEST_MODULE agent_linux_systemd
#include <poll.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <chrono>
#include <cstring>
#include <string>

#include "agent/platform/linux/linux_platform.h"
#include "agent/platform/posix/unique_fd.h"
#include "tests/support/temp_dir.h"
#include "tests/unit/agent/platform_test_support.h"

using vigil::StatusCode;
using vigil::agent::linux_platform::makePowerMonitor;
using vigil::agent::linux_platform::makeSystemdServiceControl;
using vigil::agent::platform_testing::errorText;
using vigil::agent::platform_testing::RecordingEventSink;
using vigil::agent::posix::UniqueFd;
using vigil::testing::TempDir;
using namespace std::chrono_literals;

namespace {

// Plays systemd's side of sd_notify(3): a datagram socket named by NOTIFY_SOCKET while it lives.
class FakeNotifySocket {
 public:
  explicit FakeNotifySocket(const std::string& path) : fd_(socket(AF_UNIX, SOCK_DGRAM, 0)) {
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::strncpy(address.sun_path, path.c_str(), sizeof address.sun_path - 1);
    BOOST_TEST_REQUIRE(
        bind(fd_.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0);
    setenv("NOTIFY_SOCKET", path.c_str(), 1);
  }
  ~FakeNotifySocket() { unsetenv("NOTIFY_SOCKET"); }

  // The next notification, or "(none)" if none comes within 5 s.
  std::string next() {
    pollfd ready{fd_.get(), POLLIN, 0};
    if (poll(&ready, 1, 5000) != 1) return "(none)";
    char buffer[1024];
    const ssize_t n = recv(fd_.get(), buffer, sizeof buffer, 0);
    return n < 0 ? "(error)" : std::string(buffer, static_cast<size_t>(n));
  }

 private:
  UniqueFd fd_;
};

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

BOOST_AUTO_TEST_CASE(outside_systemd_notifications_go_nowhere) {
  unsetenv("NOTIFY_SOCKET");
  auto control = makeSystemdServiceControl();
  control->ready("up");
  control->alive();
  control->stopping();
  BOOST_TEST(!control->aliveInterval().has_value());
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
