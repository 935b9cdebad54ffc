#include "collector/presence/fleet_hearing.h"

#include <algorithm>

namespace vigil::collector::presence {
namespace {

bool listened(AgentStatus status) {
  return status == AgentStatus::kOnline || status == AgentStatus::kSuspect;
}

}  // namespace

FleetHearing::FleetHearing(const PresenceConfig& config)
    : share_(config.fleet_silent_share), min_agents_(config.fleet_silent_min_agents) {}

FleetHearing::Counts& FleetHearing::tenant(TenantId id) {
  if (id >= tenants_.size()) tenants_.resize(id + size_t{1});
  return tenants_[id];
}

bool FleetHearing::quiet(uint64_t listening, uint64_t silent) const {
  return listening > 0 && static_cast<double>(silent) > share_ * static_cast<double>(listening);
}

void FleetHearing::vote(const Counts& counts, int sign) {
  if (counts.listening == 0) return;
  fleet_.voters += sign;
  if (quiet(counts.listening, counts.silent)) fleet_.quiet += sign;
}

void FleetHearing::change(TenantId id, int listening, int silent) {
  if (listening == 0 && silent == 0) return;
  Counts& counts = tenant(id);
  vote(counts, -1);
  counts.listening += listening;
  counts.silent += silent;
  fleet_.listening += listening;
  fleet_.silent += silent;
  vote(counts, 1);
}

void FleetHearing::onRemove(TenantId id, AgentStatus status, bool established) {
  if (established) onEstablished(id, status, false);
}

void FleetHearing::onEstablished(TenantId id, AgentStatus status, bool established) {
  const int sign = established ? 1 : -1;
  Counts& counts = tenant(id);
  if (established && counts.established++ == 0) ++established_tenants_;
  if (!established && --counts.established == 0) --established_tenants_;
  established_ += sign;
  change(id, listened(status) ? sign : 0, status == AgentStatus::kSuspect ? sign : 0);
}

void FleetHearing::onStatusChange(TenantId id, AgentStatus from, AgentStatus to, bool established) {
  if (!established) return;
  change(id, int{listened(to)} - int{listened(from)},
         int{to == AgentStatus::kSuspect} - int{from == AgentStatus::kSuspect});
}

bool FleetHearing::silentSet(const Tally& tally, uint64_t set_aside) const {
  return tally.silent + set_aside >= min_agents_ && quiet(tally.listening, tally.silent) &&
         quiet(tally.voters, tally.quiet);
}

bool FleetHearing::silentWithoutAnyOne(const Tally& tally, uint64_t set_aside, TenantId adjusted,
                                       const Counts& counts) const {
  // Bounds that hold whichever tenant is left out: too few silent agents in all, or too few
  // quiet tenants once a quiet one is left out.
  if (tally.voters < 2 || tally.silent + set_aside < min_agents_) return false;
  if (tally.quiet == 0 || !quiet(tally.voters - 1, tally.quiet - 1)) return false;
  for (TenantId id = 0; id < tenants_.size(); ++id) {
    const Counts& own = id == adjusted ? counts : tenants_[id];
    if (own.listening == 0) continue;
    Tally rest = tally;
    rest.listening -= own.listening;
    rest.silent -= own.silent;
    rest.voters -= 1;
    if (quiet(own.listening, own.silent)) rest.quiet -= 1;
    if (!silentSet(rest, set_aside)) return false;
  }
  return true;
}

bool FleetHearing::deaf() const {
  if (established_tenants_ <= 1) return silentSet(fleet_, 0);
  return silentWithoutAnyOne(fleet_, 0, kNoTenant, Counts{});
}

FleetHearing::Verdict FleetHearing::judgeRest(const Group& excluded) const {
  // The rest: the fleet without the group, its tenant voting with its other agents only.
  Counts own;
  if (excluded.tenant < tenants_.size()) own = tenants_[excluded.tenant];
  Tally rest = fleet_;
  if (own.listening > 0) {
    --rest.voters;
    if (quiet(own.listening, own.silent)) --rest.quiet;
  }
  const uint32_t set_aside = std::min(excluded.silent, own.silent);
  own.listening -= std::min(excluded.listening, own.listening);
  own.silent -= set_aside;
  rest.listening -= std::min<uint64_t>(excluded.listening, rest.listening);
  rest.silent -= set_aside;
  if (own.listening > 0) {
    ++rest.voters;
    if (quiet(own.listening, own.silent)) ++rest.quiet;
  }
  if (rest.listening == 0) return Verdict::kNoReference;
  if (rest.voters == 1) {
    // One tenant left: the group's own is judged as it stands; another tenant's silence
    // cannot speak for this one.
    if (own.listening == 0) return Verdict::kNoReference;
    return silentSet(rest, set_aside) ? Verdict::kDeaf : Verdict::kHeard;
  }
  return silentWithoutAnyOne(rest, set_aside, excluded.tenant, own) ? Verdict::kDeaf
                                                                    : Verdict::kHeard;
}

uint64_t FleetHearing::silentOutsideTopTenant() const {
  if (established_tenants_ < 2) return fleet_.silent;
  uint32_t top = 0;
  for (const Counts& counts : tenants_) top = std::max(top, counts.silent);
  return fleet_.silent - top;
}

}  // namespace vigil::collector::presence
