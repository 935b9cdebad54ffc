#pragma once

// Flapping, Icinga-style: every counted status change adds 1 to a per-agent score that
// decays exponentially with half-life flap_half_life. Flapping starts when the score rises
// above flap_high and ends when it decays below flap_low (hysteresis), so an agent that keeps
// changing gets one flapping alert instead of a stream of device alerts. The engine counts
// the changes into and out of OFFLINE: those are the ones that open and resolve alerts.

#include "collector/presence/engine_time.h"
#include "collector/presence/presence_types.h"

namespace vigil::collector::presence {

class FlapDetector {
 public:
  explicit FlapDetector(const PresenceConfig& config);

  // The score at `now`, given the score `score` last updated at `updated`.
  double decayed(float score, Ticks updated, Ticks now) const;
  // Adds one status change at `now`; returns the new score.
  double addChange(float& score, Ticks& updated, Ticks now) const;

  bool starts(double score) const { return score > high_; }
  bool ends(double score) const { return score < low_; }

 private:
  double half_life_ticks_;
  double high_;
  double low_;
};

}  // namespace vigil::collector::presence
