#pragma once

#include <chrono>
#include <cstdint>
#include <functional>

namespace vigil::agent {

// A source of uniform doubles in [0, 1). Injected wherever the agent draws jitter, so tests
// choose the sequence. Not thread-safe unless the wrapped source is.
using UniformRandom = std::function<double()>;

// A Mersenne Twister seeded with `seed`: deterministic for a given seed.
UniformRandom makeUniformRandom(uint64_t seed);

// `d` times a uniform factor in [1 - fraction, 1 + fraction], drawn from `random`: the jitter
// of every periodic send (heartbeats, beacons, peer announcements).
template <typename Duration>
Duration jittered(Duration d, double fraction, UniformRandom& random) {
  const double factor = 1.0 - fraction + 2.0 * fraction * random();
  return std::chrono::duration_cast<Duration>(d * factor);
}

}  // namespace vigil::agent
