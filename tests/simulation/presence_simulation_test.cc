#define BOOST_TEST_MODULE presence_simulation
#include <boost/test/unit_test.hpp>
#include <chrono>
#include <cstdlib>
#include <iostream>
#include <optional>
#include <stdexcept>
#include <string>

#include "tests/simulation/fleet_simulation.h"
#include "tests/simulation/scenario_verdict.h"

// Replays each seed incident (docs/incidents.md) against a simulated fleet, with 1 %
// of agents dying for real at random times, and checks what an admin would see: no false
// offline alert, every real failure alerted, quickly, and one site alert for a partition.
//
// Size: 20,000 agents over 2 simulated hours by default (CI). The full size is chosen after
// `--` (Boost.Test custom arguments) or by environment variables:
//   presence_simulation_test -- --agents=100000 --hours=3 [--seed=N]
//   VIGIL_SIM_AGENTS=100000 VIGIL_SIM_HOURS=3 presence_simulation_test

using namespace std::chrono_literals;
using vigil::Duration;
using vigil::collector::presence::DegradationReason;
using vigil::collector::presence::degradationReasonName;
using vigil::collector::presence::PresenceConfig;
using vigil::presence_sim::FaultKind;
using vigil::presence_sim::FaultPlan;
using vigil::presence_sim::FleetParams;
using vigil::presence_sim::formatVerdict;
using vigil::presence_sim::judge;
using vigil::presence_sim::runSimulation;
using vigil::presence_sim::ScenarioVerdict;
using vigil::presence_sim::SimulationRun;

namespace {

struct SimulationSize {
  uint32_t agents = 20000;
  Duration duration = 2h;
  std::optional<uint64_t> seed;
};

void applySizeOption(const std::string& name, const std::string& value, SimulationSize& size) {
  if (name == "agents") {
    const unsigned long agents = std::stoul(value);
    if (agents < 1000 || agents > 10'000'000) {
      throw std::invalid_argument("--agents must be between 1000 and 10000000");
    }
    size.agents = static_cast<uint32_t>(agents);
  } else if (name == "hours") {
    const double hours = std::stod(value);
    // Deaths fall between 10 minutes in and 20 minutes before the end, the fault halfway.
    if (!(hours >= 1.0 && hours <= 48.0)) {
      throw std::invalid_argument("--hours must be between 1 and 48");
    }
    size.duration = std::chrono::duration_cast<Duration>(
        std::chrono::duration<double, std::ratio<3600>>(hours));
  } else if (name == "seed") {
    size.seed = std::stoull(value);
  } else {
    throw std::invalid_argument("unknown simulation option --" + name +
                                " (expected --agents=N, --hours=H, --seed=S)");
  }
}

SimulationSize simulationSize() {
  SimulationSize size;
  if (const char* v = std::getenv("VIGIL_SIM_AGENTS")) applySizeOption("agents", v, size);
  if (const char* v = std::getenv("VIGIL_SIM_HOURS")) applySizeOption("hours", v, size);
  if (const char* v = std::getenv("VIGIL_SIM_SEED")) applySizeOption("seed", v, size);
  const auto& suite = boost::unit_test::framework::master_test_suite();
  for (int i = 1; i < suite.argc; ++i) {
    const std::string arg = suite.argv[i];
    const auto eq = arg.find('=');
    if (arg.rfind("--", 0) != 0 || eq == std::string::npos) {
      throw std::invalid_argument("bad simulation option '" + arg + "'");
    }
    applySizeOption(arg.substr(2, eq - 2), arg.substr(eq + 1), size);
  }
  return size;
}

struct ScenarioResult {
  SimulationRun run;
  ScenarioVerdict verdict;
};

// Runs `plan` with its fault in the middle of the run and prints the scenario's table.
ScenarioResult runScenario(const std::string& name, FaultPlan plan, uint64_t seed) {
  const SimulationSize size = simulationSize();
  FleetParams params;
  params.agents = size.agents;
  params.duration = size.duration;
  params.seed = size.seed.value_or(seed);
  plan.starts_at = std::chrono::duration_cast<std::chrono::minutes>(size.duration / 2);
  const PresenceConfig config;
  ScenarioResult result{runSimulation(config, params, plan), {}};
  result.verdict = judge(result.run, config);
  std::cout << formatVerdict(name, result.run, result.verdict) << std::flush;
  return result;
}

double seconds(Duration d) { return std::chrono::duration<double>(d).count(); }

// What a scenario expects besides the common assertions.
struct Expect {
  uint32_t site_alerts = 0;
  // The degradation reason the fault must raise (the fault reached the engine and was seen
  // for what it is), if any.
  std::optional<DegradationReason> reason;
  // The collector must stay healthy through the fault (it is not the collector's fault).
  bool healthy_during_fault = false;
};

bool hasReason(uint32_t mask, DegradationReason reason) {
  return (mask & (1u << static_cast<unsigned>(reason))) != 0;
}

// The assertions every scenario makes.
void checkVerdict(const ScenarioResult& result, const Expect& expect) {
  const PresenceConfig config;
  const ScenarioVerdict& v = result.verdict;
  BOOST_TEST(v.true_failures > 0u);
  BOOST_TEST(v.false_alerts == 0u);
  BOOST_TEST(v.missed == 0u);
  BOOST_TEST(v.latency_samples > 0u);
  BOOST_TEST(seconds(v.latency_p99) <= seconds(3 * config.heartbeat_interval));
  BOOST_TEST(v.site_alerts == expect.site_alerts);
  BOOST_TEST(v.partition_site_alerts == expect.site_alerts);
  if (expect.site_alerts > 0) BOOST_TEST(v.partition_site_alert_resolved);
  BOOST_TEST(v.alive_not_online_at_end == 0u);
  BOOST_TEST(!result.run.degraded_at_end);
  if (expect.reason) {
    BOOST_TEST(hasReason(v.reasons_during_fault, *expect.reason),
               "the fault raised " << degradationReasonName(*expect.reason));
  }
  if (expect.healthy_during_fault) BOOST_TEST(v.reasons_during_fault == 0u);
}

FaultPlan plan(FaultKind kind, Duration length) {
  FaultPlan p;
  p.kind = kind;
  p.length = length;
  return p;
}

}  // namespace

BOOST_AUTO_TEST_CASE(steady_fleet_background_failures) {
  checkVerdict(runScenario("steady_fleet_background_failures", plan(FaultKind::kNone, 0s), 101),
               Expect{});
}

BOOST_AUTO_TEST_CASE(syncro_collector_restart_60s_down) {
  checkVerdict(runScenario("syncro_collector_restart_60s_down",
                           plan(FaultKind::kCollectorRestart, 60s), 202),
               Expect{0, DegradationReason::kWarmUp, false});
}

BOOST_AUTO_TEST_CASE(atera_beacon_channel_silent_for_30_percent) {
  checkVerdict(runScenario("atera_beacon_channel_silent_for_30_percent",
                           plan(FaultKind::kChannelSilent, 20min), 303),
               Expect{0, DegradationReason::kChannelCollapse, false});
}

BOOST_AUTO_TEST_CASE(atera_beacon_channel_nonsense_timing_for_30_percent) {
  checkVerdict(runScenario("atera_beacon_channel_nonsense_timing_for_30_percent",
                           plan(FaultKind::kChannelNonsense, 20min), 404),
               Expect{});
}

BOOST_AUTO_TEST_CASE(automox_ingest_stalled_3_minutes_then_burst) {
  checkVerdict(runScenario("automox_ingest_stalled_3_minutes_then_burst",
                           plan(FaultKind::kIngestStall, 3min), 505),
               Expect{0, DegradationReason::kIngestLag, false});
}

BOOST_AUTO_TEST_CASE(automox_ingest_stalled_3_minutes_unreported) {
  checkVerdict(runScenario("automox_ingest_stalled_3_minutes_unreported",
                           plan(FaultKind::kIngestStallUnreported, 3min), 606),
               Expect{0, DegradationReason::kMassSuspect, false});
}

BOOST_AUTO_TEST_CASE(aventri_collector_frozen_2_minutes) {
  checkVerdict(runScenario("aventri_collector_frozen_2_minutes",
                           plan(FaultKind::kCollectorFrozen, 2min), 707),
               Expect{0, DegradationReason::kTickLate, false});
}

BOOST_AUTO_TEST_CASE(site_partitioned_5_minutes) {
  checkVerdict(
      runScenario("site_partitioned_5_minutes", plan(FaultKind::kSitePartition, 5min), 808),
      Expect{1, std::nullopt, true});
}

BOOST_AUTO_TEST_CASE(same_seed_replays_identically) {
  FleetParams params;
  params.agents = 2000;
  params.duration = 40min;
  params.deaths_from = 5min;
  params.deaths_end_margin = 10min;
  params.seed = 909;
  FaultPlan frozen = plan(FaultKind::kCollectorFrozen, 2min);
  frozen.starts_at = 20min;
  const PresenceConfig config;
  const SimulationRun first = runSimulation(config, params, frozen);
  const SimulationRun second = runSimulation(config, params, frozen);
  BOOST_TEST(first.observations == second.observations);
  BOOST_TEST(first.transitions == second.transitions);
  BOOST_TEST_REQUIRE(first.alerts.size() == second.alerts.size());
  for (size_t i = 0; i < first.alerts.size(); ++i) {
    BOOST_TEST((first.alerts[i].at == second.alerts[i].at));
    BOOST_TEST(first.alerts[i].agent == second.alerts[i].agent);
    BOOST_TEST((first.alerts[i].action == second.alerts[i].action));
  }
  BOOST_TEST_REQUIRE(first.health.size() == second.health.size());
  for (size_t i = 0; i < first.health.size(); ++i) {
    BOOST_TEST((first.health[i].at == second.health[i].at));
    BOOST_TEST(first.health[i].reasons_mask == second.health[i].reasons_mask);
  }
}
