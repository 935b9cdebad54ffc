#include "collector/admin/webhook_admin.h"

#include <Poco/Exception.h>
#include <Poco/URI.h>

#include <algorithm>
#include <cstdint>
#include <utility>

#include "collector/events/event_json.h"
#include "common/protocol.h"

namespace vigil::collector {
namespace {

namespace ev = webhook_events;
namespace errors = protocol::errors;

constexpr int64_t kMaxId = INT64_MAX / 2;
constexpr size_t kMaxEventTypeBytes = 64;

void addWebhookFields(cJSON* o, const Webhook& w) {
  out::integer(o, "id", w.id);
  out::integer(o, "tenant_id", w.tenant_id);
  out::string(o, "url", w.url);
  cJSON* events = cJSON_CreateArray();
  for (const std::string& e : w.events) cJSON_AddItemToArray(events, cJSON_CreateString(e.c_str()));
  cJSON_AddItemToObject(o, "events", events);
  out::string(o, "description", w.description);
  out::boolean(o, "enabled", w.enabled);
  out::time(o, "created_at", w.created_at_ms);
}

void addDeliveryFields(cJSON* o, const OutboxEntry& e) {
  out::integer(o, "id", e.id);
  out::integer(o, "webhook_id", e.webhook_id);
  out::string(o, "message_id", e.message_id);
  out::string(o, "event_type", e.event_type);
  out::string(o, "state", e.state);
  out::integer(o, "attempts", e.attempts);
  out::time(o, "created_at", e.created_at_ms);
  out::optionalTime(
      o, "next_attempt_at",
      e.state == "pending" ? std::optional<int64_t>(e.next_attempt_at_ms) : std::nullopt);
  out::optionalTime(o, "last_attempt_at", e.last_attempt_at_ms);
  out::optionalInteger(o, "last_status", e.last_status);
  out::optionalString(
      o, "last_error",
      e.last_error.empty() ? std::nullopt : std::optional<std::string>(e.last_error));
  out::optionalTime(o, "delivered_at", e.delivered_at_ms);
}

AdminAnswer webhookAnswer(const Webhook& w, int status, bool with_secret) {
  json::JsonPtr root(cJSON_CreateObject());
  addWebhookFields(root.get(), w);
  if (with_secret) out::string(root.get(), "secret", w.secret);
  return out::answer(root, status);
}

// The `events` member: known types only, at least one; returned in documentation order
// without duplicates. Absent: nullopt.
ApiResult<std::optional<std::vector<std::string>>> eventsField(const JsonBody& body) {
  const size_t max_items = ev::subscribableTypes().size() * 2;
  auto given = body.optionalStringArray("events", max_items, kMaxEventTypeBytes);
  if (!given.ok()) return given.error();
  if (!given.value()) return std::optional<std::vector<std::string>>();
  const std::vector<std::string>& names = *given.value();
  if (names.empty()) return invalidField("events", "must name at least one event type");
  for (const std::string& name : names) {
    if (!ev::isSubscribableType(name)) {
      std::string known;
      for (const std::string& t : ev::subscribableTypes()) {
        if (!known.empty()) known += ", ";
        known += t;
      }
      return invalidField("events", "unknown event type '" + name + "' (known: " + known + ")");
    }
  }
  std::vector<std::string> events;
  for (const std::string& t : ev::subscribableTypes()) {
    if (std::find(names.begin(), names.end(), t) != names.end()) events.push_back(t);
  }
  return std::optional<std::vector<std::string>>(std::move(events));
}

}  // namespace

ApiResult<bool> checkWebhookUrl(const std::string& url) {
  if (url.size() > WebhookAdminService::kMaxUrlBytes) {
    return invalidField("url", "must be at most 2048 bytes");
  }
  try {
    const Poco::URI uri(url);
    if (uri.getScheme() != "http" && uri.getScheme() != "https") {
      return invalidField("url", "must be an http:// or https:// URL");
    }
    if (uri.getHost().empty()) return invalidField("url", "must name a host");
    if (!uri.getUserInfo().empty()) {
      return invalidField("url", "must not carry user information (user:password@)");
    }
  } catch (const Poco::Exception&) {
    return invalidField("url", "is not a valid URL");
  }
  return true;
}

void WebhookAdminService::registerRoutes(AdminRouteTable& table) {
  table.add("GET", "/api/v1/webhooks", AdminRole::kReadOnly,
            [this](const AdminRequest& r) { return listWebhooks(r); });
  table.add("POST", "/api/v1/webhooks", AdminRole::kAdmin,
            [this](const AdminRequest& r) { return createWebhook(r); });
  table.add("GET", "/api/v1/webhooks/{webhook_id}", AdminRole::kReadOnly,
            [this](const AdminRequest& r) { return getWebhook(r); });
  table.add("PATCH", "/api/v1/webhooks/{webhook_id}", AdminRole::kAdmin,
            [this](const AdminRequest& r) { return updateWebhook(r); });
  table.add("DELETE", "/api/v1/webhooks/{webhook_id}", AdminRole::kAdmin,
            [this](const AdminRequest& r) { return deleteWebhook(r); });
  table.add("GET", "/api/v1/webhooks/{webhook_id}/deliveries", AdminRole::kReadOnly,
            [this](const AdminRequest& r) { return listDeliveries(r); });
  table.add("POST", "/api/v1/webhooks/{webhook_id}/test", AdminRole::kAdmin,
            [this](const AdminRequest& r) { return sendTestEvent(r); });
}

ApiResult<std::optional<std::string>> WebhookAdminService::urlField(const JsonBody& body,
                                                                    bool required) const {
  std::optional<std::string> url;
  if (required) {
    auto given = body.requiredString("url", kMaxUrlBytes);
    if (!given.ok()) return given.error();
    url = given.value();
  } else {
    auto given = body.optionalString("url", kMaxUrlBytes);
    if (!given.ok()) return given.error();
    url = given.value();
  }
  if (!url) return url;
  if (auto ok = checkWebhookUrl(*url); !ok.ok()) return ok.error();
  if (auto read = parseOutboundUrl(*url); !read.ok()) {
    return invalidField("url", read.error().message());
  }
  return url;
}

ApiResult<bool> WebhookAdminService::checkDestination(const std::string& url,
                                                      int64_t tenant_id) const {
  std::string refused;
  if (Status s = policy_.checkUrl(url, kLookupTimeout, &refused); !s.ok()) {
    if (s.code() != StatusCode::kPermissionDenied) return invalidField("url", s.message());
    if (warn_) {
      warn_("tenant " + std::to_string(tenant_id) + ": webhook URL refused: " + refused);
    }
    return badRequest(errors::kDestinationNotAllowed, "url: " + s.message());
  }
  return true;
}

ApiResult<Webhook> WebhookAdminService::findVisibleWebhook(const AdminRequest& request) {
  auto id = parseIdParam(request, "webhook_id", "webhook");
  if (!id.ok()) return id.error();
  auto found = store_.findWebhook(id.value());
  if (!found.ok()) return storeFailure(found.error());
  if (!found.value() || !request.principal.scope.allows(found.value()->tenant_id)) {
    return notFound("webhook");
  }
  return std::move(*found.value());
}

ApiResult<AdminAnswer> WebhookAdminService::listWebhooks(const AdminRequest& request) {
  auto limit = parseLimit(request);
  if (!limit.ok()) return limit.error();
  auto after = cursorId(request, 0);
  if (!after.ok()) return after.error();
  auto tenant = idQueryParam(request, "tenant_id");
  if (!tenant.ok()) return tenant.error();
  auto rows = store_.listWebhooks(request.principal.scope, tenant.value(), after.value(),
                                  limit.value() + 1);
  if (!rows.ok()) return storeFailure(rows.error());
  std::vector<Webhook>& webhooks = rows.value();
  const bool more = webhooks.size() > limit.value();
  if (more) webhooks.resize(limit.value());
  cJSON* items = cJSON_CreateArray();
  for (const Webhook& w : webhooks) {
    cJSON* item = cJSON_CreateObject();
    addWebhookFields(item, w);
    cJSON_AddItemToArray(items, item);
  }
  std::optional<std::string> next;
  if (more) next = encodeCursor(std::to_string(webhooks.back().id));
  return AdminAnswer{200, out::page(items, next)};
}

ApiResult<AdminAnswer> WebhookAdminService::createWebhook(const AdminRequest& request) {
  auto parsed = JsonBody::parse(request.body);
  if (!parsed.ok()) return parsed.error();
  const JsonBody& body = parsed.value();
  if (auto only = body.checkOnly({"tenant_id", "url", "events", "description", "enabled"});
      !only.ok()) {
    return only.error();
  }
  auto tenant_id = body.optionalInteger("tenant_id", 1, kMaxId);
  if (!tenant_id.ok()) return tenant_id.error();
  if (!tenant_id.value()) {
    return ApiError{400, "missing_field", "tenant_id: is required", std::nullopt};
  }
  auto url = urlField(body, /*required=*/true);
  if (!url.ok()) return url.error();
  auto events = eventsField(body);
  if (!events.ok()) return events.error();
  auto description = body.optionalString("description", kMaxDescriptionBytes, true);
  if (!description.ok()) return description.error();
  auto enabled = body.optionalBool("enabled");
  if (!enabled.ok()) return enabled.error();

  auto tenant = tenancy_.findTenant(*tenant_id.value());
  if (!tenant.ok()) return storeFailure(tenant.error());
  if (!tenant.value() || !request.principal.scope.allows(*tenant_id.value())) {
    return notFound("tenant");
  }
  // After the scope check: only a caller who may create the webhook makes the collector resolve
  // its host.
  if (auto allowed = checkDestination(*url.value(), *tenant_id.value()); !allowed.ok()) {
    return allowed.error();
  }
  NewWebhook w;
  w.tenant_id = *tenant_id.value();
  w.url = *url.value();
  w.events = events.value().value_or(ev::subscribableTypes());
  w.description = description.value().value_or("");
  w.enabled = enabled.value().value_or(true);
  auto created = store_.createWebhook(w, request.now_ms);
  if (!created.ok()) return storeFailure(created.error());
  return webhookAnswer(created.value(), 201, /*with_secret=*/true);
}

ApiResult<AdminAnswer> WebhookAdminService::getWebhook(const AdminRequest& request) {
  auto w = findVisibleWebhook(request);
  if (!w.ok()) return w.error();
  return webhookAnswer(w.value(), 200, /*with_secret=*/false);
}

ApiResult<AdminAnswer> WebhookAdminService::updateWebhook(const AdminRequest& request) {
  auto w = findVisibleWebhook(request);
  if (!w.ok()) return w.error();
  auto parsed = JsonBody::parse(request.body);
  if (!parsed.ok()) return parsed.error();
  const JsonBody& body = parsed.value();
  if (auto only = body.checkOnly({"url", "events", "description", "enabled"}); !only.ok()) {
    return only.error();
  }
  WebhookUpdate update;
  auto url = urlField(body, /*required=*/false);
  if (!url.ok()) return url.error();
  update.url = url.value();
  auto events = eventsField(body);
  if (!events.ok()) return events.error();
  update.events = events.value();
  auto description = body.optionalString("description", kMaxDescriptionBytes, true);
  if (!description.ok()) return description.error();
  update.description = description.value();
  auto enabled = body.optionalBool("enabled");
  if (!enabled.ok()) return enabled.error();
  update.enabled = enabled.value();
  if (update.url) {
    if (auto allowed = checkDestination(*update.url, w.value().tenant_id); !allowed.ok()) {
      return allowed.error();
    }
  }
  auto updated = store_.updateWebhook(w.value().id, update);
  if (!updated.ok()) return storeFailure(updated.error());
  if (!updated.value()) return notFound("webhook");  // deleted meanwhile
  return webhookAnswer(*updated.value(), 200, /*with_secret=*/false);
}

ApiResult<AdminAnswer> WebhookAdminService::deleteWebhook(const AdminRequest& request) {
  auto w = findVisibleWebhook(request);
  if (!w.ok()) return w.error();
  auto deleted = store_.deleteWebhook(w.value().id);
  if (!deleted.ok()) return storeFailure(deleted.error());
  if (!deleted.value()) return notFound("webhook");
  return AdminAnswer{204, ""};
}

ApiResult<AdminAnswer> WebhookAdminService::listDeliveries(const AdminRequest& request) {
  auto w = findVisibleWebhook(request);
  if (!w.ok()) return w.error();
  auto limit = parseLimit(request);
  if (!limit.ok()) return limit.error();
  auto before = cursorId(request, 0);
  if (!before.ok()) return before.error();
  auto rows = store_.listDeliveries(w.value().id, before.value(), limit.value() + 1);
  if (!rows.ok()) return storeFailure(rows.error());
  std::vector<OutboxEntry>& entries = rows.value();
  const bool more = entries.size() > limit.value();
  if (more) entries.resize(limit.value());
  cJSON* items = cJSON_CreateArray();
  for (const OutboxEntry& e : entries) {
    cJSON* item = cJSON_CreateObject();
    addDeliveryFields(item, e);
    cJSON_AddItemToArray(items, item);
  }
  std::optional<std::string> next;
  if (more) next = encodeCursor(std::to_string(entries.back().id));
  return AdminAnswer{200, out::page(items, next)};
}

ApiResult<AdminAnswer> WebhookAdminService::sendTestEvent(const AdminRequest& request) {
  auto w = findVisibleWebhook(request);
  if (!w.ok()) return w.error();
  if (!request.body.empty()) {
    auto parsed = JsonBody::parse(request.body);
    if (!parsed.ok()) return parsed.error();
    if (auto only = parsed.value().checkOnly({}); !only.ok()) return only.error();
  }
  if (!w.value().enabled) return conflict("the webhook is disabled; enable it to test it");
  const OutboxEvent event{ev::kWebhookTest,
                          std::string(ev::kWebhookTest) + ":" + std::to_string(w.value().id),
                          ev::testEventPayload(w.value(), request.now_ms)};
  auto entry = store_.enqueueWebhookEvent(w.value().id, event, request.now_ms);
  if (!entry.ok()) {
    if (entry.error().code() == StatusCode::kNotFound) return notFound("webhook");
    return storeFailure(entry.error());
  }
  if (on_enqueued_) on_enqueued_();
  json::JsonPtr root(cJSON_CreateObject());
  addDeliveryFields(root.get(), entry.value());
  return out::answer(root, 202);
}

}  // namespace vigil::collector
