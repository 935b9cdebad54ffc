#pragma once

// Drives a PresenceMonitor on two threads. The tick thread, every tick interval, reports the
// collector's health inputs and ticks the engine; the write thread then writes the pending
// events to the store in one transaction (and at least every interval). A failed write is put
// back and retried with the next, and reported to the engine (store write failures make the
// collector DEGRADED). stop() ticks no more but writes a last time.
//
// The ticks never wait on the store. The engine takes a late tick for a frozen or starved
// process and holds its verdicts; a write that waits on the disk (SQLite's checkpoint syncs
// the file inside the commit that crosses its threshold, and a busy disk makes that seconds) is
// no such thing: evidence still arrives meanwhile. A store that stays slow shows as the
// pending batch growing instead (the history queue).
//
// In a cluster each write is fenced by the leases of the shards it is about (useFences()):
// a write the store refuses because a lease moved on is put back and not counted as a store
// failure; by the next write the lease keeper has noticed, and the lost shard's events are
// left out.
//
// Thread safety: start()/stop() from one owner thread; flush() from any thread.

#include <functional>
#include <vector>

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
  // Called on the write thread with the outcome of each write (for logging: a failure, and the
  // first success after failures); may be empty.
  using OutcomeSink = std::function<void(const Status&)>;
  // Sees every batch once, after it was written (for logging); may be empty.
  using BatchObserver = std::function<void(const PresenceBatch&)>;
  // In a cluster: the fence for a write about `shards` (LeaseFence), with a lease for each of
  // them this collector still holds. Status changes and alerts of a shard without a lease in
  // the fence are dropped, not written: the shard's new owner judges its agents again.
  using FenceSource = std::function<LeaseFence(const std::vector<int>& shards)>;

  // `monitor` and `store` must outlive the ticker.
  PresenceTicker(PresenceMonitor& monitor, PresenceLogStore& store, Duration interval,
                 HealthInputs inputs = {}, OutcomeSink on_outcome = {},
                 BatchObserver observer = {});
  ~PresenceTicker();  // stops if running
  PresenceTicker(const PresenceTicker&) = delete;
  PresenceTicker& operator=(const PresenceTicker&) = delete;

  // Writes under the fences `fences` gives from now on (a cluster); without, unfenced.
  // REQUIRES: before start().
  void useFences(FenceSource fences);
  // Events dropped because their shard's lease was gone by the time they were written.
  uint64_t fencedOut() const;

  // One tick and one write, on the caller's thread (tests drive it this way).
  Status tickOnce();
  // Writes the pending events now.
  Status flush();

  // REQUIRES: not running.
  void start();
  // Stops both threads, then writes a last time. Idempotent.
  Status stop();

 private:
  PresenceMonitor& monitor_;
  PresenceLogStore& store_;
  const HealthInputs inputs_;
  const OutcomeSink on_outcome_;
  const BatchObserver observer_;
  FenceSource fences_;

  mutable Mutex flush_mu_;  // one write at a time, so batches reach the store in order
  uint64_t fenced_out_ GUARDED_BY(flush_mu_) = 0;
  // Declared in this order so that the tick thread, which wakes the write thread, goes first.
  PeriodicThread write_thread_;
  PeriodicThread tick_thread_;
};

}  // namespace vigil::collector
