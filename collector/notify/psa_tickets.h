#pragma once

// Tickets in a PSA for alerts (docs/notifications.md, "PSA tickets"): ConnectWise Manage,
// Autotask and HaloPSA channels open a ticket when an alert opens (on the company, client,
// board or queue the channel's settings name), and when it resolves add a note saying so and
// close that ticket. The ticket's id is kept per channel and alert (WebhookStore,
// ChannelTicket), so the end always closes the ticket the start opened; the outbox delivers
// an alert's events in order, so the close never overtakes the open.
//
// Each event is one outbox entry, delivered at least once: a step that failed is retried
// with the entry, and the steps already done are not done again (an opened ticket is
// recorded before the entry counts as delivered, a closed one too). A crash between the
// service's answer and the record may open a second ticket for the alert: the summary
// carries the alert's key ("[vigil-alert-<id>]") so a technician sees the twin.
//
// Events: alert.opened and collector.degraded open a ticket; alert.resolved and
// collector.recovered close it; a channel test opens a ticket and closes it at once; held
// and released alerts have no ticket action.

#include <chrono>
#include <map>
#include <string>

#include "collector/core/records.h"
#include "collector/notify/webhook_transport.h"
#include "collector/store/store.h"
#include "common/mutex.h"

namespace vigil::collector {

class SecretBox;

class TicketDesk {
 public:
  // `store`, `transport` and `credentials` (null: every delivery fails) must outlive the desk.
  TicketDesk(WebhookStore& store, WebhookTransport& transport, const SecretBox* credentials);

  // Takes one due entry of a PSA channel through its steps. The answer is the last request's
  // (a 2xx when every step succeeded, or the status of the step that failed), or a failure
  // (webhook_transport.h reasons, compose_failures, or "ticket_not_recorded" when the store
  // could not keep the ticket's id). Thread safety: safe to call concurrently (entries of one
  // alert are never in flight together).
  WebhookResult deliver(const DueDelivery& due, int64_t now_ms);

 private:
  struct Access;  // a service's URLs and request headers for one channel
  WebhookResult openTicket(const DueDelivery& due, const Access& access, int64_t now_ms,
                           std::string* ticket);
  WebhookResult closeTicket(const DueDelivery& due, const Access& access,
                            const std::string& ticket);
  // HaloPSA: the channel's bearer token, fetched with the client credentials grant and kept
  // until a minute before it expires.
  WebhookResult haloToken(const DueDelivery& due, const std::string& auth_url,
                          const std::string& client_id, const std::string& client_secret,
                          std::string* token);
  void forgetHaloToken(int64_t channel_id);

  WebhookStore& store_;
  WebhookTransport& transport_;
  const SecretBox* credentials_;

  struct CachedToken {
    std::string token;
    std::chrono::steady_clock::time_point expires;
  };
  Mutex tokens_mu_;
  std::map<int64_t, CachedToken> tokens_ GUARDED_BY(tokens_mu_);
};

// True for the kinds a TicketDesk delivers.
bool isTicketKind(const std::string& kind);

}  // namespace vigil::collector
