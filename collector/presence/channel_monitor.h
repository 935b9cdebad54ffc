#pragma once

// Detects an indicator channel collapsing: the heartbeat or the beacon channel losing a large
// share of its agents from one channel window to the next while the other channel holds
// (within 10 %). That is a channel fault (Atera's presence vendor), not agents going away:
// the collector is DEGRADED (kChannelCollapse) and the collapsed channel's lateness cannot
// make anyone SUSPECT until it recovers.
//
// Counting is O(1) per arrival: each agent's ArrivalStats remembers the last window it was
// counted in. Windows are aligned to the engine's origin.

#include <array>
#include <cstddef>
#include <cstdint>

#include "collector/presence/engine_time.h"
#include "collector/presence/failure_detector.h"
#include "collector/presence/presence_types.h"

namespace vigil::collector::presence {

constexpr size_t kDirectChannelCount = 2;  // kHeartbeat and kBeacon

class ChannelMonitor {
 public:
  ChannelMonitor(const PresenceConfig& config, Ticks origin);

  // An arrival on direct channel `channel` (0 heartbeat, 1 beacon) for the agent whose stats
  // are given; counts the agent once per window.
  void onArrival(size_t channel, ArrivalStats& stats);

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
  // Distinct agents counted in the last complete window.
  uint32_t lastWindowCount(size_t channel) const { return channels_[channel].last_complete; }

 private:
  struct Channel {
    uint32_t current = 0;        // distinct agents in the window in progress
    uint32_t last_complete = 0;  // in the last complete window
    bool collapsed = false;
    uint32_t baseline = 0;        // count before the collapse
    uint32_t other_baseline = 0;  // the other channel's count before the collapse
    Ticks collapsed_since = kNever;
  };

  uint16_t tagOf(int64_t window) const;
  void decide(size_t channel, uint32_t previous_own, uint32_t previous_other, bool may_start,
              Ticks now);

  Ticks origin_;
  Ticks window_;
  Ticks max_duration_;
  uint32_t min_agents_;
  double drop_share_;
  int64_t window_index_ = 0;
  int64_t partial_through_ = -1;  // windows up to this index were counted only in part
  std::array<Channel, kDirectChannelCount> channels_{};
};

}  // namespace vigil::collector::presence
