#include "common/clock.h"

namespace vigil {

RealClock& RealClock::instance() {
  static RealClock clock;
  return clock;
}

SimulatedClock::SimulatedClock(WallTime wall_start)
    : mono_(MonoTime(std::chrono::hours(1000))), wall_(wall_start) {}

MonoTime SimulatedClock::monotonicNow() const {
  std::lock_guard<std::mutex> lock(mu_);
  return mono_;
}

WallTime SimulatedClock::wallNow() const {
  std::lock_guard<std::mutex> lock(mu_);
  return wall_;
}

void SimulatedClock::advance(Duration d) {
  std::lock_guard<std::mutex> lock(mu_);
  mono_ += d;
  wall_ += std::chrono::duration_cast<std::chrono::system_clock::duration>(d);
}

void SimulatedClock::jumpWall(std::chrono::system_clock::duration d) {
  std::lock_guard<std::mutex> lock(mu_);
  wall_ += d;
}

int64_t toUnixMillis(WallTime t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

WallTime fromUnixMillis(int64_t ms) {
  return WallTime(std::chrono::duration_cast<std::chrono::system_clock::duration>(
      std::chrono::milliseconds(ms)));
}

}  // namespace vigil
