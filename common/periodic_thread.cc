#include "common/periodic_thread.h"

#include <utility>

namespace vigil {

PeriodicThread::PeriodicThread(std::chrono::steady_clock::duration interval,
                               std::function<void()> task)
    : interval_(interval), task_(std::move(task)) {}

PeriodicThread::~PeriodicThread() { stop(); }

void PeriodicThread::start() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = false;
    woken_ = false;
  }
  thread_ = std::thread([this] { run(); });
}

void PeriodicThread::stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void PeriodicThread::wake() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    woken_ = true;
  }
  wake_.notify_all();
}

void PeriodicThread::run() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopping_) {
    wake_.wait_for(lock, interval_, [this] { return stopping_ || woken_; });
    if (stopping_) break;
    woken_ = false;
    lock.unlock();
    task_();
    lock.lock();
  }
}

}  // namespace vigil
