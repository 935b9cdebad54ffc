#pragma once

// Times as the collector's API, webhooks and logs show them, and durations as logs show them.

#include <chrono>
#include <cstdint>
#include <string>

#include "common/clock.h"

namespace vigil {

// RFC 3339 UTC with milliseconds: 0 -> "1970-01-01T00:00:00.000Z"; negative times (before
// 1970) are formatted too, rounding down ("1969-12-31T23:59:59.999Z" for -1).
std::string formatRfc3339Utc(int64_t unix_ms);

// A duration to a tenth of a second: "58.3 s".
std::string secondsText(Duration d);
// A signed offset to the millisecond: "+600.012 s", "-0.250 s".
std::string signedSecondsText(std::chrono::milliseconds offset);

}  // namespace vigil
