#pragma once

// Randomized exploration of the presence engine, FoundationDB-style: every seed is a whole
// world, drawn at random and replayed exactly from the seed: a fleet of 5 to 10,000 agents in
// sites of 1 to 200 and tenants of one to many sites, heartbeats every 10 s or 60 s with
// random phases, some agents on heartbeats only; and, overlapping in time, cuts of one or
// several sites (the same site again and again, several sites at once), unrelated deaths at
// the instant of a cut and at random, one channel lost for a share of the agents, and the
// collector restarting, freezing or stalling. Each run is then held to the invariants an MSP
// relies on (checkInvariants):
//
//  1. no device alert for an agent alive when it opened, in a cut site or not;
//  2. every real death alerted, within three heartbeat intervals of the death (or of the
//     arrival of the last thing the agent sent, if a heartbeat waiting for its path arrived
//     after it died), or of the end of whatever overlapped its detection: the collector's own
//     degradation (from the instant it is healthy again) or a cut of its site (from the heal,
//     plus one interval for the site to reconnect);
//  3. site alerts only for cut sites, at most one per cut; exactly one for a cut that lasted
//     four heartbeat intervals while the collector was healthy (a mass suspect aside: sites
//     are judged during one);
//  4. at the end, every live agent ONLINE, no site alert open, the collector healthy.
//
// The world stays within what the collector can know: a cut site has at least
// site_min_agents live agents when it is cut (smaller sites are judged device by device, so
// a cut of one is a death to the collector), no more than a third of a site's agents die
// over a run (more, together, is a dark site to anyone), cut sites hold at most 35 % of the
// fleet and no more than 40 % of it is silent within a few intervals, cut or dead (most of
// the fleet silent at once is the collector's problem by design), an agent never loses both
// channels except to a cut, and the collector's own faults do not overlap.

#include <cstdint>
#include <string>
#include <vector>

#include "collector/presence/presence_types.h"
#include "tests/simulation/fleet.h"
#include "tests/simulation/fleet_simulation.h"

namespace vigil::presence_sim {

struct ExplorationCase {
  uint64_t seed = 0;
  PresenceConfig config;
  FleetParams params;
  Fleet fleet;
  uint32_t tenants = 0;
  std::string shape;  // how sites and tenants were drawn
};

// The world of `seed`. Deterministic in the seed alone.
ExplorationCase generateCase(uint64_t seed);

struct ExplorationVerdict {
  std::vector<std::string> violations;
  uint32_t deaths = 0;
  uint32_t device_alerts = 0;
  uint32_t false_alerts = 0;
  uint32_t cuts = 0;
  uint32_t cuts_requiring_alert = 0;
  uint32_t site_alerts = 0;
  uint32_t held = 0;
  // Detection latency of each death from its baseline (the death, or the end of what
  // overlapped its detection), the largest seen.
  Duration worst_latency{};
  // Time the collector spent DEGRADED after warm-up.
  Duration degraded_time{};
  bool ok() const { return violations.empty(); }
};

ExplorationVerdict checkInvariants(const ExplorationCase& world, const SimulationRun& run);

// The seed's world and what happened, as a timeline, for a failing seed's report.
std::string describeRun(const ExplorationCase& world, const SimulationRun& run,
                        const ExplorationVerdict& verdict);

}  // namespace vigil::presence_sim
