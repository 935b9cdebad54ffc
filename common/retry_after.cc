#include "common/retry_after.h"

#include <algorithm>
#include <array>
#include <cstdint>

#include "common/text.h"

namespace vigil {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil).
int64_t daysFromCivil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2 ? 1 : 0;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

bool isLeapYear(int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

unsigned daysInMonth(int64_t y, unsigned m) {
  constexpr std::array<unsigned, 12> kDays = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && isLeapYear(y) ? 29 : kDays[m - 1];
}

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
  const auto month = static_cast<unsigned>(month_name - std::begin(kMonthNames) + 1);
  const int64_t day = fixedDigits(text.substr(5, 2));
  const int64_t year = fixedDigits(text.substr(12, 4));
  const int64_t hour = fixedDigits(text.substr(17, 2));
  const int64_t minute = fixedDigits(text.substr(20, 2));
  const int64_t second = fixedDigits(text.substr(23, 2));
  if (day < 1 || year < 0 || hour < 0 || hour > 23 || minute < 0 || minute > 59 || second < 0 ||
      second > 60 || day > daysInMonth(year, month)) {
    return std::nullopt;
  }
  return daysFromCivil(year, month, static_cast<unsigned>(day)) * 86'400 + hour * 3600 +
         minute * 60 + second;
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
