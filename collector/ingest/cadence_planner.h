#pragma once

// How often each agent is told to report: the heartbeat interval of every answer, directed by
// policy, risk and load (docs/presence.md, "Adaptive heartbeat intervals").
//
// - Policy gives each agent its base heartbeat and beacon intervals (per tenant, site and
//   agent class; the collector's settings otherwise).
// - Risk: an agent that was lost is asked to verify (IngestService's "verify"), whatever its
//   interval; an agent whose beacon channel is not working (no beacon state, an unanswered or
//   paused beacon) is never stretched before the others.
// - Load: LoadGovernor compares the heartbeat rate the handed-out intervals promise (the
//   engine's projection: the sum of 1 / interval over the fleet) with a capacity budget
//   (configured, or learnt from the collector's own CPU use) and raises or lowers a stretch
//   level one step at a time. The projection, not the rate measured per period, decides: a
//   reconnect surge or a wave of fallback heartbeats is a burst, not a lasting load, and must not
//   stretch the fleet for hours; shedding, the sign that the burst is more than the collector
//   can take, raises a level at once. Each level stretches the intervals of one more group of
//   agents, in this order: workstations whose beacon fallback works, servers whose fallback works,
//   workstations without it, servers without it. Stretching an agent with a working fallback costs
//   no detection speed (the beacon and its fallback bound its silence); stretching the others does,
//   so it comes last, and still before anything is shed.
//
// Nothing here reads a clock or the OS: the ticker feeds LoadGovernor samples, and the planner
// is a pure function of its inputs and the governor's level.
//
// Thread safety: CadencePlanner::plan() and LoadGovernor's getters are safe from any thread;
// LoadGovernor::sample() from one thread (the presence ticker).

#include <array>
#include <atomic>
#include <cstdint>
#include <optional>
#include <string>

#include "common/clock.h"

namespace vigil::collector {

// The groups of agents, in the order load stretches them.
enum class CadenceTier : uint8_t {
  kFallbackWorkstation,  // beacon acknowledged, follows the beacon fallback; a workstation
  kFallbackServer,       // the same, a server
  kPlainWorkstation,     // any other workstation
  kPlainServer,          // any other server
};
constexpr size_t kCadenceTierCount = 4;
const char* cadenceTierName(CadenceTier tier);  // "fallback_workstation", ...

// Interval multipliers of one tier, one per step; a tier at step s uses kStretchSteps[s].
constexpr std::array<double, 5> kStretchSteps{1.0, 1.5, 2.0, 3.0, 5.0};
constexpr uint32_t kStepsPerTier = static_cast<uint32_t>(kStretchSteps.size() - 1);
constexpr uint32_t kMaxStretchLevel = kStepsPerTier * kCadenceTierCount;

struct LoadGovernorConfig {
  // Heartbeats per second the collector should stay under; 0: learnt from its CPU use.
  double budget_per_s = 0;
  // Learnt budget: the rate at which the process would use this share of the machine's cores,
  // extrapolated from the measured rate and CPU use (only while the CPU use says something: at
  // least min_learn_cpu_share).
  double target_cpu_share = 0.70;
  double min_learn_cpu_share = 0.15;
  uint32_t cores = 2;
  // Raise a level when the load (the projected rate, or the offered one when there is no
  // projection) is above raise_at x budget; lower one when it is below lower_at x budget for at
  // least lower_after.
  double raise_at = 0.80;
  double lower_at = 0.50;
  Duration evaluate_every = std::chrono::seconds(10);
  // Agents take a new interval only with their next answer: at most one raise per this long,
  // so that one step has time to show before the next; and none while the projection is still
  // falling by more than settling_share per period (agents still taking the last step).
  Duration raise_every = std::chrono::seconds(30);
  double settling_share = 0.03;
  Duration lower_after = std::chrono::minutes(2);
  // Any shed heartbeat in a period raises a level at once: shedding means the budget was wrong.
  bool raise_on_shed = true;
};

// One step of the governor, for the log and the metrics.
struct CadenceStep {
  uint32_t from_level = 0;
  uint32_t to_level = 0;
  double offered_per_s = 0;
  double projected_per_s = -1;  // negative: no projection (the offered rate decided)
  double budget_per_s = 0;
  uint64_t shed = 0;
  std::string describe() const;  // "heartbeat intervals stretched to level 3 (...)"
};

struct LoadGovernorView {
  uint32_t level = 0;
  double offered_per_s = 0;    // over the last evaluation period
  double projected_per_s = 0;  // at the intervals handed out, at the last evaluation
  double budget_per_s = 0;     // configured or learnt; 0 while not learnt yet
  bool budget_learnt = false;
  uint64_t raised = 0;  // steps up since the start
  uint64_t lowered = 0;
};

class LoadGovernor {
 public:
  // Starts at `start_level` (the level before a restart: a surge that needed it is likely
  // to be back with the reconnecting fleet).
  explicit LoadGovernor(LoadGovernorConfig config, uint32_t start_level = 0);

  // Reports the heartbeats offered since the previous call (accepted and shed), the process's
  // CPU time so far, and the engine's projected heartbeat rate (negative: none; the offered
  // rate then stands for the load), at monotonic `now`. Returns the step taken, if any.
  std::optional<CadenceStep> sample(MonoTime now, uint64_t heartbeats_accepted,
                                    uint64_t heartbeats_shed, Duration process_cpu,
                                    double projected_per_s = -1);

  uint32_t level() const { return level_.load(std::memory_order_relaxed); }
  LoadGovernorView view() const;
  const LoadGovernorConfig& config() const { return config_; }

 private:
  const LoadGovernorConfig config_;
  std::atomic<uint32_t> level_{0};
  // sample()'s thread only, except the atomics the view reads.
  std::optional<MonoTime> period_start_;
  Duration period_cpu_start_{};
  uint64_t period_offered_ = 0;
  uint64_t period_shed_ = 0;
  std::optional<MonoTime> calm_since_;
  MonoTime last_raise_{};
  double learnt_budget_ = 0;
  double last_projected_ = -1;
  std::atomic<uint64_t> offered_milli_per_s_{0};
  std::atomic<uint64_t> projected_milli_per_s_{0};
  std::atomic<uint64_t> budget_milli_per_s_{0};
  std::atomic<uint64_t> raised_{0};
  std::atomic<uint64_t> lowered_{0};
};

// An agent's base intervals from policy (seconds), and its class.
struct BaseCadence {
  int64_t heartbeat_s = 60;
  int64_t beacon_s = 15;
  bool server = false;
};

// What the planner needs to know about one agent and its heartbeat.
struct CadenceInputs {
  BaseCadence base;
  // The heartbeat said beacon_state "acked": its beacon works and it follows the fallback.
  bool fallback_working = false;
};

struct CadencePlan {
  int64_t heartbeat_s = 60;
  CadenceTier tier = CadenceTier::kPlainWorkstation;
  uint32_t step = 0;  // of the tier's stretch, 0: the base interval
};

CadenceTier tierOf(const CadenceInputs& inputs);
// The interval for an agent at stretch `level`: its base heartbeat interval times its tier's
// step, at most `max_heartbeat_s` (never below the base).
CadencePlan planCadence(const CadenceInputs& inputs, uint32_t level, int64_t max_heartbeat_s);

}  // namespace vigil::collector
