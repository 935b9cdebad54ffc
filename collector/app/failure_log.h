#pragma once

#include <Poco/Logger.h>

#include <cstdint>
#include <optional>
#include <string>

#include "common/clock.h"
#include "common/mutex.h"
#include "common/status.h"

namespace vigil::collector {

// Logs a failure that repeats every period (a store write on a full disk) without flooding:
// the first failure at error level, then at most one line per `every` while it goes on, with
// the number of failed attempts meanwhile, and one notice when an attempt succeeds again.
// Feed it every outcome. Thread-safe.
class FailureLog {
 public:
  // REQUIRES: `log` and `clock` outlive this. `what` names the operation ("last-seen
  // write-behind").
  FailureLog(Poco::Logger& log, std::string what, const Clock& clock,
             Duration every = std::chrono::seconds(30));

  void operator()(const Status& outcome);

 private:
  Poco::Logger& log_;
  const std::string what_;
  const Clock& clock_;
  const Duration every_;
  Mutex mu_;
  std::optional<MonoTime> failing_since_ GUARDED_BY(mu_);
  MonoTime last_line_ GUARDED_BY(mu_){};
  uint64_t failures_ GUARDED_BY(mu_) = 0;           // since failing_since_
  uint64_t failures_unlogged_ GUARDED_BY(mu_) = 0;  // since last_line_
};

}  // namespace vigil::collector
