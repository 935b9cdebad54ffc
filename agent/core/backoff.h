#pragma once

#include <chrono>

#include "agent/core/random.h"
#include "common/clock.h"

namespace vigil::agent {

struct BackoffOptions {
  Duration base = std::chrono::seconds(1);
  Duration cap = std::chrono::seconds(300);
};

// Capped full-jitter exponential backoff: the n-th consecutive failure (n = 0, 1, ...) waits
// uniform(0, min(cap, base * 2^n)). reset() after a success starts again at n = 0.
// Not thread-safe.
class Backoff {
 public:
  // REQUIRES: 0 < base <= cap; `random` returns values in [0, 1).
  Backoff(BackoffOptions options, UniformRandom random);

  // The delay before the next retry; counts one more failure.
  Duration nextDelay();
  // The upper bound of the next nextDelay(): min(cap, limit, base * 2^attempt()).
  Duration ceiling() const;
  // Lowers the cap to `limit` (never below base) until called again; Duration::max() lifts
  // it. The heartbeat loop limits it to the interval in use, so an agent is back within one
  // interval after an outage ends.
  void limitCap(Duration limit) { limit_ = limit; }
  void reset() { attempt_ = 0; }
  // Consecutive failures counted since the last reset().
  int attempt() const { return attempt_; }
  const BackoffOptions& options() const { return options_; }

 private:
  BackoffOptions options_;
  UniformRandom random_;
  int attempt_ = 0;
  Duration limit_ = Duration::max();
};

}  // namespace vigil::agent
