#pragma once

// Alerts of the admin API (docs/api.md, "Alerts"): list with filters, read, acknowledge,
// resolve. The presence engine opens, holds, releases and resolves alerts (docs/presence.md);
// an admin can acknowledge one (it stays open, marked as seen) or resolve it by hand (closed;
// if the agent is still silent no new alert is raised until it has recovered and failed
// again).
//
// Thread safety: safe to call concurrently.

#include "collector/admin/admin_api.h"
#include "collector/store/store.h"

namespace vigil::collector {

class AlertService {
 public:
  // `store` must outlive the service.
  explicit AlertService(PresenceLogStore& store) : store_(store) {}

  // GET /api/v1/alerts, GET /api/v1/alerts/{alert_id}, POST .../acknowledge, POST .../resolve.
  void registerRoutes(AdminRouteTable& table);

  ApiResult<AdminAnswer> listAlerts(const AdminRequest& request);
  ApiResult<AdminAnswer> getAlert(const AdminRequest& request);
  ApiResult<AdminAnswer> acknowledge(const AdminRequest& request);
  ApiResult<AdminAnswer> resolve(const AdminRequest& request);

 private:
  // The alert if it exists in the principal's scope; 404 otherwise.
  ApiResult<AlertRecord> findVisibleAlert(const AdminRequest& request);
  // The alert as it is now, as an answer.
  ApiResult<AdminAnswer> answerAlert(int64_t alert_id);

  PresenceLogStore& store_;
};

}  // namespace vigil::collector
