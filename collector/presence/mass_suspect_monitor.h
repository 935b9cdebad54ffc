#pragma once

// Detects a correlated silence of the fleet, the collector's own problem until proven
// otherwise (Syncro, Automox): the collector is DEGRADED (kMassSuspect) and holds its device
// verdicts. Two signs start it:
//
// - a surge: far more agents entering SUSPECT within one suspect_window than the recent
//   baseline, more than mass_suspect_min_agents and more than mass_suspect_min_share of the
//   fleet. The entries of the tenant with most of them are left out when agents belong to
//   more than one tenant (no tenant's agents can suspend another tenant's alerts), and so are
//   those of the minority site with most entries (a site partition is the site's problem);
// - deafness: most of the fleet is SUSPECT, counted by agents and by tenants (FleetHearing).
//   This one works in fleets too small for a surge to count.
//
// The condition lasts while SUSPECT agents outside the top tenant stay above the surge
// threshold or the fleet stays deaf, at most mass_suspect_max_duration. Once ended, the
// entries of the same window cannot start it again, nor can a deafness that outlived the
// maximum duration: the fleet must be heard again first.

#include <cstdint>
#include <vector>

#include "collector/presence/engine_time.h"
#include "collector/presence/presence_types.h"

namespace vigil::collector::presence {

class MassSuspectMonitor {
 public:
  MassSuspectMonitor(const PresenceConfig& config, Ticks origin);

  // Where an agent entering SUSPECT belongs.
  struct Entry {
    SiteId site = 0;
    TenantId tenant = 0;
    bool site_is_minority = false;  // the site holds at most half of the fleet
    bool several_tenants = false;   // the fleet's agents belong to more than one tenant
  };
  // An agent entered SUSPECT at `now`. Returns true if this starts a mass suspect.
  bool onSuspect(const Entry& entry, uint64_t fleet, Ticks now);

  enum class Change : uint8_t { kNone, kStarted, kEnded };
  // Closes finished windows (updating the baseline), starts the condition when the fleet is
  // `deaf`, ends it when `suspect_outside_top_tenant` is back under the surge threshold and
  // the fleet is heard again, or after the maximum duration.
  Change roll(uint64_t suspect_outside_top_tenant, uint64_t fleet, bool deaf, Ticks now);

  bool active() const { return active_; }
  double baseline() const { return baseline_; }
  double threshold(uint64_t fleet) const;
  size_t memoryBytes() const {
    return (site_counts_.capacity() + tenant_counts_.capacity()) * sizeof(WindowCount);
  }

 private:
  struct WindowCount {
    int64_t window = -1;
    uint32_t count = 0;
  };
  // The largest count of a window among sites or tenants.
  struct Top {
    uint32_t id = 0;
    uint32_t count = 0;
    uint32_t tenant = 0;  // of the top site
  };

  void advance(Ticks now);
  uint32_t bump(std::vector<WindowCount>& counts, uint32_t id);
  uint64_t countedSuspects() const;
  void start(Ticks now);

  Ticks origin_;
  Ticks window_;
  Ticks max_duration_;
  double min_agents_;
  double factor_;
  double min_share_;

  int64_t window_index_ = 0;
  uint64_t count_ = 0;  // entries into SUSPECT in the window in progress
  Top top_site_;        // the minority site with most entries in this window
  Top top_tenant_;      // the tenant with most entries in this window
  bool several_tenants_ = false;
  double baseline_ = 0;  // EWMA of entries per window, outside mass suspects
  bool active_ = false;
  Ticks active_since_ = kNever;
  int64_t ended_window_ = -1;   // window in which the last mass suspect ended
  bool deaf_outlived_ = false;  // a deafness outlived the maximum duration, not heard since
  std::vector<WindowCount> site_counts_;    // by site id
  std::vector<WindowCount> tenant_counts_;  // by tenant id
};

}  // namespace vigil::collector::presence
