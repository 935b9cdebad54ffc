#pragma once

// Runs a task on its own thread every `interval` (measured on the steady clock) until
// stopped, and at once when woken. The task never runs concurrently with itself; stop() wakes
// the thread at once and joins it. Owners that must do a last run on shutdown call their task
// once more after stop().
//
// Thread safety: start()/stop() from one owner thread; wake() from any thread.

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>

namespace vigil {

class PeriodicThread {
 public:
  // `task` runs every `interval` once started.
  PeriodicThread(std::chrono::steady_clock::duration interval, std::function<void()> task);
  ~PeriodicThread();  // stops if running
  PeriodicThread(const PeriodicThread&) = delete;
  PeriodicThread& operator=(const PeriodicThread&) = delete;

  // REQUIRES: not running.
  void start();
  // Stops and joins; a task already running finishes first. Idempotent.
  void stop();
  // The task runs as soon as it is not running, without waiting out the interval; wakes that
  // come while it runs make one more run. A wake before start() or after stop() does nothing.
  void wake();

 private:
  void run();

  const std::chrono::steady_clock::duration interval_;
  const std::function<void()> task_;
  std::mutex mu_;
  std::condition_variable wake_;
  bool stopping_ = false;  // guarded by mu_
  bool woken_ = false;     // guarded by mu_
  std::thread thread_;
};

}  // namespace vigil
