#include "agent/core/wake_detector.h"

namespace vigil::agent {

WakeDetector::WakeDetector(const Clock& clock, Duration threshold)
    : clock_(clock), threshold_(threshold) {}

std::optional<Duration> WakeDetector::check() {
  const Duration offset =
      std::chrono::duration_cast<Duration>(clock_.wallNow().time_since_epoch()) -
      clock_.monotonicNow().time_since_epoch();
  std::optional<Duration> jump;
  if (last_offset_ && offset - *last_offset_ > threshold_) jump = offset - *last_offset_;
  last_offset_ = offset;
  return jump;
}

}  // namespace vigil::agent
