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
#include "common/status.h"
#include "tools/fleetsim/collector_control.h"
#include "tools/fleetsim/report.h"

namespace vigil::fleetsim {

// "2026-11-23T08:03:12.250Z" as the collector writes it (common/time_format); the fraction may
// be left out or longer (milliseconds are kept).
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

// The availability report's JSON answer (GET /api/v1/reports/availability, docs/reports.md) as
// the verdict reads it: its collector_degraded spans and, per agent, its down and degraded
// seconds, incidents and the end of its window, added to `into`; `into.measured_to` is the
// period's. An error if `body` is no such report.
Status addAvailabilityReport(const std::string& body, AvailabilityObservations& into);

// Most agents one availability report may hold (more: 400 too_many_agents).
constexpr size_t kMaxAgentsPerAvailabilityReport = 10000;

// The availability report of `tenant_id` over [from, to) as RFC 3339 instants, as JSON: one
// request, or one per site of `site_ids` when the tenant has more `agents` than a report may
// hold. On an error `error` says which request failed and what it answered.
AvailabilityObservations readAvailability(const CollectorHttp& http, int64_t tenant_id,
                                          const std::vector<int64_t>& site_ids, size_t agents,
                                          WallTime from, WallTime to);

}  // namespace vigil::fleetsim
