#define BOOST_TEST_MODULE collector_webhook_transport
// HttpWebhookTransport against real receivers on loopback: plain HTTP, and HTTPS whose
// certificate must chain to a trusted authority and name the host (verification is on).
#include "collector/notify/webhook_transport.h"

#include <Poco/Net/Context.h>
#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPRequestHandlerFactory.h>
#include <Poco/Net/HTTPServer.h>
#include <Poco/Net/HTTPServerParams.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/Net/SecureServerSocket.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/Net/SocketAddress.h>
#include <Poco/Net/StreamSocket.h>
#include <Poco/StreamCopier.h>

#include <boost/test/unit_test.hpp>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>

#include "tests/integration/fake_collector.h"
#include "tests/support/temp_dir.h"

using namespace vigil::collector;
using vigil::testing::TempDir;
using vigil::testing::TlsCredentials;

namespace {

// What the receiver saw of the last request.
struct Seen {
  std::mutex mu;
  std::string method, path, content_type, webhook_id, body;
};

class Handler final : public Poco::Net::HTTPRequestHandler {
 public:
  explicit Handler(Seen& seen) : seen_(seen) {}
  void handleRequest(Poco::Net::HTTPServerRequest& request,
                     Poco::Net::HTTPServerResponse& response) override {
    {
      std::lock_guard<std::mutex> lock(seen_.mu);
      seen_.method = request.getMethod();
      seen_.path = request.getURI();
      seen_.content_type = request.getContentType();
      seen_.webhook_id = request.get("webhook-id", "");
      seen_.body.clear();
      Poco::StreamCopier::copyToString(request.stream(), seen_.body);
    }
    if (seen_.path == "/busy") {
      response.setStatus(Poco::Net::HTTPResponse::HTTP_TOO_MANY_REQUESTS);
      response.set("Retry-After", "42");
    } else {
      response.setStatus(Poco::Net::HTTPResponse::HTTP_NO_CONTENT);
    }
    response.setContentLength(0);
    response.send();
  }

 private:
  Seen& seen_;
};

class Factory final : public Poco::Net::HTTPRequestHandlerFactory {
 public:
  explicit Factory(Seen& seen) : seen_(seen) {}
  Poco::Net::HTTPRequestHandler* createRequestHandler(
      const Poco::Net::HTTPServerRequest&) override {
    return new Handler(seen_);
  }

 private:
  Seen& seen_;
};

// A receiver on 127.0.0.1, plain or TLS with `credentials`.
class Receiver {
 public:
  explicit Receiver(const TempDir& tmp, const TlsCredentials* credentials = nullptr) {
    Poco::Net::ServerSocket socket;
    if (credentials != nullptr) {
      const std::string cert = tmp.write("server.pem", credentials->cert_pem).string();
      const std::string key = tmp.write("server.key", credentials->key_pem).string();
      Poco::Net::Context::Ptr context = new Poco::Net::Context(
          Poco::Net::Context::TLS_SERVER_USE, key, cert, "", Poco::Net::Context::VERIFY_NONE);
      socket = Poco::Net::SecureServerSocket(context);
    }
    socket.bind(Poco::Net::SocketAddress("127.0.0.1", 0), true, false);
    socket.listen(16);
    port_ = socket.address().port();
    server_ = std::make_unique<Poco::Net::HTTPServer>(new Factory(seen), socket,
                                                      new Poco::Net::HTTPServerParams);
    server_->start();
  }
  ~Receiver() { server_->stopAll(true); }
  int port() const { return port_; }

  Seen seen;

 private:
  int port_ = 0;
  std::unique_ptr<Poco::Net::HTTPServer> server_;
};

std::unique_ptr<HttpWebhookTransport> transport(
    const std::string& ca_file = "", std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
  HttpWebhookTransportOptions options;
  options.ca_file = ca_file;
  options.timeout = timeout;
  auto created = HttpWebhookTransport::create(options);
  BOOST_REQUIRE_MESSAGE(created.ok(), (created.ok() ? "" : created.error().toString()));
  return std::move(created.value());
}

WebhookRequest request(const std::string& url) {
  WebhookRequest r;
  r.url = url;
  r.headers = {{"webhook-id", "msg_1"}};
  r.body = R"({"type":"webhook.test"})";
  return r;
}

}  // namespace

BOOST_AUTO_TEST_CASE(posts_json_over_plain_http_and_reports_status_and_retry_after) {
  TempDir tmp;
  Receiver receiver(tmp);
  auto t = transport();
  const std::string base = "http://127.0.0.1:" + std::to_string(receiver.port());
  auto ok = t->post(request(base + "/hook?token=abc"));
  BOOST_REQUIRE_MESSAGE(ok.ok(), (ok.ok() ? "" : ok.error().toString()));
  BOOST_TEST(ok.value().status == 204);
  {
    std::lock_guard<std::mutex> lock(receiver.seen.mu);
    BOOST_TEST(receiver.seen.method == "POST");
    BOOST_TEST(receiver.seen.path == "/hook?token=abc");
    BOOST_TEST(receiver.seen.content_type == "application/json");
    BOOST_TEST(receiver.seen.webhook_id == "msg_1");
    BOOST_TEST(receiver.seen.body == R"({"type":"webhook.test"})");
  }
  auto busy = t->post(request(base + "/busy"));
  BOOST_REQUIRE(busy.ok());
  BOOST_TEST(busy.value().status == 429);
  BOOST_TEST(busy.value().retry_after == "42");
}

BOOST_AUTO_TEST_CASE(no_answer_is_an_error_not_a_status) {
  TempDir tmp;
  int closed_port = 0;
  {
    Poco::Net::ServerSocket probe(Poco::Net::SocketAddress("127.0.0.1", 0));
    closed_port = probe.address().port();
  }
  auto refused = transport()->post(request("http://127.0.0.1:" + std::to_string(closed_port)));
  BOOST_TEST(!refused.ok());

  // A listener that accepts but never answers: bounded by the timeout.
  Poco::Net::ServerSocket silent(Poco::Net::SocketAddress("127.0.0.1", 0));
  const auto started = std::chrono::steady_clock::now();
  auto timed_out =
      transport("", std::chrono::milliseconds(300))
          ->post(request("http://127.0.0.1:" + std::to_string(silent.address().port())));
  BOOST_TEST(!timed_out.ok());
  BOOST_TEST((std::chrono::steady_clock::now() - started < std::chrono::seconds(5)));
  BOOST_TEST(!transport()->post(request("ftp://127.0.0.1/")).ok());
}

BOOST_AUTO_TEST_CASE(https_receiver_signed_by_a_trusted_authority_is_reached) {
  TempDir tmp;
  vigil::testing::TestCertificateAuthority ca;
  const TlsCredentials server = ca.issueLoopbackServer();
  Receiver receiver(tmp, &server);
  const std::string ca_file = tmp.write("ca.pem", ca.certPem()).string();
  auto answer = transport(ca_file)->post(
      request("https://127.0.0.1:" + std::to_string(receiver.port()) + "/hook"));
  BOOST_REQUIRE_MESSAGE(answer.ok(), (answer.ok() ? "" : answer.error().toString()));
  BOOST_TEST(answer.value().status == 204);
}

BOOST_AUTO_TEST_CASE(https_receiver_with_an_untrusted_certificate_is_refused) {
  TempDir tmp;
  vigil::testing::TestCertificateAuthority ca;
  const TlsCredentials server = ca.issueLoopbackServer();
  Receiver receiver(tmp, &server);
  // The system's authorities only: the test authority is unknown to them.
  auto answer =
      transport()->post(request("https://127.0.0.1:" + std::to_string(receiver.port()) + "/hook"));
  BOOST_TEST(!answer.ok());
  std::lock_guard<std::mutex> lock(receiver.seen.mu);
  BOOST_TEST(receiver.seen.body.empty());  // nothing was sent
}

BOOST_AUTO_TEST_CASE(https_receiver_whose_certificate_names_another_host_is_refused) {
  TempDir tmp;
  const TlsCredentials other = vigil::testing::selfSignedCredentials("other.example");
  Receiver receiver(tmp, &other);
  // Trusted (its own authority), but issued for another name.
  const std::string ca_file = tmp.write("other.pem", other.cert_pem).string();
  auto answer = transport(ca_file)->post(
      request("https://127.0.0.1:" + std::to_string(receiver.port()) + "/hook"));
  BOOST_TEST(!answer.ok());
  std::lock_guard<std::mutex> lock(receiver.seen.mu);
  BOOST_TEST(receiver.seen.body.empty());
}

BOOST_AUTO_TEST_CASE(an_unreadable_ca_file_fails_creation) {
  HttpWebhookTransportOptions options;
  options.ca_file = "/nonexistent/ca.pem";
  BOOST_TEST(!HttpWebhookTransport::create(options).ok());
}
