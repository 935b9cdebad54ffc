#define BOOST_TEST_MODULE integration_webhook
// Webhooks end to end (docs/webhooks.md): a real collector delivers its outbox to a real HTTP
// receiver in this process, which checks every Standard Webhooks signature with the secret
// the API returned at creation. Alerts of a real agent arrive in order; deliveries survive a
// receiver that is down, a collector restart and a kill -9 in the middle of a delivery, each
// time under the same webhook-id (at least once).
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include <boost/test/unit_test.hpp>
#include <map>
#include <string>
#include <vector>

#include "tests/integration/harness.h"
#include "tests/integration/webhook_receiver.h"

using namespace vigil::testing;
using namespace std::chrono_literals;

namespace {

// Fast presence verdicts (as in agent_lifecycle_test) and fast webhook retries. The receiver
// is on loopback, which the outbound policy refuses unless the operator allows it.
std::map<std::string, std::string> fastSettings() {
  return {{"heartbeat.intervalSeconds", "1"},       {"presence.confirmationWindowSeconds", "1"},
          {"presence.tickIntervalMs", "100"},       {"store.flushIntervalMs", "200"},
          {"beacon.intervalSeconds", "1"},          {"webhooks.pollIntervalMs", "100"},
          {"webhooks.retryInitialMs", "200"},       {"webhooks.retryMaxMs", "1000"},
          {"webhooks.attemptTimeoutSeconds", "30"}, {"outbound.allowedNetworks", "127.0.0.0/8"}};
}

std::map<std::string, std::string> auth(const Collector& c) {
  return {{"Authorization", "Bearer " + c.adminToken()}};
}

int64_t defaultTenantId(const Collector& c) {
  HttpResponse r = c.adminGet("/api/v1/tenants");
  BOOST_REQUIRE_MESSAGE(r.status == 200, "GET /api/v1/tenants: " << r.status << " " << r.body);
  auto items = r.json()->getArray("items");
  for (size_t i = 0; i < items->size(); ++i) {
    auto t = items->getObject(static_cast<unsigned>(i));
    if (t->getValue<std::string>("name") == "default") return t->getValue<int64_t>("id");
  }
  BOOST_FAIL("no default tenant");
  return 0;
}

struct CreatedWebhook {
  int64_t id = 0;
  std::string secret;
};

CreatedWebhook createWebhook(const Collector& c, const std::string& url,
                             const std::string& events_json = "") {
  std::string body =
      R"({"tenant_id": )" + std::to_string(defaultTenantId(c)) + R"(, "url": ")" + url + R"(")";
  if (!events_json.empty()) body += R"(, "events": )" + events_json;
  body += "}";
  HttpResponse r = httpRequest(c.port(), "POST", "/api/v1/webhooks", auth(c), body);
  BOOST_REQUIRE_MESSAGE(r.status == 201, "POST /api/v1/webhooks: " << r.status << " " << r.body);
  CreatedWebhook w;
  w.id = r.json()->getValue<int64_t>("id");
  w.secret = r.json()->getValue<std::string>("secret");
  BOOST_REQUIRE(w.secret.rfind("whsec_", 0) == 0);
  return w;
}

// Queues a webhook.test event; returns its message id (the webhook-id it is delivered under).
std::string sendTest(const Collector& c, int64_t webhook_id) {
  HttpResponse r = httpRequest(c.port(), "POST",
                               "/api/v1/webhooks/" + std::to_string(webhook_id) + "/test", auth(c));
  BOOST_REQUIRE_MESSAGE(r.status == 202, "POST .../test: " << r.status << " " << r.body);
  return r.json()->getValue<std::string>("message_id");
}

// The webhook's delivery with `message_id`, as GET .../deliveries shows it; null if absent.
Poco::JSON::Object::Ptr delivery(const Collector& c, int64_t webhook_id,
                                 const std::string& message_id) {
  HttpResponse r;
  try {
    r = c.adminGet("/api/v1/webhooks/" + std::to_string(webhook_id) + "/deliveries");
  } catch (const std::exception&) {
    return nullptr;
  }
  return r.status == 200 ? r.item("message_id", message_id) : nullptr;
}

std::string stateOf(const Collector& c, int64_t webhook_id, const std::string& message_id) {
  auto d = delivery(c, webhook_id, message_id);
  return d ? d->getValue<std::string>("state") : "";
}

std::vector<ReceivedWebhook> receivedWithId(const WebhookReceiver& r, const std::string& id) {
  std::vector<ReceivedWebhook> out;
  for (const ReceivedWebhook& w : r.received()) {
    if (w.id == id) out.push_back(w);
  }
  return out;
}

Poco::JSON::Object::Ptr dataOf(const ReceivedWebhook& w) {
  Poco::JSON::Parser parser;
  return parser.parse(w.body).extract<Poco::JSON::Object::Ptr>()->getObject("data");
}

void requireAllSigned(const WebhookReceiver& r) {
  for (const ReceivedWebhook& w : r.received()) {
    BOOST_TEST(w.signature_valid, "bad signature on " << w.id << ": " << w.signature);
    BOOST_TEST(w.timestamp_fresh, "stale webhook-timestamp " << w.timestamp);
  }
}

std::string statusOf(const Collector& c, const std::string& id) {
  auto a = c.agent(id);
  return a ? a->getValue<std::string>("status") : "";
}

}  // namespace

// (a) A real agent dies and comes back: alert.opened then alert.resolved arrive, signed, in
// order, about the same alert.
BOOST_AUTO_TEST_CASE(alert_opened_and_resolved_are_delivered_signed_and_in_order) {
  TempDir tmp;
  Collector collector(tmp.sub("collector"), fastSettings());
  collector.start();
  WebhookReceiver receiver;
  receiver.start();
  CreatedWebhook hook =
      createWebhook(collector, receiver.url(), R"(["alert.opened", "alert.resolved"])");
  receiver.setSecret(hook.secret);

  Agent agent(tmp.sub("agent"), collector.port(), collector.enrollToken());
  agent.start();
  std::string id;
  BOOST_REQUIRE(eventually([&] { return !(id = agent.agentId()).empty(); }, 20s));
  BOOST_REQUIRE(eventually([&] { return statusOf(collector, id) == "ONLINE"; }, 20s));

  agent.kill();
  auto opened = [&] {
    for (const ReceivedWebhook& w : receiver.received()) {
      if (w.type == "alert.opened") return true;
    }
    return false;
  };
  BOOST_REQUIRE_MESSAGE(eventually(opened, 30s), "no alert.opened; collector log:\n"
                                                     << logTail(collector.logPath()));
  agent.start();
  auto resolved = [&] {
    for (const ReceivedWebhook& w : receiver.received()) {
      if (w.type == "alert.resolved") return true;
    }
    return false;
  };
  BOOST_REQUIRE_MESSAGE(eventually(resolved, 30s), "no alert.resolved; collector log:\n"
                                                       << logTail(collector.logPath()));
  auto all = receiver.received();
  BOOST_REQUIRE(all.size() >= 2u);
  BOOST_TEST(all[0].type == "alert.opened");
  BOOST_TEST(all[1].type == "alert.resolved");
  auto opened_data = dataOf(all[0]);
  auto resolved_data = dataOf(all[1]);
  BOOST_TEST(opened_data->getValue<std::string>("agent_id") == id);
  BOOST_TEST(opened_data->getValue<std::string>("kind") == "device_offline");
  BOOST_TEST(opened_data->getValue<std::string>("state") == "open");
  BOOST_TEST(resolved_data->getValue<int64_t>("id") == opened_data->getValue<int64_t>("id"));
  BOOST_TEST(resolved_data->getValue<std::string>("state") == "resolved");
  BOOST_TEST(all[0].id != all[1].id);
  requireAllSigned(receiver);
}

// (b) The receiver is down when the event happens: the attempt fails, is retried, and the
// event arrives once the receiver is back, under the webhook-id of the failed attempt.
BOOST_AUTO_TEST_CASE(delivery_succeeds_after_the_receiver_was_down) {
  TempDir tmp;
  Collector collector(tmp.sub("collector"), fastSettings());
  collector.start();
  WebhookReceiver receiver;
  receiver.start();
  receiver.stop();  // the port is known and refuses connections
  CreatedWebhook hook = createWebhook(collector, receiver.url());
  receiver.setSecret(hook.secret);

  const std::string message_id = sendTest(collector, hook.id);
  BOOST_REQUIRE_MESSAGE(eventually(
                            [&] {
                              auto d = delivery(collector, hook.id, message_id);
                              return d && d->getValue<int64_t>("attempts") >= 2;
                            },
                            20s),
                        "no failed attempts; collector log:\n"
                            << logTail(collector.logPath()));
  auto failing = delivery(collector, hook.id, message_id);
  BOOST_TEST(failing->getValue<std::string>("state") == "pending");
  BOOST_TEST(failing->isNull("last_status"));
  // A category for the tenant, not the OS's words.
  BOOST_TEST(failing->getValue<std::string>("last_error") == "connect_failed");

  receiver.start();
  BOOST_REQUIRE(eventually([&] { return !receivedWithId(receiver, message_id).empty(); }, 20s));
  BOOST_REQUIRE(
      eventually([&] { return stateOf(collector, hook.id, message_id) == "delivered"; }, 10s));
  auto got = receivedWithId(receiver, message_id);
  BOOST_TEST(got.size() == 1u);
  BOOST_TEST(got[0].type == "webhook.test");
  BOOST_TEST(delivery(collector, hook.id, message_id)->getValue<int64_t>("last_status") == 204);
  BOOST_TEST(logTail(collector.logPath(), 1 << 20).find(hook.secret) == std::string::npos);
  requireAllSigned(receiver);
}

// (c) A graceful restart with entries not yet delivered loses none of them.
BOOST_AUTO_TEST_CASE(undelivered_entries_survive_a_collector_restart) {
  TempDir tmp;
  Collector collector(tmp.sub("collector"), fastSettings());
  collector.start();
  WebhookReceiver receiver;
  receiver.start();
  receiver.stop();
  CreatedWebhook hook = createWebhook(collector, receiver.url());
  receiver.setSecret(hook.secret);
  std::vector<std::string> ids;
  ids.reserve(3);
  for (int i = 0; i < 3; ++i) ids.push_back(sendTest(collector, hook.id));
  BOOST_REQUIRE(eventually(
      [&] {
        auto d = delivery(collector, hook.id, ids[0]);
        return d && d->getValue<int64_t>("attempts") >= 1;
      },
      20s));
  BOOST_TEST(collector.stop() == 0);

  receiver.start();
  collector.start();
  BOOST_REQUIRE_MESSAGE(eventually(
                            [&] {
                              for (const std::string& id : ids) {
                                if (receivedWithId(receiver, id).empty()) return false;
                              }
                              return true;
                            },
                            20s),
                        "entries lost across the restart; collector log:\n"
                            << logTail(collector.logPath()));
  // One ordering key (the webhook's test events): delivered in the order they were queued.
  // (The restart may announce collector.degraded/recovered too, under their own key.)
  std::vector<std::string> tests;
  for (const ReceivedWebhook& w : receiver.received()) {
    if (w.type == "webhook.test") tests.push_back(w.id);
  }
  BOOST_TEST(tests == ids, boost::test_tools::per_element());
  for (const std::string& id : ids) {
    BOOST_TEST(eventually([&] { return stateOf(collector, hook.id, id) == "delivered"; }, 10s));
  }
  requireAllSigned(receiver);
}

// (d) kill -9 while the receiver holds the request open: after the restart the event is
// delivered again, with the same webhook-id, once the dead collector's claim on it has expired
// (twice the attempt timeout plus the poll interval: 10.1 s here).
BOOST_AUTO_TEST_CASE(a_delivery_cut_by_kill_9_is_sent_again_with_the_same_id) {
  TempDir tmp;
  std::map<std::string, std::string> settings = fastSettings();
  settings["webhooks.attemptTimeoutSeconds"] = "5";
  Collector collector(tmp.sub("collector"), settings);
  collector.start();
  WebhookReceiver receiver;
  receiver.start();
  CreatedWebhook hook = createWebhook(collector, receiver.url());
  receiver.setSecret(hook.secret);
  receiver.holdNext("webhook.test");

  const std::string message_id = sendTest(collector, hook.id);
  BOOST_REQUIRE_MESSAGE(receiver.waitHeld(20s), "the delivery never arrived; collector log:\n"
                                                    << logTail(collector.logPath()));
  collector.kill();
  receiver.release();
  BOOST_TEST(stateOf(collector, hook.id, message_id).empty());  // it is down

  collector.start();
  BOOST_REQUIRE_MESSAGE(
      eventually([&] { return receivedWithId(receiver, message_id).size() >= 2; }, 40s),
      "the interrupted delivery was not sent again; collector log:\n"
          << logTail(collector.logPath()));
  BOOST_REQUIRE(
      eventually([&] { return stateOf(collector, hook.id, message_id) == "delivered"; }, 10s));
  auto got = receivedWithId(receiver, message_id);
  BOOST_TEST(got[0].answered == 0);  // the first was never answered
  BOOST_TEST(got[1].answered == 204);
  BOOST_TEST(got[0].body == got[1].body);
  requireAllSigned(receiver);
}
