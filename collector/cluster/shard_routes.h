#pragma once

// Who owns each presence shard, as this collector last learned it: the route of evidence that
// reaches this collector for a shard it does not own (docs/cluster.md, "Routing").
//
// Learned from the store each lease round (the leases and the live collectors' announcements);
// a shard whose owner is not live, or that the owner said it no longer holds, has no route
// until the next round: its evidence is then not relayed (the store's last-seen times, which
// every collector writes, carry it to whoever takes the shard next).
//
// Thread safety: all methods are safe to call concurrently.

#include <array>
#include <optional>
#include <string>
#include <vector>

#include "collector/core/records.h"
#include "collector/core/shards.h"
#include "common/mutex.h"

namespace vigil::collector {

struct RouteTarget {
  std::string node;
  std::string url;  // the node's internal URL
};

class ShardRoutes {
 public:
  explicit ShardRoutes(std::string self_node);

  // Replaces the table: each shard's lease owner, if that owner is among `live`.
  void update(const std::vector<ShardLease>& leases, const std::vector<CollectorNode>& live);
  // Drops the routes of `shards` (their owner said they are not its own any more).
  void forget(const std::vector<int>& shards);

  // The other collector that owns `shard`; nullopt when it is this one or nobody known.
  std::optional<RouteTarget> ownerOf(int shard) const;
  // Every live collector but this one.
  std::vector<RouteTarget> peers() const;
  // Whether routes were forgotten since the last update (a refresh is due early).
  bool stale() const;

 private:
  const std::string self_;
  mutable Mutex mu_;
  // Index into nodes_ by shard; -1: no route.
  std::array<int, kShardCount> owner_ GUARDED_BY(mu_){};
  std::vector<RouteTarget> nodes_ GUARDED_BY(mu_);
  bool stale_ GUARDED_BY(mu_) = false;
};

}  // namespace vigil::collector
