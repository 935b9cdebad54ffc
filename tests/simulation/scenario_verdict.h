#pragma once

// Judges a simulation run against its ground truth: false offline alerts, missed failures,
// detection latency, site alerts, and whether every live agent ended ONLINE.

#include <string>
#include <vector>

#include "tests/simulation/fleet_simulation.h"

namespace vigil::presence_sim {

struct ScenarioVerdict {
  uint32_t agents = 0;
  uint32_t true_failures = 0;
  uint32_t device_alerts = 0;  // OFFLINE device alerts opened
  // Device alerts opened for an agent that was alive at that moment.
  uint32_t false_alerts = 0;
  // True failures with no device alert (nor, inside a partitioned site, its site alert).
  uint32_t missed = 0;
  // Deaths inside the partitioned site accounted for by its site alert alone.
  uint32_t covered_by_site_alert = 0;
  // A second device alert for an agent already alerted since it died (e.g. after a restart).
  uint32_t duplicate_alerts = 0;
  uint32_t held = 0;
  uint32_t released = 0;
  uint32_t site_alerts = 0;            // site alerts opened
  uint32_t partition_site_alerts = 0;  // of which for the partitioned site
  bool partition_site_alert_resolved = false;
  uint32_t flapping_alerts = 0;
  uint32_t alive_not_online_at_end = 0;
  // Detection latency: from death, or from the end of a fault the detection overlapped.
  size_t latency_samples = 0;
  Duration latency_p50{};
  Duration latency_p99{};
  Duration latency_max{};
  // The same from the death itself, whatever faults it overlapped.
  Duration latency_from_death_p99{};
  Duration latency_from_death_max{};
  // Degradation reasons the collector reported from the start of the fault until two minutes
  // after its end (bit i = DegradationReason i).
  uint32_t reasons_during_fault = 0;
  // The first few false alerts, misses and stuck agents, for the log.
  std::vector<std::string> findings;
};

ScenarioVerdict judge(const SimulationRun& run, const PresenceConfig& config);

// A small table for the log: the scenario, its figures, and the collector's degraded periods.
std::string formatVerdict(const std::string& scenario, const SimulationRun& run,
                          const ScenarioVerdict& verdict);

}  // namespace vigil::presence_sim
