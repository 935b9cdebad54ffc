#pragma once

// A scenario file (tools/fleetsim/scenarios/*.json, format in docs/scenarios.md): a fleet and
// a timeline of faults, in real-world seconds. The runner scales every duration by one factor
// (interval_s of the run / interval_s of the file), so the same file drives the full-size run
// and CI's reduced one.

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "common/status.h"

namespace vigil::fleetsim {

// One step of the timeline.
struct FaultStep {
  double at_s = 0;      // after the fleet started, in real-world seconds
  std::string action;   // see kActions in scenario.cc
  std::string site;     // site_partition_*: the site label, e.g. "site-3"
  std::string channel;  // channel_*: "heartbeat" or "beacon"
  double share = 0;     // channel_block: share of the simulated agents
  int64_t seconds = 0;  // fleet_boot: the window the fleet boots in
};

struct Scenario {
  std::string name;
  std::string replays;  // which incident of ../shared/seeds, in a sentence
  uint32_t agents = 2000;
  uint32_t sites = 20;
  uint32_t real_agents = 0;  // vigil-agent processes beside the simulated ones
  int64_t interval_s = 60;   // the heartbeat interval the collector hands out
  int64_t beacon_interval_s = 15;
  bool tls = false;
  double duration_s = 900;            // the timeline's length; the verdict follows a settle time
  double background_deaths = 0.01;    // share of agents that really die at random times
  bool fleet_boots_at_start = false;  // false: the fleet was up before (agents restart)
  std::map<std::string, std::string> collector_defines;  // extra -D key=value, unscaled
  std::vector<FaultStep> timeline;
};

Result<Scenario> loadScenario(const std::string& path);
Result<Scenario> parseScenario(const std::string& json_text);

}  // namespace vigil::fleetsim
