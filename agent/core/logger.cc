#include "agent/core/logger.h"

#include <cstdint>
#include <cstdio>
#include <ostream>

namespace vigil::agent {
namespace {

// Civil date from days since 1970-01-01 (Howard Hinnant's algorithm; proleptic Gregorian).
void civilFromDays(int64_t z, int64_t* y, unsigned* m, unsigned* d) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const auto doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  *d = doy - (153 * mp + 2) / 5 + 1;
  *m = mp < 10 ? mp + 3 : mp - 9;
  *y = static_cast<int64_t>(yoe) + era * 400 + (*m <= 2 ? 1 : 0);
}

int64_t floorDiv(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

}  // namespace

std::optional<LogLevel> parseLogLevel(std::string_view text) {
  if (text == "error") return LogLevel::kError;
  if (text == "warn") return LogLevel::kWarn;
  if (text == "info") return LogLevel::kInfo;
  if (text == "debug") return LogLevel::kDebug;
  return std::nullopt;
}

const char* logLevelName(LogLevel level) {
  switch (level) {
    case LogLevel::kError:
      return "ERROR";
    case LogLevel::kWarn:
      return "WARN";
    case LogLevel::kInfo:
      return "INFO";
    case LogLevel::kDebug:
      return "DEBUG";
  }
  return "?";
}

std::string formatUtcTimestamp(WallTime t) {
  const int64_t ms = toUnixMillis(t);
  const int64_t days = floorDiv(ms, 86'400'000);
  const int64_t ms_of_day = ms - days * 86'400'000;
  int64_t year = 0;
  unsigned month = 0;
  unsigned day = 0;
  civilFromDays(days, &year, &month, &day);
  char buf[96];
  std::snprintf(
      buf, sizeof buf, "%04lld-%02u-%02uT%02lld:%02lld:%02lld.%03lldZ",
      static_cast<long long>(year), month, day, static_cast<long long>(ms_of_day / 3'600'000),
      static_cast<long long>(ms_of_day / 60'000 % 60),
      static_cast<long long>(ms_of_day / 1000 % 60), static_cast<long long>(ms_of_day % 1000));
  return buf;
}

Logger::Logger(const Clock& clock, std::ostream& out, LogLevel level)
    : clock_(clock), out_(out), level_(level) {}

void Logger::setLevel(LogLevel level) {
  std::lock_guard<std::mutex> lock(mu_);
  level_ = level;
}

bool Logger::enabled(LogLevel level) const {
  std::lock_guard<std::mutex> lock(mu_);
  return level <= level_;
}

void Logger::log(LogLevel level, std::string_view message) {
  std::string line = formatUtcTimestamp(clock_.wallNow());
  line += ' ';
  line += logLevelName(level);
  line += ' ';
  line += message;
  line += '\n';
  std::lock_guard<std::mutex> lock(mu_);
  if (level > level_) return;
  out_ << line;
  out_.flush();
}

}  // namespace vigil::agent
