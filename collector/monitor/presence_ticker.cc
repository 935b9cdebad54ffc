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
      write_thread_(interval,
                    [this] {
                      Status s = flush();
                      if (on_outcome_) on_outcome_(s);
                    }),
      // The engine measures how late each tick is; a period on the steady clock keeps the
      // ticks honest, and a frozen process shows up as a late tick.
      tick_thread_(interval, [this] {
        if (inputs_) inputs_(monitor_);
        monitor_.tick();
        write_thread_.wake();
      }) {}

PresenceTicker::~PresenceTicker() { stop(); }

void PresenceTicker::useFences(FenceSource fences) { fences_ = std::move(fences); }

uint64_t PresenceTicker::fencedOut() const {
  MutexLock lock(flush_mu_);
  return fenced_out_;
}

Status PresenceTicker::flush() {
  MutexLock lock(flush_mu_);
  PresenceBatch batch = monitor_.takePending();
  if (batch.empty()) return Status::okStatus();
  LeaseFence fence;
  if (fences_) {
    fence = fences_(batch.shards());
    std::vector<bool> held(kShardCount, false);
    for (const HeldLease& lease : fence.leases) {
      if (lease.shard >= 0 && lease.shard < kShardCount) held[lease.shard] = true;
    }
    fenced_out_ += batch.dropShards([&](int shard) { return !held[shard]; });
    if (batch.empty()) return Status::okStatus();
  }
  Status written =
      fences_ ? store_.appendFencedPresenceEvents(fence, batch.changes, batch.alerts, batch.health)
              : store_.appendPresenceEvents(batch.changes, batch.alerts, batch.health);
  if (written.code() == StatusCode::kFailedPrecondition) {
    // Fenced: a lease moved on since the keeper last renewed. Not the store's failure.
    monitor_.putBack(std::move(batch));
    return written;
  }
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

void PresenceTicker::start() {
  write_thread_.start();
  tick_thread_.start();
}

Status PresenceTicker::stop() {
  tick_thread_.stop();
  write_thread_.stop();
  return flush();
}

}  // namespace vigil::collector
