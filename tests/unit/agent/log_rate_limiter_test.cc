#define BOOST_TEST_MODULE agent_log_rate_limiter
#include "agent/core/log_rate_limiter.h"

#include <boost/test/unit_test.hpp>
#include <chrono>
#include <sstream>
#include <string>
#include <vector>

#include "common/clock.h"

using vigil::SimulatedClock;
using vigil::agent::Logger;
using vigil::agent::LogRateLimiter;

namespace {

// The lines logged, without their timestamps ("WARN text").
std::vector<std::string> linesOf(const std::ostringstream& out) {
  std::vector<std::string> lines;
  std::istringstream in(out.str());
  for (std::string line; std::getline(in, line);) lines.push_back(line.substr(line.find(' ') + 1));
  return lines;
}

struct Fixture {
  SimulatedClock clock;
  std::ostringstream out;
  Logger log{clock, out};
  LogRateLimiter limiter{log, clock, std::chrono::minutes(5)};
};

}  // namespace

BOOST_FIXTURE_TEST_CASE(a_repeated_failure_is_logged_again_only_after_the_interval, Fixture) {
  limiter.failure("net", "first", false);
  clock.advance(std::chrono::minutes(1));
  limiter.failure("net", "second", false);
  clock.advance(std::chrono::minutes(3));
  limiter.failure("net", "third", false);
  clock.advance(std::chrono::minutes(1));  // 5 min after the line logged
  limiter.failure("net", "fourth", true);
  const std::vector<std::string> expected = {"WARN first",
                                             "ERROR fourth (2 similar failures not logged)"};
  BOOST_TEST(linesOf(out) == expected, boost::test_tools::per_element());
}

BOOST_FIXTURE_TEST_CASE(a_different_failure_is_logged_at_once_with_the_count_dropped, Fixture) {
  limiter.failure("net", "network down", false);
  limiter.failure("net", "network down", false);
  limiter.failure("http:503", "overloaded", false);
  limiter.failure("net", "network down again", false);
  const std::vector<std::string> expected = {"WARN network down",
                                             "WARN overloaded (1 similar failure not logged)",
                                             "WARN network down again"};
  BOOST_TEST(linesOf(out) == expected, boost::test_tools::per_element());
}

BOOST_FIXTURE_TEST_CASE(after_a_reset_the_same_failure_is_logged_at_once, Fixture) {
  limiter.failure("net", "down", false);
  limiter.failure("net", "down", false);
  limiter.reset();
  limiter.failure("net", "down after recovering", false);
  const std::vector<std::string> expected = {"WARN down", "WARN down after recovering"};
  BOOST_TEST(linesOf(out) == expected, boost::test_tools::per_element());
}
