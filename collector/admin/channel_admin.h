#pragma once

// Notification channels of the admin API (docs/api.md, "Notification channels";
// docs/notifications.md, docs/webhooks.md): create, list, read, change and delete a tenant's
// channels, list a channel's deliveries, send it a test event. Two route families serve them:
//   /api/v1/channels   every kind (channel_kinds.h), with its settings, credentials and filter;
//   /api/v1/webhooks   the channels of kind "webhook" only, as the API showed them before
//                      other kinds existed (a channel of another kind is unknown there).
//
// Scope: a channel of a tenant outside the caller's scope is answered like an unknown id (404),
// and so is creating one for such a tenant. A filter's sites must be the tenant's.
//
// Secrets: a webhook's signing secret is in its creation answer only. Other kinds' credentials
// are write-only: sealed (secret_box.h) before they reach the store, never in an answer (the
// answer names the credentials that are set), never logged.
//
// A destination the outbound policy refuses (its host is, or resolves only to, loopback,
// private, link-local, ... addresses; outbound_policy.h) is refused with 400
// destination_not_allowed at creation and change, and the refused addresses are logged (never
// told to the tenant). Every delivery is screened again: this check only tells the tenant early.
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

class SecretBox;

class ChannelAdminService {
 public:
  static constexpr size_t kMaxUrlBytes = 2048;
  static constexpr size_t kMaxDescriptionBytes = 500;
  static constexpr size_t kMaxFilterItems = 100;
  // Reminders at most every 5 minutes; follow-ups within a week.
  static constexpr int64_t kMinRemindMinutes = 5;
  static constexpr int64_t kMaxFollowUpMinutes = int64_t{7} * 24 * 60;
  // How long a request waits for the URL's host name to resolve; a name that does not
  // resolve in time is accepted.
  static constexpr std::chrono::milliseconds kLookupTimeout{2000};

  using LogFn = std::function<void(const std::string&)>;

  // `store`, `tenancy`, `policy` and `credentials` must outlive the service. `on_enqueued`
  // (optional) runs after a test event was put in the outbox, e.g. to wake the dispatcher.
  // `warn` (optional) logs destinations refused by the outbound policy. `credentials` seals
  // the credentials of kinds other than "webhook"; null: only webhooks can be created.
  ChannelAdminService(WebhookStore& store, TenancyStore& tenancy, const OutboundPolicy& policy,
                      std::function<void()> on_enqueued = {}, LogFn warn = {},
                      const SecretBox* credentials = nullptr)
      : store_(store),
        tenancy_(tenancy),
        policy_(policy),
        on_enqueued_(std::move(on_enqueued)),
        warn_(std::move(warn)),
        credentials_(credentials) {}

  // GET/POST /api/v1/channels, GET/PATCH/DELETE /api/v1/channels/{channel_id},
  // GET /api/v1/channels/{channel_id}/deliveries, POST /api/v1/channels/{channel_id}/test, and
  // the same under /api/v1/webhooks (with {webhook_id}).
  void registerRoutes(AdminRouteTable& table);

  // Which route family a request came through.
  enum class View { kChannels, kWebhooks };

  ApiResult<AdminAnswer> list(View view, const AdminRequest& request);
  ApiResult<AdminAnswer> create(View view, const AdminRequest& request);
  ApiResult<AdminAnswer> get(View view, const AdminRequest& request);
  ApiResult<AdminAnswer> update(View view, const AdminRequest& request);
  ApiResult<AdminAnswer> remove(View view, const AdminRequest& request);
  ApiResult<AdminAnswer> listDeliveries(View view, const AdminRequest& request);
  ApiResult<AdminAnswer> sendTestEvent(View view, const AdminRequest& request);

 private:
  ApiResult<Webhook> findVisible(View view, const AdminRequest& request);
  // The `url` member of a webhook, its form checked (checkWebhookUrl, parseOutboundUrl).
  // Absent: nullopt.
  ApiResult<std::optional<std::string>> urlField(const JsonBody& body, bool required) const;
  // The `filter` member, its sites checked to be `tenant_id`'s. Absent: nullopt.
  ApiResult<std::optional<ChannelFilter>> filterField(const JsonBody& body,
                                                      int64_t tenant_id) const;
  // The `follow_up` member of channel `channel_id` (0 when creating) of `tenant_id`: its
  // escalation target must be another channel of the tenant. Absent: nullopt; null: none.
  ApiResult<std::optional<ChannelFollowUp>> followUpField(const JsonBody& body, int64_t tenant_id,
                                                          int64_t channel_id) const;
  // The outbound policy's check of a well-formed URL for a channel of `tenant_id`, which the
  // caller may manage: 400 destination_not_allowed, logged, if refused. Resolves the host
  // (at most kLookupTimeout). `member` names the URL in errors.
  ApiResult<bool> checkDestination(const std::string& member, const std::string& url,
                                   int64_t tenant_id) const;
  // Checks the settings and credentials of a channel of a service kind over `current` (null
  // when creating), screens its destination, and seals the credentials: the url, settings and
  // sealed secret to store.
  struct Configured {
    std::string url;
    std::string settings;
    std::string secret;
  };
  ApiResult<Configured> configure(const std::string& kind, const JsonBody& body, int64_t tenant_id,
                                  const Webhook* current) const;

  WebhookStore& store_;
  TenancyStore& tenancy_;
  const OutboundPolicy& policy_;
  const std::function<void()> on_enqueued_;
  const LogFn warn_;
  const SecretBox* credentials_;
};

// 400 invalid_field unless `url` is an absolute http:// or https:// URL with a host and no
// user information, at most kMaxUrlBytes.
ApiResult<bool> checkWebhookUrl(const std::string& url);

}  // namespace vigil::collector
