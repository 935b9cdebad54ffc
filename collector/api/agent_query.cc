#include "collector/api/agent_query.h"

#include <Poco/DateTimeFormatter.h>
#include <Poco/Timestamp.h>

#include <utility>

#include "collector/presence/agent_status.h"
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
void addInt(cJSON* obj, const char* name, int64_t value) {
  cJSON_AddNumberToObject(obj, name, static_cast<double>(value));
}
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
                                     const Clock& clock, std::chrono::seconds offline_after)
    : store_(store), directory_(directory), clock_(clock), offline_after_(offline_after) {}

namespace {

json::JsonPtr agentObject(AgentRecord agent, const std::optional<AgentLiveState>& live,
                          WallTime now, std::chrono::seconds offline_after) {
  if (live) {
    agent.last_seen_at_ms = live->last_seen_at_ms;
    agent.last_seq = live->last_seq;
    agent.boot_id = live->boot_id;
    agent.uptime_s = live->uptime_s;
    agent.agent_version = live->agent_version;
    agent.hostname = live->hostname;
  }
  std::optional<WallTime> last_seen;
  if (agent.last_seen_at_ms) last_seen = fromUnixMillis(*agent.last_seen_at_ms);
  const StatusVerdict verdict = evaluateTimeoutStatus(last_seen, now, offline_after);

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
  addString(o, "status", agentStatusName(verdict.status));
  addString(o, "status_reason", verdict.reason);
  std::optional<int64_t> since;
  if (verdict.since) since = toUnixMillis(*verdict.since);
  addOptionalTime(o, "status_since", since);
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

  const WallTime now = clock_.wallNow();
  json::JsonPtr root(cJSON_CreateObject());
  cJSON* items = cJSON_AddArrayToObject(root.get(), "items");
  for (AgentRecord& agent : agents) {
    auto live = directory_.liveState(agent.id);
    cJSON_AddItemToArray(items, agentObject(std::move(agent), live, now, offline_after_).release());
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
  auto live = directory_.liveState(agent_id);
  return json::print(
      agentObject(std::move(*found.value()), live, clock_.wallNow(), offline_after_).get());
}

}  // namespace vigil::collector
