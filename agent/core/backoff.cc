#include "agent/core/backoff.h"

#include <algorithm>
#include <utility>

namespace vigil::agent {

Backoff::Backoff(BackoffOptions options, UniformRandom random)
    : options_(options), random_(std::move(random)) {}

Duration Backoff::ceiling() const {
  const Duration cap = std::max(options_.base, std::min(options_.cap, limit_));
  // Doubling stops once the cap is reached, so a long outage cannot overflow.
  Duration ceiling = options_.base;
  for (int i = 0; i < attempt_ && ceiling < cap; ++i) ceiling *= 2;
  return std::min(ceiling, cap);
}

Duration Backoff::nextDelay() {
  const Duration ceiling_now = ceiling();
  double r = random_();
  r = std::clamp(r, 0.0, 1.0);
  if (attempt_ < 1'000'000) ++attempt_;
  auto delay = std::chrono::duration_cast<Duration>(std::chrono::duration<double, Duration::period>(
      r * static_cast<double>(ceiling_now.count())));
  return std::clamp(delay, Duration::zero(), ceiling_now);
}

}  // namespace vigil::agent
