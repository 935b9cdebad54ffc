#pragma once

// Rate limits on enrollment (docs/operations.md, "Enrollment limits"): one token bucket per
// enrollment token, per site and per tenant. An enrollment takes one unit from each of its
// three buckets or from none; a refusal says which limit and when to come back.
//
// Retry-After spreads a refused crowd: each refusal is promised the next free slot after the
// ones promised before it (at the bucket's rate), so 2,000 agents of an RMM push that all
// hear 429 come back one after another instead of all at once. The promise is capped at
// max_retry_after.
//
// Thread safety: safe to call concurrently. Time comes from the injected Clock only.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>

#include "common/clock.h"
#include "common/mutex.h"

namespace vigil::collector {

// `per_minute` units refill steadily up to `burst`; per_minute 0 means no limit.
struct RateLimit {
  double per_minute = 0;
  double burst = 0;
};

struct EnrollmentLimits {
  // A leaked token enrolls at most ~200 agents at once and then 10 a second; a 2,000-seat
  // rollout through one token is through in about three minutes (agents follow Retry-After).
  RateLimit per_token{600, 200};
  RateLimit per_site{1200, 400};
  RateLimit per_tenant{3000, 1000};
  std::chrono::seconds max_retry_after{300};
  // Quotas: agents (retired included) a site and a tenant may hold; 0: no quota. Checked by
  // IngestService against the store, after the rate limits, so a flood never runs the count.
  int64_t max_agents_per_site = 25'000;
  int64_t max_agents_per_tenant = 100'000;
};

class EnrollmentLimiter {
 public:
  enum class Scope { kToken, kSite, kTenant };
  static const char* scopeName(Scope scope);

  struct Decision {
    bool admitted = true;
    // Refused: the first limit that had nothing left, its id and when to come back (>= 1 s).
    Scope scope = Scope::kToken;
    int64_t id = 0;
    std::chrono::seconds retry_after{0};
    // This refusal starts a burst of refusals of that limit: log it (once per burst). A
    // burst lasts until the bucket has refilled to its full burst size.
    bool burst_started = false;
  };

  struct Stats {
    uint64_t refused_token = 0;
    uint64_t refused_site = 0;
    uint64_t refused_tenant = 0;
  };

  // `clock` must outlive the limiter.
  EnrollmentLimiter(EnrollmentLimits limits, const Clock& clock);

  // One enrollment through token `token_id` into site `site_id` of tenant `tenant_id`.
  Decision admit(int64_t token_id, int64_t site_id, int64_t tenant_id);

  Stats stats() const;
  const EnrollmentLimits& limits() const { return limits_; }

 private:
  struct Bucket {
    double units = 0;
    MonoTime updated{};
    MonoTime promised{};  // the last slot promised to a refused enrollment
    bool refusing = false;
  };
  using Buckets = std::unordered_map<int64_t, Bucket>;

  // The bucket of `id`, refilled to `now`.
  Bucket& refilled(Buckets& buckets, int64_t id, const RateLimit& limit, MonoTime now)
      REQUIRES(mu_);
  // Refuses through `bucket` at `now`.
  Decision refuse(Bucket& bucket, Scope scope, int64_t id, const RateLimit& limit, MonoTime now)
      REQUIRES(mu_);
  // Drops full, quiet buckets once there are many.
  void prune(Buckets& buckets, const RateLimit& limit, MonoTime now) REQUIRES(mu_);

  const EnrollmentLimits limits_;
  const Clock& clock_;
  mutable Mutex mu_;
  Buckets tokens_ GUARDED_BY(mu_);
  Buckets sites_ GUARDED_BY(mu_);
  Buckets tenants_ GUARDED_BY(mu_);
  Stats stats_ GUARDED_BY(mu_);
};

}  // namespace vigil::collector
