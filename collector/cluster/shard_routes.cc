#include "collector/cluster/shard_routes.h"

#include <utility>

namespace vigil::collector {

ShardRoutes::ShardRoutes(std::string self_node) : self_(std::move(self_node)) { owner_.fill(-1); }

void ShardRoutes::update(const std::vector<ShardLease>& leases,
                         const std::vector<CollectorNode>& live) {
  std::vector<RouteTarget> nodes;
  nodes.reserve(live.size());
  for (const CollectorNode& node : live) nodes.push_back(RouteTarget{node.node, node.internal_url});
  std::array<int, kShardCount> owner{};
  owner.fill(-1);
  for (const ShardLease& lease : leases) {
    if (!lease.owner || lease.shard < 0 || lease.shard >= kShardCount) continue;
    for (size_t i = 0; i < nodes.size(); ++i) {
      if (nodes[i].node == *lease.owner)
        owner[static_cast<size_t>(lease.shard)] = static_cast<int>(i);
    }
  }
  MutexLock lock(mu_);
  nodes_ = std::move(nodes);
  owner_ = owner;
  stale_ = false;
}

void ShardRoutes::forget(const std::vector<int>& shards) {
  MutexLock lock(mu_);
  for (int shard : shards) {
    if (shard >= 0 && shard < kShardCount) owner_[static_cast<size_t>(shard)] = -1;
  }
  if (!shards.empty()) stale_ = true;
}

std::optional<RouteTarget> ShardRoutes::ownerOf(int shard) const {
  if (shard < 0 || shard >= kShardCount) return std::nullopt;
  MutexLock lock(mu_);
  const int index = owner_[static_cast<size_t>(shard)];
  if (index < 0 || nodes_[static_cast<size_t>(index)].node == self_) return std::nullopt;
  return nodes_[static_cast<size_t>(index)];
}

std::vector<RouteTarget> ShardRoutes::peers() const {
  MutexLock lock(mu_);
  std::vector<RouteTarget> out;
  for (const RouteTarget& node : nodes_) {
    if (node.node != self_) out.push_back(node);
  }
  return out;
}

bool ShardRoutes::stale() const {
  MutexLock lock(mu_);
  return stale_;
}

}  // namespace vigil::collector
