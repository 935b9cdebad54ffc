#pragma once

// Webhooks of the admin API (docs/api.md, "Webhooks"; docs/webhooks.md): create, list, read,
// change and delete a tenant's webhooks, list a webhook's deliveries, send it a test event.
//
// Scope: a webhook of a tenant outside the caller's scope is answered like an unknown id (404),
// and so is creating one for such a tenant. The secret is in the creation answer only.
//
// A URL the outbound policy refuses (its host is, or resolves only to, loopback, private,
// link-local, ... addresses; outbound_policy.h) is refused with 400 destination_not_allowed at
// creation and change, and the refused addresses are logged (never told to the tenant). Every
// delivery is screened again: this check only tells the tenant early.
//
// Thread safety: safe to call concurrently.

#include <chrono>
#include <functional>
#include <optional>
#include <string>

#include "collector/admin/admin_api.h"
#include "collector/notify/outbound_policy.h"
#include "collector/store/store.h"

namespace vigil::collector {

class WebhookAdminService {
 public:
  static constexpr size_t kMaxUrlBytes = 2048;
  static constexpr size_t kMaxDescriptionBytes = 500;
  // How long a request waits for the URL's host name to resolve; a name that does not
  // resolve in time is accepted.
  static constexpr std::chrono::milliseconds kLookupTimeout{2000};

  using LogFn = std::function<void(const std::string&)>;

  // `store`, `tenancy` and `policy` must outlive the service. `on_enqueued` (optional) runs after a
  // test event was put in the outbox, e.g. to wake the dispatcher. `warn` (optional) logs URLs
  // refused by the outbound policy.
  WebhookAdminService(WebhookStore& store, TenancyStore& tenancy, const OutboundPolicy& policy,
                      std::function<void()> on_enqueued = {}, LogFn warn = {})
      : store_(store),
        tenancy_(tenancy),
        policy_(policy),
        on_enqueued_(std::move(on_enqueued)),
        warn_(std::move(warn)) {}

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
  // The `url` member, its form checked (checkWebhookUrl, parseOutboundUrl). Absent: nullopt.
  ApiResult<std::optional<std::string>> urlField(const JsonBody& body, bool required) const;
  // The outbound policy's check of a well-formed URL for a webhook of `tenant_id`, which the
  // caller may manage: 400 destination_not_allowed, logged, if refused. Resolves the host
  // (at most kLookupTimeout).
  ApiResult<bool> checkDestination(const std::string& url, int64_t tenant_id) const;

  WebhookStore& store_;
  TenancyStore& tenancy_;
  const OutboundPolicy& policy_;
  const std::function<void()> on_enqueued_;
  const LogFn warn_;
};

// 400 invalid_field unless `url` is an absolute http:// or https:// URL with a host and no
// user information, at most kMaxUrlBytes.
ApiResult<bool> checkWebhookUrl(const std::string& url);

}  // namespace vigil::collector
