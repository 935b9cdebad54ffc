#include "collector/presence/channel_monitor.h"

#include <algorithm>

namespace vigil::collector::presence {
namespace {

// The reference channel "holds" while it keeps at least this share of its agents.
constexpr double kReferenceHoldShare = 0.9;

}  // namespace

ChannelMonitor::ChannelMonitor(const PresenceConfig& config, Ticks origin)
    : origin_(origin),
      window_(std::max<Ticks>(1, ticksOf(config.channel_window))),
      max_duration_(ticksOf(config.channel_collapse_max_duration)),
      min_agents_(config.channel_min_agents),
      drop_share_(config.channel_drop_share) {}

uint16_t ChannelMonitor::tagOf(int64_t window) const {
  // 0 means "never counted"; tags repeat every 65535 windows, which at worst skips a count.
  return static_cast<uint16_t>(window % 65535 + 1);
}

void ChannelMonitor::onArrival(size_t channel, ArrivalStats& stats) {
  const uint16_t tag = tagOf(window_index_);
  if (stats.window_tag == tag) return;
  stats.window_tag = tag;
  ++channels_[channel].current;
}

bool ChannelMonitor::anyCollapsed() const {
  return std::any_of(channels_.begin(), channels_.end(),
                     [](const Channel& c) { return c.collapsed; });
}

void ChannelMonitor::onStall(Ticks now) { partial_through_ = (now - origin_) / window_; }

void ChannelMonitor::decide(size_t index, uint32_t previous_own, uint32_t previous_other,
                            bool may_start, Ticks now) {
  Channel& own = channels_[index];
  const Channel& other = channels_[1 - index];
  if (!own.collapsed) {
    if (!may_start) return;
    const bool enough = previous_own >= std::max<uint32_t>(1, min_agents_);
    const bool dropped = own.last_complete < (1.0 - drop_share_) * previous_own;
    const bool other_held =
        previous_other > 0 && other.last_complete >= kReferenceHoldShare * previous_other;
    if (enough && dropped && other_held) {
      own.collapsed = true;
      own.baseline = previous_own;
      own.other_baseline = previous_other;
      own.collapsed_since = now;
    }
    return;
  }
  const bool recovered = own.last_complete >= (1.0 - drop_share_) * own.baseline;
  const bool reference_failed = other.last_complete < kReferenceHoldShare * own.other_baseline;
  const bool too_long = now - own.collapsed_since >= max_duration_;
  if (recovered || reference_failed || too_long) {
    own.collapsed = false;
    own.collapsed_since = kNever;
  }
}

bool ChannelMonitor::roll(Ticks now) {
  const bool before0 = channels_[0].collapsed;
  const bool before1 = channels_[1].collapsed;
  // A collapsed channel that already reached its recovery level in the window in progress
  // has recovered: no need to wait for the window to close.
  for (auto& channel : channels_) {
    if (channel.collapsed && channel.current >= (1.0 - drop_share_) * channel.baseline) {
      channel.collapsed = false;
      channel.collapsed_since = kNever;
    }
  }
  const int64_t index = (now - origin_) / window_;
  if (index <= window_index_) {
    return before0 != channels_[0].collapsed || before1 != channels_[1].collapsed;
  }
  const uint32_t previous0 = channels_[0].last_complete;
  const uint32_t previous1 = channels_[1].last_complete;
  // A gap of several windows (the process was frozen) leaves empty windows behind: judge
  // only the window that was in progress, then start afresh. A window counted in part
  // (onStall) ends a collapse but starts none.
  const bool closing_complete = window_index_ > partial_through_;
  for (auto& channel : channels_) {
    channel.last_complete = channel.current;
    channel.current = 0;
  }
  window_index_ = index;
  decide(0, previous0, previous1, closing_complete, now);
  decide(1, previous1, previous0, closing_complete, now);
  return before0 != channels_[0].collapsed || before1 != channels_[1].collapsed;
}

}  // namespace vigil::collector::presence
