#include "collector/admin/channel_admin.h"

#include <Poco/Exception.h>
#include <Poco/URI.h>

#include <algorithm>
#include <cstdint>
#include <utility>

#include "collector/events/event_json.h"
#include "collector/notify/channel_kinds.h"
#include "collector/notify/secret_box.h"
#include "common/protocol.h"

namespace vigil::collector {
namespace {

namespace ev = webhook_events;
namespace errors = protocol::errors;

using View = ChannelAdminService::View;

constexpr int64_t kMaxId = INT64_MAX / 2;
const std::vector<std::string> kAgentClasses = {"server", "workstation"};
const std::vector<std::string> kAlertKinds = {"device_offline", "site_unreachable", "flapping"};
constexpr size_t kMaxEventTypeBytes = 64;

void addEvents(cJSON* o, const std::vector<std::string>& names) {
  cJSON* events = cJSON_CreateArray();
  for (const std::string& e : names) cJSON_AddItemToArray(events, cJSON_CreateString(e.c_str()));
  cJSON_AddItemToObject(o, "events", events);
}

// The names of the credentials set in `w`'s sealed credentials, in the kind's order; all of the
// kind's required ones if they cannot be opened here (every one was required to be set).
std::vector<std::string> credentialsSet(const Webhook& w, const SecretBox* box) {
  const ChannelKind* kind = findChannelKind(w.kind);
  if (kind == nullptr || w.kind == channel_kinds::kWebhook || w.secret.empty()) return {};
  json::JsonPtr opened;
  if (box != nullptr) {
    if (auto plain = box->open(w.secret, kCredentialsContext); plain.ok()) {
      opened = json::parse(plain.value());
    }
  }
  std::vector<std::string> names;
  for (const std::string& f : kind->credential_fields) {
    const cJSON* value =
        opened ? cJSON_GetObjectItemCaseSensitive(opened.get(), f.c_str()) : nullptr;
    const bool set = opened ? cJSON_IsString(value) && value->valuestring[0] != '\0'
                            : w.kind != channel_kinds::kEmail;
    if (set) names.push_back(f);
  }
  return names;
}

// A channel as the API shows it; a webhook through /api/v1/webhooks as it always was.
void addChannelFields(cJSON* o, const Webhook& w, View view, const SecretBox* box) {
  out::integer(o, "id", w.id);
  out::integer(o, "tenant_id", w.tenant_id);
  if (view == View::kChannels) out::string(o, "kind", w.kind);
  out::string(o, "url", w.url);
  addEvents(o, w.events);
  if (view == View::kChannels) {
    json::JsonPtr settings = json::parse(w.settings);
    cJSON_AddItemToObject(
        o, "settings",
        settings && cJSON_IsObject(settings.get()) ? settings.release() : cJSON_CreateObject());
    // The names of the credentials that are set, never their values.
    cJSON* set = cJSON_AddArrayToObject(o, "credentials_set");
    for (const std::string& f : credentialsSet(w, box)) {
      cJSON_AddItemToArray(set, cJSON_CreateString(f.c_str()));
    }
    cJSON_AddItemToObject(o, "filter", channelFilterJson(w.filter));
    cJSON* follow_up = cJSON_AddObjectToObject(o, "follow_up");
    auto minutesOrNull = [follow_up](const char* name, int64_t seconds) {
      if (seconds > 0) {
        json::addInteger(follow_up, name, seconds / 60);
      } else {
        cJSON_AddNullToObject(follow_up, name);
      }
    };
    minutesOrNull("remind_every_minutes", w.follow_up.remind_every_s);
    minutesOrNull("escalate_after_minutes", w.follow_up.escalate_after_s);
    if (w.follow_up.escalate_to > 0) {
      json::addInteger(follow_up, "escalate_to", w.follow_up.escalate_to);
    } else {
      cJSON_AddNullToObject(follow_up, "escalate_to");
    }
  }
  out::string(o, "description", w.description);
  out::boolean(o, "enabled", w.enabled);
  out::time(o, "created_at", w.created_at_ms);
}

void addDeliveryFields(cJSON* o, const OutboxEntry& e, View view) {
  out::integer(o, "id", e.id);
  out::integer(o, view == View::kChannels ? "channel_id" : "webhook_id", e.webhook_id);
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

AdminAnswer channelAnswer(const Webhook& w, View view, int status, bool with_secret,
                          const SecretBox* box) {
  json::JsonPtr root(cJSON_CreateObject());
  addChannelFields(root.get(), w, view, box);
  if (with_secret && w.kind == channel_kinds::kWebhook) out::string(root.get(), "secret", w.secret);
  return out::answer(root, status);
}

std::string joinedNames(const std::vector<std::string>& names) {
  std::string joined;
  for (const std::string& n : names) joined += (joined.empty() ? "" : ", ") + n;
  return joined;
}

// The `events` member: types `kind` may receive, at least one; returned in documentation
// order without duplicates. Absent: nullopt.
ApiResult<std::optional<std::vector<std::string>>> eventsField(const JsonBody& body,
                                                               const ChannelKind& kind) {
  const size_t max_items = ev::subscribableTypes().size() * 2;
  auto given = body.optionalStringArray("events", max_items, kMaxEventTypeBytes);
  if (!given.ok()) return given.error();
  if (!given.value()) return std::optional<std::vector<std::string>>();
  const std::vector<std::string>& names = *given.value();
  if (names.empty()) return invalidField("events", "must name at least one event type");
  for (const std::string& name : names) {
    if (std::find(kind.events.begin(), kind.events.end(), name) == kind.events.end()) {
      return invalidField(
          "events", "'" + name + "' is not an event type a " + kind.name +
                        " channel receives (those it does: " + joinedNames(kind.events) + ")");
    }
  }
  std::vector<std::string> events;
  for (const std::string& t : ev::subscribableTypes()) {
    if (std::find(names.begin(), names.end(), t) != names.end()) events.push_back(t);
  }
  return std::optional<std::vector<std::string>>(std::move(events));
}

// `names` are all in `allowed`: else 400 naming `field`.
ApiResult<bool> namesIn(const std::string& field, const std::vector<std::string>& names,
                        const std::vector<std::string>& allowed) {
  for (const std::string& n : names) {
    if (std::find(allowed.begin(), allowed.end(), n) == allowed.end()) {
      return invalidField(field, "'" + n + "' is not one of " + joinedNames(allowed));
    }
  }
  return true;
}

}  // namespace

ApiResult<bool> checkWebhookUrl(const std::string& url) {
  if (url.size() > ChannelAdminService::kMaxUrlBytes) {
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

void ChannelAdminService::registerRoutes(AdminRouteTable& table) {
  for (View view : {View::kChannels, View::kWebhooks}) {
    const std::string base = view == View::kChannels ? "/api/v1/channels" : "/api/v1/webhooks";
    const std::string one = base + (view == View::kChannels ? "/{channel_id}" : "/{webhook_id}");
    table.add("GET", base, AdminRole::kReadOnly,
              [this, view](const AdminRequest& r) { return list(view, r); });
    table.add("POST", base, AdminRole::kAdmin,
              [this, view](const AdminRequest& r) { return create(view, r); });
    table.add("GET", one, AdminRole::kReadOnly,
              [this, view](const AdminRequest& r) { return get(view, r); });
    table.add("PATCH", one, AdminRole::kAdmin,
              [this, view](const AdminRequest& r) { return update(view, r); });
    table.add("DELETE", one, AdminRole::kAdmin,
              [this, view](const AdminRequest& r) { return remove(view, r); });
    table.add("GET", one + "/deliveries", AdminRole::kReadOnly,
              [this, view](const AdminRequest& r) { return listDeliveries(view, r); });
    table.add("POST", one + "/test", AdminRole::kAdmin,
              [this, view](const AdminRequest& r) { return sendTestEvent(view, r); });
  }
}

ApiResult<std::optional<std::string>> ChannelAdminService::urlField(const JsonBody& body,
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

ApiResult<std::optional<ChannelFilter>> ChannelAdminService::filterField(const JsonBody& body,
                                                                         int64_t tenant_id) const {
  const cJSON* given = body.raw("filter");
  if (given == nullptr || cJSON_IsNull(given)) return std::optional<ChannelFilter>();
  auto nested = JsonBody::parse(json::print(given));
  if (!nested.ok() || !cJSON_IsObject(given)) {
    return invalidField("filter", "must be an object");
  }
  const JsonBody& f = nested.value();
  // Errors name the member as "filter.<member>".
  auto prefixed = [](const ApiError& e) {
    ApiError out = e;
    out.message = "filter." + e.message;
    return out;
  };
  if (auto only = f.checkOnly({"site_ids", "agent_classes", "alert_kinds"}); !only.ok()) {
    return prefixed(only.error());
  }
  ChannelFilter filter;
  auto sites = f.optionalIdArray("site_ids", kMaxFilterItems);
  if (!sites.ok()) return prefixed(sites.error());
  filter.site_ids = sites.value().value_or(std::vector<int64_t>{});
  auto classes = f.optionalStringArray("agent_classes", kMaxFilterItems, kMaxEventTypeBytes);
  if (!classes.ok()) return prefixed(classes.error());
  filter.agent_classes = classes.value().value_or(std::vector<std::string>{});
  if (auto ok = namesIn("filter.agent_classes", filter.agent_classes, kAgentClasses); !ok.ok()) {
    return ok.error();
  }
  auto kinds = f.optionalStringArray("alert_kinds", kMaxFilterItems, kMaxEventTypeBytes);
  if (!kinds.ok()) return prefixed(kinds.error());
  filter.alert_kinds = kinds.value().value_or(std::vector<std::string>{});
  if (auto ok = namesIn("filter.alert_kinds", filter.alert_kinds, kAlertKinds); !ok.ok()) {
    return ok.error();
  }
  for (int64_t site_id : filter.site_ids) {
    auto site = tenancy_.findSite(site_id);
    if (!site.ok()) return storeFailure(site.error());
    // Another tenant's site reads like an unknown one.
    if (!site.value() || site.value()->tenant_id != tenant_id) {
      return invalidField("filter.site_ids",
                          "site " + std::to_string(site_id) + " is not a site of this tenant");
    }
  }
  return std::optional<ChannelFilter>(std::move(filter));
}

ApiResult<std::optional<ChannelFollowUp>> ChannelAdminService::followUpField(
    const JsonBody& body, int64_t tenant_id, int64_t channel_id) const {
  const cJSON* given = body.raw("follow_up");
  if (given == nullptr) return std::optional<ChannelFollowUp>();
  if (cJSON_IsNull(given)) return std::optional<ChannelFollowUp>(ChannelFollowUp{});
  auto nested = JsonBody::parse(json::print(given));
  if (!nested.ok() || !cJSON_IsObject(given)) return invalidField("follow_up", "must be an object");
  const JsonBody& f = nested.value();
  auto prefixed = [](const ApiError& e) {
    ApiError out = e;
    out.message = "follow_up." + e.message;
    return out;
  };
  if (auto only = f.checkOnly({"remind_every_minutes", "escalate_after_minutes", "escalate_to"});
      !only.ok()) {
    return prefixed(only.error());
  }
  ChannelFollowUp follow_up;
  auto remind = f.optionalInteger("remind_every_minutes", kMinRemindMinutes, kMaxFollowUpMinutes);
  if (!remind.ok()) return prefixed(remind.error());
  auto after = f.optionalInteger("escalate_after_minutes", 1, kMaxFollowUpMinutes);
  if (!after.ok()) return prefixed(after.error());
  auto to = f.optionalInteger("escalate_to", 1, kMaxId);
  if (!to.ok()) return prefixed(to.error());
  follow_up.remind_every_s = remind.value().value_or(0) * 60;
  follow_up.escalate_after_s = after.value().value_or(0) * 60;
  follow_up.escalate_to = to.value().value_or(0);
  if ((follow_up.escalate_after_s > 0) != (follow_up.escalate_to > 0)) {
    return invalidField("follow_up", "escalate_after_minutes and escalate_to go together");
  }
  if (follow_up.escalate_to > 0) {
    if (follow_up.escalate_to == channel_id) {
      return invalidField("follow_up.escalate_to", "must be another channel");
    }
    auto target = store_.findWebhook(follow_up.escalate_to);
    if (!target.ok()) return storeFailure(target.error());
    // Another tenant's channel reads like an unknown one.
    if (!target.value() || target.value()->tenant_id != tenant_id) {
      return invalidField(
          "follow_up.escalate_to",
          "channel " + std::to_string(follow_up.escalate_to) + " is not a channel of this tenant");
    }
  }
  return std::optional<ChannelFollowUp>(follow_up);
}

ApiResult<bool> ChannelAdminService::checkDestination(const std::string& member,
                                                      const std::string& url,
                                                      int64_t tenant_id) const {
  std::string refused;
  if (Status s = policy_.checkUrl(url, kLookupTimeout, &refused); !s.ok()) {
    if (s.code() != StatusCode::kPermissionDenied) return invalidField(member, s.message());
    if (warn_) {
      warn_("tenant " + std::to_string(tenant_id) + ": channel destination (" + member +
            ") refused: " + refused);
    }
    return badRequest(errors::kDestinationNotAllowed, member + ": " + s.message());
  }
  return true;
}

ApiResult<ChannelAdminService::Configured> ChannelAdminService::configure(
    const std::string& kind, const JsonBody& body, int64_t tenant_id,
    const Webhook* current) const {
  if (credentials_ == nullptr) {
    return ApiError{503, "credentials_unavailable",
                    "this collector has no key to keep channel credentials with", std::nullopt};
  }
  std::string current_credentials;
  if (current != nullptr && !current->secret.empty()) {
    // Credentials sealed under another key (a collector given another key file) cannot be
    // opened: then the change must give every credential again.
    auto opened = credentials_->open(current->secret, kCredentialsContext);
    if (opened.ok()) current_credentials = opened.value();
  }
  auto setup = checkChannelSetup(kind, body.raw("settings"), body.raw("credentials"),
                                 current != nullptr ? current->settings : std::string(),
                                 current_credentials);
  if (!setup.ok()) {
    const std::string& message = setup.error().message();
    const size_t colon = message.find(": ");
    return invalidField(message.substr(0, colon),
                        colon == std::string::npos ? "is invalid" : message.substr(colon + 2));
  }
  // Slack and Teams send to the credential URL itself; the others to their API URL.
  std::string destination = setup.value().url;
  std::string member = "settings.api_url";
  if (kind == channel_kinds::kEmail) {
    // "smtp://host:port": screened as the same host and port would be in a URL.
    destination = "https://" + setup.value().url.substr(std::string("smtp://").size()) + "/";
    member = "settings.smtp_host";
  } else if (kind == channel_kinds::kSlack || kind == channel_kinds::kTeams) {
    json::JsonPtr c = json::parse(setup.value().credentials);
    const cJSON* url = cJSON_GetObjectItemCaseSensitive(c.get(), "webhook_url");
    destination = cJSON_IsString(url) ? url->valuestring : "";
    member = "credentials.webhook_url";
  }
  if (auto allowed = checkDestination(member, destination, tenant_id); !allowed.ok()) {
    return allowed.error();
  }
  if (kind == channel_kinds::kHaloPsa) {
    // HaloPSA's authorisation server may be another host than its API.
    json::JsonPtr settings = json::parse(setup.value().settings);
    const cJSON* auth = cJSON_GetObjectItemCaseSensitive(settings.get(), "auth_url");
    if (cJSON_IsString(auth)) {
      if (auto allowed = checkDestination("settings.auth_url", auth->valuestring, tenant_id);
          !allowed.ok()) {
        return allowed.error();
      }
    }
  }
  auto sealed = credentials_->seal(setup.value().credentials, kCredentialsContext);
  if (!sealed.ok()) {
    return ApiError{500, errors::kInternal, "cannot seal the credentials", std::nullopt};
  }
  return Configured{setup.value().url, setup.value().settings, sealed.value()};
}

ApiResult<Webhook> ChannelAdminService::findVisible(View view, const AdminRequest& request) {
  const bool channels = view == View::kChannels;
  const char* what = channels ? "channel" : "webhook";
  auto id = parseIdParam(request, channels ? "channel_id" : "webhook_id", what);
  if (!id.ok()) return id.error();
  auto found = store_.findWebhook(id.value());
  if (!found.ok()) return storeFailure(found.error());
  if (!found.value() || !request.principal.scope.allows(found.value()->tenant_id) ||
      (!channels && found.value()->kind != channel_kinds::kWebhook)) {
    return notFound(what);
  }
  return std::move(*found.value());
}

ApiResult<AdminAnswer> ChannelAdminService::list(View view, const AdminRequest& request) {
  auto limit = parseLimit(request);
  if (!limit.ok()) return limit.error();
  auto after = cursorId(request, 0);
  if (!after.ok()) return after.error();
  auto tenant = idQueryParam(request, "tenant_id");
  if (!tenant.ok()) return tenant.error();
  std::optional<std::string> kind;
  if (view == View::kWebhooks) {
    kind = channel_kinds::kWebhook;
  } else if (auto given = request.queryParam("kind")) {
    if (findChannelKind(*given) == nullptr) {
      return invalidField("kind", "must be one of " + channelKindNames());
    }
    kind = *given;
  }
  auto rows = store_.listWebhooks(request.principal.scope, tenant.value(), kind, after.value(),
                                  limit.value() + 1);
  if (!rows.ok()) return storeFailure(rows.error());
  std::vector<Webhook>& channels = rows.value();
  const bool more = channels.size() > limit.value();
  if (more) channels.resize(limit.value());
  cJSON* items = cJSON_CreateArray();
  for (const Webhook& w : channels) {
    cJSON* item = cJSON_CreateObject();
    addChannelFields(item, w, view, credentials_);
    cJSON_AddItemToArray(items, item);
  }
  std::optional<std::string> next;
  if (more) next = encodeCursor(std::to_string(channels.back().id));
  return AdminAnswer{200, out::page(items, next)};
}

ApiResult<AdminAnswer> ChannelAdminService::create(View view, const AdminRequest& request) {
  auto parsed = JsonBody::parse(request.body);
  if (!parsed.ok()) return parsed.error();
  const JsonBody& body = parsed.value();
  const bool channels = view == View::kChannels;
  auto only = channels ? body.checkOnly({"tenant_id", "kind", "url", "settings", "credentials",
                                         "events", "filter", "follow_up", "description", "enabled"})
                       : body.checkOnly({"tenant_id", "url", "events", "description", "enabled"});
  if (!only.ok()) return only.error();
  auto tenant_id = body.optionalInteger("tenant_id", 1, kMaxId);
  if (!tenant_id.ok()) return tenant_id.error();
  if (!tenant_id.value()) {
    return ApiError{400, "missing_field", "tenant_id: is required", std::nullopt};
  }
  std::string kind_name = channel_kinds::kWebhook;
  if (channels) {
    auto given = body.requiredString("kind", kMaxEventTypeBytes);
    if (!given.ok()) return given.error();
    kind_name = given.value();
  }
  const ChannelKind* kind = findChannelKind(kind_name);
  if (kind == nullptr) return invalidField("kind", "must be one of " + channelKindNames());
  const bool webhook = kind->name == channel_kinds::kWebhook;
  if (webhook && (body.has("settings") || body.has("credentials"))) {
    return invalidField(body.has("settings") ? "settings" : "credentials",
                        "a webhook has none (its secret is generated)");
  }
  if (!webhook && body.has("url")) {
    const bool chat = kind->name == channel_kinds::kSlack || kind->name == channel_kinds::kTeams;
    const bool email = kind->name == channel_kinds::kEmail;
    return invalidField("url", "a " + kind->name + " channel's address is in its " +
                                   (chat    ? "credentials (webhook_url)"
                                    : email ? "settings (smtp_host, smtp_port)"
                                            : "settings (api_url)"));
  }
  std::optional<std::string> url;
  if (webhook) {
    auto given = urlField(body, /*required=*/true);
    if (!given.ok()) return given.error();
    url = given.value();
  }
  auto events = eventsField(body, *kind);
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
  // After the scope check: only a caller who may create the channel makes the collector look
  // up its sites or resolve its host.
  auto filter = filterField(body, *tenant_id.value());
  if (!filter.ok()) return filter.error();
  auto follow_up = followUpField(body, *tenant_id.value(), 0);
  if (!follow_up.ok()) return follow_up.error();
  NewWebhook w;
  w.tenant_id = *tenant_id.value();
  w.kind = kind->name;
  if (webhook) {
    if (auto allowed = checkDestination("url", *url, w.tenant_id); !allowed.ok()) {
      return allowed.error();
    }
    w.url = *url;
  } else {
    auto configured = configure(kind->name, body, w.tenant_id, nullptr);
    if (!configured.ok()) return configured.error();
    w.url = configured.value().url;
    w.settings = configured.value().settings;
    w.secret = configured.value().secret;
  }
  w.events = events.value().value_or(kind->default_events);
  w.filter = filter.value().value_or(ChannelFilter{});
  w.follow_up = follow_up.value().value_or(ChannelFollowUp{});
  w.description = description.value().value_or("");
  w.enabled = enabled.value().value_or(true);
  auto created = store_.createWebhook(w, request.now_ms);
  if (!created.ok()) return storeFailure(created.error());
  return channelAnswer(created.value(), view, 201, /*with_secret=*/true, credentials_);
}

ApiResult<AdminAnswer> ChannelAdminService::get(View view, const AdminRequest& request) {
  auto w = findVisible(view, request);
  if (!w.ok()) return w.error();
  return channelAnswer(w.value(), view, 200, /*with_secret=*/false, credentials_);
}

ApiResult<AdminAnswer> ChannelAdminService::update(View view, const AdminRequest& request) {
  auto w = findVisible(view, request);
  if (!w.ok()) return w.error();
  const Webhook& current = w.value();
  auto parsed = JsonBody::parse(request.body);
  if (!parsed.ok()) return parsed.error();
  const JsonBody& body = parsed.value();
  const bool webhook = current.kind == channel_kinds::kWebhook;
  auto only = view == View::kChannels
                  ? body.checkOnly({"url", "settings", "credentials", "events", "filter",
                                    "follow_up", "description", "enabled"})
                  : body.checkOnly({"url", "events", "description", "enabled"});
  if (!only.ok()) return only.error();
  if (webhook && (body.has("settings") || body.has("credentials"))) {
    return invalidField(body.has("settings") ? "settings" : "credentials",
                        "a webhook has none (its secret is generated)");
  }
  if (!webhook && body.has("url")) {
    return invalidField("url", "a " + current.kind + " channel's address is not changed by url");
  }
  const ChannelKind* kind = findChannelKind(current.kind);
  if (kind == nullptr) return conflict("the channel's kind is unknown to this collector");
  WebhookUpdate update;
  auto url = urlField(body, /*required=*/false);
  if (!url.ok()) return url.error();
  update.url = url.value();
  auto events = eventsField(body, *kind);
  if (!events.ok()) return events.error();
  update.events = events.value();
  auto filter = filterField(body, current.tenant_id);
  if (!filter.ok()) return filter.error();
  update.filter = filter.value();
  auto follow_up = followUpField(body, current.tenant_id, current.id);
  if (!follow_up.ok()) return follow_up.error();
  update.follow_up = follow_up.value();
  auto description = body.optionalString("description", kMaxDescriptionBytes, true);
  if (!description.ok()) return description.error();
  update.description = description.value();
  auto enabled = body.optionalBool("enabled");
  if (!enabled.ok()) return enabled.error();
  update.enabled = enabled.value();
  if (update.url) {
    if (auto allowed = checkDestination("url", *update.url, current.tenant_id); !allowed.ok()) {
      return allowed.error();
    }
  }
  if (!webhook && (body.has("settings") || body.has("credentials"))) {
    auto configured = configure(current.kind, body, current.tenant_id, &current);
    if (!configured.ok()) return configured.error();
    update.url = configured.value().url;
    update.settings = configured.value().settings;
    update.secret = configured.value().secret;
  }
  auto updated = store_.updateWebhook(current.id, update);
  if (!updated.ok()) return storeFailure(updated.error());
  if (!updated.value()) return notFound(view == View::kChannels ? "channel" : "webhook");
  return channelAnswer(*updated.value(), view, 200, /*with_secret=*/false, credentials_);
}

ApiResult<AdminAnswer> ChannelAdminService::remove(View view, const AdminRequest& request) {
  auto w = findVisible(view, request);
  if (!w.ok()) return w.error();
  auto deleted = store_.deleteWebhook(w.value().id);
  if (!deleted.ok()) return storeFailure(deleted.error());
  if (!deleted.value()) return notFound(view == View::kChannels ? "channel" : "webhook");
  return AdminAnswer{204, ""};
}

ApiResult<AdminAnswer> ChannelAdminService::listDeliveries(View view, const AdminRequest& request) {
  auto w = findVisible(view, request);
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
    addDeliveryFields(item, e, view);
    cJSON_AddItemToArray(items, item);
  }
  std::optional<std::string> next;
  if (more) next = encodeCursor(std::to_string(entries.back().id));
  return AdminAnswer{200, out::page(items, next)};
}

ApiResult<AdminAnswer> ChannelAdminService::sendTestEvent(View view, const AdminRequest& request) {
  auto w = findVisible(view, request);
  if (!w.ok()) return w.error();
  if (!request.body.empty()) {
    auto parsed = JsonBody::parse(request.body);
    if (!parsed.ok()) return parsed.error();
    if (auto only = parsed.value().checkOnly({}); !only.ok()) return only.error();
  }
  const char* what = view == View::kChannels ? "channel" : "webhook";
  if (!w.value().enabled) {
    return conflict(std::string("the ") + what + " is disabled; enable it to test it");
  }
  const OutboxEvent event{ev::kWebhookTest,
                          std::string(ev::kWebhookTest) + ":" + std::to_string(w.value().id),
                          ev::testEventPayload(w.value(), request.now_ms)};
  auto entry = store_.enqueueWebhookEvent(w.value().id, event, request.now_ms);
  if (!entry.ok()) {
    if (entry.error().code() == StatusCode::kNotFound) return notFound(what);
    return storeFailure(entry.error());
  }
  if (on_enqueued_) on_enqueued_();
  json::JsonPtr root(cJSON_CreateObject());
  addDeliveryFields(root.get(), entry.value(), view);
  return out::answer(root, 202);
}

}  // namespace vigil::collector
