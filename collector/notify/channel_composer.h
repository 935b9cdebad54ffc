#pragma once

// What an outbox entry becomes on the wire, by its channel's kind (channel_kinds.h): a webhook's
// entry is signed per Standard Webhooks; the other kinds' are rendered (channel_messages.h) for
// their service, with the channel's credentials opened from their sealed form.

#include <cstdint>
#include <optional>
#include <string>

#include "collector/core/records.h"
#include "collector/notify/mail_transport.h"
#include "collector/notify/webhook_transport.h"

namespace vigil::collector {

class SecretBox;

// Failure reasons of composing, fit to show the channel's tenant (webhook_transport.h).
namespace compose_failures {
// The credentials do not open with this collector's key (another key file, or tampered).
constexpr char kCredentialsUnreadable[] = "credentials_unreadable";
// A webhook's secret cannot sign.
constexpr char kCannotSign[] = "cannot_sign";
// The event or the channel's settings are not what this collector can send.
constexpr char kNotSendable[] = "not_sendable";
}  // namespace compose_failures

struct ComposedMessage {
  // False: the channel's service has no message for this event (an incident service and a
  // held alert): the entry counts as delivered without a request.
  bool send = true;
  WebhookRequest request;           // an HTTP request (every kind but email)
  std::optional<MailRequest> mail;  // an email (kind email): then `request` is unused
};

using ComposeResult = Result<ComposedMessage, WebhookFailure>;

class ChannelComposer {
 public:
  // `credentials` opens sealed channel credentials and must outlive the composer; null: only
  // webhooks can be composed (the others fail with kCredentialsUnreadable).
  explicit ChannelComposer(const SecretBox* credentials) : credentials_(credentials) {}

  // The request for `due`, attempted at `now_ms` (a webhook's signature time). The dispatcher
  // treats a failure as a failed attempt, retried: the channel may be mended meanwhile (its
  // credentials replaced, this collector given the cluster's key file).
  // Thread safety: safe to call concurrently.
  ComposeResult compose(const DueDelivery& due, int64_t now_ms) const;

 private:
  const SecretBox* credentials_;
};

}  // namespace vigil::collector
