#define BOOST_TEST_MODULE agent_curl_client
#include "agent/transport/curl_collector_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <boost/test/unit_test.hpp>
#include <chrono>
#include <cstring>
#include <functional>
#include <future>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/protocol.h"

using namespace std::chrono_literals;
using vigil::agent::CollectorAnswer;
using vigil::agent::CurlClientOptions;
using vigil::agent::CurlCollectorClient;
using vigil::agent::parseKeepAliveTimeoutSeconds;
using vigil::agent::parseRetryAfterSeconds;
using vigil::agent::SignedHeartbeat;
namespace protocol = vigil::protocol;

namespace {

// Owns curl_global_init for the test process.
struct CurlGlobalFixture {
  CurlGlobalFixture() { curl_global_init(CURL_GLOBAL_DEFAULT); }
  ~CurlGlobalFixture() { curl_global_cleanup(); }
};

// A plain-HTTP/1.1 server on 127.0.0.1 and an ephemeral port that records each request and
// answers with `respond` (or never answers, to test cancellation). Handles keep-alive.
class LoopbackHttpServer {
 public:
  struct Request {
    std::string request_line;
    std::map<std::string, std::string> headers;  // names lower-cased
    std::string body;
    int on_connection = 0;  // how many requests came on its connection before it
  };
  using Responder = std::function<std::string(const Request&)>;  // full raw response
  // A Responder's answer that closes the connection without answering.
  static constexpr const char* kHangUp = "hang up";

  explicit LoopbackHttpServer(Responder respond) : respond_(std::move(respond)) {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    BOOST_TEST_REQUIRE(::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    BOOST_TEST_REQUIRE(::listen(listen_fd_, 8) == 0);
    socklen_t len = sizeof addr;
    ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { serve(); });
  }
  ~LoopbackHttpServer() {
    stopping_ = true;
    ::shutdown(listen_fd_, SHUT_RDWR);
    ::close(listen_fd_);
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (int fd : open_fds_) ::shutdown(fd, SHUT_RDWR);
    }
    thread_.join();
  }

  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  int port() const { return port_; }
  int connections() const { return connections_.load(); }
  std::vector<Request> requests() const {
    std::lock_guard<std::mutex> lock(mu_);
    return requests_;
  }

 private:
  void serve() {
    while (!stopping_) {
      const int fd = ::accept(listen_fd_, nullptr, nullptr);
      if (fd < 0) return;
      ++connections_;
      {
        std::lock_guard<std::mutex> lock(mu_);
        open_fds_.push_back(fd);
      }
      handleConnection(fd);
      ::close(fd);
    }
  }

  void handleConnection(int fd) {
    std::string buffer;
    char chunk[4096];
    for (int on_connection = 0; !stopping_; ++on_connection) {
      size_t header_end;
      while ((header_end = buffer.find("\r\n\r\n")) == std::string::npos) {
        const ssize_t n = ::recv(fd, chunk, sizeof chunk, 0);
        if (n <= 0) return;
        buffer.append(chunk, static_cast<size_t>(n));
        // A TLS ClientHello (record type 0x16) is not HTTP: hang up like a plain server would.
        if (buffer[0] == '\x16') return;
      }
      Request req;
      req.on_connection = on_connection;
      const std::string head = buffer.substr(0, header_end);
      size_t pos = head.find("\r\n");
      req.request_line = head.substr(0, pos);
      while (pos != std::string::npos && pos < head.size()) {
        const size_t next = head.find("\r\n", pos + 2);
        const std::string line =
            head.substr(pos + 2, next == std::string::npos ? next : next - pos - 2);
        const size_t colon = line.find(':');
        if (colon != std::string::npos) {
          std::string name = line.substr(0, colon);
          for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
          std::string value = line.substr(colon + 1);
          value.erase(0, value.find_first_not_of(' '));
          req.headers[name] = value;
        }
        pos = next;
      }
      const size_t length =
          req.headers.count("content-length") ? std::stoul(req.headers["content-length"]) : 0;
      buffer.erase(0, header_end + 4);
      while (buffer.size() < length) {
        const ssize_t n = ::recv(fd, chunk, sizeof chunk, 0);
        if (n <= 0) return;
        buffer.append(chunk, static_cast<size_t>(n));
      }
      req.body = buffer.substr(0, length);
      buffer.erase(0, length);
      {
        std::lock_guard<std::mutex> lock(mu_);
        requests_.push_back(req);
      }
      const std::string response = respond_(req);
      if (response == kHangUp) return;
      if (response.empty()) {
        // Never answer: hold the connection until the client gives up or the server stops.
        while (!stopping_ && ::recv(fd, chunk, sizeof chunk, 0) > 0) {
        }
        return;
      }
      size_t sent = 0;
      while (sent < response.size()) {
        const ssize_t n = ::send(fd, response.data() + sent, response.size() - sent, MSG_NOSIGNAL);
        if (n <= 0) return;
        sent += static_cast<size_t>(n);
      }
    }
  }

  Responder respond_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<int> connections_{0};
  mutable std::mutex mu_;
  std::vector<Request> requests_;
  std::vector<int> open_fds_;
  std::thread thread_;
};

std::string httpResponse(int status, const std::string& body,
                         const std::string& extra_headers = "") {
  return "HTTP/1.1 " + std::to_string(status) + " X\r\nContent-Type: application/json\r\n" +
         "Content-Length: " + std::to_string(body.size()) + "\r\n" + extra_headers + "\r\n" + body;
}

std::unique_ptr<CurlCollectorClient> makeClient(const std::string& url) {
  CurlClientOptions options;
  options.server_url = url;
  options.user_agent = "vigil-agent/test";
  auto client = CurlCollectorClient::create(options);
  BOOST_TEST_REQUIRE(client.ok());
  return std::move(client.value());
}

SignedHeartbeat sampleHeartbeat() {
  return SignedHeartbeat{"ag_1", 1790000000000, "v1=" + std::string(64, 'a'),
                         R"({"v":1,"agent_id":"ag_1"})"};
}

}  // namespace

BOOST_GLOBAL_FIXTURE(CurlGlobalFixture);

BOOST_AUTO_TEST_CASE(heartbeat_sends_the_protocol_headers_and_the_exact_body) {
  LoopbackHttpServer server([](const auto&) {
    return httpResponse(200, R"({"v":1,"next_interval_s":60,"server_time_ms":1})");
  });
  auto client = makeClient(server.url() + "/");
  const CollectorAnswer answer = client->heartbeat(sampleHeartbeat(), std::nullopt);
  BOOST_TEST_REQUIRE(answer.transport_ok, answer.transport_error);
  BOOST_TEST(answer.http_status == 200);
  BOOST_TEST(answer.body == R"({"v":1,"next_interval_s":60,"server_time_ms":1})");
  BOOST_TEST(!answer.retry_after_s.has_value());

  const auto requests = server.requests();
  BOOST_TEST_REQUIRE(requests.size() == 1u);
  auto req = requests[0];
  BOOST_TEST(req.request_line == "POST /v1/heartbeat HTTP/1.1");
  BOOST_TEST(req.headers["content-type"] == "application/json");
  BOOST_TEST(req.headers["x-vigil-agent-id"] == "ag_1");
  BOOST_TEST(req.headers["x-vigil-timestamp"] == "1790000000000");
  BOOST_TEST(req.headers["x-vigil-signature"] == "v1=" + std::string(64, 'a'));
  BOOST_TEST(req.headers["user-agent"] == "vigil-agent/test");
  BOOST_TEST(req.headers.count("expect") == 0u);
  BOOST_TEST(req.body == sampleHeartbeat().body);
}

BOOST_AUTO_TEST_CASE(enroll_posts_the_encoded_request_under_the_url_prefix) {
  LoopbackHttpServer server([](const auto&) { return httpResponse(201, "{}"); });
  auto client = makeClient(server.url() + "/vigil");
  protocol::EnrollRequest request;
  request.enroll_token = "tok";
  request.facts.hostname = "h";
  request.facts.agent_version = "0.1.0";
  const CollectorAnswer answer = client->enroll(request);
  BOOST_TEST_REQUIRE(answer.transport_ok, answer.transport_error);
  BOOST_TEST(answer.http_status == 201);
  auto req = server.requests().at(0);
  BOOST_TEST(req.request_line == "POST /vigil/v1/enroll HTTP/1.1");
  BOOST_TEST(req.body == protocol::encode(request));
  BOOST_TEST(req.headers.count("x-vigil-signature") == 0u);
}

BOOST_AUTO_TEST_CASE(one_connection_is_reused_across_requests) {
  LoopbackHttpServer server([](const auto&) { return httpResponse(200, "{}"); });
  auto client = makeClient(server.url());
  for (int i = 0; i < 5; ++i)
    BOOST_TEST(client->heartbeat(sampleHeartbeat(), std::nullopt).transport_ok);
  BOOST_TEST(server.requests().size() == 5u);
  BOOST_TEST(server.connections() == 1);
}

// A collector closes an idle keep-alive connection whenever it must (its timeout, room for
// other clients); the request sent into it is sent once more on a new connection. libcurl
// 7.88 does so itself only five times over the handle's life.
BOOST_AUTO_TEST_CASE(a_request_that_dies_on_a_reused_connection_goes_out_on_a_new_one) {
  LoopbackHttpServer server([](const LoopbackHttpServer::Request& req) -> std::string {
    if (req.on_connection > 0) return LoopbackHttpServer::kHangUp;
    return httpResponse(200, "{}", "Keep-Alive: timeout=60\r\n");
  });
  auto client = makeClient(server.url());
  for (int i = 0; i < 12; ++i) {
    const CollectorAnswer answer = client->heartbeat(sampleHeartbeat(), std::nullopt);
    BOOST_TEST(answer.transport_ok, "request " << i << ": " << answer.transport_error);
  }
  BOOST_TEST(server.connections() >= 12);
}

BOOST_AUTO_TEST_CASE(the_keep_alive_timeout_is_read_from_its_parameters) {
  BOOST_TEST(parseKeepAliveTimeoutSeconds("timeout=2").value_or(-1) == 2);
  BOOST_TEST(parseKeepAliveTimeoutSeconds(" max=100, Timeout = 15 ").value_or(-1) == 15);
  BOOST_TEST(parseKeepAliveTimeoutSeconds("timeout=5, max=100").value_or(-1) == 5);
  BOOST_TEST(!parseKeepAliveTimeoutSeconds("max=100").has_value());
  BOOST_TEST(!parseKeepAliveTimeoutSeconds("timeout=-1").has_value());
  BOOST_TEST(!parseKeepAliveTimeoutSeconds("timeouts=3").has_value());
  BOOST_TEST(!parseKeepAliveTimeoutSeconds("").has_value());
}

BOOST_AUTO_TEST_CASE(retry_after_in_seconds_is_returned_with_the_error_body) {
  LoopbackHttpServer server([](const auto&) {
    return httpResponse(429, R"({"v":1,"error":"overloaded","message":"shed"})",
                        "Retry-After: 17\r\n");
  });
  auto client = makeClient(server.url());
  const CollectorAnswer answer = client->heartbeat(sampleHeartbeat(), std::nullopt);
  BOOST_TEST_REQUIRE(answer.transport_ok);
  BOOST_TEST(answer.http_status == 429);
  BOOST_TEST(answer.retry_after_s.value_or(-1) == 17);
  BOOST_TEST(answer.body.find("overloaded") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(an_answer_over_64_kib_is_refused) {
  const std::string huge(protocol::kMaxBodyBytes + 1, 'x');
  LoopbackHttpServer server([&](const auto&) { return httpResponse(200, huge); });
  auto client = makeClient(server.url());
  const CollectorAnswer answer = client->heartbeat(sampleHeartbeat(), std::nullopt);
  BOOST_TEST(!answer.transport_ok);
  BOOST_TEST(answer.transport_error.find("65536") != std::string::npos, answer.transport_error);
}

BOOST_AUTO_TEST_CASE(an_answer_over_64_kib_without_length_is_refused) {
  const std::string huge(protocol::kMaxBodyBytes + 1, 'x');
  LoopbackHttpServer server(
      [&](const auto&) { return "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n" + huge; });
  auto client = makeClient(server.url());
  const CollectorAnswer answer = client->heartbeat(sampleHeartbeat(), std::nullopt);
  BOOST_TEST(!answer.transport_ok);
  BOOST_TEST(answer.transport_error.find("65536") != std::string::npos, answer.transport_error);
}

BOOST_AUTO_TEST_CASE(a_refused_connection_is_a_transport_error) {
  int port = 0;
  {
    LoopbackHttpServer server([](const auto&) { return httpResponse(200, "{}"); });
    port = server.port();
  }
  auto client = makeClient("http://127.0.0.1:" + std::to_string(port));
  const CollectorAnswer answer = client->heartbeat(sampleHeartbeat(), std::nullopt);
  BOOST_TEST(!answer.transport_ok);
  BOOST_TEST(answer.transport_cause == "connect");
  BOOST_TEST(!answer.transport_error.empty());
}

BOOST_AUTO_TEST_CASE(https_to_a_server_without_tls_fails_instead_of_downgrading) {
  LoopbackHttpServer server([](const auto&) { return httpResponse(200, "{}"); });
  auto client = makeClient("https://127.0.0.1:" + std::to_string(server.port()));
  const CollectorAnswer answer = client->heartbeat(sampleHeartbeat(), std::nullopt);
  BOOST_TEST(!answer.transport_ok);
  BOOST_TEST(server.requests().empty());
}

BOOST_AUTO_TEST_CASE(cancel_ends_a_request_in_flight_at_once_and_every_later_one) {
  LoopbackHttpServer server([](const auto&) { return std::string(); });  // never answers
  auto client = makeClient(server.url());
  auto pending = std::async(std::launch::async,
                            [&] { return client->heartbeat(sampleHeartbeat(), std::nullopt); });
  // Wait until the server holds the request, then cancel.
  for (int i = 0; i < 5000 && server.requests().empty(); ++i) std::this_thread::yield();
  const auto cancelled_at = std::chrono::steady_clock::now();
  client->cancel();
  BOOST_TEST_REQUIRE((pending.wait_for(5s) == std::future_status::ready));
  const CollectorAnswer answer = pending.get();
  BOOST_TEST((std::chrono::steady_clock::now() - cancelled_at < 500ms));
  BOOST_TEST(!answer.transport_ok);
  BOOST_TEST(answer.transport_error == "cancelled");
  BOOST_TEST(client->heartbeat(sampleHeartbeat(), std::nullopt).transport_error == "cancelled");
  // resume() lets requests through again (the goodbye notice after a stop).
  client->resume();
  const CollectorAnswer after = client->heartbeat(sampleHeartbeat(), 300ms);
  BOOST_TEST(after.transport_error != "cancelled");
}

BOOST_AUTO_TEST_CASE(a_per_request_timeout_bounds_a_collector_that_never_answers) {
  LoopbackHttpServer server([](const auto&) { return std::string(); });  // never answers
  auto client = makeClient(server.url());
  const auto start = std::chrono::steady_clock::now();
  const CollectorAnswer answer = client->heartbeat(sampleHeartbeat(), 500ms);
  const auto took = std::chrono::steady_clock::now() - start;
  BOOST_TEST(!answer.transport_ok);
  BOOST_TEST(answer.transport_cause == "timeout");
  BOOST_TEST((took >= 400ms && took < 3s));
}

BOOST_AUTO_TEST_CASE(transfer_failures_are_classified_as_outage_causes) {
  BOOST_TEST(std::string(vigil::agent::transportCause(CURLE_COULDNT_RESOLVE_HOST)) == "dns");
  BOOST_TEST(std::string(vigil::agent::transportCause(CURLE_COULDNT_CONNECT)) == "connect");
  BOOST_TEST(std::string(vigil::agent::transportCause(CURLE_OPERATION_TIMEDOUT)) == "timeout");
  BOOST_TEST(std::string(vigil::agent::transportCause(CURLE_PEER_FAILED_VERIFICATION)) == "tls");
  BOOST_TEST(std::string(vigil::agent::transportCause(CURLE_SSL_PINNEDPUBKEYNOTMATCH)) == "tls");
  BOOST_TEST(std::string(vigil::agent::transportCause(CURLE_GOT_NOTHING)) == "connect");
  BOOST_TEST(std::string(vigil::agent::transportCause(CURLE_WEIRD_SERVER_REPLY)) == "bad_answer");
  BOOST_TEST(std::string(vigil::agent::transportCause(CURLE_OUT_OF_MEMORY)) == "other");
}

BOOST_AUTO_TEST_CASE(retry_after_accepts_only_the_seconds_form) {
  BOOST_TEST(parseRetryAfterSeconds("120").value_or(-1) == 120);
  BOOST_TEST(parseRetryAfterSeconds(" 5\r\n").value_or(-1) == 5);
  BOOST_TEST(parseRetryAfterSeconds("0").value_or(-1) == 0);
  BOOST_TEST(parseRetryAfterSeconds("99999999999").value_or(-1) == 86400);
  BOOST_TEST(!parseRetryAfterSeconds("Wed, 21 Oct 2015 07:28:00 GMT").has_value());
  BOOST_TEST(!parseRetryAfterSeconds("-1").has_value());
  BOOST_TEST(!parseRetryAfterSeconds("").has_value());
  BOOST_TEST(!parseRetryAfterSeconds("1.5").has_value());
}
