#define BOOST_TEST_MODULE collector_failure_log
// A failure repeated every period is logged once, then summarised at most once per period of
// the log, and its end is logged once.
#include "collector/app/failure_log.h"

#include <Poco/AutoPtr.h>
#include <Poco/Channel.h>
#include <Poco/Message.h>

#include <boost/test/unit_test.hpp>
#include <string>
#include <vector>

namespace vigil::collector {
namespace {

using namespace std::chrono_literals;

class RecordingChannel : public Poco::Channel {
 public:
  void log(const Poco::Message& msg) override { lines.push_back(msg.getText()); }
  std::vector<std::string> lines;
};

BOOST_AUTO_TEST_CASE(a_failure_every_period_makes_one_line_per_summary_period) {
  Poco::AutoPtr<RecordingChannel> channel(new RecordingChannel);
  Poco::Logger& logger = Poco::Logger::get("test.failure_log");
  logger.setChannel(channel);
  logger.setLevel(Poco::Message::PRIO_INFORMATION);
  SimulatedClock clock;
  FailureLog failures(logger, "last-seen write-behind", clock, 30s);

  failures(Status::okStatus());
  BOOST_TEST(channel->lines.empty());  // nothing to say while it works

  // Two minutes of failures, one per second: the first, then one summary per 30 s.
  for (int i = 0; i < 120; ++i) {
    failures(Status::unavailable("disk full"));
    clock.advance(1s);
  }
  BOOST_TEST_REQUIRE(channel->lines.size() == 4u);
  BOOST_TEST(channel->lines[0].find("last-seen write-behind failed: ") == 0u);
  BOOST_TEST(channel->lines[1].find("still failing for 30 s: 30 more failed attempts") !=
             std::string::npos);

  failures(Status::okStatus());
  BOOST_TEST_REQUIRE(channel->lines.size() == 5u);
  BOOST_TEST(channel->lines[4].find("works again after 120 failed attempts in 120 s") !=
             std::string::npos);
  failures(Status::okStatus());
  BOOST_TEST(channel->lines.size() == 5u);

  // A new episode starts with a full line again.
  failures(Status::unavailable("disk full"));
  BOOST_TEST(channel->lines.size() == 6u);
  BOOST_TEST(channel->lines[5].find("failed: ") != std::string::npos);
}

}  // namespace
}  // namespace vigil::collector
