#include "agent/core/waiter.h"

#include <algorithm>

namespace vigil::agent {

WakeReason ConditionVariableWaiter::waitFor(Duration d) {
  std::unique_lock<std::mutex> lock(mu_);
  if (d > Duration::zero()) {
    cv_.wait_for(lock, d, [this] { return stop_ || !pending_.empty(); });
  }
  if (stop_) return WakeReason::kStopped;
  if (!pending_.empty()) return WakeReason::kEvent;
  return WakeReason::kElapsed;
}

std::vector<SystemEvent> ConditionVariableWaiter::takeEvents() {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<SystemEvent> out;
  out.swap(pending_);
  return out;
}

void ConditionVariableWaiter::requestStop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
}

bool ConditionVariableWaiter::stopRequested() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stop_;
}

void ConditionVariableWaiter::onSystemEvent(SystemEvent event) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (std::find(pending_.begin(), pending_.end(), event) == pending_.end()) {
      pending_.push_back(event);
    }
  }
  cv_.notify_all();
}

const char* systemEventName(SystemEvent event) {
  switch (event) {
    case SystemEvent::kNetworkChanged:
      return "network_changed";
    case SystemEvent::kResumed:
      return "resumed";
    case SystemEvent::kSuspending:
      return "suspending";
    case SystemEvent::kSystemShutdown:
      return "system_shutdown";
    case SystemEvent::kSessionLogoff:
      return "session_logoff";
    case SystemEvent::kServiceStop:
      return "service_stop";
  }
  return "unknown";
}

}  // namespace vigil::agent
