#pragma once

// The verdict on rounds of faults in the office network (docs/scenarios.md, "Real agents in
// offices"): in each round an office's uplink is cut while agents elsewhere may be killed at
// the same moment. Per round the collector must raise exactly one site alert for the cut
// office, with every agent of it UNREACHABLE before the heal and not one device alert for
// them; resolve the site alert after the heal; alert each killed agent (device_offline)
// within three heartbeat intervals plus two ticks of its death (docs/presence.md); and raise
// nothing else. Ground truth is what the runner did; what the collector decided comes from
// its API.

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "common/clock.h"

namespace vigil::fleetsim {

struct SeenAlert;

// One cut of an office's uplink, and what the API showed at its edges.
struct OfficeCut {
  std::string site;  // "office-1"
  WallTime cut_at;
  WallTime heal_at = WallTime::max();  // max: not healed before the end of the timeline
  // Agent name -> seconds since its last heartbeat reached the collector, read just before
  // the cut: the heartbeat phases the cut met.
  std::vector<std::pair<std::string, double>> heartbeat_ages_s;
  // Read just before the heal: each agent's status, and the office's open site alerts.
  std::map<std::string, std::string> status_before_heal;
  std::vector<int64_t> open_site_alerts_before_heal;
};

// One SIGKILL of an office agent, and its restart.
struct OfficeKill {
  std::string agent;  // "office-2/1"
  WallTime killed_at;
  WallTime restarted_at = WallTime::max();  // max: never restarted
  double heartbeat_age_s = -1;  // since its last heartbeat reached the collector; -1: not read
};

// The office agents and what was done to them.
struct OfficeRun {
  std::map<std::string, std::string> agent_names;  // agent id -> "office-K/J"
  std::map<std::string, int64_t> site_ids;         // "office-K" -> the collector's site id
  std::vector<OfficeCut> cuts;                     // in time order
  std::vector<OfficeKill> kills;                   // in time order
  bool empty() const { return cuts.empty() && kills.empty(); }
};

struct OfficeVerdict {
  std::vector<std::string> failures;  // one line per broken rule, naming the round
  std::vector<std::string> timeline;  // per round: the faults and every alert, for the report
};

// `alerts`: every alert the API lists at the end (all states, closed_at set when closed).
// Times in the timeline are seconds from `origin` (the fleet's start).
OfficeVerdict judgeOffices(const OfficeRun& run, const std::vector<SeenAlert>& alerts,
                           WallTime origin, double interval_s, double tick_s);

// The office of an agent name: "office-2/1" -> "office-2".
std::string officeOf(const std::string& agent_name);

}  // namespace vigil::fleetsim
