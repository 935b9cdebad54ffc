#pragma once

#include <cstdint>
#include <functional>

namespace vigil::agent {

// A source of uniform doubles in [0, 1). Injected wherever the agent draws jitter, so tests
// choose the sequence. Not thread-safe unless the wrapped source is.
using UniformRandom = std::function<double()>;

// A Mersenne Twister seeded with `seed`: deterministic for a given seed.
UniformRandom makeUniformRandom(uint64_t seed);

}  // namespace vigil::agent
