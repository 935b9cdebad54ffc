#include "collector/admin/agent_query.h"

#include <map>
#include <numeric>
#include <utility>

#include "collector/core/shards.h"
#include "common/json.h"
#include "common/protocol.h"
#include "common/text.h"

namespace vigil::collector {
namespace {

namespace errors = protocol::errors;

}  // namespace

AgentQueryService::AgentQueryService(AgentStore& store, PresenceLogStore& log,
                                     AgentDirectory& directory, PresenceMonitor& presence,
                                     HealthSources sources)
    : store_(store), log_(log), directory_(directory), presence_(presence), sources_(sources) {}

namespace {

std::optional<int64_t> millis(const std::optional<WallTime>& t) {
  if (!t) return std::nullopt;
  return toUnixMillis(*t);
}

// Names of the degradation reasons in `mask`, as a JSON array.
void addReasonArray(cJSON* obj, const char* name, uint32_t mask) {
  cJSON* arr = cJSON_AddArrayToObject(obj, name);
  for (presence::DegradationReason reason : presence::degradationReasonsIn(mask)) {
    cJSON_AddItemToArray(arr, cJSON_CreateString(presence::degradationReasonName(reason)));
  }
}

void addNullIfEmpty(cJSON* obj, const char* name, const std::string& value) {
  if (value.empty()) {
    cJSON_AddNullToObject(obj, name);
  } else {
    out::string(obj, name, value);
  }
}

// What the agent reports about its endpoint; a fact never reported is null.
void addFacts(cJSON* o, const AgentRecord& agent) {
  cJSON* facts = cJSON_AddObjectToObject(o, "facts");
  addNullIfEmpty(facts, "hostname", agent.hostname);
  addNullIfEmpty(facts, "os_name", agent.os_name);
  addNullIfEmpty(facts, "os_version", agent.os_version);
  addNullIfEmpty(facts, "arch", agent.arch);
  addNullIfEmpty(facts, "agent_version", agent.agent_version);
  addNullIfEmpty(facts, "config_hash", agent.config_hash);
  if (!agent.net) {
    cJSON_AddNullToObject(facts, "net");
    return;
  }
  cJSON* net = cJSON_AddObjectToObject(facts, "net");
  out::boolean(net, "default_route", agent.net->default_route);
  cJSON* addresses = cJSON_AddArrayToObject(net, "addresses");
  for (const std::string& a : agent.net->addresses) {
    cJSON_AddItemToArray(addresses, cJSON_CreateString(a.c_str()));
  }
}

// Status, reason and evidence of one agent, from the presence engine.
void addPresence(cJSON* o, const std::optional<presence::AgentView>& view, uint32_t degraded_mask) {
  if (!view) {  // retired agents are not tracked
    out::string(o, "status", "UNKNOWN");
    out::string(o, "status_reason", "not_tracked");
    out::string(o, "status_text", "the agent is retired and no longer tracked");
    cJSON_AddNullToObject(o, "status_since");
    return;
  }
  out::string(o, "status", presence::statusName(view->status));
  out::string(o, "status_reason", presence::reasonName(view->reason));
  out::string(o, "status_text", presence::reasonText(view->reason));
  out::optionalTime(o, "status_since", toUnixMillis(view->since));
  out::boolean(o, "alert_open", view->alert_open);
  out::boolean(o, "flapping", view->flapping);
  out::boolean(o, "held", view->held);
  // A held verdict names the collector's own fault that holds it.
  addReasonArray(o, "held_by", view->held ? degraded_mask : 0u);
  cJSON* evidence = cJSON_AddObjectToObject(o, "evidence");
  for (size_t i = 0; i < presence::kIndicatorCount; ++i) {
    const presence::IndicatorView& ind = view->indicators[i];
    cJSON* e = cJSON_AddObjectToObject(
        evidence, presence::indicatorName(static_cast<presence::Indicator>(i)));
    out::optionalTime(e, "last_seen_at", millis(ind.last_seen));
    out::integer(e, "expected_interval_s",
                 std::chrono::duration_cast<std::chrono::seconds>(ind.expected_interval).count());
    out::optionalTime(e, "late_after", millis(ind.late_after));
  }
}

json::JsonPtr agentObject(AgentRecord agent, const std::optional<AgentLiveState>& live,
                          const std::optional<presence::AgentView>& view, uint32_t degraded_mask) {
  if (live) {
    agent.last_seen_at_ms = live->last_seen_at_ms;
    agent.last_seq = live->last_seq;
    agent.uptime_s = live->uptime_s;
    // Values the writer has not stored yet are newer than the record's.
    auto newer = [](const auto& value, auto* field) {
      if (value) *field = *value;
    };
    newer(live->boot_id, &agent.boot_id);
    newer(live->agent_version, &agent.agent_version);
    newer(live->hostname, &agent.hostname);
    newer(live->os_name, &agent.os_name);
    newer(live->os_version, &agent.os_version);
    newer(live->config_hash, &agent.config_hash);
    newer(live->net, &agent.net);
    if (live->last_shutdown_reason) {
      agent.last_shutdown_reason = *live->last_shutdown_reason;
      agent.last_shutdown_at_ms = live->last_shutdown_at_ms;
    }
  }
  json::JsonPtr obj(cJSON_CreateObject());
  cJSON* o = obj.get();
  out::string(o, "id", agent.id);
  out::integer(o, "tenant_id", agent.tenant_id);
  out::integer(o, "site_id", agent.site_id);
  out::string(o, "hostname", agent.hostname);
  out::string(o, "class", agentClassName(agent.agent_class));
  out::string(o, "os_name", agent.os_name);
  out::string(o, "os_version", agent.os_version);
  out::string(o, "arch", agent.arch);
  out::string(o, "agent_version", agent.agent_version);
  out::string(o, "boot_id", agent.boot_id);
  out::integer(o, "uptime_s", agent.uptime_s);
  out::integer(o, "last_seq", agent.last_seq);
  out::string(o, "enrolled_at", formatRfc3339Utc(agent.enrolled_at_ms));
  out::optionalTime(o, "last_seen_at", agent.last_seen_at_ms);
  out::optionalTime(o, "retired_at", agent.retired_at_ms);
  addNullIfEmpty(o, "last_shutdown_reason", agent.last_shutdown_reason);
  out::optionalTime(o, "last_shutdown_at", agent.last_shutdown_at_ms);
  addFacts(o, agent);
  addPresence(o, view, degraded_mask);
  return obj;
}

// Status and reason of an agent another collector of the cluster judges: its latest stored
// verdict (`latest`), or UNKNOWN when it has none yet. Replaces what addPresence() wrote.
void addVerdictOfOwner(cJSON* o, const StatusChangeRecord* latest) {
  const char* status = latest ? latest->to_status.c_str() : "UNKNOWN";
  const char* reason = latest ? latest->reason.c_str() : "no_verdict_yet";
  cJSON_ReplaceItemInObject(o, "status", cJSON_CreateString(status));
  cJSON_ReplaceItemInObject(o, "status_reason", cJSON_CreateString(reason));
  cJSON_ReplaceItemInObject(
      o, "status_text",
      cJSON_CreateString(latest ? "judged by another collector of the cluster (its latest verdict)"
                                : "judged by another collector of the cluster, which has not "
                                  "recorded a verdict yet"));
  cJSON_DeleteItemFromObject(o, "status_since");
  if (latest) {
    out::time(o, "status_since", latest->at_ms);
  } else {
    cJSON_AddNullToObject(o, "status_since");
  }
}

}  // namespace

namespace {

// "ONLINE,OFFLINE" -> the statuses, or 400 naming the first unknown one.
ApiResult<std::vector<presence::AgentStatus>> parseStatuses(const std::string& text) {
  std::vector<presence::AgentStatus> statuses;
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find(',', start);
    if (end == std::string::npos) end = text.size();
    const std::string name = text.substr(start, end - start);
    const std::optional<presence::AgentStatus> status = presence::statusFromName(name);
    if (!status) {
      return invalidField("status", "unknown status '" + name.substr(0, 32) +
                                        "'; use UNKNOWN, ONLINE, SUSPECT, UNREACHABLE, OFFLINE, "
                                        "MAINTENANCE or SHUTDOWN, comma-separated");
    }
    statuses.push_back(*status);
    start = end + 1;
  }
  return statuses;
}

// The status an agent is listed with; retired agents are not tracked by the engine.
std::optional<presence::AgentStatus> listedStatus(const std::optional<presence::AgentView>& view) {
  if (!view) return std::nullopt;
  return view->status;
}

// One status change as the API shows it.
cJSON* historyItem(const StatusChangeRecord& c) {
  cJSON* h = cJSON_CreateObject();
  out::integer(h, "id", c.id);
  out::time(h, "at", c.at_ms);
  out::string(h, "from", c.from_status);
  out::string(h, "to", c.to_status);
  out::string(h, "reason", c.reason);
  out::commaList(h, "collector_degraded_by", c.degradation_reasons);
  return h;
}

// One change of the collector's health as the API shows it.
cJSON* healthItem(const HealthRecord& h) {
  cJSON* item = cJSON_CreateObject();
  out::integer(item, "id", h.id);
  out::time(item, "at", h.at_ms);
  out::string(item, "status", h.degraded ? "degraded" : "healthy");
  out::commaList(item, "reasons", h.reasons);
  return item;
}

}  // namespace

void AgentQueryService::registerRoutes(AdminRouteTable& table) {
  table.add("GET", "/api/v1/agents", AdminRole::kReadOnly,
            [this](const AdminRequest& r) { return listAgents(r); });
  table.add("GET", "/api/v1/agents/{agent_id}", AdminRole::kReadOnly,
            [this](const AdminRequest& r) { return getAgent(r); });
  table.add("DELETE", "/api/v1/agents/{agent_id}", AdminRole::kAdmin,
            [this](const AdminRequest& r) { return deleteAgent(r); });
  table.add("GET", "/api/v1/agents/{agent_id}/history", AdminRole::kReadOnly,
            [this](const AdminRequest& r) { return agentHistory(r); });
  table.add("POST", "/api/v1/agents/{agent_id}/retire", AdminRole::kAdmin,
            [this](const AdminRequest& r) { return retireAgent(r); });
  table.add("GET", "/api/v1/health", AdminRole::kReadOnly,
            [this](const AdminRequest& r) { return health(r); });
  table.add("GET", "/api/v1/health/history", AdminRole::kReadOnly,
            [this](const AdminRequest& r) { return healthHistory(r); });
}

void AgentQueryService::addSummary(cJSON* summary, std::optional<int64_t> tenant_id,
                                   std::optional<int64_t> site_id) const {
  presence::StatusCounts counts{};
  if (presence_.tracksEveryShard() ||
      (site_id && *site_id >= 0 && presence_.ownsShard(shardOfSite(*site_id)))) {
    counts = presence_.statusCounts(tenant_id, site_id);
  } else {
    // A cluster: other collectors judge some of these agents; every collector counts the
    // latest verdicts in the store alike.
    auto stored = log_.countLatestStatuses(tenant_id, site_id);
    if (!stored.ok()) {
      cJSON_AddNullToObject(summary, "agents");
      cJSON_AddNullToObject(summary, "by_status");
    } else {
      for (const auto& [name, n] : stored.value()) {
        const std::optional<presence::AgentStatus> status = presence::statusFromName(name);
        counts[static_cast<size_t>(status.value_or(presence::AgentStatus::kUnknown))] += n;
      }
    }
  }
  if (!cJSON_HasObjectItem(summary, "agents")) {
    out::integer(summary, "agents", std::accumulate(counts.begin(), counts.end(), int64_t{0}));
    cJSON* by_status = cJSON_AddObjectToObject(summary, "by_status");
    for (size_t i = 0; i < counts.size(); ++i) {
      out::integer(by_status, presence::statusName(static_cast<presence::AgentStatus>(i)),
                   static_cast<int64_t>(counts[i]));
    }
  }
  AlertFilter filter;
  filter.scope = TenantScope::everything();
  filter.tenant_id = tenant_id;
  filter.site_id = site_id;
  filter.states = {"open"};
  // Counted up to a bound: a summary is a glance, the alert list is the reference.
  constexpr size_t kCountBound = 10'000;
  auto open = log_.countAlerts(filter, kCountBound);
  if (open.ok()) {
    out::integer(summary, "open_alerts", static_cast<int64_t>(open.value()));
  } else {
    cJSON_AddNullToObject(summary, "open_alerts");
  }
}

ApiResult<AgentRecord> AgentQueryService::findVisibleAgent(const AdminRequest& request) {
  const std::string& id = request.pathParam("agent_id");
  if (id.empty() || id.size() > protocol::kMaxStringBytes) return notFound("agent");
  auto found = store_.findAgent(id);
  if (!found.ok()) return storeFailure(found.error());
  if (!found.value() || !request.principal.scope.allows(found.value()->tenant_id)) {
    return notFound("agent");
  }
  return std::move(*found.value());
}

namespace {

// The agent listing's cursor key: the last agent's id in id order (as before orders existed),
// and "+SEEN/ID" or "-SEEN/ID" in last-seen order (oldest or newest first). Agent ids have no
// '/' and never start with '+' or '-'.
std::string agentCursorKey(const AgentPageKey& key) {
  if (key.order == AgentOrder::kId) return key.id;
  return std::string(key.order == AgentOrder::kLastSeenOldestFirst ? "+" : "-") +
         std::to_string(key.last_seen_ms.value_or(AgentPageKey::kNeverSeen)) + "/" + key.id;
}

// Where the page starts, from the cursor's key; a cursor of another order is not this
// listing's.
ApiResult<AgentPageKey> agentPageKey(AgentOrder order, const std::optional<std::string>& key) {
  AgentPageKey start;
  start.order = order;
  if (!key) return start;
  const ApiError bad = badRequest(errors::kInvalidCursor,
                                  "cursor: not a cursor of this listing (or of another sort); use "
                                  "next_cursor as given, with the same sort");
  const char sign = key->front();
  if (order == AgentOrder::kId) {
    if (sign == '+' || sign == '-' || key->find('/') != std::string::npos) return bad;
    start.id = *key;
    return start;
  }
  if (sign != (order == AgentOrder::kLastSeenOldestFirst ? '+' : '-')) return bad;
  const size_t slash = key->find('/');
  if (slash == std::string::npos || slash + 1 == key->size()) return bad;
  const std::string seen = key->substr(1, slash - 1);
  if (seen == std::to_string(AgentPageKey::kNeverSeen)) {
    start.last_seen_ms = AgentPageKey::kNeverSeen;
  } else {
    std::optional<int64_t> ms = parsePositiveId(seen);
    if (!ms) return bad;
    start.last_seen_ms = *ms;
  }
  start.id = key->substr(slash + 1);
  return start;
}

}  // namespace

ApiResult<AdminAnswer> AgentQueryService::listAgents(const AdminRequest& request) {
  auto limit = parseLimit(request);
  if (!limit.ok()) return limit.error();
  auto cursor = cursorKey(request);
  if (!cursor.ok()) return cursor.error();
  AgentFilter filter;
  filter.scope = request.principal.scope;
  auto tenant = idQueryParam(request, "tenant_id");
  if (!tenant.ok()) return tenant.error();
  auto site = idQueryParam(request, "site_id");
  if (!site.ok()) return site.error();
  filter.tenant_id = tenant.value();
  filter.site_id = site.value();
  if (auto q = request.queryParam("q")) {
    if (q->size() > 200) return invalidField("q", "must be at most 200 bytes");
    filter.text = *q;
  }
  if (auto retired = request.queryParam("include_retired")) {
    if (*retired != "true" && *retired != "false") {
      return invalidField("include_retired", "must be true or false");
    }
    filter.include_retired = *retired == "true";
  }
  std::optional<std::vector<presence::AgentStatus>> statuses;
  if (auto text = request.queryParam("status")) {
    auto parsed = parseStatuses(*text);
    if (!parsed.ok()) return parsed.error();
    statuses = std::move(parsed.value());
  }
  AgentOrder order = AgentOrder::kId;
  if (auto sort = request.queryParam("sort")) {
    if (*sort == "last_seen") {
      order = AgentOrder::kLastSeenOldestFirst;
    } else if (*sort == "-last_seen") {
      order = AgentOrder::kLastSeenNewestFirst;
    } else if (*sort != "id") {
      return invalidField("sort", "must be id, last_seen or -last_seen");
    }
  }
  auto start = agentPageKey(order, cursor.value());
  if (!start.ok()) return start.error();

  // Reads store pages until the page is full (one more row than asked tells whether another
  // page exists); the status filter applies to the engine's live verdicts.
  const size_t page_size = limit.value();
  const size_t batch = std::max<size_t>(page_size + 1, 500);
  AgentPageKey after = start.value();
  const uint32_t degraded_mask = presence_.health().reasons_mask;
  std::vector<json::JsonPtr> items;
  AgentPageKey last = after;
  bool more = false;
  const bool clustered = !presence_.tracksEveryShard();
  while (!more) {
    auto rows = store_.listAgentsPage(filter, after, batch);
    if (!rows.ok()) return storeFailure(rows.error());
    std::vector<std::optional<presence::AgentView>> views;
    views.reserve(rows.value().size());
    std::vector<std::string> judged_elsewhere;
    for (const AgentRecord& agent : rows.value()) {
      views.push_back(presence_.agentView(agent.id));
      if (clustered && !views.back() && !agent.retired_at_ms) judged_elsewhere.push_back(agent.id);
    }
    // A cluster: the latest verdicts of the agents other collectors judge, in one read.
    std::map<std::string, StatusChangeRecord> verdicts;
    if (!judged_elsewhere.empty()) {
      auto latest = log_.latestStatusChanges(judged_elsewhere);
      if (!latest.ok()) return storeFailure(latest.error());
      for (StatusChangeRecord& c : latest.value()) verdicts[c.agent_id] = std::move(c);
    }
    for (size_t i = 0; i < rows.value().size(); ++i) {
      AgentRecord& agent = rows.value()[i];
      after.id = agent.id;
      after.last_seen_ms = agent.last_seen_at_ms.value_or(AgentPageKey::kNeverSeen);
      const std::optional<presence::AgentView>& view = views[i];
      const bool elsewhere = clustered && !view && !agent.retired_at_ms;
      auto verdict = verdicts.find(agent.id);
      const StatusChangeRecord* latest = verdict == verdicts.end() ? nullptr : &verdict->second;
      if (statuses) {
        std::optional<presence::AgentStatus> status = listedStatus(view);
        if (elsewhere) {
          status = latest ? presence::statusFromName(latest->to_status)
                          : std::optional(presence::AgentStatus::kUnknown);
        }
        if (!status || std::find(statuses->begin(), statuses->end(), *status) == statuses->end()) {
          continue;
        }
      }
      if (items.size() == page_size) {
        more = true;
        break;
      }
      last = after;
      auto live = directory_.liveState(agent.id);
      items.push_back(agentObject(std::move(agent), live, view, degraded_mask));
      if (elsewhere) addVerdictOfOwner(items.back().get(), latest);
    }
    if (rows.value().size() < batch) break;
  }
  cJSON* array = cJSON_CreateArray();
  for (json::JsonPtr& item : items) cJSON_AddItemToArray(array, item.release());
  return AdminAnswer{
      200, out::page(array, more ? std::optional<std::string>(encodeCursor(agentCursorKey(last)))
                                 : std::nullopt)};
}

ApiResult<AdminAnswer> AgentQueryService::getAgent(const AdminRequest& request) {
  auto agent = findVisibleAgent(request);
  if (!agent.ok()) return agent.error();
  const std::string agent_id = agent.value().id;
  auto history = log_.listStatusChanges(agent_id, 0, kHistoryLength);
  if (!history.ok()) return storeFailure(history.error());
  auto outages = store_.listOutageReports(agent_id, kOutagesShown);
  if (!outages.ok()) return storeFailure(outages.error());
  auto live = directory_.liveState(agent_id);
  auto view = presence_.agentView(agent_id);
  // A cluster: another collector owns the agent's shard; its latest verdict is the store's.
  const bool judged_elsewhere =
      !view && !agent.value().retired_at_ms && !presence_.tracksEveryShard();
  json::JsonPtr obj =
      agentObject(std::move(agent.value()), live, view, presence_.health().reasons_mask);
  if (judged_elsewhere) {
    addVerdictOfOwner(obj.get(), history.value().empty() ? nullptr : &history.value().front());
  }
  cJSON* arr = cJSON_AddArrayToObject(obj.get(), "history");
  for (const StatusChangeRecord& c : history.value()) cJSON_AddItemToArray(arr, historyItem(c));
  cJSON* outage_list = cJSON_AddArrayToObject(obj.get(), "outages");
  for (const OutageReport& r : outages.value()) {
    cJSON* item = cJSON_CreateObject();
    out::time(item, "from", r.from_ms);
    out::time(item, "to", r.to_ms);
    out::string(item, "cause", r.cause);
    out::time(item, "reported_at", r.reported_at_ms);
    cJSON_AddItemToArray(outage_list, item);
  }
  return out::answer(obj);
}

ApiResult<AdminAnswer> AgentQueryService::agentHistory(const AdminRequest& request) {
  auto agent = findVisibleAgent(request);
  if (!agent.ok()) return agent.error();
  auto limit = parseLimit(request);
  if (!limit.ok()) return limit.error();
  auto before = cursorId(request, 0);
  if (!before.ok()) return before.error();
  auto rows = log_.listStatusChanges(agent.value().id, before.value(), limit.value() + 1);
  if (!rows.ok()) return storeFailure(rows.error());
  std::vector<StatusChangeRecord>& changes = rows.value();
  const bool more = changes.size() > limit.value();
  if (more) changes.resize(limit.value());
  cJSON* items = cJSON_CreateArray();
  for (const StatusChangeRecord& c : changes) cJSON_AddItemToArray(items, historyItem(c));
  std::optional<std::string> next;
  if (more) next = encodeCursor(std::to_string(changes.back().id));
  return AdminAnswer{200, out::page(items, next)};
}

ApiResult<AdminAnswer> AgentQueryService::retireAgent(const AdminRequest& request) {
  auto agent = findVisibleAgent(request);
  if (!agent.ok()) return agent.error();
  const std::string agent_id = agent.value().id;
  // Refused first, then untracked, then recorded: no heartbeat can revive it in between, and
  // a crash before the store write leaves an agent an admin can retire again.
  directory_.retire(agent_id);
  changes_->forgetAgent(agent_id);
  auto retired = store_.retireAgent(agent_id, request.now_ms);
  if (!retired.ok()) return storeFailure(retired.error());
  auto found = store_.findAgent(agent_id);
  if (!found.ok()) return storeFailure(found.error());
  // Gone between the write and this read: the store lost what it had just written.
  if (!found.value())
    return storeFailure(Status::ioError("the agent just written is not in the store"));
  return out::answer(
      agentObject(std::move(*found.value()), directory_.liveState(agent_id), std::nullopt, 0));
}

ApiResult<AdminAnswer> AgentQueryService::deleteAgent(const AdminRequest& request) {
  auto agent = findVisibleAgent(request);
  if (!agent.ok()) return agent.error();
  const std::string agent_id = agent.value().id;
  directory_.retire(agent_id);
  changes_->forgetAgent(agent_id);
  auto deleted = store_.deleteAgent(agent_id);
  if (!deleted.ok()) return storeFailure(deleted.error());
  directory_.remove(agent_id);
  return AdminAnswer{204, ""};
}

ApiResult<AdminAnswer> AgentQueryService::health(const AdminRequest& /*request*/) {
  const presence::HealthView health = presence_.health();
  // Everything but the history comes from memory: it is answered even while the store cannot
  // be read (then the history is empty and history_unavailable says so), when it matters most.
  auto history = log_.listHealthHistoryPage(0, kHistoryLength);
  json::JsonPtr root(cJSON_CreateObject());
  cJSON* o = root.get();
  out::string(o, "status", health.degraded ? "degraded" : "healthy");
  out::time(o, "since", toUnixMillis(health.since));
  cJSON* reasons = cJSON_AddArrayToObject(o, "reasons");
  for (presence::DegradationReason reason : presence::degradationReasonsIn(health.reasons_mask)) {
    cJSON* r = cJSON_CreateObject();
    out::string(r, "reason", presence::degradationReasonName(reason));
    out::optionalTime(r, "since", millis(health.reason_since[static_cast<size_t>(reason)]));
    cJSON_AddItemToArray(reasons, r);
  }
  cJSON* agents = cJSON_AddObjectToObject(o, "agents");
  out::integer(agents, "total", static_cast<int64_t>(health.agents));
  cJSON* by_status = cJSON_AddObjectToObject(agents, "by_status");
  for (size_t i = 0; i < health.agents_by_status.size(); ++i) {
    out::integer(by_status, presence::statusName(static_cast<presence::AgentStatus>(i)),
                 static_cast<int64_t>(health.agents_by_status[i]));
  }
  out::integer(o, "held_alerts", static_cast<int64_t>(health.held_alerts));
  out::integer(o, "dropped_history_records", static_cast<int64_t>(presence_.droppedChanges()));
  if (sources_.beacons != nullptr) {
    const BeaconCounters counters = sources_.beacons->counters();
    cJSON* beacon = cJSON_AddObjectToObject(o, "beacon");
    out::integer(beacon, "port", sources_.beacon_port);
    out::integer(beacon, "interval_s", sources_.beacons->config().interval_s);
    out::integer(beacon, "accepted", static_cast<int64_t>(counters.accepted));
    cJSON* dropped = cJSON_AddObjectToObject(beacon, "dropped");
    for (size_t i = 0; i < kBeaconDropCount; ++i) {
      out::integer(dropped, beaconDropName(static_cast<BeaconDrop>(i)),
                   static_cast<int64_t>(counters.dropped[i]));
    }
  } else {
    cJSON_AddNullToObject(o, "beacon");
  }
  if (sources_.ingest != nullptr) {
    const IngestCounters counters = sources_.ingest->counters();
    cJSON* peers = cJSON_AddObjectToObject(o, "peer_sightings");
    out::integer(peers, "witnessed", static_cast<int64_t>(counters.peer_sightings_witnessed));
    out::integer(peers, "ignored", static_cast<int64_t>(counters.peer_sightings_ignored));
  }
  if (sources_.cadence != nullptr) {
    const LoadGovernorView view = sources_.cadence->view();
    cJSON* cadence = cJSON_AddObjectToObject(o, "cadence");
    out::integer(cadence, "stretch_level", view.level);
    out::integer(cadence, "max_stretch_level", kMaxStretchLevel);
    cJSON_AddNumberToObject(cadence, "offered_heartbeats_per_s", view.offered_per_s);
    cJSON_AddNumberToObject(cadence, "projected_heartbeats_per_s", view.projected_per_s);
    cJSON_AddNumberToObject(cadence, "budget_heartbeats_per_s", view.budget_per_s);
    out::string(cadence, "budget", view.budget_learnt ? "learnt" : "configured");
    cJSON* stretched = cJSON_AddObjectToObject(cadence, "stretch_by_group");
    for (size_t t = 0; t < kCadenceTierCount; ++t) {
      CadenceInputs probe;
      probe.base.server = t == 1 || t == 3;
      probe.fallback_working = t < 2;
      const CadencePlan plan = planCadence(probe, view.level, INT64_MAX);
      cJSON_AddNumberToObject(stretched, cadenceTierName(static_cast<CadenceTier>(t)),
                              kStretchSteps[plan.step]);
    }
  }
  cJSON* arr = cJSON_AddArrayToObject(o, "history");
  if (history.ok()) {
    for (const HealthRecord& h : history.value()) cJSON_AddItemToArray(arr, healthItem(h));
  } else {
    cJSON_AddTrueToObject(o, "history_unavailable");
  }
  return out::answer(root);
}

ApiResult<AdminAnswer> AgentQueryService::healthHistory(const AdminRequest& request) {
  auto limit = parseLimit(request);
  if (!limit.ok()) return limit.error();
  auto before = cursorId(request, 0);
  if (!before.ok()) return before.error();
  auto rows = log_.listHealthHistoryPage(before.value(), limit.value() + 1);
  if (!rows.ok()) return storeFailure(rows.error());
  std::vector<HealthRecord>& records = rows.value();
  const bool more = records.size() > limit.value();
  if (more) records.resize(limit.value());
  cJSON* items = cJSON_CreateArray();
  for (const HealthRecord& h : records) cJSON_AddItemToArray(items, healthItem(h));
  return AdminAnswer{200, out::page(items, more ? std::optional<std::string>(encodeCursor(
                                                      std::to_string(records.back().id)))
                                                : std::nullopt)};
}

}  // namespace vigil::collector
