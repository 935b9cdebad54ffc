#pragma once

// Maintenance windows for a tenant, a site or one agent, one-off or weekly, evaluated against
// wall time (a window is what an admin typed in local terms). Inside a window an agent that
// would be SUSPECT, OFFLINE or UNREACHABLE is MAINTENANCE instead and raises no alert.

#include <cstdint>
#include <vector>

#include "collector/presence/presence_types.h"

namespace vigil::collector::presence {

// Whether `window` is open at `now`: starts_at <= now < starts_at + length, repeated every
// 7 days from starts_at when weekly.
bool isWindowOpen(const MaintenanceWindow& window, WallTime now);

class MaintenanceCalendar {
 public:
  void setWindows(std::vector<MaintenanceWindow> windows);

  // Re-evaluates which windows are open at `now`. Returns true if a window closed since the
  // previous update (or the set was replaced), i.e. agents in MAINTENANCE must be re-judged.
  // Does not allocate once the calendar has seen its windows.
  bool update(WallTime now);

  // Whether an open window covers the agent (as of the last update()).
  bool covers(AgentHandle agent, SiteId site, TenantId tenant) const;
  bool anyOpen() const { return open_count_ > 0; }
  size_t memoryBytes() const;

 private:
  std::vector<MaintenanceWindow> windows_;
  std::vector<char> open_;  // by window index
  size_t open_count_ = 0;
  bool replaced_ = false;
  std::vector<uint32_t> open_tenants_;
  std::vector<uint32_t> open_sites_;
  std::vector<uint32_t> open_agents_;
};

}  // namespace vigil::collector::presence
