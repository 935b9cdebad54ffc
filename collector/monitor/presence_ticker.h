#pragma once

// Drives a PresenceMonitor on a thread: every tick interval it reports the collector's health
// inputs, ticks the engine, and writes the pending events to the store in one transaction.
// A failed write is put back and retried on the next tick, and reported to the engine (store
// write failures make the collector DEGRADED). stop() ticks no more but writes a last time.
//
// Thread safety: start()/stop() from one owner thread.

#include <functional>

#include "collector/monitor/presence_monitor.h"
#include "collector/store/store.h"
#include "common/clock.h"
#include "common/mutex.h"
#include "common/periodic_thread.h"
#include "common/status.h"

namespace vigil::collector {

class PresenceTicker {
 public:
  // Called before every tick, to report queue depths and shed requests to the monitor.
  using HealthInputs = std::function<void(PresenceMonitor&)>;
  // Called with the outcome of each tick's write (for logging: a failure, and the first
  // success after failures); may be empty.
  using OutcomeSink = std::function<void(const Status&)>;
  // Sees every batch once, after it was written (for logging); may be empty.
  using BatchObserver = std::function<void(const PresenceBatch&)>;

  // `monitor` and `store` must outlive the ticker.
  PresenceTicker(PresenceMonitor& monitor, PresenceLogStore& store, Duration interval,
                 HealthInputs inputs = {}, OutcomeSink on_outcome = {},
                 BatchObserver observer = {});
  ~PresenceTicker();  // stops if running
  PresenceTicker(const PresenceTicker&) = delete;
  PresenceTicker& operator=(const PresenceTicker&) = delete;

  // One tick and one write, on the caller's thread (tests drive it this way).
  Status tickOnce();
  // Writes the pending events now.
  Status flush();

  // REQUIRES: not running.
  void start();
  // Stops the thread, then writes a last time. Idempotent.
  Status stop();

 private:
  PresenceMonitor& monitor_;
  PresenceLogStore& store_;
  const HealthInputs inputs_;
  const OutcomeSink on_outcome_;
  const BatchObserver observer_;

  Mutex flush_mu_;  // one write at a time, so batches reach the store in order
  PeriodicThread thread_;
};

}  // namespace vigil::collector
