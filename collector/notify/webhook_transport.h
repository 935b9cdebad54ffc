#pragma once

// How a webhook request leaves the collector. The dispatcher sees only WebhookTransport, so
// its unit tests replace the network with a scripted transport; the collector uses
// HttpWebhookTransport (Poco::Net, HTTPS through NetSSL_OpenSSL).

#include <chrono>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "common/status.h"

namespace vigil::collector {

struct WebhookRequest {
  std::string url;  // http:// or https://
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;  // sent as application/json
};

struct WebhookResponse {
  int status = 0;
  std::string retry_after;  // the Retry-After header; empty if absent
};

class WebhookTransport {
 public:
  virtual ~WebhookTransport() = default;
  // POSTs `request`. An HTTP answer, whatever its status, is a value; no answer (name
  // resolution, connection, TLS, timeout) is an error whose message says why.
  // Thread safety: implementations are safe to call from several threads.
  virtual Result<WebhookResponse> post(const WebhookRequest& request) = 0;
};

struct HttpWebhookTransportOptions {
  // Bound of each network step (connect, send, each read of the answer).
  std::chrono::milliseconds timeout{10'000};
  // PEM file of extra certificate authorities to trust for https receivers, besides the
  // system's; empty: the system's only.
  std::string ca_file;
  std::string user_agent = "vigil-collector";
};

// One connection per request, no redirects followed. HTTPS verifies the receiver's certificate
// chain and host name and requires TLS 1.2 or later.
class HttpWebhookTransport final : public WebhookTransport {
 public:
  // Fails if the TLS client context cannot be built (unreadable ca_file, ...).
  static Result<std::unique_ptr<HttpWebhookTransport>> create(HttpWebhookTransportOptions options);
  ~HttpWebhookTransport() override;
  HttpWebhookTransport(const HttpWebhookTransport&) = delete;
  HttpWebhookTransport& operator=(const HttpWebhookTransport&) = delete;

  Result<WebhookResponse> post(const WebhookRequest& request) override;

 private:
  struct Tls;
  HttpWebhookTransport(HttpWebhookTransportOptions options, std::unique_ptr<Tls> tls);

  const HttpWebhookTransportOptions options_;
  std::unique_ptr<Tls> tls_;
};

}  // namespace vigil::collector
