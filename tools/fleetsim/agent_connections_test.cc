#define BOOST_TEST_MODULE fleetsim_agent_connections
// The fleet's agent connection mode against a real collector over HTTPS (its P-256 test
// certificate): every heartbeat on a new connection, and after each agent's first handshake
// (its enrollment) the handshakes resume the agent's session instead of paying a full one.

#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <filesystem>
#include <memory>
#include <string>

#include "tests/integration/fake_collector.h"
#include "tests/integration/harness.h"
#include "tools/fleetsim/collector_control.h"
#include "tools/fleetsim/sim_fleet.h"

namespace vigil::fleetsim {
namespace {

using namespace std::chrono_literals;

constexpr uint32_t kAgents = 40;
constexpr uint64_t kHeartbeats = 200;  // five per agent at the 1 s interval

// The value of vigil_tls_handshakes_total{kind="<kind>"} in an exposition (0 if absent).
uint64_t handshakesIn(const std::string& exposition, const std::string& kind) {
  const std::string name = "vigil_tls_handshakes_total{kind=\"" + kind + "\"} ";
  const size_t at = exposition.find(name);
  if (at == std::string::npos) return 0;
  return std::stoull(exposition.substr(at + name.size()));
}

struct HttpsCollector {
  testing::TestCertificateAuthority ca;
  std::string dir;
  CollectorSetup setup;
  std::unique_ptr<CollectorControl> collector;

  HttpsCollector() {
    dir = (std::filesystem::temp_directory_path() /
           ("vigil-fleetsim-agent-connections-" + std::to_string(::getpid())))
              .string();
    std::filesystem::remove_all(dir);
    setup = heartbeatOnlySetup(VIGIL_COLLECTOR_BIN, dir, 1);
    serveTlsFrom(ca, dir, setup);
    collector = std::make_unique<CollectorControl>(setup);
  }
  ~HttpsCollector() {
    collector.reset();
    std::filesystem::remove_all(dir);
  }
};

BOOST_AUTO_TEST_CASE(each_heartbeat_connects_anew_and_resumes_the_agents_tls_session) {
  HttpsCollector c;
  BOOST_REQUIRE(c.collector->start().ok());
  CollectorHttp& http = c.collector->http();
  BOOST_REQUIRE(useBootstrapToken(http, c.setup.data_dir).ok());
  auto tenant = defaultTenantId(http);
  BOOST_REQUIRE(tenant.ok());
  auto site = createSite(http, *tenant, "agent-connections");
  BOOST_REQUIRE(site.ok());

  FleetOptions options;
  options.base_url = http.baseUrl();
  options.ca_file = c.setup.ca_file;
  options.connection_mode = ConnectionMode::kAgent;
  options.agent_concurrency = 8;
  options.beacons = false;
  options.scheduler.min_interval = 1s;
  Fleet fleet(options);
  fleet.addAgents(kAgents, site->enroll_token, "agent-connections");
  const Status enrolled = fleet.enroll();
  BOOST_REQUIRE_MESSAGE(enrolled.ok(), enrolled.message());
  const FleetStats enrollment = fleet.takeStats();
  // Each agent's first connection: a full handshake, as a newly installed agent's.
  BOOST_TEST(enrollment.connections_opened == kAgents);
  BOOST_TEST(enrollment.tls_full_handshakes == kAgents);

  fleet.start(false);
  FleetStats run;
  const bool enough = testing::eventually(
      [&] {
        run.add(fleet.takeStats());
        return run.heartbeats_accepted >= kHeartbeats;
      },
      60s);
  fleet.stop();
  BOOST_TEST_MESSAGE("heartbeats accepted " << run.heartbeats_accepted << ", connections "
                                            << run.connections_opened << ", TLS full "
                                            << run.tls_full_handshakes << " resumed "
                                            << run.tls_resumed_handshakes);
  BOOST_TEST(enough);
  // No heartbeat failed.
  BOOST_TEST(run.overloaded == 0u);
  BOOST_TEST(run.other_http_errors == 0u);
  BOOST_TEST(run.transport_errors == 0u);
  BOOST_TEST(run.simulated_failures == 0u);
  // A connection per heartbeat, each with its TLS handshake, and those after enrollment resumed.
  BOOST_TEST(run.connections_opened >= run.heartbeats_accepted);
  BOOST_TEST(run.tls_full_handshakes + run.tls_resumed_handshakes == run.connections_opened);
  BOOST_TEST(run.tls_resumed_handshakes > 0u);
  BOOST_TEST(run.tls_full_handshakes * 20 <= run.connections_opened,
             "more than 5 % of the handshakes after enrollment were full");

  // The collector counts the same handshakes (and the admin API's own connections, full).
  const HttpAnswer metrics = http.get("/metrics");
  BOOST_REQUIRE(metrics.status == 200);
  BOOST_TEST(handshakesIn(metrics.body, "resumed") >= run.tls_resumed_handshakes);
  BOOST_TEST(handshakesIn(metrics.body, "full") >= kAgents);
  BOOST_TEST(handshakesIn(metrics.body, "full") < kAgents + run.tls_resumed_handshakes / 4);
  BOOST_TEST(c.collector->stop().ok());
}

}  // namespace
}  // namespace vigil::fleetsim
