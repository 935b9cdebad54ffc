#define BOOST_TEST_MODULE integration_load_shedding
// The bulkheads in a real collector (reduced from scripts/load-test.sh): with the admin API
// flooded, heartbeats are still answered 200; over capacity, agents' requests are answered
// 503 `overloaded` with Retry-After, never with a reset or a refused connection, and /metrics
// counts the sheds. Status codes and counters are asserted, not timings (only a generous
// bound), so a loaded CI machine does not make the tests flaky.
#include <atomic>
#include <boost/test/unit_test.hpp>
#include <chrono>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "tests/integration/harness.h"
#include "tests/integration/synthetic_agent.h"

using namespace vigil::testing;
using namespace std::chrono_literals;

namespace {

// The value of the sample `series` (name with labels, exactly as exposed) in a scrape of
// /metrics; -1 if absent.
double adminSheds(const Collector& collector) {
  double total = 0;
  for (const char* reason : {"class_full", "queue_high_water", "client_share", "queue_delay"}) {
    total += metric(collector, std::string("vigil_http_requests_shed_total{class=\"admin\","
                                           "reason=\"") +
                                   reason + "\"}");
  }
  return total;
}

// Tallies of what clients got back.
struct Tally {
  std::mutex mu;
  std::map<int, uint64_t> statuses;
  uint64_t overloaded_with_retry_after = 0;  // 503/429 `overloaded` carrying Retry-After
  uint64_t transport_errors = 0;
  std::string first_transport_error;
  std::string first_odd_answer;

  void add(const SyntheticAnswer& a) {
    std::lock_guard<std::mutex> lock(mu);
    if (!a.transport_error.empty()) {
      if (transport_errors++ == 0) first_transport_error = a.transport_error;
      return;
    }
    ++statuses[a.status];
    if (a.status == 503 || a.status == 429) {
      if (!a.retry_after.empty() && std::stoi(a.retry_after) >= 1 &&
          a.body.find("\"error\":\"overloaded\"") != std::string::npos) {
        ++overloaded_with_retry_after;
      } else if (first_odd_answer.empty()) {
        first_odd_answer =
            std::to_string(a.status) + " Retry-After '" + a.retry_after + "' " + a.body;
      }
    } else if (a.status != 200 && first_odd_answer.empty()) {
      first_odd_answer = std::to_string(a.status) + " " + a.body;
    }
  }
  uint64_t count(int status) {
    std::lock_guard<std::mutex> lock(mu);
    return statuses[status];
  }
};

std::vector<std::unique_ptr<SyntheticAgent>> enrollAgents(const Collector& collector, int n) {
  std::vector<std::unique_ptr<SyntheticAgent>> agents;
  for (int i = 0; i < n; ++i) {
    auto agent = std::make_unique<SyntheticAgent>(collector.port());
    SyntheticAnswer a = agent->enroll(collector.enrollToken(), "load-" + std::to_string(i));
    BOOST_REQUIRE_MESSAGE(a.status == 201,
                          "enroll: " << a.status << " " << a.body << a.transport_error);
    agents.push_back(std::move(agent));
  }
  return agents;
}

}  // namespace

// 2 workers for ingest, 2 for admin, 1 for probes; admin requests are shed as soon as more
// than 2 connections wait, agents' only past 200.
BOOST_AUTO_TEST_CASE(with_the_admin_api_flooded_heartbeats_still_get_200) {
  TempDir tmp;
  Collector collector(tmp.sub("collector"), {{"http.maxThreads", "5"},
                                             {"http.adminThreads", "2"},
                                             {"http.probeThreads", "1"},
                                             {"http.queueHighWater", "2"},
                                             {"http.ingestQueueHighWater", "200"},
                                             {"logging.level", "warning"}});
  collector.start();
  auto agents = enrollAgents(collector, 1);
  const std::string token = collector.adminToken();

  // 24 admin clients, each asking for the agent list as fast as it is answered.
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> admin_answers{0};
  std::atomic<uint64_t> admin_shed{0};
  std::vector<std::thread> flood;
  for (int i = 0; i < 24; ++i) {
    flood.emplace_back([&] {
      while (!stop.load()) {
        try {
          HttpResponse r = httpRequest(collector.port(), "GET", "/api/v1/agents",
                                       {{"Authorization", "Bearer " + token}});
          ++admin_answers;
          if (r.status == 503) ++admin_shed;
        } catch (const std::exception&) {
          // Counted by the assertions on heartbeats; the flood only has to be there.
        }
      }
    });
  }
  BOOST_REQUIRE(eventually([&] { return admin_shed.load() >= 10; }, 60s));

  Tally beats;
  std::chrono::steady_clock::duration slowest{};
  for (int i = 0; i < 30; ++i) {
    SyntheticAnswer a = agents[0]->heartbeat();
    beats.add(a);
    slowest = std::max(slowest, a.took);
  }
  stop = true;
  for (auto& t : flood) t.join();

  BOOST_TEST(beats.transport_errors == 0u, beats.first_transport_error);
  BOOST_TEST(beats.count(200) == 30u, beats.first_odd_answer);
  // Generous: a queue of admin connections answered in microseconds each is ahead of it.
  BOOST_TEST(std::chrono::duration_cast<std::chrono::milliseconds>(slowest).count() < 10'000);
  BOOST_TEST(adminSheds(collector) >= 10);
  BOOST_TEST(metric(collector, "vigil_http_requests_total{class=\"ingest\",code=\"200\"}") >= 30);
  BOOST_TEST(metric(collector, "vigil_http_connections_refused_total") == 0);
  BOOST_TEST_MESSAGE("admin answers " << admin_answers.load() << ", admin shed "
                                      << admin_shed.load() << ", slowest heartbeat "
                                      << std::chrono::duration<double>(slowest).count() << " s");
}

// 2 ingest workers and 32 agents beating as fast as they are answered: more than 4 waiting
// connections sheds agents' requests.
BOOST_AUTO_TEST_CASE(over_capacity_agents_get_503_with_retry_after_and_no_connection_drops) {
  TempDir tmp;
  Collector collector(tmp.sub("collector"), {{"http.maxThreads", "4"},
                                             {"http.adminThreads", "1"},
                                             {"http.probeThreads", "1"},
                                             {"http.queueHighWater", "2"},
                                             {"http.ingestQueueHighWater", "4"},
                                             {"http.retryAfterSeconds", "2"},
                                             {"http.retryAfterJitterSeconds", "3"},
                                             {"logging.level", "warning"}});
  collector.start();
  auto agents = enrollAgents(collector, 32);

  Tally tally;
  std::atomic<bool> stop{false};
  std::vector<std::thread> clients;
  for (auto& agent : agents) {
    clients.emplace_back([&, a = agent.get()] {
      while (!stop.load()) tally.add(a->heartbeat());
    });
  }
  const bool shed = eventually(
      [&] {
        std::lock_guard<std::mutex> lock(tally.mu);
        return tally.overloaded_with_retry_after >= 50;
      },
      60s);
  // The degradation detector is told that the collector sheds agents' requests.
  const bool degraded = eventually(
      [&] {
        return metric(collector, "vigil_collector_degradation_reason{reason=\"shed_requests\"}") ==
               1;
      },
      20s);
  stop = true;
  for (auto& t : clients) t.join();

  BOOST_TEST(shed, "sheds seen: " << tally.overloaded_with_retry_after);
  BOOST_TEST(degraded);
  BOOST_TEST(tally.transport_errors == 0u, tally.first_transport_error);
  BOOST_TEST(tally.count(200) > 0u);
  // Every answer is a 200 or an `overloaded` 503 with Retry-After: nothing else.
  uint64_t answers = 0;
  for (const auto& [status, n] : tally.statuses) answers += n;
  BOOST_TEST(answers == tally.count(200) + tally.overloaded_with_retry_after,
             tally.first_odd_answer);
  double counted = 0;
  for (const char* reason : {"queue_high_water", "class_full", "queue_delay"}) {
    counted += metric(collector, std::string("vigil_http_requests_shed_total{class=\"ingest\","
                                             "reason=\"") +
                                     reason + "\"}");
  }
  BOOST_TEST(counted >= static_cast<double>(tally.overloaded_with_retry_after));
  BOOST_TEST(metric(collector, "vigil_http_requests_total{class=\"ingest\",code=\"503\"}") ==
             counted);
  BOOST_TEST(metric(collector, "vigil_http_connections_refused_total") == 0);
  BOOST_TEST_MESSAGE("200: " << tally.count(200)
                             << ", 503 overloaded: " << tally.overloaded_with_retry_after);
}
