#pragma once

#include <chrono>
#include <cstdint>
#include <optional>

#include "agent/core/backoff.h"
#include "agent/core/random.h"
#include "common/clock.h"

namespace vigil::agent {

// What one heartbeat attempt came to, as far as scheduling is concerned.
struct HeartbeatOutcome {
  enum class Kind {
    kAccepted,          // 200 with a valid body
    kStaleTimestamp,    // 401 stale_timestamp
    kReplayedSequence,  // 409 replayed_sequence
    kOverloaded,        // 429 or 503
    kFailed,            // anything else: other 4xx/5xx, bad answer, network error
  };
  Kind kind = Kind::kFailed;
  int64_t next_interval_s = 0;                      // kAccepted
  std::optional<int64_t> server_time_ms;            // kStaleTimestamp (required there)
  std::optional<std::chrono::seconds> retry_after;  // kOverloaded, when the answer had one
  // kAccepted: the collector's "verify" directive, when the answer had one.
  std::optional<int64_t> verify_interval_s;
  std::optional<int64_t> verify_for_s;
};

// Why a beat is wanted before its time.
enum class BeatTrigger {
  kNetworkChanged,    // the OS reported an address, link or route change
  kResumed,           // the machine woke from sleep (OS event or a wall/monotonic clock jump)
  kBeaconUnanswered,  // a beacon got no ack in time: the beacon fallback (docs/protocol.md)
};

// When to try next, and why.
struct ScheduleDecision {
  enum class Kind {
    kNextBeat,    // accepted: the regular interval with jitter
    kRetryNow,    // clock offset corrected or sequence jumped: retry without waiting
    kRetryAfter,  // the collector's Retry-After, plus up to 10 %
    kBackoff,     // full-jitter exponential backoff
    kTriggered,   // a network change or wake: beat now (or as soon as spacing allows)
  };
  Kind kind = Kind::kBackoff;
  Duration delay = Duration::zero();
  // Move the sequence reservation forward by this much before the next attempt (replays).
  uint64_t sequence_jump = 0;
  // The backoff ceiling the delay was drawn under (kBackoff only), for logs.
  Duration backoff_ceiling = Duration::zero();
};

struct SchedulerOptions {
  std::chrono::seconds min_interval{5};
  std::chrono::seconds max_interval{3600};
  BackoffOptions backoff;
  // Accepted beats wait the interval times uniform(1 - jitter, 1 + jitter).
  double jitter_fraction = 0.10;
  // A replay jumps the sequence by sequence_block * 2^(consecutive replays - 1).
  uint64_t sequence_block = 1000;
  // The first beat after the machine booted waits uniform(0, start_delay_max).
  Duration start_delay_max = std::chrono::seconds(60);
  // Triggered beats are at least this far apart, so a flapping link cannot make the agent
  // hammer the collector.
  Duration trigger_spacing = std::chrono::seconds(5);
  // ... and at least this far apart while heartbeats fail.
  Duration failing_trigger_spacing = std::chrono::seconds(60);
  // Longest verify period obeyed, whatever the collector asks.
  Duration max_verify = std::chrono::seconds(900);
};

// Decides the delay before the next heartbeat from the outcome of the last one
// (docs/protocol.md, "Agent behaviour on answers"), and keeps the clock offset learnt from
// stale_timestamp answers. All time comes from the injected Clock. Not thread-safe.
class HeartbeatScheduler {
 public:
  // REQUIRES: 1 s <= min_interval <= max_interval; `clock` outlives the scheduler.
  HeartbeatScheduler(SchedulerOptions options, const Clock& clock, UniformRandom random);
  HeartbeatScheduler(const HeartbeatScheduler&) = delete;
  HeartbeatScheduler& operator=(const HeartbeatScheduler&) = delete;

  ScheduleDecision onOutcome(const HeartbeatOutcome& outcome);

  // The wait before the first beat of this run: uniform(0, start_delay_max) when the machine
  // has just booted (a fleet that boots together is spread out), zero when only the agent
  // restarted (the collector should hear at once that it is back).
  Duration firstBeatDelay(bool machine_booted);

  // An OS event or a detected wake asks for a beat now. Returns the delay from now until that
  // beat: zero, or what is left of trigger_spacing (failing_trigger_spacing while failing)
  // since the last attempt. The backoff is left as it is.
  ScheduleDecision onTrigger(BeatTrigger trigger);

  // True while a verify directive is in force.
  bool verifying() const;

  // Adopts an interval announced outside a heartbeat answer (the enrollment answer).
  void adoptInterval(int64_t interval_s);
  // The clamped interval the agent follows now; nullopt until the collector has named one.
  std::optional<int64_t> intervalInUseS() const { return interval_s_; }

  // Collector clock minus local wall clock, learnt from the last stale_timestamp answer.
  std::chrono::milliseconds clockOffset() const { return clock_offset_; }
  // The local wall clock corrected by the offset, in Unix ms: what the agent signs and sends.
  int64_t correctedWallMs() const;

  // Consecutive failed attempts since the last accepted beat.
  int consecutiveFailures() const { return backoff_.attempt(); }

 private:
  int64_t clampInterval(int64_t interval_s) const;
  ScheduleDecision backoffDecision();

  SchedulerOptions options_;
  const Clock& clock_;
  UniformRandom random_;
  Backoff backoff_;
  std::optional<int64_t> interval_s_;
  std::chrono::milliseconds clock_offset_{0};
  std::optional<MonoTime> last_attempt_;
  std::optional<MonoTime> verify_until_;
  std::optional<int64_t> verify_interval_s_;
  int stale_in_a_row_ = 0;
  int replays_in_a_row_ = 0;
};

}  // namespace vigil::agent
