#pragma once

// The JSON of webhook events (docs/webhooks.md) and of the alert object the admin API shows.
//
// Layering: with webhook_signature.h this is collector/events (library vigil_collector_events),
// below the store. It depends only on the plain records of collector/core/records.h and on
// common/, so the store links it to render outbox payloads inside the transaction that changes
// an alert, while delivery (collector/notify) and the admin services sit above the store.

#include <cjson/cJSON.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "collector/core/records.h"

namespace vigil::collector {

// Adds the alert's members to `obj`, as the admin API shows an alert and as alert events carry
// it: id, kind, state, tenant_id, agent_id, site_id, opened_at, closed_at, held_since,
// held_reasons (array), suppression_reason, note, acknowledged_at, acknowledged_by, closed_by.
// Times are RFC 3339 UTC with milliseconds; unset values (and empty texts) are null.
// suppression_reason is the held reasons (comma-separated) of an alert the degradation detector
// held ("held", or "released" without ever opening), else null.
void addAlertFields(cJSON* obj, const AlertRecord& alert);

// A channel's filter as a JSON object: {"site_ids": [..], "agent_classes": [..],
// "alert_kinds": [..]}, every member present. The store keeps it so, and the admin API shows it
// so.
cJSON* channelFilterJson(const ChannelFilter& filter);
std::string printChannelFilter(const ChannelFilter& filter);
// The filter of such a text; members absent or of another type, and items not of the member's
// type, are left out (the store wrote it; the admin API checks what it is given).
ChannelFilter parseChannelFilter(const std::string& text);

// What the collector knows of an alert's subject when it announces the alert, so that a
// message can say more than ids: names, the agent's class and last evidence, its status and
// why, and what the agent itself reported of its recent outages (the outage diary).
struct AlertSubject {
  std::optional<std::string> hostname;     // unset for a site alert
  std::optional<std::string> agent_class;  // "server", "workstation"
  std::optional<std::string> os_name;
  std::optional<int64_t> site_id;
  std::string site_name;
  std::string tenant_name;
  std::optional<int64_t> last_seen_at_ms;  // the latest accepted heartbeat
  std::string status;                      // the agent's status now ("offline", ...)
  std::string status_reason;               // why (presence reason name)
  std::vector<OutageReport> outage_diary;  // newest first, those since the alert opened
};

// Adds {"hostname", "agent_class", "os", "site_name", "tenant_name", "last_seen_at", "status",
// "status_reason", "outage_diary": [{"from", "to", "cause"}]} as `obj`'s member "subject".
void addSubjectFields(cJSON* obj, const AlertSubject& subject);

namespace webhook_events {

constexpr char kAlertOpened[] = "alert.opened";
constexpr char kAlertResolved[] = "alert.resolved";
constexpr char kAlertHeld[] = "alert.held";
constexpr char kAlertReleased[] = "alert.released";
constexpr char kCollectorDegraded[] = "collector.degraded";
constexpr char kCollectorRecovered[] = "collector.recovered";
// Sent only on request (POST /api/v1/webhooks/{id}/test), whatever the webhook's events.
constexpr char kWebhookTest[] = "webhook.test";

// Follow-ups of an alert left open and unacknowledged (docs/notifications.md): sent only to
// the channels configured for them, whatever their events.
constexpr char kAlertReminder[] = "alert.reminder";
constexpr char kAlertEscalated[] = "alert.escalated";

constexpr char kCollectorOrderingKey[] = "collector";

// The event types a webhook may subscribe to, in documentation order (the default set).
const std::vector<std::string>& subscribableTypes();
bool isSubscribableType(const std::string& type);

// "alert:<id>": events of one alert are delivered in order.
std::string alertOrderingKey(int64_t alert_id);

// {"type": type, "timestamp": at, "data": <the alert object, with "subject" if given>}.
std::string alertEventPayload(const std::string& type, const AlertRecord& alert, int64_t at_ms,
                              const AlertSubject* subject = nullptr);

// A reminder or escalation of `alert`: the alert event's payload, with "follow_up" in data:
// {"reminder": n} (the n-th reminder) or {"escalated_from": channel id}, and
// "unacknowledged_for_s".
std::string followUpEventPayload(const std::string& type, const AlertRecord& alert, int64_t at_ms,
                                 const AlertSubject& subject, int64_t reminder,
                                 int64_t escalated_from);

// collector.degraded or collector.recovered.
std::string healthEventType(const HealthRecord& health);
// {"type": ..., "timestamp": at, "data": {"degraded", "reasons": [..], "at"}}.
std::string healthEventPayload(const HealthRecord& health);

// {"type": "webhook.test", "timestamp": now, "data": {"webhook_id", "tenant_id"}}.
std::string testEventPayload(const Webhook& webhook, int64_t now_ms);

}  // namespace webhook_events
}  // namespace vigil::collector
