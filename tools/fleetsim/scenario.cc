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
};

Status fieldError(const std::string& what) { return Status::invalidArgument("scenario: " + what); }

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
  flag(fleet, "tls", s.tls);
  flag(fleet, "boots_at_start", s.fleet_boots_at_start);
  num(root.get(), "duration_s", s.duration_s);
  if (s.agents == 0 || s.sites == 0 || s.sites > s.agents) {
    return fieldError("fleet.agents and fleet.sites must be positive, sites <= agents");
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
  const cJSON* timeline = cJSON_GetObjectItemCaseSensitive(root.get(), "timeline");
  if (timeline && !cJSON_IsArray(timeline)) return fieldError("timeline must be an array");
  for (const cJSON* step = timeline ? timeline->child : nullptr; step; step = step->next) {
    FaultStep f;
    num(step, "at_s", f.at_s);
    str(step, "action", f.action);
    str(step, "site", f.site);
    str(step, "channel", f.channel);
    num(step, "share", f.share);
    num(step, "seconds", f.seconds);
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
    s.timeline.push_back(f);
  }
  std::stable_sort(s.timeline.begin(), s.timeline.end(),
                   [](const FaultStep& a, const FaultStep& b) { return a.at_s < b.at_s; });
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
