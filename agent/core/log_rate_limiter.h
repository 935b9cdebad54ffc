#pragma once

#include <optional>
#include <string>

#include "agent/core/logger.h"
#include "common/clock.h"

namespace vigil::agent {

// Logs failures without flooding the log while one failure repeats: a failure with the same
// key as the one logged last is dropped until `repeat_every` has passed since that line, and
// the next line logged says how many were dropped. A failure with another key is logged at
// once. Not thread-safe: one loop owns it.
// REQUIRES: `log` and `clock` outlive the limiter.
class LogRateLimiter {
 public:
  LogRateLimiter(Logger& log, const Clock& clock, Duration repeat_every);

  // Logs `line` (as an error, else a warning) unless it repeats the last failure too soon.
  // `key` is equal for failures alike ("enroll:http:503").
  void failure(const std::string& key, const std::string& line, bool error);
  // The failures are over: the next one is logged whatever its key.
  void reset();

 private:
  Logger& log_;
  const Clock& clock_;
  const Duration repeat_every_;
  std::string last_key_;
  std::optional<MonoTime> last_logged_at_;
  int suppressed_ = 0;
};

}  // namespace vigil::agent
