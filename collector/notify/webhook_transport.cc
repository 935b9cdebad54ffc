#include "collector/notify/webhook_transport.h"

#include <Poco/Exception.h>
#include <Poco/Net/Context.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/HTTPSClientSession.h>
#include <Poco/Net/SSLManager.h>
#include <Poco/Timespan.h>
#include <Poco/URI.h>

#include <istream>
#include <memory>
#include <ostream>

namespace vigil::collector {
namespace {

// Receivers' answer bodies are read (so the connection ends cleanly) and discarded, up to this.
constexpr std::streamsize kMaxAnswerBytes = std::streamsize{64} * 1024;

// TLS 1.2 and 1.3 with forward-secret AEAD suites only (Mozilla "intermediate").
constexpr char kClientCiphers[] =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
    "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";

}  // namespace

// Keeps OpenSSL initialised (Poco's reference count) for the transport's lifetime.
struct HttpWebhookTransport::Tls {
  Tls() { Poco::Net::initializeSSL(); }
  ~Tls() {
    context = nullptr;  // freed before OpenSSL is released
    Poco::Net::uninitializeSSL();
  }
  Tls(const Tls&) = delete;
  Tls& operator=(const Tls&) = delete;
  Poco::Net::Context::Ptr context;
};

Result<std::unique_ptr<HttpWebhookTransport>> HttpWebhookTransport::create(
    HttpWebhookTransportOptions options) {
  auto tls = std::make_unique<Tls>();
  try {
    Poco::Net::Context::Params params;
    // Verify the chain and the host name. STRICT rather than RELAXED: for a client OpenSSL
    // treats them alike, but Poco skips the host name check of loopback peers unless STRICT.
    params.verificationMode = Poco::Net::Context::VERIFY_STRICT;
    params.loadDefaultCAs = true;
    params.caLocation = options.ca_file;
    params.cipherList = kClientCiphers;
    tls->context = new Poco::Net::Context(Poco::Net::Context::TLS_CLIENT_USE, params);
    tls->context->requireMinimumProtocol(Poco::Net::Context::PROTO_TLSV1_2);
    tls->context->enableExtendedCertificateVerification(true);  // the host name, too
  } catch (const Poco::Exception& e) {
    return Status::invalidArgument("cannot set up TLS for webhooks: " + e.displayText());
  }
  return std::unique_ptr<HttpWebhookTransport>(
      new HttpWebhookTransport(std::move(options), std::move(tls)));
}

HttpWebhookTransport::HttpWebhookTransport(HttpWebhookTransportOptions options,
                                           std::unique_ptr<Tls> tls)
    : options_(std::move(options)), tls_(std::move(tls)) {}

HttpWebhookTransport::~HttpWebhookTransport() = default;

Result<WebhookResponse> HttpWebhookTransport::post(const WebhookRequest& request) {
  try {
    const Poco::URI uri(request.url);
    std::unique_ptr<Poco::Net::HTTPClientSession> session;
    if (uri.getScheme() == "https") {
      session = std::make_unique<Poco::Net::HTTPSClientSession>(uri.getHost(), uri.getPort(),
                                                                tls_->context);
    } else if (uri.getScheme() == "http") {
      session = std::make_unique<Poco::Net::HTTPClientSession>(uri.getHost(), uri.getPort());
    } else {
      return Status::invalidArgument("unsupported URL scheme '" + uri.getScheme() + "'");
    }
    const Poco::Timespan timeout(static_cast<Poco::Timespan::TimeDiff>(options_.timeout.count()) *
                                 1000);
    session->setTimeout(timeout, timeout, timeout);
    session->setKeepAlive(false);

    std::string target = uri.getPathEtc();
    if (target.empty()) target = "/";
    Poco::Net::HTTPRequest http(Poco::Net::HTTPRequest::HTTP_POST, target,
                                Poco::Net::HTTPMessage::HTTP_1_1);
    http.setContentType("application/json");
    http.setContentLength(static_cast<std::streamsize>(request.body.size()));
    http.set("User-Agent", options_.user_agent);
    for (const auto& [name, value] : request.headers) http.set(name, value);
    std::ostream& out = session->sendRequest(http);
    out.write(request.body.data(), static_cast<std::streamsize>(request.body.size()));
    out.flush();

    Poco::Net::HTTPResponse answer;
    std::istream& in = session->receiveResponse(answer);
    char sink[4096];
    std::streamsize drained = 0;
    while (drained < kMaxAnswerBytes && in.read(sink, sizeof sink)) drained += in.gcount();

    WebhookResponse response;
    response.status = static_cast<int>(answer.getStatus());
    response.retry_after = answer.get("Retry-After", "");
    return response;
  } catch (const Poco::Exception& e) {
    return Status::unavailable(e.displayText());
  } catch (const std::exception& e) {
    return Status::unavailable(e.what());
  }
}

}  // namespace vigil::collector
