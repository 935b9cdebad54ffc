#include "collector/events/event_json.h"

#include <algorithm>
#include <cstdio>

#include "common/json.h"
#include "common/time_format.h"

namespace vigil::collector {
namespace {

namespace ev = webhook_events;

void addTime(cJSON* obj, const char* name, int64_t unix_ms) {
  cJSON_AddStringToObject(obj, name, formatRfc3339Utc(unix_ms).c_str());
}

void addOptionalTime(cJSON* obj, const char* name, const std::optional<int64_t>& unix_ms) {
  if (unix_ms) {
    addTime(obj, name, *unix_ms);
  } else {
    cJSON_AddNullToObject(obj, name);
  }
}

// An empty text is null.
void addOptionalText(cJSON* obj, const char* name, const std::string& text) {
  if (text.empty()) {
    cJSON_AddNullToObject(obj, name);
  } else {
    json::addText(obj, name, text);
  }
}

// The names of a comma-separated list, as a JSON array.
cJSON* nameArray(const std::string& comma_separated) {
  cJSON* arr = cJSON_CreateArray();
  size_t start = 0;
  while (start < comma_separated.size()) {
    size_t end = comma_separated.find(',', start);
    if (end == std::string::npos) end = comma_separated.size();
    if (end > start) {
      const std::string name = comma_separated.substr(start, end - start);
      cJSON_AddItemToArray(arr, cJSON_CreateString(name.c_str()));
    }
    start = end + 1;
  }
  return arr;
}

// {"type", "timestamp", "data"}; takes ownership of `data`.
std::string envelope(const std::string& type, int64_t at_ms, cJSON* data) {
  json::JsonPtr root(cJSON_CreateObject());
  cJSON_AddStringToObject(root.get(), "type", type.c_str());
  addTime(root.get(), "timestamp", at_ms);
  cJSON_AddItemToObject(root.get(), "data", data);
  return json::print(root.get());
}

}  // namespace

void addAlertFields(cJSON* obj, const AlertRecord& alert) {
  json::addInteger(obj, "id", alert.id);
  cJSON_AddStringToObject(obj, "kind", alert.kind.c_str());
  cJSON_AddStringToObject(obj, "state", alert.state.c_str());
  json::addInteger(obj, "tenant_id", alert.tenant_id);
  if (alert.agent_id) {
    json::addText(obj, "agent_id", *alert.agent_id);
  } else {
    cJSON_AddNullToObject(obj, "agent_id");
  }
  if (alert.site_id) {
    json::addInteger(obj, "site_id", *alert.site_id);
  } else {
    cJSON_AddNullToObject(obj, "site_id");
  }
  addTime(obj, "opened_at", alert.opened_at_ms);
  addOptionalTime(obj, "closed_at", alert.closed_at_ms);
  addOptionalTime(obj, "held_since", alert.held_since_ms);
  cJSON_AddItemToObject(obj, "held_reasons", nameArray(alert.held_reasons));
  const bool suppressed = alert.state == "held" || alert.state == "released";
  addOptionalText(obj, "suppression_reason", suppressed ? alert.held_reasons : std::string());
  addOptionalText(obj, "note", alert.note);
  addOptionalTime(obj, "acknowledged_at", alert.acknowledged_at_ms);
  addOptionalText(obj, "acknowledged_by", alert.acknowledged_by);
  addOptionalText(obj, "closed_by", alert.closed_by);
}

cJSON* channelFilterJson(const ChannelFilter& filter) {
  cJSON* o = cJSON_CreateObject();
  cJSON* sites = cJSON_AddArrayToObject(o, "site_ids");
  for (int64_t id : filter.site_ids) {
    // Site ids are far below 2^53 (schema: never reused, INTEGER): exact as numbers.
    cJSON_AddItemToArray(sites, cJSON_CreateNumber(static_cast<double>(id)));
  }
  auto names = [o](const char* name, const std::vector<std::string>& values) {
    cJSON* arr = cJSON_AddArrayToObject(o, name);
    for (const std::string& v : values) cJSON_AddItemToArray(arr, cJSON_CreateString(v.c_str()));
  };
  names("agent_classes", filter.agent_classes);
  names("alert_kinds", filter.alert_kinds);
  return o;
}

std::string printChannelFilter(const ChannelFilter& filter) {
  json::JsonPtr o(channelFilterJson(filter));
  return json::print(o.get());
}

ChannelFilter parseChannelFilter(const std::string& text) {
  ChannelFilter filter;
  json::JsonPtr root = json::parse(text);
  if (!root || !cJSON_IsObject(root.get())) return filter;
  const cJSON* item = nullptr;
  cJSON_ArrayForEach(item, cJSON_GetObjectItemCaseSensitive(root.get(), "site_ids")) {
    if (json::isIntegerInRange(item, 1, json::kMaxExactInteger)) {
      filter.site_ids.push_back(static_cast<int64_t>(item->valuedouble));
    }
  }
  auto names = [&root](const char* name, std::vector<std::string>* out) {
    const cJSON* v = nullptr;
    cJSON_ArrayForEach(v, cJSON_GetObjectItemCaseSensitive(root.get(), name)) {
      if (cJSON_IsString(v)) out->emplace_back(v->valuestring);
    }
  };
  names("agent_classes", &filter.agent_classes);
  names("alert_kinds", &filter.alert_kinds);
  return filter;
}

void addSubjectFields(cJSON* obj, const AlertSubject& subject) {
  cJSON* o = cJSON_AddObjectToObject(obj, "subject");
  auto optionalText = [o](const char* name, const std::optional<std::string>& text) {
    addOptionalText(o, name, text.value_or(std::string()));
  };
  optionalText("hostname", subject.hostname);
  optionalText("agent_class", subject.agent_class);
  optionalText("os", subject.os_name);
  addOptionalText(o, "site_name", subject.site_name);
  addOptionalText(o, "tenant_name", subject.tenant_name);
  addOptionalTime(o, "last_seen_at", subject.last_seen_at_ms);
  addOptionalText(o, "status", subject.status);
  addOptionalText(o, "status_reason", subject.status_reason);
  cJSON* diary = cJSON_AddArrayToObject(o, "outage_diary");
  for (const OutageReport& r : subject.outage_diary) {
    cJSON* item = cJSON_CreateObject();
    addTime(item, "from", r.from_ms);
    addTime(item, "to", r.to_ms);
    json::addText(item, "cause", r.cause);
    cJSON_AddItemToArray(diary, item);
  }
}

namespace webhook_events {

const std::vector<std::string>& subscribableTypes() {
  static const std::vector<std::string> kTypes = {
      kAlertOpened,   kAlertResolved,     kAlertHeld,
      kAlertReleased, kCollectorDegraded, kCollectorRecovered,
  };
  return kTypes;
}

bool isSubscribableType(const std::string& type) {
  for (const std::string& t : subscribableTypes()) {
    if (t == type) return true;
  }
  return false;
}

std::string alertOrderingKey(int64_t alert_id) { return "alert:" + std::to_string(alert_id); }

std::string alertEventPayload(const std::string& type, const AlertRecord& alert, int64_t at_ms,
                              const AlertSubject* subject) {
  cJSON* data = cJSON_CreateObject();
  addAlertFields(data, alert);
  if (subject) addSubjectFields(data, *subject);
  return envelope(type, at_ms, data);
}

std::string followUpEventPayload(const std::string& type, const AlertRecord& alert, int64_t at_ms,
                                 const AlertSubject& subject, int64_t reminder,
                                 int64_t escalated_from) {
  cJSON* data = cJSON_CreateObject();
  addAlertFields(data, alert);
  addSubjectFields(data, subject);
  cJSON* follow_up = cJSON_AddObjectToObject(data, "follow_up");
  if (reminder > 0) json::addInteger(follow_up, "reminder", reminder);
  if (escalated_from > 0) json::addInteger(follow_up, "escalated_from", escalated_from);
  json::addInteger(follow_up, "unacknowledged_for_s",
                   std::max<int64_t>(0, (at_ms - alert.opened_at_ms) / 1000));
  return envelope(type, at_ms, data);
}

std::string healthEventType(const HealthRecord& health) {
  return health.degraded ? kCollectorDegraded : kCollectorRecovered;
}

std::string healthEventPayload(const HealthRecord& health) {
  cJSON* data = cJSON_CreateObject();
  cJSON_AddBoolToObject(data, "degraded", health.degraded ? 1 : 0);
  cJSON_AddItemToObject(data, "reasons", nameArray(health.reasons));
  addTime(data, "at", health.at_ms);
  return envelope(healthEventType(health), health.at_ms, data);
}

std::string testEventPayload(const Webhook& webhook, int64_t now_ms) {
  cJSON* data = cJSON_CreateObject();
  json::addInteger(data, "webhook_id", webhook.id);
  json::addInteger(data, "tenant_id", webhook.tenant_id);
  return envelope(kWebhookTest, now_ms, data);
}

}  // namespace webhook_events
}  // namespace vigil::collector
