#pragma once

#include <pthread.h>
#include <time.h>

#include <mutex>

#include "common/clock.h"

namespace vigil::agent::linux_platform {

// A condition variable for std::mutex whose timed waits are measured on CLOCK_MONOTONIC
// (pthread_condattr_setclock, in every glibc): a wall clock set back does not stretch a wait.
// std::condition_variable measures them so too, but through pthread_cond_clockwait, which
// needs glibc 2.30; with this one the agent needs glibc 2.28 only (RHEL 8). Its two members
// keep std::condition_variable's names so that BasicWaiter (agent/core/waiter.h) takes either.
// Thread-safe as std::condition_variable is; the constructor throws std::system_error as its
// constructor does.
class MonotonicCondition {
 public:
  MonotonicCondition();
  ~MonotonicCondition();
  MonotonicCondition(const MonotonicCondition&) = delete;
  MonotonicCondition& operator=(const MonotonicCondition&) = delete;

  void notify_all();  // NOLINT(readability-identifier-naming): std::condition_variable's name

  // As std::condition_variable::wait_for: waits, `lock` released meanwhile, until pred() holds
  // (true) or `d` has passed on the monotonic clock (pred()'s value then).
  // REQUIRES: `lock` owns its mutex.
  template <class Predicate>
  // NOLINTNEXTLINE(readability-identifier-naming): std::condition_variable's name
  bool wait_for(std::unique_lock<std::mutex>& lock, Duration d, Predicate pred) {
    const timespec deadline = deadlineAfter(d);
    while (!pred()) {
      if (timedOut(lock, deadline)) return pred();
    }
    return true;
  }

 private:
  static timespec deadlineAfter(Duration d);
  // One wait until `deadline` (CLOCK_MONOTONIC) or a wake-up; true once the deadline passed.
  bool timedOut(std::unique_lock<std::mutex>& lock, const timespec& deadline);

  pthread_cond_t cond_{};
};

}  // namespace vigil::agent::linux_platform
