#include "collector/admin/report_service.h"

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <unordered_map>
#include <utility>
#include <vector>

#include "collector/core/availability.h"
#include "collector/core/business_hours.h"
#include "collector/presence/presence_types.h"
#include "common/text.h"
#include "common/time_zone.h"

namespace vigil::collector {
namespace {

namespace p = presence;

constexpr int64_t kDayMs = 86'400'000;

enum class ReportFormat { kJson, kCsv, kIncidentsCsv, kHtml };

// What one report covers, resolved and checked.
struct ReportSubject {
  Tenant tenant;
  std::optional<Site> site;
  std::optional<std::string> agent_id;
};

struct AgentLine {
  const ReportAgent* agent = nullptr;
  AgentAvailability figures;
};

struct DegradedSpan {
  TimeSpan span;
  std::set<std::string> reasons;
};

// A date "YYYY-MM-DD" (or a month "YYYY-MM", as its first day) from 1970 on; nullopt if
// malformed or not a real date.
std::optional<CivilDate> parseLocalDate(const std::string& text, bool with_day) {
  if (!with_day && text.size() != 7) return std::nullopt;
  std::optional<CivilDate> date = parseCivilDate(with_day ? text : text + "-01");
  if (!date || date->year < 1970) return std::nullopt;
  return date;
}

// Whole seconds at or before `unix_ms`.
int64_t floorSeconds(int64_t unix_ms) {
  return unix_ms >= 0 ? unix_ms / 1000 : -((-unix_ms + 999) / 1000);
}

// An instant as local time with its offset: "2026-03-01T00:00:00+01:00".
std::string formatLocal(const TimeZone& zone, int64_t unix_ms) {
  const int64_t seconds = floorSeconds(unix_ms);
  const CivilDateTime t = zone.toLocal(seconds);
  const int32_t offset = zone.offsetSecondsAt(seconds);
  const int32_t magnitude = offset < 0 ? -offset : offset;
  char buf[48];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d%c%02d:%02d", t.year, t.month, t.day,
                t.hour, t.minute, t.second, offset < 0 ? '-' : '+', magnitude / 3600,
                magnitude / 60 % 60);
  return buf;
}

CivilDate localDateOf(const TimeZone& zone, int64_t unix_ms) {
  const CivilDateTime t = zone.toLocal(floorSeconds(unix_ms));
  return CivilDate{t.year, t.month, t.day};
}

// One end of a from/to period: a local date (its first instant; for `to` its last day's end)
// or an RFC 3339 instant.
ApiResult<int64_t> periodEnd(const std::string& text, const char* field, const TimeZone& zone,
                             bool is_end) {
  if (std::optional<CivilDate> date = parseLocalDate(text, /*with_day=*/true)) {
    const TimeSpan day = localDays(zone, *date, *date);
    return is_end ? day.end_ms : day.start_ms;
  }
  if (text.size() <= 10) {
    return invalidField(field, "must be a date (YYYY-MM-DD) or an RFC 3339 date-time");
  }
  return parseRfc3339(text, field);
}

}  // namespace

ApiResult<ReportPeriod> parseReportPeriod(const AdminRequest& request, const TimeZone& zone) {
  const std::optional<std::string> month = request.queryParam("month");
  const std::optional<std::string> from = request.queryParam("from");
  const std::optional<std::string> to = request.queryParam("to");
  ReportPeriod period;
  if (month) {
    if (from || to) return invalidField("month", "give either month or from and to, not both");
    std::optional<CivilDate> m = parseLocalDate(*month, /*with_day=*/false);
    if (!m) return invalidField("month", "must be a month as YYYY-MM");
    period.span = localMonth(zone, m->year, m->month);
    period.label = month->substr(0, 7);
    return period;
  }
  if (!from || !to) {
    return invalidField(from ? "to" : "from",
                        "a period is required: month=YYYY-MM, or both from and to");
  }
  auto start = periodEnd(*from, "from", zone, /*is_end=*/false);
  if (!start.ok()) return start.error();
  auto end = periodEnd(*to, "to", zone, /*is_end=*/true);
  if (!end.ok()) return end.error();
  if (end.value() <= start.value()) return invalidField("to", "must be after from");
  // A year of days, and the hour a DST change may add.
  if (end.value() - start.value() > kMaxReportDays * kDayMs + 3'600'000) {
    return invalidField(
        "to", "the period may be at most " + std::to_string(kMaxReportDays) + " days long");
  }
  period.span = TimeSpan{start.value(), end.value()};
  period.label = formatCivilDate(localDateOf(zone, start.value())) + "_" +
                 formatCivilDate(localDateOf(zone, end.value() - 1));
  return period;
}

namespace {

ApiResult<ReportFormat> parseFormat(const AdminRequest& request) {
  const std::string format = request.queryParam("format").value_or("json");
  if (format == "json") return ReportFormat::kJson;
  if (format == "csv") return ReportFormat::kCsv;
  if (format == "incidents.csv") return ReportFormat::kIncidentsCsv;
  if (format == "html") return ReportFormat::kHtml;
  return invalidField("format", "must be json, csv, incidents.csv or html");
}

// The reason's words as the presence engine writes them ("silent on every indicator ...").
std::string reasonWords(const std::string& name) {
  for (int r = 0; r <= static_cast<int>(p::Reason::kRetired); ++r) {
    const auto reason = static_cast<p::Reason>(r);
    if (name == p::reasonName(reason)) return p::reasonText(reason);
  }
  return "";
}

std::string incidentCause(const DowntimeIncident& incident) {
  std::string words = incident.reason.empty() ? "overdue (SUSPECT); no verdict within the period"
                                              : reasonWords(incident.reason);
  if (!incident.diary_cause.empty()) {
    words += "; the agent's outage diary: it ran but could not reach the collector (" +
             incident.diary_cause + ")";
  }
  return words;
}

double seconds(int64_t ms) { return static_cast<double>(ms) / 1000.0; }

std::string csvSeconds(int64_t ms) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%" PRId64 ".%03" PRId64, ms / 1000, ms % 1000);
  return buf;
}

std::string percentText(const std::optional<double>& share) {
  if (!share) return "";
  char buf[16];
  std::snprintf(buf, sizeof buf, "%.3f", *share * 100.0);
  return buf;
}

// "3 d 4 h 5 min 6 s", the largest units only.
std::string durationWords(int64_t ms) {
  int64_t s = ms / 1000;
  if (s == 0) return ms == 0 ? "0 s" : "< 1 s";
  std::string out;
  const std::pair<int64_t, const char*> units[] = {
      {86'400, "d"}, {3'600, "h"}, {60, "min"}, {1, "s"}};
  int shown = 0;
  for (const auto& [size, name] : units) {
    if (s >= size && shown < 2) {
      out += (out.empty() ? "" : " ") + std::to_string(s / size) + " " + name;
      s %= size;
      ++shown;
    } else if (shown > 0) {
      ++shown;
    }
  }
  return out;
}

// A CSV field (RFC 4180): quoted when it holds a comma, quote or line break; a field that a
// spreadsheet would take for a formula (=, +, -, @, tab, CR first) gets a leading apostrophe,
// since host names come from endpoints.
std::string csvField(const std::string& value) {
  std::string text = value;
  if (!text.empty() && std::string_view("=+-@\t\r").find(text.front()) != std::string::npos) {
    text.insert(text.begin(), '\'');
  }
  if (text.find_first_of(",\"\r\n") == std::string::npos) return text;
  std::string out = "\"";
  for (char c : text) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

std::string csvLine(const std::vector<std::string>& fields) {
  std::string line;
  for (size_t i = 0; i < fields.size(); ++i) {
    if (i > 0) line += ',';
    line += csvField(fields[i]);
  }
  return line + "\r\n";
}

// Sums over the agents of a report.
struct Totals {
  AgentAvailability figures;  // the sums of each class; no incidents, no window
  size_t incidents = 0;

  void add(const AgentAvailability& a) {
    figures.online_ms += a.online_ms;
    figures.down_ms += a.down_ms;
    figures.maintenance_ms += a.maintenance_ms;
    figures.shutdown_ms += a.shutdown_ms;
    figures.degraded_ms += a.degraded_ms;
    figures.unmonitored_ms += a.unmonitored_ms;
    incidents += a.incidents.size();
  }
};

// Everything the renderers write.
struct Report {
  ReportSubject subject;
  TimeZone zone = TimeZone::utc();
  ReportPeriod period;
  int64_t measured_to_ms = 0;
  int64_t generated_at_ms = 0;
  std::vector<DegradedSpan> degraded;
  std::vector<AgentLine> agents;
  Totals totals;
};

void addSeconds(cJSON* obj, const char* name, int64_t ms) {
  cJSON_AddNumberToObject(obj, name, seconds(ms));
}

void addShare(cJSON* obj, const char* name, const std::optional<double>& share) {
  if (share) {
    cJSON_AddNumberToObject(obj, name, *share);
  } else {
    cJSON_AddNullToObject(obj, name);
  }
}

// The seconds of each class and the availability.
void addFigures(cJSON* obj, const AgentAvailability& f) {
  addSeconds(obj, "online_seconds", f.online_ms);
  addSeconds(obj, "down_seconds", f.down_ms);
  addSeconds(obj, "maintenance_seconds", f.maintenance_ms);
  addSeconds(obj, "shutdown_seconds", f.shutdown_ms);
  addSeconds(obj, "collector_degraded_seconds", f.degraded_ms);
  addSeconds(obj, "unmonitored_seconds", f.unmonitored_ms);
  addShare(obj, "availability", f.availability());
}

AdminAnswer renderJson(const Report& r) {
  json::JsonPtr root(cJSON_CreateObject());
  cJSON* tenant = cJSON_AddObjectToObject(root.get(), "tenant");
  out::integer(tenant, "id", r.subject.tenant.id);
  out::string(tenant, "name", r.subject.tenant.name);
  if (r.subject.site) {
    cJSON* site = cJSON_AddObjectToObject(root.get(), "site");
    out::integer(site, "id", r.subject.site->id);
    out::string(site, "name", r.subject.site->name);
  } else {
    cJSON_AddNullToObject(root.get(), "site");
  }
  out::optionalString(root.get(), "agent_id", r.subject.agent_id);
  out::string(root.get(), "time_zone", r.zone.name());
  cJSON* period = cJSON_AddObjectToObject(root.get(), "period");
  out::time(period, "from", r.period.span.start_ms);
  out::time(period, "to", r.period.span.end_ms);
  out::string(period, "from_local", formatLocal(r.zone, r.period.span.start_ms));
  out::string(period, "to_local", formatLocal(r.zone, r.period.span.end_ms));
  addSeconds(period, "seconds", r.period.span.length());
  out::time(period, "measured_to", r.measured_to_ms);
  cJSON* degraded = cJSON_AddArrayToObject(root.get(), "collector_degraded");
  for (const DegradedSpan& d : r.degraded) {
    cJSON* item = cJSON_CreateObject();
    cJSON_AddItemToArray(degraded, item);
    out::time(item, "from", d.span.start_ms);
    out::time(item, "to", d.span.end_ms);
    addSeconds(item, "seconds", d.span.length());
    cJSON* reasons = cJSON_AddArrayToObject(item, "reasons");
    for (const std::string& reason : d.reasons) {
      cJSON_AddItemToArray(reasons, cJSON_CreateString(reason.c_str()));
    }
  }
  cJSON* totals = cJSON_AddObjectToObject(root.get(), "totals");
  out::integer(totals, "agents", static_cast<int64_t>(r.agents.size()));
  addFigures(totals, r.totals.figures);
  out::integer(totals, "incidents", static_cast<int64_t>(r.totals.incidents));
  cJSON* agents = cJSON_AddArrayToObject(root.get(), "agents");
  for (const AgentLine& line : r.agents) {
    const ReportAgent& a = *line.agent;
    const AgentAvailability& f = line.figures;
    cJSON* item = cJSON_CreateObject();
    cJSON_AddItemToArray(agents, item);
    out::string(item, "agent_id", a.id);
    out::string(item, "hostname", a.hostname);
    out::string(item, "agent_class", a.agent_class);
    out::integer(item, "site_id", a.site_id);
    out::string(item, "site_name", a.site_name);
    out::boolean(item, "retired", a.retired_at_ms.has_value());
    cJSON* window = cJSON_AddObjectToObject(item, "window");
    out::time(window, "from", f.window.start_ms);
    out::time(window, "to", f.window.end_ms);
    addFigures(item, f);
    cJSON* incidents = cJSON_AddArrayToObject(item, "incidents");
    for (const DowntimeIncident& i : f.incidents) {
      cJSON* inc = cJSON_CreateObject();
      cJSON_AddItemToArray(incidents, inc);
      out::time(inc, "start", i.start_ms);
      out::optionalTime(inc, "end", i.end_ms);
      addSeconds(inc, "down_seconds", i.down_ms);
      out::string(inc, "status", i.status);
      out::string(inc, "reason", i.reason);
      out::string(inc, "cause", incidentCause(i));
      out::string(inc, "diary_cause", i.diary_cause);
    }
  }
  return out::answer(root);
}

AdminAnswer renderCsv(const Report& r) {
  std::string body =
      csvLine({"tenant", "site", "agent_id", "hostname", "agent_class", "window_from", "window_to",
               "online_s", "down_s", "maintenance_s", "shutdown_s", "collector_degraded_s",
               "unmonitored_s", "availability_percent", "incidents"});
  for (const AgentLine& line : r.agents) {
    const ReportAgent& a = *line.agent;
    const AgentAvailability& f = line.figures;
    body +=
        csvLine({r.subject.tenant.name, a.site_name, a.id, a.hostname, a.agent_class,
                 formatRfc3339Utc(f.window.start_ms), formatRfc3339Utc(f.window.end_ms),
                 csvSeconds(f.online_ms), csvSeconds(f.down_ms), csvSeconds(f.maintenance_ms),
                 csvSeconds(f.shutdown_ms), csvSeconds(f.degraded_ms), csvSeconds(f.unmonitored_ms),
                 percentText(f.availability()), std::to_string(f.incidents.size())});
  }
  return AdminAnswer{200, std::move(body), "text/csv; charset=utf-8"};
}

AdminAnswer renderIncidentsCsv(const Report& r) {
  std::string body = csvLine({"tenant", "site", "agent_id", "hostname", "start", "end", "down_s",
                              "status", "reason", "cause", "diary_cause"});
  for (const AgentLine& line : r.agents) {
    const ReportAgent& a = *line.agent;
    for (const DowntimeIncident& i : line.figures.incidents) {
      body += csvLine({r.subject.tenant.name, a.site_name, a.id, a.hostname,
                       formatRfc3339Utc(i.start_ms), i.end_ms ? formatRfc3339Utc(*i.end_ms) : "",
                       csvSeconds(i.down_ms), i.status, i.reason, incidentCause(i), i.diary_cause});
    }
  }
  return AdminAnswer{200, std::move(body), "text/csv; charset=utf-8"};
}

constexpr char kHtmlStyle[] =
    "body{font:14px/1.45 system-ui,sans-serif;color:#1b1f24;margin:2em auto;max-width:60em;"
    "padding:0 1em}h1{font-size:1.5em;margin:0 0 .2em}h2{font-size:1.15em;margin:1.6em 0 .5em;"
    "border-bottom:1px solid #ccd;padding-bottom:.2em}table{border-collapse:collapse;width:100%;"
    "margin:.4em 0}th,td{text-align:left;padding:.3em .5em;border-bottom:1px solid #e3e6ea;"
    "vertical-align:top}td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}"
    ".muted{color:#57606a}.summary td:first-child{width:40%}.bad{color:#a40e26;font-weight:600}"
    "@media print{body{margin:0;max-width:none;font-size:11px}h2{break-after:avoid}"
    "tr{break-inside:avoid}}";

std::string h(const std::string& text) { return escapeMarkup(text, /*quotes=*/true); }

AdminAnswer renderHtml(const Report& r) {
  std::ostringstream o;
  const std::string subject = r.subject.tenant.name +
                              (r.subject.site ? " / " + r.subject.site->name : "") +
                              (r.subject.agent_id ? " / " + *r.subject.agent_id : "");
  const std::string period_words = formatLocal(r.zone, r.period.span.start_ms) + " to " +
                                   formatLocal(r.zone, r.period.span.end_ms);
  o << "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
    << "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
    << "<title>Availability " << h(r.period.label) << " - " << h(subject) << "</title>"
    << "<style>" << kHtmlStyle << "</style></head><body>\n";
  o << "<h1>Availability report: " << h(subject) << "</h1>\n";
  o << "<p class=\"muted\">" << h(period_words) << " (" << h(r.zone.name()) << ")";
  if (r.measured_to_ms < r.period.span.end_ms) {
    o << ", measured up to " << h(formatLocal(r.zone, r.measured_to_ms));
  }
  o << ". Generated " << h(formatLocal(r.zone, r.generated_at_ms)) << " by Vigil.</p>\n";
  const AgentAvailability& t = r.totals.figures;
  o << "<h2>Summary</h2>\n<table class=\"summary\"><tbody>\n";
  auto row = [&](const std::string& name, const std::string& value) {
    o << "<tr><td>" << h(name) << "</td><td class=\"n\">" << h(value) << "</td></tr>\n";
  };
  const std::string share = percentText(t.availability());
  row("Availability (online / (online + down))", share.empty() ? "n/a" : share + " %");
  row("Agents", std::to_string(r.agents.size()));
  row("Downtime incidents", std::to_string(r.totals.incidents));
  row("Online", durationWords(t.online_ms));
  row("Down", durationWords(t.down_ms));
  row("In maintenance", durationWords(t.maintenance_ms));
  row("Announced shutdown or sleep", durationWords(t.shutdown_ms));
  row("Monitoring degraded (not counted)", durationWords(t.degraded_ms));
  row("Not monitored", durationWords(t.unmonitored_ms));
  o << "</tbody></table>\n";
  o << "<p class=\"muted\">Times are summed over the agents. Maintenance, announced shutdowns, "
       "time when the monitoring itself was degraded and time before the first report are "
       "shown apart and are not counted against availability.</p>\n";
  o << "<h2>When the monitoring itself was degraded</h2>\n";
  if (r.degraded.empty()) {
    o << "<p>Never during this period.</p>\n";
  } else {
    o << "<table><thead><tr><th>From</th><th>To</th><th class=\"n\">Duration</th>"
         "<th>Why</th></tr></thead><tbody>\n";
    for (const DegradedSpan& d : r.degraded) {
      std::string reasons;
      for (const std::string& reason : d.reasons) reasons += (reasons.empty() ? "" : ", ") + reason;
      o << "<tr><td>" << h(formatLocal(r.zone, d.span.start_ms)) << "</td><td>"
        << h(formatLocal(r.zone, d.span.end_ms)) << "</td><td class=\"n\">"
        << h(durationWords(d.span.length())) << "</td><td>" << h(reasons) << "</td></tr>\n";
    }
    o << "</tbody></table>\n";
  }
  o << "<h2>Agents</h2>\n<table><thead><tr><th>Host</th><th>Site</th><th>Class</th>"
       "<th class=\"n\">Availability</th><th class=\"n\">Down</th><th class=\"n\">Maintenance"
       "</th><th class=\"n\">Shutdown</th><th class=\"n\">Incidents</th></tr></thead><tbody>\n";
  for (const AgentLine& line : r.agents) {
    const AgentAvailability& f = line.figures;
    const std::string a = percentText(f.availability());
    o << "<tr><td>" << h(line.agent->hostname) << "</td><td>" << h(line.agent->site_name)
      << "</td><td>" << h(line.agent->agent_class) << "</td><td class=\"n"
      << (f.down_ms > 0 ? " bad" : "") << "\">" << (a.empty() ? "n/a" : h(a) + " %")
      << "</td><td class=\"n\">" << h(durationWords(f.down_ms)) << "</td><td class=\"n\">"
      << h(durationWords(f.maintenance_ms)) << "</td><td class=\"n\">"
      << h(durationWords(f.shutdown_ms)) << "</td><td class=\"n\">" << f.incidents.size()
      << "</td></tr>\n";
  }
  o << "</tbody></table>\n<h2>Downtime incidents</h2>\n";
  if (r.totals.incidents == 0) {
    o << "<p>None.</p>\n";
  } else {
    o << "<table><thead><tr><th>Host</th><th>From</th><th>To</th><th class=\"n\">Down</th>"
         "<th>Cause</th></tr></thead><tbody>\n";
    for (const AgentLine& line : r.agents) {
      for (const DowntimeIncident& i : line.figures.incidents) {
        o << "<tr><td>" << h(line.agent->hostname) << "</td><td>"
          << h(formatLocal(r.zone, i.start_ms)) << "</td><td>"
          << (i.end_ms ? h(formatLocal(r.zone, *i.end_ms)) : "not back yet")
          << "</td><td class=\"n\">" << h(durationWords(i.down_ms)) << "</td><td>"
          << h(incidentCause(i)) << "</td></tr>\n";
      }
    }
    o << "</tbody></table>\n";
  }
  o << "</body></html>\n";
  return AdminAnswer{200, o.str(), "text/html; charset=utf-8"};
}

}  // namespace

void ReportService::registerRoutes(AdminRouteTable& table) {
  table.add("GET", "/api/v1/reports/availability", AdminRole::kReadOnly,
            [this](const AdminRequest& r) { return availability(r); });
}

ApiResult<AdminAnswer> ReportService::availability(const AdminRequest& request) {
  if (computing_.fetch_add(1) >= kMaxConcurrentReports) {
    computing_.fetch_sub(1);
    ApiError busy{429, protocol::errors::kOverloaded,
                  std::to_string(kMaxConcurrentReports) +
                      " availability reports are being computed; try again shortly",
                  std::nullopt};
    busy.retry_after_s = kReportBusyRetryAfterS;
    return busy;
  }
  struct Done {
    std::atomic<int>& computing;
    ~Done() { computing.fetch_sub(1); }
  } done{computing_};
  return compute(request);
}

ApiResult<AdminAnswer> ReportService::compute(const AdminRequest& request) {
  auto tenant_param = idQueryParam(request, "tenant_id");
  if (!tenant_param.ok()) return tenant_param.error();
  auto site_param = idQueryParam(request, "site_id");
  if (!site_param.ok()) return site_param.error();
  auto agent_param = agentIdQueryParam(request);
  if (!agent_param.ok()) return agent_param.error();
  auto format = parseFormat(request);
  if (!format.ok()) return format.error();
  if (!tenant_param.value() && !site_param.value() && !agent_param.value()) {
    return invalidField("tenant_id", "one of tenant_id, site_id or agent_id is required");
  }
  const TenantScope& scope = request.principal.scope;

  // The subject: each id given must exist in the principal's scope and agree with the others.
  ReportSubject subject;
  std::optional<int64_t> tenant_id = tenant_param.value();
  if (site_param.value()) {
    auto site = store_.findSite(*site_param.value());
    if (!site.ok()) return storeFailure(site.error());
    if (!site.value() || !scope.allows(site.value()->tenant_id) ||
        (tenant_id && *tenant_id != site.value()->tenant_id)) {
      return notFound("site");
    }
    subject.site = *site.value();
    tenant_id = subject.site->tenant_id;
  }
  if (agent_param.value()) {
    auto agent = store_.findAgent(*agent_param.value());
    if (!agent.ok()) return storeFailure(agent.error());
    if (!agent.value() || !scope.allows(agent.value()->tenant_id) ||
        (tenant_id && *tenant_id != agent.value()->tenant_id) ||
        (subject.site && subject.site->id != agent.value()->site_id)) {
      return notFound("agent");
    }
    subject.agent_id = agent.value()->id;
    tenant_id = agent.value()->tenant_id;
  }
  auto tenant = store_.findTenant(*tenant_id);
  if (!tenant.ok()) return storeFailure(tenant.error());
  if (!tenant.value() || !scope.allows(tenant.value()->id)) return notFound("tenant");
  subject.tenant = *tenant.value();

  // The time zone: asked for, or the tenant's business hours', or UTC.
  Report report;
  report.subject = subject;
  if (std::optional<std::string> name = request.queryParam("time_zone")) {
    auto zone = TimeZone::load(*name, zoneinfo_dir_);
    if (!zone.ok()) return invalidField("time_zone", zone.error().message());
    report.zone = zone.value();
  } else {
    auto hours = store_.findTenantBusinessHours(subject.tenant.id);
    if (!hours.ok()) return storeFailure(hours.error());
    if (hours.value() && !hours.value()->empty()) {
      auto parsed = BusinessHours::fromJson(*hours.value(), zoneinfo_dir_);
      if (parsed.ok()) report.zone = parsed.value().timeZone();
    }
  }
  auto period = parseReportPeriod(request, report.zone);
  if (!period.ok()) return period.error();
  report.period = period.value();
  report.generated_at_ms = request.now_ms;
  report.measured_to_ms =
      std::max(report.period.span.start_ms, std::min(report.period.span.end_ms, request.now_ms));

  ReportScope report_scope{subject.tenant.id,
                           subject.site ? std::optional<int64_t>(subject.site->id) : std::nullopt,
                           subject.agent_id};
  auto history = store_.readAvailabilityHistory(report_scope, report.period.span.start_ms,
                                                report.measured_to_ms, kMaxReportAgents);
  if (!history.ok()) {
    if (history.error().code() == StatusCode::kResourceExhausted) {
      return badRequest("too_many_agents", "the report would cover " + history.error().message() +
                                               ": narrow it to a site (site_id)");
    }
    return storeFailure(history.error());
  }
  AvailabilityHistory& h = history.value();

  const TimeSpan measured{report.period.span.start_ms, report.measured_to_ms};
  const std::vector<TimeSpan> degraded = collectorDegradedSpans(h.health, measured.end_ms);
  for (const TimeSpan& span : degraded) {
    DegradedSpan out{TimeSpan{std::max(span.start_ms, measured.start_ms),
                              std::min(span.end_ms, measured.end_ms)},
                     {}};
    if (out.span.length() == 0) continue;
    for (const HealthRecord& record : h.health) {
      const int64_t from = std::min(record.at_ms, record.blind_from_ms.value_or(record.at_ms));
      if (!record.degraded || record.at_ms < span.start_ms || from >= span.end_ms) continue;
      std::string_view rest = record.reasons;
      while (!rest.empty()) {
        const size_t comma = rest.find(',');
        if (comma != 0) out.reasons.emplace(rest.substr(0, comma));
        rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
      }
    }
    report.degraded.push_back(std::move(out));
  }

  std::unordered_map<std::string, std::vector<StatusChangeRecord>> changes;
  for (StatusChangeRecord& c : h.changes) changes[c.agent_id].push_back(std::move(c));
  std::unordered_map<std::string, std::vector<OutageReport>> diary;
  for (OutageReport& o : h.diary) diary[o.agent_id].push_back(std::move(o));
  report.agents.reserve(h.agents.size());
  for (const ReportAgent& agent : h.agents) {
    TimeSpan window{std::max(measured.start_ms, agent.enrolled_at_ms), measured.end_ms};
    if (agent.retired_at_ms) window.end_ms = std::min(window.end_ms, *agent.retired_at_ms);
    window.end_ms = std::max(window.start_ms, window.end_ms);
    AgentLine line{&agent, computeAgentAvailability(std::move(changes[agent.id]), degraded,
                                                    diary[agent.id], window)};
    report.totals.add(line.figures);
    report.agents.push_back(std::move(line));
  }

  AdminAnswer answer;
  std::string extension;
  switch (format.value()) {
    case ReportFormat::kJson:
      return renderJson(report);
    case ReportFormat::kCsv:
      answer = renderCsv(report);
      extension = ".csv";
      break;
    case ReportFormat::kIncidentsCsv:
      answer = renderIncidentsCsv(report);
      extension = "-incidents.csv";
      break;
    case ReportFormat::kHtml:
      answer = renderHtml(report);
      extension = ".html";
      break;
  }
  answer.file_name =
      "availability-" + std::to_string(subject.tenant.id) + "-" + report.period.label + extension;
  return answer;
}

}  // namespace vigil::collector
