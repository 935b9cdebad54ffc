#pragma once

// HTTP's ways of saying "wait this long": delta-seconds and Retry-After (RFC 9110 10.2.3).

#include <chrono>
#include <optional>
#include <string_view>

#include "common/clock.h"

namespace vigil {

// Whole seconds as HTTP writes them (delta-seconds: "120"; also Keep-Alive's timeout=N):
// decimal digits, blanks around them allowed, values above `max` read as `max`. nullopt if
// empty or anything but digits. REQUIRES: max < 10^15 s.
std::optional<std::chrono::seconds> parseDeltaSeconds(std::string_view value,
                                                      std::chrono::seconds max);

// How long a Retry-After value asks to wait from `now`: delta-seconds ("120") or an
// IMF-fixdate ("Wed, 21 Oct 2015 07:28:00 GMT"; a date already past is 0). At most `max`.
// nullopt if it is neither form (the obsolete RFC 850 and asctime dates are refused).
std::optional<std::chrono::milliseconds> parseRetryAfter(std::string_view value, WallTime now,
                                                         std::chrono::seconds max);

}  // namespace vigil
