#define BOOST_TEST_MODULE agent_posix_signal_service_host
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <boost/test/unit_test.hpp>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "agent/platform/posix/posix_platform.h"
#include "tests/support/temp_dir.h"
#include "tests/unit/agent/platform_test_support.h"
#include "tests/unit/agent/posix_test_support.h"

using vigil::Duration;
using vigil::agent::ServiceControl;
using vigil::agent::SystemEvent;
using vigil::agent::platform_testing::FakeNotifySocket;
using vigil::agent::platform_testing::RecordingEventSink;
using vigil::agent::posix::makeSignalServiceHost;
using vigil::agent::posix::makeSilentServiceControl;
using vigil::testing::TempDir;
using namespace std::chrono_literals;

namespace {

class RecordingControl final : public ServiceControl {
 public:
  void ready(const std::string& status_line) override { readies.push_back(status_line); }
  void alive() override {}
  std::optional<Duration> aliveInterval() const override { return std::nullopt; }
  void stopping() override {}
  std::vector<std::string> readies;
};

bool blockedInThisThread(int signal_number) {
  sigset_t current;
  pthread_sigmask(SIG_BLOCK, nullptr, &current);
  return sigismember(&current, signal_number) == 1;
}

}  // namespace

BOOST_AUTO_TEST_CASE(sigterm_becomes_a_stop_event_and_run_returns_the_bodys_code) {
  RecordingEventSink events;
  auto host = makeSignalServiceHost(makeSilentServiceControl());
  bool stop_seen = false;
  const int code = host->run(events, [&](ServiceControl&) {
    kill(getpid(), SIGTERM);
    stop_seen = events.waitForCount(1, 10s);
    return 7;
  });
  BOOST_TEST(code == 7);
  BOOST_TEST(stop_seen);
  BOOST_TEST(events.count(SystemEvent::kServiceStop) == 1u);
}

BOOST_AUTO_TEST_CASE(sigint_stops_and_sighup_is_ignored) {
  RecordingEventSink events;
  auto host = makeSignalServiceHost(makeSilentServiceControl());
  const int code = host->run(events, [&](ServiceControl&) {
    kill(getpid(), SIGHUP);  // would end the process if it reached the default action
    kill(getpid(), SIGINT);
    return events.waitForCount(1, 10s) ? 0 : 1;
  });
  BOOST_TEST(code == 0);
  // SIGHUP, sent first and lower-numbered, was taken before SIGINT: it posted nothing.
  BOOST_TEST(events.size() == 1u);
  BOOST_TEST(events.count(SystemEvent::kServiceStop) == 1u);
}

BOOST_AUTO_TEST_CASE(the_body_gets_the_control_and_its_threads_inherit_the_blocked_signals) {
  RecordingEventSink events;
  auto control = std::make_unique<RecordingControl>();
  RecordingControl* recorder = control.get();
  auto host = makeSignalServiceHost(std::move(control));
  std::atomic<bool> blocked_in_body_thread{false};
  const int code = host->run(events, [&](ServiceControl& given) {
    given.ready("beating");
    std::thread worker([&] {
      blocked_in_body_thread.store(blockedInThisThread(SIGTERM) && blockedInThisThread(SIGINT) &&
                                   blockedInThisThread(SIGHUP));
    });
    worker.join();
    return 3;
  });
  BOOST_TEST(code == 3);
  BOOST_TEST(recorder->readies == std::vector<std::string>{"beating"});
  BOOST_TEST(blocked_in_body_thread.load());
  BOOST_TEST(events.size() == 0u);
  // The caller's own mask is back as it was.
  BOOST_TEST(!blockedInThisThread(SIGTERM));
  BOOST_TEST(!blockedInThisThread(SIGINT));
}

// The control of a platform without a service manager's protocol (macOS): even where a
// notify socket is announced, nothing reaches it, and no alive interval is asked for.
BOOST_AUTO_TEST_CASE(the_silent_control_tells_no_one_and_watches_nothing) {
  const TempDir temp;
  FakeNotifySocket announced(temp.sub("notify"));
  auto control = makeSilentServiceControl();
  control->ready("up");
  control->alive();
  control->stopping();
  BOOST_TEST(announced.pending() == "(none)");
  BOOST_TEST(!control->aliveInterval().has_value());
}
