#include "collector/ingest/enrollment_limiter.h"

#include <algorithm>
#include <cmath>

namespace vigil::collector {
namespace {

using Seconds = std::chrono::duration<double>;

// Buckets kept before full ones are dropped (a full bucket is the same as a new one).
constexpr size_t kPruneAbove = 4096;

bool limited(const RateLimit& limit) { return limit.per_minute > 0; }

double perSecond(const RateLimit& limit) { return limit.per_minute / 60.0; }

}  // namespace

const char* EnrollmentLimiter::scopeName(Scope scope) {
  switch (scope) {
    case Scope::kToken:
      return "token";
    case Scope::kSite:
      return "site";
    case Scope::kTenant:
      return "tenant";
  }
  return "token";
}

EnrollmentLimiter::EnrollmentLimiter(EnrollmentLimits limits, const Clock& clock)
    : limits_(limits), clock_(clock) {}

EnrollmentLimiter::Bucket& EnrollmentLimiter::refilled(Buckets& buckets, int64_t id,
                                                       const RateLimit& limit, MonoTime now) {
  auto [it, created] = buckets.try_emplace(id);
  Bucket& b = it->second;
  if (created) {
    b.units = limit.burst;
  } else {
    const double elapsed = std::max(0.0, Seconds(now - b.updated).count());
    b.units = std::min(limit.burst, b.units + elapsed * perSecond(limit));
  }
  if (b.units >= limit.burst) b.refusing = false;  // refilled: a burst of refusals is over
  b.updated = now;
  return b;
}

EnrollmentLimiter::Decision EnrollmentLimiter::refuse(Bucket& bucket, Scope scope, int64_t id,
                                                      const RateLimit& limit, MonoTime now) {
  const auto slot = std::chrono::duration_cast<Duration>(Seconds(1.0 / perSecond(limit)));
  // The first unit is free this long from now; later refusals queue behind earlier promises.
  const auto first_free =
      now + std::chrono::duration_cast<Duration>(Seconds((1.0 - bucket.units) / perSecond(limit)));
  const MonoTime cap = now + limits_.max_retry_after;
  bucket.promised = std::min(cap, std::max(first_free, bucket.promised + slot));
  Decision d;
  d.admitted = false;
  d.scope = scope;
  d.id = id;
  const double wait = Seconds(bucket.promised - now).count();
  d.retry_after = std::chrono::seconds(std::max<int64_t>(1, std::llround(std::ceil(wait))));
  d.burst_started = !bucket.refusing;
  bucket.refusing = true;
  switch (scope) {
    case Scope::kToken:
      ++stats_.refused_token;
      break;
    case Scope::kSite:
      ++stats_.refused_site;
      break;
    case Scope::kTenant:
      ++stats_.refused_tenant;
      break;
  }
  return d;
}

void EnrollmentLimiter::prune(Buckets& buckets, const RateLimit& limit, MonoTime now) {
  if (buckets.size() <= kPruneAbove) return;
  for (auto it = buckets.begin(); it != buckets.end();) {
    const Bucket& b = it->second;
    const double units = b.units + Seconds(now - b.updated).count() * perSecond(limit);
    if (units >= limit.burst && b.promised <= now) {
      it = buckets.erase(it);
    } else {
      ++it;
    }
  }
}

EnrollmentLimiter::Decision EnrollmentLimiter::admit(int64_t token_id, int64_t site_id,
                                                     int64_t tenant_id) {
  const MonoTime now = clock_.monotonicNow();
  MutexLock lock(mu_);
  struct Level {
    Buckets& buckets;
    const RateLimit& limit;
    Scope scope{};
    int64_t id = 0;
    Bucket* bucket = nullptr;
  };
  Level levels[] = {{tokens_, limits_.per_token, Scope::kToken, token_id},
                    {sites_, limits_.per_site, Scope::kSite, site_id},
                    {tenants_, limits_.per_tenant, Scope::kTenant, tenant_id}};
  for (Level& level : levels) {
    if (!limited(level.limit)) continue;
    prune(level.buckets, level.limit, now);
    level.bucket = &refilled(level.buckets, level.id, level.limit, now);
    if (level.bucket->units < 1.0) {
      return refuse(*level.bucket, level.scope, level.id, level.limit, now);
    }
  }
  for (Level& level : levels) {
    if (level.bucket == nullptr) continue;
    level.bucket->units -= 1.0;
  }
  return Decision{};
}

EnrollmentLimiter::Stats EnrollmentLimiter::stats() const {
  MutexLock lock(mu_);
  return stats_;
}

}  // namespace vigil::collector
