#define BOOST_TEST_MODULE agent_linux_waiter
#include <boost/test/unit_test.hpp>
#include <chrono>
#include <future>
#include <memory>

#include "agent/platform/platform.h"

using vigil::agent::makeWaiter;
using vigil::agent::SystemEvent;
using vigil::agent::WakeReason;
using namespace std::chrono_literals;

// The Linux Waiter (CLOCK_MONOTONIC condition, agent/platform/linux/monotonic_condition.h) keeps
// ConditionVariableWaiter's contract. Real waits: this is the OS primitive itself.

BOOST_AUTO_TEST_CASE(a_stop_request_ends_a_long_wait_at_once) {
  std::unique_ptr<vigil::agent::Waiter> waiter = makeWaiter();
  const auto started = std::chrono::steady_clock::now();
  auto waited = std::async(std::launch::async, [&] { return waiter->waitFor(600s); });
  waiter->requestStop();
  BOOST_TEST((waited.get() == WakeReason::kStopped));
  BOOST_TEST((std::chrono::steady_clock::now() - started < 60s));
  BOOST_TEST(waiter->stopRequested());
  BOOST_TEST((waiter->waitFor(600s) == WakeReason::kStopped));
}

BOOST_AUTO_TEST_CASE(an_event_ends_the_wait_and_is_taken_once) {
  std::unique_ptr<vigil::agent::Waiter> waiter = makeWaiter();
  auto waited = std::async(std::launch::async, [&] { return waiter->waitFor(600s); });
  waiter->onSystemEvent(SystemEvent::kNetworkChanged);
  waiter->onSystemEvent(SystemEvent::kNetworkChanged);
  BOOST_TEST((waited.get() == WakeReason::kEvent));
  const std::vector<SystemEvent> events = waiter->takeEvents();
  BOOST_TEST(events.size() == 1u);
  BOOST_TEST(waiter->takeEvents().empty());
}

BOOST_AUTO_TEST_CASE(a_wait_without_stop_or_event_lasts_its_full_duration) {
  std::unique_ptr<vigil::agent::Waiter> waiter = makeWaiter();
  const auto started = std::chrono::steady_clock::now();
  BOOST_TEST((waiter->waitFor(50ms) == WakeReason::kElapsed));
  BOOST_TEST((std::chrono::steady_clock::now() - started >= 50ms));
  BOOST_TEST((waiter->waitFor(0s) == WakeReason::kElapsed));
}
