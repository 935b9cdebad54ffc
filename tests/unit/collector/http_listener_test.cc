#define BOOST_TEST_MODULE collector_http_listener
// The HTTP listener on loopback with real sockets: the bulkheads with handlers held open so a
// class is full for certain; slow, idle and half-sent connections that cost no worker; total
// deadlines; room for new connections; keep-alive and pipelining; and framing that cannot be
// used to smuggle a request. Outcomes are asserted, not timings (bounds are generous).
#include "collector/listener/http_listener.h"

#include <Poco/Logger.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/Net/StreamSocket.h>
#include <Poco/NullChannel.h>
#include <Poco/StreamCopier.h>
#include <Poco/URI.h>

#include <boost/test/unit_test.hpp>
#include <chrono>
#include <condition_variable>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "collector/http/admission.h"
#include "collector/http/metrics.h"
#include "common/clock.h"

using namespace std::chrono_literals;
using vigil::collector::AdmissionConfig;
using vigil::collector::AdmissionController;
using vigil::collector::ConnectionPhase;
using vigil::collector::HttpListener;
using vigil::collector::ListenerConfig;
using vigil::collector::RequestClass;

namespace {

// GET /api/v1/slow is held until the test opens the gate; POST echoes its body; every other
// path answers {"path": ...} at once.
class Gate {
 public:
  void open() {
    std::lock_guard<std::mutex> lock(mu_);
    open_ = true;
    cv_.notify_all();
  }
  void hold() {
    std::unique_lock<std::mutex> lock(mu_);
    ++held_;
    cv_.notify_all();
    cv_.wait_for(lock, 20s, [&] { return open_; });
  }
  bool awaitHeld(int n) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, 20s, [&] { return held_ >= n; });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool open_ = false;
  int held_ = 0;
};

class TestHandler final : public Poco::Net::HTTPRequestHandler {
 public:
  explicit TestHandler(Gate& gate) : gate_(gate) {}
  void handleRequest(Poco::Net::HTTPServerRequest& request,
                     Poco::Net::HTTPServerResponse& response) override {
    const std::string path = Poco::URI(request.getURI()).getPath();
    if (path == "/api/v1/slow") gate_.hold();
    std::string body;
    if (request.getMethod() == "POST") {
      Poco::StreamCopier::copyToString(request.stream(), body);
    } else {
      body = "{\"path\":\"" + path + "\"}";
    }
    response.setContentType("application/json");
    response.sendBuffer(body.data(), body.size());
  }

 private:
  Gate& gate_;
};

class TestFactory final : public Poco::Net::HTTPRequestHandlerFactory {
 public:
  explicit TestFactory(Gate& gate) : gate_(gate) {}
  Poco::Net::HTTPRequestHandler* createRequestHandler(
      const Poco::Net::HTTPServerRequest&) override {
    return new TestHandler(gate_);
  }

 private:
  Gate& gate_;
};

struct Reply {
  int status = 0;
  std::string body;
  std::string retry_after;
  bool keep_alive = true;
};

Reply get(int port, const std::string& path) {
  Poco::Net::HTTPClientSession session("127.0.0.1", static_cast<Poco::UInt16>(port));
  session.setTimeout(Poco::Timespan(20, 0));
  Poco::Net::HTTPRequest request("GET", path, Poco::Net::HTTPMessage::HTTP_1_1);
  session.sendRequest(request);
  Poco::Net::HTTPResponse response;
  std::istream& in = session.receiveResponse(response);
  Reply reply;
  Poco::StreamCopier::copyToString(in, reply.body);
  reply.status = static_cast<int>(response.getStatus());
  reply.retry_after = response.get("Retry-After", "");
  reply.keep_alive = response.getKeepAlive();
  return reply;
}

Poco::Logger& quietLogger() {
  Poco::Logger& l = Poco::Logger::get("test.listener");
  l.setChannel(new Poco::NullChannel);
  return l;
}

// A raw client: sends exactly the bytes given, reads what comes back.
class RawClient {
 public:
  explicit RawClient(int port)
      : socket_(Poco::Net::SocketAddress("127.0.0.1", static_cast<Poco::UInt16>(port))) {
    socket_.setReceiveTimeout(Poco::Timespan(10, 0));
  }
  void send(const std::string& bytes) {
    socket_.sendBytes(bytes.data(), static_cast<int>(bytes.size()));
  }
  // Everything until the server closes (or 10 s pass).
  std::string readToClose() {
    std::string all;
    char buffer[4096];
    try {
      for (;;) {
        const int n = socket_.receiveBytes(buffer, sizeof buffer);
        if (n <= 0) break;
        all.append(buffer, static_cast<size_t>(n));
      }
    } catch (const Poco::Exception&) {
    }
    return all;
  }
  // Reads until `count` answers (counted by status lines) have arrived.
  std::string readAnswers(int count) {
    std::string all;
    char buffer[4096];
    while (countOf(all, "HTTP/1.1 ") < count) {
      const int n = socket_.receiveBytes(buffer, sizeof buffer);
      if (n <= 0) break;
      all.append(buffer, static_cast<size_t>(n));
    }
    return all;
  }
  static int countOf(const std::string& text, const std::string& what) {
    int n = 0;
    for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
    return n;
  }

 private:
  Poco::Net::StreamSocket socket_;
};

// The listener publishes its statistics once per turn of its loop: a client may see its answer
// a moment before they count it.
template <typename Predicate>
bool statsSoon(const HttpListener& listener, Predicate predicate) {
  const auto until = std::chrono::steady_clock::now() + 5s;
  while (!predicate(listener.stats())) {
    if (std::chrono::steady_clock::now() > until) return false;
    std::this_thread::sleep_for(10ms);
  }
  return true;
}

struct ListenerFixture {
  Gate gate;
  TestFactory factory{gate};
  AdmissionController admission;
  std::unique_ptr<HttpListener> listener;
  int port = 0;

  static AdmissionConfig admissionConfig() {
    AdmissionConfig c;
    c.max_in_flight = {4, 1, 2};  // ingest 2 workers + 2 waiting, admin 1 + 0, probe 1 + 1
    c.queue_high_water = {2, 0, 1};
    c.retry_after_s = 5;
    c.retry_after_jitter_s = 0;
    return c;
  }
  static ListenerConfig listenerConfig() {
    ListenerConfig c;
    c.workers = {2, 1, 1};
    c.connections.max_connections = 200;
    c.connections.max_per_client = 0;
    c.connections.receive_timeout = 2s;
    c.connections.idle_timeout = 2s;
    return c;
  }

  explicit ListenerFixture(const ListenerConfig& config = listenerConfig())
      : admission(admissionConfig(), [](uint32_t) { return 0u; }) {
    Poco::Net::ServerSocket socket;
    socket.bind(Poco::Net::SocketAddress("127.0.0.1", 0), true, false);
    socket.listen(256);
    port = socket.address().port();
    listener = std::make_unique<HttpListener>(socket, config, factory, admission,
                                              vigil::RealClock::instance(), quietLogger());
    listener->start();
  }
  ~ListenerFixture() {
    gate.open();
    listener->stop(1s);
  }
};

struct SmallRoomFixture : ListenerFixture {
  static ListenerConfig config() {
    ListenerConfig c = listenerConfig();
    c.connections.max_connections = 20;
    c.connections.receive_timeout = 30s;
    return c;
  }
  SmallRoomFixture() : ListenerFixture(config()) {}
};

}  // namespace

BOOST_FIXTURE_TEST_CASE(with_the_admin_class_full_admin_gets_503_and_others_still_200,
                        ListenerFixture) {
  auto slow = std::async(std::launch::async, [&] { return get(port, "/api/v1/slow"); });
  BOOST_REQUIRE(gate.awaitHeld(1));
  const Reply shed = get(port, "/api/v1/agents");
  BOOST_TEST(shed.status == 503);
  BOOST_TEST(shed.retry_after == "5");
  BOOST_TEST(!shed.keep_alive);
  BOOST_TEST(shed.body.find("\"error\":\"overloaded\"") != std::string::npos, shed.body);
  BOOST_TEST(get(port, "/v1/heartbeat").status == 200);
  BOOST_TEST(get(port, "/livez").status == 200);
  gate.open();
  BOOST_TEST(slow.get().status == 200);
  BOOST_TEST(get(port, "/api/v1/agents").status == 200);
  BOOST_TEST(admission.shed(RequestClass::kAdmin) == 1u);
}

BOOST_FIXTURE_TEST_CASE(slow_idle_and_half_sent_connections_hold_no_worker, ListenerFixture) {
  // Far more such connections than workers (4 in all): each costs only a socket.
  std::vector<std::unique_ptr<RawClient>> hostile;
  for (int i = 0; i < 60; ++i) {
    hostile.push_back(std::make_unique<RawClient>(port));
    if (i % 3 == 0) hostile.back()->send("POST /v1/heartbeat HTTP/1.1\r\nHost: x\r\n");
    if (i % 3 == 1) {
      hostile.back()->send("POST /v1/heartbeat HTTP/1.1\r\nContent-Length: 100\r\n\r\n{");
    }
  }
  for (int i = 0; i < 10; ++i) {
    BOOST_TEST(get(port, "/v1/heartbeat").status == 200);
    BOOST_TEST(get(port, "/livez").status == 200);
  }
  BOOST_TEST(statsSoon(*listener, [](const auto& s) {
    return s.open[static_cast<size_t>(ConnectionPhase::kReceiving)] >= 60u;
  }));
}

BOOST_FIXTURE_TEST_CASE(a_request_dripping_bytes_is_cut_at_its_total_deadline, ListenerFixture) {
  RawClient slow(port);
  const auto started = std::chrono::steady_clock::now();
  bool cut = false;
  // One header byte every 200 ms would keep a per-read timeout alive for ever.
  for (int i = 0; i < 40 && !cut; ++i) {
    try {
      slow.send(i == 0 ? "GET /livez HTTP/1.1\r\n" : "X");
    } catch (const Poco::Exception&) {
      cut = true;
    }
    std::this_thread::sleep_for(200ms);
  }
  if (!cut) cut = slow.readToClose().empty();
  BOOST_TEST(cut);
  BOOST_TEST((std::chrono::steady_clock::now() - started < 6s));
  BOOST_TEST(statsSoon(*listener, [](const auto& s) { return s.connections.expired[0] >= 1u; }));
}

BOOST_FIXTURE_TEST_CASE(a_full_listener_makes_room_by_dropping_the_longest_waiting,
                        SmallRoomFixture) {
  std::vector<std::unique_ptr<RawClient>> hostile;
  for (int i = 0; i < 40; ++i) {
    hostile.push_back(std::make_unique<RawClient>(port));
    hostile.back()->send("GET /livez HTTP/1.1\r\n");
  }
  BOOST_TEST(get(port, "/v1/heartbeat").status == 200);
  // Those evicted had waited far less than their fair chance: the listener is starved.
  BOOST_TEST(statsSoon(*listener, [](const auto& s) {
    return s.connections.evicted[static_cast<size_t>(ConnectionPhase::kReceiving)] >= 20u &&
           s.connections.starved >= 1u;
  }));
}

BOOST_FIXTURE_TEST_CASE(keep_alive_and_pipelined_requests_are_answered_in_order, ListenerFixture) {
  RawClient client(port);
  client.send("GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n");
  const std::string answers = client.readAnswers(2);
  const size_t a = answers.find("{\"path\":\"/a\"}");
  const size_t b = answers.find("{\"path\":\"/b\"}");
  BOOST_TEST(a != std::string::npos, answers);
  BOOST_TEST(b != std::string::npos, answers);
  BOOST_TEST(a < b);
  // Each keep-alive answer says how long the connection stays open for the next request.
  BOOST_TEST(answers.find("Keep-Alive: timeout=2\r\n") != std::string::npos, answers);
  client.send("POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n");
  const std::string echo = client.readAnswers(1);
  BOOST_TEST(echo.find("\r\n\r\nabc") != std::string::npos, echo);
  BOOST_TEST(echo.find("Content-Length: 3") != std::string::npos, echo);
}

// A worker writes a keep-alive answer itself; with the next request already read, the loop
// must still be told at once, not at its next wake-up (up to a second later per request).
BOOST_FIXTURE_TEST_CASE(pipelined_requests_do_not_wait_for_the_loop_to_wake, ListenerFixture) {
  RawClient client(port);
  std::string requests;
  for (int i = 0; i < 6; ++i)
    requests += "GET /p" + std::to_string(i) + " HTTP/1.1\r\nHost: x\r\n\r\n";
  const auto started = std::chrono::steady_clock::now();
  client.send(requests);
  const std::string answers = client.readAnswers(6);
  const auto took = std::chrono::steady_clock::now() - started;
  BOOST_TEST(RawClient::countOf(answers, "HTTP/1.1 200") == 6, answers);
  // Generous: milliseconds when the loop is woken, five seconds when it is not.
  BOOST_TEST(
      (took < 2500ms),
      "took " << std::chrono::duration_cast<std::chrono::milliseconds>(took).count() << " ms");
}

BOOST_FIXTURE_TEST_CASE(a_body_on_a_get_is_read_as_its_body_not_as_a_second_request,
                        ListenerFixture) {
  RawClient client(port);
  const std::string smuggled = "GET /smuggled HTTP/1.1\r\n\r\n";
  client.send("GET /livez HTTP/1.1\r\nContent-Length: " + std::to_string(smuggled.size()) +
              "\r\n\r\n" + smuggled + "GET /after HTTP/1.1\r\nConnection: close\r\n\r\n");
  const std::string all = client.readToClose();
  BOOST_TEST(RawClient::countOf(all, "HTTP/1.1 200") == 2, all);
  BOOST_TEST(all.find("/smuggled") == std::string::npos, all);
  BOOST_TEST(all.find("/after") != std::string::npos, all);
}

BOOST_FIXTURE_TEST_CASE(ambiguous_framing_gets_400_and_the_connection_closes, ListenerFixture) {
  for (const std::string& framing :
       {std::string("Transfer-Encoding: chunked\r\nContent-Length: 5\r\n"),
        std::string("Transfer-Encoding: gzip, chunked\r\nContent-Length: 5\r\n"),
        std::string("Transfer-Encoding: identity\r\nContent-Length: 5\r\n"),
        std::string("Transfer-Encoding: chunked, identity\r\n")}) {
    RawClient client(port);
    client.send("POST /v1/heartbeat HTTP/1.1\r\n" + framing +
                "\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\n\r\n");
    const std::string all = client.readToClose();
    BOOST_TEST_CONTEXT(framing) {
      BOOST_TEST(all.rfind("HTTP/1.1 400", 0) == 0, all);
      BOOST_TEST(all.find("\"error\":\"bad_request\"") != std::string::npos, all);
      BOOST_TEST(all.find("Connection: Close") != std::string::npos, all);
      BOOST_TEST(all.find("Keep-Alive:") == std::string::npos, all);
      BOOST_TEST(RawClient::countOf(all, "HTTP/1.1 ") == 1, all);
    }
  }
  BOOST_TEST(statsSoon(*listener, [](const auto& s) { return s.unframed_requests == 4u; }));
}

BOOST_FIXTURE_TEST_CASE(an_oversized_body_is_refused_before_it_is_read, ListenerFixture) {
  RawClient client(port);
  client.send("POST /v1/heartbeat HTTP/1.1\r\nContent-Length: 1000000\r\n\r\n");
  const std::string all = client.readToClose();
  BOOST_TEST(all.rfind("HTTP/1.1 413", 0) == 0, all);
  BOOST_TEST(all.find("\"error\":\"body_too_large\"") != std::string::npos, all);
}

BOOST_FIXTURE_TEST_CASE(expect_continue_gets_100_before_the_body, ListenerFixture) {
  RawClient client(port);
  client.send("POST /echo HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n");
  const std::string interim = client.readAnswers(1);
  BOOST_TEST(interim.rfind("HTTP/1.1 100 Continue", 0) == 0, interim);
  client.send("ok");
  const std::string final_answer = client.readAnswers(1);
  BOOST_TEST(final_answer.find("HTTP/1.1 200") != std::string::npos, final_answer);
  BOOST_TEST(final_answer.find("\r\n\r\nok") != std::string::npos, final_answer);
}

BOOST_FIXTURE_TEST_CASE(stopping_finishes_requests_being_served_and_closes_the_rest,
                        ListenerFixture) {
  RawClient idle(port);
  auto slow = std::async(std::launch::async, [&] { return get(port, "/api/v1/slow"); });
  BOOST_REQUIRE(gate.awaitHeld(1));
  auto stopped = std::async(std::launch::async, [&] { return listener->stop(5s); });
  std::this_thread::sleep_for(200ms);
  gate.open();
  BOOST_TEST(slow.get().status == 200);
  BOOST_TEST(stopped.get() == 0u);
  BOOST_TEST(idle.readToClose().empty());
}
