#include "agent/platform/linux/monotonic_condition.h"

#include <algorithm>
#include <chrono>
#include <system_error>

namespace vigil::agent::linux_platform {

MonotonicCondition::MonotonicCondition() {
  pthread_condattr_t attr;
  int rc = pthread_condattr_init(&attr);
  if (rc == 0) {
    rc = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    if (rc == 0) rc = pthread_cond_init(&cond_, &attr);
    pthread_condattr_destroy(&attr);
  }
  if (rc != 0) throw std::system_error(rc, std::generic_category(), "pthread_cond_init");
}

MonotonicCondition::~MonotonicCondition() { pthread_cond_destroy(&cond_); }

void MonotonicCondition::notify_all() { pthread_cond_broadcast(&cond_); }

timespec MonotonicCondition::deadlineAfter(Duration d) {
  timespec now{};
  clock_gettime(CLOCK_MONOTONIC, &now);
  const auto ns =
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::max(d, Duration::zero())).count();
  timespec deadline{};
  deadline.tv_sec = now.tv_sec + static_cast<time_t>(ns / 1'000'000'000);
  deadline.tv_nsec = now.tv_nsec + static_cast<long>(ns % 1'000'000'000);
  if (deadline.tv_nsec >= 1'000'000'000) {
    deadline.tv_sec += 1;
    deadline.tv_nsec -= 1'000'000'000;
  }
  return deadline;
}

bool MonotonicCondition::timedOut(std::unique_lock<std::mutex>& lock, const timespec& deadline) {
  // 0: woken (perhaps spuriously: the caller checks its predicate); otherwise ETIMEDOUT.
  return pthread_cond_timedwait(&cond_, lock.mutex()->native_handle(), &deadline) != 0;
}

}  // namespace vigil::agent::linux_platform
