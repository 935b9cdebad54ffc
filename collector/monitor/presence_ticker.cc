#include "collector/monitor/presence_ticker.h"

#include <utility>

namespace vigil::collector {

PresenceTicker::PresenceTicker(PresenceMonitor& monitor, PresenceLogStore& store, Duration interval,
                               HealthInputs inputs, OutcomeSink on_outcome, BatchObserver observer)
    : monitor_(monitor),
      store_(store),
      inputs_(std::move(inputs)),
      on_outcome_(std::move(on_outcome)),
      observer_(std::move(observer)),
      // The engine measures how late each tick is; a period on the steady clock keeps the
      // ticks honest, and a frozen process shows up as a late tick.
      thread_(interval, [this] {
        Status s = tickOnce();
        if (on_outcome_) on_outcome_(s);
      }) {}

PresenceTicker::~PresenceTicker() { stop(); }

Status PresenceTicker::flush() {
  MutexLock lock(flush_mu_);
  PresenceBatch batch = monitor_.takePending();
  if (batch.empty()) return Status::okStatus();
  Status written = store_.appendPresenceEvents(batch.changes, batch.alerts, batch.health);
  monitor_.reportStoreWrite(written.ok());
  // Only an unavailable database or a write that went through says whether it can be reached.
  if (written.ok() || written.code() == StatusCode::kUnavailable) {
    monitor_.reportStoreReach(written.ok());
  }
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

void PresenceTicker::start() { thread_.start(); }

Status PresenceTicker::stop() {
  thread_.stop();
  return flush();
}

}  // namespace vigil::collector
