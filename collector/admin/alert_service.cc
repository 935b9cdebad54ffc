#include "collector/admin/alert_service.h"

#include <algorithm>
#include <set>

#include "collector/events/event_json.h"

namespace vigil::collector {
namespace {

const std::set<std::string>& alertStates() {
  static const std::set<std::string> kStates = {"open", "held", "resolved", "released"};
  return kStates;
}

const std::set<std::string>& alertKinds() {
  static const std::set<std::string> kKinds = {"device_offline", "site_unreachable", "flapping"};
  return kKinds;
}

// "open,held" -> {"open", "held"}, or 400 naming the first value not in `known`.
ApiResult<std::vector<std::string>> parseList(const std::string& text, const std::string& field,
                                              const std::set<std::string>& known) {
  std::vector<std::string> values;
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find(',', start);
    if (end == std::string::npos) end = text.size();
    std::string value = text.substr(start, end - start);
    if (known.count(value) == 0) {
      std::string accepted;
      for (const std::string& k : known) accepted += (accepted.empty() ? "" : ", ") + k;
      return invalidField(field, "unknown value '" + value.substr(0, 32) + "'; use " + accepted);
    }
    values.push_back(std::move(value));
    start = end + 1;
  }
  return values;
}

// The optional {"note": "..."} body of acknowledge and resolve.
ApiResult<std::string> noteFrom(const AdminRequest& request) {
  auto body = JsonBody::parse(request.body);
  if (!body.ok()) return body.error();
  if (auto only = body.value().checkOnly({"note"}); !only.ok()) return only.error();
  auto note = body.value().optionalString("note", 1000, /*allow_empty=*/true);
  if (!note.ok()) return note.error();
  return note.value().value_or("");
}

}  // namespace

void AlertService::registerRoutes(AdminRouteTable& table) {
  table.add("GET", "/api/v1/alerts", AdminRole::kReadOnly,
            [this](const AdminRequest& r) { return listAlerts(r); });
  table.add("GET", "/api/v1/alerts/{alert_id}", AdminRole::kReadOnly,
            [this](const AdminRequest& r) { return getAlert(r); });
  table.add("POST", "/api/v1/alerts/{alert_id}/acknowledge", AdminRole::kOperator,
            [this](const AdminRequest& r) { return acknowledge(r); });
  table.add("POST", "/api/v1/alerts/{alert_id}/resolve", AdminRole::kOperator,
            [this](const AdminRequest& r) { return resolve(r); });
}

ApiResult<AlertRecord> AlertService::findVisibleAlert(const AdminRequest& request) {
  auto id = parseIdParam(request, "alert_id", "alert");
  if (!id.ok()) return id.error();
  auto found = store_.findAlert(id.value());
  if (!found.ok()) return storeFailure(found.error());
  if (!found.value() || !request.principal.scope.allows(found.value()->tenant_id)) {
    return notFound("alert");
  }
  return std::move(*found.value());
}

ApiResult<AdminAnswer> AlertService::answerAlert(int64_t alert_id) {
  auto found = store_.findAlert(alert_id);
  if (!found.ok()) return storeFailure(found.error());
  // Gone between the write and this read: the store lost what it had just written.
  if (!found.value())
    return storeFailure(Status::ioError("the alert just written is not in the store"));
  json::JsonPtr obj(cJSON_CreateObject());
  addAlertFields(obj.get(), *found.value());
  return out::answer(obj);
}

ApiResult<AdminAnswer> AlertService::listAlerts(const AdminRequest& request) {
  auto limit = parseLimit(request);
  if (!limit.ok()) return limit.error();
  auto before = cursorId(request, 0);
  if (!before.ok()) return before.error();
  AlertFilter filter;
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
  if (auto states = request.queryParam("state")) {
    auto parsed = parseList(*states, "state", alertStates());
    if (!parsed.ok()) return parsed.error();
    filter.states = std::move(parsed.value());
  }
  if (auto kind = request.queryParam("kind")) {
    auto parsed = parseList(*kind, "kind", alertKinds());
    if (!parsed.ok()) return parsed.error();
    if (parsed.value().size() != 1) return invalidField("kind", "takes one kind");
    filter.kind = parsed.value().front();
  }
  auto from = timeParam(request, "opened_from");
  if (!from.ok()) return from.error();
  filter.opened_from_ms = from.value();
  auto until = timeParam(request, "opened_until");
  if (!until.ok()) return until.error();
  filter.opened_until_ms = until.value();

  auto rows = store_.listAlertsPage(filter, before.value(), limit.value() + 1);
  if (!rows.ok()) return storeFailure(rows.error());
  std::vector<AlertRecord>& alerts = rows.value();
  const bool more = alerts.size() > limit.value();
  if (more) alerts.resize(limit.value());
  cJSON* items = cJSON_CreateArray();
  for (const AlertRecord& a : alerts) {
    cJSON* item = cJSON_CreateObject();
    addAlertFields(item, a);
    cJSON_AddItemToArray(items, item);
  }
  std::optional<std::string> next;
  if (more) next = encodeCursor(std::to_string(alerts.back().id));
  return AdminAnswer{200, out::page(items, next)};
}

ApiResult<AdminAnswer> AlertService::getAlert(const AdminRequest& request) {
  auto alert = findVisibleAlert(request);
  if (!alert.ok()) return alert.error();
  json::JsonPtr obj(cJSON_CreateObject());
  addAlertFields(obj.get(), alert.value());
  return out::answer(obj);
}

ApiResult<AdminAnswer> AlertService::acknowledge(const AdminRequest& request) {
  auto alert = findVisibleAlert(request);
  if (!alert.ok()) return alert.error();
  auto note = noteFrom(request);
  if (!note.ok()) return note.error();
  auto done = store_.acknowledgeAlert(alert.value().id, request.principal.token_name, note.value(),
                                      request.now_ms);
  if (!done.ok()) return storeFailure(done.error());
  return answerAlert(alert.value().id);
}

ApiResult<AdminAnswer> AlertService::resolve(const AdminRequest& request) {
  auto alert = findVisibleAlert(request);
  if (!alert.ok()) return alert.error();
  auto note = noteFrom(request);
  if (!note.ok()) return note.error();
  auto done = store_.resolveAlert(alert.value().id, request.principal.token_name, note.value(),
                                  request.now_ms);
  if (!done.ok()) {
    if (done.error().code() == StatusCode::kFailedPrecondition) {
      return conflict("the alert is already closed (" + alert.value().state + ")");
    }
    return storeFailure(done.error());
  }
  return answerAlert(alert.value().id);
}

}  // namespace vigil::collector
