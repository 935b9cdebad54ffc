#pragma once

// Presence shards: the unit of ownership in a cluster of collectors (docs/cluster.md). A site
// is never split, because the site correlation and the LAN peer witness judge a whole site
// together: every agent of a site is in the shard of its site.

#include <cstdint>

namespace vigil::collector {

inline constexpr int kShardCount = 256;

// REQUIRES: site_id >= 0 (ids are positive).
inline int shardOfSite(int64_t site_id) { return static_cast<int>(site_id % kShardCount); }

}  // namespace vigil::collector
