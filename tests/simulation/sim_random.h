#pragma once

#include <cstdint>
#include <random>

#include "common/clock.h"

namespace vigil::presence_sim {

// Deterministic random numbers for the fleet simulation. The raw std::mt19937_64 sequence is
// fixed by the standard; the standard distributions are not, so the few we need are derived
// here by hand and a seed replays the same fleet with every standard library.
class SimRandom {
 public:
  explicit SimRandom(uint64_t seed) : engine_(seed) {}

  uint64_t next() { return engine_(); }
  // Uniform in [0, 1).
  double uniform01() { return static_cast<double>(engine_() >> 11) * 0x1.0p-53; }
  // Uniform in [lo, hi).
  double uniform(double lo, double hi) { return lo + (hi - lo) * uniform01(); }
  // Uniform in [0, n). REQUIRES: n > 0.
  uint64_t below(uint64_t n) {
    const uint64_t limit = UINT64_MAX - UINT64_MAX % n;
    uint64_t x = engine_();
    while (x >= limit) x = engine_();
    return x % n;
  }
  // Uniform in [lo, hi). REQUIRES: lo < hi.
  Duration between(Duration lo, Duration hi) {
    return lo +
           Duration(static_cast<Duration::rep>(below(static_cast<uint64_t>((hi - lo).count()))));
  }
  bool chance(double p) { return uniform01() < p; }

 private:
  std::mt19937_64 engine_;
};

}  // namespace vigil::presence_sim
