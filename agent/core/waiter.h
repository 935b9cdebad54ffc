#pragma once

#include <condition_variable>
#include <mutex>

#include "common/clock.h"

namespace vigil::agent {

// Sleeps on behalf of the agent's loop, and is how that loop is told to stop.
// All members are thread-safe.
class Waiter {
 public:
  virtual ~Waiter() = default;
  // Blocks until `d` has passed or stop is requested. Returns false if stop was requested
  // (before or during the wait), true if the full duration passed.
  virtual bool waitFor(Duration d) = 0;
  // Makes the current and every later waitFor() return false at once.
  virtual void requestStop() = 0;
  virtual bool stopRequested() const = 0;
};

// Waits in real time on a condition variable.
class ConditionVariableWaiter final : public Waiter {
 public:
  bool waitFor(Duration d) override;
  void requestStop() override;
  bool stopRequested() const override;

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
};

}  // namespace vigil::agent
