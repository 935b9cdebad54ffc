#define BOOST_TEST_MODULE integration_agent_indicators
// The real vigil-agent against a real vigil-collector: every indicator besides the plain
// heartbeat reaches the collector (docs/protocol.md): UDP beacons acknowledged, the outage
// diary after the collector was down, LAN peers witnessing each other, the goodbye notice.
#include <boost/test/unit_test.hpp>
#include <chrono>
#include <map>
#include <memory>
#include <random>
#include <string>

#include "tests/integration/agent_checks.h"
#include "tests/integration/harness.h"
#include "tests/support/temp_dir.h"

using namespace std::chrono_literals;
using vigil::testing::Agent;
using vigil::testing::Collector;
using vigil::testing::enrolledId;
using vigil::testing::eventually;
using vigil::testing::evidenceSeen;
using vigil::testing::logTail;
using vigil::testing::outagesReported;
using vigil::testing::randomPeerPort;
using vigil::testing::TempDir;

namespace {

std::map<std::string, std::string> fastCollectorSettings() {
  return {{"heartbeat.intervalSeconds", "1"},
          {"presence.confirmationWindowSeconds", "1"},
          {"presence.tickIntervalMs", "100"},
          {"store.flushIntervalMs", "200"},
          {"beacon.port", "0"},
          {"beacon.intervalSeconds", "1"}};
}

std::string statusOf(const Collector& c, const std::string& id) {
  auto a = c.agent(id);
  return a ? a->optValue<std::string>("status", "") : "";
}

// A collector and one agent (peer witness off) that has enrolled.
struct OneAgent {
  TempDir tmp;
  Collector collector{tmp.sub("collector"), fastCollectorSettings()};
  std::unique_ptr<Agent> agent;
  std::string id;

  OneAgent() {
    collector.start();
    agent = std::make_unique<Agent>(tmp.sub("agent"), collector.port(), collector.enrollToken());
    agent->setExtraArgs({"-D", "peer_witness=false"});
    agent->start();
    id = enrolledId(*agent);
  }
};

}  // namespace

BOOST_AUTO_TEST_CASE(udp_beacons_are_acknowledged_and_seen_by_the_collector) {
  OneAgent setup;
  Collector& collector = setup.collector;
  Agent& agent = *setup.agent;
  const std::string& id = setup.id;
  BOOST_REQUIRE_MESSAGE(
      eventually([&] { return !evidenceSeen(collector, id, "beacon").empty(); }, 20s),
      "no beacon evidence; agent log:\n"
          << logTail(agent.logPath()) << "\ncollector log:\n"
          << logTail(collector.logPath()));
  // It keeps arriving, and the agent sees its acks (it never pauses for lack of them).
  const std::string first = evidenceSeen(collector, id, "beacon");
  BOOST_TEST(eventually([&] { return evidenceSeen(collector, id, "beacon") != first; }, 10s));
  const std::string log = logTail(agent.logPath(), 1 << 20);
  BOOST_TEST(log.find("beacon: every 1 s to udp 127.0.0.1:") != std::string::npos);
  BOOST_TEST(log.find("UDP blocked?") == std::string::npos);
  BOOST_TEST(agent.stop() == 0);
}

BOOST_AUTO_TEST_CASE(the_outage_diary_reaches_the_collector_after_it_was_down) {
  OneAgent setup;
  Collector& collector = setup.collector;
  Agent& agent = *setup.agent;
  const std::string& id = setup.id;
  BOOST_REQUIRE(eventually([&] { return statusOf(collector, id) == "ONLINE"; }, 20s));

  // The collector goes away; the agent keeps trying and writes the outage down.
  BOOST_TEST(collector.stop() == 0);
  BOOST_REQUIRE_MESSAGE(
      eventually(
          [&] {
            return logTail(agent.logPath(), 1 << 20).find("failed: network error") !=
                   std::string::npos;
          },
          20s),
      "agent never noticed; agent log:\n"
          << logTail(agent.logPath()));
  BOOST_TEST(eventually(
      [&] {
        return logTail(agent.stateDir() + "/outage-diary.json").find("connect") !=
               std::string::npos;
      },
      10s));
  collector.start();
  // Backoff may have grown to a few seconds; the diary comes with the first accepted beat.
  BOOST_REQUIRE_MESSAGE(eventually([&] { return outagesReported(collector, id) >= 1; }, 40s),
                        "no outage reported; agent log:\n"
                            << logTail(agent.logPath()) << "\ncollector log:\n"
                            << logTail(collector.logPath()));
  auto outage = collector.agent(id)->getArray("outages")->getObject(0);
  BOOST_TEST(outage->getValue<std::string>("cause") == "connect");
  BOOST_TEST(logTail(agent.logPath(), 1 << 20).find("outage diary of 1 entry delivered") !=
             std::string::npos);
  // Delivered once, then forgotten on the agent's side.
  BOOST_TEST(eventually(
      [&] {
        return logTail(agent.stateDir() + "/outage-diary.json").find("\"entries\":[]") !=
               std::string::npos;
      },
      10s));
  BOOST_TEST(agent.stop() == 0);
}

BOOST_AUTO_TEST_CASE(two_agents_of_a_site_witness_each_other_on_the_lan) {
  TempDir tmp;
  Collector collector(tmp.sub("collector"), fastCollectorSettings());
  collector.start();
  const std::string port = randomPeerPort();
  const std::vector<std::string> args = {"-D", "peer_port=" + port, "-D", "peer_interval_s=5"};
  Agent a(tmp.sub("agent-a"), collector.port(), collector.enrollToken());
  Agent b(tmp.sub("agent-b"), collector.port(), collector.enrollToken());
  a.setExtraArgs(args);
  b.setExtraArgs(args);
  a.start();
  b.start();
  const std::string id_a = enrolledId(a);
  const std::string id_b = enrolledId(b);
  BOOST_TEST(id_a != id_b);
  // Each hears the other's signed announcement and reports it; the collector records the
  // sighting as peer-witness evidence of the agent that was heard.
  BOOST_REQUIRE_MESSAGE(eventually(
                            [&] {
                              return !evidenceSeen(collector, id_a, "peer_witness").empty() &&
                                     !evidenceSeen(collector, id_b, "peer_witness").empty();
                            },
                            30s),
                        "no peer evidence; agent a log:\n"
                            << logTail(a.logPath()) << "\nagent b log:\n"
                            << logTail(b.logPath()) << "\ncollector log:\n"
                            << logTail(collector.logPath()));
  BOOST_TEST(logTail(a.logPath(), 1 << 20)
                 .find("peer witness: announcing every 5 s on udp port " + port) !=
             std::string::npos);
  BOOST_TEST(a.stop() == 0);
  BOOST_TEST(b.stop() == 0);
}

BOOST_AUTO_TEST_CASE(sigterm_sends_a_goodbye_and_the_endpoint_is_shutdown_not_offline) {
  OneAgent setup;
  Collector& collector = setup.collector;
  Agent& agent = *setup.agent;
  const std::string& id = setup.id;
  BOOST_REQUIRE(eventually([&] { return statusOf(collector, id) == "ONLINE"; }, 20s));
  BOOST_TEST(agent.stop() == 0);
  BOOST_TEST(logTail(agent.logPath()).find("goodbye notice (service_stop) delivered") !=
             std::string::npos);
  BOOST_REQUIRE(eventually([&] { return statusOf(collector, id) == "SHUTDOWN"; }, 10s));
  // Well past the confirmation window: still SHUTDOWN, no alert.
  BOOST_TEST(!eventually([&] { return statusOf(collector, id) != "SHUTDOWN"; }, 4s));
  BOOST_TEST(!collector.agent(id)->getValue<bool>("alert_open"));
}
