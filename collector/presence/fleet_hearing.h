#pragma once

// Whether the collector still hears its fleet: the question that tells a site going dark (the
// site's problem: one site alert) from the collector losing its fleet (the collector's
// problem: hold every verdict).
//
// Only established agents count (PresenceConfig::established_after: agents heard at least
// that long after they enrolled), so agents enrolled for the occasion and silenced together weigh
// nothing. Of the established agents, the collector listens to those ONLINE or SUSPECT (agents
// UNREACHABLE are accounted for by their site alert; UNKNOWN, OFFLINE, SHUTDOWN and MAINTENANCE
// agents are not expected to report). A set of agents is silent when more than fleet_silent_share
// of its listened-to agents are SUSPECT counted two ways, by agents and by tenants (a tenant being
// quiet when more than that share of its listened-to agents are SUSPECT), and at least
// fleet_silent_min_agents of them.
//
// No tenant can make the collector deaf: when established agents belong to more than one
// tenant, the collector is deaf only if it would be deaf without any one of them, each tenant
// left out in turn (in practice, without the tenant that contributes most). A tenant's
// silence, however large, manufactured or real, therefore never decides for another tenant;
// the silence must be spread over the other tenants too. A fleet with a single tenant is that
// tenant's own, and is judged as it stands.
//
// O(1) per status change; state per tenant id (small, dense ids). deaf() and judgeRest() are
// O(1) unless most tenants are quiet, then O(tenants).

#include <cstddef>
#include <cstdint>
#include <vector>

#include "collector/presence/presence_types.h"

namespace vigil::collector::presence {

class FleetHearing {
 public:
  explicit FleetHearing(const PresenceConfig& config);

  // Agents start UNKNOWN and not established: only their changes once established count.
  void onRemove(TenantId id, AgentStatus status, bool established);
  void onStatusChange(TenantId id, AgentStatus from, AgentStatus to, bool established);
  // The agent, in `status`, became established (true) or stopped being so (false).
  void onEstablished(TenantId id, AgentStatus status, bool established);

  // Established agents set aside when judging the rest of the fleet (a site being judged):
  // `listening` of them ONLINE or SUSPECT, `silent` of them SUSPECT, all of tenant `tenant`.
  struct Group {
    TenantId tenant = 0;
    uint32_t listening = 0;
    uint32_t silent = 0;
  };
  enum class Verdict : uint8_t {
    kHeard,        // the rest of the fleet is heard: the group's silence is its own
    kDeaf,         // most of the rest is silent too: the collector's own problem
    kNoReference,  // nothing else to listen to (the group, or the group and one other tenant)
  };
  // The rest of the fleet without `excluded`. The rest is deaf only if it is without any one
  // of its tenants; when the only other tenant is the group's own, its agents are judged as
  // they stand, and when the only other is another tenant, nothing is left to judge by. The
  // minimum count of silent agents includes the group's (its silence is part of a fleet-wide
  // one); the shares apply to the rest.
  Verdict judgeRest(const Group& excluded) const;
  // The whole fleet.
  bool deaf() const;

  // Established SUSPECT agents outside the tenant that holds most of them, when established
  // agents belong to more than one tenant; every established SUSPECT agent otherwise.
  // O(tenants).
  uint64_t silentOutsideTopTenant() const;
  // Tenants with at least one established agent.
  uint32_t establishedTenants() const { return established_tenants_; }
  uint64_t establishedAgents() const { return established_; }
  uint64_t silent() const { return fleet_.silent; }
  uint64_t listening() const { return fleet_.listening; }
  size_t memoryBytes() const { return tenants_.capacity() * sizeof(Counts); }

 private:
  struct Counts {
    uint32_t established = 0;
    uint32_t listening = 0;  // established, ONLINE or SUSPECT
    uint32_t silent = 0;     // established, SUSPECT
  };
  // Established agents of a set of tenants.
  struct Tally {
    uint64_t listening = 0;
    uint64_t silent = 0;
    uint64_t voters = 0;  // tenants with an agent listened to
    uint64_t quiet = 0;   // of which quiet
  };

  Counts& tenant(TenantId id);
  // Adds (sign 1) or removes (sign -1) a tenant's counts from the fleet's tally.
  void vote(const Counts& counts, int sign);
  void change(TenantId id, int listening, int silent);
  bool quiet(uint64_t listening, uint64_t silent) const;
  // The set is silent. `set_aside` silent agents of a group being judged against it count
  // toward the minimum (their silence is part of a fleet-wide one), not toward the shares.
  bool silentSet(const Tally& tally, uint64_t set_aside) const;
  // `tally` without each of its voting tenants in turn is silent every time. `adjusted` (if
  // not kNoTenant) has `counts` in `tally` instead of the fleet's counts of that tenant.
  static constexpr TenantId kNoTenant = UINT32_MAX;
  bool silentWithoutAnyOne(const Tally& tally, uint64_t set_aside, TenantId adjusted,
                           const Counts& counts) const;

  double share_;
  uint64_t min_agents_;
  std::vector<Counts> tenants_;
  Tally fleet_;
  uint64_t established_ = 0;
  uint32_t established_tenants_ = 0;
};

}  // namespace vigil::collector::presence
