#pragma once

// The availability report of the admin API (docs/reports.md):
// GET /api/v1/reports/availability for a tenant, one of its sites or one agent, over a month or
// a span of local dates (or instants) in the tenant's time zone, as JSON, CSV (agents or
// incidents) or a printable HTML page. The arithmetic is collector/core/availability.h; this
// service resolves the scope and the period, reads the history and writes the answer.
//
// Scope: a tenant, site or agent outside the principal's scope is answered 404 like an unknown
// one. Thread safety: safe to call concurrently (the store is); at most kMaxConcurrentReports
// are computed at once.

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>

#include "collector/admin/admin_api.h"
#include "collector/core/availability.h"
#include "collector/store/store.h"
#include "common/time_zone.h"

namespace vigil::collector {

// The most agents one report covers; a larger scope is refused (400 too_many_agents).
constexpr size_t kMaxReportAgents = 10'000;
// The longest period of one report, in days.
constexpr int64_t kMaxReportDays = 366;
// Reports computed at once; more are refused (429 overloaded, Retry-After). One report of
// kMaxReportAgents agents over a busy month holds 100 to 150 MB while it is computed
// (docs/reports.md, "Cost"), so many at once could exhaust the collector's memory.
constexpr int kMaxConcurrentReports = 2;
constexpr int64_t kReportBusyRetryAfterS = 5;

// A report's period and the label its file names carry ("2026-03", "2026-03-01_2026-03-31").
struct ReportPeriod {
  TimeSpan span;
  std::string label;
};

// The period from the query parameters `month`, or `from` and `to` (docs/reports.md, "The
// period"), local dates in `zone`: a span of 1 ms to kMaxReportDays days (and the hour a DST
// change adds), or 400 invalid_field naming the parameter. Untrusted input; never throws.
ApiResult<ReportPeriod> parseReportPeriod(const AdminRequest& request, const TimeZone& zone);

class ReportService {
 public:
  // `store` must outlive the service; time zones are read from `zoneinfo_dir`.
  explicit ReportService(Store& store, std::string zoneinfo_dir = "/usr/share/zoneinfo")
      : store_(store), zoneinfo_dir_(std::move(zoneinfo_dir)) {}

  // GET /api/v1/reports/availability.
  void registerRoutes(AdminRouteTable& table);

  ApiResult<AdminAnswer> availability(const AdminRequest& request);

 private:
  ApiResult<AdminAnswer> compute(const AdminRequest& request);

  Store& store_;
  std::string zoneinfo_dir_;
  std::atomic<int> computing_{0};
};

}  // namespace vigil::collector
