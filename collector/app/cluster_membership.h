#pragma once

// This collector's place in a cluster (docs/cluster.md): runs the LeaseKeeper on a thread of
// its own and keeps the presence monitor's shards in step with the leases held. A shard
// acquired is adopted (its agents loaded with the store's evidence and warmed up); a shard
// about to be handed over has its pending events written first; a shard lost is released
// (its agents dropped without a word, its pending events with them). Every presence write is
// fenced by the leases of the shards it is about (fenceFor()).
//
// It also keeps the routes of evidence (ShardRoutes) up to date each round, and runs the
// relay's sender: every kRelayPeriod the EvidenceRouter's queued batches go to their owners.
//
// Thread safety: join(), start() and leave() from the owner's thread; the rest from any.

#include <Poco/Logger.h>

#include <atomic>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "collector/app/failure_log.h"
#include "collector/app/relay_transport.h"
#include "collector/cluster/evidence_router.h"
#include "collector/cluster/lease_keeper.h"
#include "collector/cluster/shard_routes.h"
#include "collector/http/metrics.h"
#include "collector/monitor/presence_monitor.h"
#include "collector/monitor/presence_ticker.h"
#include "collector/store/store.h"
#include "common/clock.h"
#include "common/mutex.h"
#include "common/periodic_thread.h"
#include "common/status.h"

namespace vigil::collector {

class ClusterMembership {
 public:
  // Everything given must outlive the membership. `presence` must be set to track its owned
  // shards only (PresenceMonitor::trackOwnedShardsOnly()) before it loads.
  ClusterMembership(Store& store, PresenceMonitor& presence, PresenceTicker& ticker,
                    EvidenceRouter& router, ShardRoutes& routes, RelayTransport& transport,
                    const Clock& clock, LeaseKeeperOptions options, Poco::Logger& log);
  static constexpr std::chrono::milliseconds kRelayPeriod{100};
  ~ClusterMembership();
  ClusterMembership(const ClusterMembership&) = delete;
  ClusterMembership& operator=(const ClusterMembership&) = delete;

  // Announces the collector. A live announcement of the same node name by another process may
  // be a crashed predecessor's, which runs out within one lease term: joining is tried again
  // until then. kAlreadyExists when the name stays taken (a second collector with the same
  // cluster.nodeName); the store's error when the database cannot be reached.
  Status join();
  // Reads the routes from the store. Before start(), and each round.
  Status refreshRoutes();
  // Starts the keeper's rounds (every LeaseKeeperOptions::renew_every) and the relay.
  void start();
  // A graceful stop: the rounds end, every shard is handed over (pending events written first)
  // and the announcement withdrawn. Idempotent.
  void leave();

  const std::string& internalUrl() const { return options_.internal_url; }
  // The fence of a presence write about `shards` (PresenceTicker::FenceSource).
  LeaseFence fenceFor(const std::vector<int>& shards) const;
  // OK once a round has run since start() and every shard held is loaded: what /readyz asks
  // of a collector of a cluster.
  Status ready() const;
  // vigil_cluster_*: shards held, live collectors, shards waiting to be loaded.
  MetricsSource metrics() const;

 private:
  void round();
  void adoptWaiting();
  void relayOnce();

  Store& store_;
  PresenceMonitor& presence_;
  PresenceTicker& ticker_;
  Poco::Logger& log_;
  const Clock& clock_;
  const LeaseKeeperOptions options_;
  LeaseKeeper keeper_;
  EvidenceRouter& router_;
  ShardRoutes& routes_;
  RelayTransport& transport_;
  FailureLog relay_failures_;
  MonoTime last_refresh_;  // relay thread
  PeriodicThread rounds_;
  PeriodicThread relay_;
  bool left_ = false;

  // Shards held but not yet loaded (a load failed: tried again each round). Keeper's thread.
  std::set<int> waiting_;
  std::atomic<size_t> waiting_count_{0};
  std::atomic<bool> first_round_done_{false};
};

}  // namespace vigil::collector
