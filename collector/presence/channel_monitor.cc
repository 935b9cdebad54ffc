#include "collector/presence/channel_monitor.h"

#include <algorithm>

namespace vigil::collector::presence {
namespace {

// A collapsed channel has recovered once it regained at least half of what it lost: with
// drop_share 0.3, a collapse starts below 70 % of the share before it and ends at 85 %. The
// gap keeps a loss that hovers at the threshold from starting and ending collapses in turn.
constexpr double kRecoveredShareOfDrop = 0.5;
// Tenant ids above this are not counted per tenant (ids are small and dense).
constexpr TenantId kMaxTrackedTenant = 1u << 20;

}  // namespace

ChannelMonitor::ChannelMonitor(const PresenceConfig& config, Ticks origin)
    : origin_(origin),
      window_(std::max<Ticks>(1, ticksOf(config.channel_window))),
      max_duration_(ticksOf(config.channel_collapse_max_duration)),
      min_agents_(std::max<uint32_t>(1, config.channel_min_agents)),
      drop_share_(config.channel_drop_share) {}

uint16_t ChannelMonitor::tagOf(int64_t window) const {
  // 0 means "never counted"; tags repeat every 65535 windows, which at worst skips a count.
  return static_cast<uint16_t>(window % 65535 + 1);
}

void ChannelMonitor::onArrival(size_t channel, DirectStats& direct, TenantId tenant) {
  for (const ArrivalStats& stats : direct) {
    if (ticksOf(std::chrono::milliseconds(stats.interval_ms)) > window_) return;
  }
  const uint16_t tag = tagOf(window_index_);
  if (direct[channel].window_tag == tag) return;
  direct[channel].window_tag = tag;
  const bool both = direct[1 - channel].window_tag == tag;
  ++current_.heard[channel];
  if (both) ++current_.both;
  if (tenant >= kMaxTrackedTenant) return;
  if (tenant >= tenants_.size()) tenants_.resize(tenant + size_t{1});
  TenantCounts& own = tenants_[tenant];
  own.counted = true;
  ++own.current.heard[channel];
  if (both) ++own.current.both;
}

bool ChannelMonitor::anyCollapsed() const {
  return std::any_of(channels_.begin(), channels_.end(),
                     [](const Channel& c) { return c.collapsed; });
}

void ChannelMonitor::onStall(Ticks now) { partial_through_ = (now - origin_) / window_; }

double ChannelMonitor::shareOf(size_t channel, const Counts& counts) const {
  const uint32_t reference = counts.heard[1 - channel];
  if (reference < min_agents_) return -1;
  return static_cast<double>(counts.both) / static_cast<double>(reference);
}

double ChannelMonitor::recoveryLevel(const Channel& channel) const {
  return (1.0 - kRecoveredShareOfDrop * drop_share_) * channel.baseline_share;
}

void ChannelMonitor::end(Channel& channel) {
  channel.collapsed = false;
  channel.collapsed_since = kNever;
}

ChannelMonitor::Counts ChannelMonitor::without(const Counts& all, const Counts& part) {
  Counts rest;
  for (size_t c = 0; c < rest.heard.size(); ++c) rest.heard[c] = all.heard[c] - part.heard[c];
  rest.both = all.both - part.both;
  return rest;
}

bool ChannelMonitor::drops(size_t channel, const Counts& before, const Counts& after,
                           double drop_share) const {
  // At least channel_min_agents agents used both channels before: below that a drop is
  // statistics, not a channel fault.
  if (before.both < min_agents_) return false;
  const double was = shareOf(channel, before);
  const double is = shareOf(channel, after);
  return was > 0 && is >= 0 && is < (1.0 - drop_share) * was;
}

bool ChannelMonitor::dropsWithoutAnyOne(size_t channel) const {
  if (!drops(channel, previous_, last_complete_, drop_share_)) return false;
  size_t counted = 0;
  for (const TenantCounts& t : tenants_) counted += t.counted ? 1 : 0;
  if (counted <= 1) return true;  // one tenant's fleet: its own channel
  for (const TenantCounts& t : tenants_) {
    if (!t.counted) continue;
    if (!drops(channel, without(previous_, t.previous), without(last_complete_, t.last_complete),
               drop_share_ / 2)) {
      return false;
    }
  }
  return true;
}

void ChannelMonitor::decide(size_t index, bool may_start, Ticks now) {
  Channel& own = channels_[index];
  const double share = shareOf(index, last_complete_);
  if (!own.collapsed) {
    if (may_start && dropsWithoutAnyOne(index)) {
      own.collapsed = true;
      own.baseline_share = shareOf(index, previous_);
      own.collapsed_since = now;
    }
    return;
  }
  // The reference channel heard too few agents to judge any more (it failed too: not a
  // one-channel fault), the channel is back, or the collapse lasted long enough.
  const bool unjudgeable = share < 0;
  const bool recovered = share >= recoveryLevel(own);
  const bool too_long = now - own.collapsed_since >= max_duration_;
  if (unjudgeable || recovered || too_long) end(own);
}

bool ChannelMonitor::roll(Ticks now) {
  const bool before0 = channels_[0].collapsed;
  const bool before1 = channels_[1].collapsed;
  // A collapsed channel that already reached its recovery level in the window in progress
  // has recovered: no need to wait for the window to close.
  for (size_t c = 0; c < kDirectChannelCount; ++c) {
    Channel& channel = channels_[c];
    if (channel.collapsed && shareOf(c, current_) >= recoveryLevel(channel)) {
      end(channel);
    }
  }
  const int64_t index = (now - origin_) / window_;
  if (index > window_index_) {
    // A gap of several windows (the process was frozen) leaves empty windows behind: judge
    // only the window that was in progress, then start afresh. A window counted in part
    // (onStall) ends a collapse but starts none.
    const bool closing_complete = window_index_ > partial_through_;
    previous_ = last_complete_;
    last_complete_ = current_;
    current_ = Counts{};
    for (TenantCounts& t : tenants_) {
      t.previous = t.last_complete;
      t.last_complete = t.current;
      t.current = Counts{};
      t.counted = t.previous.heard[0] + t.previous.heard[1] + t.last_complete.heard[0] +
                      t.last_complete.heard[1] >
                  0;
    }
    window_index_ = index;
    decide(0, closing_complete, now);
    decide(1, closing_complete, now);
  }
  return before0 != channels_[0].collapsed || before1 != channels_[1].collapsed;
}

}  // namespace vigil::collector::presence
