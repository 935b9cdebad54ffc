#include "collector/presence/fleet_hearing.h"

#include <algorithm>

namespace vigil::collector::presence {
namespace {

bool listened(Status status) { return status == Status::kOnline || status == Status::kSuspect; }

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
  voters_ += sign;
  if (quiet(counts.listening, counts.silent)) quiet_voters_ += sign;
}

void FleetHearing::onAdd(TenantId id) {
  Counts& counts = tenant(id);
  if (counts.agents++ == 0) ++populated_tenants_;
}

void FleetHearing::onRemove(TenantId id, Status status) {
  Counts& counts = tenant(id);
  vote(counts, -1);
  if (--counts.agents == 0) --populated_tenants_;
  if (listened(status)) {
    --counts.listening;
    --listening_;
  }
  if (status == Status::kSuspect) {
    --counts.silent;
    --silent_;
  }
  vote(counts, 1);
}

void FleetHearing::onStatusChange(TenantId id, Status from, Status to) {
  const int listening = int{listened(to)} - int{listened(from)};
  const int silent = int{to == Status::kSuspect} - int{from == Status::kSuspect};
  if (listening == 0 && silent == 0) return;
  Counts& counts = tenant(id);
  vote(counts, -1);
  counts.listening += listening;
  counts.silent += silent;
  listening_ += listening;
  silent_ += silent;
  vote(counts, 1);
}

bool FleetHearing::deafWith(uint64_t listening, uint64_t silent, uint64_t voters,
                            uint64_t quiet_voters) const {
  return silent_ >= min_agents_ && quiet(listening, silent) && quiet(voters, quiet_voters);
}

bool FleetHearing::deaf() const { return deafWith(listening_, silent_, voters_, quiet_voters_); }

FleetHearing::Verdict FleetHearing::judgeRest(const Group& excluded) const {
  const uint64_t listening = listening_ - std::min<uint64_t>(excluded.listening, listening_);
  const uint64_t silent = silent_ - std::min<uint64_t>(excluded.silent, silent_);
  if (listening == 0) return Verdict::kNoReference;
  // The excluded group's tenant votes with its other agents only.
  uint64_t voters = voters_;
  uint64_t quiet_voters = quiet_voters_;
  if (excluded.tenant < tenants_.size()) {
    const Counts& whole = tenants_[excluded.tenant];
    if (whole.listening > 0) {
      --voters;
      if (quiet(whole.listening, whole.silent)) --quiet_voters;
    }
    const uint64_t rest_listening = whole.listening - std::min(excluded.listening, whole.listening);
    const uint64_t rest_silent = whole.silent - std::min(excluded.silent, whole.silent);
    if (rest_listening > 0) {
      ++voters;
      if (quiet(rest_listening, rest_silent)) ++quiet_voters;
    }
  }
  return deafWith(listening, silent, voters, quiet_voters) ? Verdict::kDeaf : Verdict::kHeard;
}

uint64_t FleetHearing::silentOutsideTopTenant() const {
  if (populated_tenants_ < 2) return silent_;
  uint32_t top = 0;
  for (const Counts& counts : tenants_) top = std::max(top, counts.silent);
  return silent_ - top;
}

}  // namespace vigil::collector::presence
