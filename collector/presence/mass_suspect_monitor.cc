#include "collector/presence/mass_suspect_monitor.h"

#include <algorithm>

namespace vigil::collector::presence {
namespace {

// Weight of the newest window in the baseline: about the last ten windows count.
constexpr double kBaselineAlpha = 0.1;
// Empty windows folded into the baseline after a gap, at most (the rest change nothing).
constexpr int64_t kMaxGapWindows = 64;
// Site ids above this are not tracked for the minority exclusion (ids are small and dense).
constexpr SiteId kMaxTrackedSite = 1u << 20;

}  // namespace

MassSuspectMonitor::MassSuspectMonitor(const PresenceConfig& config, Ticks origin)
    : origin_(origin),
      window_(std::max<Ticks>(1, ticksOf(config.suspect_window))),
      max_duration_(ticksOf(config.mass_suspect_max_duration)),
      min_agents_(config.mass_suspect_min_agents),
      factor_(config.mass_suspect_factor),
      min_share_(config.mass_suspect_min_share) {}

double MassSuspectMonitor::threshold(uint64_t fleet) const {
  return std::max({min_agents_, factor_ * baseline_, min_share_ * static_cast<double>(fleet)});
}

uint64_t MassSuspectMonitor::countedSuspects() const { return count_ - top_count_; }

void MassSuspectMonitor::advance(Ticks now) {
  const int64_t index = (now - origin_) / window_;
  if (index <= window_index_) return;
  if (!active_) {
    baseline_ += kBaselineAlpha * (static_cast<double>(countedSuspects()) - baseline_);
    const int64_t empty = std::min(index - window_index_ - 1, kMaxGapWindows);
    for (int64_t i = 0; i < empty; ++i) baseline_ -= kBaselineAlpha * baseline_;
  }
  window_index_ = index;
  count_ = 0;
  top_count_ = 0;
}

bool MassSuspectMonitor::onSuspect(SiteId site, bool site_is_minority, uint64_t fleet, Ticks now) {
  advance(now);
  ++count_;
  if (site_is_minority && site < kMaxTrackedSite) {
    if (site >= site_counts_.size()) site_counts_.resize(site + 1);
    SiteCount& entry = site_counts_[site];
    if (entry.window != window_index_) {
      entry.window = window_index_;
      entry.count = 0;
    }
    ++entry.count;
    top_count_ = std::max(top_count_, entry.count);
  }
  if (active_ || ended_window_ == window_index_) return false;
  if (static_cast<double>(countedSuspects()) <= threshold(fleet)) return false;
  active_ = true;
  active_since_ = now;
  return true;
}

bool MassSuspectMonitor::roll(uint64_t suspect_now, uint64_t fleet, Ticks now) {
  advance(now);
  if (!active_) return false;
  const bool settled = static_cast<double>(suspect_now) <= threshold(fleet);
  const bool too_long = now - active_since_ >= max_duration_;
  if (!settled && !too_long) return false;
  active_ = false;
  active_since_ = kNever;
  // The entries of this window already crossed the threshold once: they cannot start it again.
  ended_window_ = window_index_;
  return true;
}

}  // namespace vigil::collector::presence
