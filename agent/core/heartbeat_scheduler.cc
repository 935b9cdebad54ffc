#include "agent/core/heartbeat_scheduler.h"

#include <algorithm>
#include <utility>

namespace vigil::agent {

HeartbeatScheduler::HeartbeatScheduler(SchedulerOptions options, const Clock& clock,
                                       UniformRandom random)
    : options_(options),
      clock_(clock),
      random_(std::move(random)),
      backoff_(options.backoff, [this] { return random_(); }) {}

int64_t HeartbeatScheduler::clampInterval(int64_t interval_s) const {
  return std::clamp<int64_t>(interval_s, options_.min_interval.count(),
                             options_.max_interval.count());
}

void HeartbeatScheduler::adoptInterval(int64_t interval_s) {
  interval_s_ = clampInterval(interval_s);
  backoff_.limitCap(std::chrono::seconds(*interval_s_));
}

int64_t HeartbeatScheduler::correctedWallMs() const {
  return toUnixMillis(clock_.wallNow()) + clock_offset_.count();
}

ScheduleDecision HeartbeatScheduler::backoffDecision() {
  ScheduleDecision d;
  d.kind = ScheduleDecision::Kind::kBackoff;
  d.backoff_ceiling = backoff_.ceiling();
  d.delay = backoff_.nextDelay();
  return d;
}

Duration HeartbeatScheduler::firstBeatDelay(bool machine_booted) {
  if (!machine_booted || options_.start_delay_max <= Duration::zero()) return Duration::zero();
  return std::chrono::duration_cast<Duration>(options_.start_delay_max * random_());
}

bool HeartbeatScheduler::verifying() const {
  return verify_until_.has_value() && clock_.monotonicNow() < *verify_until_;
}

ScheduleDecision HeartbeatScheduler::onTrigger(BeatTrigger /*trigger*/) {
  ScheduleDecision d;
  d.kind = ScheduleDecision::Kind::kTriggered;
  // While failing, triggers are spaced further: a host with noisy network events must not
  // undo the backoff (the backoff itself keeps growing; a trigger only adds an attempt).
  const Duration spacing =
      backoff_.attempt() > 0 ? std::max(options_.trigger_spacing, options_.failing_trigger_spacing)
                             : options_.trigger_spacing;
  if (last_attempt_) {
    const Duration since = clock_.monotonicNow() - *last_attempt_;
    if (since < spacing) d.delay = spacing - since;
  }
  return d;
}

ScheduleDecision HeartbeatScheduler::onOutcome(const HeartbeatOutcome& outcome) {
  using Kind = HeartbeatOutcome::Kind;
  last_attempt_ = clock_.monotonicNow();
  if (outcome.kind != Kind::kStaleTimestamp) stale_in_a_row_ = 0;
  if (outcome.kind != Kind::kReplayedSequence) replays_in_a_row_ = 0;

  switch (outcome.kind) {
    case Kind::kAccepted: {
      backoff_.reset();
      interval_s_ = clampInterval(outcome.next_interval_s);
      backoff_.limitCap(std::chrono::seconds(*interval_s_));
      if (outcome.verify_interval_s && outcome.verify_for_s && *outcome.verify_for_s > 0) {
        const Duration length =
            std::min<Duration>(std::chrono::seconds(*outcome.verify_for_s), options_.max_verify);
        verify_until_ = *last_attempt_ + length;
        verify_interval_s_ = clampInterval(*outcome.verify_interval_s);
      }
      int64_t interval_s = *interval_s_;
      if (verifying() && verify_interval_s_) {
        interval_s = std::min(interval_s, *verify_interval_s_);
      } else {
        verify_until_.reset();
        verify_interval_s_.reset();
      }
      ScheduleDecision d;
      d.kind = ScheduleDecision::Kind::kNextBeat;
      d.delay = std::chrono::duration_cast<Duration>(
          jittered(std::chrono::duration<double>(static_cast<double>(interval_s)),
                   options_.jitter_fraction, random_));
      return d;
    }
    case Kind::kStaleTimestamp: {
      if (!outcome.server_time_ms) return backoffDecision();
      clock_offset_ =
          std::chrono::milliseconds(*outcome.server_time_ms - toUnixMillis(clock_.wallNow()));
      // Only once in a row: a second refusal right after a correction is not a clock problem
      // this agent can fix by retrying.
      if (++stale_in_a_row_ > 1) return backoffDecision();
      ScheduleDecision d;
      d.kind = ScheduleDecision::Kind::kRetryNow;
      return d;
    }
    case Kind::kReplayedSequence: {
      ++replays_in_a_row_;
      // Double the jump on every consecutive replay, so a lost reservation is overtaken in
      // a few attempts however far behind it is.
      const int shift = std::min(replays_in_a_row_ - 1, 30);
      const uint64_t jump = options_.sequence_block << shift;
      ScheduleDecision d = replays_in_a_row_ > 1 ? backoffDecision() : ScheduleDecision{};
      if (replays_in_a_row_ == 1) d.kind = ScheduleDecision::Kind::kRetryNow;
      d.sequence_jump = jump;
      return d;
    }
    case Kind::kOverloaded: {
      if (!outcome.retry_after) return backoffDecision();
      // Still a failure for the backoff, so a later failure without Retry-After waits longer.
      backoff_.nextDelay();
      ScheduleDecision d;
      d.kind = ScheduleDecision::Kind::kRetryAfter;
      // Never earlier than asked, and up to 10 % later, so a fleet told to come back in 30 s
      // does not come back in the same millisecond.
      const Duration asked =
          std::clamp<Duration>(*outcome.retry_after, std::chrono::seconds(1), options_.backoff.cap);
      d.delay = asked + std::chrono::duration_cast<Duration>(asked * (0.10 * random_()));
      return d;
    }
    case Kind::kFailed:
      return backoffDecision();
  }
  return backoffDecision();
}

}  // namespace vigil::agent
