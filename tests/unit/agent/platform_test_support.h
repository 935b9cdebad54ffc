#pragma once

// Helpers shared by the platform tests (platform_test.cc, linux_*_test.cc, posix_*_test.cc).
// Kept apart from test_support.h so these tests need only agent/core/platform.h.

#include <algorithm>
#include <condition_variable>
#include <cstddef>
#include <mutex>
#include <string>
#include <vector>

#include "agent/core/platform.h"
#include "common/status.h"

namespace vigil::agent::platform_testing {

// The error as text, or "" for ok: safe as a BOOST_TEST message, which is always evaluated.
inline std::string errorText(const Status& s) { return s.ok() ? std::string() : s.toString(); }
template <typename T>
std::string errorText(const Result<T>& r) {
  return r.ok() ? std::string() : r.error().toString();
}

// Records the events posted to it, from any thread, and lets a test wait for them.
class RecordingEventSink final : public SystemEventSink {
 public:
  void onSystemEvent(SystemEvent event) override {
    {
      const std::lock_guard<std::mutex> lock(mu_);
      events_.push_back(event);
    }
    arrived_.notify_all();
  }

  // Waits up to `timeout` until at least `count` events have arrived; whether they have.
  bool waitForCount(size_t count, Duration timeout) {
    std::unique_lock<std::mutex> lock(mu_);
    return arrived_.wait_for(lock, timeout, [&] { return events_.size() >= count; });
  }

  size_t count(SystemEvent event) const {
    const std::lock_guard<std::mutex> lock(mu_);
    return static_cast<size_t>(std::count(events_.begin(), events_.end(), event));
  }

  size_t size() const {
    const std::lock_guard<std::mutex> lock(mu_);
    return events_.size();
  }

 private:
  mutable std::mutex mu_;
  std::condition_variable arrived_;
  std::vector<SystemEvent> events_;
};

}  // namespace vigil::agent::platform_testing
