#pragma once

// Instants inside the presence engine: monotonic clock ticks (Duration::rep, nanoseconds)
// since the engine's origin. Plain integers keep the per-agent record small and trivially
// copyable; kNever marks "no such instant".

#include <cstdint>
#include <limits>

#include "common/clock.h"

namespace vigil::collector::presence {

using Ticks = int64_t;
constexpr Ticks kNever = std::numeric_limits<Ticks>::min();

inline Ticks ticksOf(Duration d) { return static_cast<Ticks>(d.count()); }
inline Duration durationOf(Ticks t) { return Duration(t); }

}  // namespace vigil::collector::presence
