#pragma once

// Maintenance windows of the admin API (docs/api.md, "Maintenance windows"): for a tenant, a
// site or one agent; one-off or weekly. Inside an open window an agent that would be SUSPECT,
// OFFLINE or UNREACHABLE is MAINTENANCE instead and raises no alert (docs/presence.md).
// Every change is stored first, then the whole set is handed to the presence engine.
//
// Thread safety: safe to call concurrently.

#include "collector/admin/admin_api.h"
#include "collector/monitor/presence_monitor.h"
#include "collector/store/store.h"
#include "common/mutex.h"

namespace vigil::collector {

class MaintenanceService {
 public:
  static constexpr int64_t kMinDurationS = 60;
  static constexpr int64_t kMaxOnceDurationS = int64_t{31} * 24 * 3600;
  static constexpr int64_t kMaxWeeklyDurationS = 7 * 24 * 3600 - 60;

  // All must outlive the service. `tenancy` and `agents` resolve the scope of a window.
  MaintenanceService(MaintenanceStore& store, TenancyStore& tenancy, AgentStore& agents,
                     PresenceMonitor& presence)
      : store_(store), tenancy_(tenancy), agents_(agents), presence_(presence) {}

  // Hands every stored window to the engine. Call once at start.
  Status load();

  // GET/POST /api/v1/maintenance-windows, GET/DELETE /api/v1/maintenance-windows/{window_id}.
  void registerRoutes(AdminRouteTable& table);

  ApiResult<AdminAnswer> listWindows(const AdminRequest& request);
  ApiResult<AdminAnswer> createWindow(const AdminRequest& request);
  ApiResult<AdminAnswer> getWindow(const AdminRequest& request);
  ApiResult<AdminAnswer> deleteWindow(const AdminRequest& request);

  // Re-reads every window and hands them to the engine: after anything else changed the
  // stored windows (a deleted site or tenant takes its windows with it).
  Status reload();

 private:
  ApiResult<MaintenanceWindowRecord> findVisibleWindow(const AdminRequest& request);

  MaintenanceStore& store_;
  TenancyStore& tenancy_;
  AgentStore& agents_;
  PresenceMonitor& presence_;
  Mutex reload_mu_;  // one reload at a time, so the engine gets the latest set last
};

}  // namespace vigil::collector
