#pragma once

// Phi accrual failure detector (Hayashibara et al.; as in Cassandra and Akka) over the
// inter-arrival times of one indicator of one agent. State is O(1): an exponentially
// weighted mean and variance, so a million agents cost a few bytes each.
//
// Instead of computing phi at every tick, the detector answers the instant at which phi
// would cross the threshold (the indicator's deadline):
//   deadline = last + clamp(mean + z(phi) * max(stddev, min_stddev_share * interval),
//                           lateness_floor * interval, lateness_ceiling * interval)
// where z(phi) is the normal quantile with tail probability 10^-phi. Evidence arriving at or
// before the deadline is on time.

#include <cstdint>

#include "collector/presence/engine_time.h"
#include "collector/presence/presence_types.h"

namespace vigil::collector::presence {

// Arrival history of one indicator of one agent. Owned by the agent's record.
struct ArrivalStats {
  Ticks last = kNever;       // last arrival (monotonic)
  float mean_s = 0;          // EWMA of inter-arrival times, seconds
  float var_s2 = 0;          // EWMA variance, seconds^2
  uint32_t interval_ms = 0;  // interval the collector expects on this indicator
  uint16_t samples = 0;      // samples since the last re-base (saturating)
  uint16_t window_tag = 0;   // last channel window this arrival was counted in (ChannelMonitor)
};

class FailureDetector {
 public:
  explicit FailureDetector(const PresenceConfig& config);

  // Records an arrival at `at` on an indicator the agent was told to send every `interval`.
  // A changed interval re-bases the history (the next arrival is expected one new interval
  // after this one), so a slow-down ordered by the collector never reads as lateness. Only
  // gaps between half an interval and the ceiling are samples: longer ones are outages,
  // shorter ones bursts (a backlog read at once). With `learn` false (the collector is
  // DEGRADED and arrival times are not to be trusted) the arrival counts but teaches nothing.
  // Returns false, changing nothing, when `at` is older than the last arrival.
  bool record(ArrivalStats& stats, Ticks at, Duration interval, bool learn = true) const;

  // The instant after which the indicator is late. REQUIRES: stats.last != kNever.
  Ticks deadline(const ArrivalStats& stats) const;

  // The normal quantile z with P(X > mean + z * stddev) = 10^-phi.
  static double zForPhi(double phi);
  double z() const { return z_; }

 private:
  double z_;
  double floor_;
  double ceiling_;
  double min_stddev_share_;
};

}  // namespace vigil::collector::presence
