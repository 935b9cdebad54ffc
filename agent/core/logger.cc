#include "agent/core/logger.h"

#include <ostream>

#include "common/time_format.h"

namespace vigil::agent {

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

std::string formatUtcTimestamp(WallTime t) { return formatRfc3339Utc(toUnixMillis(t)); }

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
