#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>

namespace vigil {

using Duration = std::chrono::steady_clock::duration;
using MonoTime = std::chrono::steady_clock::time_point;
using WallTime = std::chrono::system_clock::time_point;

// The only source of time for scheduling, backoff and presence logic. Lateness is measured on
// the monotonic clock; wall time is for timestamps that cross the wire or reach a human.
// Implementations are thread-safe.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual MonoTime monotonicNow() const = 0;
  virtual WallTime wallNow() const = 0;
};

class RealClock final : public Clock {
 public:
  MonoTime monotonicNow() const override { return std::chrono::steady_clock::now(); }
  WallTime wallNow() const override { return std::chrono::system_clock::now(); }
  // A process-wide instance for composition roots.
  static RealClock& instance();
};

// A clock that moves only when told to, for tests and simulations. Monotonic and wall time
// advance together unless a wall-clock jump is injected.
class SimulatedClock final : public Clock {
 public:
  // Starts at an arbitrary monotonic origin and at wall time `wall_start`.
  explicit SimulatedClock(WallTime wall_start = WallTime(std::chrono::hours(24 * 365 * 56)));

  MonoTime monotonicNow() const override;
  WallTime wallNow() const override;

  void advance(Duration d);
  // Steps the wall clock only (an NTP step or a VM resume seen from inside).
  void jumpWall(std::chrono::system_clock::duration d);

 private:
  mutable std::mutex mu_;
  MonoTime mono_;
  WallTime wall_;
};

int64_t toUnixMillis(WallTime t);
WallTime fromUnixMillis(int64_t ms);

}  // namespace vigil
