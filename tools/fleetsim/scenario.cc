#include "tools/fleetsim/scenario.h"

#include <cjson/cJSON.h>

#include <algorithm>
#include <fstream>
#include <set>
#include <sstream>

#include "common/json.h"

namespace vigil::fleetsim {
namespace {

// Every action the runner knows (runner.cc carries them out).
const std::set<std::string> kActions = {
    "collector_kill",         // SIGKILL
    "collector_start",        // start it again (same ports, same data)
    "collector_restart_tls",  // a new certificate on disk, then SIGTERM and start
    "collector_freeze",       // SIGSTOP
    "collector_thaw",         // SIGCONT
    "cpu_starve_start",       // busy processes take the collector's CPU
    "cpu_starve_stop",        //
    "site_partition_start",   // `site`'s agents lose their route to the collector
    "site_partition_stop",    //
    "channel_block",          // `share` of the agents lose `channel`
    "channel_unblock",        //
    "store_full_start",       // the data directory's file system fills up
    "store_full_stop",        //
    "fleet_boot",             // the whole fleet boots within `seconds`
    "real_agents_kill",       // two of the real vigil-agent processes are killed
    "real_site_await_phase",  // wait until the offices' heartbeat phases are as asked
    "real_site_cut",          // `site`'s uplink goes down (an office; its LAN stays up)
    "real_site_heal",         //
    "real_agent_kill",        // SIGKILL `agent`, or the freshest never-killed agent of `site`
    "real_agent_start",       // start `agent`, or the killed agents of `site`, again
    // A cluster's (`collector`: which one; docs/scenarios.md, "Cluster scenarios"):
    "collector_stop",    // SIGTERM: it hands its shards over and stops (collector_start again)
    "collector_add",     // a new collector joins the cluster
    "collector_remove",  // SIGTERM, for good: the others take its shards
    "pg_restart",        // pg_ctl restart -m fast
    "pg_stop",           // pg_ctl stop -m fast: the database is down
    "pg_start",          //
    "db_cut",            // `collector` loses PostgreSQL (connections dropped, new ones refused)
    "db_heal",           //
};

// What only a cluster does, and what only one collector on its own SQLite file does.
const std::set<std::string> kClusterActions = {
    "collector_stop", "collector_add", "collector_remove", "pg_restart",
    "pg_stop",        "pg_start",      "db_cut",           "db_heal"};
const std::set<std::string> kSingleCollectorActions = {"collector_restart_tls", "cpu_starve_start",
                                                       "cpu_starve_stop", "store_full_start",
                                                       "store_full_stop"};

// Actions on one collector of a cluster, named by `collector`.
bool namesCollector(const std::string& action) {
  return action.rfind("collector_", 0) == 0 || action.rfind("db_", 0) == 0;
}

// "office-K" naming one of `offices`.
bool isOffice(const Offices& offices, const std::string& label) {
  for (uint32_t k = 0; k < offices.sites; ++k) {
    if (label == "office-" + std::to_string(k)) return true;
  }
  return false;
}

// "office-K/J" naming one of the offices' agents.
bool isOfficeAgent(const Offices& offices, const std::string& name) {
  const size_t slash = name.find('/');
  if (slash == std::string::npos || !isOffice(offices, name.substr(0, slash))) return false;
  for (uint32_t j = 0; j < offices.agents_per_site; ++j) {
    if (name.substr(slash + 1) == std::to_string(j)) return true;
  }
  return false;
}

Status fieldError(const std::string& what) { return Status::invalidArgument("scenario: " + what); }

// The fields of a step on the offices (real_site_*, real_agent_*) name what exists and fit
// together.
Status checkOfficeStep(const Offices& offices, const FaultStep& f) {
  if (f.action.rfind("real_site_", 0) == 0 && !isOffice(offices, f.site)) {
    return fieldError(f.action + ": site must name an office (office-0 ...)");
  }
  if (f.action.rfind("real_agent_", 0) == 0 &&
      (f.agent.empty() ? !isOffice(offices, f.site)
                       : !f.site.empty() || !isOfficeAgent(offices, f.agent))) {
    return fieldError(f.action + ": agent (office-0/0 ...) or site (office-0 ...), not both");
  }
  if (f.action != "real_site_await_phase") return Status::okStatus();
  auto below = [&](const std::optional<double>& v) {
    return !v || (*v >= 0 && *v < f.oldest_at_least);
  };
  const bool fresh_named = !f.fresh_agent.empty() || !f.fresh_site.empty();
  const bool fresh_ok = f.fresh_agent.empty()
                            ? f.fresh_site.empty() || isOffice(offices, f.fresh_site)
                            : f.fresh_site.empty() && isOfficeAgent(offices, f.fresh_agent);
  if (f.oldest_at_least <= 0 || f.oldest_at_least > 2 || !below(f.others_at_most) ||
      !below(f.fresh_at_most) || fresh_named != f.fresh_at_most.has_value() || !fresh_ok) {
    return fieldError(f.action +
                      ": 0 < oldest_at_least <= 2 intervals, others_at_most and fresh_at_most "
                      "below it, fresh_at_most with one of fresh_agent (an office agent) or "
                      "fresh_site (an office)");
  }
  return Status::okStatus();
}

// A cluster's steps name collectors it has at that point of the timeline (collector_add adds
// the next one), and a single collector's steps are those it can take.
Status checkClusterSteps(Scenario& s) {
  if (s.cluster.collectors == 0) {
    for (const FaultStep& f : s.timeline) {
      if (kClusterActions.count(f.action) || f.collector != 0) {
        return fieldError(f.action + ": a step of a cluster (\"cluster\": {\"collectors\": N})");
      }
    }
    return Status::okStatus();
  }
  if (s.tls || s.offices.sites > 0) {
    return fieldError("a cluster runs over plain HTTP behind HAProxy, without offices");
  }
  uint32_t slots = s.cluster.collectors;
  for (const FaultStep& f : s.timeline) {
    if (kSingleCollectorActions.count(f.action)) {
      return fieldError(f.action + ": a step of a single collector, not of a cluster");
    }
    if (f.action == "collector_add") {
      ++slots;
    } else if (namesCollector(f.action) &&
               (f.collector > static_cast<int>(slots) || f.collector < kBusiest)) {
      return fieldError(f.action + ": collector must be 1.." + std::to_string(slots) +
                        " or \"busiest\" at that point of the timeline");
    }
  }
  s.cluster.added = slots - s.cluster.collectors;
  return Status::okStatus();
}

}  // namespace

Result<Scenario> parseScenario(const std::string& json_text) {
  json::JsonPtr root = json::parse(json_text);
  if (!root || !cJSON_IsObject(root.get())) return fieldError("not a JSON object");
  Scenario s;
  auto str = [&](const cJSON* obj, const char* key, std::string& out) {
    const cJSON* v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (cJSON_IsString(v)) out = v->valuestring;
  };
  auto num = [&](const cJSON* obj, const char* key, auto& out) {
    const cJSON* v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (cJSON_IsNumber(v)) out = static_cast<std::decay_t<decltype(out)>>(v->valuedouble);
  };
  auto flag = [&](const cJSON* obj, const char* key, bool& out) {
    const cJSON* v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (cJSON_IsBool(v)) out = cJSON_IsTrue(v);
  };
  str(root.get(), "name", s.name);
  str(root.get(), "replays", s.replays);
  if (s.name.empty()) return fieldError("name is required");
  const cJSON* fleet = cJSON_GetObjectItemCaseSensitive(root.get(), "fleet");
  if (!cJSON_IsObject(fleet)) return fieldError("fleet is required");
  num(fleet, "agents", s.agents);
  num(fleet, "sites", s.sites);
  num(fleet, "real_agents", s.real_agents);
  num(fleet, "interval_s", s.interval_s);
  num(fleet, "beacon_interval_s", s.beacon_interval_s);
  num(fleet, "background_deaths", s.background_deaths);
  num(fleet, "heartbeat_budget_per_agent_hour", s.heartbeat_budget_per_agent_hour);
  num(root.get(), "detect_within_beacon_intervals", s.detect_within_beacon_intervals);
  flag(fleet, "tls", s.tls);
  flag(fleet, "boots_at_start", s.fleet_boots_at_start);
  num(root.get(), "duration_s", s.duration_s);
  const cJSON* surge = cJSON_GetObjectItemCaseSensitive(root.get(), "surge");
  if (surge && !cJSON_IsObject(surge)) return fieldError("surge must be an object");
  if (surge) {
    s.surge.judged = true;
    num(surge, "max_refusals_per_agent", s.surge.max_refusals_per_agent);
    num(surge, "back_within_intervals", s.surge.back_within_intervals);
    if (s.surge.back_within_intervals <= 0) {
      return fieldError("surge.back_within_intervals must be positive");
    }
  }
  const cJSON* cluster = cJSON_GetObjectItemCaseSensitive(root.get(), "cluster");
  if (cluster && !cJSON_IsObject(cluster)) return fieldError("cluster must be an object");
  if (cluster) {
    num(cluster, "collectors", s.cluster.collectors);
    if (s.cluster.collectors < 2 || s.cluster.collectors > 8) {
      return fieldError("cluster.collectors must be within 2..8");
    }
  }
  const cJSON* offices = cJSON_GetObjectItemCaseSensitive(root.get(), "offices");
  if (offices && !cJSON_IsObject(offices)) return fieldError("offices must be an object");
  if (offices) {
    num(offices, "sites", s.offices.sites);
    num(offices, "agents_per_site", s.offices.agents_per_site);
    const cJSON* offsets = cJSON_GetObjectItemCaseSensitive(offices, "start_offsets_s");
    for (const cJSON* o = cJSON_IsArray(offsets) ? offsets->child : nullptr; o; o = o->next) {
      s.offices.start_offsets_s.push_back(cJSON_IsNumber(o) ? o->valuedouble : -1);
    }
    const bool offsets_ok =
        (!offsets || cJSON_IsArray(offsets)) &&
        s.offices.start_offsets_s.size() <= s.offices.agents_per_site &&
        std::all_of(s.offices.start_offsets_s.begin(), s.offices.start_offsets_s.end(),
                    [](double o) { return o >= 0 && o <= 600; });
    if (s.offices.sites < 1 || s.offices.sites > 250 || s.offices.agents_per_site < 1 ||
        s.offices.agents_per_site > 240 || !offsets_ok) {
      return fieldError(
          "offices: sites 1..250, agents_per_site 1..240, start_offsets_s at most one number "
          "(0..600 s) per agent");
    }
  }
  const bool simulated_fleet = s.agents > 0;
  if ((simulated_fleet || s.offices.sites == 0) &&
      (s.agents == 0 || s.sites == 0 || s.sites > s.agents)) {
    return fieldError("fleet.agents and fleet.sites must be positive, sites <= agents");
  }
  if (!simulated_fleet && s.real_agents > 0) {
    return fieldError("fleet.real_agents join the simulated fleet's site-0: it needs agents");
  }
  if (s.interval_s < 1 || s.beacon_interval_s < 1 || s.duration_s <= 0) {
    return fieldError("intervals and duration_s must be positive");
  }
  if (s.background_deaths < 0 || s.background_deaths > 0.5) {
    return fieldError("fleet.background_deaths must be within 0..0.5");
  }
  const cJSON* defines = cJSON_GetObjectItemCaseSensitive(root.get(), "collector");
  if (cJSON_IsObject(defines)) {
    for (const cJSON* d = defines->child; d; d = d->next) {
      if (!cJSON_IsString(d))
        return fieldError("collector." + std::string(d->string) + " must be a string");
      s.collector_defines[d->string] = d->valuestring;
    }
  }
  const cJSON* scaled = cJSON_GetObjectItemCaseSensitive(root.get(), "collector_scaled");
  if (cJSON_IsObject(scaled)) {
    for (const cJSON* d = scaled->child; d; d = d->next) {
      if (!cJSON_IsNumber(d) || d->valuedouble < 0) {
        return fieldError("collector_scaled." + std::string(d->string) +
                          " must be a number of seconds");
      }
      s.collector_scaled_s[d->string] = d->valuedouble;
    }
  }
  const cJSON* timeline = cJSON_GetObjectItemCaseSensitive(root.get(), "timeline");
  if (timeline && !cJSON_IsArray(timeline)) return fieldError("timeline must be an array");
  for (const cJSON* step = timeline ? timeline->child : nullptr; step; step = step->next) {
    FaultStep f;
    num(step, "at_s", f.at_s);
    str(step, "action", f.action);
    str(step, "site", f.site);
    str(step, "agent", f.agent);
    str(step, "channel", f.channel);
    num(step, "oldest_at_least", f.oldest_at_least);
    str(step, "fresh_agent", f.fresh_agent);
    str(step, "fresh_site", f.fresh_site);
    auto optional = [&](const char* key, std::optional<double>& out) {
      const cJSON* v = cJSON_GetObjectItemCaseSensitive(step, key);
      if (cJSON_IsNumber(v)) out = v->valuedouble;
    };
    optional("others_at_most", f.others_at_most);
    optional("fresh_at_most", f.fresh_at_most);
    num(step, "share", f.share);
    num(step, "seconds", f.seconds);
    const cJSON* collector = cJSON_GetObjectItemCaseSensitive(step, "collector");
    if (cJSON_IsNumber(collector) && collector->valuedouble >= 1) {
      f.collector = static_cast<int>(collector->valuedouble);
    } else if (cJSON_IsString(collector) && std::string(collector->valuestring) == "busiest") {
      f.collector = kBusiest;
    } else if (collector) {
      return fieldError(f.action + ": collector is a number from 1, or \"busiest\"");
    }
    if (!kActions.count(f.action)) return fieldError("unknown action \"" + f.action + "\"");
    if (f.at_s < 0 || f.at_s > s.duration_s)
      return fieldError(f.action + ": at_s outside 0..duration_s");
    if (f.action.rfind("channel_", 0) == 0 && f.channel != "heartbeat" && f.channel != "beacon") {
      return fieldError(f.action + ": channel must be heartbeat or beacon");
    }
    if (f.action == "channel_block" && (f.share <= 0 || f.share > 1)) {
      return fieldError("channel_block: share must be within (0, 1]");
    }
    if (f.action.rfind("site_partition", 0) == 0 && f.site.empty()) {
      return fieldError(f.action + ": site is required");
    }
    if (Status office = checkOfficeStep(s.offices, f); !office.ok()) return office;
    s.timeline.push_back(f);
  }
  std::stable_sort(s.timeline.begin(), s.timeline.end(),
                   [](const FaultStep& a, const FaultStep& b) { return a.at_s < b.at_s; });
  if (Status steps = checkClusterSteps(s); !steps.ok()) return steps;
  return s;
}

Result<Scenario> loadScenario(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::notFound("cannot read scenario file " + path);
  std::ostringstream text;
  text << in.rdbuf();
  return parseScenario(text.str());
}

}  // namespace vigil::fleetsim
