#pragma once

// Runs one scenario end to end: a real vigil-collector, or a cluster of them on PostgreSQL
// behind HAProxy (and, if the scenario asks, real vigil-agent processes), the simulated fleet,
// the timeline of faults plus the background deaths, the collector's webhooks and API read
// back, and the verdict.

#include <cstdint>
#include <string>

#include "common/status.h"
#include "tools/fleetsim/report.h"
#include "tools/fleetsim/scenario.h"

namespace vigil::fleetsim {

struct RunOptions {
  std::string collector_binary;
  std::string agent_binary;
  std::string network_script;    // site_network.sh, for scenarios with offices
  std::string haproxy_binary;    // for cluster scenarios
  std::string haproxy_template;  // packaging/haproxy/vigil-cluster.cfg, for cluster scenarios
  std::string work_dir;          // empty: a fresh directory under the system temp directory
  int64_t interval_s = 0;        // 0: the scenario's; less scales every duration down with it
  uint32_t agents = 0;           // 0: the scenario's
  int64_t real_agents = -1;      // -1: the scenario's
  long connections = 12;
  uint64_t seed = 1;
  bool verbose = true;  // progress lines on stderr
};

struct RunResult {
  RunObservations observations;
  Verdict verdict;
  bool skipped = false;  // the machine cannot run this scenario (the reason is in notes)
};

Result<RunResult> runScenario(const Scenario& scenario, const RunOptions& options);

}  // namespace vigil::fleetsim
