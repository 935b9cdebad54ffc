#pragma once

// Detects an indicator channel collapsing: the heartbeat or the beacon channel losing a large
// share of its agents from one channel window to the next. That is a channel fault (Atera's
// presence vendor), not agents going away: the collector is DEGRADED (kChannelCollapse) and the
// collapsed channel's lateness cannot make anyone SUSPECT until it recovers.
//
// A channel is judged among the agents the other channel still hears: of the agents heard on
// the reference channel in a window, the share also heard on this one. Agents that fell
// silent on both channels (dead machines, partitioned sites, an upstream outage) leave both
// the numerator and the reference, so no amount of unrelated silence elsewhere hides a
// collapse or fakes one; only agents that are alive and stopped using one channel count.
//
// No tenant can make a channel collapse for everyone (issue 17): the engine counts only
// established agents (PresenceConfig::established_after), and when agents of more than one
// tenant were counted, a drop is a collapse only if it is one without any one of the tenants,
// each left out in turn. One tenant's agents dropping a channel together, by a firewall rule or
// on purpose, are that tenant's business; a channel fault spreads over the tenants.
//
// The engine leaves out agents that follow the beacon fallback (TrackedAgent::beacon_fallback):
// a lost channel brings them to the other one at once. And only agents told to use both
// channels at least once per window are counted: of an agent
// that beats every 300 s, a 60 s window says nothing about whether it still uses the channel.
// Such agents (heartbeat intervals stretched by the collector) beacon and follow the beacon
// fallback, or are judged on their slowest channel anyway: a channel lost under them cannot
// make them SUSPECT while the other one flows.
//
// Counting is O(1) per arrival: each agent's ArrivalStats remember the last window they were
// counted in; counts are kept for the fleet and per tenant (small, dense ids). Closing a window
// is O(tenants). Windows are aligned to the engine's origin.

#include <array>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "collector/presence/engine_time.h"
#include "collector/presence/failure_detector.h"
#include "collector/presence/presence_types.h"

namespace vigil::collector::presence {

constexpr size_t kDirectChannelCount = 2;  // kHeartbeat and kBeacon
constexpr size_t kHeartbeatChannel = 0;    // index in DirectStats
constexpr size_t kBeaconChannel = 1;
using DirectStats = std::array<ArrivalStats, kDirectChannelCount>;

class ChannelMonitor {
 public:
  ChannelMonitor(const PresenceConfig& config, Ticks origin);

  // An arrival on direct channel `channel` (0 heartbeat, 1 beacon) for an agent of `tenant`
  // whose channels' stats are `direct`; counts the agent once per window and channel, and once
  // as heard on both channels.
  void onArrival(size_t channel, DirectStats& direct, TenantId tenant);

  // The engine did not run for a while before `now` (the process was frozen or starved of
  // CPU): the window in progress when it stopped and the one in progress now are counted only
  // in part, and a part of a window sees fewer heartbeat agents than beacon agents (beacons
  // come more often). Neither can start a collapse. Call before roll(now).
  void onStall(Ticks now);

  // Closes finished windows at `now` and decides collapses. Returns true if the set of
  // collapsed channels changed.
  bool roll(Ticks now);

  bool collapsed(size_t channel) const { return channels_[channel].collapsed; }
  bool anyCollapsed() const;
  size_t memoryBytes() const { return tenants_.capacity() * sizeof(TenantCounts); }

 private:
  // Distinct agents counted in one window.
  struct Counts {
    std::array<uint32_t, kDirectChannelCount> heard{};  // per channel
    uint32_t both = 0;                                  // heard on both channels
  };
  // One tenant's counts of the window in progress and of the two before it.
  struct TenantCounts {
    Counts current;
    Counts last_complete;
    Counts previous;
    bool counted = false;  // any agent of the tenant counted in one of the three
  };
  struct Channel {
    bool collapsed = false;
    double baseline_share = 0;  // share of the reference's agents using it before the collapse
    Ticks collapsed_since = kNever;
  };

  uint16_t tagOf(int64_t window) const;
  // Share of the agents heard on the other channel that were heard on `channel` too, or a
  // negative value when the other channel heard too few agents to judge.
  double shareOf(size_t channel, const Counts& counts) const;
  static Counts without(const Counts& all, const Counts& part);
  // The channel's share fell from `before` to `after` by more than `drop_share`, with
  // channel_min_agents agents on both channels before.
  bool drops(size_t channel, const Counts& before, const Counts& after, double drop_share) const;
  // It drops by channel_drop_share for the fleet, and by at least half of that without each of
  // the tenants counted, left out in turn. Left out, a tenant moves nothing, so its own drop
  // cannot reach half; a channel fault spread over the tenants reaches it whichever is left
  // out, also when it sits right at the threshold (the share without one tenant varies a
  // little around the fleet's).
  bool dropsWithoutAnyOne(size_t channel) const;
  void decide(size_t index, bool may_start, Ticks now);
  double recoveryLevel(const Channel& channel) const;
  void end(Channel& channel);

  Ticks origin_;
  Ticks window_;
  Ticks max_duration_;
  uint32_t min_agents_;
  double drop_share_;
  int64_t window_index_ = 0;
  int64_t partial_through_ = -1;  // windows up to this index were counted only in part
  Counts current_;
  Counts last_complete_;
  Counts previous_;                    // the window before the last complete one
  std::vector<TenantCounts> tenants_;  // by tenant id
  std::array<Channel, kDirectChannelCount> channels_{};
};

}  // namespace vigil::collector::presence
