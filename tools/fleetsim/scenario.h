#pragma once

// A scenario file (tools/fleetsim/scenarios/*.json, format in docs/scenarios.md): a fleet and
// a timeline of faults, in real-world seconds. The runner scales every duration by one factor
// (interval_s of the run / interval_s of the file), so the same file drives the full-size run
// and CI's reduced one.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"

namespace vigil::fleetsim {

// One step of the timeline.
// Steps at the same at_s run in the file's order; a step that waits (real_site_await_phase)
// delays every step after it by as long as it waited.
struct FaultStep {
  double at_s = 0;      // after the fleet started, in real-world seconds
  std::string action;   // see kActions in scenario.cc
  std::string site;     // site_partition_*: the site label, e.g. "site-3"; real_*: "office-1"
  std::string agent;    // real_agent_*: an office agent, e.g. "office-1/2" (or `site` instead)
  std::string channel;  // channel_*: "heartbeat" or "beacon"
  // collector_*, db_*: which collector of a cluster, from 1 (collector-1); kBusiest: the one
  // that owns the most agents when the timeline starts. 0: collector-1, or the one collector.
  int collector = 0;
  double share = 0;     // channel_block: share of the simulated agents
  int64_t seconds = 0;  // fleet_boot: the window the fleet boots in
  // real_site_await_phase, in heartbeat intervals: one agent of `site` last beat at least
  // `oldest_at_least` ago, every other one at most `others_at_most` ago (if given), and
  // `fresh_agent`, or an agent of `fresh_site` never killed before, at most `fresh_at_most`
  // ago (if given).
  double oldest_at_least = 0;
  std::optional<double> others_at_most;
  std::string fresh_agent;
  std::string fresh_site;
  std::optional<double> fresh_at_most;
};

// Real vigil-agent processes in offices: each in a network namespace of its own, the agents of
// an office on one LAN behind the office's uplink (docs/scenarios.md, "Real agents in
// offices"). The offices are sites "office-0" ... of their own, beside the simulated fleet's.
struct Offices {
  uint32_t sites = 0;  // 0: none
  uint32_t agents_per_site = 0;
  // When agent j of every office starts, after the first (real-world seconds; agents past the
  // list start at 0): an agent's first heartbeat goes at its start, which sets its phase.
  std::vector<double> start_offsets_s;
};

// What a collector's return must look like ("surge" in the file): the reconnect surge after a
// restart absorbed by the intervals, not by refusals.
struct SurgeBounds {
  bool judged = false;
  uint32_t max_refusals_per_agent = 1;  // 429/503 answers an agent may get in the whole run
  double back_within_intervals = 1;     // every living agent accepted again within this many
                                        // heartbeat intervals of the collector's return
};

// A cluster of collectors ("cluster" in the file): one PostgreSQL server, `collectors`
// vigil-collector processes (collector-1 ...) sharing its database, and HAProxy in front of them
// (docs/scenarios.md, "Cluster scenarios").
struct ClusterShape {
  uint32_t collectors = 0;  // 0: one collector on its own SQLite file
  // Collectors the timeline adds (collector_add), numbered after the first ones.
  uint32_t added = 0;
  uint32_t slots() const { return collectors + added; }
};

// FaultStep::collector naming the collector that owns the most agents.
constexpr int kBusiest = -1;

struct Scenario {
  std::string name;
  std::string replays;     // which incident of docs/incidents.md, in a sentence
  uint32_t agents = 2000;  // simulated; 0 only beside offices
  uint32_t sites = 20;
  uint32_t real_agents = 0;  // vigil-agent processes beside the simulated ones
  int64_t interval_s = 60;   // the heartbeat interval the collector hands out
  int64_t beacon_interval_s = 15;
  bool tls = false;
  double duration_s = 900;            // the timeline's length; the verdict follows a settle time
  double background_deaths = 0.01;    // share of agents that really die at random times
  bool fleet_boots_at_start = false;  // false: the fleet was up before (agents restart)
  std::map<std::string, std::string> collector_defines;  // extra -D key=value, unscaled
  // Extra collector settings in seconds ("collector_scaled"), scaled with the run like the
  // lab's own (x k, at least 1).
  std::map<std::string, double> collector_scaled_s;
  // Adaptive heartbeat intervals: the collector's heartbeat budget, per agent and hour of real
  // time (fleet.heartbeat_budget_per_agent_hour; cadence.budgetPerSecond for the run's fleet
  // and scale). 0: the collector's default (learnt from its CPU).
  double heartbeat_budget_per_agent_hour = 0;
  // Detection is judged against this many beacon intervals instead of three heartbeat
  // intervals (the beacon fallback: heartbeats may be minutes apart). 0: heartbeat intervals.
  double detect_within_beacon_intervals = 0;
  SurgeBounds surge;
  Offices offices;
  ClusterShape cluster;
  std::vector<FaultStep> timeline;
};

Result<Scenario> loadScenario(const std::string& path);
Result<Scenario> parseScenario(const std::string& json_text);

}  // namespace vigil::fleetsim
