#define BOOST_TEST_MODULE agent_heartbeat_scheduler
#include "agent/core/heartbeat_scheduler.h"

#include <boost/test/unit_test.hpp>
#include <chrono>

#include "agent/core/random.h"
#include "common/clock.h"
#include "tests/unit/agent/test_support.h"

using namespace std::chrono_literals;
using vigil::Duration;
using vigil::SimulatedClock;
using vigil::toUnixMillis;
using vigil::agent::HeartbeatOutcome;
using vigil::agent::HeartbeatScheduler;
using vigil::agent::makeUniformRandom;
using vigil::agent::ScheduleDecision;
using vigil::agent::SchedulerOptions;
using Kind = HeartbeatOutcome::Kind;

namespace {

double secondsOf(Duration d) { return std::chrono::duration<double>(d).count(); }

SchedulerOptions options(int64_t min_s = 5, int64_t max_s = 3600) {
  SchedulerOptions o;
  o.min_interval = std::chrono::seconds(min_s);
  o.max_interval = std::chrono::seconds(max_s);
  return o;
}

HeartbeatOutcome accepted(int64_t next_interval_s) {
  HeartbeatOutcome o;
  o.kind = Kind::kAccepted;
  o.next_interval_s = next_interval_s;
  return o;
}

HeartbeatOutcome failed() { return HeartbeatOutcome{}; }

HeartbeatOutcome stale(int64_t server_time_ms) {
  HeartbeatOutcome o;
  o.kind = Kind::kStaleTimestamp;
  o.server_time_ms = server_time_ms;
  return o;
}

HeartbeatOutcome overloaded(std::optional<std::chrono::seconds> retry_after) {
  HeartbeatOutcome o;
  o.kind = Kind::kOverloaded;
  o.retry_after = retry_after;
  return o;
}

HeartbeatOutcome replayed() {
  HeartbeatOutcome o;
  o.kind = Kind::kReplayedSequence;
  return o;
}

}  // namespace

BOOST_AUTO_TEST_CASE(accepted_beat_waits_the_interval_with_at_most_ten_percent_jitter) {
  SimulatedClock clock;
  HeartbeatScheduler scheduler(options(), clock, makeUniformRandom(1));
  double lowest = 1e9;
  double highest = 0;
  for (int n = 0; n < 5000; ++n) {
    const ScheduleDecision d = scheduler.onOutcome(accepted(60));
    BOOST_TEST(static_cast<int>(d.kind) == static_cast<int>(ScheduleDecision::Kind::kNextBeat));
    const double s = secondsOf(d.delay);
    BOOST_TEST(s >= 54.0);
    BOOST_TEST(s <= 66.0);
    lowest = std::min(lowest, s);
    highest = std::max(highest, s);
  }
  // The jitter is really there and spans both sides.
  BOOST_TEST(lowest < 54.5);
  BOOST_TEST(highest > 65.5);
  BOOST_TEST(*scheduler.intervalInUseS() == 60);
}

BOOST_AUTO_TEST_CASE(accepted_interval_is_clamped_to_the_configured_bounds) {
  SimulatedClock clock;
  HeartbeatScheduler scheduler(options(30, 600), clock, makeUniformRandom(2));
  ScheduleDecision d = scheduler.onOutcome(accepted(1));
  BOOST_TEST(*scheduler.intervalInUseS() == 30);
  BOOST_TEST(secondsOf(d.delay) >= 27.0);
  BOOST_TEST(secondsOf(d.delay) <= 33.0);
  d = scheduler.onOutcome(accepted(86400));
  BOOST_TEST(*scheduler.intervalInUseS() == 600);
  BOOST_TEST(secondsOf(d.delay) >= 540.0);
  BOOST_TEST(secondsOf(d.delay) <= 660.0);
}

BOOST_AUTO_TEST_CASE(failures_back_off_and_success_resets_the_backoff) {
  SimulatedClock clock;
  HeartbeatScheduler scheduler(options(), clock, [] { return 0.999999; });
  double previous = 0;
  for (int n = 0; n < 5; ++n) {
    const ScheduleDecision d = scheduler.onOutcome(failed());
    BOOST_TEST(static_cast<int>(d.kind) == static_cast<int>(ScheduleDecision::Kind::kBackoff));
    BOOST_TEST(d.delay <= d.backoff_ceiling);
    BOOST_TEST(secondsOf(d.delay) > previous);
    previous = secondsOf(d.delay);
  }
  BOOST_TEST(scheduler.consecutiveFailures() == 5);
  scheduler.onOutcome(accepted(60));
  BOOST_TEST(scheduler.consecutiveFailures() == 0);
  const ScheduleDecision d = scheduler.onOutcome(failed());
  BOOST_TEST(d.backoff_ceiling == Duration(1s));
}

BOOST_AUTO_TEST_CASE(retry_after_is_obeyed_and_clamped_to_one_second_and_the_cap) {
  SimulatedClock clock;
  HeartbeatScheduler scheduler(options(), clock, makeUniformRandom(3));
  ScheduleDecision d = scheduler.onOutcome(overloaded(std::chrono::seconds(42)));
  BOOST_TEST(static_cast<int>(d.kind) == static_cast<int>(ScheduleDecision::Kind::kRetryAfter));
  BOOST_TEST(d.delay == Duration(42s));
  d = scheduler.onOutcome(overloaded(std::chrono::seconds(0)));
  BOOST_TEST(d.delay == Duration(1s));
  d = scheduler.onOutcome(overloaded(std::chrono::seconds(100000)));
  BOOST_TEST(d.delay == Duration(300s));
}

BOOST_AUTO_TEST_CASE(overload_without_retry_after_backs_off) {
  SimulatedClock clock;
  HeartbeatScheduler scheduler(options(), clock, makeUniformRandom(4));
  const ScheduleDecision d = scheduler.onOutcome(overloaded(std::nullopt));
  BOOST_TEST(static_cast<int>(d.kind) == static_cast<int>(ScheduleDecision::Kind::kBackoff));
  BOOST_TEST(d.delay <= Duration(1s));
}

BOOST_AUTO_TEST_CASE(stale_timestamp_corrects_the_clock_offset_and_retries_once) {
  SimulatedClock clock;
  HeartbeatScheduler scheduler(options(), clock, makeUniformRandom(5));
  const int64_t local_ms = toUnixMillis(clock.wallNow());
  BOOST_TEST(scheduler.correctedWallMs() == local_ms);

  // The collector is 412 s ahead.
  ScheduleDecision d = scheduler.onOutcome(stale(local_ms + 412'000));
  BOOST_TEST(static_cast<int>(d.kind) == static_cast<int>(ScheduleDecision::Kind::kRetryNow));
  BOOST_TEST(d.delay == Duration::zero());
  BOOST_TEST(scheduler.clockOffset().count() == 412'000);
  BOOST_TEST(scheduler.correctedWallMs() == local_ms + 412'000);

  // A second refusal in a row is not retried at once.
  d = scheduler.onOutcome(stale(local_ms + 412'000));
  BOOST_TEST(static_cast<int>(d.kind) == static_cast<int>(ScheduleDecision::Kind::kBackoff));

  // After another outcome, a new stale answer is retried at once again.
  scheduler.onOutcome(failed());
  d = scheduler.onOutcome(stale(local_ms - 1000));
  BOOST_TEST(static_cast<int>(d.kind) == static_cast<int>(ScheduleDecision::Kind::kRetryNow));
  BOOST_TEST(scheduler.clockOffset().count() == -1000);
}

BOOST_AUTO_TEST_CASE(stale_timestamp_without_server_time_backs_off) {
  SimulatedClock clock;
  HeartbeatScheduler scheduler(options(), clock, makeUniformRandom(6));
  HeartbeatOutcome o;
  o.kind = Kind::kStaleTimestamp;
  const ScheduleDecision d = scheduler.onOutcome(o);
  BOOST_TEST(static_cast<int>(d.kind) == static_cast<int>(ScheduleDecision::Kind::kBackoff));
  BOOST_TEST(scheduler.clockOffset().count() == 0);
}

BOOST_AUTO_TEST_CASE(corrected_clock_follows_the_local_clock_after_correction) {
  SimulatedClock clock;
  HeartbeatScheduler scheduler(options(), clock, makeUniformRandom(7));
  scheduler.onOutcome(stale(toUnixMillis(clock.wallNow()) + 5000));
  clock.advance(10s);
  BOOST_TEST(scheduler.correctedWallMs() == toUnixMillis(clock.wallNow()) + 5000);
}

BOOST_AUTO_TEST_CASE(replayed_sequence_jumps_and_retries_at_once_then_doubles_the_jump) {
  SimulatedClock clock;
  HeartbeatScheduler scheduler(options(), clock, makeUniformRandom(8));
  ScheduleDecision d = scheduler.onOutcome(replayed());
  BOOST_TEST(static_cast<int>(d.kind) == static_cast<int>(ScheduleDecision::Kind::kRetryNow));
  BOOST_TEST(d.sequence_jump == 1000u);
  d = scheduler.onOutcome(replayed());
  BOOST_TEST(static_cast<int>(d.kind) == static_cast<int>(ScheduleDecision::Kind::kBackoff));
  BOOST_TEST(d.sequence_jump == 2000u);
  d = scheduler.onOutcome(replayed());
  BOOST_TEST(d.sequence_jump == 4000u);
  scheduler.onOutcome(accepted(60));
  d = scheduler.onOutcome(replayed());
  BOOST_TEST(static_cast<int>(d.kind) == static_cast<int>(ScheduleDecision::Kind::kRetryNow));
  BOOST_TEST(d.sequence_jump == 1000u);
}

BOOST_AUTO_TEST_CASE(enrollment_interval_is_adopted_clamped) {
  SimulatedClock clock;
  HeartbeatScheduler scheduler(options(10, 100), clock, makeUniformRandom(9));
  BOOST_TEST(!scheduler.intervalInUseS().has_value());
  scheduler.adoptInterval(5);
  BOOST_TEST(*scheduler.intervalInUseS() == 10);
}
