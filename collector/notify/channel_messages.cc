#include "collector/notify/channel_messages.h"

#include <cjson/cJSON.h>

#include <utility>

#include "common/json.h"
#include "common/text.h"

namespace vigil::collector {
namespace {

using Facts = std::vector<std::pair<std::string, std::string>>;

// PagerDuty's summary and Opsgenie's message are bounded; longer texts are refused by the
// service, so they are cut (at a UTF-8 boundary) with an ellipsis.
constexpr size_t kPagerDutySummaryBytes = 1024;
constexpr size_t kOpsgenieMessageBytes = 130;
constexpr size_t kOpsgenieDescriptionBytes = 15000;

std::string text(const cJSON* obj, const char* name) { return json::textMember(obj, name); }

int64_t integer(const cJSON* obj, const char* name) {
  const cJSON* item = cJSON_GetObjectItemCaseSensitive(obj, name);
  return json::isIntegerInRange(item, INT64_MIN / 2, json::kMaxExactInteger)
             ? static_cast<int64_t>(item->valuedouble)
             : 0;
}

std::vector<std::string> texts(const cJSON* obj, const char* name) {
  std::vector<std::string> out;
  const cJSON* item = nullptr;
  const cJSON* arr = cJSON_GetObjectItemCaseSensitive(obj, name);
  if (!cJSON_IsArray(arr)) return out;
  cJSON_ArrayForEach(item, arr) {
    if (cJSON_IsString(item)) out.emplace_back(item->valuestring);
  }
  return out;
}

std::string joined(const std::vector<std::string>& names, const char* separator = ", ") {
  std::string out;
  for (const std::string& n : names) {
    if (!out.empty()) out += separator;
    out += n;
  }
  return out;
}

// `s` cut to at most `max_bytes`, at a UTF-8 character boundary, ending with "…" if cut.
std::string truncated(const std::string& s, size_t max_bytes) {
  if (s.size() <= max_bytes) return s;
  const std::string ellipsis = "\xe2\x80\xa6";
  size_t end = max_bytes - ellipsis.size();
  while (end > 0 && (static_cast<unsigned char>(s[end]) & 0xC0) == 0x80) --end;
  return s.substr(0, end) + ellipsis;
}

// "Front office, Acme", or whichever of the two is known.
std::string placeOf(const EventFacts& f) {
  if (f.site_name.empty()) return f.tenant_name;
  if (f.tenant_name.empty()) return f.site_name;
  return f.site_name + ", " + f.tenant_name;
}

// The host name, or the agent id when the subject is unknown.
std::string hostOf(const EventFacts& f) { return f.hostname.empty() ? f.agent_id : f.hostname; }

std::string alertTitle(const EventFacts& f) {
  if (f.alert_kind == "site_unreachable") return "Site unreachable";
  if (f.alert_kind == "flapping") return "Flapping";
  return "Offline";
}

std::string print(cJSON* root) {
  json::JsonPtr owner(root);
  return json::print(root);
}

cJSON* addString(cJSON* obj, const char* name, const std::string& value) {
  json::addText(obj, name, value);
  return obj;
}

std::string slackEscape(const std::string& s) { return escapeMarkup(s, /*quotes=*/false); }

std::string diaryLine(const EventFacts::Outage& o) {
  return o.cause + " from " + o.from + " to " + o.to;
}

}  // namespace

Result<EventFacts> readEventFacts(const std::string& payload) {
  json::JsonPtr root = json::parse(payload);
  if (!root || !cJSON_IsObject(root.get())) {
    return Status::invalidArgument("the event payload is not a JSON object");
  }
  EventFacts f;
  f.type = text(root.get(), "type");
  f.timestamp = text(root.get(), "timestamp");
  const cJSON* data = cJSON_GetObjectItemCaseSensitive(root.get(), "data");
  if (!cJSON_IsObject(data)) return Status::invalidArgument("the event payload has no data");
  if (f.type.rfind("alert.", 0) == 0) {
    f.alert_id = integer(data, "id");
    if (f.alert_id <= 0) return Status::invalidArgument("the alert event has no alert id");
    f.alert_kind = text(data, "kind");
    f.alert_state = text(data, "state");
    f.agent_id = text(data, "agent_id");
    if (const int64_t site = integer(data, "site_id"); site > 0) f.site_id = site;
    f.tenant_id = integer(data, "tenant_id");
    f.opened_at = text(data, "opened_at");
    f.closed_at = text(data, "closed_at");
    f.held_since = text(data, "held_since");
    f.held_reasons = texts(data, "held_reasons");
    f.note = text(data, "note");
    if (const cJSON* follow_up = cJSON_GetObjectItemCaseSensitive(data, "follow_up");
        cJSON_IsObject(follow_up)) {
      f.reminder = integer(follow_up, "reminder");
      f.escalated_from = integer(follow_up, "escalated_from");
      f.unacknowledged_for_s = integer(follow_up, "unacknowledged_for_s");
    }
    if (const cJSON* subject = cJSON_GetObjectItemCaseSensitive(data, "subject");
        cJSON_IsObject(subject)) {
      f.hostname = text(subject, "hostname");
      f.agent_class = text(subject, "agent_class");
      f.os = text(subject, "os");
      f.site_name = text(subject, "site_name");
      f.tenant_name = text(subject, "tenant_name");
      f.last_seen_at = text(subject, "last_seen_at");
      f.status = text(subject, "status");
      f.status_reason = text(subject, "status_reason");
      const cJSON* item = nullptr;
      const cJSON* diary = cJSON_GetObjectItemCaseSensitive(subject, "outage_diary");
      if (cJSON_IsArray(diary)) {
        cJSON_ArrayForEach(item, diary) {
          f.outage_diary.push_back(
              EventFacts::Outage{text(item, "from"), text(item, "to"), text(item, "cause")});
        }
      }
    }
  } else if (f.isHealth()) {
    const cJSON* degraded = cJSON_GetObjectItemCaseSensitive(data, "degraded");
    f.degraded = cJSON_IsTrue(degraded);
    f.health_reasons = texts(data, "reasons");
  } else if (f.isTest()) {
    f.channel_id = integer(data, "webhook_id");
    f.tenant_id = integer(data, "tenant_id");
  } else {
    return Status::invalidArgument("unknown event type '" + f.type + "'");
  }
  return f;
}

std::string summaryLine(const EventFacts& f) {
  if (f.isTest()) return "Vigil test notification";
  if (f.isHealth()) {
    return f.degraded ? "Collector degraded: " + joined(f.health_reasons)
                      : "Collector recovered; alerts are judged again";
  }
  std::string subject =
      f.alert_kind == "site_unreachable"
          ? (f.site_name.empty() ? "site " + std::to_string(f.site_id.value_or(0)) : f.site_name)
          : hostOf(f);
  const std::string place = f.alert_kind == "site_unreachable" ? f.tenant_name : placeOf(f);
  if (!place.empty()) subject += " (" + place + ")";
  const std::string title = alertTitle(f);
  if (f.type == "alert.opened") return title + ": " + subject;
  if (f.type == "alert.resolved") return "Resolved: " + title + ": " + subject;
  if (f.type == "alert.held") return "Held (collector degraded): " + title + ": " + subject;
  if (f.type == "alert.released") {
    return "Cleared while held, never raised: " + title + ": " + subject;
  }
  const std::string waited = std::to_string(f.unacknowledged_for_s / 60) + " min";
  if (f.type == "alert.reminder") {
    return "Still down, unacknowledged for " + waited + " (reminder " + std::to_string(f.reminder) +
           "): " + title + ": " + subject;
  }
  if (f.type == "alert.escalated") {
    return "Escalated, unacknowledged for " + waited + ": " + title + ": " + subject;
  }
  return f.type + ": " + subject;
}

std::vector<std::pair<std::string, std::string>> factList(const EventFacts& f) {
  Facts facts;
  auto add = [&facts](const char* label, const std::string& value) {
    if (!value.empty()) facts.emplace_back(label, value);
  };
  if (f.isTest()) {
    add("Channel", std::to_string(f.channel_id));
    add("Tenant", std::to_string(f.tenant_id));
    add("At", f.timestamp);
    return facts;
  }
  if (f.isHealth()) {
    add("State", f.degraded ? "degraded" : "recovered");
    add("Reasons", joined(f.health_reasons));
    add("At", f.timestamp);
    add("Meaning", f.degraded ? "offline alerts are held while the fault is the collector's own"
                              : "held alerts are verified again before any is sent");
    return facts;
  }
  add("Alert", std::to_string(f.alert_id) + " (" + f.alert_kind + ", " + f.alert_state + ")");
  add("Host", f.hostname);
  add("Agent", f.agent_id);
  add("Class", f.agent_class);
  add("OS", f.os);
  add("Site", f.site_name.empty() && f.site_id ? std::to_string(*f.site_id) : f.site_name);
  add("Tenant", f.tenant_name);
  add("Status",
      f.status.empty()
          ? std::string()
          : f.status + (f.status_reason.empty() ? std::string() : " (" + f.status_reason + ")"));
  add("Last heartbeat", f.last_seen_at);
  add("Opened", f.opened_at);
  add("Closed", f.closed_at);
  if (!f.held_since.empty()) {
    add("Held since",
        f.held_since + (f.held_reasons.empty() ? "" : " (" + joined(f.held_reasons) + ")"));
  }
  add("Note", f.note);
  return facts;
}

std::string plainTextBody(const EventFacts& f) {
  std::string body = summaryLine(f) + "\n\n";
  for (const auto& [label, value] : factList(f)) body += label + ": " + value + "\n";
  if (!f.outage_diary.empty()) {
    body += "\nOutage diary (reported by the agent):\n";
    for (const EventFacts::Outage& o : f.outage_diary) body += "  - " + diaryLine(o) + "\n";
  }
  return body;
}

std::string htmlBody(const EventFacts& f) {
  auto escape = [](const std::string& text) { return escapeMarkup(text, /*quotes=*/true); };
  const std::string gravity = eventGravity(f);
  const char* colour = gravity == "danger"    ? "#b42318"
                       : gravity == "warning" ? "#b54708"
                                              : "#067647";
  std::string html =
      "<!DOCTYPE html><html><head><meta charset=\"utf-8\"></head>"
      "<body style=\"font-family:sans-serif\"><h2 style=\"color:" +
      std::string(colour) + "\">" + escape(summaryLine(f)) + "</h2><table cellpadding=\"4\">";
  for (const auto& [label, value] : factList(f)) {
    html += "<tr><th align=\"left\">" + escape(label) + "</th><td>" + escape(value) + "</td></tr>";
  }
  html += "</table>";
  if (!f.outage_diary.empty()) {
    html += "<h3>Outage diary (reported by the agent)</h3><ul>";
    for (const EventFacts::Outage& o : f.outage_diary)
      html += "<li>" + escape(diaryLine(o)) + "</li>";
    html += "</ul>";
  }
  return html + "<p style=\"color:#667085\">Vigil &middot; " + escape(f.type) + " &middot; " +
         escape(f.timestamp) + "</p></body></html>";
}

std::string eventGravity(const EventFacts& f) {
  if (f.isTest()) return "good";
  if (f.isHealth()) return f.degraded ? "warning" : "good";
  if (f.type == "alert.resolved" || f.type == "alert.released") return "good";
  if (f.type == "alert.held") return "warning";
  if (f.alert_kind == "flapping") return "warning";
  if (f.alert_kind == "site_unreachable" || f.agent_class == "server") return "danger";
  return "warning";
}

std::string slackBody(const EventFacts& f) {
  cJSON* root = cJSON_CreateObject();
  const std::string summary = summaryLine(f);
  addString(root, "text", slackEscape(summary));
  cJSON* blocks = cJSON_AddArrayToObject(root, "blocks");
  cJSON* header = cJSON_CreateObject();
  addString(header, "type", "header");
  cJSON* header_text = cJSON_AddObjectToObject(header, "text");
  addString(header_text, "type", "plain_text");
  // Slack bounds a header's text to 150 characters.
  addString(header_text, "text", truncated(summary, 150));
  cJSON_AddItemToArray(blocks, header);
  std::string facts;
  for (const auto& [label, value] : factList(f)) {
    facts += "*" + slackEscape(label) + ":* " + slackEscape(value) + "\n";
  }
  if (!f.outage_diary.empty()) {
    facts += "*Outage diary (reported by the agent):*\n";
    for (const EventFacts::Outage& o : f.outage_diary)
      facts += "• " + slackEscape(diaryLine(o)) + "\n";
  }
  cJSON* section = cJSON_CreateObject();
  addString(section, "type", "section");
  cJSON* section_text = cJSON_AddObjectToObject(section, "text");
  addString(section_text, "type", "mrkdwn");
  // A section's text is bounded to 3,000 characters.
  addString(section_text, "text", truncated(facts, 3000));
  cJSON_AddItemToArray(blocks, section);
  cJSON* context = cJSON_CreateObject();
  addString(context, "type", "context");
  cJSON* elements = cJSON_AddArrayToObject(context, "elements");
  cJSON* element = cJSON_CreateObject();
  addString(element, "type", "mrkdwn");
  addString(element, "text", "Vigil · " + slackEscape(f.type) + " · " + slackEscape(f.timestamp));
  cJSON_AddItemToArray(elements, element);
  cJSON_AddItemToArray(blocks, context);
  return print(root);
}

std::string teamsBody(const EventFacts& f) {
  cJSON* card = cJSON_CreateObject();
  addString(card, "$schema", "http://adaptivecards.io/schemas/adaptive-card.json");
  addString(card, "type", "AdaptiveCard");
  addString(card, "version", "1.4");
  cJSON* body = cJSON_AddArrayToObject(card, "body");
  cJSON* title = cJSON_CreateObject();
  addString(title, "type", "TextBlock");
  addString(title, "text", summaryLine(f));
  addString(title, "size", "Large");
  addString(title, "weight", "Bolder");
  const std::string gravity = eventGravity(f);
  addString(title, "color",
            gravity == "danger"    ? "Attention"
            : gravity == "warning" ? "Warning"
                                   : "Good");
  cJSON_AddBoolToObject(title, "wrap", 1);
  cJSON_AddItemToArray(body, title);
  cJSON* fact_set = cJSON_CreateObject();
  addString(fact_set, "type", "FactSet");
  cJSON* facts = cJSON_AddArrayToObject(fact_set, "facts");
  for (const auto& [label, value] : factList(f)) {
    cJSON* fact = cJSON_CreateObject();
    addString(fact, "title", label);
    addString(fact, "value", value);
    cJSON_AddItemToArray(facts, fact);
  }
  cJSON_AddItemToArray(body, fact_set);
  if (!f.outage_diary.empty()) {
    std::string diary = "Outage diary (reported by the agent):";
    for (const EventFacts::Outage& o : f.outage_diary) diary += "\n- " + diaryLine(o);
    cJSON* block = cJSON_CreateObject();
    addString(block, "type", "TextBlock");
    addString(block, "text", diary);
    cJSON_AddBoolToObject(block, "wrap", 1);
    cJSON_AddItemToArray(body, block);
  }
  cJSON* root = cJSON_CreateObject();
  addString(root, "type", "message");
  cJSON* attachments = cJSON_AddArrayToObject(root, "attachments");
  cJSON* attachment = cJSON_CreateObject();
  addString(attachment, "contentType", "application/vnd.microsoft.card.adaptive");
  cJSON_AddNullToObject(attachment, "contentUrl");
  cJSON_AddItemToObject(attachment, "content", card);
  cJSON_AddItemToArray(attachments, attachment);
  return print(root);
}

std::string pagerDutyDedupKey(const EventFacts& f) {
  if (f.isAlert()) return "vigil-alert-" + std::to_string(f.alert_id);
  if (f.isHealth()) return "vigil-collector-health";
  return "vigil-test-" + std::to_string(f.channel_id);
}

std::optional<std::string> pagerDutyAction(const EventFacts& f) {
  if (f.isTest() || f.type == "alert.opened" || f.type == "alert.escalated" ||
      (f.isHealth() && f.degraded)) {
    return std::string("trigger");
  }
  if (f.type == "alert.resolved" || (f.isHealth() && !f.degraded)) return std::string("resolve");
  return std::nullopt;
}

std::string pagerDutyBody(const EventFacts& f, const std::string& routing_key,
                          const std::string& severity) {
  cJSON* root = cJSON_CreateObject();
  addString(root, "routing_key", routing_key);
  addString(root, "event_action", pagerDutyAction(f).value_or("trigger"));
  addString(root, "dedup_key", pagerDutyDedupKey(f));
  addString(root, "client", "Vigil");
  if (pagerDutyAction(f) == std::optional<std::string>("resolve")) return print(root);
  cJSON* payload = cJSON_AddObjectToObject(root, "payload");
  addString(payload, "summary", truncated(summaryLine(f), kPagerDutySummaryBytes));
  std::string source = "vigil-collector";
  if (f.isAlert()) {
    source = f.alert_kind == "site_unreachable" ? placeOf(f) : hostOf(f);
    if (source.empty()) source = "alert " + std::to_string(f.alert_id);
  }
  addString(payload, "source", source);
  std::string chosen = severity;
  if (chosen.empty()) {
    const std::string gravity = eventGravity(f);
    chosen = gravity == "danger" ? "critical" : gravity == "warning" ? "warning" : "info";
  }
  addString(payload, "severity", chosen);
  if (!f.timestamp.empty()) addString(payload, "timestamp", f.timestamp);
  if (f.isAlert()) {
    if (!f.agent_id.empty()) addString(payload, "component", f.agent_id);
    if (!f.site_name.empty()) addString(payload, "group", f.site_name);
    addString(payload, "class", f.alert_kind);
  }
  cJSON* details = cJSON_AddObjectToObject(payload, "custom_details");
  for (const auto& [label, value] : factList(f)) addString(details, label.c_str(), value);
  if (!f.outage_diary.empty()) {
    cJSON* diary = cJSON_AddArrayToObject(details, "Outage diary");
    for (const EventFacts::Outage& o : f.outage_diary) {
      cJSON_AddItemToArray(diary, cJSON_CreateString(diaryLine(o).c_str()));
    }
  }
  return print(root);
}

std::optional<OpsgenieAction> opsgenieAction(const EventFacts& f) {
  const std::optional<std::string> action = pagerDutyAction(f);
  if (!action) return std::nullopt;
  return *action == "trigger" ? OpsgenieAction::kCreate : OpsgenieAction::kClose;
}

std::string opsgenieCreateBody(const EventFacts& f, const std::string& priority) {
  cJSON* root = cJSON_CreateObject();
  addString(root, "message", truncated(summaryLine(f), kOpsgenieMessageBytes));
  addString(root, "alias", pagerDutyDedupKey(f));
  addString(root, "description", truncated(plainTextBody(f), kOpsgenieDescriptionBytes));
  std::string chosen = priority;
  if (chosen.empty()) {
    if (f.isTest()) {
      chosen = "P5";
    } else if (f.alert_kind == "site_unreachable") {
      chosen = "P1";
    } else if (f.alert_kind == "flapping") {
      chosen = "P4";
    } else {
      chosen = f.agent_class == "server" ? "P2" : "P3";
    }
  }
  addString(root, "priority", chosen);
  addString(root, "source", "Vigil");
  if (f.isAlert()) addString(root, "entity", hostOf(f));
  cJSON* tags = cJSON_AddArrayToObject(root, "tags");
  cJSON_AddItemToArray(tags, cJSON_CreateString("vigil"));
  if (!f.alert_kind.empty()) cJSON_AddItemToArray(tags, cJSON_CreateString(f.alert_kind.c_str()));
  if (!f.agent_class.empty()) {
    cJSON_AddItemToArray(tags, cJSON_CreateString(f.agent_class.c_str()));
  }
  cJSON* details = cJSON_AddObjectToObject(root, "details");
  for (const auto& [label, value] : factList(f)) addString(details, label.c_str(), value);
  return print(root);
}

std::string opsgenieCloseBody(const EventFacts& f) {
  cJSON* root = cJSON_CreateObject();
  addString(root, "source", "Vigil");
  addString(root, "note", truncated(summaryLine(f) + (f.note.empty() ? "" : ": " + f.note), 25000));
  return print(root);
}

}  // namespace vigil::collector
