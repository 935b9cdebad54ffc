#pragma once

// Drives a PresenceEngine with a simulated fleet: heartbeats every interval and UDP beacons
// every quarter interval (or params.beacon_interval), each with +-jitter and a random start
// phase, ticks on the engine's period, the fleet's route and collector faults, and deaths.
// Single-threaded, no sockets, no sleeps: an event queue (a min-heap of arrival times) moves a
// SimulatedClock forward.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "collector/presence/presence_types.h"
#include "tests/simulation/fleet.h"

namespace vigil::presence_sim {

using collector::presence::AgentStatus;
using collector::presence::AlertAction;
using collector::presence::AlertKind;
using collector::presence::PresenceConfig;

constexpr uint32_t kNoAgent = UINT32_MAX;

// An alert event as the simulation saw it, in simulated time and simulation agent ids.
struct AlertRecord {
  AlertKind kind = AlertKind::kDeviceOffline;
  AlertAction action = AlertAction::kOpened;
  uint32_t agent = kNoAgent;
  std::optional<SiteId> site;
  SimTime at{};
  uint32_t held_for_mask = 0;
  std::string note;
};

struct HealthRecord {
  SimTime at{};
  bool degraded = false;
  uint32_t reasons_mask = 0;
};

// Everything a run produced, for the verdict.
struct SimulationRun {
  FleetParams params;
  FaultPlan plan;
  Fleet fleet;
  std::vector<AlertRecord> alerts;
  std::vector<HealthRecord> health;
  uint64_t observations = 0;
  uint64_t ticks = 0;
  uint64_t transitions = 0;
  // Transitions to OFFLINE of an agent alive at that moment (with or without an alert).
  uint64_t false_offline_transitions = 0;
  std::vector<AgentStatus> final_status;  // per agent, from agentView() at the end
  // Per agent, when the collector last received anything from it (SimTime::min(): never):
  // for a dead agent, the last of what it sent before it died, which may arrive after the
  // death (a heartbeat that waited for its path to reopen).
  std::vector<SimTime> last_received;
  bool degraded_at_end = true;
  uint32_t reasons_at_end = 0;
  size_t engine_memory_bytes = 0;
  double real_seconds = 0;
};

// Builds the fleet of `params` with the fault of `plan` (fleet.h) and runs it.
SimulationRun runSimulation(const PresenceConfig& config, const FleetParams& params,
                            const FaultPlan& plan);
// Runs a fleet built by the caller, with its route and collector faults, for params.duration;
// params.seed drives the agents' phases and jitter.
SimulationRun runFleet(const PresenceConfig& config, const FleetParams& params, Fleet fleet);

// The degradation reasons of `mask` by name, comma-separated ("-" for none).
std::string reasonsText(uint32_t mask);

}  // namespace vigil::presence_sim
