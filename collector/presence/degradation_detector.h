#pragma once

// Decides whether the collector itself is DEGRADED, and why. Every DegradationReason is a
// bit of mask(). Warm-up lasts from start until config.warmUp(); every other reason is
// transient: once its cause ends the bit stays set for effectiveRecoveryPeriod() more, so
// evidence that the fault delayed can still arrive before anyone is judged.
//
// Late ticks and clock jumps are detected here (onTick); ingest lag, queues, shed requests,
// beacons lost to a full receive queue and store writes come from the collector's reports; channel
// collapse and mass suspect are decided by ChannelMonitor and MassSuspectMonitor and set as
// conditions.

#include <array>
#include <cstdint>
#include <optional>

#include "collector/presence/engine_time.h"
#include "collector/presence/presence_types.h"

namespace vigil::collector::presence {

class DegradationDetector {
 public:
  // The detector starts in warm-up at `start`; `start_wall` is the wall time at `start`.
  DegradationDetector(const PresenceConfig& config, Ticks start, WallTime start_wall);

  // An evaluation tick at `now`: a late tick or a wall step since the previous tick pulses
  // kTickLate / kClockJump; warm-up and lingering reasons that are over are cleared. Returns
  // true if the tick was late (the process did not run for a while before it).
  bool onTick(Ticks now, WallTime wall_now);
  // The wall time of the previous tick (of the start before the first).
  WallTime lastTickWall() const { return last_tick_wall_; }

  void onIngestLag(Duration lag, Ticks now);
  // The ingest lag last reported: evidence up to this old may still be waiting in the queue.
  Ticks reportedIngestLag() const { return reported_lag_; }
  // Evidence handed to the engine `lag` after it was received (the engine's own view of
  // ingest lag, independent of the collector's reports).
  void onObservationLag(Ticks lag, Ticks now);
  void onQueueDepth(QueueId queue, uint64_t depth, uint64_t bound, Ticks now);
  // Shares are judged over at least kMinShedSample requests; smaller reports accumulate.
  void onRequests(uint64_t accepted, uint64_t shed, Ticks now);
  // Beacons read from the socket and beacons the kernel dropped before they could be read;
  // the dropped share is judged against shed_share_bound like shed requests.
  void onBeaconReceive(uint64_t read, uint64_t overflowed, Ticks now);
  void onStoreWrite(bool ok, Ticks now);
  // Whether the store's database answered the last write or read that needed it: false sets
  // kStoreUnavailable at once (the verdicts wait for the evidence to be written), true clears
  // it.
  void onStoreReach(bool reachable, Ticks now);

  // A condition whose cause another monitor decides (channel collapse, mass suspect).
  void setCondition(DegradationReason reason, bool active, Ticks now);

  uint32_t mask() const { return mask_; }
  bool degraded() const { return mask_ != 0; }
  // When the reason's current episode began, if it is set.
  std::optional<Ticks> reasonSince(DegradationReason reason) const;

  static constexpr uint64_t kMinShedSample = 20;

 private:
  struct ReasonState {
    bool active = false;     // the cause is present now
    Ticks linger_until = 0;  // set until this instant after the cause ended
    Ticks since = kNever;    // start of the current episode, kNever when not set
  };

  void setActive(DegradationReason reason, bool active, Ticks now);
  void pulse(DegradationReason reason, Ticks now);
  void refresh(Ticks now);

  Ticks warm_up_end_;
  Ticks recovery_;
  Ticks tick_late_after_;
  Ticks clock_jump_threshold_;
  Ticks ingest_lag_bound_;
  double shed_share_bound_;
  uint32_t store_failures_bound_;

  std::array<ReasonState, kDegradationReasonCount> reasons_{};
  uint32_t mask_ = 0;
  Ticks last_tick_;
  WallTime last_tick_wall_;
  std::array<bool, kQueueCount> queue_over_{};
  // Counts since the last judged share (one pair per kind of loss).
  struct LossSample {
    uint64_t kept = 0;
    uint64_t lost = 0;
  };
  // Adds to `sample`; once it holds kMinShedSample, sets or clears `reason` by its share.
  void judgeLoss(LossSample* sample, uint64_t kept, uint64_t lost, DegradationReason reason,
                 Ticks now);

  LossSample requests_;
  LossSample beacons_;
  uint32_t store_failures_ = 0;
  Ticks reported_lag_ = 0;
};

}  // namespace vigil::collector::presence
