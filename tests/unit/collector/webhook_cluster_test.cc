#define BOOST_TEST_MODULE collector_webhook_cluster
// Webhook delivery by several collectors sharing one database (docs/webhooks.md, "Across
// collectors"): two WebhookDispatchers, each claiming outbox entries under its own name,
// deliver every event to one loopback receiver exactly once, in order per key. On PostgreSQL
// (VIGIL_TEST_STORE=postgresql) each dispatcher has a store of its own, as two collectors do,
// so their claims race in the database; on SQLite they share the one store, as the dispatchers
// of one collector would.
#include <boost/test/unit_test.hpp>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "collector/notify/outbound_policy.h"
#include "collector/notify/webhook_dispatcher.h"
#include "collector/notify/webhook_transport.h"
#include "collector/store/sql_store.h"
#include "common/clock.h"
#include "common/json.h"
#include "tests/integration/webhook_receiver.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_store.h"

using namespace vigil::collector;
using namespace std::chrono_literals;
using vigil::testing::ReceivedWebhook;
using vigil::testing::TempDir;
using vigil::testing::WebhookReceiver;

namespace {

std::unique_ptr<SqlStore> openStore(const std::string& dir) {
  auto opened = vigil::testing::openTestStore(dir);
  BOOST_REQUIRE_MESSAGE(opened.ok(), (opened.ok() ? std::string() : opened.error().toString()));
  return std::move(opened.value());
}

// The member `name` of a JSON body: a string, or an integer as text.
std::string member(const std::string& body, const char* name) {
  vigil::json::JsonPtr root = vigil::json::parse(body);
  const cJSON* item = cJSON_GetObjectItemCaseSensitive(root.get(), name);
  if (cJSON_IsString(item)) return item->valuestring;
  if (cJSON_IsNumber(item)) return std::to_string(item->valueint);
  return "";
}

// Log lines of both dispatchers, from their worker threads.
class Logs {
 public:
  WebhookDispatcher::LogFn warnings() { return sink(&warnings_); }
  WebhookDispatcher::LogFn errors() { return sink(&errors_); }
  std::string allWarnings() { return joined(warnings_); }
  std::string allErrors() { return joined(errors_); }

 private:
  WebhookDispatcher::LogFn sink(std::vector<std::string>* lines) {
    return [this, lines](const std::string& line) {
      std::lock_guard<std::mutex> lock(mu_);
      lines->push_back(line);
    };
  }
  std::string joined(const std::vector<std::string>& lines) {
    std::lock_guard<std::mutex> lock(mu_);
    std::string out;
    for (const std::string& line : lines) out += line + "\n";
    return out;
  }

  std::mutex mu_;
  std::vector<std::string> warnings_;
  std::vector<std::string> errors_;
};

}  // namespace

BOOST_AUTO_TEST_CASE(two_dispatchers_deliver_every_event_exactly_once_in_order_per_key) {
  constexpr int kEvents = 200;
  constexpr int kKeys = 20;
  TempDir tmp;
  const std::string dir = tmp.sub("data");
  std::unique_ptr<SqlStore> store = openStore(dir);
  std::unique_ptr<SqlStore> second_store;
  if (vigil::testing::testingPostgres()) second_store = openStore(dir);

  WebhookReceiver receiver;
  receiver.start();
  // Real time: a delivery whose outcome the store could not record (a conflict with the other
  // collector that outlasted its retries) is held for a backoff, which must run out.
  const vigil::Clock& clock = vigil::RealClock::instance();
  const int64_t now_ms = vigil::toUnixMillis(clock.wallNow());
  const int64_t tenant_id = store->createTenant("t", now_ms).value().id;
  NewWebhook hook;
  hook.tenant_id = tenant_id;
  hook.url = receiver.url();
  hook.events = {"alert.opened"};
  const Webhook webhook = store->createWebhook(hook, now_ms).value();
  receiver.setSecret(webhook.secret);

  const OutboundPolicy loopback_allowed(*OutboundPolicy::parseAllowedNetworks("127.0.0.0/8"));
  HttpWebhookTransportOptions options;
  options.attempt_timeout = 10s;
  auto transport = HttpWebhookTransport::create(options, loopback_allowed);
  BOOST_REQUIRE(transport.ok());
  WebhookDispatchConfig config;
  config.workers = 4;
  config.max_in_flight_per_destination = 4;  // one receiver: let several attempts go at once
  config.max_in_flight_per_tenant = 3;
  config.poll_interval = 20ms;
  config.retry_initial = 50ms;
  config.retry_max = 200ms;
  Logs logs;
  WebhookDispatcher a(*store, *transport.value(), clock, config, logs.warnings(), logs.errors());
  WebhookDispatcher b(second_store ? *second_store : *store, *transport.value(), clock, config,
                      logs.warnings(), logs.errors());
  BOOST_REQUIRE(a.claimant() != b.claimant());
  a.start();
  b.start();

  std::set<std::string> message_ids;
  for (int n = 0; n < kEvents; ++n) {
    const std::string key = "alert:" + std::to_string(n % kKeys);
    const std::string payload =
        R"({"type":"webhook.test","key":")" + key + R"(","n":)" + std::to_string(n) + "}";
    auto entry = store->enqueueWebhookEvent(webhook.id, {"webhook.test", key, payload},
                                            vigil::toUnixMillis(clock.wallNow()));
    BOOST_REQUIRE(entry.ok());
    message_ids.insert(entry.value().message_id);
    if (n % 25 == 0) {
      a.wake();
      b.wake();
    }
  }
  a.wake();
  b.wake();

  // Waits (bounded) until the outbox is empty.
  const auto deadline = std::chrono::steady_clock::now() + 60s;
  while (std::chrono::steady_clock::now() < deadline) {
    auto stats = store->outboxStats();
    if (stats.ok() && stats.value().pending == 0) break;
    std::this_thread::sleep_for(20ms);
  }
  a.stop();
  b.stop();
  receiver.stop();

  BOOST_TEST(store->outboxStats().value().pending == 0, logs.allErrors() + logs.allWarnings());
  // Claims that contend never fail (a claimer passes over what the other claimed), and no
  // attempt failed or lost its claim.
  BOOST_TEST(logs.allErrors().empty(), logs.allErrors());
  BOOST_TEST(logs.allWarnings().empty(), logs.allWarnings());
  const std::vector<ReceivedWebhook> received = receiver.received();
  BOOST_TEST(received.size() == static_cast<size_t>(kEvents));
  std::map<std::string, int> times_received;
  std::map<std::string, int> last_of_key;
  for (const ReceivedWebhook& r : received) {
    BOOST_TEST(r.signature_valid);
    ++times_received[r.id];
    const int n = std::stoi(member(r.body, "n"));
    const std::string key = member(r.body, "key");
    auto last = last_of_key.find(key);
    BOOST_TEST((last == last_of_key.end() || last->second < n), key << ": " << n << " late");
    last_of_key[key] = n;
  }
  for (const auto& [id, times] : times_received) BOOST_TEST(times == 1, id << " twice");
  std::set<std::string> ids;
  for (const auto& entry : times_received) ids.insert(entry.first);
  BOOST_TEST((ids == message_ids), "an event was not delivered");

  // Each recorded delivered once, after one attempt, and both dispatchers took part.
  // Bound to a name: a range-for over value() of a temporary Result reads a destroyed vector.
  const auto deliveries = store->listDeliveries(webhook.id, 0, kEvents + 1);
  BOOST_REQUIRE(deliveries.ok());
  for (const OutboxEntry& e : deliveries.value()) {
    BOOST_TEST(e.state == "delivered");
    BOOST_TEST(e.attempts == 1);
  }
  const uint64_t by_a = a.stats().delivered;
  const uint64_t by_b = b.stats().delivered;
  BOOST_TEST_MESSAGE("delivered by a: " << by_a << ", by b: " << by_b);
  BOOST_TEST(by_a + by_b == static_cast<uint64_t>(kEvents));
  BOOST_TEST(by_a > 0u);
  BOOST_TEST(by_b > 0u);
}
