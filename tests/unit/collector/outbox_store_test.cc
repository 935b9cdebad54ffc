#define BOOST_TEST_MODULE collector_outbox_store
// SqlStore's webhooks and their outbox: CRUD under tenant scope, events entering the outbox
// with the alert and health changes they announce, ordering per key, attempts, claims of
// several claimants (dispatchers of several collectors), and what survives a reopen.
#include <Poco/Data/Session.h>

#include <algorithm>
#include <boost/test/unit_test.hpp>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "collector/store/sql_store.h"
#include "common/crypto.h"
#include "common/json.h"
#include "store_queries.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_store.h"

using namespace vigil::collector;
using vigil::StatusCode;
using vigil::testing::TempDir;

namespace {

// The claimant the fixture's due() claims for, and records attempts as.
const std::string kClaimant = "test-dispatcher";
constexpr int64_t kMinute = 60'000;

const std::vector<std::string> kAllEvents = {"alert.opened",       "alert.resolved",
                                             "alert.held",         "alert.released",
                                             "collector.degraded", "collector.recovered"};

std::unique_ptr<SqlStore> openStore(const std::string& dir) {
  auto opened = vigil::testing::openTestStore(dir);
  BOOST_REQUIRE_MESSAGE(opened.ok(), (opened.ok() ? std::string() : opened.error().toString()));
  return std::move(opened.value());
}

struct Fixture {
  Fixture() : dir(tmp.sub("data")), store(openStore(dir)) {
    tenant_a = store->createTenant("a", 1000).value().id;
    tenant_b = store->createTenant("b", 1000).value().id;
    site_a = store->createSite(tenant_a, "hq", 1000).value().id;
    site_b = store->createSite(tenant_b, "hq", 1000).value().id;
    enroll(site_a, "agent-a");
    enroll(site_b, "agent-b");
  }

  void enroll(int64_t site_id, const std::string& agent_id) {
    EnrollmentToken t;
    t.site_id = site_id;
    t.token_hash = vigil::crypto::toHex(vigil::crypto::sha256(agent_id).value());
    t.created_at_ms = 1000;
    const int64_t token_id = store->createEnrollmentToken(t).value().id;
    AgentRecord a;
    a.id = agent_id;
    a.hostname = "host-" + agent_id;
    a.agent_version = "0.1.0";
    a.secret = std::string(64, 'a');
    a.enrolled_at_ms = 2000;
    BOOST_REQUIRE(store->enrollAgent(token_id, a, 2000).ok());
  }

  Webhook webhook(int64_t tenant_id, std::vector<std::string> events = kAllEvents,
                  bool enabled = true) {
    NewWebhook w;
    w.tenant_id = tenant_id;
    w.url = "https://example.com/hook/" + std::to_string(++created);
    w.events = std::move(events);
    w.enabled = enabled;
    auto stored = store->createWebhook(w, 5000);
    BOOST_REQUIRE(stored.ok());
    return stored.value();
  }

  static AlertChange alert(const std::string& agent_id, const std::string& action, int64_t at) {
    AlertChange c;
    c.kind = "device_offline";
    c.action = action;
    c.agent_id = agent_id;
    c.at_ms = at;
    return c;
  }

  std::vector<OutboxEntry> deliveries(int64_t webhook_id) {
    auto rows = store->listDeliveries(webhook_id, 0, 100);
    BOOST_REQUIRE(rows.ok());
    return rows.value();
  }

  // The due entries no other claimant holds, claimed by `claimant` for `ttl_ms` (by default
  // kClaimant, for no time: its claims have expired at once, so due() also lists what is due).
  std::vector<DueDelivery> due(int64_t now_ms, const DueDeliveryFilter& filter = {},
                               const std::string& claimant = kClaimant, int64_t ttl_ms = 0) {
    auto rows = store->claimDueDeliveries(claimant, now_ms, 100, filter, ttl_ms, {});
    BOOST_REQUIRE_MESSAGE(rows.ok(), (rows.ok() ? std::string() : rows.error().toString()));
    return rows.value();
  }

  // Puts a "webhook.test" event under `key` into the webhook's outbox at 1000; its id.
  int64_t enqueueTest(int64_t webhook_id, const std::string& key,
                      const std::string& payload = "{}") {
    auto entry = store->enqueueWebhookEvent(webhook_id, {"webhook.test", key, payload}, 1000);
    BOOST_REQUIRE(entry.ok());
    return entry.value().id;
  }

  // The ids of the entries due() gives `claimant`.
  std::vector<int64_t> claimIds(int64_t now_ms, const std::string& claimant, int64_t ttl_ms) {
    std::vector<int64_t> ids;
    for (const DueDelivery& d : due(now_ms, {}, claimant, ttl_ms)) ids.push_back(d.entry.id);
    return ids;
  }

  OutboxEntry stored(int64_t webhook_id, int64_t entry_id) {
    for (const OutboxEntry& e : deliveries(webhook_id)) {
      if (e.id == entry_id) return e;
    }
    BOOST_FAIL("no outbox entry " << entry_id);
    return {};
  }

  TempDir tmp;
  std::string dir;
  std::unique_ptr<SqlStore> store;
  int64_t tenant_a = 0, tenant_b = 0, site_a = 0, site_b = 0;
  int created = 0;
};

// The entry of `type` among `due`; fails the test if absent.
const OutboxEntry& entryOf(const std::vector<DueDelivery>& due, const std::string& type) {
  for (const DueDelivery& d : due) {
    if (d.entry.event_type == type) return d.entry;
  }
  BOOST_FAIL("no due entry of type " << type);
  return due.front().entry;
}

bool refused(const vigil::Status& s) {
  return static_cast<int>(s.code()) == static_cast<int>(StatusCode::kFailedPrecondition);
}

bool hasType(const std::vector<DueDelivery>& due, const std::string& type) {
  for (const DueDelivery& d : due) {
    if (d.entry.event_type == type) return true;
  }
  return false;
}

std::string typeOf(const std::string& payload) {
  vigil::json::JsonPtr root = vigil::json::parse(payload);
  const cJSON* type = cJSON_GetObjectItemCaseSensitive(root.get(), "type");
  return cJSON_IsString(type) ? type->valuestring : "";
}

}  // namespace

BOOST_FIXTURE_TEST_SUITE(outbox_store, Fixture)

BOOST_AUTO_TEST_CASE(create_generates_a_secret_and_find_returns_the_webhook) {
  Webhook w = webhook(tenant_a, {"alert.opened"});
  BOOST_TEST(w.id > 0);
  BOOST_TEST(w.secret.rfind("whsec_", 0) == 0u);
  BOOST_TEST(w.secret.size() == 6u + 44u);
  BOOST_TEST(webhook(tenant_a).secret != w.secret);
  auto found = store->findWebhook(w.id);
  BOOST_REQUIRE(found.ok());
  BOOST_REQUIRE(found.value());
  BOOST_TEST(found.value()->url == w.url);
  BOOST_TEST(found.value()->secret == w.secret);
  BOOST_TEST(found.value()->tenant_id == tenant_a);
  BOOST_TEST(found.value()->events == std::vector<std::string>{"alert.opened"});
  BOOST_TEST(found.value()->enabled);
  BOOST_TEST(found.value()->created_at_ms == 5000);
  BOOST_TEST(!store->findWebhook(w.id + 100).value());
}

BOOST_AUTO_TEST_CASE(listing_respects_scope_tenant_filter_and_pages) {
  Webhook a1 = webhook(tenant_a);
  Webhook b1 = webhook(tenant_b);
  Webhook a2 = webhook(tenant_a);
  auto all =
      store->listWebhooks(TenantScope::everything(), std::nullopt, std::nullopt, 0, 10).value();
  BOOST_TEST(all.size() == 3u);
  TenantScope only_a{false, {tenant_a}};
  auto scoped = store->listWebhooks(only_a, std::nullopt, std::nullopt, 0, 10).value();
  BOOST_REQUIRE(scoped.size() == 2u);
  BOOST_TEST(scoped[0].id == a1.id);
  BOOST_TEST(scoped[1].id == a2.id);
  BOOST_TEST(store->listWebhooks(only_a, tenant_b, std::nullopt, 0, 10).value().empty());
  BOOST_TEST(store->listWebhooks(TenantScope{false, {}}, std::nullopt, std::nullopt, 0, 10)
                 .value()
                 .empty());
  auto of_b = store->listWebhooks(TenantScope::everything(), tenant_b, std::nullopt, 0, 10).value();
  BOOST_REQUIRE(of_b.size() == 1u);
  BOOST_TEST(of_b[0].id == b1.id);
  auto page1 =
      store->listWebhooks(TenantScope::everything(), std::nullopt, std::nullopt, 0, 2).value();
  BOOST_REQUIRE(page1.size() == 2u);
  auto page2 =
      store->listWebhooks(TenantScope::everything(), std::nullopt, std::nullopt, page1[1].id, 2)
          .value();
  BOOST_REQUIRE(page2.size() == 1u);
  BOOST_TEST(page2[0].id == a2.id);
}

BOOST_AUTO_TEST_CASE(update_changes_only_the_given_fields) {
  Webhook w = webhook(tenant_a);
  WebhookUpdate u;
  u.enabled = false;
  u.description = "pager";
  auto updated = store->updateWebhook(w.id, u);
  BOOST_REQUIRE(updated.ok());
  BOOST_REQUIRE(updated.value());
  BOOST_TEST(!updated.value()->enabled);
  BOOST_TEST(updated.value()->description == "pager");
  BOOST_TEST(updated.value()->url == w.url);
  BOOST_TEST(updated.value()->events == kAllEvents);
  BOOST_TEST(updated.value()->secret == w.secret);
  WebhookUpdate u2;
  u2.url = "http://receiver.local/x";
  u2.events = std::vector<std::string>{"alert.resolved"};
  store->updateWebhook(w.id, u2);
  Webhook again = *store->findWebhook(w.id).value();
  BOOST_TEST(again.url == "http://receiver.local/x");
  BOOST_TEST(again.events == std::vector<std::string>{"alert.resolved"});
  BOOST_TEST(again.description == "pager");
  BOOST_TEST(!store->updateWebhook(w.id + 100, u).value());
}

BOOST_AUTO_TEST_CASE(an_opened_alert_enters_the_outbox_of_its_tenants_subscribed_webhooks) {
  Webhook all_a = webhook(tenant_a);
  Webhook resolved_only_a = webhook(tenant_a, {"alert.resolved"});
  Webhook disabled_a = webhook(tenant_a, kAllEvents, false);
  Webhook all_b = webhook(tenant_b);
  BOOST_REQUIRE(store->appendPresenceEvents({}, {alert("agent-a", "opened", 10'000)}, {}).ok());

  auto entries = deliveries(all_a.id);
  BOOST_REQUIRE(entries.size() == 1u);
  const OutboxEntry& e = entries[0];
  BOOST_TEST(e.event_type == "alert.opened");
  BOOST_TEST(e.state == "pending");
  BOOST_TEST(e.attempts == 0);
  BOOST_TEST(e.created_at_ms == 10'000);
  BOOST_TEST(e.next_attempt_at_ms == 10'000);
  BOOST_TEST(e.message_id.rfind("msg_", 0) == 0u);
  BOOST_TEST(e.message_id.size() == 4u + 32u);
  BOOST_TEST(e.ordering_key.rfind("alert:", 0) == 0u);
  BOOST_TEST(typeOf(e.payload) == "alert.opened");
  BOOST_TEST(e.payload.find("\"agent_id\":\"agent-a\"") != std::string::npos);
  BOOST_TEST(e.payload.find("\"state\":\"open\"") != std::string::npos);
  BOOST_TEST(deliveries(resolved_only_a.id).empty());
  BOOST_TEST(deliveries(disabled_a.id).empty());
  BOOST_TEST(deliveries(all_b.id).empty());  // another tenant's alert

  // The same "opened" again changes nothing and announces nothing.
  BOOST_REQUIRE(store->appendPresenceEvents({}, {alert("agent-a", "opened", 11'000)}, {}).ok());
  BOOST_TEST(deliveries(all_a.id).size() == 1u);

  BOOST_REQUIRE(store->appendPresenceEvents({}, {alert("agent-a", "resolved", 12'000)}, {}).ok());
  auto after = deliveries(all_a.id);
  BOOST_REQUIRE(after.size() == 2u);
  BOOST_TEST(after[0].event_type == "alert.resolved");  // newest first
  BOOST_TEST(after[0].ordering_key == after[1].ordering_key);
  BOOST_TEST(after[0].message_id != after[1].message_id);
  BOOST_TEST(after[0].payload.find("\"state\":\"resolved\"") != std::string::npos);
  BOOST_TEST(deliveries(resolved_only_a.id).size() == 1u);
}

// What a channel's message says comes with the event: names, class, the last heartbeat, the
// status and its reason, and the outages the agent reported since the alert opened.
BOOST_AUTO_TEST_CASE(an_alert_event_carries_what_the_collector_knows_of_its_subject) {
  Webhook w = webhook(tenant_a);
  LastSeenUpdate seen;
  seen.agent_id = "agent-a";
  seen.last_seen_at_ms = 8'000;
  seen.last_seq = 1;
  seen.outages = {OutageReport{"agent-a", 3'000, 4'000, "sleep", 8'000}};
  BOOST_REQUIRE(store->updateLastSeen({seen}).ok());
  StatusChangeRecord change{"agent-a", 10'000, "suspect", "offline", "confirmed_silent", ""};
  BOOST_REQUIRE(
      store->appendPresenceEvents({change}, {alert("agent-a", "opened", 10'000)}, {}).ok());
  seen.last_seen_at_ms = 20'000;
  seen.last_seq = 2;
  seen.outages = {OutageReport{"agent-a", 9'500, 19'000, "system_shutdown", 20'000}};
  BOOST_REQUIRE(store->updateLastSeen({seen}).ok());
  BOOST_REQUIRE(store->appendPresenceEvents({}, {alert("agent-a", "resolved", 20'000)}, {}).ok());

  auto entries = deliveries(w.id);
  BOOST_REQUIRE(entries.size() == 2u);
  auto opened = vigil::json::parse(entries[1].payload);
  const cJSON* subject = cJSON_GetObjectItem(cJSON_GetObjectItem(opened.get(), "data"), "subject");
  BOOST_REQUIRE(cJSON_IsObject(subject));
  BOOST_TEST(vigil::json::print(subject) ==
             R"({"hostname":"host-agent-a","agent_class":"workstation","os":null,)"
             R"("site_name":"hq","tenant_name":"a","last_seen_at":"1970-01-01T00:00:08.000Z",)"
             R"("status":"offline","status_reason":"confirmed_silent","outage_diary":[]})");
  // The resolution brings the agent's own account of the time away: the outage that ended
  // after the alert opened, not the older one.
  BOOST_TEST(
      entries[0].payload.find(R"("outage_diary":[{"from":"1970-01-01T00:00:09.500Z",)"
                              R"("to":"1970-01-01T00:00:19.000Z","cause":"system_shutdown"}])") !=
      std::string::npos);
}

// A channel's filter narrows the alerts it receives; the collector's health reaches it anyway.
BOOST_AUTO_TEST_CASE(a_channel_filter_narrows_alerts_by_site_class_and_kind) {
  const int64_t site_a2 = store->createSite(tenant_a, "branch", 1000).value().id;
  enroll(site_a2, "agent-a2");
  BOOST_REQUIRE(store->setAgentClass("agent-a2", AgentClass::kServer).value());
  auto filtered = [&](ChannelFilter filter) {
    NewWebhook w;
    w.tenant_id = tenant_a;
    w.kind = "slack";
    w.url = "https://hooks.example.com";
    w.secret = "v1:sealed";
    w.events = kAllEvents;
    w.filter = std::move(filter);
    return store->createWebhook(w, 5000).value();
  };
  Webhook hq_only = filtered(ChannelFilter{{site_a}, {}, {}});
  Webhook servers = filtered(ChannelFilter{{}, {"server"}, {}});
  Webhook flapping = filtered(ChannelFilter{{}, {}, {"flapping"}});
  Webhook branch_servers_offline =
      filtered(ChannelFilter{{site_a2}, {"server"}, {"device_offline"}});
  BOOST_TEST(store->findWebhook(servers.id).value()->filter.agent_classes ==
             std::vector<std::string>{"server"});
  BOOST_REQUIRE(store->appendPresenceEvents({}, {alert("agent-a", "opened", 10'000)}, {}).ok());
  BOOST_REQUIRE(store->appendPresenceEvents({}, {alert("agent-a2", "opened", 10'000)}, {}).ok());
  BOOST_TEST(deliveries(hq_only.id).size() == 1u);  // agent-a, at hq
  BOOST_TEST(deliveries(servers.id).size() == 1u);  // agent-a2, a server
  BOOST_TEST(deliveries(flapping.id).empty());
  BOOST_TEST(deliveries(branch_servers_offline.id).size() == 1u);
  BOOST_TEST(deliveries(branch_servers_offline.id)[0].payload.find("agent-a2") !=
             std::string::npos);
  BOOST_REQUIRE(store->appendPresenceEvents({}, {}, {HealthRecord{30'000, true, "x", 0}}).ok());
  BOOST_TEST(deliveries(flapping.id).size() == 1u);
  // The due entry names the channel's kind and settings for the composer.
  bool slack_due = false;
  for (const DueDelivery& d : due(40'000))
    slack_due |= d.kind == "slack" && d.secret == "v1:sealed";
  BOOST_TEST(slack_due);
}

// A PSA channel's tickets: one per channel and alert, replaced when recorded again, gone with
// the channel; a channel deleted meanwhile is kNotFound.
BOOST_AUTO_TEST_CASE(channel_tickets_are_kept_per_channel_and_alert) {
  Webhook w = webhook(tenant_a);
  Webhook other = webhook(tenant_a);
  BOOST_TEST(!store->findChannelTicket(w.id, "alert:1").value().has_value());
  BOOST_REQUIRE(store->recordChannelTicket({w.id, "alert:1", "4711", 1000, std::nullopt}).ok());
  BOOST_REQUIRE(store->recordChannelTicket({other.id, "alert:1", "9", 1000, std::nullopt}).ok());
  auto found = store->findChannelTicket(w.id, "alert:1").value();
  BOOST_REQUIRE(found.has_value());
  BOOST_TEST(found->ticket == "4711");
  BOOST_TEST(!found->closed_at_ms.has_value());
  BOOST_REQUIRE(store->recordChannelTicket({w.id, "alert:1", "4711", 1000, 5000}).ok());
  BOOST_TEST(*store->findChannelTicket(w.id, "alert:1").value()->closed_at_ms == 5000);
  BOOST_TEST(store->findChannelTicket(other.id, "alert:1").value()->ticket == "9");
  BOOST_REQUIRE(store->deleteWebhook(w.id).value());
  BOOST_TEST(!store->findChannelTicket(w.id, "alert:1").value().has_value());
  BOOST_TEST((store->recordChannelTicket({w.id, "alert:2", "1", 1000, std::nullopt}).code() ==
              StatusCode::kNotFound));
}

// Business hours (collector/core/business_hours.h): a workstation's alert outside them waits
// for the next opening, and is dropped unsent if it ends first; a server's goes at once.
BOOST_AUTO_TEST_CASE(a_workstations_alert_waits_for_business_hours_and_a_servers_does_not) {
  constexpr int64_t kSaturday10h = 1'797'069'600'000;  // 2026-12-12T10:00:00Z
  constexpr int64_t kMonday8h = 1'797'235'200'000;     // 2026-12-14T08:00:00Z
  BOOST_REQUIRE(
      store
          ->setTenantBusinessHours(
              tenant_a,
              R"({"time_zone":"UTC","weekly":[{"day":"mon","open":"08:00","close":"18:00"}]})")
          .value());
  Webhook w = webhook(tenant_a);
  enroll(site_a, "server-a");
  BOOST_REQUIRE(store->setAgentClass("server-a", AgentClass::kServer).value());

  BOOST_REQUIRE(
      store->appendPresenceEvents({}, {alert("agent-a", "opened", kSaturday10h)}, {}).ok());
  BOOST_REQUIRE(
      store->appendPresenceEvents({}, {alert("server-a", "opened", kSaturday10h)}, {}).ok());
  auto entries = deliveries(w.id);
  BOOST_REQUIRE(entries.size() == 2u);
  // Newest first: the server's, due at once; the workstation's, due at Monday's opening.
  BOOST_TEST(entries[0].payload.find("server-a") != std::string::npos);
  BOOST_TEST(entries[0].next_attempt_at_ms == kSaturday10h);
  BOOST_TEST(entries[1].next_attempt_at_ms == kMonday8h);
  BOOST_TEST(due(kSaturday10h + kMinute).size() == 1u);  // only the server's

  // The workstation is back before Monday: its alert is dropped, and its end is not sent.
  BOOST_REQUIRE(
      store->appendPresenceEvents({}, {alert("agent-a", "resolved", kSaturday10h + kMinute)}, {})
          .ok());
  entries = deliveries(w.id);
  BOOST_REQUIRE(entries.size() == 2u);
  BOOST_TEST(entries[1].state == "dropped");
  BOOST_TEST(entries[1].last_error == "ended_before_business_hours");
  BOOST_TEST(due(kMonday8h + kMinute).size() == 1u);  // still only the server's

  // A workstation alert opened outside hours and ended after the opening (not yet sent): the
  // end follows the start.
  BOOST_REQUIRE(
      store->appendPresenceEvents({}, {alert("agent-a", "opened", kSaturday10h + 2 * kMinute)}, {})
          .ok());
  BOOST_REQUIRE(
      store->appendPresenceEvents({}, {alert("agent-a", "resolved", kMonday8h + kMinute)}, {})
          .ok());
  entries = deliveries(w.id);
  BOOST_REQUIRE(entries.size() == 4u);
  BOOST_TEST(entries[0].event_type == "alert.resolved");
  BOOST_TEST(entries[0].state == "pending");
  BOOST_TEST(entries[1].next_attempt_at_ms == kMonday8h);
}

// Reminders and escalation (store.h, enqueueFollowUps), on an explicit clock: a reminder every
// period while the alert stays open and unacknowledged, one escalation to another channel,
// each sent once however often it is looked for; the escalation's channel hears of the end;
// acknowledgement stops both.
BOOST_AUTO_TEST_CASE(reminders_and_escalation_follow_an_unacknowledged_alert) {
  constexpr int64_t kOpened = 10'000'000;
  Webhook oncall = webhook(tenant_a, {"alert.held"});  // only escalations and their end
  NewWebhook first;
  first.tenant_id = tenant_a;
  first.url = "https://example.com/first";
  first.events = kAllEvents;
  first.follow_up = ChannelFollowUp{600, 900, oncall.id};
  const Webhook w = store->createWebhook(first, 5000).value();
  BOOST_TEST((store->findWebhook(w.id).value()->follow_up == first.follow_up));
  BOOST_REQUIRE(store->appendPresenceEvents({}, {alert("agent-a", "opened", kOpened)}, {}).ok());
  auto of_type = [&](int64_t channel, const std::string& type) {
    size_t n = 0;
    for (const OutboxEntry& e : deliveries(channel)) n += e.event_type == type;
    return n;
  };
  auto follow_ups = [&](int64_t at_ms) { return store->enqueueFollowUps(at_ms, 100).value(); };

  BOOST_TEST(follow_ups(kOpened + 599'000) == 0u);
  BOOST_TEST(follow_ups(kOpened + 600'000) == 1u);
  BOOST_TEST(follow_ups(kOpened + 600'000) == 0u);  // claimed: once
  BOOST_TEST(of_type(w.id, "alert.reminder") == 1u);
  BOOST_TEST(deliveries(w.id)[0].payload.find(R"("follow_up":{"reminder":1,)") !=
             std::string::npos);
  BOOST_TEST(follow_ups(kOpened + 900'000) == 1u);  // the escalation, to the on-call channel
  BOOST_TEST(of_type(oncall.id, "alert.escalated") == 1u);
  BOOST_TEST(deliveries(oncall.id)[0].payload.find(R"("escalated_from":)" + std::to_string(w.id)) !=
             std::string::npos);
  BOOST_TEST(follow_ups(kOpened + 1'199'000) == 0u);
  BOOST_TEST(follow_ups(kOpened + 1'200'000) == 1u);  // reminder 2; no second escalation
  BOOST_TEST(of_type(w.id, "alert.reminder") == 2u);
  BOOST_TEST(of_type(oncall.id, "alert.escalated") == 1u);

  // Acknowledged: nothing more.
  const int64_t alert_id = std::stoll(deliveries(w.id)[0].ordering_key.substr(6));
  BOOST_REQUIRE(store->acknowledgeAlert(alert_id, "tech", "", kOpened + 1'300'000).value());
  BOOST_TEST(follow_ups(kOpened + 3'600'000) == 0u);
  // The end reaches the on-call channel too, though it wants no resolutions of its own.
  BOOST_REQUIRE(
      store->appendPresenceEvents({}, {alert("agent-a", "resolved", kOpened + 3'700'000)}, {})
          .ok());
  BOOST_TEST(of_type(oncall.id, "alert.resolved") == 1u);
  BOOST_TEST(of_type(w.id, "alert.resolved") == 1u);
}

// A channel that was not told of an alert (its filter) gets no follow-up of it, and the pair
// stops coming up, so it cannot crowd out others.
BOOST_AUTO_TEST_CASE(follow_ups_skip_channels_the_alert_never_reached) {
  NewWebhook narrow;
  narrow.tenant_id = tenant_a;
  narrow.url = "https://example.com/narrow";
  narrow.events = kAllEvents;
  narrow.filter = ChannelFilter{{}, {"server"}, {}};
  narrow.follow_up = ChannelFollowUp{600, 0, 0};
  const Webhook w = store->createWebhook(narrow, 5000).value();
  BOOST_REQUIRE(store->appendPresenceEvents({}, {alert("agent-a", "opened", 1000)}, {}).ok());
  BOOST_TEST(store->enqueueFollowUps(1000 + 700'000, 1).value() == 0u);
  BOOST_TEST(deliveries(w.id).empty());
  // Recorded as done: the next look finds nothing due until a period later.
  BOOST_TEST(store->enqueueFollowUps(1000 + 800'000, 1).value() == 0u);
}

BOOST_AUTO_TEST_CASE(held_and_released_alerts_are_announced) {
  Webhook w = webhook(tenant_a);
  AlertChange held = alert("agent-a", "held", 10'000);
  held.held_since_ms = 10'000;
  held.held_reasons = "clock_jump";
  BOOST_REQUIRE(store->appendPresenceEvents({}, {held}, {}).ok());
  BOOST_REQUIRE(store->appendPresenceEvents({}, {alert("agent-a", "released", 11'000)}, {}).ok());
  // "released" of an alert that is no longer held announces nothing.
  BOOST_REQUIRE(store->appendPresenceEvents({}, {alert("agent-a", "released", 12'000)}, {}).ok());
  auto entries = deliveries(w.id);
  BOOST_REQUIRE(entries.size() == 2u);
  BOOST_TEST(entries[1].event_type == "alert.held");
  BOOST_TEST(entries[1].payload.find("\"suppression_reason\":\"clock_jump\"") != std::string::npos);
  BOOST_TEST(entries[0].event_type == "alert.released");
}

BOOST_AUTO_TEST_CASE(health_changes_reach_every_tenants_subscribed_webhooks) {
  Webhook a = webhook(tenant_a);
  Webhook b = webhook(tenant_b, {"collector.recovered"});
  HealthRecord degraded{20'000, true, "ingest_lag"};
  HealthRecord recovered{30'000, false, ""};
  BOOST_REQUIRE(store->appendPresenceEvents({}, {}, {degraded, recovered}).ok());
  auto of_a = deliveries(a.id);
  BOOST_REQUIRE(of_a.size() == 2u);
  BOOST_TEST(of_a[1].event_type == "collector.degraded");
  BOOST_TEST(of_a[0].event_type == "collector.recovered");
  BOOST_TEST(of_a[0].ordering_key == "collector");
  auto of_b = deliveries(b.id);
  BOOST_REQUIRE(of_b.size() == 1u);
  BOOST_TEST(of_b[0].event_type == "collector.recovered");
}

BOOST_AUTO_TEST_CASE(an_entry_waits_for_the_older_entry_of_its_key) {
  Webhook w = webhook(tenant_a);
  BOOST_REQUIRE(store->appendPresenceEvents({}, {alert("agent-a", "opened", 10'000)}, {}).ok());
  BOOST_REQUIRE(store->appendPresenceEvents({}, {alert("agent-a", "resolved", 11'000)}, {}).ok());
  BOOST_REQUIRE(store->appendPresenceEvents({}, {}, {{12'000, true, "ingest_lag"}}).ok());
  BOOST_TEST(due(9'999).empty());
  auto first = due(20'000);
  // The opened alert's entry and the collector entry; the resolution waits.
  BOOST_REQUIRE(first.size() == 2u);
  BOOST_TEST(first[0].entry.event_type == "alert.opened");
  BOOST_TEST(first[0].url == w.url);
  BOOST_TEST(first[0].secret == w.secret);
  BOOST_TEST(first[1].entry.event_type == "collector.degraded");

  // A failed attempt keeps the head pending (and the next one waiting) until due again.
  BOOST_REQUIRE(
      store->markDeliveryRetry(first[0].entry.id, kClaimant, {20'000, 500, "HTTP 500"}, 25'000)
          .ok());
  auto waiting = due(21'000);
  BOOST_REQUIRE(waiting.size() == 1u);
  BOOST_TEST(waiting[0].entry.event_type == "collector.degraded");
  auto retried = due(25'000);
  BOOST_REQUIRE(retried.size() == 2u);
  BOOST_TEST(retried[0].entry.event_type == "collector.degraded");  // earliest due first
  const OutboxEntry& opened = entryOf(retried, "alert.opened");
  BOOST_TEST(opened.attempts == 1);
  BOOST_TEST(opened.last_status.value_or(0) == 500);
  BOOST_TEST(opened.last_error == "HTTP 500");
  BOOST_TEST(!hasType(retried, "alert.resolved"));

  BOOST_REQUIRE(store->markDeliveryDelivered(first[0].entry.id, kClaimant, {25'000, 204, ""}).ok());
  auto next = due(25'000);
  BOOST_REQUIRE(next.size() == 2u);
  const OutboxEntry resolved = entryOf(next, "alert.resolved");

  // Given up counts as done for ordering too.
  BOOST_REQUIRE(
      store->markDeliveryFailed(resolved.id, kClaimant, {26'000, std::nullopt, "refused"}).ok());
  auto rows = deliveries(w.id);
  BOOST_TEST(rows[1].state == "failed");
  BOOST_TEST(!rows[1].last_status);
  BOOST_TEST(rows[1].last_error == "refused");
  BOOST_TEST(rows[2].state == "delivered");
  BOOST_TEST(rows[2].attempts == 2);
  BOOST_TEST(rows[2].delivered_at_ms.value_or(0) == 25'000);
  // Recording an attempt of an entry that is no longer pending is refused and changes nothing.
  BOOST_TEST(refused(
      store->markDeliveryRetry(first[0].entry.id, kClaimant, {27'000, 500, "late"}, 30'000)));
  BOOST_TEST(deliveries(w.id)[2].state == "delivered");
  BOOST_TEST(deliveries(w.id)[2].attempts == 2);
}

// Entries blocked behind a failing one are not due before it, so the due list stays short
// however long a receiver is down.
BOOST_AUTO_TEST_CASE(entries_behind_a_retried_entry_are_postponed_with_it) {
  Webhook w = webhook(tenant_a);
  const int64_t head = enqueueTest(w.id, "k", "1");
  const int64_t second = enqueueTest(w.id, "k", "2");
  BOOST_REQUIRE(due(1000).size() == 1u);  // the head of "k", claimed
  BOOST_REQUIRE(store->markDeliveryRetry(head, kClaimant, {1000, 503, "HTTP 503"}, 60'000).ok());
  for (const OutboxEntry& e : deliveries(w.id)) {
    if (e.id == second) BOOST_TEST(e.next_attempt_at_ms == 60'000);
  }
  auto third = store->enqueueWebhookEvent(w.id, {"webhook.test", "k", "3"}, 2000);
  BOOST_REQUIRE(third.ok());
  BOOST_TEST(third.value().next_attempt_at_ms == 60'000);
  auto other = store->enqueueWebhookEvent(w.id, {"webhook.test", "other", "4"}, 2000);
  BOOST_TEST(other.value().next_attempt_at_ms == 2000);
  BOOST_TEST(due(59'999).size() == 1u);     // only the other key
  BOOST_REQUIRE(due(60'000).size() == 2u);  // the head again, and the other key
  BOOST_REQUIRE(store->markDeliveryDelivered(head, kClaimant, {60'000, 200, ""}).ok());
  auto now_due = due(60'000);
  BOOST_REQUIRE(now_due.size() == 2u);
  BOOST_TEST(now_due[1].entry.id == second);
}

BOOST_AUTO_TEST_CASE(disabled_webhooks_keep_their_entries_pending_without_delivery) {
  Webhook w = webhook(tenant_a);
  BOOST_REQUIRE(store->enqueueWebhookEvent(w.id, {"webhook.test", "test", "{}"}, 1000).ok());
  WebhookUpdate off;
  off.enabled = false;
  store->updateWebhook(w.id, off);
  BOOST_TEST(due(2000).empty());
  off.enabled = true;
  store->updateWebhook(w.id, off);
  BOOST_TEST(due(2000).size() == 1u);
}

// The dispatcher's filter: entries of tenants or webhooks at their limit of deliveries in
// flight are left out, so that they cannot fill the page the others are listed on.
BOOST_AUTO_TEST_CASE(due_entries_name_their_tenant_and_skip_filtered_tenants_and_webhooks) {
  Webhook a1 = webhook(tenant_a);
  Webhook a2 = webhook(tenant_a);
  Webhook b = webhook(tenant_b);
  for (const Webhook& w : {a1, a2, b}) {
    BOOST_REQUIRE(store->enqueueWebhookEvent(w.id, {"webhook.test", "t", "{}"}, 1000).ok());
  }
  auto all = due(2000);
  BOOST_REQUIRE(all.size() == 3u);
  for (const DueDelivery& d : all) {
    BOOST_TEST(d.tenant_id == (d.entry.webhook_id == b.id ? tenant_b : tenant_a));
  }
  DueDeliveryFilter skip_a;
  skip_a.skip_tenants = {tenant_a};
  auto only_b = due(2000, skip_a);
  BOOST_REQUIRE(only_b.size() == 1u);
  BOOST_TEST(only_b[0].entry.webhook_id == b.id);
  DueDeliveryFilter skip_hooks;
  skip_hooks.skip_webhooks = {a1.id, b.id};
  auto only_a2 = due(2000, skip_hooks);
  BOOST_REQUIRE(only_a2.size() == 1u);
  BOOST_TEST(only_a2[0].entry.webhook_id == a2.id);
  skip_hooks.skip_tenants = {tenant_a};
  BOOST_TEST(due(2000, skip_hooks).empty());
}

BOOST_AUTO_TEST_CASE(delete_drops_the_webhook_and_its_outbox) {
  Webhook w = webhook(tenant_a);
  Webhook other = webhook(tenant_a);
  BOOST_REQUIRE(store->appendPresenceEvents({}, {alert("agent-a", "opened", 10'000)}, {}).ok());
  BOOST_TEST(due(10'000).size() == 2u);
  BOOST_TEST(store->deleteWebhook(w.id).value());
  BOOST_TEST(!store->findWebhook(w.id).value());
  BOOST_TEST(deliveries(w.id).empty());
  auto left = due(10'000);
  BOOST_REQUIRE(left.size() == 1u);
  BOOST_TEST(left[0].entry.webhook_id == other.id);
  BOOST_TEST(!store->deleteWebhook(w.id).value());
  auto enqueued = store->enqueueWebhookEvent(w.id, {"webhook.test", "t", "{}"}, 1);
  BOOST_TEST((!enqueued.ok() && enqueued.error().code() == vigil::StatusCode::kNotFound));
}

BOOST_AUTO_TEST_CASE(deliveries_page_newest_first_and_stats_count_pending) {
  Webhook w = webhook(tenant_a);
  std::vector<int64_t> ids;
  ids.reserve(5);
  for (int i = 0; i < 5; ++i) {
    ids.push_back(
        store->enqueueWebhookEvent(w.id, {"webhook.test", "t", "{}"}, 1000 + i).value().id);
  }
  auto page1 = store->listDeliveries(w.id, 0, 2).value();
  BOOST_REQUIRE(page1.size() == 2u);
  BOOST_TEST(page1[0].id == ids[4]);
  BOOST_TEST(page1[1].id == ids[3]);
  auto page2 = store->listDeliveries(w.id, page1[1].id, 10).value();
  BOOST_REQUIRE(page2.size() == 3u);
  BOOST_TEST(page2[0].id == ids[2]);
  BOOST_REQUIRE(due(2000).size() == 1u);
  BOOST_REQUIRE(store->markDeliveryDelivered(ids[0], kClaimant, {2000, 200, ""}).ok());
  auto stats = store->outboxStats();
  BOOST_REQUIRE(stats.ok());
  BOOST_TEST(stats.value().pending == 4);
  BOOST_TEST(stats.value().oldest_pending_created_at_ms.value_or(0) == 1001);
}

BOOST_AUTO_TEST_CASE(outbox_survives_a_reopen) {
  Webhook w = webhook(tenant_a);
  BOOST_REQUIRE(store->appendPresenceEvents({}, {alert("agent-a", "opened", 10'000)}, {}).ok());
  const std::string message_id = deliveries(w.id)[0].message_id;
  store.reset();
  store = openStore(dir);
  auto again = due(10'000);
  BOOST_REQUIRE(again.size() == 1u);
  BOOST_TEST(again[0].entry.message_id == message_id);
  BOOST_TEST(again[0].secret == w.secret);
}

// A webhook whose outbox rows the database refuses (a trigger stands for any such row) loses
// its event, reported; the presence write and every other webhook's event stand.
BOOST_AUTO_TEST_CASE(an_event_the_outbox_refuses_never_fails_the_presence_write) {
  Webhook broken = webhook(tenant_a);
  Webhook fine = webhook(tenant_a);
  {
    using Poco::Data::Keywords::now;
    Poco::Data::Session raw = vigil::testing::rawTestSession(dir);
    const std::string id = std::to_string(broken.id);
    if (vigil::testing::testingPostgres()) {
      raw << "CREATE FUNCTION refuse_outbox() RETURNS trigger LANGUAGE plpgsql AS"
             " $$ BEGIN RAISE EXCEPTION 'outbox row refused'; END $$",
          now;
      raw << "CREATE TRIGGER refuse BEFORE INSERT ON webhook_outbox FOR EACH ROW"
             " WHEN (NEW.webhook_id = " +
                 id + ") EXECUTE FUNCTION refuse_outbox()",
          now;
    } else {
      raw << "CREATE TRIGGER refuse BEFORE INSERT ON webhook_outbox WHEN NEW.webhook_id = " + id +
                 " BEGIN SELECT RAISE(ABORT, 'outbox row refused'); END",
          now;
    }
  }
  std::vector<std::string> logged;
  store->setOutboxFailureLog([&](const std::string& line) { logged.push_back(line); });

  BOOST_REQUIRE(store->appendPresenceEvents({}, {alert("agent-a", "opened", 10'000)}, {}).ok());
  BOOST_TEST(vigil::testing::openAlerts(*store).size() == 1u);
  BOOST_TEST(deliveries(fine.id).size() == 1u);
  BOOST_TEST(deliveries(broken.id).empty());
  BOOST_TEST(store->outboxEnqueueFailures() == 1u);
  BOOST_REQUIRE(logged.size() == 1u);
  BOOST_TEST(logged[0].find("alert.opened") != std::string::npos);
  BOOST_TEST(logged[0].find("outbox row refused") != std::string::npos);

  // The next write goes through as well, and so does a resolution.
  BOOST_REQUIRE(store->appendPresenceEvents({}, {alert("agent-a", "resolved", 20'000)}, {}).ok());
  BOOST_TEST(vigil::testing::openAlerts(*store).empty());
  BOOST_TEST(deliveries(fine.id).size() == 2u);
  BOOST_TEST(store->outboxEnqueueFailures() == 2u);
}

// Claims: what one claimant holds, no other is given, until the claim expires or the attempt
// is recorded; the claimant sees its own claims again (a dispatcher's entries in flight).
BOOST_AUTO_TEST_CASE(two_claimants_never_get_the_same_entry) {
  Webhook w = webhook(tenant_a);
  for (int i = 0; i < 10; ++i) enqueueTest(w.id, "k" + std::to_string(i));
  auto first = store->claimDueDeliveries("a", 2000, 4, {}, kMinute, {});
  BOOST_REQUIRE(first.ok());
  BOOST_REQUIRE(first.value().size() == 4u);
  const std::vector<int64_t> of_a = claimIds(2000, "a", kMinute);
  BOOST_TEST(of_a.size() == 10u);  // its own four again, and the six nobody held
  const std::vector<int64_t> of_b = claimIds(2000, "b", kMinute);
  BOOST_TEST(of_b.empty());
  BOOST_TEST(claimIds(2000, "a", kMinute) == of_a, boost::test_tools::per_element());

  // `choose` picks among the candidates; what it leaves is claimed by no one.
  Webhook other = webhook(tenant_b);
  for (int i = 0; i < 3; ++i) enqueueTest(other.id, "k" + std::to_string(i));
  size_t offered = 0;
  auto picked = store->claimDueDeliveries("b", 2000, 100, {}, kMinute,
                                          [&](const std::vector<DueDelivery>& candidates) {
                                            offered = candidates.size();
                                            return std::vector<size_t>{2, 7};  // 7: none
                                          });
  BOOST_REQUIRE(picked.ok());
  BOOST_TEST(offered == 3u);  // a's ten are not offered to b
  BOOST_REQUIRE(picked.value().size() == 1u);
  const int64_t b_holds = picked.value()[0].entry.id;
  const std::vector<int64_t> of_c = claimIds(2000, "c", kMinute);
  BOOST_TEST(of_c.size() == 2u);
  for (int64_t id : of_c) {
    BOOST_TEST(id != b_holds);
    BOOST_TEST(std::count(of_a.begin(), of_a.end(), id) == 0);
  }
  BOOST_TEST(refused(store->markDeliveryDelivered(b_holds, "c", {3000, 200, ""})));
  BOOST_TEST(stored(other.id, b_holds).attempts == 0);
}

// A claimant that stopped (a crashed collector) holds its entries only until its claim
// expires; then another takes them over, under the same message id, also after a retry.
BOOST_AUTO_TEST_CASE(an_expired_claim_is_taken_over_and_keeps_its_message_id) {
  Webhook w = webhook(tenant_a);
  const OutboxEntry entry =
      store->enqueueWebhookEvent(w.id, {"webhook.test", "k", "{}"}, 1000).value();
  BOOST_REQUIRE(due(2000, {}, "crashed", 0).size() == 1u);  // expired at once
  auto taken = due(2000, {}, "b", kMinute);
  BOOST_REQUIRE(taken.size() == 1u);
  BOOST_TEST(taken[0].entry.id == entry.id);
  BOOST_TEST(taken[0].entry.message_id == entry.message_id);
  BOOST_TEST(taken[0].entry.payload == entry.payload);
  BOOST_TEST(due(2000, {}, "crashed", 0).empty());  // b's claim is live

  BOOST_REQUIRE(store->markDeliveryRetry(entry.id, "b", {2000, 502, "http_502"}, 5000).ok());
  BOOST_TEST(due(4999, {}, "c", kMinute).empty());
  auto again = due(5000, {}, "c", kMinute);  // the retry is anyone's once due
  BOOST_REQUIRE(again.size() == 1u);
  BOOST_TEST(again[0].entry.message_id == entry.message_id);
  BOOST_TEST(again[0].entry.attempts == 1);
  BOOST_REQUIRE(store->markDeliveryDelivered(entry.id, "c", {5000, 204, ""}).ok());
  const OutboxEntry done = stored(w.id, entry.id);
  BOOST_TEST(done.state == "delivered");
  BOOST_TEST(done.attempts == 2);
  BOOST_TEST(done.message_id == entry.message_id);
}

// The claimant whose claim passed to another records nothing: not a delivery, a retry (nor the
// postponement of the entries behind it) or a failure. Nor does one that never claimed.
BOOST_AUTO_TEST_CASE(a_stale_claimants_mark_is_refused_and_changes_nothing) {
  Webhook w = webhook(tenant_a);
  const int64_t head = enqueueTest(w.id, "k", "1");
  const int64_t behind = enqueueTest(w.id, "k", "2");
  BOOST_REQUIRE(due(2000, {}, "stale", 0).size() == 1u);
  BOOST_REQUIRE(due(2000, {}, "current", kMinute).size() == 1u);
  const std::vector<OutboxEntry> before = deliveries(w.id);

  BOOST_TEST(refused(store->markDeliveryDelivered(head, "stale", {3000, 200, ""})));
  BOOST_TEST(refused(store->markDeliveryRetry(head, "stale", {3000, 500, "http_500"}, 90'000)));
  BOOST_TEST(refused(store->markDeliveryFailed(head, "stale", {3000, 500, "http_500"})));
  BOOST_TEST(refused(store->markDeliveryDelivered(head, "stranger", {3000, 200, ""})));
  BOOST_TEST(refused(store->markDeliveryDelivered(behind, "current", {3000, 200, ""})));
  const std::vector<OutboxEntry> after = deliveries(w.id);
  BOOST_REQUIRE(after.size() == before.size());
  for (size_t i = 0; i < after.size(); ++i) {
    BOOST_TEST(after[i].state == before[i].state);
    BOOST_TEST(after[i].attempts == before[i].attempts);
    BOOST_TEST(after[i].next_attempt_at_ms == before[i].next_attempt_at_ms);
    BOOST_TEST(after[i].last_attempt_at_ms.has_value() == before[i].last_attempt_at_ms.has_value());
  }
  BOOST_TEST(due(2000, {}, "stale", 0).empty());  // still the current claimant's

  // The current claimant records, once.
  BOOST_REQUIRE(store->markDeliveryDelivered(head, "current", {3000, 200, ""}).ok());
  BOOST_TEST(refused(store->markDeliveryDelivered(head, "current", {3001, 200, ""})));
  BOOST_TEST(stored(w.id, head).attempts == 1);
  BOOST_TEST(stored(w.id, head).delivered_at_ms.value_or(0) == 3000);

  // An entry whose webhook was deleted meanwhile: nothing to record, and no error.
  BOOST_REQUIRE(due(3000, {}, "current", kMinute).size() == 1u);
  BOOST_REQUIRE(store->deleteWebhook(w.id).value());
  BOOST_TEST(store->markDeliveryDelivered(behind, "current", {4000, 200, ""}).ok());
}

// Only the oldest pending entry of a webhook and key is claimable, whoever holds it, so the
// order per key holds across claimants; a takeover takes the head, never what waits behind it.
BOOST_AUTO_TEST_CASE(ordering_per_key_still_holds_with_claims) {
  Webhook w = webhook(tenant_a);
  const int64_t first = enqueueTest(w.id, "alert:1", "1");
  const int64_t second = enqueueTest(w.id, "alert:1", "2");
  const int64_t other = enqueueTest(w.id, "alert:2", "3");
  BOOST_TEST(claimIds(2000, "a", kMinute) == (std::vector<int64_t>{first, other}),
             boost::test_tools::per_element());
  BOOST_TEST(claimIds(2000, "b", kMinute).empty());  // `second` waits behind a's `first`

  BOOST_REQUIRE(store->markDeliveryDelivered(first, "a", {2000, 200, ""}).ok());
  BOOST_TEST(claimIds(2000, "b", kMinute) == std::vector<int64_t>{second},
             boost::test_tools::per_element());

  // b stops; its claim expires; the entry is taken over, and `other` is still a's.
  BOOST_REQUIRE(due(2000, {}, "b", 0).size() == 1u);
  BOOST_TEST(claimIds(2000, "c", kMinute) == std::vector<int64_t>{second},
             boost::test_tools::per_element());
  BOOST_REQUIRE(store->markDeliveryDelivered(other, "a", {2000, 200, ""}).ok());
  BOOST_REQUIRE(store->markDeliveryDelivered(second, "c", {2000, 200, ""}).ok());
  BOOST_TEST(store->outboxStats().value().pending == 0);
}

// Claimants claiming at the same time, each through a connection of its own on PostgreSQL
// (another collector's store: FOR UPDATE SKIP LOCKED, READ COMMITTED) or through the one
// writer of the SQLite file, split the due entries between them: none is claimed twice, and
// both contending for the same first rows makes no claim fail.
BOOST_AUTO_TEST_CASE(concurrent_claimants_split_the_due_entries_between_them) {
  Webhook w = webhook(tenant_a);
  constexpr int kEntries = 120;
  std::set<int64_t> enqueued;
  for (int i = 0; i < kEntries; ++i) enqueued.insert(enqueueTest(w.id, "k" + std::to_string(i)));
  std::unique_ptr<SqlStore> second_store;
  if (vigil::testing::testingPostgres()) second_store = openStore(dir);
  // One claimant: claims one entry at a time, and records it so as to be offered others next.
  struct Claimer {
    WebhookStore& through;
    std::string name;
    std::vector<int64_t> claimed;
    int failures = 0;
    void run() {
      while (failures <= 20) {
        auto one = through.claimDueDeliveries(
            name, 2000, 8, {}, kMinute, [](const std::vector<DueDelivery>& due) {
              return due.empty() ? std::vector<size_t>{} : std::vector<size_t>{0};
            });
        if (!one.ok()) {
          ++failures;
          BOOST_TEST_MESSAGE(one.error().toString());
          continue;
        }
        if (one.value().empty()) return;
        const int64_t id = one.value()[0].entry.id;
        claimed.push_back(id);
        if (!through.markDeliveryDelivered(id, name, {2000, 200, ""}).ok()) ++failures;
      }
    }
  };
  Claimer a{*store, "a", {}, 0};
  Claimer b{second_store ? *second_store : *store, "b", {}, 0};
  std::thread thread_a([&] { a.run(); });
  std::thread thread_b([&] { b.run(); });
  thread_a.join();
  thread_b.join();
  BOOST_TEST_MESSAGE("a claimed " << a.claimed.size() << " (" << a.failures << " failures), b "
                                  << b.claimed.size() << " (" << b.failures << " failures)");
  // A claimer meeting rows the other claimed since its statement began passes over them: no
  // claim fails for the contention.
  BOOST_TEST(a.failures == 0);
  BOOST_TEST(b.failures == 0);
  std::multiset<int64_t> all(a.claimed.begin(), a.claimed.end());
  all.insert(b.claimed.begin(), b.claimed.end());
  BOOST_TEST(all.size() == enqueued.size());
  BOOST_TEST((std::set<int64_t>(all.begin(), all.end()) == enqueued));
  BOOST_TEST(store->outboxStats().value().pending == 0);
}

// PostgreSQL: the writer's connection lost in the middle of a claim (the server ended it)
// fails that claim only; the next one runs on a new connection, and so does every later
// transaction (the client library would otherwise carry the lost transaction's state over).
BOOST_AUTO_TEST_CASE(a_claim_cut_by_a_lost_connection_leaves_the_store_usable) {
  if (!vigil::testing::testingPostgres()) return;  // SQLite's file is never lost
  Webhook w = webhook(tenant_a);
  const int64_t id = enqueueTest(w.id, "k");
  Poco::Data::Session raw = vigil::testing::rawTestSession(dir);
  auto cut = store->claimDueDeliveries(
      "a", 2000, 10, {}, kMinute, [&](const std::vector<DueDelivery>& due) {
        using Poco::Data::Keywords::now;
        raw << "SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity"
               " WHERE datname = current_database() AND state = 'idle in transaction'",
            now;
        return std::vector<size_t>(due.empty() ? 0 : 1, 0);
      });
  BOOST_TEST(!cut.ok());
  for (int i = 0; i < 3; ++i) {  // each a transaction of its own
    auto claimed = store->claimDueDeliveries("a", 2000, 10, {}, kMinute, {});
    BOOST_REQUIRE_MESSAGE(claimed.ok(), (claimed.ok() ? "" : claimed.error().toString()));
    BOOST_REQUIRE(claimed.value().size() == 1u);
    BOOST_TEST(claimed.value()[0].entry.id == id);
  }
  BOOST_TEST(store->markDeliveryRetry(id, "a", {2000, 500, "http_500"}, 3000).ok());
  BOOST_TEST(stored(w.id, id).attempts == 1);
}

BOOST_AUTO_TEST_SUITE_END()
