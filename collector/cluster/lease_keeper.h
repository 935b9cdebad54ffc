#pragma once

// A collector's share of the presence shards in a cluster (docs/cluster.md): it announces the
// collector, takes the shards that are its fair share, renews their leases and gives them up.
//
// Which shards are whose: rendezvous hashing over the live collectors' node names. Each shard
// is wanted by the live collector that ranks it highest, so every collector computes the same
// split from the same list, a shard moves only when its preferred collector comes or goes, and
// a joining collector takes about 1/N of the shards from the others. A collector is live while
// its announcement (renewed each tick, for one lease term) has not expired: one that cannot
// reach the database, or is paused, drops out of every list within a term, and its shards go
// to the next preferred collectors; no shard stays unwatched longer than that.
//
// Safety comes first: a lease is believed held only until a local deadline on the monotonic
// clock, measured from *before* the renewal that set it was sent, and short of the lease's
// term by a margin. The database's expiry of that renewal is later still, so this collector
// stops judging and writing for a shard before any other collector can take it, even when
// this process was paused or cut off (the database's own fencing by epoch, checked by every
// write, covers what a deadline cannot: a process paused between its check and its write).
//
// Thread safety: tick(), start() and stop() from one thread (the keeper's schedule);
// epochOf(), held() and counts from any thread.

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "collector/store/store.h"
#include "common/clock.h"
#include "common/mutex.h"
#include "common/status.h"

namespace vigil::collector {

struct LeaseKeeperOptions {
  std::string node;          // collector.nodeName
  std::string instance;      // random per process start
  std::string internal_url;  // where the other collectors reach this one
  // A lease's term on the database's clock; renewed every `renew_every`.
  Duration lease_term = std::chrono::seconds(15);
  Duration renew_every = std::chrono::seconds(5);
  // The local deadline falls this much before the term ends: room for the renewal's round trip
  // and for the two clocks' rates to differ.
  Duration step_down_margin = std::chrono::seconds(3);
  // At most this many preferred shards are given up in one tick when a collector joins: the
  // shards move over a few ticks, not all at once.
  size_t max_releases_per_tick = 32;
};

// What the collector does when a shard comes or goes. Called from tick() and stop(), on the
// keeper's thread, without the keeper's lock.
struct ShardEvents {
  // The shard is this collector's from now, in `epoch`: load it and warm it up.
  std::function<void(int shard, int64_t epoch)> acquired;
  // The shard is no longer this collector's (its deadline passed, a renewal was refused, or
  // it was handed over): stop judging and writing for it.
  std::function<void(int shard, int64_t epoch)> lost;
  // About to be handed over (it is still held): write what is pending for it.
  std::function<void(int shard, int64_t epoch)> releasing;
};

class LeaseKeeper {
 public:
  LeaseKeeper(LeaseStore& store, const Clock& clock, LeaseKeeperOptions options,
              ShardEvents events);

  // Announces the collector. kAlreadyExists when a live collector has the same node name; the
  // store's error when the database cannot be reached. Takes no shard yet: the first tick
  // after `renew_every` does, once collectors starting together have seen each other.
  Status start();
  // One round: renews the announcement, steps down from leases past their deadline, renews the
  // rest, gives up shards another live collector is preferred for, and takes the free shards
  // this one is preferred for. A database error ends the round; held leases then run out at
  // their deadlines.
  void tick();
  // A graceful stop: hands every shard over (releasing, then lost) and withdraws the
  // announcement.
  void stop();

  // The epoch in which this collector holds `shard`, if it does and its deadline has not
  // passed.
  std::optional<int64_t> epochOf(int shard) const;
  // The leases held and within their deadlines.
  std::vector<HeldLease> held() const;
  // The live collectors the last tick saw (including this one).
  size_t liveCollectors() const;

  // The live collector (by node name) that shard `shard` prefers among `nodes`.
  static const std::string& preferredNode(int shard, const std::vector<std::string>& nodes);

 private:
  struct Held {
    int64_t epoch = 0;
    MonoTime deadline;
  };
  int64_t termMs() const;
  void stepDownExpired(std::vector<std::pair<int, int64_t>>* lost);
  void renew(std::vector<std::pair<int, int64_t>>* lost);
  void rebalance(const std::vector<std::string>& live,
                 std::vector<std::pair<int, int64_t>>* acquired,
                 std::vector<std::pair<int, int64_t>>* lost);

  LeaseStore& store_;
  const Clock& clock_;
  const LeaseKeeperOptions options_;
  const ShardEvents events_;
  MonoTime started_at_;
  bool started_ = false;

  mutable Mutex mu_;
  std::map<int, Held> held_ GUARDED_BY(mu_);
  size_t live_collectors_ GUARDED_BY(mu_) = 0;
};

}  // namespace vigil::collector
