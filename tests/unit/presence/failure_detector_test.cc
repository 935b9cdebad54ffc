#define BOOST_TEST_MODULE presence_failure_detector
#include "collector/presence/failure_detector.h"

#include <boost/test/unit_test.hpp>
#include <chrono>
#include <random>

#include "collector/presence/engine_time.h"

using namespace std::chrono_literals;
using vigil::Duration;
using vigil::collector::presence::ArrivalStats;
using vigil::collector::presence::FailureDetector;
using vigil::collector::presence::PresenceConfig;
using vigil::collector::presence::Ticks;
using vigil::collector::presence::ticksOf;

namespace {

double seconds(Ticks t) { return static_cast<double>(t) / 1e9; }

}  // namespace

BOOST_AUTO_TEST_CASE(z_matches_the_normal_tail_for_phi) {
  // P(Z > 1.6449) = 0.05 -> phi = 1.301; P(Z > 5.612) = 1e-8 -> phi = 8.
  BOOST_TEST(FailureDetector::zForPhi(8.0) == 5.612, boost::test_tools::tolerance(0.001));
  BOOST_TEST(FailureDetector::zForPhi(1.30103) == 1.6449, boost::test_tools::tolerance(0.001));
  BOOST_TEST(FailureDetector::zForPhi(0.0) == 0.0);
}

BOOST_AUTO_TEST_CASE(first_arrival_expects_one_interval_plus_the_minimum_deviation) {
  PresenceConfig config;
  FailureDetector detector(config);
  ArrivalStats stats;
  BOOST_TEST(detector.record(stats, 0, 60s));
  // mean 60 s, stddev floor 10 % = 6 s: 60 + 5.612 * 6 = 93.67 s, inside [90, 120].
  BOOST_TEST(seconds(detector.deadline(stats)) == 93.67, boost::test_tools::tolerance(0.001));
}

BOOST_AUTO_TEST_CASE(deadline_stays_within_floor_and_ceiling_for_any_history) {
  PresenceConfig config;
  FailureDetector detector(config);
  std::mt19937 rng(99);
  std::uniform_real_distribution<double> gap_of(0.01, 3.0);  // x interval, bursts to outages
  for (int agent = 0; agent < 200; ++agent) {
    ArrivalStats stats;
    Ticks at = 0;
    detector.record(stats, at, 60s);
    for (int i = 0; i < 100; ++i) {
      at += static_cast<Ticks>(gap_of(rng) * 60e9);
      detector.record(stats, at, 60s);
      const double allowance = seconds(detector.deadline(stats) - stats.last);
      BOOST_TEST_REQUIRE(allowance >= 90.0 - 0.001);
      BOOST_TEST_REQUIRE(allowance <= 120.0 + 0.001);
    }
  }
}

BOOST_AUTO_TEST_CASE(converges_to_regular_arrivals) {
  PresenceConfig config;
  config.lateness_floor = 1.0;  // let the history decide
  config.lateness_ceiling = 3.0;
  FailureDetector detector(config);
  ArrivalStats stats;
  Ticks at = 0;
  detector.record(stats, at, 60s);
  // An agent that really beats every 66 s (jitter at its maximum) for a while.
  for (int i = 0; i < 200; ++i) {
    at += ticksOf(66s);
    detector.record(stats, at, 60s);
  }
  BOOST_TEST(stats.mean_s == 66.0, boost::test_tools::tolerance(0.01));
  BOOST_TEST(stats.var_s2 < 0.01);
  // 66 + 5.612 * max(0, 6) = 99.67 s.
  BOOST_TEST(seconds(detector.deadline(stats) - at) == 99.67, boost::test_tools::tolerance(0.01));
}

BOOST_AUTO_TEST_CASE(irregular_arrivals_widen_the_allowance_up_to_the_ceiling) {
  PresenceConfig config;
  FailureDetector detector(config);
  ArrivalStats regular;
  ArrivalStats irregular;
  Ticks a = 0;
  Ticks b = 0;
  detector.record(regular, a, 60s);
  detector.record(irregular, b, 60s);
  for (int i = 0; i < 50; ++i) {
    a += ticksOf(60s);
    b += ticksOf(i % 2 == 0 ? 40s : 80s);
    detector.record(regular, a, 60s);
    detector.record(irregular, b, 60s);
  }
  const double regular_allowance = seconds(detector.deadline(regular) - a);
  const double irregular_allowance = seconds(detector.deadline(irregular) - b);
  BOOST_TEST(irregular_allowance > regular_allowance);
  BOOST_TEST(irregular_allowance == 120.0, boost::test_tools::tolerance(0.001));
}

BOOST_AUTO_TEST_CASE(a_changed_interval_rebases_instead_of_counting_as_lateness) {
  PresenceConfig config;
  FailureDetector detector(config);
  ArrivalStats stats;
  Ticks at = 0;
  for (int i = 0; i < 20; ++i, at += ticksOf(60s)) detector.record(stats, at, 60s);
  at -= ticksOf(60s);
  // The collector answers "next in 300 s": the deadline moves to 300 s x (93.67 / 60).
  detector.record(stats, at, 300s);
  BOOST_TEST(stats.interval_ms == 300000u);
  BOOST_TEST(stats.samples == 0u);
  BOOST_TEST(seconds(detector.deadline(stats) - at) == 468.36, boost::test_tools::tolerance(0.01));
}

BOOST_AUTO_TEST_CASE(an_outage_gap_is_not_a_sample) {
  PresenceConfig config;
  FailureDetector detector(config);
  ArrivalStats stats;
  detector.record(stats, 0, 60s);
  detector.record(stats, ticksOf(60s), 60s);
  const float mean = stats.mean_s;
  detector.record(stats, ticksOf(60s) + ticksOf(1h), 60s);
  BOOST_TEST(stats.mean_s == mean);
  BOOST_TEST(stats.last == ticksOf(60s) + ticksOf(1h));
}

BOOST_AUTO_TEST_CASE(an_arrival_older_than_the_last_is_ignored) {
  PresenceConfig config;
  FailureDetector detector(config);
  ArrivalStats stats;
  detector.record(stats, ticksOf(100s), 60s);
  BOOST_TEST(!detector.record(stats, ticksOf(50s), 60s));
  BOOST_TEST(stats.last == ticksOf(100s));
}

BOOST_AUTO_TEST_CASE(bursts_and_arrivals_while_degraded_teach_nothing) {
  PresenceConfig config;
  FailureDetector detector(config);
  ArrivalStats stats;
  Ticks at = 0;
  for (int i = 0; i < 20; ++i, at += ticksOf(60s)) detector.record(stats, at, 60s);
  const ArrivalStats before = stats;
  // A backlog read at once: arrivals milliseconds apart.
  detector.record(stats, at, 60s);
  detector.record(stats, at + ticksOf(1ms), 60s);
  BOOST_TEST(stats.mean_s == before.mean_s);
  BOOST_TEST(stats.var_s2 == before.var_s2);
  // A long gap while the collector was frozen: kept as the last arrival, not learnt.
  detector.record(stats, at + ticksOf(110s), 60s, /*learn=*/false);
  BOOST_TEST(stats.mean_s == before.mean_s);
  BOOST_TEST(stats.last == at + ticksOf(110s));
  // The same gap learnt widens the allowance.
  ArrivalStats learnt = before;
  detector.record(learnt, before.last + ticksOf(110s), 60s);
  BOOST_TEST(learnt.var_s2 > before.var_s2);
}
