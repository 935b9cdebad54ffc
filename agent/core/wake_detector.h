#pragma once

#include <chrono>
#include <optional>

#include "common/clock.h"

namespace vigil::agent {

// Detects that the machine slept: the monotonic clock stops while a machine sleeps (Linux
// CLOCK_MONOTONIC, Windows and macOS likewise for the clocks std::chrono::steady_clock uses),
// the wall clock does not, so their difference jumps forward by the time asleep. A forward
// step of the wall clock (an NTP correction) reads the same way; a beat too many is harmless.
// Not thread-safe.
class WakeDetector {
 public:
  // REQUIRES: `clock` outlives the detector; threshold > 0.
  WakeDetector(const Clock& clock, Duration threshold = std::chrono::seconds(10));

  // How far the wall clock ran ahead of the monotonic clock since the previous check, when
  // that is more than the threshold; nullopt otherwise. The first call only takes a reading.
  std::optional<Duration> check();

 private:
  const Clock& clock_;
  Duration threshold_;
  std::optional<Duration> last_offset_;  // wall - monotonic at the previous check
};

}  // namespace vigil::agent
