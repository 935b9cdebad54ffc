#define BOOST_TEST_MODULE collector_admission
// The bulkheads: classification, per-class limits, queue high-water marks, per-client shares,
// Retry-After, the counters, and the shed summary; then BulkheadRouter in a real Poco server on
// loopback, with handlers held open so a class is full for certain.
#include "collector/api/admission.h"

#include <Poco/AutoPtr.h>
#include <Poco/Logger.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/HTTPServer.h>
#include <Poco/Net/HTTPServerParams.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/NullChannel.h>
#include <Poco/StreamCopier.h>
#include <Poco/URI.h>

#include <atomic>
#include <boost/test/unit_test.hpp>
#include <condition_variable>
#include <future>
#include <memory>
#include <mutex>
#include <string>

#include "collector/api/bulkhead_router.h"
#include "collector/api/metrics.h"
#include "common/clock.h"

using namespace std::chrono_literals;
using vigil::SimulatedClock;
using vigil::collector::AdmissionConfig;
using vigil::collector::AdmissionController;
using vigil::collector::BulkheadRouter;
using vigil::collector::classifyPath;
using vigil::collector::MetricsRegistry;
using vigil::collector::RequestClass;
using vigil::collector::ShedReason;
using vigil::collector::ShedReporter;

namespace {

constexpr auto kIngest = RequestClass::kIngest;
constexpr auto kAdmin = RequestClass::kAdmin;
constexpr auto kProbe = RequestClass::kProbe;

// Limits 2 ingest, 1 admin, 1 probe; ingest shed above 8 waiting connections, admin above 2;
// Retry-After 5 + the jitter the test chooses.
AdmissionConfig smallConfig() {
  AdmissionConfig c;
  c.max_in_flight = {2, 1, 1};
  c.queue_high_water = {8, 2, 0};
  c.retry_after_s = 5;
  c.retry_after_jitter_s = 10;
  return c;
}

AdmissionController::Jitter fixedJitter(uint32_t value) {
  return [value](uint32_t) { return value; };
}

}  // namespace

BOOST_TEST_DONT_PRINT_LOG_VALUE(RequestClass)

BOOST_AUTO_TEST_CASE(paths_are_classified_into_ingest_admin_and_probe) {
  BOOST_TEST(classifyPath("/v1/heartbeat") == kIngest);
  BOOST_TEST(classifyPath("/v1/enroll") == kIngest);
  BOOST_TEST(classifyPath("/v1/anything") == kIngest);
  BOOST_TEST(classifyPath("/api/v1/agents") == kAdmin);
  BOOST_TEST(classifyPath("/api/v1/openapi.json") == kAdmin);
  BOOST_TEST(classifyPath("/livez") == kProbe);
  BOOST_TEST(classifyPath("/readyz") == kProbe);
  BOOST_TEST(classifyPath("/metrics") == kProbe);
  // Unknown paths never take ingest's share.
  BOOST_TEST(classifyPath("/") == kAdmin);
  BOOST_TEST(classifyPath("/v1") == kAdmin);
  BOOST_TEST(classifyPath("/metrics/x") == kAdmin);
  BOOST_TEST(classifyPath("") == kAdmin);
}

BOOST_AUTO_TEST_CASE(a_full_class_sheds_with_503_and_a_jittered_retry_after) {
  AdmissionController admission(smallConfig(), fixedJitter(3));
  auto first = admission.admit(kIngest, "10.0.0.1", 0);
  auto second = admission.admit(kIngest, "10.0.0.2", 0);
  BOOST_REQUIRE(first.ok());
  BOOST_REQUIRE(second.ok());
  auto third = admission.admit(kIngest, "10.0.0.3", 0);
  BOOST_REQUIRE(!third.ok());
  BOOST_TEST(third.error().http_status == 503);
  BOOST_TEST(third.error().retry_after_s == 8u);
  BOOST_TEST(static_cast<int>(third.error().reason) == static_cast<int>(ShedReason::kClassFull));
  // A finished request frees its slot.
  { auto done = std::move(first); }
  BOOST_TEST(admission.admit(kIngest, "10.0.0.3", 0).ok());
}

BOOST_AUTO_TEST_CASE(retry_after_stays_within_base_plus_jitter) {
  AdmissionController admission(smallConfig(), fixedJitter(1000));  // a jitter out of range
  auto held = admission.admit(kAdmin, "a", 0);
  BOOST_REQUIRE(held.ok());
  auto shed = admission.admit(kAdmin, "a", 0);
  BOOST_REQUIRE(!shed.ok());
  BOOST_TEST(shed.error().retry_after_s == 15u);
}

BOOST_AUTO_TEST_CASE(a_full_admin_class_never_takes_ingest_capacity) {
  AdmissionController admission(smallConfig(), fixedJitter(0));
  auto admin = admission.admit(kAdmin, "admin-host", 0);
  BOOST_REQUIRE(admin.ok());
  for (int i = 0; i < 5; ++i) BOOST_TEST(!admission.admit(kAdmin, "admin-host", 0).ok());
  auto a = admission.admit(kIngest, "agent-1", 0);
  auto b = admission.admit(kIngest, "agent-2", 0);
  BOOST_TEST(a.ok());
  BOOST_TEST(b.ok());
  auto probe = admission.admit(kProbe, "prometheus", 0);
  BOOST_TEST(probe.ok());
  BOOST_TEST(admission.shed(kAdmin) == 5u);
  BOOST_TEST(admission.shed(kIngest) == 0u);
}

BOOST_AUTO_TEST_CASE(a_long_queue_sheds_admin_before_ingest_and_never_probes) {
  AdmissionController admission(smallConfig(), fixedJitter(0));
  // 3 waiting: above admin's mark (2), not above ingest's (8).
  auto admin = admission.admit(kAdmin, "a", 3);
  BOOST_REQUIRE(!admin.ok());
  BOOST_TEST(static_cast<int>(admin.error().reason) ==
             static_cast<int>(ShedReason::kQueueHighWater));
  BOOST_TEST(admin.error().http_status == 503);
  BOOST_TEST(admission.admit(kIngest, "b", 3).ok());
  BOOST_TEST(admission.admit(kIngest, "b", 8).ok());  // at the mark: still admitted
  auto ingest = admission.admit(kIngest, "b", 9);
  BOOST_REQUIRE(!ingest.ok());
  BOOST_TEST(static_cast<int>(ingest.error().reason) ==
             static_cast<int>(ShedReason::kQueueHighWater));
  BOOST_TEST(admission.admit(kProbe, "c", 1'000'000).ok());
}

BOOST_AUTO_TEST_CASE(one_admin_client_over_its_share_gets_429_and_others_still_get_in) {
  AdmissionConfig config = smallConfig();
  config.max_in_flight = {2, 3, 1};
  config.admin_max_per_client = 1;
  AdmissionController admission(config, fixedJitter(0));
  auto a1 = admission.admit(kAdmin, "10.0.0.1", 0);
  BOOST_REQUIRE(a1.ok());
  auto a2 = admission.admit(kAdmin, "10.0.0.1", 0);
  BOOST_REQUIRE(!a2.ok());
  BOOST_TEST(a2.error().http_status == 429);
  BOOST_TEST(static_cast<int>(a2.error().reason) == static_cast<int>(ShedReason::kClientShare));
  BOOST_TEST(admission.admit(kAdmin, "10.0.0.2", 0).ok());
  // The refused request did not keep its class slot: 1 of 3 is in use after the next admit
  // ends, so two more clients fit.
  BOOST_TEST(admission.stats().classes[1].in_flight == 1u);
  { auto done = std::move(a1); }
  BOOST_TEST(admission.admit(kAdmin, "10.0.0.1", 0).ok());
  // Ingest has no per-client share: agents behind one NAT address are many agents.
  auto i1 = admission.admit(kIngest, "192.0.2.1", 0);
  auto i2 = admission.admit(kIngest, "192.0.2.1", 0);
  BOOST_TEST(i1.ok());
  BOOST_TEST(i2.ok());
}

BOOST_AUTO_TEST_CASE(keep_alive_only_while_nothing_waits_and_half_the_workers_are_free) {
  using vigil::collector::keepAliveAllowed;
  BOOST_TEST(keepAliveAllowed({0, 1, 16}));
  BOOST_TEST(keepAliveAllowed({0, 7, 16}));
  BOOST_TEST(!keepAliveAllowed({0, 8, 16}));
  BOOST_TEST(!keepAliveAllowed({1, 1, 16}));
  BOOST_TEST(!keepAliveAllowed({0, 1, 1}));
}

BOOST_AUTO_TEST_CASE(a_moved_ticket_releases_its_slot_once) {
  AdmissionController admission(smallConfig(), fixedJitter(0));
  {
    auto first = admission.admit(kAdmin, "a", 0);
    BOOST_REQUIRE(first.ok());
    AdmissionController::Ticket moved = std::move(first).value();
    AdmissionController::Ticket again = std::move(moved);
    BOOST_TEST(admission.stats().classes[1].in_flight == 1u);
  }
  BOOST_TEST(admission.stats().classes[1].in_flight == 0u);
  BOOST_TEST(admission.admit(kAdmin, "a", 0).ok());
}

BOOST_AUTO_TEST_CASE(answers_are_counted_by_class_status_and_duration) {
  AdmissionController admission(smallConfig(), fixedJitter(0));
  admission.recordResponse(kIngest, 200, 2ms);
  admission.recordResponse(kIngest, 200, 300ms);
  admission.recordResponse(kIngest, 503, 0ms);
  admission.recordResponse(kAdmin, 401, 20s);
  admission.recordResponse(kAdmin, 42, 1ms);  // not an HTTP status: only timed
  const auto stats = admission.stats();
  const auto& ingest = stats.classes[0];
  BOOST_TEST(ingest.responses[200 - 100] == 2u);
  BOOST_TEST(ingest.responses[503 - 100] == 1u);
  BOOST_TEST(ingest.duration_count == 3u);
  BOOST_TEST(ingest.duration_le[0] == 1u);  // <= 1 ms
  BOOST_TEST(ingest.duration_le[2] == 2u);  // <= 5 ms
  BOOST_TEST(ingest.duration_le[7] == 2u);  // <= 250 ms
  BOOST_TEST(ingest.duration_le[8] == 3u);  // <= 500 ms
  BOOST_TEST(ingest.duration_sum_s == 0.302, boost::test_tools::tolerance(1e-9));
  const auto& admin = stats.classes[1];
  BOOST_TEST(admin.responses[401 - 100] == 1u);
  BOOST_TEST(admin.duration_le.back() == 1u);  // 20 s is only in +Inf
  BOOST_TEST(admin.duration_count == 2u);
}

BOOST_AUTO_TEST_CASE(the_shed_reporter_gives_deltas_and_one_summary_per_period) {
  SimulatedClock clock;
  AdmissionController admission(smallConfig(), fixedJitter(0));
  ShedReporter reporter(admission, clock, 10s);
  {
    auto a = admission.admit(kIngest, "a", 0);
    auto b = admission.admit(kIngest, "b", 0);
    BOOST_TEST(!admission.admit(kIngest, "c", 0).ok());
    BOOST_TEST(!admission.admit(kAdmin, "d", 100).ok());
  }
  ShedReporter::Delta d = reporter.take(/*refused_connections=*/4);
  BOOST_TEST(d.ingest_accepted == 2u);
  BOOST_TEST(d.ingest_shed == 5u);  // 1 shed + 4 refused connections
  d = reporter.take(4);
  BOOST_TEST(d.ingest_accepted == 0u);
  BOOST_TEST(d.ingest_shed == 0u);

  BOOST_TEST(!reporter.summaryDue().has_value());  // not yet 10 s
  clock.advance(10s);
  std::optional<std::string> line = reporter.summaryDue();
  BOOST_REQUIRE(line.has_value());
  BOOST_TEST(line->find("shed 2 requests") != std::string::npos, *line);
  BOOST_TEST(line->find("ingest: 1 class_full") != std::string::npos, *line);
  BOOST_TEST(line->find("admin: 1 queue_high_water") != std::string::npos, *line);
  BOOST_TEST(line->find("4 connections closed unanswered") != std::string::npos, *line);
  clock.advance(10s);
  BOOST_TEST(!reporter.summaryDue().has_value());  // nothing new
}

// --- BulkheadRouter in a real server -------------------------------------------------------

namespace {

// GET /api/v1/slow is held until the test opens the gate; every other path answers 200 at
// once. So the test decides which requests stay in flight.
class Gate {
 public:
  void open() {
    std::lock_guard<std::mutex> lock(mu_);
    open_ = true;
    cv_.notify_all();
  }
  // Called by a held handler: counts it, then waits for open().
  void hold() {
    std::unique_lock<std::mutex> lock(mu_);
    ++held_;
    cv_.notify_all();
    cv_.wait_for(lock, 20s, [&] { return open_; });
  }
  // True once `n` handlers are held (false after 20 s: the test fails, it does not hang).
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

class GatedHandler final : public Poco::Net::HTTPRequestHandler {
 public:
  GatedHandler(Gate& gate, bool hold) : gate_(gate), hold_(hold) {}
  void handleRequest(Poco::Net::HTTPServerRequest&,
                     Poco::Net::HTTPServerResponse& response) override {
    if (hold_) gate_.hold();
    response.setContentType("application/json");
    response.sendBuffer("{}", 2);
  }

 private:
  Gate& gate_;
  bool hold_;
};

class GatedFactory final : public Poco::Net::HTTPRequestHandlerFactory {
 public:
  explicit GatedFactory(Gate& gate) : gate_(gate) {}
  Poco::Net::HTTPRequestHandler* createRequestHandler(
      const Poco::Net::HTTPServerRequest& request) override {
    return new GatedHandler(gate_, Poco::URI(request.getURI()).getPath() == "/api/v1/slow");
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
  session.setKeepAlive(true);
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
  Poco::Logger& l = Poco::Logger::get("test.admission");
  l.setChannel(new Poco::NullChannel);
  return l;
}

struct RouterFixture {
  Gate gate;
  SimulatedClock clock;
  AdmissionController admission{smallConfig(), fixedJitter(2)};
  MetricsRegistry metrics;
  std::atomic<uint64_t> queued{0};  // what the router is told waits for a worker
  std::atomic<uint64_t> busy{1};
  Poco::Net::ServerSocket socket{0};
  Poco::Net::HTTPServer server;

  RouterFixture()
      : server(makeRouter(), socket, [] {
          auto* params = new Poco::Net::HTTPServerParams;
          params->setMaxThreads(8);
          return params;
        }()) {
    metrics.add(vigil::collector::admissionMetrics(admission));
    server.start();
  }
  ~RouterFixture() {
    gate.open();
    server.stopAll(true);
  }
  BulkheadRouter* makeRouter() {
    auto* router = new BulkheadRouter(std::make_unique<GatedFactory>(gate), admission, metrics,
                                      clock, quietLogger(), quietLogger());
    router->setLoadProbe([this] {
      return vigil::collector::ListenerLoad{queued.load(), busy.load(), 8};
    });
    return router;
  }
  int port() const { return socket.address().port(); }
};

}  // namespace

BOOST_FIXTURE_TEST_CASE(with_the_admin_class_full_admin_gets_503_and_ingest_still_gets_200,
                        RouterFixture) {
  auto slow = std::async(std::launch::async, [&] { return get(port(), "/api/v1/slow"); });
  BOOST_REQUIRE(gate.awaitHeld(1));
  const Reply shed = get(port(), "/api/v1/agents");
  BOOST_TEST(shed.status == 503);
  BOOST_TEST(shed.retry_after == "7");  // 5 + jitter 2
  BOOST_TEST(!shed.keep_alive);
  BOOST_TEST(shed.body.find("\"error\":\"overloaded\"") != std::string::npos, shed.body);
  BOOST_TEST(get(port(), "/v1/heartbeat").status == 200);
  BOOST_TEST(get(port(), "/livez").status == 200);
  gate.open();
  BOOST_TEST(slow.get().status == 200);
  BOOST_TEST(get(port(), "/api/v1/agents").status == 200);

  const std::string text = metrics.render();
  BOOST_TEST(text.find("vigil_http_requests_shed_total{class=\"admin\",reason=\"class_full\"} 1") !=
                 std::string::npos,
             text);
  BOOST_TEST(
      text.find("vigil_http_requests_total{class=\"admin\",code=\"503\"} 1") != std::string::npos,
      text);
  BOOST_TEST(
      text.find("vigil_http_requests_total{class=\"ingest\",code=\"200\"} 1") != std::string::npos,
      text);
}

BOOST_FIXTURE_TEST_CASE(metrics_are_served_by_the_router_in_the_exposition_format, RouterFixture) {
  const Reply r = get(port(), "/metrics");
  BOOST_TEST(r.status == 200);
  BOOST_TEST(r.body.find("# TYPE vigil_http_requests_shed_total counter") != std::string::npos,
             r.body);
  BOOST_TEST(r.body.find("vigil_http_requests_in_flight{class=\"probe\"} 1") != std::string::npos,
             r.body);
}

BOOST_FIXTURE_TEST_CASE(while_the_pool_is_busy_answers_close_the_connection, RouterFixture) {
  BOOST_TEST(get(port(), "/v1/heartbeat").keep_alive);
  busy = 4;  // half of the 8 workers
  BOOST_TEST(!get(port(), "/v1/heartbeat").keep_alive);
  busy = 1;
  queued = 1;
  const Reply r = get(port(), "/v1/heartbeat");
  BOOST_TEST(r.status == 200);
  BOOST_TEST(!r.keep_alive);
  queued = 9;  // above ingest's mark
  const Reply shed = get(port(), "/v1/heartbeat");
  BOOST_TEST(shed.status == 503);
  BOOST_TEST(shed.retry_after == "7");
}
