#define BOOST_TEST_MODULE collector_outbox_store
// SqlStore's webhooks and their outbox: CRUD under tenant scope, events entering the outbox
// with the alert and health changes they announce, ordering per key, attempts, and what
// survives a reopen.
#include <Poco/Data/Session.h>

#include <boost/test/unit_test.hpp>
#include <memory>
#include <string>
#include <vector>

#include "collector/store/sql_store.h"
#include "common/crypto.h"
#include "common/json.h"
#include "store_queries.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_store.h"

using namespace vigil::collector;
using vigil::testing::TempDir;

namespace {

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

  std::vector<DueDelivery> due(int64_t now_ms, const DueDeliveryFilter& filter = {}) {
    auto rows = store->listDueDeliveries(now_ms, 100, filter);
    BOOST_REQUIRE(rows.ok());
    return rows.value();
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
  auto all = store->listWebhooks(TenantScope::everything(), std::nullopt, 0, 10).value();
  BOOST_TEST(all.size() == 3u);
  TenantScope only_a{false, {tenant_a}};
  auto scoped = store->listWebhooks(only_a, std::nullopt, 0, 10).value();
  BOOST_REQUIRE(scoped.size() == 2u);
  BOOST_TEST(scoped[0].id == a1.id);
  BOOST_TEST(scoped[1].id == a2.id);
  BOOST_TEST(store->listWebhooks(only_a, tenant_b, 0, 10).value().empty());
  BOOST_TEST(store->listWebhooks(TenantScope{false, {}}, std::nullopt, 0, 10).value().empty());
  auto of_b = store->listWebhooks(TenantScope::everything(), tenant_b, 0, 10).value();
  BOOST_REQUIRE(of_b.size() == 1u);
  BOOST_TEST(of_b[0].id == b1.id);
  auto page1 = store->listWebhooks(TenantScope::everything(), std::nullopt, 0, 2).value();
  BOOST_REQUIRE(page1.size() == 2u);
  auto page2 = store->listWebhooks(TenantScope::everything(), std::nullopt, page1[1].id, 2).value();
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
      store->markDeliveryRetry(first[0].entry.id, {20'000, 500, "HTTP 500"}, 25'000).ok());
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

  BOOST_REQUIRE(store->markDeliveryDelivered(first[0].entry.id, {25'000, 204, ""}).ok());
  auto next = due(25'000);
  BOOST_REQUIRE(next.size() == 2u);
  const OutboxEntry resolved = entryOf(next, "alert.resolved");

  // Given up counts as done for ordering too.
  BOOST_REQUIRE(store->markDeliveryFailed(resolved.id, {26'000, std::nullopt, "refused"}).ok());
  auto rows = deliveries(w.id);
  BOOST_TEST(rows[1].state == "failed");
  BOOST_TEST(!rows[1].last_status);
  BOOST_TEST(rows[1].last_error == "refused");
  BOOST_TEST(rows[2].state == "delivered");
  BOOST_TEST(rows[2].attempts == 2);
  BOOST_TEST(rows[2].delivered_at_ms.value_or(0) == 25'000);
  // Recording an attempt of an entry that is no longer pending changes nothing.
  BOOST_REQUIRE(store->markDeliveryRetry(first[0].entry.id, {27'000, 500, "late"}, 30'000).ok());
  BOOST_TEST(deliveries(w.id)[2].state == "delivered");
}

// Entries blocked behind a failing one are not due before it, so the due list stays short
// however long a receiver is down.
BOOST_AUTO_TEST_CASE(entries_behind_a_retried_entry_are_postponed_with_it) {
  Webhook w = webhook(tenant_a);
  const int64_t head =
      store->enqueueWebhookEvent(w.id, {"webhook.test", "k", "1"}, 1000).value().id;
  const int64_t second =
      store->enqueueWebhookEvent(w.id, {"webhook.test", "k", "2"}, 1000).value().id;
  BOOST_REQUIRE(store->markDeliveryRetry(head, {1000, 503, "HTTP 503"}, 60'000).ok());
  for (const OutboxEntry& e : deliveries(w.id)) {
    if (e.id == second) BOOST_TEST(e.next_attempt_at_ms == 60'000);
  }
  auto third = store->enqueueWebhookEvent(w.id, {"webhook.test", "k", "3"}, 2000);
  BOOST_REQUIRE(third.ok());
  BOOST_TEST(third.value().next_attempt_at_ms == 60'000);
  auto other = store->enqueueWebhookEvent(w.id, {"webhook.test", "other", "4"}, 2000);
  BOOST_TEST(other.value().next_attempt_at_ms == 2000);
  BOOST_TEST(due(59'999).size() == 1u);  // only the other key
  BOOST_REQUIRE(store->markDeliveryDelivered(head, {60'000, 200, ""}).ok());
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
  store->markDeliveryDelivered(ids[0], {2000, 200, ""});
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
  BOOST_TEST(store->outboxStats().value().enqueue_failures == 1u);
  BOOST_REQUIRE(logged.size() == 1u);
  BOOST_TEST(logged[0].find("alert.opened") != std::string::npos);
  BOOST_TEST(logged[0].find("outbox row refused") != std::string::npos);

  // The next write goes through as well, and so does a resolution.
  BOOST_REQUIRE(store->appendPresenceEvents({}, {alert("agent-a", "resolved", 20'000)}, {}).ok());
  BOOST_TEST(vigil::testing::openAlerts(*store).empty());
  BOOST_TEST(deliveries(fine.id).size() == 2u);
  BOOST_TEST(store->outboxStats().value().enqueue_failures == 2u);
}

BOOST_AUTO_TEST_SUITE_END()
