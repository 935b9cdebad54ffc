#define BOOST_TEST_MODULE collector_presence
#include <boost/test/unit_test.hpp>
#include <chrono>
#include <ostream>
#include <string>

#include "collector/presence/agent_status.h"
#include "common/clock.h"

namespace vigil::collector {
// Lets Boost.Test print statuses in failure messages.
std::ostream& operator<<(std::ostream& out, AgentStatus status) {
  return out << agentStatusName(status);
}
}  // namespace vigil::collector

using namespace std::chrono_literals;
using vigil::SimulatedClock;
using vigil::WallTime;
using vigil::collector::AgentStatus;
using vigil::collector::agentStatusName;
using vigil::collector::evaluateTimeoutStatus;

BOOST_AUTO_TEST_CASE(agent_never_seen_is_unknown) {
  SimulatedClock clock;
  auto verdict = evaluateTimeoutStatus(std::nullopt, clock.wallNow(), 180s);
  BOOST_TEST(verdict.status == AgentStatus::kUnknown);
  BOOST_TEST(!verdict.reason.empty());
  BOOST_TEST(!verdict.since.has_value());
}

BOOST_AUTO_TEST_CASE(agent_seen_within_threshold_is_online) {
  SimulatedClock clock;
  const WallTime seen = clock.wallNow();
  clock.advance(179s);
  auto verdict = evaluateTimeoutStatus(seen, clock.wallNow(), 180s);
  BOOST_TEST(verdict.status == AgentStatus::kOnline);
  BOOST_TEST(verdict.reason == "last heartbeat 179 s ago");
}

BOOST_AUTO_TEST_CASE(agent_seen_exactly_at_threshold_is_still_online) {
  SimulatedClock clock;
  const WallTime seen = clock.wallNow();
  clock.advance(180s);
  BOOST_TEST(evaluateTimeoutStatus(seen, clock.wallNow(), 180s).status == AgentStatus::kOnline);
}

BOOST_AUTO_TEST_CASE(agent_silent_past_threshold_is_offline_since_threshold_passed) {
  SimulatedClock clock;
  const WallTime seen = clock.wallNow();
  clock.advance(181s);
  auto verdict = evaluateTimeoutStatus(seen, clock.wallNow(), 180s);
  BOOST_TEST(verdict.status == AgentStatus::kOffline);
  BOOST_REQUIRE(verdict.since.has_value());
  BOOST_TEST((*verdict.since == seen + 180s));
}

BOOST_AUTO_TEST_CASE(last_seen_in_the_future_after_wall_clock_step_back_counts_as_online) {
  SimulatedClock clock;
  const WallTime seen = clock.wallNow();
  clock.jumpWall(-1h);
  auto verdict = evaluateTimeoutStatus(seen, clock.wallNow(), 180s);
  BOOST_TEST(verdict.status == AgentStatus::kOnline);
}

BOOST_AUTO_TEST_CASE(status_names_are_the_api_spelling) {
  BOOST_TEST(std::string(agentStatusName(AgentStatus::kUnknown)) == "UNKNOWN");
  BOOST_TEST(std::string(agentStatusName(AgentStatus::kOnline)) == "ONLINE");
  BOOST_TEST(std::string(agentStatusName(AgentStatus::kOffline)) == "OFFLINE");
}
