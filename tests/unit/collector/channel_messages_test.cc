#define BOOST_TEST_MODULE collector_channel_messages
// What notification channels send (docs/notifications.md): each service's message for each
// event, their required fields and bounds, the configuration checks of each kind, and the
// composer that opens sealed credentials and picks the request.
#include "collector/notify/channel_messages.h"

#include <boost/test/unit_test.hpp>
#include <string>

#include "collector/events/event_json.h"
#include "collector/events/webhook_signature.h"
#include "collector/notify/channel_composer.h"
#include "collector/notify/channel_kinds.h"
#include "collector/notify/secret_box.h"
#include "common/json.h"

using namespace vigil::collector;
namespace ev = vigil::collector::webhook_events;
using vigil::json::JsonPtr;

namespace {

constexpr int64_t kOpenedMs = 1'796'000'000'000;  // 2026-11-30T00:53:20Z

vigil::json::JsonPtr parseObject(const std::string& text) {
  JsonPtr root = vigil::json::parse(text);
  BOOST_REQUIRE_MESSAGE(root && cJSON_IsObject(root.get()), "not a JSON object: " << text);
  return root;
}

// The member at a path of object names, or null.
const cJSON* at(const cJSON* obj, std::initializer_list<const char*> path) {
  for (const char* name : path) {
    if (obj == nullptr) return nullptr;
    obj = cJSON_GetObjectItemCaseSensitive(obj, name);
  }
  return obj;
}

std::string textAt(const cJSON* obj, std::initializer_list<const char*> path) {
  const cJSON* item = at(obj, path);
  return cJSON_IsString(item) ? item->valuestring : "<absent>";
}

AlertRecord alert(const std::string& state = "open") {
  AlertRecord a;
  a.id = 7;
  a.kind = "device_offline";
  a.state = state;
  a.agent_id = "ag_01";
  a.site_id = 3;
  a.tenant_id = 2;
  a.opened_at_ms = kOpenedMs;
  a.note = "no heartbeat, beacon or witness for 180 s";
  return a;
}

AlertSubject subject(const std::string& agent_class = "server") {
  AlertSubject s;
  s.hostname = "db-01";
  s.agent_class = agent_class;
  s.os_name = "linux";
  s.site_id = 3;
  s.site_name = "Front office";
  s.tenant_name = "Acme";
  s.last_seen_at_ms = kOpenedMs - 180'000;
  s.status = "offline";
  s.status_reason = "confirmed_silent";
  return s;
}

EventFacts facts(const std::string& type, const AlertRecord& a, const AlertSubject& s) {
  auto read = readEventFacts(ev::alertEventPayload(type, a, kOpenedMs, &s));
  BOOST_REQUIRE(read.ok());
  return read.value();
}

const SecretBox& box() {
  static const SecretBox kBox = SecretBox::fromKey(std::string(32, 'k')).value();
  return kBox;
}

DueDelivery due(const std::string& kind, const std::string& payload, const std::string& credentials,
                const std::string& settings = "{}") {
  DueDelivery d;
  d.entry.id = 1;
  d.entry.webhook_id = 9;
  d.entry.message_id = "msg_1";
  d.entry.event_type = "alert.opened";
  d.entry.payload = payload;
  d.kind = kind;
  d.settings = settings;
  d.secret = box().seal(credentials, kCredentialsContext).value();
  return d;
}

}  // namespace

BOOST_AUTO_TEST_CASE(an_alert_event_reads_back_with_its_subject_and_outage_diary) {
  AlertSubject s = subject();
  s.outage_diary.push_back(OutageReport{"ag_01", kOpenedMs + 1000, kOpenedMs + 61'000, "sleep"});
  const EventFacts f = facts(ev::kAlertResolved, alert("resolved"), s);
  BOOST_TEST(f.alert_id == 7);
  BOOST_TEST(f.hostname == "db-01");
  BOOST_TEST(f.site_name == "Front office");
  BOOST_TEST(f.tenant_name == "Acme");
  BOOST_TEST(f.last_seen_at == "2026-11-30T00:50:20.000Z");
  BOOST_TEST(f.status_reason == "confirmed_silent");
  BOOST_REQUIRE(f.outage_diary.size() == 1u);
  BOOST_TEST(f.outage_diary[0].cause == "sleep");
  BOOST_TEST(summaryLine(f) == "Resolved: Offline: db-01 (Front office, Acme)");
  const std::string text = plainTextBody(f);
  BOOST_TEST(text.find("Last heartbeat: 2026-11-30T00:50:20.000Z") != std::string::npos);
  BOOST_TEST(text.find("Outage diary") != std::string::npos);
  BOOST_TEST(text.find("sleep from") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_held_alert_says_since_when_and_why) {
  AlertRecord a = alert("held");
  a.held_since_ms = kOpenedMs;
  a.held_reasons = "store_unavailable,mass_suspect";
  const EventFacts f = facts(ev::kAlertHeld, a, subject());
  BOOST_TEST(summaryLine(f).rfind("Held (collector degraded): ", 0) == 0u);
  BOOST_TEST(plainTextBody(f).find("Held since: 2026-11-30T00:53:20.000Z "
                                   "(store_unavailable, mass_suspect)") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(payloads_that_are_not_events_are_refused) {
  BOOST_TEST(!readEventFacts("").ok());
  BOOST_TEST(!readEventFacts("[]").ok());
  BOOST_TEST(!readEventFacts(R"({"type":"alert.opened"})").ok());
  BOOST_TEST(!readEventFacts(R"({"type":"alert.opened","data":{"id":0}})").ok());
  BOOST_TEST(!readEventFacts(R"({"type":"something.else","data":{}})").ok());
}

BOOST_AUTO_TEST_CASE(slack_message_has_text_header_and_escaped_mrkdwn) {
  AlertSubject s = subject();
  s.hostname = "<db & co>";
  const JsonPtr body = parseObject(slackBody(facts(ev::kAlertOpened, alert(), s)));
  BOOST_TEST(textAt(body.get(), {"text"}) == "Offline: &lt;db &amp; co&gt; (Front office, Acme)");
  const cJSON* blocks = at(body.get(), {"blocks"});
  BOOST_REQUIRE(cJSON_IsArray(blocks));
  BOOST_TEST(cJSON_GetArraySize(blocks) == 3);
  const cJSON* header = cJSON_GetArrayItem(blocks, 0);
  BOOST_TEST(textAt(header, {"type"}) == "header");
  BOOST_TEST(textAt(header, {"text", "type"}) == "plain_text");
  const std::string section = textAt(cJSON_GetArrayItem(blocks, 1), {"text", "text"});
  BOOST_TEST(section.find("*Host:* &lt;db &amp; co&gt;") != std::string::npos);
  BOOST_TEST(section.find('<') == std::string::npos);
}

BOOST_AUTO_TEST_CASE(slack_header_is_cut_to_150_bytes_at_a_character_boundary) {
  AlertSubject s = subject();
  s.hostname = std::string(200, 'x') + "\xc3\xa9";
  s.site_name = "\xc3\xa9\xc3\xa9\xc3\xa9";
  const JsonPtr body = parseObject(slackBody(facts(ev::kAlertOpened, alert(), s)));
  const std::string header =
      textAt(cJSON_GetArrayItem(at(body.get(), {"blocks"}), 0), {"text", "text"});
  BOOST_TEST(header.size() <= 150u);
  BOOST_TEST(vigil::json::isUtf8(header));
  BOOST_TEST(header.substr(header.size() - 3) == "\xe2\x80\xa6");
}

BOOST_AUTO_TEST_CASE(teams_message_is_one_adaptive_card_with_the_facts) {
  const JsonPtr body = parseObject(teamsBody(facts(ev::kAlertOpened, alert(), subject())));
  BOOST_TEST(textAt(body.get(), {"type"}) == "message");
  const cJSON* attachment = cJSON_GetArrayItem(at(body.get(), {"attachments"}), 0);
  BOOST_REQUIRE(attachment != nullptr);
  BOOST_TEST(textAt(attachment, {"contentType"}) == "application/vnd.microsoft.card.adaptive");
  const cJSON* card = at(attachment, {"content"});
  BOOST_TEST(textAt(card, {"type"}) == "AdaptiveCard");
  BOOST_TEST(textAt(card, {"version"}) == "1.4");
  const cJSON* title = cJSON_GetArrayItem(at(card, {"body"}), 0);
  BOOST_TEST(textAt(title, {"text"}) == "Offline: db-01 (Front office, Acme)");
  BOOST_TEST(textAt(title, {"color"}) == "Attention");  // a server
  const cJSON* facts_block = cJSON_GetArrayItem(at(card, {"body"}), 1);
  BOOST_TEST(textAt(facts_block, {"type"}) == "FactSet");
  bool host_listed = false;
  const cJSON* fact = nullptr;
  cJSON_ArrayForEach(fact, at(facts_block, {"facts"})) {
    if (textAt(fact, {"title"}) == "Host") host_listed = textAt(fact, {"value"}) == "db-01";
  }
  BOOST_TEST(host_listed);
}

BOOST_AUTO_TEST_CASE(pagerduty_triggers_and_resolves_one_alert_under_one_dedup_key) {
  const EventFacts opened = facts(ev::kAlertOpened, alert(), subject());
  const JsonPtr trigger = parseObject(pagerDutyBody(opened, "R0UT1NGKEY", ""));
  BOOST_TEST(textAt(trigger.get(), {"routing_key"}) == "R0UT1NGKEY");
  BOOST_TEST(textAt(trigger.get(), {"event_action"}) == "trigger");
  BOOST_TEST(textAt(trigger.get(), {"dedup_key"}) == "vigil-alert-7");
  BOOST_TEST(textAt(trigger.get(), {"payload", "summary"}) ==
             "Offline: db-01 (Front office, Acme)");
  BOOST_TEST(textAt(trigger.get(), {"payload", "source"}) == "db-01");
  BOOST_TEST(textAt(trigger.get(), {"payload", "severity"}) == "critical");
  BOOST_TEST(textAt(trigger.get(), {"payload", "component"}) == "ag_01");
  BOOST_TEST(textAt(trigger.get(), {"payload", "group"}) == "Front office");
  BOOST_TEST(textAt(trigger.get(), {"payload", "class"}) == "device_offline");
  BOOST_TEST(textAt(trigger.get(), {"payload", "custom_details", "Last heartbeat"}) ==
             "2026-11-30T00:50:20.000Z");

  const EventFacts resolved = facts(ev::kAlertResolved, alert("resolved"), subject());
  const JsonPtr resolve = parseObject(pagerDutyBody(resolved, "R0UT1NGKEY", ""));
  BOOST_TEST(textAt(resolve.get(), {"event_action"}) == "resolve");
  BOOST_TEST(textAt(resolve.get(), {"dedup_key"}) == "vigil-alert-7");
  BOOST_TEST(at(resolve.get(), {"payload"}) == nullptr);

  BOOST_TEST(!pagerDutyAction(facts(ev::kAlertHeld, alert("held"), subject())));
  BOOST_TEST(!pagerDutyAction(facts(ev::kAlertReleased, alert("released"), subject())));
}

BOOST_AUTO_TEST_CASE(pagerduty_severity_follows_the_subject_unless_set) {
  const EventFacts workstation = facts(ev::kAlertOpened, alert(), subject("workstation"));
  BOOST_TEST(textAt(parseObject(pagerDutyBody(workstation, "k", "")).get(),
                    {"payload", "severity"}) == "warning");
  BOOST_TEST(textAt(parseObject(pagerDutyBody(workstation, "k", "error")).get(),
                    {"payload", "severity"}) == "error");
}

BOOST_AUTO_TEST_CASE(collector_health_triggers_and_resolves_its_own_incident) {
  HealthRecord degraded{kOpenedMs, true, "store_unavailable", 0};
  HealthRecord recovered{kOpenedMs + 60'000, false, "", 0};
  const EventFacts down = readEventFacts(ev::healthEventPayload(degraded)).value();
  const EventFacts up = readEventFacts(ev::healthEventPayload(recovered)).value();
  BOOST_TEST(summaryLine(down) == "Collector degraded: store_unavailable");
  BOOST_TEST(*pagerDutyAction(down) == "trigger");
  BOOST_TEST(*pagerDutyAction(up) == "resolve");
  BOOST_TEST(pagerDutyDedupKey(down) == pagerDutyDedupKey(up));
}

BOOST_AUTO_TEST_CASE(opsgenie_creates_and_closes_by_alias_within_its_bounds) {
  AlertSubject s = subject();
  s.hostname = std::string(300, 'h');
  const EventFacts opened = facts(ev::kAlertOpened, alert(), s);
  const JsonPtr create = parseObject(opsgenieCreateBody(opened, ""));
  BOOST_TEST(textAt(create.get(), {"alias"}) == "vigil-alert-7");
  BOOST_TEST(textAt(create.get(), {"message"}).size() <= 130u);
  BOOST_TEST(textAt(create.get(), {"priority"}) == "P2");  // a server
  BOOST_TEST(textAt(create.get(), {"source"}) == "Vigil");
  BOOST_TEST(textAt(create.get(), {"entity"}) == std::string(300, 'h'));
  BOOST_TEST(textAt(create.get(), {"details", "Site"}) == "Front office");
  BOOST_TEST(textAt(parseObject(opsgenieCreateBody(opened, "P4")).get(), {"priority"}) == "P4");
  const EventFacts resolved = facts(ev::kAlertResolved, alert("resolved"), s);
  BOOST_TEST((*opsgenieAction(resolved) == OpsgenieAction::kClose));
  const JsonPtr close = parseObject(opsgenieCloseBody(resolved));
  BOOST_TEST(textAt(close.get(), {"source"}) == "Vigil");
  BOOST_TEST(textAt(close.get(), {"note"}).find("Resolved: Offline") == 0u);
}

BOOST_AUTO_TEST_CASE(a_site_alert_names_the_site_and_is_the_most_urgent) {
  AlertRecord a = alert();
  a.kind = "site_unreachable";
  a.agent_id.reset();
  AlertSubject s;
  s.site_id = 3;
  s.site_name = "Front office";
  s.tenant_name = "Acme";
  const EventFacts f = facts(ev::kAlertOpened, a, s);
  BOOST_TEST(summaryLine(f) == "Site unreachable: Front office (Acme)");
  BOOST_TEST(eventGravity(f) == "danger");
  BOOST_TEST(textAt(parseObject(opsgenieCreateBody(f, "")).get(), {"priority"}) == "P1");
  BOOST_TEST(textAt(parseObject(pagerDutyBody(f, "k", "")).get(), {"payload", "source"}) ==
             "Front office, Acme");
}

// --- Configuration of each kind -----------------------------------------------------------

namespace {

vigil::Result<ChannelSetup> setup(const std::string& kind, const std::string& settings,
                                  const std::string& credentials,
                                  const std::string& current_settings = "",
                                  const std::string& current_credentials = "") {
  JsonPtr s = vigil::json::parse(settings);
  JsonPtr c = vigil::json::parse(credentials);
  return checkChannelSetup(kind, s.get(), c.get(), current_settings, current_credentials);
}

}  // namespace

BOOST_AUTO_TEST_CASE(slack_needs_an_https_webhook_url_and_shows_only_its_origin) {
  auto ok = setup("slack", "{}", R"({"webhook_url":"https://hooks.slack.com/services/T0/B0/XyZ"})");
  BOOST_REQUIRE(ok.ok());
  BOOST_TEST(ok.value().url == "https://hooks.slack.com");
  BOOST_TEST(ok.value().credentials.find("XyZ") != std::string::npos);
  auto plain =
      setup("slack", "{}", R"({"webhook_url":"http://hooks.slack.com/services/T0/B0/XyZ"})");
  BOOST_REQUIRE(!plain.ok());
  BOOST_TEST(plain.error().message() == "credentials.webhook_url: must be an https:// URL");
  auto missing = setup("teams", "{}", "{}");
  BOOST_REQUIRE(!missing.ok());
  BOOST_TEST(missing.error().message() == "credentials.webhook_url: is required");
  auto unknown = setup("slack", R"({"channel":"#ops"})", R"({"webhook_url":"https://h.test/x"})");
  BOOST_REQUIRE(!unknown.ok());
  BOOST_TEST(unknown.error().message().rfind("settings.channel: unknown member", 0) == 0u);
  auto port =
      setup("teams", "{}", R"({"webhook_url":"https://prod-1.logic.azure.com:8443/w?sig=S"})");
  BOOST_REQUIRE(port.ok());
  BOOST_TEST(port.value().url == "https://prod-1.logic.azure.com:8443");
}

BOOST_AUTO_TEST_CASE(pagerduty_and_opsgenie_get_their_default_endpoints_and_check_choices) {
  auto pd = setup("pagerduty", "{}", R"({"routing_key":"abc123"})");
  BOOST_REQUIRE(pd.ok());
  BOOST_TEST(pd.value().url == kPagerDutyEventsUrl);
  BOOST_TEST(textAt(parseObject(pd.value().settings).get(), {"api_url"}) == kPagerDutyEventsUrl);
  auto og = setup("opsgenie", R"({"api_url":"https://api.eu.opsgenie.com","priority":"P2"})",
                  R"({"api_key":"k-1"})");
  BOOST_REQUIRE(og.ok());
  BOOST_TEST(og.value().url == "https://api.eu.opsgenie.com");
  auto severity = setup("pagerduty", R"({"severity":"loud"})", R"({"routing_key":"abc"})");
  BOOST_REQUIRE(!severity.ok());
  BOOST_TEST(severity.error().message().rfind("settings.severity: must be one of", 0) == 0u);
  auto spaced = setup("opsgenie", "{}", R"({"api_key":"has space"})");
  BOOST_REQUIRE(!spaced.ok());
  BOOST_TEST(spaced.error().message().find("has space") == std::string::npos);
  auto typed = setup("opsgenie", "{}", R"({"api_key":5})");
  BOOST_REQUIRE(!typed.ok());
  BOOST_TEST(typed.error().message() == "credentials.api_key: must be a string");
  BOOST_TEST(!setup("webhook", "{}", "{}").ok());
  BOOST_TEST(!setup("email", "{}", "{}").ok());
}

BOOST_AUTO_TEST_CASE(a_change_lays_given_members_over_the_current_ones) {
  const std::string current_settings =
      R"({"api_url":"https://events.pagerduty.com/v2/enqueue","severity":"info"})";
  const std::string current_credentials = R"({"routing_key":"old"})";
  // Only the severity removed: the key stays.
  auto changed =
      setup("pagerduty", R"({"severity":null})", "null", current_settings, current_credentials);
  BOOST_REQUIRE(changed.ok());
  BOOST_TEST(at(parseObject(changed.value().settings).get(), {"severity"}) == nullptr);
  BOOST_TEST(textAt(parseObject(changed.value().credentials).get(), {"routing_key"}) == "old");
  // A new key replaces the old one.
  auto rekeyed =
      setup("pagerduty", "null", R"({"routing_key":"new"})", current_settings, current_credentials);
  BOOST_REQUIRE(rekeyed.ok());
  BOOST_TEST(textAt(parseObject(rekeyed.value().credentials).get(), {"routing_key"}) == "new");
  // Credentials that could not be opened (empty current): every one must be given again.
  auto lost = setup("pagerduty", "null", "null", current_settings, "");
  BOOST_REQUIRE(!lost.ok());
  BOOST_TEST(lost.error().message() == "credentials.routing_key: is required");
}

BOOST_AUTO_TEST_CASE(incident_services_take_only_events_with_an_incident_action) {
  const ChannelKind* pd = findChannelKind("pagerduty");
  BOOST_REQUIRE(pd != nullptr);
  BOOST_TEST(std::count(pd->events.begin(), pd->events.end(), "alert.held") == 0);
  BOOST_TEST((pd->default_events == std::vector<std::string>{"alert.opened", "alert.resolved"}));
  BOOST_TEST(findChannelKind("slack")->events.size() == ev::subscribableTypes().size());
  BOOST_TEST(findChannelKind("nope") == nullptr);
}

// --- Composition ---------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(a_webhook_is_signed_as_before) {
  DueDelivery d;
  d.entry.message_id = "msg_1";
  d.entry.payload = "{}";
  d.url = "https://hooks.example.com/x";
  d.secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
  const ChannelComposer composer(nullptr);
  auto m = composer.compose(d, 1'614'265'330'000);
  BOOST_REQUIRE(m.ok());
  BOOST_TEST(m.value().request.url == d.url);
  BOOST_REQUIRE(m.value().request.headers.size() == 3u);
  BOOST_TEST(m.value().request.headers[2].second ==
             signWebhook(d.secret, "msg_1", 1'614'265'330, "{}").value());
}

BOOST_AUTO_TEST_CASE(slack_is_sent_to_the_sealed_webhook_url) {
  const std::string payload = ev::alertEventPayload(ev::kAlertOpened, alert(), kOpenedMs);
  const ChannelComposer composer(&box());
  auto m = composer.compose(
      due("slack", payload, R"({"webhook_url":"https://hooks.slack.com/services/T/B/S"})"), 0);
  BOOST_REQUIRE(m.ok());
  BOOST_TEST(m.value().send);
  BOOST_TEST(m.value().request.url == "https://hooks.slack.com/services/T/B/S");
  BOOST_TEST(m.value().request.headers.empty());
  BOOST_TEST(textAt(parseObject(m.value().request.body).get(), {"text"}) ==
             "Offline: ag_01");  // a payload without a subject: the agent id
}

BOOST_AUTO_TEST_CASE(opsgenie_close_goes_to_the_alias_with_the_genie_key) {
  const std::string payload =
      ev::alertEventPayload(ev::kAlertResolved, alert("resolved"), kOpenedMs);
  const ChannelComposer composer(&box());
  auto m = composer.compose(due("opsgenie", payload, R"({"api_key":"g-key"})",
                                R"({"api_url":"https://api.eu.opsgenie.com/"})"),
                            0);
  BOOST_REQUIRE(m.ok());
  BOOST_TEST(m.value().request.url ==
             "https://api.eu.opsgenie.com/v2/alerts/vigil-alert-7/close?identifierType=alias");
  BOOST_REQUIRE(m.value().request.headers.size() == 1u);
  BOOST_TEST(m.value().request.headers[0].first == "Authorization");
  BOOST_TEST(m.value().request.headers[0].second == "GenieKey g-key");
}

BOOST_AUTO_TEST_CASE(an_event_without_an_incident_action_is_not_sent) {
  const std::string payload = ev::alertEventPayload(ev::kAlertHeld, alert("held"), kOpenedMs);
  const ChannelComposer composer(&box());
  auto m = composer.compose(
      due("pagerduty", payload, R"({"routing_key":"k"})", R"({"api_url":"https://pd.test/e"})"), 0);
  BOOST_REQUIRE(m.ok());
  BOOST_TEST(!m.value().send);
}

BOOST_AUTO_TEST_CASE(credentials_of_another_key_or_no_key_fail_as_unreadable) {
  const std::string payload = ev::alertEventPayload(ev::kAlertOpened, alert(), kOpenedMs);
  DueDelivery d = due("slack", payload, R"({"webhook_url":"https://h.test/x"})");
  const SecretBox other = SecretBox::fromKey(std::string(32, 'o')).value();
  auto wrong = ChannelComposer(&other).compose(d, 0);
  BOOST_REQUIRE(!wrong.ok());
  BOOST_TEST(wrong.error().reason == compose_failures::kCredentialsUnreadable);
  BOOST_TEST(wrong.error().detail.find(box().keyId()) != std::string::npos);
  auto none = ChannelComposer(nullptr).compose(d, 0);
  BOOST_REQUIRE(!none.ok());
  BOOST_TEST(none.error().reason == compose_failures::kCredentialsUnreadable);
  // Sealed for another purpose: does not open as credentials.
  d.secret = box().seal(R"({"webhook_url":"https://h.test/x"})", "something else").value();
  BOOST_TEST(!ChannelComposer(&box()).compose(d, 0).ok());
}

BOOST_AUTO_TEST_CASE(email_settings_get_their_defaults_and_refuse_header_injection) {
  const std::string to = R"("to": ["ops@msp.example"])";
  auto ok =
      setup("email",
            R"({"smtp_host": "smtp.msp.example", "from": "vigil@msp.example", )" + to + "}", "{}");
  BOOST_REQUIRE(ok.ok());
  BOOST_TEST(ok.value().url == "smtp://smtp.msp.example:587");
  const JsonPtr settings = parseObject(ok.value().settings);
  BOOST_TEST(textAt(settings.get(), {"security"}) == "starttls");
  BOOST_TEST(at(settings.get(), {"smtp_port"})->valueint == 587);
  const std::vector<std::pair<std::string, std::string>> refused = {
      {R"({"from": "vigil@msp.example", )" + to + "}", "settings.smtp_host: is required"},
      {R"({"smtp_host": "smtp.msp.example", "from": "vigil@msp.example\r\nBcc: x@y.z", )" + to +
           "}",
       "settings.from: must be one email address (name@domain)"},
      {R"({"smtp_host": "smtp.msp.example", "from": "vigil@msp.example", "to": []})",
       "settings.to: must be an array of 1 to 20 email addresses"},
      {R"({"smtp_host": "smtp.msp.example", "from": "v@m.e", "to": ["a@b.c>, evil@x.y"]})",
       "settings.to: each item must be one email address"},
      {R"({"smtp_host": "smtp.msp.example", "smtp_port": 70000, "from": "v@m.e", )" + to + "}",
       "settings.smtp_port: must be an integer from 1 to 65535"},
      {R"({"smtp_host": "smtp.msp.example/x", "from": "v@m.e", )" + to + "}",
       "settings.smtp_host: must be a host name or an IPv4 address"},
      {R"({"smtp_host": "smtp.msp.example", "security": "none", "from": "v@m.e", )" + to + "}",
       "settings.security: must be one of starttls, tls"},
      {R"({"smtp_host": "smtp.msp.example", "username": "u", "from": "v@m.e", )" + to + "}",
       "credentials.password: is required with settings.username"},
  };
  for (const auto& [settings_text, message] : refused) {
    auto r = setup("email", settings_text, "{}");
    BOOST_REQUIRE_MESSAGE(!r.ok(), settings_text);
    BOOST_TEST(r.error().message() == message);
  }
}

BOOST_AUTO_TEST_CASE(an_email_is_composed_with_both_parts_and_a_stable_message_id) {
  AlertRecord a = alert();
  const std::string payload = ev::alertEventPayload(ev::kAlertOpened, a, kOpenedMs, nullptr);
  const ChannelComposer composer(&box());
  DueDelivery d = due("email", payload, R"({"password":"p"})",
                      R"({"smtp_host":"smtp.msp.example","smtp_port":465,"security":"tls",)"
                      R"("username":"u","from":"v@m.e","to":["a@b.c","d@e.f"]})");
  auto m = composer.compose(d, 0);
  BOOST_REQUIRE(m.ok());
  BOOST_REQUIRE(m.value().mail.has_value());
  const MailRequest& mail = *m.value().mail;
  BOOST_TEST(mail.host == "smtp.msp.example");
  BOOST_TEST(mail.port == 465);
  BOOST_TEST(mail.security == "tls");
  BOOST_TEST(mail.password == "p");
  BOOST_TEST((mail.to == std::vector<std::string>{"a@b.c", "d@e.f"}));
  BOOST_TEST(mail.subject == "[Vigil] Offline: ag_01");
  BOOST_TEST(mail.message_id == "msg_1");
  BOOST_TEST(mail.text_body.find("Note: no heartbeat") != std::string::npos);
  BOOST_TEST(mail.html_body.find("<h2") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(the_html_body_escapes_every_text) {
  AlertSubject s = subject();
  s.hostname = "<script>alert(1)</script>";
  const std::string html = htmlBody(facts(ev::kAlertOpened, alert(), s));
  BOOST_TEST(html.find("<script>") == std::string::npos);
  BOOST_TEST(html.find("&lt;script&gt;") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(psa_settings_name_their_company_and_board_and_get_closing_defaults) {
  const std::string cw_credentials =
      R"({"company":"acme","public_key":"p","private_key":"k","client_id":"c"})";
  auto cw = setup("connectwise",
                  R"({"api_url":"https://na.myconnectwise.net/v4_6_release/apis/3.0",)"
                  R"("company_id":250,"board_id":1})",
                  cw_credentials);
  BOOST_REQUIRE(cw.ok());
  BOOST_TEST(cw.value().url == "https://na.myconnectwise.net/v4_6_release/apis/3.0");
  // Ids beyond 32 bits are ids too.
  BOOST_TEST(setup("connectwise",
                   R"({"api_url":"https://na.myconnectwise.net/x","company_id":5000000000,)"
                   R"("board_id":1})",
                   cw_credentials)
                 .ok());
  BOOST_TEST(textAt(parseObject(cw.value().settings).get(), {"closed_status"}) == "Closed");
  auto no_board =
      setup("connectwise", R"({"api_url":"https://na.myconnectwise.net/x","company_id":250})",
            cw_credentials);
  BOOST_REQUIRE(!no_board.ok());
  BOOST_TEST(no_board.error().message() == "settings.board_id: is required");
  auto missing_key =
      setup("connectwise", R"({"api_url":"https://h.test/x","company_id":1,"board_id":1})",
            R"({"company":"acme","public_key":"p","client_id":"c"})");
  BOOST_REQUIRE(!missing_key.ok());
  BOOST_TEST(missing_key.error().message() == "credentials.private_key: is required");

  auto autotask = setup("autotask",
                        R"({"api_url":"https://webservices5.autotask.net/atservicesrest/v1.0",)"
                        R"("company_id":0,"priority":9})",
                        R"({"integration_code":"i","username":"u","secret":"s"})");
  BOOST_REQUIRE(!autotask.ok());
  BOOST_TEST(autotask.error().message() == "settings.priority: must be an integer from 1 to 4");

  const std::string halo_credentials = R"({"oauth_client_id":"a","oauth_client_secret":"b"})";
  auto halo = setup("halopsa", R"({"api_url":"https://msp.halopsa.com/api","client_id":12})",
                    halo_credentials);
  BOOST_REQUIRE(halo.ok());
  const JsonPtr halo_settings = parseObject(halo.value().settings);
  BOOST_TEST(textAt(halo_settings.get(), {"auth_url"}) == "https://msp.halopsa.com/auth");
  BOOST_TEST(at(halo_settings.get(), {"closed_status_id"})->valueint == 9);
  auto elsewhere = setup("halopsa", R"({"api_url":"https://msp.example/halo","client_id":12})",
                         halo_credentials);
  BOOST_REQUIRE(!elsewhere.ok());
  BOOST_TEST(elsewhere.error().message().rfind("settings.auth_url: is required", 0) == 0u);
  auto plain = setup("halopsa", R"({"api_url":"http://msp.halopsa.com/api","client_id":12})",
                     halo_credentials);
  BOOST_REQUIRE(!plain.ok());
  BOOST_TEST(plain.error().message() == "settings.api_url: must be an https:// URL");
}

BOOST_AUTO_TEST_CASE(reminders_and_escalations_say_how_long_the_alert_waited) {
  const AlertRecord a = alert();
  const EventFacts reminder =
      readEventFacts(
          ev::followUpEventPayload(ev::kAlertReminder, a, kOpenedMs + 3'600'000, subject(), 2, 0))
          .value();
  BOOST_TEST(summaryLine(reminder) ==
             "Still down, unacknowledged for 60 min (reminder 2): Offline: db-01 (Front office, "
             "Acme)");
  BOOST_TEST(!pagerDutyAction(reminder));  // PagerDuty repeats on its own
  const EventFacts escalated =
      readEventFacts(
          ev::followUpEventPayload(ev::kAlertEscalated, a, kOpenedMs + 1'800'000, subject(), 0, 4))
          .value();
  BOOST_TEST(escalated.escalated_from == 4);
  BOOST_TEST(summaryLine(escalated).rfind("Escalated, unacknowledged for 30 min: ", 0) == 0u);
  BOOST_TEST(*pagerDutyAction(escalated) == "trigger");
  BOOST_TEST(pagerDutyDedupKey(escalated) == "vigil-alert-7");
}
