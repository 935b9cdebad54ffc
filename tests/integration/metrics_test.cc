#define BOOST_TEST_MODULE integration_metrics
// GET /metrics of a real collector: the values move with real traffic, and `promtool check
// metrics` (Prometheus' own linter) accepts the exposition. The promtool case is skipped (and
// only it) when promtool is not installed outside CI; scripts/install-deps.sh --test installs
// it, so under CI (VIGIL_CI or CI set, as scripts/test.sh does) a missing promtool fails.
#include <stdlib.h>

#include <boost/test/unit_test.hpp>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <string>

#include "tests/integration/harness.h"
#include "tests/integration/synthetic_agent.h"

using namespace vigil::testing;
using namespace std::chrono_literals;

namespace {

namespace utf = boost::unit_test;

bool underCi() { return std::getenv("VIGIL_CI") != nullptr || std::getenv("CI") != nullptr; }

std::string promtool() { return findExecutable("promtool", {}); }

// promtool is installed, or must be (CI installs it): the case runs and fails without it.
struct PromtoolInstalledOrRequired {
  boost::test_tools::assertion_result operator()(utf::test_unit_id) const {
    boost::test_tools::assertion_result result(underCi() || !promtool().empty());
    result.message() << "promtool not installed (Debian package prometheus; "
                        "scripts/install-deps.sh --test)";
    return result;
  }
};

struct MetricsFixture {
  TempDir tmp;
  Collector collector{tmp.sub("collector"), {{"logging.level", "warning"}}};
  MetricsFixture() { collector.start(); }

  std::string scrape() const {
    HttpResponse r = httpRequest(collector.port(), "GET", "/metrics");
    BOOST_REQUIRE_EQUAL(r.status, 200);
    return r.body;
  }
  // The sample `series` (exactly as exposed, labels included); -1 if absent.
  double value(const std::string& series) const {
    const std::string text = scrape();
    const std::string prefix = "\n" + series + " ";
    size_t at = text.find(prefix);
    if (at == std::string::npos) return -1;
    at += prefix.size();
    return std::stod(text.substr(at, text.find('\n', at) - at));
  }
};

constexpr char kHeartbeatsAccepted[] =
    "vigil_ingest_requests_total{endpoint=\"heartbeat\",result=\"accepted\"}";
constexpr char kEnrollmentsAccepted[] =
    "vigil_ingest_requests_total{endpoint=\"enroll\",result=\"accepted\"}";

}  // namespace

BOOST_FIXTURE_TEST_SUITE(metrics, MetricsFixture)

BOOST_AUTO_TEST_CASE(metrics_are_text_exposition_without_authentication) {
  HttpResponse r = httpRequest(collector.port(), "GET", "/metrics");
  BOOST_TEST(r.status == 200);
  BOOST_TEST(r.headers["Content-Type"].find("text/plain; version=0.0.4") == 0u,
             r.headers["Content-Type"]);
  for (const char* family :
       {"vigil_http_requests_total", "vigil_http_requests_shed_total",
        "vigil_http_connections_refused_total", "vigil_http_requests_in_flight",
        "vigil_ingest_requests_total", "vigil_beacons_dropped_total", "vigil_agents",
        "vigil_collector_degraded", "vigil_collector_degradation_reason",
        "vigil_last_seen_dirty_agents", "vigil_presence_pending_events",
        "process_resident_memory_bytes", "process_cpu_seconds_total", "process_open_fds",
        "process_start_time_seconds"}) {
    BOOST_TEST(r.body.find(std::string("# TYPE ") + family + " ") != std::string::npos, family);
  }
  BOOST_TEST(httpRequest(collector.port(), "POST", "/metrics").status == 405);
}

BOOST_AUTO_TEST_CASE(an_accepted_heartbeat_moves_the_counters) {
  BOOST_TEST(value(kHeartbeatsAccepted) == 0);
  BOOST_TEST(value(kEnrollmentsAccepted) == 0);
  SyntheticAgent agent(collector.port());
  BOOST_REQUIRE_EQUAL(agent.enroll(collector.enrollToken(), "metrics-host").status, 201);
  BOOST_REQUIRE_EQUAL(agent.heartbeat().status, 200);
  BOOST_REQUIRE_EQUAL(agent.heartbeat().status, 200);
  BOOST_TEST(value(kEnrollmentsAccepted) == 1);
  BOOST_TEST(value(kHeartbeatsAccepted) == 2);
  BOOST_TEST(value("vigil_http_requests_total{class=\"ingest\",code=\"200\"}") == 2);
  BOOST_TEST(value("vigil_http_requests_total{class=\"ingest\",code=\"201\"}") == 1);
  BOOST_TEST(value("vigil_agents{status=\"ONLINE\"}") == 1);
  BOOST_TEST(value("vigil_http_request_duration_seconds_count{class=\"ingest\"}") == 3);

  // A refused heartbeat is counted by its error code.
  HttpResponse bad = httpRequest(collector.port(), "POST", "/v1/heartbeat",
                                 {{"X-Vigil-Agent-Id", agent.id()},
                                  {"X-Vigil-Timestamp", "1"},
                                  {"X-Vigil-Signature", "v1=00"}},
                                 "{}");
  BOOST_TEST(bad.status == 401);
  double refused = 0;
  for (const char* code : {"bad_signature", "stale_timestamp"}) {
    refused += std::max(0.0, value(std::string("vigil_ingest_requests_total{endpoint=\"heartbeat\","
                                               "result=\"") +
                                   code + "\"}"));
  }
  BOOST_TEST(refused == 1);
  BOOST_TEST(value(kHeartbeatsAccepted) == 2);
  // The write-behind empties its dirty set within store.flushIntervalMs.
  BOOST_TEST(eventually([&] { return value("vigil_last_seen_dirty_agents") == 0; }, 10s));
}

BOOST_AUTO_TEST_CASE(promtool_accepts_the_exposition,
                     *utf::precondition(PromtoolInstalledOrRequired())) {
  const std::string linter = promtool();
  BOOST_TEST_REQUIRE(!linter.empty(),
                     "promtool not installed, although CI installs it "
                     "(scripts/install-deps.sh --test)");
  // Traffic first, so the families with labels have samples to check.
  SyntheticAgent agent(collector.port());
  BOOST_REQUIRE_EQUAL(agent.enroll(collector.enrollToken(), "promtool-host").status, 201);
  BOOST_REQUIRE_EQUAL(agent.heartbeat().status, 200);
  httpRequest(collector.port(), "GET", "/no/such/path");
  const std::string path = tmp.path().string() + "/metrics.txt";
  std::ofstream(path) << scrape();
  const std::string output = tmp.path().string() + "/promtool.out";
  const int rc = std::system(
      ("'" + linter + "' check metrics < '" + path + "' > '" + output + "' 2>&1").c_str());
  BOOST_TEST(rc == 0, "promtool check metrics failed:\n"
                          << readFile(output) << "\nexposition:\n"
                          << readFile(path));
}

BOOST_AUTO_TEST_SUITE_END()
