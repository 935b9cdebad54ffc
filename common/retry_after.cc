#include "common/retry_after.h"

#include <algorithm>
#include <cstdint>

#include "common/text.h"
#include "common/time_zone.h"

namespace vigil {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

// The value of `digits` (all decimal digits), or -1.
int64_t fixedDigits(std::string_view digits) {
  int64_t value = 0;
  for (char c : digits) {
    if (c < '0' || c > '9') return -1;
    value = value * 10 + (c - '0');
  }
  return value;
}

// Seconds since the Unix epoch of an IMF-fixdate, "Sun, 06 Nov 1994 08:49:37 GMT".
std::optional<int64_t> parseImfFixdate(std::string_view text) {
  constexpr std::string_view kDayNames[] = {"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"};
  constexpr std::string_view kMonthNames[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                              "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  // Fixed layout: every field at its column.
  if (text.size() != 29 || text.substr(3, 2) != ", " || text[7] != ' ' || text[11] != ' ' ||
      text[16] != ' ' || text[19] != ':' || text[22] != ':' || text.substr(25) != " GMT") {
    return std::nullopt;
  }
  if (std::find(std::begin(kDayNames), std::end(kDayNames), text.substr(0, 3)) ==
      std::end(kDayNames)) {
    return std::nullopt;
  }
  const auto month_name =
      std::find(std::begin(kMonthNames), std::end(kMonthNames), text.substr(8, 3));
  if (month_name == std::end(kMonthNames)) return std::nullopt;
  const auto month = static_cast<int>(month_name - std::begin(kMonthNames) + 1);
  const int64_t day = fixedDigits(text.substr(5, 2));
  const int64_t year = fixedDigits(text.substr(12, 4));
  const int64_t hour = fixedDigits(text.substr(17, 2));
  const int64_t minute = fixedDigits(text.substr(20, 2));
  const int64_t second = fixedDigits(text.substr(23, 2));
  if (day < 1 || day > 31 || year < 0 || hour < 0 || hour > 23 || minute < 0 || minute > 59 ||
      second < 0 || second > 60) {
    return std::nullopt;
  }
  // Four digits each: the fields fit an int. A day past the month's end carries over: refused.
  const int64_t days = daysFromCivil(static_cast<int>(year), month, static_cast<int>(day));
  if (civilFromDays(days).day != day) return std::nullopt;
  return days * 86'400 + hour * 3600 + minute * 60 + second;
}

}  // namespace

std::optional<seconds> parseDeltaSeconds(std::string_view value, seconds max) {
  value = trimBlanks(value);
  if (value.empty()) return std::nullopt;
  int64_t total = 0;
  for (char c : value) {
    if (c < '0' || c > '9') return std::nullopt;
    total = std::min<int64_t>(total * 10 + (c - '0'), max.count());
  }
  return seconds(total);
}

std::optional<milliseconds> parseRetryAfter(std::string_view value, WallTime now, seconds max) {
  value = trimBlanks(value);
  if (auto delta = parseDeltaSeconds(value, max)) return milliseconds(*delta);
  const std::optional<int64_t> at_s = parseImfFixdate(value);
  if (!at_s) return std::nullopt;
  const int64_t wait_ms = *at_s * 1000 - toUnixMillis(now);
  return milliseconds(std::clamp<int64_t>(wait_ms, 0, milliseconds(max).count()));
}

}  // namespace vigil
