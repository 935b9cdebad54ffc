#include "tools/fleetsim/api_reading.h"

#include <cstdio>
#include <ctime>

namespace vigil::fleetsim {

std::optional<WallTime> parseCollectorTime(const std::string& text) {
  std::tm tm{};
  int ms = 0;
  if (std::sscanf(text.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d.%3dZ", &tm.tm_year, &tm.tm_mon,
                  &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &ms) != 7) {
    return std::nullopt;
  }
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

}  // namespace vigil::fleetsim
