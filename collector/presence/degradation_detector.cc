#include "collector/presence/degradation_detector.h"

#include <algorithm>

namespace vigil::collector::presence {
namespace {

size_t indexOf(DegradationReason reason) { return static_cast<size_t>(reason); }

}  // namespace

DegradationDetector::DegradationDetector(const PresenceConfig& config, Ticks start,
                                         WallTime start_wall)
    : warm_up_end_(start + ticksOf(config.warmUp())),
      recovery_(ticksOf(config.effectiveRecoveryPeriod())),
      tick_late_after_(ticksOf(config.tick_late_after)),
      clock_jump_threshold_(ticksOf(config.clock_jump_threshold)),
      ingest_lag_bound_(ticksOf(config.ingest_lag_bound)),
      shed_share_bound_(config.shed_share_bound),
      store_failures_bound_(std::max<uint32_t>(1, config.store_failures_bound)),
      last_tick_(start),
      last_tick_wall_(start_wall) {
  auto& warm_up = reasons_[indexOf(DegradationReason::kWarmUp)];
  warm_up.active = true;
  warm_up.since = start;
  refresh(start);
}

std::optional<Ticks> DegradationDetector::reasonSince(DegradationReason reason) const {
  const auto& state = reasons_[indexOf(reason)];
  if (state.since == kNever) return std::nullopt;
  return state.since;
}

void DegradationDetector::refresh(Ticks now) {
  uint32_t mask = 0;
  for (size_t i = 0; i < reasons_.size(); ++i) {
    auto& state = reasons_[i];
    const bool set = state.active || state.linger_until > now;
    if (set) {
      mask |= 1u << i;
      if (state.since == kNever) state.since = now;
    } else {
      state.since = kNever;
    }
  }
  mask_ = mask;
}

void DegradationDetector::setActive(DegradationReason reason, bool active, Ticks now) {
  auto& state = reasons_[indexOf(reason)];
  if (state.active == active) return;
  state.active = active;
  // Warm-up is not a fault: it ends exactly at its end. Every other cause lingers.
  if (!active && reason != DegradationReason::kWarmUp) {
    state.linger_until = std::max(state.linger_until, now + recovery_);
  }
  refresh(now);
}

void DegradationDetector::pulse(DegradationReason reason, Ticks now) {
  auto& state = reasons_[indexOf(reason)];
  state.linger_until = std::max(state.linger_until, now + recovery_);
  refresh(now);
}

void DegradationDetector::setCondition(DegradationReason reason, bool active, Ticks now) {
  setActive(reason, active, now);
}

bool DegradationDetector::onTick(Ticks now, WallTime wall_now) {
  const Ticks mono_step = now - last_tick_;
  const Ticks wall_step = ticksOf(std::chrono::duration_cast<Duration>(wall_now - last_tick_wall_));
  const bool late = mono_step > tick_late_after_;
  if (late) pulse(DegradationReason::kTickLate, now);
  const Ticks skew = wall_step - mono_step;
  if (skew > clock_jump_threshold_ || -skew > clock_jump_threshold_) {
    pulse(DegradationReason::kClockJump, now);
  }
  last_tick_ = now;
  last_tick_wall_ = wall_now;
  if (now >= warm_up_end_) setActive(DegradationReason::kWarmUp, false, now);
  refresh(now);
  return late;
}

void DegradationDetector::onIngestLag(Duration lag, Ticks now) {
  reported_lag_ = std::max<Ticks>(0, ticksOf(lag));
  setActive(DegradationReason::kIngestLag, ticksOf(lag) > ingest_lag_bound_, now);
}

void DegradationDetector::onObservationLag(Ticks lag, Ticks now) {
  if (lag > ingest_lag_bound_) pulse(DegradationReason::kIngestLag, now);
}

void DegradationDetector::onQueueDepth(QueueId queue, uint64_t depth, uint64_t bound, Ticks now) {
  const auto index = static_cast<size_t>(queue);
  if (index >= queue_over_.size()) return;
  queue_over_[index] = depth > bound;
  const bool any = std::any_of(queue_over_.begin(), queue_over_.end(), [](bool b) { return b; });
  setActive(DegradationReason::kQueueOverBound, any, now);
}

void DegradationDetector::judgeLoss(LossSample* sample, uint64_t kept, uint64_t lost,
                                    DegradationReason reason, Ticks now) {
  sample->kept += kept;
  sample->lost += lost;
  const uint64_t total = sample->kept + sample->lost;
  if (total < kMinShedSample) return;
  const double share = static_cast<double>(sample->lost) / static_cast<double>(total);
  *sample = LossSample{};
  setActive(reason, share > shed_share_bound_, now);
}

void DegradationDetector::onRequests(uint64_t accepted, uint64_t shed, Ticks now) {
  judgeLoss(&requests_, accepted, shed, DegradationReason::kShedRequests, now);
}

void DegradationDetector::onBeaconReceive(uint64_t read, uint64_t overflowed, Ticks now) {
  judgeLoss(&beacons_, read, overflowed, DegradationReason::kBeaconOverflow, now);
}

void DegradationDetector::onStoreReach(bool reachable, Ticks now) {
  setActive(DegradationReason::kStoreUnavailable, !reachable, now);
}

void DegradationDetector::onStoreWrite(bool ok, Ticks now) {
  if (ok) {
    store_failures_ = 0;
  } else if (store_failures_ < store_failures_bound_) {
    ++store_failures_;
  }
  setActive(DegradationReason::kStoreWriteFailures, store_failures_ >= store_failures_bound_, now);
}

}  // namespace vigil::collector::presence
