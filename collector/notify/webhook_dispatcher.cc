#include "collector/notify/webhook_dispatcher.h"

#include <algorithm>
#include <map>
#include <set>
#include <utility>

#include "collector/notify/outbound_policy.h"
#include "collector/notify/psa_tickets.h"
#include "common/retry_after.h"

namespace vigil::collector {
namespace {

using std::chrono::milliseconds;

constexpr size_t kMaxErrorBytes = 500;
// The longest Retry-After honoured (retry_max caps the wait further).
constexpr std::chrono::seconds kMaxRetryAfter = std::chrono::hours(366 * 24);

int64_t nowMs(const Clock& clock) { return toUnixMillis(clock.wallNow()); }

std::string describe(const DueDelivery& due) {
  const std::string channel = due.kind == "webhook" ? "webhook " : due.kind + " channel ";
  return channel + std::to_string(due.entry.webhook_id) + ": delivery " + due.entry.message_id +
         " (" + due.entry.event_type + ")";
}

// "dispatcher-" and 32 random hex digits.
std::string randomClaimant() {
  std::random_device device;
  std::string id = "dispatcher-";
  constexpr char kHex[] = "0123456789abcdef";
  for (int word = 0; word < 4; ++word) {
    uint32_t bits = device();
    for (int digit = 0; digit < 8; ++digit, bits >>= 4) id += kHex[bits & 0xf];
  }
  return id;
}

// Where a delivery goes, as the in-flight limits count it. A webhook: OutboundDestination::key()
// of its URL, the receiver a tenant runs (a URL that does not parse fails at once in the
// transport and counts on its own). The other kinds: the channel itself, because their hosts
// are services many tenants share (hooks.slack.com, a mail provider, a PSA's cloud): one
// destination per host would send every tenant's messages to it one at a time.
std::string destinationOf(const DueDelivery& due) {
  if (due.kind != "webhook") return "channel:" + std::to_string(due.entry.webhook_id);
  auto destination = parseOutboundUrl(due.url);
  return destination.ok() ? destination.value().key() : "invalid:" + due.url;
}

std::string seconds(milliseconds d) {
  const int64_t tenths = (d.count() + 50) / 100;
  return std::to_string(tenths / 10) + (tenths % 10 != 0 ? "." + std::to_string(tenths % 10) : "") +
         " s";
}

}  // namespace

WebhookDispatcher::WebhookDispatcher(WebhookStore& store, WebhookTransport& transport,
                                     const Clock& clock, WebhookDispatchConfig config, LogFn warn,
                                     LogFn error, const SecretBox* credentials, MailTransport* mail)
    : store_(store),
      transport_(transport),
      mail_(mail),
      tickets_(store, transport, credentials),
      composer_(credentials),
      clock_(clock),
      config_(std::move(config)),
      warn_(std::move(warn)),
      error_(std::move(error)),
      claimant_(config_.claimant.empty() ? randomClaimant() : config_.claimant),
      claim_ttl_(2 * transport_.attemptTimeout() + config_.poll_interval),
      random_(std::random_device{}()) {}

WebhookDispatcher::~WebhookDispatcher() { stop(); }

void WebhookDispatcher::start() {
  {
    MutexLock lock(run_mu_);
    stopping_ = false;
  }
  const int workers = std::max(1, config_.workers);
  for (int i = 0; i < workers; ++i) threads_.emplace_back([this] { run(); });
}

void WebhookDispatcher::stop() {
  {
    MutexLock lock(run_mu_);
    stopping_ = true;
  }
  wake_cv_.notifyAll();
  for (std::thread& t : threads_) t.join();
  threads_.clear();
}

void WebhookDispatcher::wake() {
  {
    MutexLock lock(run_mu_);
    ++wakeups_;
  }
  wake_cv_.notifyAll();
}

void WebhookDispatcher::run() {
  for (;;) {
    uint64_t seen = 0;
    {
      MutexLock lock(run_mu_);
      if (stopping_) return;
      seen = wakeups_;
    }
    DueDelivery due;
    bool store_failed = false;
    if (claim(&due, &store_failed)) {
      const bool recorded = attempt(due);
      release(due.entry.id);
      if (recorded) continue;
    }
    MutexLock lock(run_mu_);
    const auto deadline = std::chrono::steady_clock::now() + config_.poll_interval;
    while (!stopping_ && wakeups_ == seen && wake_cv_.waitUntil(run_mu_, deadline)) {
    }
  }
}

size_t WebhookDispatcher::deliverDue() {
  size_t attempts = 0;
  std::set<int64_t> attempted;
  DueDelivery due;
  bool store_failed = false;
  while (claim(&due, &store_failed)) {
    if (!attempted.insert(due.entry.id).second) {
      release(due.entry.id);
      break;
    }
    ++attempts;
    const bool recorded = attempt(due);
    release(due.entry.id);
    if (!recorded) break;
  }
  return attempts;
}

int WebhookDispatcher::tenantLimit() const {
  const int workers = std::max(1, config_.workers);
  const int limit = std::max(1, config_.max_in_flight_per_tenant);
  return workers == 1 ? 1 : std::min(limit, workers - 1);
}

bool WebhookDispatcher::claim(DueDelivery* out, bool* store_failed) {
  MutexLock lock(claim_mu_);
  const int64_t now_ms = nowMs(clock_);
  for (auto it = held_until_.begin(); it != held_until_.end();) {
    it = it->second <= now_ms ? held_until_.erase(it) : std::next(it);
  }
  const int destination_limit = std::max(1, config_.max_in_flight_per_destination);
  DueDeliveryFilter filter;
  for (const auto& [tenant, n] : tenant_in_flight_) {
    if (n >= tenantLimit()) filter.skip_tenants.push_back(tenant);
  }
  // The page read includes this dispatcher's own claims (its entries in flight or held).
  const size_t limit = static_cast<size_t>(std::max(1, config_.workers)) + in_flight_.size() +
                       held_until_.size() + 8;
  // Entries whose destination is busy are skipped by webhook, and the page is read again
  // without them, so that a busy destination's backlog never hides other entries.
  constexpr int kMaxPages = 8;
  for (int page = 0; page < kMaxPages; ++page) {
    // What the last run of `choose` saw (the store may run it again).
    size_t listed = 0;
    std::vector<int64_t> busy_webhooks;
    std::string destination;
    // Runs inside the store's claim, on this thread, which holds claim_mu_ throughout.
    auto choose = [&](const std::vector<DueDelivery>& due)
                      NO_THREAD_SAFETY_ANALYSIS -> std::vector<size_t> {
      listed = due.size();
      busy_webhooks.clear();
      for (size_t i = 0; i < due.size(); ++i) {
        const DueDelivery& d = due[i];
        if (in_flight_.count(d.entry.id) != 0 || held_until_.count(d.entry.id) != 0) continue;
        destination = destinationOf(d);
        auto busy = destination_in_flight_.find(destination);
        if (busy != destination_in_flight_.end() && busy->second >= destination_limit) {
          busy_webhooks.push_back(d.entry.webhook_id);
          continue;
        }
        return {i};
      }
      return {};
    };
    auto claimed =
        store_.claimDueDeliveries(claimant_, now_ms, limit, filter, claim_ttl_.count(), choose);
    if (!claimed.ok()) {
      *store_failed = true;
      noteStoreFailure("cannot read the webhook outbox: " + claimed.error().toString());
      return false;
    }
    noteStoreSuccess();
    if (!claimed.value().empty()) {
      DueDelivery& d = claimed.value().front();
      in_flight_[d.entry.id] = InFlight{destination, d.tenant_id};
      ++destination_in_flight_[destination];
      ++tenant_in_flight_[d.tenant_id];
      *out = std::move(d);
      return true;
    }
    if (busy_webhooks.empty() || listed < limit) return false;
    filter.skip_webhooks.insert(filter.skip_webhooks.end(), busy_webhooks.begin(),
                                busy_webhooks.end());
  }
  return false;
}

void WebhookDispatcher::release(int64_t entry_id) {
  MutexLock lock(claim_mu_);
  auto it = in_flight_.find(entry_id);
  if (it == in_flight_.end()) return;
  if (--destination_in_flight_[it->second.destination] <= 0) {
    destination_in_flight_.erase(it->second.destination);
  }
  if (--tenant_in_flight_[it->second.tenant_id] <= 0) tenant_in_flight_.erase(it->second.tenant_id);
  in_flight_.erase(it);
}

void WebhookDispatcher::hold(const DueDelivery& due) {
  const milliseconds delay = jittered(backoff(due.entry.attempts + 1));
  MutexLock lock(claim_mu_);
  held_until_[due.entry.id] = nowMs(clock_) + delay.count();
}

void WebhookDispatcher::noteStoreFailure(const std::string& line) {
  ++store_errors_;
  if (!store_failing_.exchange(true) && error_) error_(line);
}

void WebhookDispatcher::noteStoreSuccess() {
  if (store_failing_.exchange(false) && warn_) warn_("webhook outbox readable again");
}

milliseconds WebhookDispatcher::backoff(int64_t attempts) const {
  milliseconds delay = config_.retry_initial;
  for (int64_t i = 1; i < attempts && delay < config_.retry_max; ++i) delay *= 2;
  return std::min(delay, config_.retry_max);
}

milliseconds WebhookDispatcher::jittered(milliseconds delay) {
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  double share = 0;
  {
    MutexLock lock(random_mu_);
    share = unit(random_);
  }
  const auto cut =
      static_cast<int64_t>(static_cast<double>(delay.count()) * config_.jitter * share);
  return delay - milliseconds(cut);
}

bool WebhookDispatcher::attempt(const DueDelivery& due) {
  const OutboxEntry& entry = due.entry;
  const int64_t started_ms = nowMs(clock_);
  DeliveryAttempt outcome;
  outcome.at_ms = started_ms;

  // A message that cannot be composed (credentials this collector cannot open, ...) fails like
  // an attempt without an answer, and is retried: the channel may be mended meanwhile.
  if (isTicketKind(due.kind)) {
    // A PSA's ticket steps (psa_tickets.h); status 0: nothing to send for this event.
    const WebhookResult answer = tickets_.deliver(due, started_ms);
    if (answer.ok() && answer.value().status == 0) {
      Status s = store_.markDeliveryDelivered(entry.id, claimant_, outcome);
      ++delivered_;
      return afterRecording(due, s);
    }
    return recordOutcome(due, outcome, answer);
  }
  const ComposeResult composed = composer_.compose(due, started_ms);
  if (composed.ok() && !composed.value().send) {
    // The channel's service has nothing to say for this event.
    Status s = store_.markDeliveryDelivered(entry.id, claimant_, outcome);
    ++delivered_;
    return afterRecording(due, s);
  }
  WebhookResult answer = WebhookResult(WebhookFailure{});
  if (!composed.ok()) {
    answer = composed.error();
  } else if (composed.value().mail) {
    answer = mail_ != nullptr
                 ? mail_->send(*composed.value().mail)
                 : WebhookResult(WebhookFailure{compose_failures::kNotSendable,
                                                "this dispatcher has no mail transport"});
  } else {
    answer = transport_.post(composed.value().request);
  }
  return recordOutcome(due, outcome, answer);
}

bool WebhookDispatcher::recordOutcome(const DueDelivery& due, DeliveryAttempt outcome,
                                      const WebhookResult& answer) {
  const OutboxEntry& entry = due.entry;
  const int64_t done_ms = nowMs(clock_);

  Status recorded;
  if (answer.ok() && answer.value().status >= 200 && answer.value().status <= 299) {
    outcome.http_status = answer.value().status;
    recorded = store_.markDeliveryDelivered(entry.id, claimant_, outcome);
    ++delivered_;
  } else {
    ++failed_attempts_;
    milliseconds delay = jittered(backoff(entry.attempts + 1));
    std::string logged;  // the failure as the log tells it
    if (answer.ok()) {
      const int status = answer.value().status;
      outcome.http_status = status;
      outcome.error = (due.kind == "email" ? "smtp_" : "http_") + std::to_string(status);
      logged = outcome.error;
      if (status == 429 || status == 503) {
        if (auto wait =
                parseRetryAfter(answer.value().retry_after, clock_.wallNow(), kMaxRetryAfter)) {
          delay = std::max(delay, std::min(*wait, config_.retry_max));
        }
      }
    } else {
      // The tenant sees the reason only; the detail names addresses and is for the log.
      outcome.error = answer.error().reason;
      logged = answer.error().reason;
      if (!answer.error().detail.empty()) logged += " (" + answer.error().detail + ")";
    }
    if (outcome.error.size() > kMaxErrorBytes) outcome.error.resize(kMaxErrorBytes);
    const int64_t attempts = entry.attempts + 1;
    // Aged from when it was first due (not while it waited for business hours).
    const int64_t due_from_ms = std::max(entry.created_at_ms, entry.due_from_ms);
    if (done_ms - due_from_ms >= config_.give_up_after.count()) {
      recorded = store_.markDeliveryFailed(entry.id, claimant_, outcome);
      ++given_up_;
      if (warn_) {
        warn_(describe(due) + " given up after " + std::to_string(attempts) +
              " attempts: " + logged);
      }
    } else {
      recorded = store_.markDeliveryRetry(entry.id, claimant_, outcome, done_ms + delay.count());
      if (warn_) {
        warn_(describe(due) + " failed: " + logged + "; attempt " + std::to_string(attempts) +
              ", next in " + seconds(delay));
      }
    }
  }
  return afterRecording(due, recorded);
}

bool WebhookDispatcher::afterRecording(const DueDelivery& due, const Status& recorded) {
  if (recorded.ok()) return true;
  if (recorded.code() == StatusCode::kFailedPrecondition) {
    // Its claim ran out during the attempt and another dispatcher took the entry over: that
    // one records it. Not a store failure.
    if (warn_) {
      warn_(describe(due) + ": outcome not recorded, the entry passed to another dispatcher (" +
            recorded.message() + ")");
    }
    return true;
  }
  noteStoreFailure("cannot record a webhook delivery: " + recorded.toString());
  hold(due);
  return false;
}

WebhookDeliveryStats WebhookDispatcher::stats() {
  WebhookDeliveryStats s;
  s.delivered = delivered_.load();
  s.failed_attempts = failed_attempts_.load();
  s.given_up = given_up_.load();
  s.store_errors = store_errors_.load();
  s.enqueue_failures = store_.outboxEnqueueFailures();
  auto outbox = store_.outboxStats();
  if (!outbox.ok()) {
    s.pending = -1;
    return s;
  }
  s.pending = outbox.value().pending;
  if (outbox.value().oldest_pending_created_at_ms) {
    const int64_t age_ms = nowMs(clock_) - *outbox.value().oldest_pending_created_at_ms;
    s.oldest_pending_age_s = static_cast<double>(std::max<int64_t>(age_ms, 0)) / 1000.0;
  }
  return s;
}

}  // namespace vigil::collector
