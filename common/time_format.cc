#include "common/time_format.h"

#include <cstdio>

#include "common/time_zone.h"

namespace vigil {

std::string formatRfc3339Utc(int64_t unix_ms) {
  constexpr int64_t kMsPerDay = 86'400'000;
  int64_t days = unix_ms / kMsPerDay;
  int64_t ms_of_day = unix_ms % kMsPerDay;
  if (ms_of_day < 0) {
    ms_of_day += kMsPerDay;
    --days;
  }
  const CivilDate date = civilFromDays(days);
  const int64_t seconds = ms_of_day / 1000;
  char text[40];
  std::snprintf(text, sizeof text, "%04d-%02d-%02dT%02lld:%02lld:%02lld.%03lldZ", date.year,
                date.month, date.day, static_cast<long long>(seconds / 3600),
                static_cast<long long>(seconds / 60 % 60), static_cast<long long>(seconds % 60),
                static_cast<long long>(ms_of_day % 1000));
  return text;
}

std::string secondsText(Duration d) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f s", std::chrono::duration<double>(d).count());
  return buf;
}

std::string signedSecondsText(std::chrono::milliseconds offset) {
  char buf[48];
  std::snprintf(buf, sizeof buf, "%+.3f s", static_cast<double>(offset.count()) / 1000.0);
  return buf;
}

}  // namespace vigil
