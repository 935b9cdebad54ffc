#define BOOST_TEST_MODULE collector_cadence_planner
#include "collector/ingest/cadence_planner.h"

#include <boost/test/unit_test.hpp>
#include <chrono>
#include <optional>

namespace vigil::collector {
namespace {

using std::chrono::seconds;

CadenceInputs agent(bool fallback, bool server, int64_t base_s = 60) {
  CadenceInputs in;
  in.base = BaseCadence{base_s, 15, server};
  in.fallback_working = fallback;
  return in;
}

// The defaults with a configured budget (heartbeats per second).
LoadGovernorConfig configuredBudget(double per_s) {
  LoadGovernorConfig config;
  config.budget_per_s = per_s;
  return config;
}

// Drives a governor with a steady offered rate and CPU share for `periods` evaluation periods
// of 10 s; returns the level reached.
struct GovernorDrive {
  LoadGovernor& governor;
  MonoTime now{};
  Duration cpu{};
  uint32_t steps = 0;

  // `projected_per_s`: the engine's projection each sample gives (negative: none).
  void run(double rate_per_s, double cpu_share, int periods, uint64_t shed_per_period = 0,
           double projected_per_s = -1) {
    constexpr uint32_t kCores = 2;
    for (int p = 0; p < periods; ++p) {
      for (int s = 0; s < 10; ++s) {
        now += seconds(1);
        cpu += std::chrono::duration_cast<Duration>(seconds(1) * cpu_share * kCores);
        const auto accepted = static_cast<uint64_t>(rate_per_s);
        const uint64_t shed = s == 0 ? shed_per_period : 0;
        if (governor.sample(now, accepted, shed, cpu, projected_per_s)) ++steps;
      }
    }
  }
};

BOOST_AUTO_TEST_CASE(groups_are_stretched_in_order_fallback_workstations_first) {
  // Level 0: everyone at the base interval.
  for (bool fallback : {true, false}) {
    for (bool server : {true, false}) {
      BOOST_CHECK_EQUAL(planCadence(agent(fallback, server), 0, 300).heartbeat_s, 60);
    }
  }
  // The first kStepsPerTier levels stretch only workstations whose fallback works.
  const CadencePlan first = planCadence(agent(true, false), 1, 300);
  BOOST_CHECK_EQUAL(first.heartbeat_s, 90);
  BOOST_CHECK(first.tier == CadenceTier::kFallbackWorkstation);
  BOOST_CHECK_EQUAL(planCadence(agent(true, true), kStepsPerTier, 300).heartbeat_s, 60);
  BOOST_CHECK_EQUAL(planCadence(agent(true, false), kStepsPerTier, 300).heartbeat_s, 300);
  // Then servers with the fallback, then the plain groups; plain servers come last.
  BOOST_CHECK_EQUAL(planCadence(agent(true, true), kStepsPerTier + 2, 300).heartbeat_s, 120);
  BOOST_CHECK_EQUAL(planCadence(agent(false, false), 2 * kStepsPerTier, 300).heartbeat_s, 60);
  BOOST_CHECK_EQUAL(planCadence(agent(false, false), 2 * kStepsPerTier + 1, 300).heartbeat_s, 90);
  BOOST_CHECK_EQUAL(planCadence(agent(false, true), 3 * kStepsPerTier, 300).heartbeat_s, 60);
  BOOST_CHECK_EQUAL(planCadence(agent(false, true), kMaxStretchLevel, 300).heartbeat_s, 300);
}

BOOST_AUTO_TEST_CASE(the_stretch_is_capped_and_never_goes_below_the_base) {
  BOOST_CHECK_EQUAL(planCadence(agent(true, false), kStepsPerTier, 200).heartbeat_s, 200);
  // A policy base above the cap is kept: load never shortens an interval.
  BOOST_CHECK_EQUAL(planCadence(agent(true, false, 600), kStepsPerTier, 300).heartbeat_s, 600);
}

BOOST_AUTO_TEST_CASE(governor_raises_one_step_at_a_time_above_the_budget_and_lowers_when_calm) {
  LoadGovernor governor(configuredBudget(1000));
  GovernorDrive drive{governor};
  drive.run(500, 0.3, 6);  // below raise_at x budget: nothing
  BOOST_CHECK_EQUAL(governor.level(), 0u);
  drive.run(900, 0.6, 3);  // 30 s above 80 % of the budget: one raise (raise_every 30 s)
  BOOST_CHECK_EQUAL(governor.level(), 1u);
  drive.run(900, 0.6, 3);
  BOOST_CHECK_EQUAL(governor.level(), 2u);
  // Between lower_at and raise_at: it holds.
  drive.run(700, 0.5, 30);
  BOOST_CHECK_EQUAL(governor.level(), 2u);
  // Calm for lower_after (2 min, counted from the first calm period): one step down, and
  // another after two more minutes.
  drive.run(300, 0.2, 11);
  BOOST_CHECK_EQUAL(governor.level(), 2u);
  drive.run(300, 0.2, 4);
  BOOST_CHECK_EQUAL(governor.level(), 1u);
  drive.run(300, 0.2, 12);
  BOOST_CHECK_EQUAL(governor.level(), 0u);
  BOOST_CHECK_EQUAL(governor.view().raised, 2u);
  BOOST_CHECK_EQUAL(governor.view().lowered, 2u);
}

BOOST_AUTO_TEST_CASE(shedding_raises_the_level_even_under_the_budget) {
  LoadGovernorConfig config;
  config.budget_per_s = 100000;
  LoadGovernor governor(config);
  GovernorDrive drive{governor};
  drive.run(100, 0.1, 1);
  drive.run(100, 0.1, 1, /*shed_per_period=*/50);
  BOOST_CHECK_EQUAL(governor.level(), 1u);
}

BOOST_AUTO_TEST_CASE(learnt_budget_follows_cpu_use) {
  LoadGovernorConfig config;  // budget 0: learnt; target 70 % of 2 cores
  LoadGovernor governor(config);
  GovernorDrive drive{governor};
  // 10,000/s at 60 % CPU: capacity at 70 % is 11,667/s; 10,000 is above 80 % of it.
  drive.run(10000, 0.6, 4);
  BOOST_CHECK_CLOSE(governor.view().budget_per_s, 11666.7, 1.0);
  BOOST_CHECK(governor.view().budget_learnt);
  BOOST_CHECK_GE(governor.level(), 1u);
  // An idle collector learns nothing (CPU share under min_learn_cpu_share) and lowers again.
  LoadGovernor idle(config);
  GovernorDrive calm{idle};
  calm.run(10, 0.01, 20);
  BOOST_CHECK_EQUAL(idle.view().budget_per_s, 0);
  BOOST_CHECK_EQUAL(idle.level(), 0u);
}

BOOST_AUTO_TEST_CASE(with_a_projection_a_burst_stretches_nothing_a_lasting_load_does) {
  LoadGovernor governor(configuredBudget(1000));
  GovernorDrive drive{governor};
  // Five minutes of a reconnect surge at three times the budget, taken without shedding, while
  // the intervals handed out promise 600/s: the surge is a burst, the fleet keeps its intervals.
  drive.run(3000, 0.9, 30, 0, 600);
  BOOST_CHECK_EQUAL(governor.level(), 0u);
  BOOST_CHECK_CLOSE(governor.view().projected_per_s, 600.0, 0.01);
  // The same burst shedding: a level at once (the collector could not take it).
  drive.run(3000, 0.9, 1, /*shed_per_period=*/20, 600);
  BOOST_CHECK_EQUAL(governor.level(), 1u);
  // A projection above 80 % of the budget raises, with no shed heartbeat at all.
  drive.run(900, 0.6, 3, 0, 900);
  BOOST_CHECK_EQUAL(governor.level(), 2u);
}

BOOST_AUTO_TEST_CASE(no_raise_while_the_projection_still_falls_from_the_last_step) {
  LoadGovernor governor(configuredBudget(1000));
  GovernorDrive drive{governor};
  drive.run(950, 0.6, 3, 0, 950);
  BOOST_CHECK_EQUAL(governor.level(), 1u);
  // Agents take the longer interval with their next answers: the projection falls, still above
  // the raise mark; no second step until it has settled.
  for (double projected : {920.0, 890.0, 860.0, 830.0}) {
    drive.run(projected, 0.6, 1, 0, projected);
  }
  BOOST_CHECK_EQUAL(governor.level(), 1u);
  // Settled above the mark: the next step.
  drive.run(830, 0.6, 2, 0, 830);
  BOOST_CHECK_EQUAL(governor.level(), 2u);
}

BOOST_AUTO_TEST_CASE(a_step_describes_itself_for_the_log) {
  CadenceStep step;
  step.from_level = 0;
  step.to_level = 1;
  step.offered_per_s = 900;
  step.budget_per_s = 1000;
  BOOST_CHECK_EQUAL(step.describe(),
                    "heartbeat intervals lengthened to stretch level 1 of 16 (offered 900 "
                    "heartbeats/s, budget 1000/s, 0 shed in the period)");
  step.projected_per_s = 700;
  BOOST_CHECK_EQUAL(step.describe(),
                    "heartbeat intervals lengthened to stretch level 1 of 16 (offered 900 "
                    "heartbeats/s, 700/s at the intervals handed out, budget 1000/s, 0 shed in "
                    "the period)");
}

}  // namespace
}  // namespace vigil::collector
