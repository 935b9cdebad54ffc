#define BOOST_TEST_MODULE integration_connection_flood
// Hostile clients against a real collector with its shipped connection settings (only the
// heartbeat interval is shortened, so a blinded agent would be judged within the test): slow
// request heads and idle connections by the hundred cost agents nothing, /livez and /metrics
// answer within a second throughout, and an agent that kept beating is never alerted. A flood
// the collector cannot absorb (a listener with little room, churned by new connections) puts
// it in DEGRADED mode with a named reason, and still nobody is paged. The TLS variant (clients
// that never send their ClientHello) is in tls_test.cc.
#include "tests/integration/connection_flood.h"

#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/StreamCopier.h>

#include <atomic>
#include <boost/test/unit_test.hpp>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "tests/integration/harness.h"
#include "tests/integration/synthetic_agent.h"
#include "tests/support/temp_dir.h"

using namespace std::chrono_literals;
using namespace vigil::testing;

namespace {

// One GET on a new connection, bounded by a 1 s timeout; status 0 when it did not complete.
struct Probe {
  int status = 0;
  std::chrono::steady_clock::duration took{};
};
Probe probe(int port, const std::string& path) {
  Probe p;
  const auto start = std::chrono::steady_clock::now();
  try {
    Poco::Net::HTTPClientSession session("127.0.0.1", static_cast<Poco::UInt16>(port));
    session.setTimeout(Poco::Timespan(1, 0));
    Poco::Net::HTTPRequest request("GET", path, Poco::Net::HTTPMessage::HTTP_1_1);
    session.sendRequest(request);
    Poco::Net::HTTPResponse response;
    std::string body;
    Poco::StreamCopier::copyToString(session.receiveResponse(response), body);
    p.status = static_cast<int>(response.getStatus());
  } catch (const std::exception&) {
    p.status = 0;
  }
  p.took = std::chrono::steady_clock::now() - start;
  return p;
}

// Heartbeats from `threads` synthetic agents, each beating every 10 ms while running.
class HeartbeatLoad {
 public:
  HeartbeatLoad(const Collector& collector, int threads) {
    for (int i = 0; i < threads; ++i) {
      auto agent = std::make_unique<SyntheticAgent>(collector.port(), 5s);
      const SyntheticAnswer enrolled =
          agent->enroll(collector.enrollToken(), "load-" + std::to_string(i));
      if (enrolled.status != 201) throw std::runtime_error("enrollment failed: " + enrolled.body);
      agents_.push_back(std::move(agent));
    }
    for (auto& agent : agents_) {
      threads_.emplace_back([this, a = agent.get()] {
        while (!stop_.load()) {
          if (a->heartbeat().status == 200) accepted_.fetch_add(1);
          std::this_thread::sleep_for(10ms);
        }
      });
    }
  }
  ~HeartbeatLoad() {
    stop_ = true;
    for (auto& t : threads_) t.join();
  }
  // Heartbeats answered 200 per second over `window`.
  double rateOver(std::chrono::seconds window) {
    const uint64_t before = accepted_.load();
    std::this_thread::sleep_for(window);
    return static_cast<double>(accepted_.load() - before) / static_cast<double>(window.count());
  }

 private:
  std::vector<std::unique_ptr<SyntheticAgent>> agents_;
  std::vector<std::thread> threads_;
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> accepted_{0};
};

std::string statusOf(const Collector& collector, const std::string& id) {
  if (id.empty()) return "";  // not enrolled yet
  auto agent = collector.agent(id);
  return agent && agent->has("status") ? agent->getValue<std::string>("status") : "";
}

// Alerts of every state (open, held, resolved) about `agent_id`.
size_t alertsAbout(const Collector& collector, const std::string& agent_id) {
  const HttpResponse r = collector.adminGet("/api/v1/alerts?limit=500");
  size_t n = 0;
  for (size_t at = r.body.find(agent_id); at != std::string::npos;
       at = r.body.find(agent_id, at + 1)) {
    ++n;
  }
  return n;
}

}  // namespace

BOOST_AUTO_TEST_CASE(slow_heads_and_idle_connections_cost_agents_nothing) {
  raiseOpenFileLimit();
  TempDir tmp;
  Collector collector(tmp.sub("collector"), {{"heartbeat.intervalSeconds", "1"}});
  collector.start();
  Agent agent(tmp.sub("agent"), collector.port(), collector.enrollToken());
  agent.start();
  BOOST_REQUIRE(eventually([&] { return statusOf(collector, agent.agentId()) == "ONLINE"; }, 30s));
  const std::string id = agent.agentId();

  HeartbeatLoad load(collector, 4);
  const double baseline = load.rateOver(4s);
  BOOST_TEST_MESSAGE("heartbeats without the flood: " << baseline << "/s");
  BOOST_REQUIRE(baseline > 20);

  ConnectionFlood flood;
  flood.addSlowHeaders(collector.port(), 300);
  flood.addSilent(collector.port(), 300);
  int probes_failed = 0;
  auto slowest = std::chrono::steady_clock::duration::zero();
  std::atomic<bool> probing{true};
  std::thread prober([&] {
    int round = 0;
    while (probing.load()) {
      for (const char* path : {"/livez", "/metrics"}) {
        const Probe p = probe(collector.port(), path);
        if (p.status != 200) ++probes_failed;
        slowest = std::max(slowest, p.took);
      }
      if (++round % 10 == 0) flood.drip();  // every ~5 s: the heads are never finished
      std::this_thread::sleep_for(500ms);
    }
  });
  const double during = load.rateOver(10s);
  probing = false;
  prober.join();
  BOOST_TEST_MESSAGE("heartbeats with 300 slow heads and 300 idle connections: " << during << "/s");
  // The flood is still there: the listener neither closed it nor let it through.
  BOOST_TEST(flood.stillOpen() >= 590, flood.stillOpen() << " of 600 still open");
  BOOST_TEST(during >= 0.8 * baseline, during << "/s against " << baseline << "/s");
  BOOST_TEST(probes_failed == 0);
  BOOST_TEST(std::chrono::duration<double>(slowest).count() < 1.0);

  // The flood was absorbed: nobody starved, the collector was not degraded for it, and the
  // agent that kept beating was never judged.
  const HttpResponse metrics = httpRequest(collector.port(), "GET", "/metrics");
  BOOST_TEST(metrics.body.find("vigil_http_connections_starved_total 0\n") != std::string::npos);
  BOOST_TEST(collector.adminGet("/api/v1/health/history").body.find("connections_exhausted") ==
             std::string::npos);
  BOOST_TEST(statusOf(collector, id) == "ONLINE");
  BOOST_TEST(alertsAbout(collector, id) == 0u);
}

BOOST_AUTO_TEST_CASE(a_flood_the_collector_cannot_absorb_degrades_it_and_pages_nobody) {
  raiseOpenFileLimit();
  TempDir tmp;
  // Little room: the flood below churns the listener with connections younger than any
  // request needs, which it must drop to make room for newer ones.
  Collector collector(tmp.sub("collector"),
                      {{"heartbeat.intervalSeconds", "1"}, {"http.maxConnections", "48"}});
  collector.start();
  Agent agent(tmp.sub("agent"), collector.port(), collector.enrollToken());
  agent.start();
  BOOST_REQUIRE(eventually([&] { return statusOf(collector, agent.agentId()) == "ONLINE"; }, 30s));
  const std::string id = agent.agentId();

  std::atomic<bool> flooding{true};
  std::thread churn([&] {
    while (flooding.load()) {
      ConnectionFlood wave;
      try {
        wave.addSlowHeaders(collector.port(), 200);
      } catch (const std::exception&) {
        // The backlog is full for a moment: the next wave tries again.
      }
    }
  });
  // Long enough for a blinded agent to be judged OFFLINE several times over.
  const bool degraded = eventually(
      [&] {
        try {
          return collector.adminGet("/api/v1/health/history").body.find("connections_exhausted") !=
                 std::string::npos;
        } catch (const std::exception&) {
          return false;  // the probe itself was dropped
        }
      },
      30s);
  std::this_thread::sleep_for(10s);
  flooding = false;
  churn.join();

  BOOST_TEST(degraded, "the collector never reported connections_exhausted; log:\n"
                           << logTail(collector.logPath()));
  BOOST_REQUIRE(eventually([&] { return statusOf(collector, id) == "ONLINE"; }, 30s));
  BOOST_TEST(alertsAbout(collector, id) == 0u, collector.adminGet("/api/v1/alerts").body);
  BOOST_TEST(logTail(collector.logPath(), 1 << 20).find("alert device_offline opened") ==
             std::string::npos);
}
