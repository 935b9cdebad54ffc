#include "collector/presence/mass_suspect_monitor.h"

#include <algorithm>

namespace vigil::collector::presence {
namespace {

// Weight of the newest window in the baseline: about the last ten windows count.
constexpr double kBaselineAlpha = 0.1;
// Empty windows folded into the baseline after a gap, at most (the rest change nothing).
constexpr int64_t kMaxGapWindows = 64;
// Site and tenant ids above this are not tracked for the exclusions (ids are small and dense).
constexpr uint32_t kMaxTrackedId = 1u << 20;

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

uint64_t MassSuspectMonitor::countedSuspects() const {
  uint64_t excluded = top_site_.count;
  if (several_tenants_) {
    // The top site's entries are part of its tenant's when that tenant is the top one.
    excluded = top_tenant_.count + (top_site_.tenant == top_tenant_.id ? 0 : top_site_.count);
  }
  return count_ - std::min(count_, excluded);
}

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
  top_site_ = Top{};
  top_tenant_ = Top{};
}

uint32_t MassSuspectMonitor::bump(std::vector<WindowCount>& counts, uint32_t id) {
  if (id >= counts.size()) counts.resize(id + size_t{1});
  WindowCount& entry = counts[id];
  if (entry.window != window_index_) {
    entry.window = window_index_;
    entry.count = 0;
  }
  return ++entry.count;
}

void MassSuspectMonitor::start(Ticks now) {
  active_ = true;
  active_since_ = now;
}

bool MassSuspectMonitor::onSuspect(const Entry& entry, uint64_t fleet, Ticks now) {
  advance(now);
  ++count_;
  several_tenants_ = entry.several_tenants;
  if (entry.site_is_minority && entry.site < kMaxTrackedId) {
    const uint32_t count = bump(site_counts_, entry.site);
    if (count > top_site_.count) top_site_ = Top{entry.site, count, entry.tenant};
  }
  if (entry.tenant < kMaxTrackedId) {
    const uint32_t count = bump(tenant_counts_, entry.tenant);
    if (count > top_tenant_.count) top_tenant_ = Top{entry.tenant, count, entry.tenant};
  }
  if (active_ || ended_window_ == window_index_) return false;
  if (static_cast<double>(countedSuspects()) <= threshold(fleet)) return false;
  start(now);
  return true;
}

MassSuspectMonitor::Change MassSuspectMonitor::roll(uint64_t suspect_outside_top_tenant,
                                                    uint64_t fleet, bool deaf, Ticks now) {
  advance(now);
  if (!deaf) deaf_outlived_ = false;
  if (!active_) {
    if (!deaf || deaf_outlived_) return Change::kNone;
    start(now);
    return Change::kStarted;
  }
  const bool settled = !deaf && static_cast<double>(suspect_outside_top_tenant) <= threshold(fleet);
  const bool too_long = now - active_since_ >= max_duration_;
  if (!settled && !too_long) return Change::kNone;
  active_ = false;
  active_since_ = kNever;
  // The entries of this window already crossed the threshold once: they cannot start it again.
  ended_window_ = window_index_;
  if (deaf) deaf_outlived_ = true;
  return Change::kEnded;
}

}  // namespace vigil::collector::presence
