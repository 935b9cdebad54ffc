#pragma once

// The simulated fleet: who is in which site, which agents die for real and when, which
// evidence is lost on its way (a site's uplink cut, one channel of some agents), what happens
// to the collector itself (a restart, a freeze, an ingest stall), and the windows during which
// the collector could not judge (ground truth for the verdicts).

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "collector/presence/presence_types.h"
#include "common/clock.h"
#include "tests/simulation/sim_random.h"

namespace vigil::presence_sim {

using collector::presence::AgentClass;
using collector::presence::SiteId;
using collector::presence::TenantId;

// Simulated time: offset from the start of the run (the engine's construction).
using SimTime = Duration;
constexpr SimTime kNever = SimTime::max();

// The seed incidents, one fault per scenario (seeds/INDEX.md).
enum class FaultKind : uint8_t {
  kNone,
  kCollectorRestart,       // Syncro: engine destroyed, down, rebuilt from restored state
  kChannelSilent,          // Atera's vendor: beacons of a share of the fleet vanish
  kChannelNonsense,        // Atera's vendor: beacons of a share of the fleet arrive bursty/late
  kIngestStall,            // Automox: evidence waits in the ingest queue, lag is reported
  kIngestStallUnreported,  // Automox, seen from outside: evidence arrives late, no lag report
  kCollectorFrozen,        // Aventri: no ticks and no ingest, then everything queued arrives
  kSitePartition,          // one site's network is cut
};
const char* faultKindName(FaultKind kind);

struct FaultPlan {
  FaultKind kind = FaultKind::kNone;
  SimTime starts_at = std::chrono::minutes(60);
  Duration length = std::chrono::seconds(60);
  // Channel faults: share of agents whose beacon channel is faulty.
  double fleet_share = 0.30;
  // kChannelNonsense: each beacon of a faulty agent is delivered up to this much later.
  Duration nonsense_max_delay = std::chrono::minutes(3);
  // Agents that die just before or inside the fault, on top of the background failures.
  uint32_t extra_deaths = 20;
  // kSitePartition: the partitioned site has at least this many agents; this many of the
  // extra deaths fall inside it.
  uint32_t partition_min_site_agents = 20;
  uint32_t partition_site_deaths = 2;
};

struct FleetParams {
  uint32_t agents = 20000;
  Duration duration = std::chrono::hours(2);
  // Zero: a quarter of the heartbeat interval.
  Duration beacon_interval{};
  uint64_t seed = 1;
  double background_death_share = 0.01;
  double server_share = 0.2;
  // Background deaths fall in [deaths_from, duration - deaths_end_margin).
  SimTime deaths_from = std::chrono::minutes(10);
  Duration deaths_end_margin = std::chrono::minutes(20);
};

// Evidence lost (or delayed) on its way to the collector between `from` and `to`: a site's
// uplink cut (both channels of every agent of `site`), or one channel of the agents flagged
// in `agents`.
struct RouteFault {
  static constexpr uint8_t kHeartbeats = 1;
  static constexpr uint8_t kBeacons = 2;

  SimTime from{};
  SimTime to{};
  uint8_t channels = kHeartbeats | kBeacons;
  std::optional<SiteId> site;   // every agent of the site, or else:
  std::vector<uint8_t> agents;  // by agent id, 1 = affected
  // Zero: the evidence is dropped. Otherwise each item is delayed by up to this much.
  Duration max_delay{};

  bool active(SimTime t) const { return t >= from && t < to; }
  bool affects(uint32_t agent, SiteId agent_site, uint8_t channel_bit) const {
    if ((channels & channel_bit) == 0) return false;
    if (site) return *site == agent_site;
    return agent < agents.size() && agents[agent] != 0;
  }
};

// Something that happens to the collector itself. Faults of the collector do not overlap.
struct CollectorFault {
  enum class Kind : uint8_t {
    kRestart,        // Syncro: engine destroyed, down, rebuilt from restored state
    kFreeze,         // Aventri: no ticks and no ingest, then everything queued arrives
    kIngestStall,    // Automox: evidence waits in the ingest queue, lag is reported
    kUpstreamStall,  // Automox, seen from outside: evidence arrives late, no lag report
  };
  Kind kind = Kind::kRestart;
  SimTime from{};
  Duration length{};
};
const char* collectorFaultName(CollectorFault::Kind kind);

// A stretch during which the collector could not judge (start-up, a fault). Latency of a death
// whose detection overlaps it is measured from its end. `site` limits it to one site.
struct FaultWindow {
  SimTime from{};
  SimTime to{};
  std::optional<SiteId> site;
  std::string what;
};

struct Fleet {
  // Per agent (index = simulation agent id).
  std::vector<SiteId> site;
  std::vector<TenantId> tenant;
  std::vector<AgentClass> agent_class;
  std::vector<SimTime> dies_at;       // kNever: lives through the run
  std::vector<uint8_t> uses_beacons;  // 0: heartbeats only (beacons blocked or switched off)
  // When the agent enrolls during the run: it is added to the collector then and starts
  // reporting. Empty, or zero for an agent: enrolled long before the run.
  std::vector<SimTime> enrolls_at;
  // Per site.
  std::vector<uint32_t> site_agents;
  std::optional<SiteId> partitioned_site;
  // What happens on the way and to the collector.
  std::vector<RouteFault> route_faults;
  std::vector<CollectorFault> collector_faults;
  std::vector<FaultWindow> fault_windows;

  uint32_t agentCount() const { return static_cast<uint32_t>(site.size()); }
  bool aliveAt(uint32_t agent, SimTime t) const { return t < dies_at[agent]; }
  SimTime enrollsAt(uint32_t agent) const {
    return agent < enrolls_at.size() ? enrolls_at[agent] : SimTime::zero();
  }
};

// The stretch of simulated time the plan disturbs (empty for kNone).
FaultWindow faultWindowOf(const FaultPlan& plan, const Fleet& fleet);

// Sites of 5-50 agents with one site in ten a single agent, every agent using both channels;
// 1 % background deaths at random times; the plan's fault as route or collector faults, and
// extra deaths around it. Deterministic in params.seed.
Fleet buildFleet(const FleetParams& params, const FaultPlan& plan, Duration warm_up,
                 Duration heartbeat_interval);

}  // namespace vigil::presence_sim
