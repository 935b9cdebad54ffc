#pragma once

// How an email channel's message leaves the collector (docs/notifications.md, "Email"): SMTP
// submission with STARTTLS (or TLS from the first byte), authentication, and a multipart
// message with a plain-text and an HTML part. The dispatcher sees only MailTransport, so its
// tests may replace the network; the collector uses SmtpMailTransport (Poco's SMTP client),
// which obeys the outbound policy like the HTTP transport.

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "collector/notify/outbound_policy.h"
#include "collector/notify/webhook_transport.h"

namespace vigil::collector {

struct MailRequest {
  std::string host;  // the submission server: a name or a numeric address
  int port = 587;
  // "starttls": plain connection upgraded by STARTTLS, which must be offered (never sent in
  // the clear); "tls": TLS from the first byte (port 465).
  std::string security = "starttls";
  std::string username;  // empty: no authentication
  std::string password;
  std::string from;
  std::vector<std::string> to;
  std::string subject;
  std::string text_body;
  std::string html_body;
  // The Message-ID's local part: the outbox message id, the same on every attempt, so a
  // mailbox can tell a repeat from a new message.
  std::string message_id;
};

class MailTransport {
 public:
  virtual ~MailTransport() = default;
  // Sends `request`. The server's final reply, whatever its code, is a WebhookResponse whose
  // status is the SMTP reply code (250: accepted); no reply (refused destination, resolution,
  // connection, TLS, authentication refused, timeout) is a WebhookFailure with one of
  // webhook_failures' reasons, or "smtp_auth_failed" / "starttls_unavailable".
  // Thread safety: implementations are safe to call from several threads.
  virtual WebhookResult send(const MailRequest& request) = 0;
};

namespace mail_failures {
constexpr char kAuthFailed[] = "smtp_auth_failed";
constexpr char kStartTlsUnavailable[] = "starttls_unavailable";
}  // namespace mail_failures

struct SmtpMailTransportOptions {
  // Bound of each network operation (connect, each reply); the whole send is bounded by a
  // few of them.
  std::chrono::milliseconds timeout{15'000};
  // PEM file of extra certificate authorities to trust, besides the system's; empty: the
  // system's only (webhooks.caFile).
  std::string ca_file;
  std::string hello_name = "vigil-collector";  // EHLO
};

// One connection per message. The server's host is screened by the policy (resolved once,
// refused addresses dropped) and the connection goes to a screened address only; the server's
// certificate chain and name (the host as configured) are verified, TLS 1.2 or later.
class SmtpMailTransport final : public MailTransport {
 public:
  // `policy` must outlive the transport.
  SmtpMailTransport(SmtpMailTransportOptions options, const OutboundPolicy& policy);
  ~SmtpMailTransport() override;
  SmtpMailTransport(const SmtpMailTransport&) = delete;
  SmtpMailTransport& operator=(const SmtpMailTransport&) = delete;

  WebhookResult send(const MailRequest& request) override;

 private:
  struct Tls;
  const SmtpMailTransportOptions options_;
  const OutboundPolicy& policy_;
  std::unique_ptr<Tls> tls_;
};

}  // namespace vigil::collector
