#include "tests/simulation/fleet.h"

#include <algorithm>

namespace vigil::presence_sim {

const char* faultKindName(FaultKind kind) {
  switch (kind) {
    case FaultKind::kNone:
      return "none";
    case FaultKind::kCollectorRestart:
      return "collector restart";
    case FaultKind::kChannelSilent:
      return "beacon channel silent";
    case FaultKind::kChannelNonsense:
      return "beacon channel nonsense timing";
    case FaultKind::kIngestStall:
      return "ingest stalled (lag reported)";
    case FaultKind::kIngestStallUnreported:
      return "ingest stalled (lag not reported)";
    case FaultKind::kCollectorFrozen:
      return "collector frozen";
    case FaultKind::kSitePartition:
      return "site partitioned";
  }
  return "?";
}

const char* collectorFaultName(CollectorFault::Kind kind) {
  switch (kind) {
    case CollectorFault::Kind::kRestart:
      return "collector restart";
    case CollectorFault::Kind::kFreeze:
      return "collector frozen";
    case CollectorFault::Kind::kIngestStall:
      return "ingest stalled (lag reported)";
    case CollectorFault::Kind::kUpstreamStall:
      return "ingest stalled (lag not reported)";
  }
  return "?";
}

FaultWindow faultWindowOf(const FaultPlan& plan, const Fleet& fleet) {
  FaultWindow window;
  window.from = plan.starts_at;
  window.to = plan.starts_at + plan.length;
  window.what = faultKindName(plan.kind);
  switch (plan.kind) {
    case FaultKind::kNone:
      window.to = window.from;
      break;
    case FaultKind::kChannelNonsense:
      // The last beacon sent inside the fault may arrive this much after it ended.
      window.to += plan.nonsense_max_delay;
      break;
    case FaultKind::kSitePartition:
      window.site = fleet.partitioned_site;
      break;
    default:
      break;
  }
  return window;
}

namespace {

void buildSites(const FleetParams& params, SimRandom& random, Fleet& fleet) {
  constexpr uint32_t kSitesPerTenant = 20;
  uint32_t placed = 0;
  while (placed < params.agents) {
    uint32_t size = random.chance(0.10) ? 1 : 5 + static_cast<uint32_t>(random.below(46));
    size = std::min(size, params.agents - placed);
    const SiteId site = static_cast<SiteId>(fleet.site_agents.size());
    fleet.site_agents.push_back(size);
    for (uint32_t i = 0; i < size; ++i) {
      fleet.site.push_back(site);
      fleet.tenant.push_back(site / kSitesPerTenant);
      fleet.agent_class.push_back(random.chance(params.server_share) ? AgentClass::kServer
                                                                     : AgentClass::kWorkstation);
    }
    placed += size;
  }
}

std::optional<SiteId> pickPartitionedSite(const FaultPlan& plan, SimRandom& random,
                                          const Fleet& fleet) {
  std::vector<SiteId> candidates;
  for (SiteId s = 0; s < fleet.site_agents.size(); ++s) {
    if (fleet.site_agents[s] >= plan.partition_min_site_agents) candidates.push_back(s);
  }
  if (candidates.empty()) return std::nullopt;
  return candidates[random.below(candidates.size())];
}

// Kills one agent that is not already dying, drawn from `pool`, at a time in [from, to).
void killOne(const std::vector<uint32_t>& pool, SimTime from, SimTime to, SimRandom& random,
             Fleet& fleet) {
  for (int attempt = 0; attempt < 1000; ++attempt) {
    const uint32_t agent = pool[random.below(pool.size())];
    if (fleet.dies_at[agent] != kNever) continue;
    fleet.dies_at[agent] = random.between(from, to);
    return;
  }
}

}  // namespace

Fleet buildFleet(const FleetParams& params, const FaultPlan& plan, Duration warm_up,
                 Duration heartbeat_interval) {
  SimRandom random(params.seed);
  Fleet fleet;
  buildSites(params, random, fleet);
  const uint32_t n = fleet.agentCount();
  fleet.dies_at.assign(n, kNever);
  fleet.uses_beacons.assign(n, 1);
  const SimTime fault_end = plan.starts_at + plan.length;
  switch (plan.kind) {
    case FaultKind::kNone:
      break;
    case FaultKind::kChannelSilent:
    case FaultKind::kChannelNonsense: {
      RouteFault fault;
      fault.from = plan.starts_at;
      fault.to = fault_end;
      fault.channels = RouteFault::kBeacons;
      fault.agents.assign(n, 0);
      for (uint32_t a = 0; a < n; ++a) fault.agents[a] = random.chance(plan.fleet_share);
      if (plan.kind == FaultKind::kChannelNonsense) fault.max_delay = plan.nonsense_max_delay;
      fleet.route_faults.push_back(std::move(fault));
      break;
    }
    case FaultKind::kSitePartition:
      fleet.partitioned_site = pickPartitionedSite(plan, random, fleet);
      if (fleet.partitioned_site) {
        RouteFault fault;
        fault.from = plan.starts_at;
        fault.to = fault_end;
        fault.site = fleet.partitioned_site;
        fleet.route_faults.push_back(std::move(fault));
      }
      break;
    case FaultKind::kCollectorRestart:
      fleet.collector_faults.push_back(
          {CollectorFault::Kind::kRestart, plan.starts_at, plan.length});
      break;
    case FaultKind::kCollectorFrozen:
      fleet.collector_faults.push_back(
          {CollectorFault::Kind::kFreeze, plan.starts_at, plan.length});
      break;
    case FaultKind::kIngestStall:
      fleet.collector_faults.push_back(
          {CollectorFault::Kind::kIngestStall, plan.starts_at, plan.length});
      break;
    case FaultKind::kIngestStallUnreported:
      fleet.collector_faults.push_back(
          {CollectorFault::Kind::kUpstreamStall, plan.starts_at, plan.length});
      break;
  }

  std::vector<uint32_t> everyone(n);
  for (uint32_t a = 0; a < n; ++a) everyone[a] = a;
  const auto background = static_cast<uint32_t>(params.background_death_share * n);
  const SimTime deaths_to = params.duration - params.deaths_end_margin;
  for (uint32_t i = 0; i < background && params.deaths_from < deaths_to; ++i) {
    killOne(everyone, params.deaths_from, deaths_to, random, fleet);
  }

  fleet.fault_windows.push_back(FaultWindow{SimTime::zero(), warm_up, std::nullopt, "warm-up"});
  if (plan.kind != FaultKind::kNone) {
    const FaultWindow window = faultWindowOf(plan, fleet);
    fleet.fault_windows.push_back(window);
    // Deaths just before the fault (their verification overlaps it) and inside it.
    const SimTime from = window.from - std::min(window.from, 2 * heartbeat_interval);
    uint32_t extra = plan.extra_deaths;
    if (fleet.partitioned_site) {
      std::vector<uint32_t> members;
      for (uint32_t a = 0; a < n; ++a) {
        if (fleet.site[a] == *fleet.partitioned_site) members.push_back(a);
      }
      for (uint32_t i = 0; i < plan.partition_site_deaths && extra > 0; ++i, --extra) {
        killOne(members, from, window.to, random, fleet);
      }
    }
    for (uint32_t i = 0; i < extra; ++i) killOne(everyone, from, window.to, random, fleet);
  }
  return fleet;
}

}  // namespace vigil::presence_sim
