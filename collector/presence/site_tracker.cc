#include "collector/presence/site_tracker.h"

namespace vigil::collector::presence {
namespace {

size_t indexOf(AgentStatus status) { return static_cast<size_t>(status); }

}  // namespace

uint64_t expectedAgents(const StatusCounts& counts) {
  return uint64_t{counts[indexOf(AgentStatus::kOnline)]} + counts[indexOf(AgentStatus::kSuspect)] +
         counts[indexOf(AgentStatus::kUnreachable)];
}

uint32_t SiteTracker::add(SiteId site, AgentHandle agent) {
  if (site >= sites_.size()) sites_.resize(site + size_t{1});
  SiteState& state = sites_[site];
  state.members.push_back(agent);
  ++state.by_status[indexOf(AgentStatus::kUnknown)];
  ++fleet_[indexOf(AgentStatus::kUnknown)];
  ++fleet_size_;
  return static_cast<uint32_t>(state.members.size() - 1);
}

std::optional<AgentHandle> SiteTracker::remove(SiteId site, uint32_t slot, AgentStatus status) {
  SiteState& state = sites_[site];
  --state.by_status[indexOf(status)];
  --fleet_[indexOf(status)];
  --fleet_size_;
  const size_t last = state.members.size() - 1;
  std::optional<AgentHandle> moved;
  if (slot != last) {
    state.members[slot] = state.members[last];
    moved = state.members[slot];
  }
  state.members.pop_back();
  return moved;
}

void SiteTracker::onStatusChange(SiteId site, AgentStatus from, AgentStatus to) {
  SiteState& state = sites_[site];
  --state.by_status[indexOf(from)];
  ++state.by_status[indexOf(to)];
  --fleet_[indexOf(from)];
  ++fleet_[indexOf(to)];
}

bool SiteTracker::isMinority(SiteId site) const {
  const SiteState* state = find(site);
  return state != nullptr && 2 * state->members.size() <= fleet_size_;
}

size_t SiteTracker::memoryBytes() const {
  size_t bytes = sites_.capacity() * sizeof(SiteState);
  for (const auto& state : sites_) bytes += state.members.capacity() * sizeof(AgentHandle);
  return bytes;
}

}  // namespace vigil::collector::presence
