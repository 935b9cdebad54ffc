#define BOOST_TEST_MODULE agent_heartbeat_scheduler
#include "agent/core/heartbeat_scheduler.h"

#include <algorithm>
#include <boost/test/unit_test.hpp>
#include <chrono>
#include <cmath>

#include "agent/core/random.h"
#include "agent/core/wake_detector.h"
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

// A long outage (a site's uplink cut for minutes) must not leave the agent waiting longer than
// one interval after the network is back, or the collector sees a silence the agent chose.
BOOST_AUTO_TEST_CASE(backoff_never_waits_longer_than_the_interval_in_use) {
  SimulatedClock clock;
  HeartbeatScheduler scheduler(options(), clock, [] { return 0.999999; });
  scheduler.onOutcome(accepted(60));
  for (int n = 0; n < 20; ++n) {
    const ScheduleDecision d = scheduler.onOutcome(failed());
    BOOST_TEST(d.delay <= Duration(60s));
  }
  BOOST_TEST(scheduler.onOutcome(failed()).backoff_ceiling == Duration(60s));
  // Before the collector named an interval, the protocol's cap holds.
  HeartbeatScheduler fresh(options(), clock, [] { return 0.999999; });
  ScheduleDecision d;
  for (int n = 0; n < 20; ++n) d = fresh.onOutcome(failed());
  BOOST_TEST(d.backoff_ceiling == Duration(300s));
}

BOOST_AUTO_TEST_CASE(retry_after_is_obeyed_and_clamped_to_one_second_and_the_cap) {
  SimulatedClock clock;
  HeartbeatScheduler scheduler(options(), clock, makeUniformRandom(3));
  ScheduleDecision d = scheduler.onOutcome(overloaded(std::chrono::seconds(42)));
  BOOST_TEST(static_cast<int>(d.kind) == static_cast<int>(ScheduleDecision::Kind::kRetryAfter));
  // Never earlier than asked, at most 10 % later.
  BOOST_TEST((d.delay >= Duration(42s) && d.delay <= Duration(46200ms)));
  d = scheduler.onOutcome(overloaded(std::chrono::seconds(0)));
  BOOST_TEST((d.delay >= Duration(1s) && d.delay <= Duration(1100ms)));
  d = scheduler.onOutcome(overloaded(std::chrono::seconds(100000)));
  BOOST_TEST((d.delay >= Duration(300s) && d.delay <= Duration(330s)));
}

BOOST_AUTO_TEST_CASE(a_fleet_told_to_retry_after_comes_back_spread_out) {
  SimulatedClock clock;
  HeartbeatScheduler scheduler(options(), clock, makeUniformRandom(11));
  double lo = 1e9, hi = 0;
  for (int i = 0; i < 500; ++i) {
    const double d = secondsOf(scheduler.onOutcome(overloaded(std::chrono::seconds(30))).delay);
    lo = std::min(lo, d);
    hi = std::max(hi, d);
  }
  BOOST_TEST(lo >= 30.0);
  BOOST_TEST(lo < 30.1);
  BOOST_TEST(hi > 32.9);
  BOOST_TEST(hi <= 33.0);
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

// --- Start delay, triggers, verify mode, wake detection ------------------------------------

BOOST_AUTO_TEST_CASE(first_beat_after_boot_is_spread_over_the_start_window) {
  SimulatedClock clock;
  SchedulerOptions o = options();
  o.start_delay_max = 60s;
  HeartbeatScheduler s(o, clock, makeUniformRandom(7));
  double min_s = 1e9, max_s = 0, sum = 0;
  const int n = 2000;
  for (int i = 0; i < n; ++i) {
    const double d = secondsOf(s.firstBeatDelay(true));
    BOOST_TEST_REQUIRE(d >= 0.0);
    BOOST_TEST_REQUIRE(d <= 60.0);
    min_s = std::min(min_s, d);
    max_s = std::max(max_s, d);
    sum += d;
  }
  // Uniform over the window: a fleet of 2000 endpoints booting together reaches the collector
  // across the whole minute, not in one burst.
  BOOST_TEST(min_s < 1.0);
  BOOST_TEST(max_s > 59.0);
  BOOST_TEST(std::abs(sum / n - 30.0) < 2.0);
  int per_decile[6] = {};
  HeartbeatScheduler s2(o, clock, makeUniformRandom(8));
  for (int i = 0; i < 600; ++i)
    ++per_decile[std::min(5, static_cast<int>(secondsOf(s2.firstBeatDelay(true)) / 10))];
  for (int count : per_decile) BOOST_TEST((count > 60 && count < 140), count);
}

BOOST_AUTO_TEST_CASE(agent_restart_without_reboot_beats_at_once) {
  SimulatedClock clock;
  HeartbeatScheduler s(options(), clock, makeUniformRandom(7));
  for (int i = 0; i < 100; ++i) BOOST_TEST((s.firstBeatDelay(false) == Duration::zero()));
  SchedulerOptions none = options();
  none.start_delay_max = Duration::zero();
  HeartbeatScheduler s2(none, clock, makeUniformRandom(7));
  BOOST_TEST((s2.firstBeatDelay(true) == Duration::zero()));
}

BOOST_AUTO_TEST_CASE(interval_follows_each_answer_within_bounds) {
  SimulatedClock clock;
  HeartbeatScheduler s(options(5, 600), clock, makeUniformRandom(3));
  for (int64_t next : {60, 10, 300, 2, 5000, 45}) {
    const int64_t expected = std::clamp<int64_t>(next, 5, 600);
    const ScheduleDecision d = s.onOutcome(accepted(next));
    BOOST_TEST(secondsOf(d.delay) >= expected * 0.9 - 1e-9);
    BOOST_TEST(secondsOf(d.delay) <= expected * 1.1 + 1e-9);
    BOOST_TEST(*s.intervalInUseS() == expected);
  }
}

BOOST_AUTO_TEST_CASE(verify_directive_speeds_beats_up_for_a_bounded_time) {
  SimulatedClock clock;
  HeartbeatScheduler s(options(2, 3600), clock, makeUniformRandom(3));
  HeartbeatOutcome verify = accepted(60);
  verify.verify_interval_s = 5;
  verify.verify_for_s = 30;
  ScheduleDecision d = s.onOutcome(verify);
  BOOST_TEST(s.verifying());
  BOOST_TEST(secondsOf(d.delay) <= 5.5);
  // Later answers without the directive keep the fast pace until 30 s have passed...
  int fast = 1;
  while (true) {
    clock.advance(d.delay);
    d = s.onOutcome(accepted(60));
    if (secondsOf(d.delay) > 10) break;
    ++fast;
    BOOST_TEST_REQUIRE(fast < 20);
  }
  // ... about 30 s / 5 s beats, then back to the regular interval.
  BOOST_TEST(fast >= 5);
  BOOST_TEST(fast <= 8);
  BOOST_TEST(!s.verifying());
  BOOST_TEST(secondsOf(d.delay) >= 54.0);
}

BOOST_AUTO_TEST_CASE(verify_period_is_capped_and_respects_the_min_bound) {
  SimulatedClock clock;
  SchedulerOptions o = options(10, 3600);
  o.max_verify = 900s;
  HeartbeatScheduler s(o, clock, makeUniformRandom(3));
  HeartbeatOutcome verify = accepted(60);
  verify.verify_interval_s = 1;  // below the agent's floor of 10 s
  verify.verify_for_s = 100000;  // far above the cap
  ScheduleDecision d = s.onOutcome(verify);
  BOOST_TEST(secondsOf(d.delay) >= 9.0);
  clock.advance(901s);
  BOOST_TEST(!s.verifying());
}

BOOST_AUTO_TEST_CASE(triggers_beat_now_but_keep_their_spacing) {
  SimulatedClock clock;
  SchedulerOptions o = options();
  o.trigger_spacing = 5s;
  HeartbeatScheduler s(o, clock, makeUniformRandom(3));
  // No attempt yet: at once.
  BOOST_TEST((s.onTrigger(vigil::agent::BeatTrigger::kResumed).delay == Duration::zero()));
  s.onOutcome(accepted(60));
  clock.advance(2s);
  ScheduleDecision d = s.onTrigger(vigil::agent::BeatTrigger::kNetworkChanged);
  BOOST_TEST((d.kind == ScheduleDecision::Kind::kTriggered));
  BOOST_TEST(secondsOf(d.delay) == 3.0);
  clock.advance(10s);
  BOOST_TEST((s.onTrigger(vigil::agent::BeatTrigger::kNetworkChanged).delay == Duration::zero()));
}

BOOST_AUTO_TEST_CASE(triggers_while_failing_are_spaced_and_keep_the_backoff) {
  SimulatedClock clock;
  SchedulerOptions o = options();
  o.trigger_spacing = 5s;
  o.failing_trigger_spacing = 60s;
  HeartbeatScheduler s(o, clock, makeUniformRandom(3));
  for (int i = 0; i < 6; ++i) s.onOutcome(failed());
  clock.advance(10s);
  // A noisy network cannot undo the backoff: the trigger waits out 60 s since the last
  // attempt, and the failure count stays.
  const ScheduleDecision d = s.onTrigger(vigil::agent::BeatTrigger::kNetworkChanged);
  BOOST_TEST(secondsOf(d.delay) == 50.0);
  BOOST_TEST(s.consecutiveFailures() == 6);
  const ScheduleDecision next = s.onOutcome(failed());
  BOOST_TEST(secondsOf(next.backoff_ceiling) == 64.0);
}

BOOST_AUTO_TEST_CASE(wake_detector_sees_the_wall_clock_run_ahead_of_the_monotonic_one) {
  SimulatedClock clock;
  vigil::agent::WakeDetector wake(clock, 10s);
  BOOST_TEST(!wake.check().has_value());  // first reading
  clock.advance(3600s);                   // both clocks move: no sleep
  BOOST_TEST(!wake.check().has_value());
  clock.jumpWall(5s);  // a small NTP slew: below the threshold
  BOOST_TEST(!wake.check().has_value());
  clock.jumpWall(std::chrono::hours(2));  // two hours asleep
  const auto jump = wake.check();
  BOOST_TEST_REQUIRE(jump.has_value());
  BOOST_TEST(secondsOf(*jump) == 7200.0);
  BOOST_TEST(!wake.check().has_value());   // reported once
  clock.jumpWall(-std::chrono::hours(1));  // the wall clock stepped back: not a wake
  BOOST_TEST(!wake.check().has_value());
}
