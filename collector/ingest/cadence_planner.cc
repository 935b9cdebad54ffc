#include "collector/ingest/cadence_planner.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace vigil::collector {
namespace {

double seconds(Duration d) { return std::chrono::duration<double>(d).count(); }

uint64_t milli(double v) { return v <= 0 ? 0 : static_cast<uint64_t>(std::llround(v * 1000.0)); }

}  // namespace

const char* cadenceTierName(CadenceTier tier) {
  switch (tier) {
    case CadenceTier::kFallbackWorkstation:
      return "fallback_workstation";
    case CadenceTier::kFallbackServer:
      return "fallback_server";
    case CadenceTier::kPlainWorkstation:
      return "plain_workstation";
    case CadenceTier::kPlainServer:
      return "plain_server";
  }
  return "plain_server";
}

std::string CadenceStep::describe() const {
  char projected[64] = "";
  if (projected_per_s >= 0) {
    std::snprintf(projected, sizeof projected, ", %.0f/s at the intervals handed out",
                  projected_per_s);
  }
  char line[320];
  std::snprintf(line, sizeof line,
                "heartbeat intervals %s to stretch level %u of %u (offered %.0f heartbeats/s%s, "
                "budget %.0f/s, %llu shed in the period)",
                to_level > from_level ? "lengthened" : "shortened", to_level, kMaxStretchLevel,
                offered_per_s, projected, budget_per_s, static_cast<unsigned long long>(shed));
  return line;
}

LoadGovernor::LoadGovernor(LoadGovernorConfig config, uint32_t start_level)
    : config_(config), level_(std::min(start_level, kMaxStretchLevel)) {
  budget_milli_per_s_.store(milli(config_.budget_per_s), std::memory_order_relaxed);
}

std::optional<CadenceStep> LoadGovernor::sample(MonoTime now, uint64_t heartbeats_accepted,
                                                uint64_t heartbeats_shed, Duration process_cpu,
                                                double projected_per_s) {
  if (!period_start_) {
    period_start_ = now;
    period_cpu_start_ = process_cpu;
    last_raise_ = now - config_.raise_every;
    return std::nullopt;
  }
  period_offered_ += heartbeats_accepted + heartbeats_shed;
  period_shed_ += heartbeats_shed;
  const Duration elapsed = now - *period_start_;
  if (elapsed < config_.evaluate_every) return std::nullopt;

  const double span_s = seconds(elapsed);
  const double offered = static_cast<double>(period_offered_) / span_s;
  const double cpu_share = seconds(process_cpu - period_cpu_start_) / span_s /
                           static_cast<double>(std::max<uint32_t>(1, config_.cores));
  if (config_.budget_per_s <= 0 && cpu_share >= config_.min_learn_cpu_share && offered > 0) {
    const double estimate = offered * config_.target_cpu_share / cpu_share;
    learnt_budget_ = learnt_budget_ <= 0 ? estimate : 0.7 * learnt_budget_ + 0.3 * estimate;
  }
  const double budget = config_.budget_per_s > 0 ? config_.budget_per_s : learnt_budget_;
  const uint64_t shed = period_shed_;
  offered_milli_per_s_.store(milli(offered), std::memory_order_relaxed);
  projected_milli_per_s_.store(milli(projected_per_s), std::memory_order_relaxed);
  budget_milli_per_s_.store(milli(budget), std::memory_order_relaxed);
  period_start_ = now;
  period_cpu_start_ = process_cpu;
  period_offered_ = 0;
  period_shed_ = 0;

  const bool projecting = projected_per_s >= 0;
  const double load = projecting ? projected_per_s : offered;
  // Agents still taking the last step: the projection has not shown it yet.
  const bool settling = projecting && last_projected_ > 0 &&
                        projected_per_s < (1.0 - config_.settling_share) * last_projected_;
  last_projected_ = projected_per_s;
  const uint32_t from = level_.load(std::memory_order_relaxed);
  uint32_t to = from;
  const bool shedding = config_.raise_on_shed && shed > 0;
  const bool over = shedding || (budget > 0 && load > config_.raise_at * budget);
  const bool calm = shed == 0 && (budget <= 0 || load < config_.lower_at * budget);
  if (over) {
    calm_since_.reset();
    // Agents take a new interval only with their next answer: give a step time to show.
    if (from < kMaxStretchLevel && now - last_raise_ >= config_.raise_every &&
        (shedding || !settling)) {
      to = from + 1;
      last_raise_ = now;
    }
  } else if (calm && from > 0) {
    if (!calm_since_) calm_since_ = now;
    if (now - *calm_since_ >= config_.lower_after) {
      to = from - 1;
      calm_since_ = now;
    }
  } else {
    calm_since_.reset();
  }
  if (to == from) return std::nullopt;
  level_.store(to, std::memory_order_relaxed);
  (to > from ? raised_ : lowered_).fetch_add(1, std::memory_order_relaxed);
  CadenceStep step;
  step.from_level = from;
  step.to_level = to;
  step.offered_per_s = offered;
  step.projected_per_s = projected_per_s;
  step.budget_per_s = budget;
  step.shed = shed;
  return step;
}

LoadGovernorView LoadGovernor::view() const {
  LoadGovernorView v;
  v.level = level_.load(std::memory_order_relaxed);
  v.offered_per_s =
      static_cast<double>(offered_milli_per_s_.load(std::memory_order_relaxed)) / 1000.0;
  v.projected_per_s =
      static_cast<double>(projected_milli_per_s_.load(std::memory_order_relaxed)) / 1000.0;
  v.budget_per_s =
      static_cast<double>(budget_milli_per_s_.load(std::memory_order_relaxed)) / 1000.0;
  v.budget_learnt = config_.budget_per_s <= 0;
  v.raised = raised_.load(std::memory_order_relaxed);
  v.lowered = lowered_.load(std::memory_order_relaxed);
  return v;
}

CadenceTier tierOf(const CadenceInputs& inputs) {
  if (inputs.fallback_working) {
    return inputs.base.server ? CadenceTier::kFallbackServer : CadenceTier::kFallbackWorkstation;
  }
  return inputs.base.server ? CadenceTier::kPlainServer : CadenceTier::kPlainWorkstation;
}

CadencePlan planCadence(const CadenceInputs& inputs, uint32_t level, int64_t max_heartbeat_s) {
  CadencePlan plan;
  plan.tier = tierOf(inputs);
  const uint32_t tier_start = static_cast<uint32_t>(plan.tier) * kStepsPerTier;
  plan.step = level <= tier_start ? 0 : std::min(level - tier_start, kStepsPerTier);
  const int64_t base = std::max<int64_t>(1, inputs.base.heartbeat_s);
  const auto stretched =
      static_cast<int64_t>(std::llround(static_cast<double>(base) * kStretchSteps[plan.step]));
  plan.heartbeat_s = std::max(base, std::min(stretched, max_heartbeat_s));
  return plan;
}

}  // namespace vigil::collector
