#pragma once

// How a webhook request leaves the collector. The dispatcher sees only WebhookTransport, so
// its unit tests replace the network with a scripted transport; the collector uses
// HttpWebhookTransport (libcurl), which obeys the outbound policy (outbound_policy.h) and
// bounds each attempt as a whole.

#include <chrono>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "collector/notify/outbound_policy.h"
#include "common/status.h"

namespace vigil::collector {

struct WebhookRequest {
  std::string url;  // http:// or https://
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::string method = "POST";  // POST, PATCH, PUT or GET (which sends no body)
  std::string content_type = "application/json";
  // The answer's body is read up to this many bytes (a longer one is cut there); 0: never read
  // (webhooks: the transfer ends with the answer's head).
  size_t read_body_limit = 0;
};

// The receiver's answer: its status, Retry-After header, and body if the request asked for it.
struct WebhookResponse {
  int status = 0;
  std::string retry_after;  // empty if absent
  std::string body;
};

// Why an attempt got no answer. `reason` is one of the webhook_failures below, fit to show the
// webhook's tenant: it never tells a refused destination from another, nor names a host,
// address or port. `detail` is the whole story (addresses, OS and TLS errors) for the
// collector's log only.
struct WebhookFailure {
  std::string reason;
  std::string detail;
};

namespace webhook_failures {
constexpr char kRefusedByPolicy[] = "destination_not_allowed";
constexpr char kInvalidUrl[] = "invalid_url";
constexpr char kUnresolved[] = "dns_failed";
constexpr char kConnectFailed[] = "connect_failed";
constexpr char kTimedOut[] = "timeout";
constexpr char kTlsFailed[] = "tls_failed";
constexpr char kConnectionLost[] = "connection_lost";
constexpr char kInvalidAnswer[] = "invalid_response";
constexpr char kOther[] = "delivery_failed";
}  // namespace webhook_failures

using WebhookResult = Result<WebhookResponse, WebhookFailure>;

class WebhookTransport {
 public:
  virtual ~WebhookTransport() = default;
  // Sends `request` (a POST unless it says otherwise). An HTTP answer, whatever its status, is a
  // WebhookResponse; no answer (refused destination, name resolution, connection, TLS, timeout) is
  // a WebhookFailure. Thread safety: implementations are safe to call from several threads.
  virtual WebhookResult post(const WebhookRequest& request) = 0;
  // The longest one post() takes, as a whole: the dispatcher's claims of outbox entries are
  // made to outlast an attempt comfortably (webhook_dispatcher.h).
  virtual std::chrono::milliseconds attemptTimeout() const = 0;
};

struct HttpWebhookTransportOptions {
  // Bound of a whole attempt: resolving the host, connecting, the TLS handshake, sending the
  // request and receiving the answer's status line and headers, however slowly the receiver
  // sends them.
  std::chrono::milliseconds attempt_timeout{15'000};
  // Bound of the TCP connect, within the attempt's.
  std::chrono::milliseconds connect_timeout{10'000};
  // PEM file of extra certificate authorities to trust for https receivers, besides the
  // system's; empty: the system's only.
  std::string ca_file;
  std::string user_agent = "vigil-collector";
};

// One connection per request, no redirects followed, no proxy. The destination is screened by
// the policy (the host resolved once, refused addresses dropped); the connection goes only to
// a screened address (libcurl is given those addresses and may open a socket to no other), and
// the peer of the connected socket is checked again before a byte is sent, so DNS rebinding
// between check and connect does not help. HTTPS verifies the receiver's certificate chain and
// the URL's host name (sent as SNI), TLS 1.2 or later. The answer is read up to the end of its
// headers only.
class HttpWebhookTransport final : public WebhookTransport {
 public:
  // `policy` must outlive the transport. Fails if `ca_file` cannot be read or holds no
  // certificate, or libcurl cannot be initialised.
  static Result<std::unique_ptr<HttpWebhookTransport>> create(HttpWebhookTransportOptions options,
                                                              const OutboundPolicy& policy);
  ~HttpWebhookTransport() override;
  HttpWebhookTransport(const HttpWebhookTransport&) = delete;
  HttpWebhookTransport& operator=(const HttpWebhookTransport&) = delete;

  WebhookResult post(const WebhookRequest& request) override;
  std::chrono::milliseconds attemptTimeout() const override { return options_.attempt_timeout; }

 private:
  struct Authorities;
  HttpWebhookTransport(HttpWebhookTransportOptions options, const OutboundPolicy& policy,
                       std::unique_ptr<Authorities> authorities);

  const HttpWebhookTransportOptions options_;
  const OutboundPolicy& policy_;
  std::unique_ptr<Authorities> authorities_;  // the certificates of options_.ca_file
};

}  // namespace vigil::collector
