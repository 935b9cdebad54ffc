#include "tools/fleetsim/api_reading.h"

#include <cctype>
#include <cstdio>
#include <ctime>

#include "common/time_format.h"

namespace vigil::fleetsim {

std::optional<WallTime> parseCollectorTime(const std::string& text) {
  std::tm tm{};
  int consumed = 0;
  if (std::sscanf(text.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                  &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &consumed) != 6) {
    return std::nullopt;
  }
  size_t i = static_cast<size_t>(consumed);
  int64_t ms = 0;
  if (i < text.size() && text[i] == '.') {
    int digits = 0;
    for (++i; i < text.size() && std::isdigit(static_cast<unsigned char>(text[i])); ++i) {
      if (digits++ < 3) ms = ms * 10 + (text[i] - '0');
    }
    if (digits == 0) return std::nullopt;
    for (; digits < 3; ++digits) ms *= 10;
  }
  if (text.compare(i, std::string::npos, "Z") != 0) return std::nullopt;
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  return fromUnixMillis(static_cast<int64_t>(::timegm(&tm)) * 1000 + ms);
}

std::string jsonString(const cJSON* obj, const char* key) {
  const cJSON* v = cJSON_GetObjectItemCaseSensitive(obj, key);
  return cJSON_IsString(v) ? v->valuestring : "";
}

int64_t jsonInt(const cJSON* obj, const char* key) {
  const cJSON* v = cJSON_GetObjectItemCaseSensitive(obj, key);
  return cJSON_IsNumber(v) ? static_cast<int64_t>(v->valuedouble) : 0;
}

SeenAlert alertOf(const cJSON* a) {
  SeenAlert s;
  s.id = jsonInt(a, "id");
  s.kind = jsonString(a, "kind");
  s.state = jsonString(a, "state");
  s.agent_id = jsonString(a, "agent_id");
  s.site_id = jsonInt(a, "site_id");
  if (auto t = parseCollectorTime(jsonString(a, "opened_at"))) s.opened_at = *t;
  if (auto t = parseCollectorTime(jsonString(a, "closed_at"))) s.closed_at = t;
  if (auto t = parseCollectorTime(jsonString(a, "held_since"))) s.held_since = t;
  return s;
}

std::vector<json::JsonPtr> listAll(const CollectorHttp& http, const std::string& path,
                                   std::vector<const cJSON*>& items, std::string* error) {
  std::vector<json::JsonPtr> pages;
  std::string cursor;
  for (int page = 0; page < 100000; ++page) {
    std::string url = path + (path.find('?') == std::string::npos ? "?" : "&") + "limit=1000";
    if (!cursor.empty()) url += "&cursor=" + cursor;
    HttpAnswer a = http.get(url, std::chrono::seconds(30));
    json::JsonPtr doc = json::parse(a.body);
    if (a.status != 200 || !doc) {
      if (error) *error = "GET " + url + ": " + std::to_string(a.status) + " " + a.error;
      return pages;
    }
    const cJSON* list = cJSON_GetObjectItemCaseSensitive(doc.get(), "items");
    for (const cJSON* i = list ? list->child : nullptr; i; i = i->next) items.push_back(i);
    cursor = jsonString(doc.get(), "next_cursor");
    pages.push_back(std::move(doc));
    if (cursor.empty()) break;
  }
  return pages;
}

namespace {

double jsonSeconds(const cJSON* obj, const char* key) {
  const cJSON* v = cJSON_GetObjectItemCaseSensitive(obj, key);
  return cJSON_IsNumber(v) ? v->valuedouble : 0;
}

}  // namespace

Status addAvailabilityReport(const std::string& body, AvailabilityObservations& into) {
  json::JsonPtr doc = json::parse(body);
  const cJSON* period = doc ? cJSON_GetObjectItemCaseSensitive(doc.get(), "period") : nullptr;
  const cJSON* agents = doc ? cJSON_GetObjectItemCaseSensitive(doc.get(), "agents") : nullptr;
  const cJSON* spans =
      doc ? cJSON_GetObjectItemCaseSensitive(doc.get(), "collector_degraded") : nullptr;
  const std::optional<WallTime> measured_to = parseCollectorTime(jsonString(period, "measured_to"));
  if (!measured_to || !cJSON_IsArray(agents) || !cJSON_IsArray(spans)) {
    return Status::invalidArgument(
        "not an availability report (period.measured_to, agents, collector_degraded)");
  }
  into.measured_to = std::max(into.measured_to, *measured_to);
  const cJSON* span = nullptr;
  cJSON_ArrayForEach(span, spans) {
    const auto from = parseCollectorTime(jsonString(span, "from"));
    const auto to = parseCollectorTime(jsonString(span, "to"));
    if (!from || !to) return Status::invalidArgument("a collector_degraded span without from, to");
    DegradedPeriod d{*from, *to, {}};
    const cJSON* reason = nullptr;
    cJSON_ArrayForEach(reason, cJSON_GetObjectItemCaseSensitive(span, "reasons")) {
      if (cJSON_IsString(reason)) d.reasons.emplace_back(reason->valuestring);
    }
    into.collector_degraded.push_back(std::move(d));
  }
  into.collector_degraded = unite(std::move(into.collector_degraded));
  const cJSON* agent = nullptr;
  cJSON_ArrayForEach(agent, agents) {
    const std::string id = jsonString(agent, "agent_id");
    if (id.empty()) return Status::invalidArgument("an agent without agent_id");
    ReportedAvailability& a = into.agents[id];
    a.down_s = jsonSeconds(agent, "down_seconds");
    a.degraded_s = jsonSeconds(agent, "collector_degraded_seconds");
    a.incidents = static_cast<uint32_t>(
        cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(agent, "incidents")));
    const cJSON* window = cJSON_GetObjectItemCaseSensitive(agent, "window");
    a.window_to = parseCollectorTime(jsonString(window, "to")).value_or(*measured_to);
  }
  return Status::okStatus();
}

AvailabilityObservations readAvailability(const CollectorHttp& http, int64_t tenant_id,
                                          const std::vector<int64_t>& site_ids, size_t agents,
                                          WallTime from, WallTime to) {
  AvailabilityObservations report;
  report.asked = true;
  // In whole milliseconds, as the API takes it, and not before `from`.
  int64_t from_ms = toUnixMillis(from);
  if (fromUnixMillis(from_ms) < from) ++from_ms;
  report.from = fromUnixMillis(from_ms);
  const std::string period = "from=" + formatRfc3339Utc(from_ms) +
                             "&to=" + formatRfc3339Utc(toUnixMillis(to)) + "&format=json";
  std::vector<std::string> scopes;
  if (agents <= kMaxAgentsPerAvailabilityReport) {
    scopes.push_back("tenant_id=" + std::to_string(tenant_id));
  } else {
    for (int64_t site : site_ids) scopes.push_back("site_id=" + std::to_string(site));
  }
  for (const std::string& scope : scopes) {
    const std::string url = "/api/v1/reports/availability?" + scope + "&" + period;
    ++report.requests;
    HttpAnswer a = http.get(url, std::chrono::seconds(120));
    Status added = a.status == 200
                       ? addAvailabilityReport(a.body, report)
                       : Status::unavailable(std::to_string(a.status) + " " +
                                             (a.status == 0 ? a.error : a.body.substr(0, 300)));
    if (!added.ok()) {
      report.error = "GET " + url + ": " + added.message();
      break;
    }
  }
  return report;
}

}  // namespace vigil::fleetsim
