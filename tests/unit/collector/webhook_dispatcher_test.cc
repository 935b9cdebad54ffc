#define BOOST_TEST_MODULE collector_webhook_dispatcher
// WebhookDispatcher against a real SqlStore and a scripted transport, driven by a
// SimulatedClock: signing, retries with backoff, Retry-After, giving up, order per key, store
// failures, and the worker threads; and once through the real transport, to a refused port.
#include "collector/notify/webhook_dispatcher.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <boost/test/unit_test.hpp>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "collector/events/event_json.h"
#include "collector/events/webhook_signature.h"
#include "collector/notify/channel_kinds.h"
#include "collector/notify/outbound_policy.h"
#include "collector/notify/secret_box.h"
#include "collector/notify/webhook_transport.h"
#include "collector/store/sql_store.h"
#include "collector/store/store_wrapper.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_store.h"

using namespace vigil::collector;
using namespace std::chrono_literals;
using vigil::Result;
using vigil::SimulatedClock;
using vigil::Status;
using vigil::testing::TempDir;

namespace {

// Answers each POST with the next scripted outcome (200 once the script is empty) and records
// every request; `during_post`, if set, runs inside each POST (what happens meanwhile).
class ScriptedTransport final : public WebhookTransport {
 public:
  WebhookResult post(const WebhookRequest& request) override {
    if (during_post) during_post();
    std::lock_guard<std::mutex> lock(mu_);
    requests_.push_back(request);
    posted_.notify_all();
    if (script_.empty()) return WebhookResponse{200, ""};
    WebhookResult next = script_.front();
    script_.pop_front();
    return next;
  }
  std::chrono::milliseconds attemptTimeout() const override { return attempt_timeout; }

  std::chrono::milliseconds attempt_timeout{10s};
  std::function<void()> during_post;

  void answer(int status, std::string retry_after = "") {
    std::lock_guard<std::mutex> lock(mu_);
    script_.push_back(WebhookResponse{status, std::move(retry_after)});
  }
  void fail(const std::string& reason, const std::string& detail = "") {
    std::lock_guard<std::mutex> lock(mu_);
    script_.push_back(WebhookFailure{reason, detail});
  }
  std::vector<WebhookRequest> requests() {
    std::lock_guard<std::mutex> lock(mu_);
    return requests_;
  }
  // Waits (real time, bounded) until `n` requests were made.
  bool waitForRequests(size_t n) {
    std::unique_lock<std::mutex> lock(mu_);
    return posted_.wait_for(lock, 10s, [&] { return requests_.size() >= n; });
  }

 private:
  std::mutex mu_;
  std::condition_variable posted_;
  std::deque<WebhookResult> script_;
  std::vector<WebhookRequest> requests_;
};

std::string header(const WebhookRequest& r, const std::string& name) {
  for (const auto& [n, v] : r.headers) {
    if (n == name) return v;
  }
  return "";
}

// Holds every request to a host whose name starts with "slow" until open(); records how many
// requests were in flight at once, per host and per tenant (the test says whose host is whose).
class GateTransport final : public WebhookTransport {
 public:
  explicit GateTransport(std::map<std::string, int64_t> tenant_of_host)
      : tenant_of_host_(std::move(tenant_of_host)) {}

  WebhookResult post(const WebhookRequest& request) override {
    const std::string host = hostOf(request.url);
    const int64_t tenant = tenant_of_host_.at(host);
    std::unique_lock<std::mutex> lock(mu_);
    posted_.push_back(host);
    host_peak_[host] = std::max(host_peak_[host], ++host_in_flight_[host]);
    tenant_peak_[tenant] = std::max(tenant_peak_[tenant], ++tenant_in_flight_[tenant]);
    changed_.notify_all();
    if (host.rfind("slow", 0) == 0) changed_.wait(lock, [&] { return open_; });
    --host_in_flight_[host];
    --tenant_in_flight_[tenant];
    changed_.notify_all();
    return WebhookResponse{200, ""};
  }
  std::chrono::milliseconds attemptTimeout() const override { return 10s; }

  void open() {
    std::lock_guard<std::mutex> lock(mu_);
    open_ = true;
    changed_.notify_all();
  }
  // Waits (real time, bounded) until `host` was posted to `n` times.
  bool waitPosted(const std::string& host, size_t n) {
    std::unique_lock<std::mutex> lock(mu_);
    return changed_.wait_for(lock, 10s, [&] {
      return static_cast<size_t>(std::count(posted_.begin(), posted_.end(), host)) >= n;
    });
  }
  // Waits (real time, bounded) until `tenant` has `n` requests in flight at once.
  bool waitTenantInFlight(int64_t tenant, int n) {
    std::unique_lock<std::mutex> lock(mu_);
    return changed_.wait_for(lock, 10s, [&] { return tenant_in_flight_[tenant] >= n; });
  }
  int hostPeak(const std::string& host) {
    std::lock_guard<std::mutex> lock(mu_);
    return host_peak_[host];
  }
  int tenantPeak(int64_t tenant) {
    std::lock_guard<std::mutex> lock(mu_);
    return tenant_peak_[tenant];
  }

 private:
  static std::string hostOf(const std::string& url) {
    const size_t start = url.find("://") + 3;
    return url.substr(start, url.find('/', start) - start);
  }

  const std::map<std::string, int64_t> tenant_of_host_;
  std::mutex mu_;
  std::condition_variable changed_;
  bool open_ = false;
  std::vector<std::string> posted_;
  std::map<std::string, int> host_in_flight_, host_peak_;
  std::map<int64_t, int> tenant_in_flight_, tenant_peak_;
};

// A TCP port on loopback where nothing listens: bound (so no one else takes it meanwhile) but
// never listening, so a connection to it is refused at once.
class RefusingPort {
 public:
  RefusingPort() : fd_(socket(AF_INET, SOCK_STREAM, 0)) {
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof address;
    BOOST_REQUIRE(fd_ >= 0);
    BOOST_REQUIRE(bind(fd_, reinterpret_cast<sockaddr*>(&address), length) == 0);
    BOOST_REQUIRE(getsockname(fd_, reinterpret_cast<sockaddr*>(&address), &length) == 0);
    port_ = ntohs(address.sin_port);
  }
  ~RefusingPort() { close(fd_); }
  RefusingPort(const RefusingPort&) = delete;
  RefusingPort& operator=(const RefusingPort&) = delete;
  int port() const { return port_; }

 private:
  int fd_;
  int port_ = 0;
};

// A store whose delivery records and outbox reads can be made to fail.
class FlakyStore final : public StoreWrapper {
 public:
  using StoreWrapper::StoreWrapper;
  bool fail_marks = false;
  bool fail_outbox_reads = false;
  uint64_t enqueue_failures = 0;
  Status markDeliveryDelivered(int64_t id, const std::string& claimant,
                               const DeliveryAttempt& a) override {
    if (fail_marks) return Status::ioError("disk full");
    return StoreWrapper::markDeliveryDelivered(id, claimant, a);
  }
  Result<OutboxStats> outboxStats() override {
    if (fail_outbox_reads) return Status::unavailable("database unreachable");
    return StoreWrapper::outboxStats();
  }
  uint64_t outboxEnqueueFailures() override { return enqueue_failures; }
};

struct Fixture {
  Fixture()
      : clock(vigil::WallTime(std::chrono::milliseconds(1'700'000'000'000))),
        store(std::move(vigil::testing::openTestStore(tmp.sub("data")).value())),
        flaky(*store) {
    tenant_id = store->createTenant("t", nowMs()).value().id;
    NewWebhook w;
    w.tenant_id = tenant_id;
    w.url = "https://receiver.example/hook?token=url-credential";
    w.events = {"alert.opened"};
    webhook = store->createWebhook(w, nowMs()).value();
    config.retry_initial = 5s;
    config.retry_max = 1h;
    config.give_up_after = 24h;
  }

  int64_t nowMs() const { return vigil::toUnixMillis(clock.wallNow()); }

  WebhookDispatcher& dispatcher() {
    if (!lazy_dispatcher) {
      lazy_dispatcher = std::make_unique<WebhookDispatcher>(
          flaky, transport, clock, config, [this](const std::string& l) { warnings.push_back(l); },
          [this](const std::string& l) { errors.push_back(l); });
    }
    return *lazy_dispatcher;
  }

  Webhook addWebhook(int64_t tenant, const std::string& url) {
    NewWebhook w;
    w.tenant_id = tenant;
    w.url = url;
    w.events = {"alert.opened"};
    return store->createWebhook(w, nowMs()).value();
  }

  // `n` entries of `hook`, each under its own ordering key (none waits for another).
  void enqueueMany(const Webhook& hook, int n) {
    for (int i = 0; i < n; ++i) {
      BOOST_REQUIRE(store
                        ->enqueueWebhookEvent(
                            hook.id, {"webhook.test", "key-" + std::to_string(i), "{}"}, nowMs())
                        .ok());
    }
  }

  OutboxEntry enqueue(const std::string& key = "k1", const std::string& payload = R"({"n":1})") {
    auto e = store->enqueueWebhookEvent(webhook.id, {"webhook.test", key, payload}, nowMs());
    BOOST_REQUIRE(e.ok());
    return e.value();
  }

  OutboxEntry stored(int64_t entry_id) {
    auto rows = store->listDeliveries(webhook.id, 0, 1000);
    BOOST_REQUIRE(rows.ok());
    for (const OutboxEntry& e : rows.value()) {
      if (e.id == entry_id) return e;
    }
    BOOST_FAIL("no outbox entry " << entry_id);
    return {};
  }

  std::string allLogs() const {
    std::string all;
    for (const auto& l : warnings) all += l + "\n";
    for (const auto& l : errors) all += l + "\n";
    return all;
  }

  TempDir tmp;
  SimulatedClock clock;
  std::unique_ptr<SqlStore> store;
  FlakyStore flaky;
  ScriptedTransport transport;
  WebhookDispatchConfig config;
  int64_t tenant_id = 0;
  Webhook webhook;
  std::vector<std::string> warnings;
  std::vector<std::string> errors;
  std::unique_ptr<WebhookDispatcher> lazy_dispatcher;
};

}  // namespace

BOOST_FIXTURE_TEST_SUITE(dispatcher, Fixture)

BOOST_AUTO_TEST_CASE(a_due_entry_is_posted_signed_and_marked_delivered) {
  OutboxEntry e = enqueue();
  BOOST_TEST(dispatcher().deliverDue() == 1u);
  auto requests = transport.requests();
  BOOST_REQUIRE(requests.size() == 1u);
  const WebhookRequest& r = requests[0];
  BOOST_TEST(r.url == webhook.url);
  BOOST_TEST(r.body == e.payload);
  BOOST_TEST(header(r, "webhook-id") == e.message_id);
  const int64_t ts = nowMs() / 1000;
  BOOST_TEST(header(r, "webhook-timestamp") == std::to_string(ts));
  BOOST_TEST(header(r, "webhook-signature") ==
             signWebhook(webhook.secret, e.message_id, ts, e.payload).value());
  OutboxEntry after = stored(e.id);
  BOOST_TEST(after.state == "delivered");
  BOOST_TEST(after.attempts == 1);
  BOOST_TEST(after.last_status.value_or(0) == 200);
  BOOST_TEST(after.delivered_at_ms.value_or(0) == nowMs());
  BOOST_TEST(dispatcher().deliverDue() == 0u);
  auto stats = dispatcher().stats();
  BOOST_TEST(stats.delivered == 1u);
  BOOST_TEST(stats.failed_attempts == 0u);
  BOOST_TEST(stats.pending == 0);
}

BOOST_AUTO_TEST_CASE(a_failed_attempt_is_retried_after_backoff_under_the_same_id) {
  OutboxEntry e = enqueue();
  transport.answer(500);
  transport.fail("connect_failed", "203.0.113.9:443: Couldn't connect to server");
  const int64_t t0 = nowMs();
  BOOST_TEST(dispatcher().deliverDue() == 1u);
  OutboxEntry first = stored(e.id);
  BOOST_TEST(first.state == "pending");
  BOOST_TEST(first.attempts == 1);
  BOOST_TEST(first.last_status.value_or(0) == 500);
  BOOST_TEST(first.last_error == "http_500");
  // 5 s, shortened by up to 20 % of jitter.
  BOOST_TEST(first.next_attempt_at_ms >= t0 + 4000);
  BOOST_TEST(first.next_attempt_at_ms <= t0 + 5000);
  BOOST_TEST(dispatcher().deliverDue() == 0u);  // not due yet

  clock.advance(5s);
  const int64_t t1 = nowMs();
  BOOST_TEST(dispatcher().deliverDue() == 1u);
  OutboxEntry second = stored(e.id);
  BOOST_TEST(second.attempts == 2);
  BOOST_TEST(!second.last_status);
  BOOST_TEST(second.last_error == "connect_failed");
  BOOST_TEST(second.next_attempt_at_ms >= t1 + 8000);  // 10 s less jitter
  BOOST_TEST(second.next_attempt_at_ms <= t1 + 10000);

  clock.advance(10s);
  BOOST_TEST(dispatcher().deliverDue() == 1u);
  BOOST_TEST(stored(e.id).state == "delivered");
  auto requests = transport.requests();
  BOOST_REQUIRE(requests.size() == 3u);
  for (const WebhookRequest& r : requests) BOOST_TEST(header(r, "webhook-id") == e.message_id);
  // Each attempt is signed at its own time.
  BOOST_TEST(header(requests[0], "webhook-timestamp") != header(requests[2], "webhook-timestamp"));
  BOOST_TEST(header(requests[2], "webhook-signature") ==
             signWebhook(webhook.secret, e.message_id, nowMs() / 1000, e.payload).value());
  auto stats = dispatcher().stats();
  BOOST_TEST(stats.failed_attempts == 2u);
  BOOST_TEST(stats.delivered == 1u);
  BOOST_TEST(warnings.size() == 2u);
}

BOOST_AUTO_TEST_CASE(backoff_doubles_up_to_its_cap) {
  BOOST_TEST(dispatcher().backoff(1).count() == 5'000);
  BOOST_TEST(dispatcher().backoff(2).count() == 10'000);
  BOOST_TEST(dispatcher().backoff(3).count() == 20'000);
  BOOST_TEST(dispatcher().backoff(10).count() == 2'560'000);
  BOOST_TEST(dispatcher().backoff(11).count() == 3'600'000);
  BOOST_TEST(dispatcher().backoff(1000).count() == 3'600'000);
}

BOOST_AUTO_TEST_CASE(retry_after_is_honoured_on_429_and_503) {
  OutboxEntry a = enqueue("a");
  transport.answer(429, "120");
  const int64_t t0 = nowMs();
  dispatcher().deliverDue();
  BOOST_TEST(stored(a.id).next_attempt_at_ms == t0 + 120'000);

  OutboxEntry b = enqueue("b");
  transport.answer(503, "1");  // shorter than the backoff: the backoff wins
  dispatcher().deliverDue();
  BOOST_TEST(stored(b.id).next_attempt_at_ms >= t0 + 4000);

  OutboxEntry c = enqueue("c");
  transport.answer(500, "600");  // not a 429/503: ignored
  dispatcher().deliverDue();
  BOOST_TEST(stored(c.id).next_attempt_at_ms <= t0 + 5000);
}

BOOST_AUTO_TEST_CASE(an_entry_still_failing_at_the_give_up_age_fails_for_good) {
  config.give_up_after = 1h;
  OutboxEntry e = enqueue();
  for (int i = 0; i < 100; ++i) transport.answer(502);
  int attempts = 0;
  while (stored(e.id).state == "pending" && attempts < 50) {
    attempts += static_cast<int>(dispatcher().deliverDue());
    clock.advance(10min);
  }
  OutboxEntry after = stored(e.id);
  BOOST_TEST(after.state == "failed");
  BOOST_TEST(after.last_error == "http_502");
  BOOST_TEST(after.attempts == attempts);
  BOOST_TEST(after.last_attempt_at_ms.value_or(0) - e.created_at_ms >= 3'600'000);
  BOOST_TEST(dispatcher().stats().given_up == 1u);
  BOOST_TEST(warnings.back().find("given up") != std::string::npos);
  clock.advance(24h);
  BOOST_TEST(dispatcher().deliverDue() == 0u);
}

BOOST_AUTO_TEST_CASE(entries_of_one_key_are_delivered_in_order_and_other_keys_go_on) {
  OutboxEntry first = enqueue("alert:1", R"({"n":1})");
  OutboxEntry second = enqueue("alert:1", R"({"n":2})");
  OutboxEntry other = enqueue("alert:2", R"({"n":3})");
  transport.answer(500);                        // the first attempt (of `first`) fails
  BOOST_TEST(dispatcher().deliverDue() == 2u);  // first (failed) and other; second waits
  BOOST_TEST(stored(second.id).attempts == 0);
  BOOST_TEST(stored(other.id).state == "delivered");
  clock.advance(5s);
  BOOST_TEST(dispatcher().deliverDue() == 2u);  // first, then second
  auto requests = transport.requests();
  BOOST_REQUIRE(requests.size() == 4u);
  BOOST_TEST(header(requests[2], "webhook-id") == first.message_id);
  BOOST_TEST(header(requests[3], "webhook-id") == second.message_id);
  BOOST_TEST(stored(second.id).state == "delivered");
}

BOOST_AUTO_TEST_CASE(logs_name_the_webhook_and_message_but_never_secret_or_url) {
  OutboxEntry e = enqueue();
  transport.fail("connect_failed", "Couldn't connect to server");
  dispatcher().deliverDue();
  const std::string logs = allLogs();
  BOOST_TEST(logs.find(e.message_id) != std::string::npos);
  BOOST_TEST(logs.find("webhook " + std::to_string(webhook.id)) != std::string::npos);
  BOOST_TEST(logs.find(webhook.secret.substr(6)) == std::string::npos);
  BOOST_TEST(logs.find("url-credential") == std::string::npos);
}

BOOST_AUTO_TEST_CASE(an_unrecorded_delivery_is_not_resent_in_a_loop_but_is_resent_later) {
  OutboxEntry e = enqueue();
  flaky.fail_marks = true;
  BOOST_TEST(dispatcher().deliverDue() == 1u);
  BOOST_TEST(dispatcher().deliverDue() == 0u);  // held back, although still pending
  BOOST_TEST(errors.size() == 1u);
  BOOST_TEST(dispatcher().stats().store_errors >= 1u);
  flaky.fail_marks = false;
  clock.advance(5s);
  BOOST_TEST(dispatcher().deliverDue() == 1u);  // at least once: sent again, same id
  BOOST_TEST(stored(e.id).state == "delivered");
  auto requests = transport.requests();
  BOOST_REQUIRE(requests.size() == 2u);
  BOOST_TEST(header(requests[1], "webhook-id") == e.message_id);
}

BOOST_AUTO_TEST_CASE(worker_threads_deliver_when_woken_and_stop_cleanly) {
  config.poll_interval = 1h;  // only a wake-up can make them look again
  config.workers = 2;
  dispatcher().start();
  enqueue("a");
  enqueue("b");
  dispatcher().wake();
  BOOST_TEST(transport.waitForRequests(2));
  dispatcher().stop();
  dispatcher().stop();  // idempotent
  BOOST_TEST(dispatcher().stats().delivered == 2u);
  BOOST_TEST(store->outboxStats().value().pending == 0);
}

// What the tenant sees of a failure is its reason; the log has the detail (addresses, errors).
BOOST_AUTO_TEST_CASE(a_failure_shows_the_tenant_its_reason_and_the_log_its_detail) {
  OutboxEntry e = enqueue();
  transport.fail("destination_not_allowed",
                 "metadata.internal is refused by the outbound policy at 169.254.169.254");
  dispatcher().deliverDue();
  OutboxEntry after = stored(e.id);
  BOOST_TEST(after.last_error == "destination_not_allowed");
  BOOST_TEST(!after.last_status);
  BOOST_TEST(after.state == "pending");  // retried: the operator may allow the network
  BOOST_REQUIRE(warnings.size() == 1u);
  BOOST_TEST(warnings[0].find("169.254.169.254") != std::string::npos);
}

// The same through the real transport (libcurl) against a port that refuses: what is stored
// for the tenant is the reason alone, whatever libcurl's own text says (it names the address
// and port); the log has that text, and never the URL's secret part.
BOOST_AUTO_TEST_CASE(a_real_refused_connection_shows_the_tenant_only_its_reason) {
  const RefusingPort refusing;
  const std::string port = std::to_string(refusing.port());
  const Webhook hook =
      addWebhook(tenant_id, "http://127.0.0.1:" + port + "/hook?token=url-credential");
  BOOST_REQUIRE(store->enqueueWebhookEvent(hook.id, {"webhook.test", "k", "{}"}, nowMs()).ok());
  const OutboundPolicy loopback_allowed(*OutboundPolicy::parseAllowedNetworks("127.0.0.0/8"));
  HttpWebhookTransportOptions options;
  options.attempt_timeout = 10s;
  auto real = HttpWebhookTransport::create(options, loopback_allowed);
  BOOST_REQUIRE(real.ok());
  WebhookDispatcher real_dispatcher(
      flaky, *real.value(), clock, config, [this](const std::string& l) { warnings.push_back(l); },
      [this](const std::string& l) { errors.push_back(l); });

  BOOST_TEST(real_dispatcher.deliverDue() == 1u);
  auto rows = store->listDeliveries(hook.id, 0, 10);
  BOOST_REQUIRE(rows.ok());
  BOOST_REQUIRE(rows.value().size() == 1u);
  const OutboxEntry& after = rows.value()[0];
  BOOST_TEST(after.state == "pending");
  BOOST_TEST(!after.last_status);
  BOOST_TEST(after.last_error == "connect_failed");
  BOOST_TEST(after.last_error.find("127.0.0.1") == std::string::npos);
  BOOST_TEST(after.last_error.find(port) == std::string::npos);
  const std::string logs = allLogs();
  BOOST_TEST(logs.find("127.0.0.1:" + port) != std::string::npos, logs);
  BOOST_TEST(logs.find("url-credential") == std::string::npos, logs);
}

// A tenant whose receivers hang holds at most max_in_flight_per_tenant workers, a destination
// at most max_in_flight_per_destination, and another tenant's delivery goes out meanwhile.
BOOST_AUTO_TEST_CASE(a_slow_tenant_and_a_slow_destination_hold_a_bounded_share_of_workers) {
  const int64_t tenant_b = store->createTenant("b", nowMs()).value().id;
  const int64_t tenant_a = tenant_id;
  // Four webhooks of tenant A on three hanging destinations (two share slow-1), three entries
  // each; tenant B's single entry is queued last.
  for (const char* url : {"https://slow-1.example/a", "https://slow-1.example/b",
                          "https://slow-2.example/", "https://slow-3.example:8443/"}) {
    enqueueMany(addWebhook(tenant_a, url), 3);
  }
  enqueueMany(addWebhook(tenant_b, "https://fast.example/hook"), 1);
  GateTransport gate({{"slow-1.example", tenant_a},
                      {"slow-2.example", tenant_a},
                      {"slow-3.example:8443", tenant_a},
                      {"fast.example", tenant_b}});
  config.workers = 4;
  config.max_in_flight_per_destination = 1;
  config.max_in_flight_per_tenant = 2;
  config.poll_interval = 20ms;
  WebhookDispatcher d(*store, gate, clock, config);
  d.start();
  d.wake();
  BOOST_TEST(gate.waitPosted("fast.example", 1), "tenant B's delivery waited for tenant A's");
  BOOST_TEST(gate.waitTenantInFlight(tenant_a, 2));  // either may start first
  gate.open();
  BOOST_TEST(gate.waitPosted("slow-1.example", 6));
  BOOST_TEST(gate.waitPosted("slow-2.example", 3));
  BOOST_TEST(gate.waitPosted("slow-3.example:8443", 3));
  d.stop();
  BOOST_TEST(gate.tenantPeak(tenant_a) == 2);
  BOOST_TEST(gate.hostPeak("slow-1.example") == 1);
  BOOST_TEST(gate.hostPeak("slow-2.example") == 1);
  BOOST_TEST(store->outboxStats().value().pending == 0);
}

// Channels of a service many tenants share (here two Slack channels, one host) are each a
// destination of their own: a slow answer to one holds no message of the other.
BOOST_AUTO_TEST_CASE(channels_of_a_shared_service_are_destinations_of_their_own) {
  const SecretBox box = SecretBox::fromKey(std::string(32, 'k')).value();
  for (const char* path : {"/services/T1/B1/x", "/services/T2/B2/y"}) {
    NewWebhook w;
    w.tenant_id = tenant_id;
    w.kind = "slack";
    w.url = "https://slow-slack.example";
    w.secret =
        box.seal(std::string(R"({"webhook_url":"https://slow-slack.example)") + path + R"("})",
                 kCredentialsContext)
            .value();
    w.events = {"alert.opened"};
    const Webhook created = store->createWebhook(w, nowMs()).value();
    BOOST_REQUIRE(store
                      ->enqueueWebhookEvent(
                          created.id,
                          {"webhook.test", "k", webhook_events::testEventPayload(created, nowMs())},
                          nowMs())
                      .ok());
  }
  GateTransport gate({{"slow-slack.example", tenant_id}});
  config.workers = 4;
  config.max_in_flight_per_destination = 1;
  config.poll_interval = 20ms;
  WebhookDispatcher d(*store, gate, clock, config, {}, {}, &box);
  d.start();
  d.wake();
  BOOST_TEST(gate.waitTenantInFlight(tenant_id, 2), "one channel's message waited for the other's");
  gate.open();
  BOOST_TEST(gate.waitPosted("slow-slack.example", 2));
  d.stop();
  BOOST_TEST(gate.hostPeak("slow-slack.example") == 2);
  BOOST_TEST(store->outboxStats().value().pending == 0);
}

// A destination's backlog fills every page of due entries; the entries of others behind it
// are found all the same.
BOOST_AUTO_TEST_CASE(a_busy_destinations_backlog_does_not_hide_other_entries) {
  const int64_t tenant_b = store->createTenant("b", nowMs()).value().id;
  enqueueMany(addWebhook(tenant_id, "https://slow-1.example/"), 40);
  enqueueMany(addWebhook(tenant_b, "https://fast.example/"), 1);
  GateTransport gate({{"slow-1.example", tenant_id}, {"fast.example", tenant_b}});
  config.workers = 3;
  config.max_in_flight_per_destination = 1;
  config.max_in_flight_per_tenant = 2;  // not binding: the destination is
  config.poll_interval = 20ms;
  WebhookDispatcher d(*store, gate, clock, config);
  d.start();
  d.wake();
  BOOST_TEST(gate.waitPosted("fast.example", 1), "the other entry was hidden by the backlog");
  BOOST_TEST(gate.waitPosted("slow-1.example", 1));  // either may start first
  gate.open();
  BOOST_TEST(gate.waitPosted("slow-1.example", 40));
  d.stop();
  BOOST_TEST(gate.hostPeak("slow-1.example") == 1);
}

BOOST_AUTO_TEST_CASE(the_tenant_limit_leaves_a_worker_for_others) {
  // 4 of 4 workers per tenant asked: one is kept back for other tenants all the same.
  const int64_t tenant_b = store->createTenant("b", nowMs()).value().id;
  for (const char* url : {"https://slow-1.example/", "https://slow-2.example/",
                          "https://slow-3.example/", "https://slow-4.example/"}) {
    enqueueMany(addWebhook(tenant_id, url), 1);
  }
  enqueueMany(addWebhook(tenant_b, "https://fast.example/"), 1);
  GateTransport gate({{"slow-1.example", tenant_id},
                      {"slow-2.example", tenant_id},
                      {"slow-3.example", tenant_id},
                      {"slow-4.example", tenant_id},
                      {"fast.example", tenant_b}});
  config.workers = 4;
  config.max_in_flight_per_tenant = 4;
  config.poll_interval = 20ms;
  WebhookDispatcher d(*store, gate, clock, config);
  d.start();
  d.wake();
  BOOST_TEST(gate.waitPosted("fast.example", 1));
  BOOST_TEST(gate.waitTenantInFlight(tenant_id, 3));  // either may start first
  gate.open();
  BOOST_TEST(gate.waitPosted("slow-4.example", 1));
  d.stop();
  BOOST_TEST(gate.tenantPeak(tenant_id) == 3);
}

BOOST_AUTO_TEST_CASE(each_dispatcher_claims_under_its_own_name_for_a_derived_time) {
  config.poll_interval = 250ms;
  transport.attempt_timeout = 3s;
  WebhookDispatcher a(*store, transport, clock, config);
  WebhookDispatcher b(*store, transport, clock, config);
  BOOST_TEST(a.claimant().rfind("dispatcher-", 0) == 0u);
  BOOST_TEST(a.claimant().size() == 11u + 32u);
  BOOST_TEST(a.claimant() != b.claimant());
  BOOST_TEST(a.claimTtl().count() == 6'250);  // twice the attempt timeout, plus a poll
  config.claimant = "node-a/5f0c";
  WebhookDispatcher named(*store, transport, clock, config);
  BOOST_TEST(named.claimant() == "node-a/5f0c");
}

// Another dispatcher (another collector's) holds the entry: this one leaves it alone until
// that claim expires, then delivers it under the same message id.
BOOST_AUTO_TEST_CASE(an_entry_another_dispatcher_holds_waits_until_its_claim_expires) {
  OutboxEntry e = enqueue();
  auto held = store->claimDueDeliveries("crashed-collector", nowMs(), 10, {}, 3'600'000, {});
  BOOST_REQUIRE(held.ok());
  BOOST_REQUIRE(held.value().size() == 1u);
  BOOST_TEST(dispatcher().deliverDue() == 0u);
  BOOST_TEST(transport.requests().empty());
  // The same claimant claims again, for no time: its claim has expired at once.
  BOOST_REQUIRE(store->claimDueDeliveries("crashed-collector", nowMs(), 10, {}, 0, {}).ok());
  BOOST_TEST(dispatcher().deliverDue() == 1u);
  auto requests = transport.requests();
  BOOST_REQUIRE(requests.size() == 1u);
  BOOST_TEST(header(requests[0], "webhook-id") == e.message_id);
  BOOST_TEST(stored(e.id).state == "delivered");
  // The crashed collector's late record is refused.
  auto late = store->markDeliveryDelivered(e.id, "crashed-collector", {nowMs(), 200, ""});
  BOOST_TEST(static_cast<int>(late.code()) ==
             static_cast<int>(vigil::StatusCode::kFailedPrecondition));
}

// The dispatcher's claim ran out during its attempt (a claim of no time stands for a stall
// longer than the claim) and another dispatcher took the entry over: the outcome is not
// recorded, which is logged as such and is no store failure; the other records it.
BOOST_AUTO_TEST_CASE(an_outcome_whose_claim_passed_to_another_is_logged_not_recorded) {
  OutboxEntry e = enqueue();
  transport.attempt_timeout = 0ms;
  config.poll_interval = 0ms;
  std::vector<DueDelivery> taken;
  transport.during_post = [&] {
    taken = store->claimDueDeliveries("other-collector", nowMs(), 10, {}, 60'000, {}).value();
  };
  BOOST_TEST(dispatcher().claimTtl().count() == 0);
  BOOST_TEST(dispatcher().deliverDue() == 1u);
  BOOST_REQUIRE(taken.size() == 1u);
  BOOST_TEST(taken[0].entry.message_id == e.message_id);
  OutboxEntry after = stored(e.id);
  BOOST_TEST(after.state == "pending");
  BOOST_TEST(after.attempts == 0);
  BOOST_TEST(errors.empty());
  BOOST_TEST(dispatcher().stats().store_errors == 0u);
  BOOST_REQUIRE(warnings.size() == 1u);
  BOOST_TEST(warnings[0].find("passed to another dispatcher") != std::string::npos);
  BOOST_TEST(warnings[0].find(e.message_id) != std::string::npos);
  BOOST_TEST(store->markDeliveryDelivered(e.id, "other-collector", {nowMs(), 204, ""}).ok());
  BOOST_TEST(stored(e.id).state == "delivered");
}

BOOST_AUTO_TEST_CASE(stats_report_pending_entries_and_the_oldest_age) {
  enqueue("a");
  clock.advance(30s);
  enqueue("b");
  auto stats = dispatcher().stats();
  BOOST_TEST(stats.pending == 2);
  BOOST_TEST(stats.oldest_pending_age_s == 30.0);
}

// While the database does not answer, the outbox is unknown (not empty), and the count of
// events left out of it, kept in memory, is still reported: a counter never goes back.
BOOST_AUTO_TEST_CASE(stats_while_the_outbox_cannot_be_read_keep_the_enqueue_failures) {
  enqueue("a");
  flaky.enqueue_failures = 3;
  flaky.fail_outbox_reads = true;
  auto stats = dispatcher().stats();
  BOOST_TEST(stats.pending == -1);
  BOOST_TEST(stats.oldest_pending_age_s == 0.0);
  BOOST_TEST(stats.enqueue_failures == 3U);
  flaky.fail_outbox_reads = false;
  stats = dispatcher().stats();
  BOOST_TEST(stats.pending == 1);
  BOOST_TEST(stats.enqueue_failures == 3U);
}

BOOST_AUTO_TEST_SUITE_END()
