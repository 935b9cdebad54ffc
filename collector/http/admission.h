#pragma once

// Bulkheads of the HTTP listener (docs/operations.md, "Connections and bulkheads").
//
// The listener (collector/listener/http_listener.h) hands over only complete requests. Each
// is classified by path into ingest (/v1/*: agents' enrollments and heartbeats), admin (/api/*
// and anything unknown) or probe (/livez, /readyz, /metrics); each class has its own workers
// and may have at most its own number of requests admitted and not yet answered (waiting for
// a worker or being served). A request over its class's limit, or arriving while more of its
// class wait than the class tolerates or while the oldest of them has waited longer than the
// class tolerates, is shed at once: answered 503 (or 429 when one client is over its own
// share) with a jittered Retry-After, never dropped. So the admin API can never hold the
// workers ingest needs. Agents' requests are shed for real overload only: a request may wait
// for a worker (bounded in memory by the high-water mark) as long as the collector still
// serves the queue in time; more requests arriving at once than there are workers is no
// reason to shed.
//
// This file is the decision and the counting, without sockets.
//
// Thread safety: AdmissionController is safe to call concurrently.

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "common/clock.h"
#include "common/mutex.h"
#include "common/status.h"

namespace vigil::collector {

enum class RequestClass : uint8_t {
  kIngest,  // POST /v1/enroll, /v1/heartbeat (and any /v1/ path)
  kAdmin,   // /api/*, and every path no other class claims
  kProbe,   // /livez, /readyz, /metrics
};
constexpr size_t kRequestClassCount = 3;
const char* requestClassName(RequestClass request_class);  // "ingest", "admin", "probe"

// The class of a request path (the path only, without query).
RequestClass classifyPath(std::string_view path);

enum class ShedReason : uint8_t {
  kClassFull,       // the class has its limit of requests in progress: 503
  kQueueHighWater,  // more of the class's requests wait for a worker than it tolerates: 503
  kClientShare,     // this client has its limit of admin requests in progress: 429
  kQueueDelay,      // the oldest of the class's waiting requests waited too long: 503
};
constexpr size_t kShedReasonCount = 4;
// "class_full", "queue_high_water", "client_share", "queue_delay"
const char* shedReasonName(ShedReason reason);

struct AdmissionConfig {
  // Requests of each class admitted and not yet answered, waiting ones included (indexed by
  // RequestClass); at least 1. The collector sets each to its workers plus its high-water
  // mark, so that the mark, not the number of workers, bounds a class's waiting requests.
  std::array<uint32_t, kRequestClassCount> max_in_flight{{4 + 512, 4 + 32, 2}};
  // Requests of the class waiting for a worker above which its new requests are shed; 0: the
  // class is never shed for its queue.
  std::array<uint32_t, kRequestClassCount> queue_high_water{{512, 32, 0}};
  // The oldest waiting request of the class has waited longer than this: the workers do not
  // keep up, new requests of the class are shed until it is served. Zero: no such bound.
  std::array<Duration, kRequestClassCount> max_queue_delay{
      {std::chrono::seconds(1), Duration::zero(), Duration::zero()}};
  // Admin requests in progress from one client address; 0: no per-client limit.
  uint32_t admin_max_per_client = 0;
  // Retry-After: retry_after_s plus a uniform 0..retry_after_jitter_s, so that clients told
  // to come back do not all come back in the same second.
  uint32_t retry_after_s = 5;
  uint32_t retry_after_jitter_s = 10;
};

// Why and how a request is refused.
struct ShedDecision {
  ShedReason reason = ShedReason::kClassFull;
  int http_status = 503;
  uint32_t retry_after_s = 0;
};

// Upper bounds (seconds) of the request duration histogram's buckets; +Inf is implied.
constexpr std::array<double, 12> kDurationBuckets{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                                  0.1,   0.25,   0.5,   1,    2.5,   10};

// Counters since the start, for /metrics.
struct AdmissionStats {
  struct PerClass {
    uint64_t admitted = 0;
    std::array<uint64_t, kShedReasonCount> shed{};  // indexed by ShedReason
    uint64_t in_flight = 0;
    uint32_t max_in_flight = 0;
    // Answers by HTTP status (100..599), sheds included.
    std::array<uint64_t, 500> responses{};
    // Duration of answered requests: cumulative counts per kDurationBuckets bound, then all.
    std::array<uint64_t, kDurationBuckets.size()> duration_le{};
    uint64_t duration_count = 0;
    double duration_sum_s = 0;
  };
  std::array<PerClass, kRequestClassCount> classes{};
};

class AdmissionController {
 public:
  // Returns a uniform integer in 0..max; injected so tests see fixed Retry-After values.
  using Jitter = std::function<uint32_t(uint32_t max)>;

  // Holds one class slot (and a client slot for admin) until destroyed.
  class Ticket {
   public:
    Ticket(Ticket&& other) noexcept;
    Ticket& operator=(Ticket&& other) noexcept;
    Ticket(const Ticket&) = delete;
    Ticket& operator=(const Ticket&) = delete;
    ~Ticket();

    RequestClass requestClass() const { return class_; }

   private:
    friend class AdmissionController;
    Ticket(AdmissionController* owner, RequestClass request_class, std::string client);
    void release();

    AdmissionController* owner_;
    RequestClass class_;
    std::string client_;  // non-empty: holds a per-client slot
  };

  // REQUIRES: every max_in_flight >= 1. Without `jitter`, a thread-local PRNG is used.
  explicit AdmissionController(AdmissionConfig config, Jitter jitter = {});
  AdmissionController(const AdmissionController&) = delete;
  AdmissionController& operator=(const AdmissionController&) = delete;

  // Admits a request of `request_class` from `client` (its address, without port) while
  // `queued` requests of its class wait for a worker, the oldest of them for `oldest_wait`,
  // or says why it is shed. Sheds are counted here.
  Result<Ticket, ShedDecision> admit(RequestClass request_class, const std::string& client,
                                     uint64_t queued, Duration oldest_wait = Duration::zero());

  // Counts one answer (admitted or shed) with its HTTP status and how long it took.
  void recordResponse(RequestClass request_class, int http_status, Duration took);

  AdmissionStats stats() const;
  // Requests of the class admitted, and shed for any reason, since the start.
  uint64_t admitted(RequestClass request_class) const;
  uint64_t shed(RequestClass request_class) const;
  const AdmissionConfig& config() const { return config_; }

 private:
  struct ClassState {
    std::atomic<uint64_t> admitted{0};
    std::array<std::atomic<uint64_t>, kShedReasonCount> shed{};
    std::atomic<uint32_t> in_flight{0};
    std::array<std::atomic<uint64_t>, 500> responses{};
    std::array<std::atomic<uint64_t>, kDurationBuckets.size()> duration_le{};
    std::atomic<uint64_t> duration_count{0};
    std::atomic<uint64_t> duration_sum_us{0};
  };

  ShedDecision shedFor(RequestClass request_class, ShedReason reason);
  void release(RequestClass request_class, const std::string& client);

  const AdmissionConfig config_;
  const Jitter jitter_;
  std::array<ClassState, kRequestClassCount> classes_;
  Mutex clients_mu_;
  std::unordered_map<std::string, uint32_t> admin_clients_ GUARDED_BY(clients_mu_);
};

// Turns the running totals of an AdmissionController into what the degradation detector takes
// (requests taken and shed since the previous report) and into one log line per period while
// requests are shed.
//
// Thread safety: one caller thread (the presence ticker).
class ShedReporter {
 public:
  struct Delta {
    uint64_t ingest_accepted = 0;
    uint64_t ingest_shed = 0;  // refused connections included
  };

  // `admission` and `clock` must outlive the reporter.
  ShedReporter(const AdmissionController& admission, const Clock& clock,
               Duration summary_period = std::chrono::seconds(10));

  // Since the previous take(); `refused_connections` is the listener's running total of
  // connections closed for want of room.
  Delta take(uint64_t refused_connections);
  // A summary of the sheds since the previous summary, once `summary_period` has passed since
  // it; nullopt when it is not due or nothing was shed or refused.
  std::optional<std::string> summaryDue();

 private:
  const AdmissionController& admission_;
  const Clock& clock_;
  const Duration summary_period_;
  uint64_t reported_accepted_ = 0;
  uint64_t reported_shed_ = 0;
  uint64_t refused_ = 0;
  MonoTime summarised_at_;
  AdmissionStats summarised_;
  uint64_t summarised_refused_ = 0;
};

}  // namespace vigil::collector
