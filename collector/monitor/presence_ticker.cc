#include "collector/monitor/presence_ticker.h"

#include <utility>

namespace vigil::collector {

PresenceTicker::PresenceTicker(PresenceMonitor& monitor, Store& store, Duration interval,
                               HealthInputs inputs, ErrorSink on_error, BatchObserver observer)
    : monitor_(monitor),
      store_(store),
      interval_(interval),
      inputs_(std::move(inputs)),
      on_error_(std::move(on_error)),
      observer_(std::move(observer)) {}

PresenceTicker::~PresenceTicker() { stop(); }

Status PresenceTicker::flush() {
  std::lock_guard<std::mutex> lock(flush_mu_);
  PresenceBatch batch = monitor_.takePending();
  if (batch.empty()) return Status::okStatus();
  Status written = store_.appendPresenceEvents(batch.changes, batch.alerts, batch.health);
  monitor_.reportStoreWrite(written.ok());
  if (!written.ok()) {
    monitor_.putBack(std::move(batch));
    return written;
  }
  if (observer_) observer_(batch);
  return written;
}

Status PresenceTicker::tickOnce() {
  if (inputs_) inputs_(monitor_);
  monitor_.tick();
  return flush();
}

void PresenceTicker::start() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = false;
  }
  thread_ = std::thread([this] { run(); });
}

Status PresenceTicker::stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
  return flush();
}

void PresenceTicker::run() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopping_) {
    // The engine measures how late each tick is; waiting on the steady clock keeps the period
    // honest, and a frozen process shows up as a late tick.
    if (wake_.wait_for(lock, interval_, [this] { return stopping_; })) break;
    lock.unlock();
    Status s = tickOnce();
    if (!s.ok() && on_error_) on_error_(s);
    lock.lock();
  }
}

}  // namespace vigil::collector
