#include "collector/api/agent_query.h"

#include <Poco/DateTimeFormatter.h>
#include <Poco/Timestamp.h>

#include <utility>

#include "common/json.h"
#include "common/protocol.h"

namespace vigil::collector {
namespace {

namespace errors = protocol::errors;

ApiError badParameter(const std::string& message) {
  return ApiError{400, errors::kInvalidField, message, std::nullopt};
}

ApiError internalError() {
  return ApiError{500, errors::kInternal, "the collector failed to read its store", std::nullopt};
}

void addString(cJSON* obj, const char* name, const std::string& value) {
  cJSON_AddStringToObject(obj, name, value.c_str());
}
void addInt(cJSON* obj, const char* name, int64_t value) { json::addInteger(obj, name, value); }
void addOptionalTime(cJSON* obj, const char* name, const std::optional<int64_t>& unix_ms) {
  if (unix_ms) {
    addString(obj, name, formatRfc3339Utc(*unix_ms));
  } else {
    cJSON_AddNullToObject(obj, name);
  }
}

// Parses a page size: 1 to 9 decimal digits, at least 1.
std::optional<size_t> parseLimit(const std::string& text) {
  if (text.empty() || text.size() > 9) return std::nullopt;
  size_t value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + static_cast<size_t>(c - '0');
  }
  if (value == 0) return std::nullopt;
  return value;
}

}  // namespace

std::string formatRfc3339Utc(int64_t unix_ms) {
  return Poco::DateTimeFormatter::format(Poco::Timestamp(unix_ms * 1000), "%Y-%m-%dT%H:%M:%S.%iZ");
}

AgentQueryService::AgentQueryService(Store& store, const AgentDirectory& directory,
                                     const PresenceMonitor& presence, HealthSources sources)
    : store_(store), directory_(directory), presence_(presence), sources_(sources) {}

namespace {

std::optional<int64_t> millis(const std::optional<WallTime>& t) {
  if (!t) return std::nullopt;
  return toUnixMillis(*t);
}

void addBool(cJSON* obj, const char* name, bool value) { cJSON_AddBoolToObject(obj, name, value); }

// Names of the degradation reasons in `mask`, as a JSON array.
void addReasonArray(cJSON* obj, const char* name, uint32_t mask) {
  cJSON* arr = cJSON_AddArrayToObject(obj, name);
  for (size_t i = 0; i < presence::kDegradationReasonCount; ++i) {
    if ((mask & (1u << i)) == 0) continue;
    cJSON_AddItemToArray(arr, cJSON_CreateString(presence::degradationReasonName(
                                  static_cast<presence::DegradationReason>(i))));
  }
}

void addOptionalString(cJSON* obj, const char* name, const std::string& value) {
  if (value.empty()) {
    cJSON_AddNullToObject(obj, name);
  } else {
    addString(obj, name, value);
  }
}

// What the agent reports about its endpoint; a fact never reported is null.
void addFacts(cJSON* o, const AgentRecord& agent) {
  cJSON* facts = cJSON_AddObjectToObject(o, "facts");
  addOptionalString(facts, "hostname", agent.hostname);
  addOptionalString(facts, "os_name", agent.os_name);
  addOptionalString(facts, "os_version", agent.os_version);
  addOptionalString(facts, "arch", agent.arch);
  addOptionalString(facts, "agent_version", agent.agent_version);
  addOptionalString(facts, "config_hash", agent.config_hash);
  if (!agent.net) {
    cJSON_AddNullToObject(facts, "net");
    return;
  }
  cJSON* net = cJSON_AddObjectToObject(facts, "net");
  addBool(net, "default_route", agent.net->default_route);
  cJSON* addresses = cJSON_AddArrayToObject(net, "addresses");
  for (const std::string& a : agent.net->addresses) {
    cJSON_AddItemToArray(addresses, cJSON_CreateString(a.c_str()));
  }
}

// Status, reason and evidence of one agent, from the presence engine.
void addPresence(cJSON* o, const std::optional<presence::AgentView>& view, uint32_t degraded_mask) {
  if (!view) {  // retired agents are not tracked
    addString(o, "status", "UNKNOWN");
    addString(o, "status_reason", "not_tracked");
    addString(o, "status_text", "the agent is retired and no longer tracked");
    cJSON_AddNullToObject(o, "status_since");
    return;
  }
  addString(o, "status", presence::statusName(view->status));
  addString(o, "status_reason", presence::reasonName(view->reason));
  addString(o, "status_text", presence::reasonText(view->reason));
  addOptionalTime(o, "status_since", toUnixMillis(view->since));
  addBool(o, "alert_open", view->alert_open);
  addBool(o, "flapping", view->flapping);
  addBool(o, "held", view->held);
  // A held verdict names the collector's own fault that holds it.
  addReasonArray(o, "held_by", view->held ? degraded_mask : 0u);
  cJSON* evidence = cJSON_AddObjectToObject(o, "evidence");
  for (size_t i = 0; i < presence::kIndicatorCount; ++i) {
    const presence::IndicatorView& ind = view->indicators[i];
    cJSON* e = cJSON_AddObjectToObject(
        evidence, presence::indicatorName(static_cast<presence::Indicator>(i)));
    addOptionalTime(e, "last_seen_at", millis(ind.last_seen));
    addInt(e, "expected_interval_s",
           std::chrono::duration_cast<std::chrono::seconds>(ind.expected_interval).count());
    addOptionalTime(e, "late_after", millis(ind.late_after));
  }
}

json::JsonPtr agentObject(AgentRecord agent, const std::optional<AgentLiveState>& live,
                          const std::optional<presence::AgentView>& view, uint32_t degraded_mask) {
  if (live) {
    agent.last_seen_at_ms = live->last_seen_at_ms;
    agent.last_seq = live->last_seq;
    agent.boot_id = live->boot_id;
    agent.uptime_s = live->uptime_s;
    agent.agent_version = live->agent_version;
    agent.hostname = live->hostname;
    agent.os_name = live->os_name;
    agent.os_version = live->os_version;
    agent.config_hash = live->config_hash;
    agent.net = live->net;
    agent.last_shutdown_reason = live->last_shutdown_reason;
    agent.last_shutdown_at_ms = live->last_shutdown_at_ms;
  }
  json::JsonPtr obj(cJSON_CreateObject());
  cJSON* o = obj.get();
  addString(o, "id", agent.id);
  addInt(o, "tenant_id", agent.tenant_id);
  addInt(o, "site_id", agent.site_id);
  addString(o, "hostname", agent.hostname);
  addString(o, "os_name", agent.os_name);
  addString(o, "os_version", agent.os_version);
  addString(o, "arch", agent.arch);
  addString(o, "agent_version", agent.agent_version);
  addString(o, "boot_id", agent.boot_id);
  addInt(o, "uptime_s", agent.uptime_s);
  addInt(o, "last_seq", agent.last_seq);
  addString(o, "enrolled_at", formatRfc3339Utc(agent.enrolled_at_ms));
  addOptionalTime(o, "last_seen_at", agent.last_seen_at_ms);
  addOptionalTime(o, "retired_at", agent.retired_at_ms);
  addOptionalString(o, "last_shutdown_reason", agent.last_shutdown_reason);
  addOptionalTime(o, "last_shutdown_at", agent.last_shutdown_at_ms);
  addFacts(o, agent);
  addPresence(o, view, degraded_mask);
  return obj;
}

}  // namespace

ApiResult<std::string> AgentQueryService::listAgentsJson(const std::optional<std::string>& limit,
                                                         const std::optional<std::string>& cursor) {
  size_t page_size = kDefaultPageSize;
  if (limit) {
    std::optional<size_t> parsed = parseLimit(*limit);
    if (!parsed) return badParameter("query parameter 'limit' must be a positive integer");
    page_size = std::min(*parsed, kMaxPageSize);
  }
  std::string after = cursor.value_or("");
  if (after.size() > protocol::kMaxStringBytes) {
    return badParameter("query parameter 'cursor' is not a cursor of this API");
  }

  // One row more than asked tells whether another page exists.
  auto rows = store_.listAgents(after, page_size + 1);
  if (!rows.ok()) return internalError();
  std::vector<AgentRecord>& agents = rows.value();
  const bool more = agents.size() > page_size;
  if (more) agents.resize(page_size);
  const std::string next_cursor = more ? agents.back().id : "";

  const uint32_t degraded_mask = presence_.health().reasons_mask;
  json::JsonPtr root(cJSON_CreateObject());
  cJSON* items = cJSON_AddArrayToObject(root.get(), "items");
  for (AgentRecord& agent : agents) {
    auto live = directory_.liveState(agent.id);
    auto view = presence_.agentView(agent.id);
    cJSON_AddItemToArray(items, agentObject(std::move(agent), live, view, degraded_mask).release());
  }
  if (more) {
    addString(root.get(), "next_cursor", next_cursor);
  } else {
    cJSON_AddNullToObject(root.get(), "next_cursor");
  }
  return json::print(root.get());
}

ApiResult<std::string> AgentQueryService::agentJson(const std::string& agent_id) {
  auto found = store_.findAgent(agent_id);
  if (!found.ok()) return internalError();
  if (!found.value()) {
    return ApiError{404, errors::kNotFound, "no agent with this id", std::nullopt};
  }
  auto history = store_.listStatusChanges(agent_id, kHistoryLength);
  if (!history.ok()) return internalError();
  auto outages = store_.listOutageReports(agent_id, kOutagesShown);
  if (!outages.ok()) return internalError();
  auto live = directory_.liveState(agent_id);
  auto view = presence_.agentView(agent_id);
  json::JsonPtr obj =
      agentObject(std::move(*found.value()), live, view, presence_.health().reasons_mask);
  cJSON* arr = cJSON_AddArrayToObject(obj.get(), "history");
  for (const StatusChangeRecord& c : history.value()) {
    cJSON* h = cJSON_CreateObject();
    addString(h, "at", formatRfc3339Utc(c.at_ms));
    addString(h, "from", c.from_status);
    addString(h, "to", c.to_status);
    addString(h, "reason", c.reason);
    cJSON* during = cJSON_AddArrayToObject(h, "collector_degraded_by");
    size_t start = 0;
    while (start < c.degradation_reasons.size()) {
      size_t end = c.degradation_reasons.find(',', start);
      if (end == std::string::npos) end = c.degradation_reasons.size();
      cJSON_AddItemToArray(
          during, cJSON_CreateString(c.degradation_reasons.substr(start, end - start).c_str()));
      start = end + 1;
    }
    cJSON_AddItemToArray(arr, h);
  }
  cJSON* outage_list = cJSON_AddArrayToObject(obj.get(), "outages");
  for (const OutageReport& r : outages.value()) {
    cJSON* item = cJSON_CreateObject();
    addString(item, "from", formatRfc3339Utc(r.from_ms));
    addString(item, "to", formatRfc3339Utc(r.to_ms));
    addString(item, "cause", r.cause);
    addString(item, "reported_at", formatRfc3339Utc(r.reported_at_ms));
    cJSON_AddItemToArray(outage_list, item);
  }
  return json::print(obj.get());
}

ApiResult<std::string> AgentQueryService::healthJson() {
  const presence::HealthView health = presence_.health();
  auto history = store_.listHealthHistory(kHistoryLength);
  if (!history.ok()) return internalError();
  json::JsonPtr root(cJSON_CreateObject());
  cJSON* o = root.get();
  addString(o, "status", health.degraded ? "degraded" : "healthy");
  addString(o, "since", formatRfc3339Utc(toUnixMillis(health.since)));
  cJSON* reasons = cJSON_AddArrayToObject(o, "reasons");
  for (size_t i = 0; i < presence::kDegradationReasonCount; ++i) {
    if ((health.reasons_mask & (1u << i)) == 0) continue;
    cJSON* r = cJSON_CreateObject();
    addString(r, "reason",
              presence::degradationReasonName(static_cast<presence::DegradationReason>(i)));
    addOptionalTime(r, "since", millis(health.reason_since[i]));
    cJSON_AddItemToArray(reasons, r);
  }
  cJSON* agents = cJSON_AddObjectToObject(o, "agents");
  addInt(agents, "total", static_cast<int64_t>(health.agents));
  cJSON* by_status = cJSON_AddObjectToObject(agents, "by_status");
  for (size_t i = 0; i < health.agents_by_status.size(); ++i) {
    addInt(by_status, presence::statusName(static_cast<presence::Status>(i)),
           static_cast<int64_t>(health.agents_by_status[i]));
  }
  addInt(o, "held_alerts", static_cast<int64_t>(health.held_alerts));
  addInt(o, "dropped_history_records", static_cast<int64_t>(presence_.droppedChanges()));
  if (sources_.beacons != nullptr) {
    const BeaconCounters counters = sources_.beacons->counters();
    cJSON* beacon = cJSON_AddObjectToObject(o, "beacon");
    addInt(beacon, "port", sources_.beacon_port);
    addInt(beacon, "interval_s", sources_.beacons->config().interval_s);
    addInt(beacon, "accepted", static_cast<int64_t>(counters.accepted));
    cJSON* dropped = cJSON_AddObjectToObject(beacon, "dropped");
    for (size_t i = 0; i < kBeaconDropCount; ++i) {
      addInt(dropped, beaconDropName(static_cast<BeaconDrop>(i)),
             static_cast<int64_t>(counters.dropped[i]));
    }
  } else {
    cJSON_AddNullToObject(o, "beacon");
  }
  if (sources_.ingest != nullptr) {
    const IngestCounters counters = sources_.ingest->counters();
    cJSON* peers = cJSON_AddObjectToObject(o, "peer_sightings");
    addInt(peers, "witnessed", static_cast<int64_t>(counters.peer_sightings_witnessed));
    addInt(peers, "ignored", static_cast<int64_t>(counters.peer_sightings_ignored));
  }
  cJSON* arr = cJSON_AddArrayToObject(o, "history");
  for (const HealthRecord& h : history.value()) {
    cJSON* item = cJSON_CreateObject();
    addString(item, "at", formatRfc3339Utc(h.at_ms));
    addString(item, "status", h.degraded ? "degraded" : "healthy");
    addString(item, "reasons", h.reasons);
    cJSON_AddItemToArray(arr, item);
  }
  return json::print(root.get());
}

}  // namespace vigil::collector
