// EnrollmentLimiter on a SimulatedClock: bursts, steady refill, the three scopes, Retry-After
// that spreads a refused crowd, and one log line per burst.
#define BOOST_TEST_MODULE collector_enrollment_limiter
#include "collector/ingest/enrollment_limiter.h"

#include <boost/test/unit_test.hpp>
#include <chrono>

using vigil::SimulatedClock;
using vigil::collector::EnrollmentLimiter;
using vigil::collector::EnrollmentLimits;
using vigil::collector::RateLimit;
using namespace std::chrono_literals;
using Scope = EnrollmentLimiter::Scope;

namespace {

EnrollmentLimits limits(RateLimit token, RateLimit site, RateLimit tenant) {
  EnrollmentLimits l;
  l.per_token = token;
  l.per_site = site;
  l.per_tenant = tenant;
  return l;
}

constexpr RateLimit kNoLimit{0, 1};

// Only the token limit: 60 a minute (one a second), bursts of 5.
EnrollmentLimits tokenOnly() { return limits({60, 5}, kNoLimit, kNoLimit); }

// Admits through token 1 (site 10, tenant 100) until refused; returns how many were admitted.
int admitUntilRefused(EnrollmentLimiter& limiter, int64_t token = 1, int64_t site = 10,
                      int64_t tenant = 100) {
  int admitted = 0;
  while (limiter.admit(token, site, tenant).admitted) ++admitted;
  return admitted;
}

}  // namespace

BOOST_AUTO_TEST_CASE(a_burst_passes_then_the_steady_rate) {
  SimulatedClock clock;
  EnrollmentLimiter limiter(tokenOnly(), clock);
  BOOST_TEST(admitUntilRefused(limiter) == 5);
  clock.advance(999ms);
  BOOST_TEST(!limiter.admit(1, 10, 100).admitted);
  clock.advance(1ms);
  BOOST_TEST(limiter.admit(1, 10, 100).admitted);
  BOOST_TEST(!limiter.admit(1, 10, 100).admitted);
  // A quiet minute refills the burst, never more.
  clock.advance(60s);
  BOOST_TEST(admitUntilRefused(limiter) == 5);
  // Another token has its own bucket.
  BOOST_TEST(limiter.admit(2, 10, 100).admitted);
}

BOOST_AUTO_TEST_CASE(each_scope_limits_on_its_own_and_a_refusal_takes_nothing) {
  SimulatedClock clock;
  EnrollmentLimiter limiter(limits({60, 3}, {60, 4}, {60, 6}), clock);
  BOOST_TEST(admitUntilRefused(limiter, 1, 10, 100) == 3);
  auto token = limiter.admit(1, 10, 100);
  BOOST_TEST((token.scope == Scope::kToken));
  BOOST_TEST(token.id == 1);
  // A second token of the same site: the site has one left.
  BOOST_TEST(admitUntilRefused(limiter, 2, 10, 100) == 1);
  auto site = limiter.admit(2, 10, 100);
  BOOST_TEST((site.scope == Scope::kSite));
  BOOST_TEST(site.id == 10);
  // Another site of the tenant: the tenant has two left; the refused ones took nothing.
  BOOST_TEST(admitUntilRefused(limiter, 3, 11, 100) == 2);
  auto tenant = limiter.admit(3, 11, 100);
  BOOST_TEST((tenant.scope == Scope::kTenant));
  BOOST_TEST(tenant.id == 100);
  // Another tenant is untouched.
  BOOST_TEST(limiter.admit(4, 12, 101).admitted);
  auto stats = limiter.stats();
  // Each: admitUntilRefused's last attempt and the one after it.
  BOOST_TEST(stats.refused_token == 2u);
  BOOST_TEST(stats.refused_site == 2u);
  BOOST_TEST(stats.refused_tenant == 2u);
}

BOOST_AUTO_TEST_CASE(retry_after_spreads_a_refused_crowd_over_the_refill) {
  SimulatedClock clock;
  EnrollmentLimits l = tokenOnly();
  l.max_retry_after = 30s;
  EnrollmentLimiter limiter(l, clock);
  admitUntilRefused(limiter);  // the 6th is refused: first slot in 1 s
  // The refused crowd is promised one slot each, a second apart, up to the cap.
  int64_t previous = 1;
  for (int i = 0; i < 10; ++i) {
    auto d = limiter.admit(1, 10, 100);
    BOOST_REQUIRE(!d.admitted);
    BOOST_TEST(d.retry_after.count() == previous + 1);
    previous = d.retry_after.count();
  }
  for (int i = 0; i < 50; ++i) BOOST_TEST(limiter.admit(1, 10, 100).retry_after.count() <= 30);
  BOOST_TEST(limiter.admit(1, 10, 100).retry_after.count() == 30);
}

BOOST_AUTO_TEST_CASE(a_burst_of_refusals_is_reported_once) {
  SimulatedClock clock;
  EnrollmentLimiter limiter(tokenOnly(), clock);
  admitUntilRefused(limiter);  // its refusal started the burst
  for (int i = 0; i < 100; ++i) BOOST_TEST(!limiter.admit(1, 10, 100).burst_started);
  // A sustained flood that gets a unit through now and then is still the same burst.
  for (int i = 0; i < 3; ++i) {
    clock.advance(1s);
    BOOST_TEST(limiter.admit(1, 10, 100).admitted);
    BOOST_TEST(!limiter.admit(1, 10, 100).burst_started);
  }
  // Refilled to the full burst: over; the next refusal starts a new one.
  clock.advance(5s);
  for (int i = 0; i < 5; ++i) BOOST_REQUIRE(limiter.admit(1, 10, 100).admitted);
  BOOST_TEST(limiter.admit(1, 10, 100).burst_started);
}

BOOST_AUTO_TEST_CASE(a_limit_of_zero_per_minute_is_no_limit) {
  SimulatedClock clock;
  EnrollmentLimiter limiter(limits(kNoLimit, kNoLimit, kNoLimit), clock);
  for (int i = 0; i < 10'000; ++i) BOOST_REQUIRE(limiter.admit(1, 10, 100).admitted);
}

BOOST_AUTO_TEST_CASE(many_tokens_do_not_grow_memory_without_bound) {
  SimulatedClock clock;
  EnrollmentLimiter limiter(tokenOnly(), clock);
  for (int64_t token = 0; token < 20'000; ++token) {
    BOOST_REQUIRE(limiter.admit(token, 10, 100).admitted);
    if (token % 1000 == 0) clock.advance(10s);  // earlier buckets refill and can go
  }
  // Nothing observable but behaviour: old tokens start again with a full burst.
  BOOST_TEST(admitUntilRefused(limiter, 0) == 5);
}
