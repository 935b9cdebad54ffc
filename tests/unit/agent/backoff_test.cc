#define BOOST_TEST_MODULE agent_backoff
#include "agent/core/backoff.h"

#include <algorithm>
#include <boost/test/unit_test.hpp>
#include <chrono>
#include <vector>

#include "agent/core/random.h"
#include "tests/unit/agent/test_support.h"

using namespace std::chrono_literals;
using vigil::Duration;
using vigil::agent::Backoff;
using vigil::agent::BackoffOptions;
using vigil::agent::makeUniformRandom;

namespace {

double secondsOf(Duration d) { return std::chrono::duration<double>(d).count(); }

}  // namespace

BOOST_AUTO_TEST_CASE(every_delay_is_within_zero_and_the_capped_exponential_ceiling) {
  Backoff backoff(BackoffOptions{1s, 300s}, makeUniformRandom(7));
  for (int n = 0; n < 40; ++n) {
    const Duration expected_ceiling =
        std::min<Duration>(300s, Duration(1s) * (1LL << std::min(n, 20)));
    BOOST_TEST(backoff.ceiling() == expected_ceiling);
    const Duration d = backoff.nextDelay();
    BOOST_TEST(d >= Duration::zero());
    BOOST_TEST(d <= expected_ceiling);
    BOOST_TEST(d <= Duration(300s));
  }
  BOOST_TEST(backoff.attempt() == 40);
}

BOOST_AUTO_TEST_CASE(the_largest_draw_never_exceeds_the_cap) {
  // A source pinned at its top value shows the ceiling itself is capped.
  Backoff backoff(BackoffOptions{1s, 300s}, [] { return 0.999999999; });
  for (int n = 0; n < 100; ++n) BOOST_TEST(backoff.nextDelay() <= Duration(300s));
  BOOST_TEST(secondsOf(backoff.nextDelay()) > 299.9);
}

BOOST_AUTO_TEST_CASE(reset_after_success_starts_again_at_the_base_ceiling) {
  Backoff backoff(BackoffOptions{1s, 300s}, [] { return 0.999999; });
  for (int n = 0; n < 12; ++n) backoff.nextDelay();
  BOOST_TEST(backoff.ceiling() == Duration(300s));
  backoff.reset();
  BOOST_TEST(backoff.attempt() == 0);
  BOOST_TEST(backoff.ceiling() == Duration(1s));
  BOOST_TEST(backoff.nextDelay() <= Duration(1s));
  BOOST_TEST(backoff.ceiling() == Duration(2s));
}

BOOST_AUTO_TEST_CASE(a_limit_lowers_the_cap_but_never_below_the_base) {
  Backoff backoff(BackoffOptions{1s, 300s}, [] { return 0.999999; });
  backoff.limitCap(60s);
  for (int n = 0; n < 20; ++n) BOOST_TEST(backoff.nextDelay() <= Duration(60s));
  BOOST_TEST(backoff.ceiling() == Duration(60s));
  backoff.limitCap(Duration(100ms));
  BOOST_TEST(backoff.ceiling() == Duration(1s));
  backoff.limitCap(Duration::max());
  BOOST_TEST(backoff.ceiling() == Duration(300s));
}

BOOST_AUTO_TEST_CASE(a_configured_cap_and_base_are_obeyed) {
  Backoff backoff(BackoffOptions{250ms, 2s}, [] { return 0.999999; });
  BOOST_TEST(backoff.ceiling() == Duration(250ms));
  backoff.nextDelay();
  BOOST_TEST(backoff.ceiling() == Duration(500ms));
  for (int n = 0; n < 10; ++n) BOOST_TEST(backoff.nextDelay() <= Duration(2s));
}

BOOST_AUTO_TEST_CASE(full_jitter_spreads_delays_over_the_whole_range) {
  // At the cap (attempt >= 9 with base 1 s), draws must cover [0, 300 s] evenly: a jitter that
  // is "equal" (half fixed) or missing would fail the minimum and the mean.
  auto random = makeUniformRandom(12345);
  Backoff backoff(BackoffOptions{1s, 300s}, random);
  for (int n = 0; n < 10; ++n) backoff.nextDelay();
  std::vector<double> draws;
  draws.reserve(20000);
  for (int n = 0; n < 20000; ++n) draws.push_back(secondsOf(backoff.nextDelay()));
  const auto [min_it, max_it] = std::minmax_element(draws.begin(), draws.end());
  double sum = 0;
  for (double d : draws) sum += d;
  const double mean = sum / static_cast<double>(draws.size());
  BOOST_TEST(*min_it < 1.0);
  BOOST_TEST(*max_it > 299.0);
  BOOST_TEST(*max_it <= 300.0);
  BOOST_TEST(mean > 145.0);
  BOOST_TEST(mean < 155.0);
  // Each tenth of the range gets roughly a tenth of the draws.
  std::vector<int> buckets(10, 0);
  for (double d : draws) ++buckets[std::min(9, static_cast<int>(d / 30.0))];
  for (int b : buckets) {
    BOOST_TEST(b > 1700);
    BOOST_TEST(b < 2300);
  }
}

BOOST_AUTO_TEST_CASE(same_seed_gives_the_same_delays) {
  Backoff a(BackoffOptions{}, makeUniformRandom(99));
  Backoff b(BackoffOptions{}, makeUniformRandom(99));
  for (int n = 0; n < 20; ++n) BOOST_TEST(a.nextDelay().count() == b.nextDelay().count());
}
