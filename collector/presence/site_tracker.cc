#include "collector/presence/site_tracker.h"

namespace vigil::collector::presence {
namespace {

size_t indexOf(Status status) { return static_cast<size_t>(status); }

}  // namespace

uint64_t expectedAgents(const StatusCounts& counts) {
  return uint64_t{counts[indexOf(Status::kOnline)]} + counts[indexOf(Status::kSuspect)] +
         counts[indexOf(Status::kUnreachable)];
}

uint32_t SiteTracker::add(SiteId site, AgentHandle agent) {
  if (site >= sites_.size()) sites_.resize(site + size_t{1});
  SiteState& state = sites_[site];
  state.members.push_back(agent);
  ++state.by_status[indexOf(Status::kUnknown)];
  ++fleet_[indexOf(Status::kUnknown)];
  ++fleet_size_;
  return static_cast<uint32_t>(state.members.size() - 1);
}

std::optional<AgentHandle> SiteTracker::remove(SiteId site, uint32_t slot, Status status) {
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

void SiteTracker::onStatusChange(SiteId site, Status from, Status to) {
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

bool SiteTracker::looksPartitioned(SiteId site, double share) const {
  const SiteState* state = find(site);
  if (state == nullptr) return false;
  return looksPartitioned(site, share, state->by_status[indexOf(Status::kSuspect)]);
}

bool SiteTracker::looksPartitioned(SiteId site, double share, uint64_t silent) const {
  if (!silentShareReached(site, share, silent)) return false;
  const SiteState& state = sites_[site];
  const uint64_t expected = expectedAgents(state.by_status);
  const uint64_t rest_expected = expectedAgents(fleet_) - expected;
  const uint64_t rest_silent =
      fleet_[indexOf(Status::kSuspect)] - state.by_status[indexOf(Status::kSuspect)];
  if (rest_expected == 0) return false;
  return static_cast<double>(rest_silent) <
         config_.site_fleet_quiet_share * static_cast<double>(rest_expected);
}

bool SiteTracker::silentShareReached(SiteId site, double share, uint64_t silent) const {
  const SiteState* state = find(site);
  if (state == nullptr) return false;
  const uint64_t expected = expectedAgents(state->by_status);
  if (expected == 0 || expected < config_.site_min_agents) return false;
  return static_cast<double>(silent) >= share * static_cast<double>(expected);
}

size_t SiteTracker::memoryBytes() const {
  size_t bytes = sites_.capacity() * sizeof(SiteState);
  for (const auto& state : sites_) bytes += state.members.capacity() * sizeof(AgentHandle);
  return bytes;
}

}  // namespace vigil::collector::presence
