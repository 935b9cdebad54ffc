#pragma once

// The messages of notification channels (docs/notifications.md): what an outbox event (its
// payload as collector/events/event_json.h writes it) becomes for Slack, Microsoft Teams,
// PagerDuty and Opsgenie. Pure functions of the event and the channel's settings: no I/O, no
// clock, no secrets (the caller adds credentials to the request).
//
// Every message says what Vigil knows: what happened to which host of which site and tenant,
// the status and its reason, the last evidence (last heartbeat), the outage diary the agent
// reported once back, and for an alert that was held, since when and why.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"

namespace vigil::collector {

// An outbox event, read back from its payload.
struct EventFacts {
  std::string type;  // "alert.opened", ..., "collector.degraded", "webhook.test"
  std::string timestamp;
  // Alert events.
  int64_t alert_id = 0;
  std::string alert_kind;   // "device_offline", "site_unreachable", "flapping"
  std::string alert_state;  // "open", "held", "released", "resolved"
  std::string agent_id;
  std::optional<int64_t> site_id;
  int64_t tenant_id = 0;
  std::string opened_at;
  std::string closed_at;
  std::string held_since;
  std::vector<std::string> held_reasons;
  std::string note;
  // The alert's subject (event_json.h, AlertSubject), when the payload carries it.
  std::string hostname;
  std::string agent_class;
  std::string os;
  std::string site_name;
  std::string tenant_name;
  std::string last_seen_at;
  std::string status;
  std::string status_reason;
  struct Outage {
    std::string from;
    std::string to;
    std::string cause;
  };
  std::vector<Outage> outage_diary;
  // Follow-ups (alert.reminder, alert.escalated).
  int64_t reminder = 0;        // the n-th reminder
  int64_t escalated_from = 0;  // the channel that escalated
  int64_t unacknowledged_for_s = 0;
  // Health events.
  bool degraded = false;
  std::vector<std::string> health_reasons;
  // The test event.
  int64_t channel_id = 0;

  bool isAlert() const { return alert_id != 0; }
  bool isHealth() const { return type == "collector.degraded" || type == "collector.recovered"; }
  bool isTest() const { return type == "webhook.test"; }
};

// kInvalidArgument if `payload` is not an event of a known type.
Result<EventFacts> readEventFacts(const std::string& payload);

// One line: "Offline: pc-17 (Front office, Acme)", "Site unreachable: Front office (Acme)",
// "Collector degraded: store_unavailable", ...
std::string summaryLine(const EventFacts& facts);

// The facts as (label, value) pairs, in reading order, empty values left out: what the
// message bodies list.
std::vector<std::pair<std::string, std::string>> factList(const EventFacts& facts);

// Plain text: the summary, the facts one per line, the outage diary.
std::string plainTextBody(const EventFacts& facts);

// HTML for an email: the summary as a heading, the facts as a table, the outage diary; every
// text escaped.
std::string htmlBody(const EventFacts& facts);

// "good", "warning" or "danger": how bad the event is, for colours and severities. An opened
// alert of a server or a site is "danger", of a workstation "warning"; a resolution or a
// recovery "good"; a held or released alert "warning".
std::string eventGravity(const EventFacts& facts);

// Slack incoming webhook body: {"text", "blocks"} (mrkdwn, with <, > and & escaped).
std::string slackBody(const EventFacts& facts);

// Microsoft Teams (Workflows "post to a channel when a webhook request is received") body: a
// message with one Adaptive Card 1.4 attachment.
std::string teamsBody(const EventFacts& facts);

// PagerDuty Events API v2. The dedup key is stable per alert ("vigil-alert-<id>"), per
// collector health ("vigil-collector-health") and per channel test ("vigil-test-<channel>"),
// so a resolve closes what its trigger opened. Alert and health events only; a held or released
// alert and a reminder have no PagerDuty action (nullopt); an escalation triggers (on the
// escalation's channel).
std::string pagerDutyDedupKey(const EventFacts& facts);
// "trigger" or "resolve"; nullopt if the event has no action.
std::optional<std::string> pagerDutyAction(const EventFacts& facts);
// `severity`: "critical", "error", "warning" or "info"; empty: by eventGravity (danger:
// critical, warning: warning, else info).
std::string pagerDutyBody(const EventFacts& facts, const std::string& routing_key,
                          const std::string& severity);

// Opsgenie Alert API: create ("POST /v2/alerts") or close ("POST
// /v2/alerts/{alias}/close?identifierType=alias"), by the same alias as PagerDuty's dedup key.
enum class OpsgenieAction { kCreate, kClose };
std::optional<OpsgenieAction> opsgenieAction(const EventFacts& facts);
// `priority`: "P1".."P5"; empty: P1 for a site, P2 for a server, P3 for a workstation or the
// collector, P4 for flapping, P5 for a test.
std::string opsgenieCreateBody(const EventFacts& facts, const std::string& priority);
std::string opsgenieCloseBody(const EventFacts& facts);

}  // namespace vigil::collector
