#include "collector/http/admission.h"

#include <algorithm>
#include <random>
#include <utility>

namespace vigil::collector {
namespace {

constexpr std::string_view kIngestPrefix = "/v1/";
constexpr std::string_view kAdminPrefix = "/api/";

bool startsWith(std::string_view text, std::string_view prefix) {
  return text.size() >= prefix.size() && text.compare(0, prefix.size(), prefix) == 0;
}

uint32_t defaultJitter(uint32_t max) {
  if (max == 0) return 0;
  thread_local std::mt19937 generator{std::random_device{}()};
  return std::uniform_int_distribution<uint32_t>(0, max)(generator);
}

size_t index(RequestClass c) { return static_cast<size_t>(c); }

}  // namespace

const char* requestClassName(RequestClass request_class) {
  switch (request_class) {
    case RequestClass::kIngest:
      return "ingest";
    case RequestClass::kAdmin:
      return "admin";
    case RequestClass::kProbe:
      return "probe";
  }
  return "admin";
}

const char* shedReasonName(ShedReason reason) {
  switch (reason) {
    case ShedReason::kClassFull:
      return "class_full";
    case ShedReason::kQueueHighWater:
      return "queue_high_water";
    case ShedReason::kClientShare:
      return "client_share";
    case ShedReason::kQueueDelay:
      return "queue_delay";
  }
  return "class_full";
}

RequestClass classifyPath(std::string_view path) {
  if (path == "/livez" || path == "/readyz" || path == "/metrics") return RequestClass::kProbe;
  if (startsWith(path, kIngestPrefix)) return RequestClass::kIngest;
  if (startsWith(path, kAdminPrefix)) return RequestClass::kAdmin;
  return RequestClass::kAdmin;
}

AdmissionController::Ticket::Ticket(AdmissionController* owner, RequestClass request_class,
                                    std::string client)
    : owner_(owner), class_(request_class), client_(std::move(client)) {}

AdmissionController::Ticket::Ticket(Ticket&& other) noexcept
    : owner_(std::exchange(other.owner_, nullptr)),
      class_(other.class_),
      client_(std::move(other.client_)) {}

AdmissionController::Ticket& AdmissionController::Ticket::operator=(Ticket&& other) noexcept {
  if (this != &other) {
    release();
    owner_ = std::exchange(other.owner_, nullptr);
    class_ = other.class_;
    client_ = std::move(other.client_);
  }
  return *this;
}

AdmissionController::Ticket::~Ticket() { release(); }

void AdmissionController::Ticket::release() {
  if (owner_ == nullptr) return;
  owner_->release(class_, client_);
  owner_ = nullptr;
}

AdmissionController::AdmissionController(AdmissionConfig config, Jitter jitter)
    : config_(config), jitter_(jitter ? std::move(jitter) : Jitter(defaultJitter)) {}

ShedDecision AdmissionController::shedFor(RequestClass request_class, ShedReason reason) {
  classes_[index(request_class)].shed[static_cast<size_t>(reason)].fetch_add(
      1, std::memory_order_relaxed);
  ShedDecision decision;
  decision.reason = reason;
  decision.http_status = reason == ShedReason::kClientShare ? 429 : 503;
  decision.retry_after_s = config_.retry_after_s + std::min(jitter_(config_.retry_after_jitter_s),
                                                            config_.retry_after_jitter_s);
  return decision;
}

Result<AdmissionController::Ticket, ShedDecision> AdmissionController::admit(
    RequestClass request_class, const std::string& client, uint64_t queued, Duration oldest_wait) {
  ClassState& state = classes_[index(request_class)];
  const uint32_t high_water = config_.queue_high_water[index(request_class)];
  if (high_water > 0 && queued > high_water) {
    return shedFor(request_class, ShedReason::kQueueHighWater);
  }
  const Duration max_delay = config_.max_queue_delay[index(request_class)];
  if (max_delay > Duration::zero() && queued > 0 && oldest_wait > max_delay) {
    return shedFor(request_class, ShedReason::kQueueDelay);
  }
  const uint32_t limit = config_.max_in_flight[index(request_class)];
  uint32_t in_flight = state.in_flight.load(std::memory_order_relaxed);
  do {
    if (in_flight >= limit) return shedFor(request_class, ShedReason::kClassFull);
  } while (
      !state.in_flight.compare_exchange_weak(in_flight, in_flight + 1, std::memory_order_acq_rel));
  std::string held_client;
  if (request_class == RequestClass::kAdmin && config_.admin_max_per_client > 0) {
    // An empty key would mean "no client slot" to the ticket.
    std::string key = client.empty() ? std::string("-") : client;
    MutexLock lock(clients_mu_);
    uint32_t& count = admin_clients_[key];
    if (count >= config_.admin_max_per_client) {
      state.in_flight.fetch_sub(1, std::memory_order_acq_rel);
      return shedFor(request_class, ShedReason::kClientShare);
    }
    ++count;
    held_client = std::move(key);
  }
  state.admitted.fetch_add(1, std::memory_order_relaxed);
  return Ticket(this, request_class, std::move(held_client));
}

void AdmissionController::release(RequestClass request_class, const std::string& client) {
  classes_[index(request_class)].in_flight.fetch_sub(1, std::memory_order_acq_rel);
  if (client.empty()) return;
  MutexLock lock(clients_mu_);
  auto it = admin_clients_.find(client);
  if (it == admin_clients_.end()) return;
  if (--it->second == 0) admin_clients_.erase(it);
}

void AdmissionController::recordResponse(RequestClass request_class, int http_status,
                                         Duration took) {
  ClassState& state = classes_[index(request_class)];
  if (http_status >= 100 && http_status <= 599) {
    state.responses[static_cast<size_t>(http_status - 100)].fetch_add(1, std::memory_order_relaxed);
  }
  const double seconds = std::chrono::duration<double>(took).count();
  for (size_t i = 0; i < kDurationBuckets.size(); ++i) {
    if (seconds <= kDurationBuckets[i]) {
      state.duration_le[i].fetch_add(1, std::memory_order_relaxed);
    }
  }
  state.duration_count.fetch_add(1, std::memory_order_relaxed);
  const auto micros = std::chrono::duration_cast<std::chrono::microseconds>(took).count();
  state.duration_sum_us.fetch_add(static_cast<uint64_t>(micros > 0 ? micros : 0),
                                  std::memory_order_relaxed);
}

AdmissionStats AdmissionController::stats() const {
  AdmissionStats out;
  for (size_t c = 0; c < kRequestClassCount; ++c) {
    const ClassState& state = classes_[c];
    AdmissionStats::PerClass& dst = out.classes[c];
    dst.admitted = state.admitted.load(std::memory_order_relaxed);
    for (size_t r = 0; r < kShedReasonCount; ++r) {
      dst.shed[r] = state.shed[r].load(std::memory_order_relaxed);
    }
    dst.in_flight = state.in_flight.load(std::memory_order_relaxed);
    dst.max_in_flight = config_.max_in_flight[c];
    for (size_t s = 0; s < dst.responses.size(); ++s) {
      dst.responses[s] = state.responses[s].load(std::memory_order_relaxed);
    }
    // The count is read first: a bucket is then never below it by a racing record.
    dst.duration_count = state.duration_count.load(std::memory_order_relaxed);
    for (size_t b = 0; b < kDurationBuckets.size(); ++b) {
      dst.duration_le[b] =
          std::min(state.duration_le[b].load(std::memory_order_relaxed), dst.duration_count);
    }
    dst.duration_sum_s =
        static_cast<double>(state.duration_sum_us.load(std::memory_order_relaxed)) / 1e6;
  }
  return out;
}

uint64_t AdmissionController::admitted(RequestClass request_class) const {
  return classes_[index(request_class)].admitted.load(std::memory_order_relaxed);
}

uint64_t AdmissionController::shed(RequestClass request_class) const {
  uint64_t total = 0;
  for (const auto& n : classes_[index(request_class)].shed) {
    total += n.load(std::memory_order_relaxed);
  }
  return total;
}

ShedReporter::ShedReporter(const AdmissionController& admission, const Clock& clock,
                           Duration summary_period)
    : admission_(admission),
      clock_(clock),
      summary_period_(summary_period),
      summarised_at_(clock.monotonicNow()),
      summarised_(admission.stats()) {}

ShedReporter::Delta ShedReporter::take(uint64_t refused_connections) {
  refused_ = std::max(refused_, refused_connections);
  const uint64_t accepted = admission_.admitted(RequestClass::kIngest);
  const uint64_t shed = admission_.shed(RequestClass::kIngest) + refused_;
  Delta d{accepted - reported_accepted_, shed - reported_shed_};
  reported_accepted_ = accepted;
  reported_shed_ = shed;
  return d;
}

std::optional<std::string> ShedReporter::summaryDue() {
  const MonoTime now = clock_.monotonicNow();
  if (now - summarised_at_ < summary_period_) return std::nullopt;
  const AdmissionStats stats = admission_.stats();
  std::string detail;
  uint64_t total = 0;
  for (size_t c = 0; c < kRequestClassCount; ++c) {
    std::string reasons;
    uint64_t of_class = 0;
    for (size_t r = 0; r < kShedReasonCount; ++r) {
      const uint64_t n = stats.classes[c].shed[r] - summarised_.classes[c].shed[r];
      if (n == 0) continue;
      of_class += n;
      if (!reasons.empty()) reasons += ", ";
      reasons += std::to_string(n) + " " + shedReasonName(static_cast<ShedReason>(r));
    }
    if (of_class == 0) continue;
    total += of_class;
    if (!detail.empty()) detail += "; ";
    detail += std::string(requestClassName(static_cast<RequestClass>(c))) + ": " + reasons;
  }
  const uint64_t refused = refused_ - summarised_refused_;
  const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(now - summarised_at_);
  summarised_at_ = now;
  summarised_ = stats;
  summarised_refused_ = refused_;
  if (total == 0 && refused == 0) return std::nullopt;
  std::string line = "overloaded: shed " + std::to_string(total) + " requests in the last " +
                     std::to_string(seconds.count()) + " s with 503/429 and Retry-After";
  if (!detail.empty()) line += " (" + detail + ")";
  if (refused > 0) {
    line += "; " + std::to_string(refused) +
            " connections closed unanswered (accept queue full: raise http.maxQueued)";
  }
  return line;
}

}  // namespace vigil::collector
