#include "agent/core/log_rate_limiter.h"

namespace vigil::agent {

LogRateLimiter::LogRateLimiter(Logger& log, const Clock& clock, Duration repeat_every)
    : log_(log), clock_(clock), repeat_every_(repeat_every) {}

void LogRateLimiter::failure(const std::string& key, const std::string& line, bool error) {
  const MonoTime now = clock_.monotonicNow();
  if (key == last_key_ && last_logged_at_ && now - *last_logged_at_ < repeat_every_) {
    ++suppressed_;
    return;
  }
  std::string text = line;
  if (suppressed_ > 0) {
    text += " (" + std::to_string(suppressed_) + " similar failure" +
            (suppressed_ == 1 ? "" : "s") + " not logged)";
  }
  if (error) {
    log_.error(text);
  } else {
    log_.warn(text);
  }
  last_key_ = key;
  last_logged_at_ = now;
  suppressed_ = 0;
}

void LogRateLimiter::reset() {
  last_key_.clear();
  suppressed_ = 0;
}

}  // namespace vigil::agent
