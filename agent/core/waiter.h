#pragma once

#include <condition_variable>
#include <mutex>
#include <vector>

#include "agent/core/platform.h"
#include "common/clock.h"

namespace vigil::agent {

// Why a wait ended.
enum class WakeReason {
  kElapsed,  // the full duration passed
  kStopped,  // stop was requested (before or during the wait)
  kEvent,    // an OS event is pending (takeEvents())
};

// Sleeps on behalf of the agent's loop, and is how that loop learns of OS events and of a stop
// request. Platform threads post events through onSystemEvent(). All members are thread-safe.
class Waiter : public SystemEventSink {
 public:
  // Blocks until `d` has passed, stop is requested, or an event is pending.
  virtual WakeReason waitFor(Duration d) = 0;
  // The events posted since the last call, oldest first, each kind at most once.
  virtual std::vector<SystemEvent> takeEvents() = 0;
  // Makes the current and every later waitFor() return kStopped at once.
  virtual void requestStop() = 0;
  virtual bool stopRequested() const = 0;
};

// Waits in real time on a condition variable.
class ConditionVariableWaiter final : public Waiter {
 public:
  WakeReason waitFor(Duration d) override;
  std::vector<SystemEvent> takeEvents() override;
  void requestStop() override;
  bool stopRequested() const override;
  void onSystemEvent(SystemEvent event) override;

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::vector<SystemEvent> pending_;
};

}  // namespace vigil::agent
