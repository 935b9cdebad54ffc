#pragma once

// Webhooks of the admin API (docs/api.md, "Webhooks"; docs/webhooks.md): create, list, read,
// change and delete a tenant's webhooks, list a webhook's deliveries, send it a test event.
//
// Scope: a webhook of a tenant outside the caller's scope is answered like an unknown id (404),
// and so is creating one for such a tenant. The secret is in the creation answer only.
//
// Thread safety: safe to call concurrently.

#include <functional>

#include "collector/api/admin_api.h"
#include "collector/store/store.h"

namespace vigil::collector {

class WebhookAdminService {
 public:
  static constexpr size_t kMaxUrlBytes = 2048;
  static constexpr size_t kMaxDescriptionBytes = 500;

  // `store` must outlive the service. `on_enqueued` (optional) runs after a test event was
  // put in the outbox, e.g. to wake the dispatcher.
  explicit WebhookAdminService(Store& store, std::function<void()> on_enqueued = {})
      : store_(store), on_enqueued_(std::move(on_enqueued)) {}

  // GET/POST /api/v1/webhooks, GET/PATCH/DELETE /api/v1/webhooks/{webhook_id},
  // GET /api/v1/webhooks/{webhook_id}/deliveries, POST /api/v1/webhooks/{webhook_id}/test.
  void registerRoutes(AdminRouteTable& table);

  ApiResult<AdminAnswer> listWebhooks(const AdminRequest& request);
  ApiResult<AdminAnswer> createWebhook(const AdminRequest& request);
  ApiResult<AdminAnswer> getWebhook(const AdminRequest& request);
  ApiResult<AdminAnswer> updateWebhook(const AdminRequest& request);
  ApiResult<AdminAnswer> deleteWebhook(const AdminRequest& request);
  ApiResult<AdminAnswer> listDeliveries(const AdminRequest& request);
  ApiResult<AdminAnswer> sendTestEvent(const AdminRequest& request);

 private:
  ApiResult<Webhook> findVisibleWebhook(const AdminRequest& request);

  Store& store_;
  const std::function<void()> on_enqueued_;
};

// 400 invalid_field unless `url` is an absolute http:// or https:// URL with a host and no
// user information, at most kMaxUrlBytes.
ApiResult<bool> checkWebhookUrl(const std::string& url);

}  // namespace vigil::collector
