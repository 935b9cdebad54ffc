#define BOOST_TEST_MODULE collector_webhook_dispatcher
// WebhookDispatcher against a real SqliteStore and a scripted transport, driven by a
// SimulatedClock: signing, retries with backoff, Retry-After, giving up, order per key, store
// failures, and the worker threads.
#include "collector/notify/webhook_dispatcher.h"

#include <boost/test/unit_test.hpp>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "collector/notify/webhook_signature.h"
#include "collector/store/sqlite_store.h"
#include "collector/store/store_wrapper.h"
#include "tests/support/temp_dir.h"

using namespace vigil::collector;
using namespace std::chrono_literals;
using vigil::Result;
using vigil::SimulatedClock;
using vigil::Status;
using vigil::testing::TempDir;

namespace {

// Answers each POST with the next scripted outcome (200 once the script is empty) and records
// every request.
class ScriptedTransport final : public WebhookTransport {
 public:
  Result<WebhookResponse> post(const WebhookRequest& request) override {
    std::lock_guard<std::mutex> lock(mu_);
    requests_.push_back(request);
    posted_.notify_all();
    if (script_.empty()) return WebhookResponse{200, ""};
    Result<WebhookResponse> next = script_.front();
    script_.pop_front();
    return next;
  }

  void answer(int status, std::string retry_after = "") {
    std::lock_guard<std::mutex> lock(mu_);
    script_.push_back(WebhookResponse{status, std::move(retry_after)});
  }
  void fail(const std::string& why) {
    std::lock_guard<std::mutex> lock(mu_);
    script_.push_back(Status::unavailable(why));
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
  std::deque<Result<WebhookResponse>> script_;
  std::vector<WebhookRequest> requests_;
};

std::string header(const WebhookRequest& r, const std::string& name) {
  for (const auto& [n, v] : r.headers) {
    if (n == name) return v;
  }
  return "";
}

// A store whose delivery records can be made to fail.
class FlakyStore final : public StoreWrapper {
 public:
  using StoreWrapper::StoreWrapper;
  bool fail_marks = false;
  Status markDeliveryDelivered(int64_t id, const DeliveryAttempt& a) override {
    if (fail_marks) return Status::ioError("disk full");
    return StoreWrapper::markDeliveryDelivered(id, a);
  }
};

struct Fixture {
  Fixture()
      : clock(vigil::WallTime(std::chrono::milliseconds(1'700'000'000'000))),
        store(std::move(SqliteStore::open(tmp.sub("data")).value())),
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
    if (!dispatcher_) {
      dispatcher_ = std::make_unique<WebhookDispatcher>(
          flaky, transport, clock, config, [this](const std::string& l) { warnings.push_back(l); },
          [this](const std::string& l) { errors.push_back(l); });
    }
    return *dispatcher_;
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
  std::unique_ptr<SqliteStore> store;
  FlakyStore flaky;
  ScriptedTransport transport;
  WebhookDispatchConfig config;
  int64_t tenant_id = 0;
  Webhook webhook;
  std::vector<std::string> warnings;
  std::vector<std::string> errors;
  std::unique_ptr<WebhookDispatcher> dispatcher_;
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
  transport.fail("Connection refused");
  const int64_t t0 = nowMs();
  BOOST_TEST(dispatcher().deliverDue() == 1u);
  OutboxEntry first = stored(e.id);
  BOOST_TEST(first.state == "pending");
  BOOST_TEST(first.attempts == 1);
  BOOST_TEST(first.last_status.value_or(0) == 500);
  BOOST_TEST(first.last_error == "HTTP 500");
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
  BOOST_TEST(second.last_error == "Connection refused");
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

BOOST_AUTO_TEST_CASE(retry_after_accepts_seconds_and_http_dates) {
  const vigil::WallTime now{std::chrono::seconds(1'445'412'480)};  // Wed, 21 Oct 2015 07:28:00
  BOOST_TEST(parseRetryAfter("30", now).value().count() == 30'000);
  BOOST_TEST(parseRetryAfter(" 0 ", now).value().count() == 0);
  BOOST_TEST(parseRetryAfter("Wed, 21 Oct 2015 07:29:00 GMT", now).value().count() == 60'000);
  BOOST_TEST(parseRetryAfter("Wed, 21 Oct 2015 07:00:00 GMT", now).value().count() == 0);
  BOOST_TEST(!parseRetryAfter("", now));
  BOOST_TEST(!parseRetryAfter("soon", now));
  BOOST_TEST(!parseRetryAfter("-5", now));
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
  BOOST_TEST(after.last_error == "HTTP 502");
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
  transport.fail("Connection refused");
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

BOOST_AUTO_TEST_CASE(stats_report_pending_entries_and_the_oldest_age) {
  enqueue("a");
  clock.advance(30s);
  enqueue("b");
  auto stats = dispatcher().stats();
  BOOST_TEST(stats.pending == 2);
  BOOST_TEST(stats.oldest_pending_age_s == 30.0);
}

BOOST_AUTO_TEST_SUITE_END()
