#define BOOST_TEST_MODULE integration_webhook_outbound
// Webhooks against hostile tenants, with a real collector process (docs/webhooks.md,
// "Outbound destinations" and "Isolation"):
//   - SSRF: with the shipped default, a tenant-scoped admin token gets 400 for every spelling
//     of an internal destination, the collector's own API included; a loopback name that an
//     earlier allow-list let through is refused at delivery; nothing reaches the internal
//     listener, and a tenant cannot tell an open port from a closed one.
//   - Tarpits: receivers that drip their answer hold one tenant's deliveries only until the
//     attempt's deadline, and another tenant's test delivery arrives within seconds.
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>

#include <boost/test/unit_test.hpp>
#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "tests/integration/fake_collector.h"
#include "tests/integration/harness.h"
#include "tests/integration/webhook_receiver.h"

using namespace vigil::testing;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

// Fast webhook retries, so that tests see attempts within seconds.
std::map<std::string, std::string> fastWebhooks() {
  return {{"webhooks.pollIntervalMs", "100"},
          {"webhooks.retryInitialMs", "300"},
          {"webhooks.retryMaxMs", "1000"}};
}

std::map<std::string, std::string> with(std::map<std::string, std::string> settings,
                                        const std::map<std::string, std::string>& more) {
  for (const auto& [key, value] : more) settings[key] = value;
  return settings;
}

HttpResponse call(int port, const std::string& token, const std::string& method,
                  const std::string& path, const std::string& body = "") {
  return httpRequest(port, method, path, {{"Authorization", "Bearer " + token}}, body);
}

// A tenant and an admin token scoped to it, created with the operator's token.
struct Tenant {
  int64_t id = 0;
  std::string token;
};

Tenant createTenant(const Collector& c, const std::string& name) {
  HttpResponse t =
      call(c.port(), c.adminToken(), "POST", "/api/v1/tenants", R"({"name":")" + name + R"("})");
  BOOST_REQUIRE_MESSAGE(t.status == 201, "POST /api/v1/tenants: " << t.status << " " << t.body);
  Tenant tenant;
  tenant.id = t.json()->getValue<int64_t>("id");
  HttpResponse k =
      call(c.port(), c.adminToken(), "POST", "/api/v1/admin-tokens",
           R"({"name":")" + name + R"(-admin","tenant_ids":[)" + std::to_string(tenant.id) + "]}");
  BOOST_REQUIRE_MESSAGE(k.status == 201,
                        "POST /api/v1/admin-tokens: " << k.status << " " << k.body);
  tenant.token = k.json()->getValue<std::string>("token");
  return tenant;
}

HttpResponse postWebhook(const Collector& c, const Tenant& t, const std::string& url) {
  return call(c.port(), t.token, "POST", "/api/v1/webhooks",
              R"({"tenant_id":)" + std::to_string(t.id) + R"(,"url":")" + url + R"("})");
}

int64_t createWebhook(const Collector& c, const Tenant& t, const std::string& url) {
  HttpResponse r = postWebhook(c, t, url);
  BOOST_REQUIRE_MESSAGE(r.status == 201,
                        "POST /api/v1/webhooks " << url << ": " << r.status << " " << r.body);
  return r.json()->getValue<int64_t>("id");
}

std::string sendTest(const Collector& c, const Tenant& t, int64_t webhook_id) {
  HttpResponse r =
      call(c.port(), t.token, "POST", "/api/v1/webhooks/" + std::to_string(webhook_id) + "/test");
  BOOST_REQUIRE_MESSAGE(r.status == 202, "POST .../test: " << r.status << " " << r.body);
  return r.json()->getValue<std::string>("message_id");
}

// The delivery as the tenant sees it (GET .../deliveries); null if absent.
Poco::JSON::Object::Ptr delivery(const Collector& c, const Tenant& t, int64_t webhook_id,
                                 const std::string& message_id) {
  HttpResponse r = call(c.port(), t.token, "GET",
                        "/api/v1/webhooks/" + std::to_string(webhook_id) + "/deliveries");
  return r.status == 200 ? r.item("message_id", message_id) : nullptr;
}

std::string lastError(const Poco::JSON::Object::Ptr& d) {
  return d && !d->isNull("last_error") ? d->getValue<std::string>("last_error") : "";
}

// A port on 127.0.0.1 that refuses connections (bound, read, released).
int closedPort() {
  WebhookReceiver probe;
  probe.start();
  const int port = probe.port();
  probe.stop();
  return port;
}

}  // namespace

// The shipped default (no outbound.allowedNetworks): every SSRF form the audit used, and
// more spellings of the same places, is refused at registration with 400 and a JSON error,
// at creation and at change; nothing reaches the internal listener.
BOOST_AUTO_TEST_CASE(the_shipped_default_refuses_internal_destinations_at_registration) {
  TempDir tmp;
  Collector collector(tmp.sub("collector"), fastWebhooks());
  collector.start();
  WebhookReceiver internal;  // an internal service on loopback
  internal.start();
  const Tenant acme = createTenant(collector, "acme");
  const std::string p = std::to_string(internal.port());
  const std::string own = std::to_string(collector.port());
  const std::vector<std::string> urls = {
      "http://127.0.0.1:" + p + "/hook",
      "http://localhost:" + p + "/hook",
      "http://LocalHost:" + p + "/hook",
      "http://127.1:" + p + "/hook",
      "http://2130706433:" + p + "/hook",
      "http://0x7f.1:" + p + "/hook",
      "http://017700000001:" + p + "/hook",
      "http://0x7f000001:" + p + "/hook",
      "http://0:" + p + "/hook",
      "http://0.0.0.0:" + p + "/hook",
      "http://[::1]:" + p + "/hook",
      "http://[::]:" + p + "/hook",
      "http://[::ffff:127.0.0.1]:" + p + "/hook",
      "http://[::ffff:7f00:1]:" + p + "/hook",
      "http://169.254.169.254/latest/meta-data/",
      "http://10.0.0.1/",
      "http://172.16.0.1/",
      "http://192.168.0.1/",
      "http://100.64.0.1/",
      "http://224.0.0.1/",
      "http://255.255.255.255/",
      "http://[fd00::1]/",
      "http://[fe80::1]/",
      "http://127.0.0.1:" + own + "/api/v1/tenants",  // the collector's own API
      "https://127.0.0.1:" + own + "/api/v1/tenants",
      "http://localhost:" + own + "/livez",
  };
  for (const std::string& url : urls) {
    HttpResponse r = postWebhook(collector, acme, url);
    BOOST_TEST(r.status == 400, url << ": " << r.status << " " << r.body);
    auto body = r.json();
    BOOST_TEST((body && body->getValue<std::string>("error") == "destination_not_allowed"), r.body);
    BOOST_TEST(r.body.find("outbound.allowedNetworks") != std::string::npos, r.body);
  }
  // A name that resolves nowhere now is accepted (every delivery screens again); changing it
  // to an internal destination is refused.
  const int64_t id = createWebhook(collector, acme, "https://hooks.vigil-test.invalid/hook");
  for (const std::string& url : {urls[0], urls[1], urls[3], urls[14]}) {
    HttpResponse r = call(collector.port(), acme.token, "PATCH",
                          "/api/v1/webhooks/" + std::to_string(id), R"({"url":")" + url + R"("})");
    BOOST_TEST(r.status == 400, url << ": " << r.status << " " << r.body);
  }
  HttpResponse list = call(collector.port(), acme.token, "GET", "/api/v1/webhooks");
  BOOST_REQUIRE(list.status == 200);
  BOOST_TEST(list.json()->getArray("items")->size() == 1u);
  BOOST_TEST(list.body.find("hooks.vigil-test.invalid") != std::string::npos);
  BOOST_TEST(internal.received().empty());
}

// A loopback name that an operator's allow-list accepted is refused at delivery once the
// allow-list is gone, before any connection: nothing arrives, and the tenant sees the same
// reason for an open port and a closed one. With the allow-list, an allowed but closed port
// shows a category, not the OS's words. The collector's log has the detail.
BOOST_AUTO_TEST_CASE(a_loopback_name_is_refused_at_delivery_and_ports_stay_unknown) {
  TempDir tmp;
  WebhookReceiver internal;
  internal.start();
  const int closed = closedPort();
  const std::string data_dir = tmp.sub("collector");
  Tenant acme;
  int64_t open_hook = 0, closed_hook = 0;
  std::string to_closed;  // still pending from the first run, ahead of its key's later events
  {
    Collector allowing(data_dir,
                       with(fastWebhooks(), {{"outbound.allowedNetworks", "127.0.0.0/8"}}));
    allowing.start();
    acme = createTenant(allowing, "acme");
    open_hook = createWebhook(allowing, acme,
                              "http://localhost:" + std::to_string(internal.port()) + "/hook");
    closed_hook =
        createWebhook(allowing, acme, "http://localhost:" + std::to_string(closed) + "/hook");
    to_closed = sendTest(allowing, acme, closed_hook);
    BOOST_REQUIRE(eventually(
        [&] { return !lastError(delivery(allowing, acme, closed_hook, to_closed)).empty(); }, 20s));
    BOOST_TEST(lastError(delivery(allowing, acme, closed_hook, to_closed)) == "connect_failed");
    BOOST_TEST(allowing.stop() == 0);
  }
  const size_t received_before = internal.received().size();

  Collector collector(data_dir, fastWebhooks());  // the shipped default again
  collector.start();
  const std::string to_open = sendTest(collector, acme, open_hook);
  Poco::JSON::Object::Ptr open_d, closed_d;
  BOOST_REQUIRE_MESSAGE(eventually(
                            [&] {
                              open_d = delivery(collector, acme, open_hook, to_open);
                              closed_d = delivery(collector, acme, closed_hook, to_closed);
                              return open_d && closed_d &&
                                     open_d->getValue<int64_t>("attempts") >= 2 &&
                                     lastError(closed_d) != "connect_failed";
                            },
                            20s),
                        "no attempts; collector log:\n"
                            << logTail(collector.logPath()));
  BOOST_TEST(lastError(open_d) == "destination_not_allowed");
  BOOST_TEST(lastError(closed_d) == "destination_not_allowed");
  BOOST_TEST(open_d->isNull("last_status"));
  BOOST_TEST(closed_d->isNull("last_status"));
  BOOST_TEST(internal.received().size() == received_before);
  // What the tenant can read names no address and no OS error.
  const std::string listed = call(collector.port(), acme.token, "GET",
                                  "/api/v1/webhooks/" + std::to_string(open_hook) + "/deliveries")
                                 .body;
  BOOST_TEST(listed.find("127.0.0.1") == std::string::npos, listed);
  BOOST_TEST(listed.find("onnection refused") == std::string::npos, listed);
  const std::string log = logTail(collector.logPath(), 1 << 20);
  BOOST_TEST(log.find("127.0.0.1 (loopback)") != std::string::npos, logTail(collector.logPath()));
}

// The tarpits of issue 17: receivers that answer 200 with Content-Length 1000000 and drip a
// byte every 2 s, one dripping its body (the answer's head is all the collector needs) and
// two dripping their head too (held until the attempt's deadline). Tenant A fires test events
// at all of them, enough to fill every worker; tenant B's test delivery to a normal receiver
// arrives within seconds, and A's tarpit attempts end at the deadline.
BOOST_AUTO_TEST_CASE(a_tarpit_receiver_delays_no_other_tenant) {
  constexpr auto kDeadline = 6s;
  TempDir tmp;
  Collector collector(tmp.sub("collector"),
                      with(fastWebhooks(), {{"outbound.allowedNetworks", "127.0.0.0/8"},
                                            {"webhooks.workers", "3"},
                                            {"webhooks.attemptTimeoutSeconds", "6"},
                                            {"webhooks.retryInitialMs", "60000"},
                                            {"webhooks.retryMaxMs", "60000"}}));
  collector.start();
  std::vector<std::unique_ptr<FakeCollector>> head_tarpits;
  for (int i = 0; i < 2; ++i) {
    head_tarpits.push_back(std::make_unique<FakeCollector>());
    head_tarpits.back()->start();
    head_tarpits.back()->setScript(
        [](const FakeRequest&) { return fake_answers::slowHead(1'000'000, 2s); });
  }
  FakeCollector body_tarpit;
  body_tarpit.start();
  body_tarpit.setScript([](const FakeRequest&) { return fake_answers::slowDrip(1'000'000, 2s); });
  WebhookReceiver normal;
  normal.start();

  const Tenant acme = createTenant(collector, "acme");
  const Tenant globex = createTenant(collector, "globex");
  const int64_t body_hook = createWebhook(collector, acme, body_tarpit.url() + "/hook");
  std::vector<int64_t> head_hooks;
  for (const auto& t : head_tarpits) head_hooks.push_back(createWebhook(collector, acme, t->url()));
  const int64_t normal_hook = createWebhook(collector, globex, normal.url());

  const std::string body_message = sendTest(collector, acme, body_hook);
  for (int round = 0; round < 2; ++round) {
    for (int64_t hook : head_hooks) sendTest(collector, acme, hook);
  }
  BOOST_REQUIRE_MESSAGE(
      eventually(
          [&] { return head_tarpits[0]->requestCount() + head_tarpits[1]->requestCount() >= 1; },
          10s),
      "no tarpit was reached; collector log:\n"
          << logTail(collector.logPath()));

  // Tenant B, while A's tarpits hold their attempts; then everything is watched at once.
  const auto b_sent = Clock::now();
  const std::string b_message = sendTest(collector, globex, normal_hook);
  std::optional<Clock::time_point> b_arrived;
  bool body_delivered = false;
  // When each head tarpit's first attempt was seen to end, and the request it carried.
  std::vector<std::optional<Clock::time_point>> head_ended(head_tarpits.size());
  std::vector<std::optional<FakeRequest>> head_first(head_tarpits.size());
  const bool settled = eventually(
      [&] {
        if (!b_arrived) {
          for (const ReceivedWebhook& w : normal.received()) {
            if (w.id == b_message) b_arrived = Clock::now();
          }
        }
        if (!body_delivered) {
          auto d = delivery(collector, acme, body_hook, body_message);
          body_delivered = d && d->getValue<std::string>("state") == "delivered" &&
                           d->getValue<int64_t>("last_status") == 200;
        }
        bool heads_done = true;
        for (size_t t = 0; t < head_tarpits.size(); ++t) {
          if (head_ended[t]) continue;
          heads_done = false;
          if (!head_first[t]) {
            auto requests = head_tarpits[t]->requests();
            if (!requests.empty()) head_first[t] = requests.front();
          }
          if (head_first[t] &&
              lastError(delivery(collector, acme, head_hooks[t],
                                 head_first[t]->header("webhook-id"))) == "timeout") {
            head_ended[t] = Clock::now();
          }
        }
        return b_arrived && body_delivered && heads_done;
      },
      40s);
  BOOST_TEST_MESSAGE("collector log:\n" << logTail(collector.logPath()));
  BOOST_REQUIRE_MESSAGE(b_arrived, "tenant B's delivery never arrived");
  const auto b_took = *b_arrived - b_sent;
  BOOST_TEST_MESSAGE("tenant B's test delivery arrived after "
                     << std::chrono::duration_cast<std::chrono::milliseconds>(b_took).count()
                     << " ms while tenant A's tarpits held their attempts");
  BOOST_TEST(
      (b_took < 3s), "tenant B waited "
                         << std::chrono::duration_cast<std::chrono::milliseconds>(b_took).count()
                         << " ms");
  // The body tarpit's 200 counts at once; its million bytes are not waited for.
  BOOST_TEST(body_delivered);
  BOOST_TEST(settled);
  // Each head tarpit's attempt ends at the deadline, counted from its request's arrival.
  for (size_t t = 0; t < head_tarpits.size(); ++t) {
    BOOST_REQUIRE_MESSAGE(head_ended[t] && head_first[t], "tarpit " << t << " attempt not ended");
    const auto lasted = *head_ended[t] - head_first[t]->arrived;
    BOOST_TEST((lasted > kDeadline - 1s && lasted < kDeadline + 2s),
               "tarpit " << t << ": the attempt ended "
                         << std::chrono::duration_cast<std::chrono::milliseconds>(lasted).count()
                         << " ms after its request");
  }
  collector.stop();
}
