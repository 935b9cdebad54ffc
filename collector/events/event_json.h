#pragma once

// The JSON of webhook events (docs/webhooks.md) and of the alert object the admin API shows.
//
// Layering: with webhook_signature.h this is collector/events (library vigil_collector_events),
// below the store. It depends only on the plain records of collector/core/records.h and on
// common/, so the store links it to render outbox payloads inside the transaction that changes
// an alert, while delivery (collector/notify) and the admin services sit above the store.

#include <cjson/cJSON.h>

#include <cstdint>
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

namespace webhook_events {

constexpr char kAlertOpened[] = "alert.opened";
constexpr char kAlertResolved[] = "alert.resolved";
constexpr char kAlertHeld[] = "alert.held";
constexpr char kAlertReleased[] = "alert.released";
constexpr char kCollectorDegraded[] = "collector.degraded";
constexpr char kCollectorRecovered[] = "collector.recovered";
// Sent only on request (POST /api/v1/webhooks/{id}/test), whatever the webhook's events.
constexpr char kWebhookTest[] = "webhook.test";

constexpr char kCollectorOrderingKey[] = "collector";

// The event types a webhook may subscribe to, in documentation order (the default set).
const std::vector<std::string>& subscribableTypes();
bool isSubscribableType(const std::string& type);

// "alert:<id>": events of one alert are delivered in order.
std::string alertOrderingKey(int64_t alert_id);

// {"type": type, "timestamp": at, "data": <the alert object>}.
std::string alertEventPayload(const std::string& type, const AlertRecord& alert, int64_t at_ms);

// collector.degraded or collector.recovered.
std::string healthEventType(const HealthRecord& health);
// {"type": ..., "timestamp": at, "data": {"degraded", "reasons": [..], "at"}}.
std::string healthEventPayload(const HealthRecord& health);

// {"type": "webhook.test", "timestamp": now, "data": {"webhook_id", "tenant_id"}}.
std::string testEventPayload(const Webhook& webhook, int64_t now_ms);

}  // namespace webhook_events
}  // namespace vigil::collector
