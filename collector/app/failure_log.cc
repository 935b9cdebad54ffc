#include "collector/app/failure_log.h"

#include <utility>

namespace vigil::collector {
namespace {

std::string secondsText(Duration d) {
  return std::to_string(std::chrono::duration_cast<std::chrono::seconds>(d).count()) + " s";
}

}  // namespace

FailureLog::FailureLog(Poco::Logger& log, std::string what, const Clock& clock, Duration every)
    : log_(log), what_(std::move(what)), clock_(clock), every_(every) {}

void FailureLog::operator()(const Status& outcome) {
  MutexLock lock(mu_);
  const MonoTime now = clock_.monotonicNow();
  if (outcome.ok()) {
    if (!failing_since_) return;
    log_.notice(what_ + " works again after " + std::to_string(failures_) + " failed attempts in " +
                secondsText(now - *failing_since_));
    failing_since_.reset();
    failures_ = 0;
    failures_unlogged_ = 0;
    return;
  }
  ++failures_;
  if (!failing_since_) {
    failing_since_ = now;
    last_line_ = now;
    log_.error(what_ + " failed: " + outcome.toString() + " (retried every period; " +
               "repeats are summarised every " + secondsText(every_) + ")");
    return;
  }
  ++failures_unlogged_;
  if (now - last_line_ < every_) return;
  log_.error(what_ + " still failing for " + secondsText(now - *failing_since_) + ": " +
             std::to_string(failures_unlogged_) +
             " more failed attempts, the last: " + outcome.toString());
  last_line_ = now;
  failures_unlogged_ = 0;
}

}  // namespace vigil::collector
