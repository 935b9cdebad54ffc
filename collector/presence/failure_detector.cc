#include "collector/presence/failure_detector.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>

namespace vigil::collector::presence {
namespace {

// Weight of the newest sample once the history is long: about the last 16 arrivals count.
constexpr double kMinAlpha = 1.0 / 16.0;
// Gaps shorter than this share of the interval are bursts, not samples.
constexpr double kMinSampleShare = 0.5;
constexpr double kTicksPerSecond =
    static_cast<double>(Duration::period::den) / Duration::period::num;
constexpr double kTicksPerMs = kTicksPerSecond / 1000.0;

uint32_t toIntervalMs(Duration interval) {
  const int64_t ms = std::chrono::duration_cast<std::chrono::milliseconds>(interval).count();
  const int64_t max = std::numeric_limits<uint32_t>::max();
  return static_cast<uint32_t>(std::clamp<int64_t>(ms, 1, max));
}

}  // namespace

FailureDetector::FailureDetector(const PresenceConfig& config)
    : z_(zForPhi(config.phi_threshold)),
      floor_(std::max(0.0, config.lateness_floor)),
      ceiling_(std::max(config.lateness_floor, config.lateness_ceiling)),
      min_stddev_share_(std::max(0.0, config.min_stddev_share)) {}

double FailureDetector::zForPhi(double phi) {
  if (phi <= 0) return 0;
  const double tail = std::pow(10.0, -phi);
  // Bisection on the upper tail of the standard normal: 0.5 * erfc(z / sqrt(2)) = tail.
  double lo = 0;
  double hi = 40;
  for (int i = 0; i < 200; ++i) {
    const double mid = (lo + hi) / 2;
    if (0.5 * std::erfc(mid / std::sqrt(2.0)) > tail) {
      lo = mid;
    } else {
      hi = mid;
    }
  }
  return (lo + hi) / 2;
}

bool FailureDetector::record(ArrivalStats& stats, Ticks at, Duration interval, bool learn) const {
  const uint32_t interval_ms = toIntervalMs(interval);
  const float interval_s = static_cast<float>(interval_ms) / 1000.0f;
  if (stats.last == kNever || interval_ms != stats.interval_ms) {
    if (stats.last != kNever && at < stats.last) return false;
    stats.last = at;
    stats.interval_ms = interval_ms;
    stats.mean_s = interval_s;
    stats.var_s2 = 0;
    stats.samples = 0;
    return true;
  }
  if (at < stats.last) return false;
  const double gap_s = static_cast<double>(at - stats.last) / kTicksPerSecond;
  stats.last = at;
  if (!learn || gap_s < kMinSampleShare * interval_s || gap_s > ceiling_ * interval_s) {
    return true;
  }
  if (stats.samples < std::numeric_limits<uint16_t>::max()) ++stats.samples;
  // The expected interval acts as one prior sample, so the first arrivals move the mean
  // only halfway.
  const double alpha = std::max(1.0 / (stats.samples + 1.0), kMinAlpha);
  const double diff = gap_s - stats.mean_s;
  const double increment = alpha * diff;
  stats.mean_s = static_cast<float>(stats.mean_s + increment);
  stats.var_s2 = static_cast<float>((1.0 - alpha) * (stats.var_s2 + diff * increment));
  return true;
}

Ticks FailureDetector::deadline(const ArrivalStats& stats) const {
  const double interval_s = stats.interval_ms / 1000.0;
  const double stddev = std::max(std::sqrt(std::max(0.0, static_cast<double>(stats.var_s2))),
                                 min_stddev_share_ * interval_s);
  const double allowance_s =
      std::clamp(stats.mean_s + z_ * stddev, floor_ * interval_s, ceiling_ * interval_s);
  // Rounded down to whole milliseconds so that equal inputs give equal, readable deadlines.
  const auto allowance_ms = static_cast<Ticks>(allowance_s * 1000.0);
  return stats.last + static_cast<Ticks>(static_cast<double>(allowance_ms) * kTicksPerMs);
}

}  // namespace vigil::collector::presence
