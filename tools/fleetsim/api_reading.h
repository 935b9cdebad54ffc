#pragma once

// Reading the collector's admin API (docs/api.md) as the runner and the office lab need it:
// its times, fields, alerts and paginated lists.

#include <cjson/cJSON.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/json.h"
#include "tools/fleetsim/collector_control.h"
#include "tools/fleetsim/report.h"

namespace vigil::fleetsim {

// "2026-11-23T08:03:12.250Z" as the collector writes it (common/time_format).
std::optional<WallTime> parseCollectorTime(const std::string& text);
std::string jsonString(const cJSON* obj, const char* key);  // "" if absent or not a string
int64_t jsonInt(const cJSON* obj, const char* key);         // 0 if absent or not a number
// An alert object of the API or of a webhook's data.
SeenAlert alertOf(const cJSON* alert);

// Every item of a paginated admin list, appended to `items`; the returned documents own them.
// On an error `error` (if given) says which request failed, and the pages read so far are
// returned.
std::vector<json::JsonPtr> listAll(const CollectorHttp& http, const std::string& path,
                                   std::vector<const cJSON*>& items, std::string* error);

}  // namespace vigil::fleetsim
