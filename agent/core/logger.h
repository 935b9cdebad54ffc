#pragma once

#include <iosfwd>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "common/clock.h"

namespace vigil::agent {

enum class LogLevel { kError = 0, kWarn = 1, kInfo = 2, kDebug = 3 };

// "error", "warn", "info", "debug" (exactly, lower case); nullopt for anything else.
std::optional<LogLevel> parseLogLevel(std::string_view text);
const char* logLevelName(LogLevel level);

// "2026-11-22T22:00:00.123Z": UTC, millisecond precision.
std::string formatUtcTimestamp(WallTime t);

// Writes one line per message, "2026-11-22T22:00:00.123Z INFO message", to `out`.
// Messages above the level are dropped. Thread-safe: lines from concurrent callers never mix.
// REQUIRES: `clock` and `out` outlive the logger.
class Logger {
 public:
  Logger(const Clock& clock, std::ostream& out, LogLevel level = LogLevel::kInfo);
  Logger(const Logger&) = delete;
  Logger& operator=(const Logger&) = delete;

  void setLevel(LogLevel level);
  bool enabled(LogLevel level) const;

  void log(LogLevel level, std::string_view message);
  void error(std::string_view message) { log(LogLevel::kError, message); }
  void warn(std::string_view message) { log(LogLevel::kWarn, message); }
  void info(std::string_view message) { log(LogLevel::kInfo, message); }
  void debug(std::string_view message) { log(LogLevel::kDebug, message); }

 private:
  const Clock& clock_;
  mutable std::mutex mu_;
  std::ostream& out_;
  LogLevel level_;
};

}  // namespace vigil::agent
