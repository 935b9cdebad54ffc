#include "collector/presence/flap_detector.h"

#include <algorithm>
#include <cmath>

namespace vigil::collector::presence {

FlapDetector::FlapDetector(const PresenceConfig& config)
    : half_life_ticks_(std::max<double>(1, static_cast<double>(ticksOf(config.flap_half_life)))),
      high_(config.flap_high),
      low_(std::min(config.flap_low, config.flap_high)) {}

double FlapDetector::decayed(float score, Ticks updated, Ticks now) const {
  if (score <= 0 || updated == kNever || now <= updated) return score;
  return score * std::exp2(-static_cast<double>(now - updated) / half_life_ticks_);
}

double FlapDetector::addChange(float& score, Ticks& updated, Ticks now) const {
  const double next = decayed(score, updated, now) + 1.0;
  score = static_cast<float>(next);
  updated = std::max(updated, now);
  return next;
}

}  // namespace vigil::collector::presence
