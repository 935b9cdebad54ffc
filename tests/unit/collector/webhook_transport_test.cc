#define BOOST_TEST_MODULE collector_webhook_transport
// HttpWebhookTransport against real receivers on loopback (allowed by the outbound policy's
// allow-list, except where the shipped default is under test): plain HTTP, HTTPS whose
// certificate must chain to a trusted authority and name the URL's host, the policy on the
// address connected to, and the attempt's deadline against receivers that drip.
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

#include <atomic>
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

// Loopback receivers need the operator's allow-list; the shipped default refuses them.
const OutboundPolicy& loopbackAllowed() {
  static const OutboundPolicy policy(*OutboundPolicy::parseAllowedNetworks("127.0.0.0/8"));
  return policy;
}

std::unique_ptr<HttpWebhookTransport> transport(
    const std::string& ca_file = "", std::chrono::milliseconds timeout = std::chrono::seconds(10),
    const OutboundPolicy& policy = loopbackAllowed()) {
  HttpWebhookTransportOptions options;
  options.ca_file = ca_file;
  options.attempt_timeout = timeout;
  auto created = HttpWebhookTransport::create(options, policy);
  BOOST_REQUIRE_MESSAGE(created.ok(), (created.ok() ? "" : created.error().toString()));
  return std::move(created.value());
}

// Names that only this test's resolver knows, all at 127.0.0.1: if a request reaches the
// receiver through one, it went to the address the policy screened, not to one libcurl
// looked up itself.
vigil::Result<std::vector<IpAddress>> testNames(const std::string& host,
                                                std::chrono::milliseconds /*timeout*/) {
  if (host == "receiver.test" || host == "other.test") {
    return std::vector<IpAddress>{*IpAddress::parse("127.0.0.1")};
  }
  return vigil::Status::notFound("Name or service not known");
}

std::string reasonOf(const WebhookResult& r) { return r.ok() ? "answered" : r.error().reason; }

std::string portUrl(int port) { return "http://127.0.0.1:" + std::to_string(port); }

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
  BOOST_REQUIRE_MESSAGE(ok.ok(), (ok.ok() ? "" : ok.error().detail));
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
  auto refused = transport()->post(request(portUrl(closed_port)));
  BOOST_TEST(reasonOf(refused) == webhook_failures::kConnectFailed);
  if (!refused.ok()) {
    BOOST_TEST(refused.error().detail.find(std::to_string(closed_port)) != std::string::npos);
  }

  // A listener that accepts but never answers: bounded by the timeout.
  Poco::Net::ServerSocket silent(Poco::Net::SocketAddress("127.0.0.1", 0));
  const auto started = std::chrono::steady_clock::now();
  auto timed_out = transport("", std::chrono::milliseconds(300))
                       ->post(request(portUrl(silent.address().port())));
  BOOST_TEST(reasonOf(timed_out) == webhook_failures::kTimedOut);
  BOOST_TEST((std::chrono::steady_clock::now() - started < std::chrono::seconds(5)));
  BOOST_TEST(reasonOf(transport()->post(request("ftp://127.0.0.1/"))) ==
             webhook_failures::kInvalidUrl);
}

BOOST_AUTO_TEST_CASE(https_receiver_signed_by_a_trusted_authority_is_reached) {
  TempDir tmp;
  vigil::testing::TestCertificateAuthority ca;
  const TlsCredentials server = ca.issueLoopbackServer();
  Receiver receiver(tmp, &server);
  const std::string ca_file = tmp.write("ca.pem", ca.certPem()).string();
  auto answer = transport(ca_file)->post(
      request("https://127.0.0.1:" + std::to_string(receiver.port()) + "/hook"));
  BOOST_REQUIRE_MESSAGE(answer.ok(), (answer.ok() ? "" : answer.error().detail));
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
  BOOST_TEST(reasonOf(answer) == webhook_failures::kTlsFailed);
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
  BOOST_TEST(reasonOf(answer) == webhook_failures::kTlsFailed);
  std::lock_guard<std::mutex> lock(receiver.seen.mu);
  BOOST_TEST(receiver.seen.body.empty());
}

BOOST_AUTO_TEST_CASE(an_unreadable_ca_file_fails_creation) {
  HttpWebhookTransportOptions options;
  options.ca_file = "/nonexistent/ca.pem";
  BOOST_TEST(!HttpWebhookTransport::create(options, loopbackAllowed()).ok());
  TempDir tmp;
  options.ca_file = tmp.write("empty.pem", "not a certificate\n").string();
  BOOST_TEST(!HttpWebhookTransport::create(options, loopbackAllowed()).ok());
}

// The shipped default refuses loopback: nothing reaches the listener, and an open port and a
// closed one fail alike, before any connection.
BOOST_AUTO_TEST_CASE(the_default_policy_refuses_loopback_and_tells_no_port_state) {
  TempDir tmp;
  Receiver open_receiver(tmp);
  int closed_port = 0;
  {
    Poco::Net::ServerSocket probe(Poco::Net::SocketAddress("127.0.0.1", 0));
    closed_port = probe.address().port();
  }
  const OutboundPolicy shipped;
  auto t = transport("", std::chrono::seconds(10), shipped);
  const std::string open_port = std::to_string(open_receiver.port());
  for (const std::string& url :
       {portUrl(open_receiver.port()) + "/hook", portUrl(closed_port) + "/hook",
        "http://127.1:" + open_port + "/", "http://2130706433:" + open_port + "/",
        "http://0x7f.1:" + open_port + "/", "http://017700000001:" + open_port + "/",
        "http://0:" + open_port + "/", "http://[::ffff:127.0.0.1]:" + open_port + "/",
        "http://localhost:" + open_port + "/", "https://localhost:" + open_port + "/"}) {
    auto answer = t->post(request(url));
    BOOST_TEST(reasonOf(answer) == webhook_failures::kRefusedByPolicy, url);
  }
  std::lock_guard<std::mutex> lock(open_receiver.seen.mu);
  BOOST_TEST(open_receiver.seen.method.empty());  // never reached
}

// A host name is resolved once, by the policy's resolver; libcurl connects to that address
// (it cannot resolve the test's names itself), and a refused one is never connected to.
BOOST_AUTO_TEST_CASE(a_name_is_connected_to_only_at_its_screened_address) {
  TempDir tmp;
  Receiver receiver(tmp);
  const std::string port = std::to_string(receiver.port());
  const OutboundPolicy allowing(*OutboundPolicy::parseAllowedNetworks("127.0.0.0/8"), &testNames);
  auto reached = transport("", std::chrono::seconds(10), allowing)
                     ->post(request("http://receiver.test:" + port + "/pinned"));
  BOOST_REQUIRE_MESSAGE(reached.ok(), (reached.ok() ? "" : reached.error().detail));
  BOOST_TEST(reached.value().status == 204);
  {
    std::lock_guard<std::mutex> lock(receiver.seen.mu);
    BOOST_TEST(receiver.seen.path == "/pinned");
    receiver.seen.path.clear();
  }
  const OutboundPolicy refusing({}, &testNames);
  auto refused = transport("", std::chrono::seconds(10), refusing)
                     ->post(request("http://receiver.test:" + port + "/refused"));
  BOOST_TEST(reasonOf(refused) == webhook_failures::kRefusedByPolicy);
  if (!refused.ok()) {
    BOOST_TEST(refused.error().detail.find("127.0.0.1 (loopback)") != std::string::npos,
               refused.error().detail);
  }
  std::lock_guard<std::mutex> lock(receiver.seen.mu);
  BOOST_TEST(receiver.seen.path.empty());
}

// DNS rebinding: a name that resolved to a public address when the webhook was registered,
// and resolves to loopback at delivery, is refused at delivery, before any connection.
BOOST_AUTO_TEST_CASE(a_name_rebound_to_loopback_after_registration_is_refused_at_delivery) {
  TempDir tmp;
  Receiver receiver(tmp);
  auto lookups = std::make_shared<std::atomic<int>>(0);
  const OutboundPolicy shipped(
      {},
      [lookups](const std::string& host,
                std::chrono::milliseconds) -> vigil::Result<std::vector<IpAddress>> {
        if (host != "rebind.test") return vigil::Status::notFound("Name or service not known");
        // The first answer (at registration) is public, every later one loopback.
        const char* address = lookups->fetch_add(1) == 0 ? "93.184.216.34" : "127.0.0.1";
        return std::vector<IpAddress>{*IpAddress::parse(address)};
      });
  const std::string url = "http://rebind.test:" + std::to_string(receiver.port()) + "/hook";
  BOOST_TEST(shipped.checkUrl(url, std::chrono::seconds(1)).ok());  // registration accepts it
  auto rebound = transport("", std::chrono::seconds(10), shipped)->post(request(url));
  BOOST_TEST(reasonOf(rebound) == webhook_failures::kRefusedByPolicy);
  if (!rebound.ok()) {
    BOOST_TEST(rebound.error().detail.find("127.0.0.1 (loopback)") != std::string::npos,
               rebound.error().detail);
  }
  BOOST_TEST(lookups->load() == 2);  // resolved once per check, never by libcurl
  std::lock_guard<std::mutex> lock(receiver.seen.mu);
  BOOST_TEST(receiver.seen.path.empty());
}

// With pinned addresses, HTTPS still checks the certificate against the URL's host name.
BOOST_AUTO_TEST_CASE(https_checks_the_url_host_name_at_the_pinned_address) {
  TempDir tmp;
  const TlsCredentials named = vigil::testing::selfSignedCredentials("receiver.test");
  Receiver receiver(tmp, &named);
  const std::string ca_file = tmp.write("named.pem", named.cert_pem).string();
  const OutboundPolicy allowing(*OutboundPolicy::parseAllowedNetworks("127.0.0.0/8"), &testNames);
  auto t = transport(ca_file, std::chrono::seconds(10), allowing);
  const std::string port = std::to_string(receiver.port());
  auto good = t->post(request("https://receiver.test:" + port + "/hook"));
  BOOST_REQUIRE_MESSAGE(good.ok(), (good.ok() ? "" : good.error().detail));
  BOOST_TEST(good.value().status == 204);
  {
    std::lock_guard<std::mutex> lock(receiver.seen.mu);
    receiver.seen.body.clear();
  }
  // The same address under another name: the certificate does not name it.
  auto wrong = t->post(request("https://other.test:" + port + "/hook"));
  BOOST_TEST(reasonOf(wrong) == webhook_failures::kTlsFailed);
  std::lock_guard<std::mutex> lock(receiver.seen.mu);
  BOOST_TEST(receiver.seen.body.empty());
}

// A receiver that sends its answer's head one byte at a time cannot hold an attempt past its
// deadline; one that answers at once and then drips a huge body is not waited for at all.
BOOST_AUTO_TEST_CASE(an_attempt_is_bounded_as_a_whole_and_the_body_is_not_read) {
  vigil::testing::FakeCollector tarpit;
  tarpit.start();
  tarpit.setScript([](const vigil::testing::FakeRequest&) {
    return vigil::testing::fake_answers::slowHead(1'000'000, std::chrono::milliseconds(100));
  });
  auto t = transport("", std::chrono::milliseconds(1500));
  auto started = std::chrono::steady_clock::now();
  auto dripped = t->post(request(tarpit.url() + "/hook"));
  auto took = std::chrono::steady_clock::now() - started;
  BOOST_TEST(reasonOf(dripped) == webhook_failures::kTimedOut);
  BOOST_TEST((took >= std::chrono::milliseconds(1400)));
  BOOST_TEST((took < std::chrono::milliseconds(3000)));
  BOOST_TEST(tarpit.requestCount() == 1u);  // it was sent; the head never completed

  tarpit.setScript([](const vigil::testing::FakeRequest&) {
    auto a = vigil::testing::fake_answers::slowDrip(1'000'000, std::chrono::seconds(2));
    a.headers.emplace_back("Retry-After", "7");
    return a;
  });
  started = std::chrono::steady_clock::now();
  auto body_dripped = t->post(request(tarpit.url() + "/hook"));
  took = std::chrono::steady_clock::now() - started;
  BOOST_REQUIRE_MESSAGE(body_dripped.ok(), (body_dripped.ok() ? "" : body_dripped.error().detail));
  BOOST_TEST(body_dripped.value().status == 200);
  BOOST_TEST(body_dripped.value().retry_after == "7");
  BOOST_TEST((took < std::chrono::milliseconds(1000)));
  tarpit.stop();
}
