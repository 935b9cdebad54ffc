#pragma once

#include <algorithm>
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

// Waits in real time on a condition variable: Condition is std::condition_variable, or a type
// with its notify_all() and wait_for(lock, duration, predicate) (the Linux one measures waits
// on CLOCK_MONOTONIC without glibc 2.30: agent/platform/linux/monotonic_condition.h).
template <class Condition>
class BasicWaiter final : public Waiter {
 public:
  WakeReason waitFor(Duration d) override {
    std::unique_lock<std::mutex> lock(mu_);
    if (d > Duration::zero()) {
      cv_.wait_for(lock, d, [this] { return stop_ || !pending_.empty(); });
    }
    if (stop_) return WakeReason::kStopped;
    if (!pending_.empty()) return WakeReason::kEvent;
    return WakeReason::kElapsed;
  }

  std::vector<SystemEvent> takeEvents() override {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<SystemEvent> out;
    out.swap(pending_);
    return out;
  }

  void requestStop() override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
  }

  bool stopRequested() const override {
    std::lock_guard<std::mutex> lock(mu_);
    return stop_;
  }

  void onSystemEvent(SystemEvent event) override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (std::find(pending_.begin(), pending_.end(), event) == pending_.end()) {
        pending_.push_back(event);
      }
    }
    cv_.notify_all();
  }

 private:
  mutable std::mutex mu_;
  Condition cv_;
  bool stop_ = false;
  std::vector<SystemEvent> pending_;
};

using ConditionVariableWaiter = BasicWaiter<std::condition_variable>;

}  // namespace vigil::agent
