#define BOOST_TEST_MODULE agent_logger
#include "agent/core/logger.h"

#include <boost/test/unit_test.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "common/clock.h"

using vigil::fromUnixMillis;
using vigil::SimulatedClock;
using vigil::agent::formatUtcTimestamp;
using vigil::agent::Logger;
using vigil::agent::LogLevel;
using vigil::agent::parseLogLevel;

BOOST_AUTO_TEST_CASE(lines_carry_a_utc_millisecond_timestamp_and_the_level) {
  SimulatedClock clock(fromUnixMillis(1795384800123));  // 2026-11-22T22:00:00.123Z
  std::ostringstream out;
  Logger log(clock, out);
  log.info("heartbeat accepted seq=1");
  BOOST_TEST(out.str() == "2026-11-22T22:00:00.123Z INFO heartbeat accepted seq=1\n");
}

BOOST_AUTO_TEST_CASE(timestamps_format_correctly_across_dates) {
  BOOST_TEST(formatUtcTimestamp(fromUnixMillis(0)) == "1970-01-01T00:00:00.000Z");
  BOOST_TEST(formatUtcTimestamp(fromUnixMillis(951782400000)) == "2000-02-29T00:00:00.000Z");
  BOOST_TEST(formatUtcTimestamp(fromUnixMillis(1790000000999)) == "2026-09-21T14:13:20.999Z");
  BOOST_TEST(formatUtcTimestamp(fromUnixMillis(-1)) == "1969-12-31T23:59:59.999Z");
}

BOOST_AUTO_TEST_CASE(messages_above_the_level_are_dropped) {
  SimulatedClock clock;
  std::ostringstream out;
  Logger log(clock, out, LogLevel::kWarn);
  log.debug("d");
  log.info("i");
  log.warn("w");
  log.error("e");
  const std::string text = out.str();
  BOOST_TEST(text.find(" DEBUG d") == std::string::npos);
  BOOST_TEST(text.find(" INFO i") == std::string::npos);
  BOOST_TEST(text.find(" WARN w\n") != std::string::npos);
  BOOST_TEST(text.find(" ERROR e\n") != std::string::npos);
  BOOST_TEST(!log.enabled(LogLevel::kInfo));
  log.setLevel(LogLevel::kDebug);
  BOOST_TEST(log.enabled(LogLevel::kDebug));
}

BOOST_AUTO_TEST_CASE(log_levels_parse_only_the_documented_names) {
  BOOST_TEST(static_cast<int>(*parseLogLevel("error")) == static_cast<int>(LogLevel::kError));
  BOOST_TEST(static_cast<int>(*parseLogLevel("debug")) == static_cast<int>(LogLevel::kDebug));
  BOOST_TEST(!parseLogLevel("INFO").has_value());
  BOOST_TEST(!parseLogLevel("trace").has_value());
}

BOOST_AUTO_TEST_CASE(concurrent_writers_never_interleave_within_a_line) {
  SimulatedClock clock;
  std::ostringstream out;
  Logger log(clock, out);
  std::vector<std::thread> threads;
  threads.reserve(4);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&log, t] {
      for (int i = 0; i < 500; ++i) log.info(std::string(50, static_cast<char>('a' + t)));
    });
  }
  for (auto& th : threads) th.join();
  std::istringstream lines(out.str());
  std::string line;
  int count = 0;
  while (std::getline(lines, line)) {
    ++count;
    const std::string message = line.substr(line.find(" INFO ") + 6);
    BOOST_TEST(message == std::string(50, message[0]));
  }
  BOOST_TEST(count == 2000);
}
