#include "agent/core/random.h"

#include <memory>
#include <random>

namespace vigil::agent {

UniformRandom makeUniformRandom(uint64_t seed) {
  auto engine = std::make_shared<std::mt19937_64>(seed);
  return [engine]() { return std::uniform_real_distribution<double>(0.0, 1.0)(*engine); };
}

}  // namespace vigil::agent
