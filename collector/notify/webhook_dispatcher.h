#pragma once

// Delivers the outbox of notification channels (docs/webhooks.md, docs/notifications.md): POSTs
// each due entry as its channel's kind makes it (channel_composer.h: a webhook's signed per
// Standard Webhooks, the others rendered for their service) and records the outcome in the
// store.
//
//   - Once across collectors: the dispatcher claims each entry in the store before it attempts
//     it (store.h, claimDueDeliveries), as `claimant`, for a claim TTL of twice the transport's
//     attempt timeout plus the poll interval, on the database's clock. Another dispatcher (of
//     this collector or another one sharing the database) never takes an entry under an
//     unexpired claim, and only the claimant records the attempt; a claimant whose claim ran
//     out and passed to another records nothing (the store answers kFailedPrecondition), which
//     is logged and is not a store failure.
//   - At least once: an entry leaves "pending" only when an attempt is recorded, so an entry
//     whose delivery a crash interrupted is sent again, with the same webhook-id (its message
//     id), once its claim has expired: by another collector, or by this one after the restart.
//     So is an entry whose claimant stalled past the claim TTL, and then the receiver may get
//     it twice (deduplicate on webhook-id).
//   - In order per ordering key: the store offers only the oldest pending entry of each webhook
//     and key, and it stays pending (and claimed) while in flight, so no dispatcher of the
//     cluster has two entries of one webhook and key in flight.
//   - A 2xx answer is delivered; anything else, or no answer, is retried after a capped
//     exponential backoff with jitter (Retry-After is honoured on 429 and 503); an entry still
//     failing once it is `give_up_after` old is given up (state "failed").
//
// Delivery runs on the dispatcher's own threads, never on ingest or presence threads, so no
// receiver can delay ingest, verdicts or the store's presence writes. Each attempt is bounded
// as a whole by the transport (webhooks.attemptTimeoutSeconds). One destination (a webhook's
// host:port; a channel of another kind, whose service many tenants share) has at most
// `max_in_flight_per_destination` attempts in flight, one tenant at most
// `max_in_flight_per_tenant` (and never every worker); these count this dispatcher's attempts
// (each collector of a cluster has its own). What that bounds, exactly:
//   - a slow or dead receiver holds at most its destination's share of the workers, each for
//     at most one attempt timeout, and delays every event to that destination (of any webhook
//     or tenant pointing there), later events of a key waiting behind earlier ones;
//   - the same tenant's other destinations wait when its slow ones together reach the
//     tenant's cap;
//   - other tenants wait only when slow destinations of several tenants together hold every
//     worker (with the defaults: eight tenants each with one dead receiver); then each due
//     delivery waits up to one attempt timeout for a worker.
// Secrets are never logged, nor the URLs (which may carry credentials); log lines name the
// webhook id and the message id, and the transport's account of a failure (addresses, OS and
// TLS errors), which the tenant never sees: a delivery records only the failure's reason.
//
// Time: backoff and give-up decisions read the injected Clock (wall time, because due times
// are persisted); claims expire on the database's clock; the worker threads' idle waits are
// real time.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "collector/notify/channel_composer.h"
#include "collector/notify/psa_tickets.h"
#include "collector/notify/webhook_transport.h"
#include "collector/store/store.h"
#include "common/clock.h"
#include "common/mutex.h"

namespace vigil::collector {

struct WebhookDispatchConfig {
  int workers = 8;  // deliveries in flight at once, across all webhooks
  // Deliveries in flight at once to one destination (a webhook's host:port, of any tenant; a
  // channel of another kind).
  int max_in_flight_per_destination = 1;
  // Deliveries in flight at once for one tenant; at most workers - 1 (unless workers is 1), so
  // that one tenant never holds every worker.
  int max_in_flight_per_tenant = 4;
  std::chrono::milliseconds poll_interval{1000};   // how often idle workers look for due entries
  std::chrono::milliseconds retry_initial{5000};   // delay after the first failed attempt
  std::chrono::milliseconds retry_max{3'600'000};  // the backoff's cap
  std::chrono::milliseconds give_up_after{24 * 3'600'000};  // age at which failing entries fail
  double jitter = 0.2;  // each delay is shortened by up to this share, at random
  std::string user_agent = "vigil-collector";
  // Names this dispatcher's claims of outbox entries; it must be unique among the dispatchers
  // sharing the database, also across restarts while an old claim may still be live. Empty
  // (the default): "dispatcher-" and 32 random hex digits, new for each dispatcher. The
  // application may set it to the collector's node name and instance, so that an operator
  // reading the outbox table sees which collector holds an entry.
  std::string claimant;
};

// Counters since start, and the outbox now, for /metrics.
struct WebhookDeliveryStats {
  uint64_t delivered = 0;        // entries delivered (2xx)
  uint64_t failed_attempts = 0;  // attempts that got no 2xx
  uint64_t given_up = 0;         // entries that reached state "failed"
  uint64_t store_errors = 0;     // outbox reads or writes that failed
  // Events left out of the outbox (WebhookStore::outboxEnqueueFailures): known also while the
  // database does not answer.
  uint64_t enqueue_failures = 0;
  int64_t pending = 0;              // entries pending now (-1: the store did not answer)
  double oldest_pending_age_s = 0;  // 0 when none is pending or the store did not answer
};

class WebhookDispatcher {
 public:
  using LogFn = std::function<void(const std::string& line)>;

  // `store`, `transport` and `clock` must outlive the dispatcher. `warn` receives one line per
  // failed attempt and per entry given up; `error` one per store failure. `credentials` (which
  // must outlive the dispatcher) opens the sealed credentials of channels other than webhooks
  // (channel_composer.h); null: only webhooks are delivered, other channels' entries fail.
  // `mail` (which must outlive the dispatcher) sends email channels' messages; null: they fail.
  WebhookDispatcher(WebhookStore& store, WebhookTransport& transport, const Clock& clock,
                    WebhookDispatchConfig config, LogFn warn = {}, LogFn error = {},
                    const SecretBox* credentials = nullptr, MailTransport* mail = nullptr);
  ~WebhookDispatcher();  // stops if running
  WebhookDispatcher(const WebhookDispatcher&) = delete;
  WebhookDispatcher& operator=(const WebhookDispatcher&) = delete;

  // Starts the worker threads. REQUIRES: not running.
  void start();
  // Wakes the workers and joins them; a delivery in flight finishes first (bounded by the
  // transport's attempt timeout). Idempotent.
  void stop();
  // Tells the workers that entries were enqueued, so they need not wait for the next poll.
  void wake();

  // Attempts every entry due now, one after another on the calling thread, until none is due
  // (or the store fails); returns the number of attempts. The workers do the same in a loop;
  // tests call it directly with a SimulatedClock.
  size_t deliverDue();

  WebhookDeliveryStats stats();

  // The name this dispatcher claims entries under (WebhookDispatchConfig::claimant).
  const std::string& claimant() const { return claimant_; }
  // How long each claim lasts: twice the transport's attempt timeout plus the poll interval,
  // so that an attempt and the recording of its outcome fit in it with room to spare.
  std::chrono::milliseconds claimTtl() const { return claim_ttl_; }

  // The delay before attempt `attempts + 1` after `attempts` failed ones, before jitter:
  // retry_initial * 2^(attempts - 1), at most retry_max. REQUIRES: attempts >= 1.
  std::chrono::milliseconds backoff(int64_t attempts) const;

 private:
  // The next due entry no other worker holds, whose tenant and destination are below their
  // limits, claimed in the store and marked in flight; false if none (or on a store failure,
  // which sets *store_failed).
  bool claim(DueDelivery* out, bool* store_failed);
  int tenantLimit() const;
  void release(int64_t entry_id);
  // Keeps an entry whose outcome could not be recorded from being claimed again before its
  // next backoff delay, so a store that cannot write does not make the dispatcher resend it in
  // a loop.
  void hold(const DueDelivery& due);
  // Store failures are logged when they start; their end is logged too.
  void noteStoreFailure(const std::string& line);
  void noteStoreSuccess();
  // Attempts one entry and records the outcome; false if recording it failed.
  bool attempt(const DueDelivery& due);
  // Records `answer` to the attempt `outcome` began: delivered on a 2xx, else retried after
  // the backoff or given up; false if recording it failed.
  bool recordOutcome(const DueDelivery& due, DeliveryAttempt outcome, const WebhookResult& answer);
  // After recording the outcome of `due`'s attempt (`recorded`): a claim lost to another
  // dispatcher is logged; a store failure is noted and the entry held. False on a store
  // failure.
  bool afterRecording(const DueDelivery& due, const Status& recorded);
  std::chrono::milliseconds jittered(std::chrono::milliseconds delay);
  void run();

  WebhookStore& store_;
  WebhookTransport& transport_;
  MailTransport* const mail_;
  TicketDesk tickets_;
  const ChannelComposer composer_;
  const Clock& clock_;
  const WebhookDispatchConfig config_;
  const LogFn warn_;
  const LogFn error_;
  const std::string claimant_;
  const std::chrono::milliseconds claim_ttl_;

  // An entry in flight, and what it counts against.
  struct InFlight {
    std::string destination;  // OutboundDestination::key() of its URL
    int64_t tenant_id = 0;
  };
  Mutex claim_mu_;
  std::map<int64_t, InFlight> in_flight_ GUARDED_BY(claim_mu_);  // by entry id
  std::map<std::string, int> destination_in_flight_ GUARDED_BY(claim_mu_);
  std::map<int64_t, int> tenant_in_flight_ GUARDED_BY(claim_mu_);
  std::map<int64_t, int64_t> held_until_ GUARDED_BY(claim_mu_);  // entry id -> wall ms
  std::atomic<bool> store_failing_{false};

  Mutex random_mu_;
  std::mt19937_64 random_ GUARDED_BY(random_mu_);

  Mutex run_mu_;
  CondVar wake_cv_;
  bool stopping_ GUARDED_BY(run_mu_) = false;
  uint64_t wakeups_ GUARDED_BY(run_mu_) = 0;
  std::vector<std::thread> threads_;

  std::atomic<uint64_t> delivered_{0};
  std::atomic<uint64_t> failed_attempts_{0};
  std::atomic<uint64_t> given_up_{0};
  std::atomic<uint64_t> store_errors_{0};
};

}  // namespace vigil::collector
