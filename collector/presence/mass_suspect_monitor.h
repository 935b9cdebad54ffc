#pragma once

// Detects a correlated silence of the fleet: far more agents entering SUSPECT within one
// suspect_window than the recent baseline, more than mass_suspect_min_agents and more than
// mass_suspect_min_share of the fleet. That is what a collector restart, an ingest stall or
// a network fault near the collector looks like even when the collector cannot see the
// cause (Syncro, Automox): the collector is DEGRADED (kMassSuspect) and holds its verdicts.
//
// Silence concentrated in one site that is a minority of the fleet is a site partition, not
// a mass suspect: the largest such site's count is left out (SiteTracker handles it).
//
// The condition lasts while the number of agents SUSPECT stays above the threshold (held
// agents stay SUSPECT until heard from), at most mass_suspect_max_duration. Once ended, the
// entries of the same window cannot start it again.

#include <cstdint>
#include <vector>

#include "collector/presence/engine_time.h"
#include "collector/presence/presence_types.h"

namespace vigil::collector::presence {

class MassSuspectMonitor {
 public:
  MassSuspectMonitor(const PresenceConfig& config, Ticks origin);

  // An agent of `site` entered SUSPECT at `now`. `site_is_minority`: the site holds at most
  // half of the fleet. Returns true if this starts a mass suspect.
  bool onSuspect(SiteId site, bool site_is_minority, uint64_t fleet, Ticks now);

  // Closes finished windows (updating the baseline) and ends the condition when the number
  // of SUSPECT agents is back under the threshold. Returns true if the condition ended.
  bool roll(uint64_t suspect_now, uint64_t fleet, Ticks now);

  bool active() const { return active_; }
  double baseline() const { return baseline_; }
  double threshold(uint64_t fleet) const;
  size_t memoryBytes() const { return site_counts_.capacity() * sizeof(SiteCount); }

 private:
  struct SiteCount {
    int64_t window = -1;
    uint32_t count = 0;
  };

  void advance(Ticks now);
  uint64_t countedSuspects() const;

  Ticks origin_;
  Ticks window_;
  Ticks max_duration_;
  double min_agents_;
  double factor_;
  double min_share_;

  int64_t window_index_ = 0;
  uint64_t count_ = 0;      // entries into SUSPECT in the window in progress
  uint32_t top_count_ = 0;  // of the minority site with most entries in this window
  double baseline_ = 0;     // EWMA of entries per window, outside mass suspects
  bool active_ = false;
  Ticks active_since_ = kNever;
  int64_t ended_window_ = -1;           // window in which the last mass suspect ended
  std::vector<SiteCount> site_counts_;  // by site id
};

}  // namespace vigil::collector::presence
