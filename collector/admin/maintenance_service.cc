#include "collector/admin/maintenance_service.h"

#include <cstdint>

#include "collector/presence/maintenance.h"
#include "common/protocol.h"

namespace vigil::collector {
namespace {

void addWindowFields(cJSON* o, const MaintenanceWindowRecord& w, int64_t now_ms) {
  out::integer(o, "id", w.id);
  out::integer(o, "tenant_id", w.tenant_id);
  out::string(o, "scope", w.scope);
  out::optionalInteger(o, "site_id", w.site_id);
  out::optionalString(o, "agent_id", w.agent_id);
  out::time(o, "starts_at", w.starts_at_ms);
  out::integer(o, "duration_s", w.duration_s);
  out::time(o, "ends_at", w.starts_at_ms + w.duration_s * 1000);
  out::string(o, "recurrence", w.recurrence);
  out::string(o, "note", w.note);
  out::time(o, "created_at", w.created_at_ms);
  out::string(o, "created_by", w.created_by);
  presence::MaintenanceWindow engine_window;
  engine_window.starts_at = WallTime(std::chrono::milliseconds(w.starts_at_ms));
  engine_window.length = std::chrono::seconds(w.duration_s);
  engine_window.weekly = w.recurrence == "weekly";
  out::boolean(o, "active",
               presence::isWindowOpen(engine_window, WallTime(std::chrono::milliseconds(now_ms))));
}

}  // namespace

Status MaintenanceService::load() { return reload(); }

Status MaintenanceService::reload() {
  MutexLock lock(reload_mu_);
  auto all = store_.listAllMaintenanceWindows();
  if (!all.ok()) return all.error();
  presence_.setMaintenanceWindows(all.value());
  return Status::okStatus();
}

void MaintenanceService::registerRoutes(AdminRouteTable& table) {
  table.add("GET", "/api/v1/maintenance-windows", AdminRole::kReadOnly,
            [this](const AdminRequest& r) { return listWindows(r); });
  table.add("POST", "/api/v1/maintenance-windows", AdminRole::kOperator,
            [this](const AdminRequest& r) { return createWindow(r); });
  table.add("GET", "/api/v1/maintenance-windows/{window_id}", AdminRole::kReadOnly,
            [this](const AdminRequest& r) { return getWindow(r); });
  table.add("DELETE", "/api/v1/maintenance-windows/{window_id}", AdminRole::kOperator,
            [this](const AdminRequest& r) { return deleteWindow(r); });
}

ApiResult<MaintenanceWindowRecord> MaintenanceService::findVisibleWindow(
    const AdminRequest& request) {
  auto id = parseIdParam(request, "window_id", "maintenance window");
  if (!id.ok()) return id.error();
  auto found = store_.findMaintenanceWindow(id.value());
  if (!found.ok()) return storeFailure(found.error());
  if (!found.value() || !request.principal.scope.allows(found.value()->tenant_id)) {
    return notFound("maintenance window");
  }
  return std::move(*found.value());
}

ApiResult<AdminAnswer> MaintenanceService::listWindows(const AdminRequest& request) {
  auto limit = parseLimit(request);
  if (!limit.ok()) return limit.error();
  auto after = cursorId(request, 0);
  if (!after.ok()) return after.error();
  MaintenanceFilter filter;
  filter.scope = request.principal.scope;
  auto tenant = idQueryParam(request, "tenant_id");
  if (!tenant.ok()) return tenant.error();
  filter.tenant_id = tenant.value();
  auto site = idQueryParam(request, "site_id");
  if (!site.ok()) return site.error();
  filter.site_id = site.value();
  auto agent = agentIdQueryParam(request);
  if (!agent.ok()) return agent.error();
  filter.agent_id = agent.value();
  auto rows = store_.listMaintenanceWindows(filter, after.value(), limit.value() + 1);
  if (!rows.ok()) return storeFailure(rows.error());
  std::vector<MaintenanceWindowRecord>& windows = rows.value();
  const bool more = windows.size() > limit.value();
  if (more) windows.resize(limit.value());
  cJSON* items = cJSON_CreateArray();
  for (const MaintenanceWindowRecord& w : windows) {
    cJSON* item = cJSON_CreateObject();
    addWindowFields(item, w, request.now_ms);
    cJSON_AddItemToArray(items, item);
  }
  std::optional<std::string> next;
  if (more) next = encodeCursor(std::to_string(windows.back().id));
  return AdminAnswer{200, out::page(items, next)};
}

ApiResult<AdminAnswer> MaintenanceService::createWindow(const AdminRequest& request) {
  auto parsed = JsonBody::parse(request.body);
  if (!parsed.ok()) return parsed.error();
  const JsonBody& body = parsed.value();
  if (auto only = body.checkOnly({"tenant_id", "site_id", "agent_id", "starts_at", "duration_s",
                                  "ends_at", "recurrence", "note"});
      !only.ok()) {
    return only.error();
  }
  MaintenanceWindowRecord w;
  w.created_at_ms = request.now_ms;
  w.created_by = request.principal.token_name;

  // Exactly one target, which must exist in the caller's scope.
  const int targets = (body.has("tenant_id") ? 1 : 0) + (body.has("site_id") ? 1 : 0) +
                      (body.has("agent_id") ? 1 : 0);
  if (targets != 1) {
    return invalidField("tenant_id", "give exactly one of tenant_id, site_id and agent_id");
  }
  if (body.has("tenant_id")) {
    auto id = body.optionalInteger("tenant_id", 1, INT64_MAX / 2);
    if (!id.ok()) return id.error();
    auto tenant = tenancy_.findTenant(*id.value());
    if (!tenant.ok()) return storeFailure(tenant.error());
    if (!tenant.value() || !request.principal.scope.allows(*id.value())) {
      return notFound("tenant");
    }
    w.scope = "tenant";
    w.tenant_id = *id.value();
  } else if (body.has("site_id")) {
    auto id = body.optionalInteger("site_id", 1, INT64_MAX / 2);
    if (!id.ok()) return id.error();
    auto site = tenancy_.findSite(*id.value());
    if (!site.ok()) return storeFailure(site.error());
    if (!site.value() || !request.principal.scope.allows(site.value()->tenant_id)) {
      return notFound("site");
    }
    w.scope = "site";
    w.site_id = site.value()->id;
    w.tenant_id = site.value()->tenant_id;
  } else {
    auto id = body.requiredString("agent_id", 128);
    if (!id.ok()) return id.error();
    auto agent = agents_.findAgent(id.value());
    if (!agent.ok()) return storeFailure(agent.error());
    if (!agent.value() || !request.principal.scope.allows(agent.value()->tenant_id)) {
      return notFound("agent");
    }
    w.scope = "agent";
    w.agent_id = agent.value()->id;
    w.site_id = agent.value()->site_id;
    w.tenant_id = agent.value()->tenant_id;
  }

  auto recurrence = body.optionalString("recurrence", 16);
  if (!recurrence.ok()) return recurrence.error();
  w.recurrence = recurrence.value().value_or("once");
  if (w.recurrence != "once" && w.recurrence != "weekly") {
    return invalidField("recurrence", "must be \"once\" or \"weekly\"");
  }
  if (!body.has("starts_at")) {
    return ApiError{400, protocol::errors::kMissingField, "starts_at: is required", std::nullopt};
  }
  auto starts = body.optionalTime("starts_at");
  if (!starts.ok()) return starts.error();
  w.starts_at_ms = *starts.value();
  const int64_t max_duration = w.recurrence == "weekly" ? kMaxWeeklyDurationS : kMaxOnceDurationS;
  if (body.has("duration_s") == body.has("ends_at")) {
    return invalidField("duration_s", "give exactly one of duration_s and ends_at");
  }
  if (body.has("duration_s")) {
    auto duration = body.optionalInteger("duration_s", kMinDurationS, max_duration);
    if (!duration.ok()) return duration.error();
    w.duration_s = *duration.value();
  } else {
    auto ends = body.optionalTime("ends_at");
    if (!ends.ok()) return ends.error();
    const int64_t duration_s = (*ends.value() - w.starts_at_ms) / 1000;
    if (duration_s < kMinDurationS || duration_s > max_duration) {
      return invalidField("ends_at", "must be " + std::to_string(kMinDurationS) + " s to " +
                                         std::to_string(max_duration) + " s after starts_at");
    }
    w.duration_s = duration_s;
  }
  auto note = body.optionalString("note", 1000, /*allow_empty=*/true);
  if (!note.ok()) return note.error();
  w.note = note.value().value_or("");

  auto created = store_.createMaintenanceWindow(w);
  if (!created.ok()) return storeFailure(created.error());
  if (Status s = reload(); !s.ok()) return storeFailure(s);
  json::JsonPtr obj(cJSON_CreateObject());
  addWindowFields(obj.get(), created.value(), request.now_ms);
  return out::answer(obj, 201);
}

ApiResult<AdminAnswer> MaintenanceService::getWindow(const AdminRequest& request) {
  auto window = findVisibleWindow(request);
  if (!window.ok()) return window.error();
  json::JsonPtr obj(cJSON_CreateObject());
  addWindowFields(obj.get(), window.value(), request.now_ms);
  return out::answer(obj);
}

ApiResult<AdminAnswer> MaintenanceService::deleteWindow(const AdminRequest& request) {
  auto window = findVisibleWindow(request);
  if (!window.ok()) return window.error();
  auto deleted = store_.deleteMaintenanceWindow(window.value().id);
  if (!deleted.ok()) return storeFailure(deleted.error());
  if (Status s = reload(); !s.ok()) return storeFailure(s);
  return AdminAnswer{204, ""};
}

}  // namespace vigil::collector
