#pragma once

// Whether the collector still hears its fleet: the question that tells a site going dark (the
// site's problem: one site alert) from the collector losing its fleet (the collector's
// problem: hold every verdict).
//
// The collector listens to every agent that is ONLINE or SUSPECT (agents UNREACHABLE are
// accounted for by their site alert; UNKNOWN, OFFLINE, SHUTDOWN and MAINTENANCE agents are not
// expected to report). Of those, the share that is SUSPECT is counted two ways: by agents, and
// by tenants, a tenant being quiet when more than fleet_silent_share of its listened-to agents
// are SUSPECT. The collector is deaf when both shares exceed fleet_silent_share and at least
// fleet_silent_min_agents agents are SUSPECT: most of the fleet, however it is counted, went
// silent at once. Neither count alone decides, so no single tenant, however large, can make
// the collector look deaf (it is one vote of several), nor can a cluster of small tenants
// unless they also hold most of the agents. Unrelated deaths and partitions of a minority of
// sites stay far below either share.
//
// O(1) per status change; state per tenant id (small, dense ids).

#include <cstddef>
#include <cstdint>
#include <vector>

#include "collector/presence/presence_types.h"

namespace vigil::collector::presence {

class FleetHearing {
 public:
  explicit FleetHearing(const PresenceConfig& config);

  void onAdd(TenantId tenant);  // the agent starts UNKNOWN
  void onRemove(TenantId tenant, Status status);
  void onStatusChange(TenantId tenant, Status from, Status to);

  // Agents set aside when judging the rest of the fleet (a site being judged): `listening`
  // of them ONLINE or SUSPECT, `silent` of them SUSPECT, all of tenant `tenant`.
  struct Group {
    TenantId tenant = 0;
    uint32_t listening = 0;
    uint32_t silent = 0;
  };
  enum class Verdict : uint8_t {
    kHeard,        // the rest of the fleet is heard: the group's silence is its own
    kDeaf,         // most of the rest is silent too: the collector's own problem
    kNoReference,  // nothing else to listen to (the group is the whole fleet)
  };
  // The rest of the fleet without `excluded`. The minimum count of silent agents applies to
  // the whole fleet (the group's own silence is part of a fleet-wide one); the shares apply
  // to the rest.
  Verdict judgeRest(const Group& excluded) const;
  // The whole fleet.
  bool deaf() const;

  // SUSPECT agents outside the tenant that holds most of them, when agents belong to more
  // than one tenant; every SUSPECT agent otherwise. O(tenants).
  uint64_t silentOutsideTopTenant() const;
  // Tenants with at least one tracked agent.
  uint32_t populatedTenants() const { return populated_tenants_; }
  uint64_t silent() const { return silent_; }
  uint64_t listening() const { return listening_; }
  size_t memoryBytes() const { return tenants_.capacity() * sizeof(Counts); }

 private:
  struct Counts {
    uint32_t agents = 0;
    uint32_t listening = 0;  // ONLINE or SUSPECT
    uint32_t silent = 0;     // SUSPECT
  };

  Counts& tenant(TenantId id);
  // Adds (sign 1) or removes (sign -1) a tenant's vote.
  void vote(const Counts& counts, int sign);
  bool quiet(uint64_t listening, uint64_t silent) const;
  bool deafWith(uint64_t listening, uint64_t silent, uint64_t voters, uint64_t quiet_voters) const;

  double share_;
  uint64_t min_agents_;
  std::vector<Counts> tenants_;
  uint64_t listening_ = 0;
  uint64_t silent_ = 0;
  uint32_t voters_ = 0;        // tenants with an agent listened to
  uint32_t quiet_voters_ = 0;  // of which quiet
  uint32_t populated_tenants_ = 0;
};

}  // namespace vigil::collector::presence
