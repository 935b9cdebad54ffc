#pragma once

// `vigil-fleetsim fleet`: a simulated fleet against a collector that is already running (a
// staging collector, or one under test by another tool), without a scenario. Several such
// processes can share one collector, for fleets beyond what one process holds.

#include <cstdint>
#include <string>

#include "common/status.h"
#include "tools/fleetsim/sim_fleet.h"

namespace vigil::fleetsim {

struct StandaloneOptions {
  std::string url;           // the collector's base URL, as agents are given it
  std::string ca_file;       // for https
  std::string enroll_token;  // the site's enrollment token
  uint32_t agents = 1000;
  long connections = 12;
  ConnectionMode connection_mode = ConnectionMode::kPooled;
  long agent_concurrency = 32;
  int64_t seconds = 0;  // 0: until SIGINT or SIGTERM
  uint64_t seed = 1;
};

// Enrolls the agents, runs them, prints one line of figures every 10 s and a summary at the
// end.
Status runStandaloneFleet(const StandaloneOptions& options);

}  // namespace vigil::fleetsim
