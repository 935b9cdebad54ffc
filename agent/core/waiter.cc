#include "agent/core/waiter.h"

namespace vigil::agent {

bool ConditionVariableWaiter::waitFor(Duration d) {
  std::unique_lock<std::mutex> lock(mu_);
  if (d > Duration::zero()) cv_.wait_for(lock, d, [this] { return stop_; });
  return !stop_;
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

}  // namespace vigil::agent
