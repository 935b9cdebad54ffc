#pragma once

// Sites (LANs, offices) and their agents: membership, agents per status for each site and the
// whole fleet, and the state of each site's alert. The site question itself (did this agent
// fall silent alone, or with its site?) is site_question.h.

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "collector/presence/presence_types.h"

namespace vigil::collector::presence {

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
  // Adds the agent (status UNKNOWN) and returns its slot in the site's member list.
  uint32_t add(SiteId site, AgentHandle agent);
  // Removes the agent at `slot` with status `status`. If another member moved into the slot,
  // returns it, so its owner can update the slot it remembers.
  std::optional<AgentHandle> remove(SiteId site, uint32_t slot, AgentStatus status);
  void onStatusChange(SiteId site, AgentStatus from, AgentStatus to);

  SiteState& site(SiteId site) { return sites_[site]; }
  const SiteState* find(SiteId site) const {
    return site < sites_.size() ? &sites_[site] : nullptr;
  }
  const StatusCounts& fleet() const { return fleet_; }
  uint64_t fleetSize() const { return fleet_size_; }
  // The site holds at most half of the fleet (silence confined to it may be a partition).
  bool isMinority(SiteId site) const;

  size_t memoryBytes() const;

 private:
  std::vector<SiteState> sites_;  // by site id
  StatusCounts fleet_{};
  uint64_t fleet_size_ = 0;
};

}  // namespace vigil::collector::presence
