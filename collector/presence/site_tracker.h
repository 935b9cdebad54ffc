#pragma once

// Sites (LANs, offices) and their agents: membership, agents per status for each site and the
// whole fleet, and the site-partition rule. A site whose agents went silent together while
// the rest of the fleet is quiet gets one site alert, and its agents are UNREACHABLE instead
// of OFFLINE (no alert per device).

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "collector/presence/presence_types.h"

namespace vigil::collector::presence {

constexpr size_t kStatusCount = 7;
using StatusCounts = std::array<uint32_t, kStatusCount>;

// Agents that should be reporting now: ONLINE, SUSPECT or UNREACHABLE (not UNKNOWN, OFFLINE,
// SHUTDOWN or in MAINTENANCE).
uint64_t expectedAgents(const StatusCounts& counts);

struct SiteState {
  std::vector<AgentHandle> members;  // unordered; each agent knows its slot
  StatusCounts by_status{};
  bool alert_open = false;
  uint32_t partition_size = 0;  // agents made UNREACHABLE by the open site alert
};

class SiteTracker {
 public:
  explicit SiteTracker(const PresenceConfig& config) : config_(config) {}

  // Adds the agent (status UNKNOWN) and returns its slot in the site's member list.
  uint32_t add(SiteId site, AgentHandle agent);
  // Removes the agent at `slot` with status `status`. If another member moved into the slot,
  // returns it, so its owner can update the slot it remembers.
  std::optional<AgentHandle> remove(SiteId site, uint32_t slot, Status status);
  void onStatusChange(SiteId site, Status from, Status to);

  SiteState& site(SiteId site) { return sites_[site]; }
  const SiteState* find(SiteId site) const {
    return site < sites_.size() ? &sites_[site] : nullptr;
  }
  const StatusCounts& fleet() const { return fleet_; }
  uint64_t fleetSize() const { return fleet_size_; }
  // The site holds at most half of the fleet (silence confined to it may be a partition).
  bool isMinority(SiteId site) const;

  // The site-partition rule with silent share `share`: at least site_min_agents agents
  // expected, at least `share` of them SUSPECT, and the rest of the fleet quiet (fewer than
  // site_fleet_quiet_share SUSPECT, and not empty).
  bool looksPartitioned(SiteId site, double share) const;
  // As above, with `silent` of the site's expected agents counted as silent (for example the
  // overdue ones, which include agents not yet SUSPECT). The rest of the fleet is still
  // judged by its SUSPECT count.
  bool looksPartitioned(SiteId site, double share, uint64_t silent) const;
  // The site alone meets the rule: at least site_min_agents agents expected and at least
  // `share` of them among the `silent` ones (whatever the rest of the fleet does).
  bool silentShareReached(SiteId site, double share, uint64_t silent) const;

  size_t memoryBytes() const;

 private:
  const PresenceConfig& config_;
  std::vector<SiteState> sites_;  // by site id
  StatusCounts fleet_{};
  uint64_t fleet_size_ = 0;
};

}  // namespace vigil::collector::presence
