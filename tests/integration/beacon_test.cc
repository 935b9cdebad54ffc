#define BOOST_TEST_MODULE integration_beacon
// The protocol 1.1 channels against the real vigil-collector process: the UDP beacon (acks,
// drops and their counters), the indicators a heartbeat carries (outage diary, shutdown notice,
// peer witness) and "verify" in the answer to an agent that was lost.
#include <Poco/Net/DatagramSocket.h>
#include <Poco/Net/SocketAddress.h>
#include <Poco/Timespan.h>

#include <boost/test/unit_test.hpp>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <map>
#include <optional>
#include <regex>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/datagram.h"
#include "common/protocol.h"
#include "tests/integration/harness.h"

using namespace vigil;
using namespace vigil::testing;
using namespace std::chrono_literals;

namespace {

int64_t nowMs() { return toUnixMillis(RealClock::instance().wallNow()); }

// The UDP port from the collector's log line "beacon listener on udp 127.0.0.1:NNNNN".
int beaconPortOf(const Collector& c) {
  static const std::regex kLine("beacon listener on udp [0-9.]+:([0-9]+)");
  std::smatch m;
  const std::string log = readFile(c.logPath());
  int port = 0;
  for (auto it = std::sregex_iterator(log.begin(), log.end(), kLine); it != std::sregex_iterator();
       ++it) {
    port = std::atoi((*it)[1].str().c_str());  // the latest start's
  }
  return port;
}

protocol::EnrollResponse enroll(const Collector& c, const std::string& hostname) {
  protocol::EnrollRequest req;
  req.enroll_token = c.enrollToken();
  req.facts = {hostname, "linux", "integration", "x86_64", "0.1.0"};
  HttpResponse r = httpRequest(c.port(), "POST", protocol::kEnrollPath, {}, protocol::encode(req));
  BOOST_REQUIRE_MESSAGE(r.status == 201, "enroll failed: " << r.status << " " << r.body);
  auto resp = protocol::decodeEnrollResponse(r.body);
  BOOST_REQUIRE(resp.ok());
  return resp.value();
}

// Sends heartbeats of one enrolled agent, with increasing seq.
class HeartbeatSender {
 public:
  HeartbeatSender(const Collector& c, protocol::EnrollResponse agent)
      : collector_(c), agent_(std::move(agent)) {}

  protocol::Heartbeat beat() {
    protocol::Heartbeat hb;
    hb.agent_id = agent_.agent_id;
    hb.seq = ++seq_;
    hb.boot_id = "boot-1";
    hb.uptime_s = 100;
    hb.agent_version = "0.1.0";
    hb.sent_at_ms = nowMs();
    return hb;
  }

  // Sends `hb`; the decoded 200 answer, or a failed test.
  protocol::HeartbeatResponse send(const protocol::Heartbeat& hb) {
    const std::string body = protocol::encode(hb);
    const int64_t ts = nowMs();
    HttpResponse r = httpRequest(
        collector_.port(), "POST", protocol::kHeartbeatPath,
        {{protocol::kHeaderAgentId, agent_.agent_id},
         {protocol::kHeaderTimestamp, std::to_string(ts)},
         {protocol::kHeaderSignature,
          protocol::sign(agent_.secret, "POST", protocol::kHeartbeatPath, ts, body).value()}},
        body);
    BOOST_REQUIRE_MESSAGE(r.status == 200, "heartbeat refused: " << r.status << " " << r.body);
    auto answer = protocol::decodeHeartbeatResponse(r.body);
    BOOST_REQUIRE_MESSAGE(answer.ok(), "answer does not decode: " << r.body);
    return answer.value();
  }
  protocol::HeartbeatResponse send() { return send(beat()); }

  const protocol::EnrollResponse& agent() const { return agent_; }

 private:
  const Collector& collector_;
  protocol::EnrollResponse agent_;
  uint64_t seq_ = 0;
};

// A UDP socket of a simulated agent, talking to the collector's beacon port.
class BeaconClient {
 public:
  explicit BeaconClient(int port)
      : socket_(Poco::Net::SocketAddress("127.0.0.1", 0)),
        collector_("127.0.0.1", static_cast<Poco::UInt16>(port)) {}

  void send(const std::string& bytes) {
    socket_.sendTo(bytes.data(), static_cast<int>(bytes.size()), collector_);
  }
  // The next datagram within `wait`, if any.
  std::optional<std::string> receive(std::chrono::milliseconds wait) {
    if (!socket_.poll(Poco::Timespan(wait.count() * 1000), Poco::Net::Socket::SELECT_READ)) {
      return std::nullopt;
    }
    char buffer[2048];
    Poco::Net::SocketAddress from;
    const int n = socket_.receiveFrom(buffer, sizeof(buffer), from);
    return std::string(buffer, static_cast<size_t>(n));
  }

 private:
  Poco::Net::DatagramSocket socket_;
  Poco::Net::SocketAddress collector_;
};

Poco::JSON::Object::Ptr evidenceOf(const Collector& c, const std::string& id,
                                   const std::string& indicator) {
  auto a = c.agent(id);
  if (!a) return nullptr;
  auto evidence = a->getObject("evidence");
  return evidence ? evidence->getObject(indicator) : nullptr;
}

bool seen(const Collector& c, const std::string& id, const std::string& indicator) {
  auto e = evidenceOf(c, id, indicator);
  return e && !e->isNull("last_seen_at");
}

std::string statusOf(const Collector& c, const std::string& id) {
  auto a = c.agent(id);
  return a ? a->getValue<std::string>("status") : "";
}

int64_t beaconCounter(const Collector& c, const std::string& name) {
  auto health = c.adminGet("/api/v1/health").json();
  if (!health) return -1;
  auto beacon = health->getObject("beacon");
  if (!beacon) return -1;
  if (name == "accepted") return beacon->getValue<int64_t>("accepted");
  return beacon->getObject("dropped")->getValue<int64_t>(name);
}

size_t countOccurrences(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

}  // namespace

// A valid beacon gets a signed ack and counts as beacon evidence; a replayed, badly signed,
// stale, malformed or unknown agent's beacon gets nothing and is counted by reason, with at
// most one log line per reason.
BOOST_AUTO_TEST_CASE(beacon_is_acked_and_every_bad_one_is_dropped_and_counted) {
  TempDir tmp;
  Collector collector(tmp.sub("collector"), {{"beacon.port", "0"}});
  collector.start();
  const int port = beaconPortOf(collector);
  BOOST_REQUIRE_MESSAGE(port > 0, "no beacon listener line in the log:\n"
                                      << logTail(collector.logPath()));

  const auto agent = enroll(collector, "beacon-host");
  BOOST_TEST(agent.channels.beacon_port.value() == port);
  BOOST_TEST(agent.channels.beacon_interval_s.value() == 15);
  BOOST_TEST(agent.channels.peer_key.has_value());
  BOOST_TEST(!seen(collector, agent.agent_id, "beacon"));

  BeaconClient client(port);
  const int64_t ts = nowMs();
  const std::string beacon = datagram::encodeBeacon(agent.agent_id, ts, agent.secret);
  client.send(beacon);
  auto ack_bytes = client.receive(5000ms);
  BOOST_REQUIRE_MESSAGE(ack_bytes.has_value(), "no ack; collector log:\n"
                                                   << logTail(collector.logPath()));
  auto ack = datagram::parseBeaconAck(*ack_bytes);
  BOOST_REQUIRE(ack.has_value());
  BOOST_TEST(datagram::verify(*ack, agent.secret));
  BOOST_TEST(ack->agent_id == agent.agent_id);
  BOOST_TEST(ack->ts_ms == ts);
  BOOST_TEST(ack->next_beacon_s == 15);

  BOOST_REQUIRE(eventually([&] { return seen(collector, agent.agent_id, "beacon"); }, 5s));
  BOOST_TEST(
      evidenceOf(collector, agent.agent_id, "beacon")->getValue<int64_t>("expected_interval_s") ==
      15);
  BOOST_TEST(statusOf(collector, agent.agent_id) == "ONLINE");  // a beacon is direct evidence
  BOOST_TEST(!seen(collector, agent.agent_id, "heartbeat"));

  client.send(beacon);  // replayed
  client.send(datagram::encodeBeacon(agent.agent_id, nowMs(), std::string(64, '0')));
  client.send(datagram::encodeBeacon(agent.agent_id, nowMs() - 400'000, agent.secret));
  for (int i = 0; i < 10; ++i) client.send("VB1 this is not a beacon");
  client.send(datagram::encodeBeacon("ag_00000000000000000000000000000000", nowMs(), agent.secret));
  BOOST_TEST(!client.receive(1000ms).has_value(), "a dropped beacon was answered");

  BOOST_REQUIRE_MESSAGE(eventually([&] { return beaconCounter(collector, "malformed") == 10; }, 5s),
                        "drops not counted; health: " << collector.adminGet("/api/v1/health").body);
  BOOST_TEST(beaconCounter(collector, "accepted") == 1);
  BOOST_TEST(beaconCounter(collector, "replayed") == 1);
  BOOST_TEST(beaconCounter(collector, "bad_signature") == 1);
  BOOST_TEST(beaconCounter(collector, "stale") == 1);
  BOOST_TEST(beaconCounter(collector, "unknown_agent") == 1);
  auto health = collector.adminGet("/api/v1/health").json();
  BOOST_TEST(health->getObject("beacon")->getValue<int>("port") == port);

  const std::string log = logTail(collector.logPath(), 1 << 20);
  BOOST_TEST(countOccurrences(log, "beacon dropped (malformed)") == 1u);
  BOOST_TEST(countOccurrences(log, "beacon dropped (replayed)") == 1u);
  BOOST_TEST(log.find(agent.secret) == std::string::npos);
}

// A collector that cannot read its beacon port fast enough (here: stopped while beacons
// arrive) learns from the kernel how many it lost, counts them and holds verdicts for it.
BOOST_AUTO_TEST_CASE(beacons_lost_to_a_full_receive_queue_degrade_the_collector) {
  TempDir tmp;
  Collector collector(tmp.sub("collector"), {{"beacon.port", "0"}});
  collector.start();
  const int port = beaconPortOf(collector);
  BOOST_REQUIRE(port > 0);
  BeaconClient client(port);
  collector.signal(SIGSTOP);
  // Far more than the largest receive queue the listener gets (2 x its 4 MiB buffer, over
  // 500 bytes of kernel memory per datagram).
  for (int i = 0; i < 40'000; ++i) client.send("VB1 this is not a beacon");
  collector.signal(SIGCONT);
  // The kernel's count rides on the datagrams queued after the drops.
  const bool degraded = eventually(
      [&] {
        client.send("VB1 this is not a beacon");
        return collector.adminGet("/api/v1/health").body.find("beacon_overflow") !=
               std::string::npos;
      },
      15s);
  BOOST_TEST(degraded, "no beacon_overflow; health: " << collector.adminGet("/api/v1/health").body);
  const std::string metrics = httpRequest(collector.port(), "GET", "/metrics").body;
  static const std::regex kOverflows("\nvigil_beacon_receive_overflows_total ([0-9]+)");
  std::smatch m;
  BOOST_REQUIRE(std::regex_search(metrics, m, kOverflows));
  BOOST_TEST(std::atoll(m[1].str().c_str()) > 1000);
  BOOST_TEST(collector.adminGet("/api/v1/health/history").body.find("beacon_overflow") !=
             std::string::npos);
}

// Two agents of the default site: B reports hearing A. A reports an outage diary, then says
// goodbye. The admin API shows A's outages, its witness evidence and SHUTDOWN.
BOOST_AUTO_TEST_CASE(heartbeat_indicators_show_in_the_agent_detail) {
  TempDir tmp;
  Collector collector(tmp.sub("collector"),
                      {{"beacon.port", "0"}, {"store.flushIntervalMs", "100"}});
  collector.start();
  HeartbeatSender a(collector, enroll(collector, "host-a"));
  HeartbeatSender b(collector, enroll(collector, "host-b"));
  const std::string id_a = a.agent().agent_id;

  auto with_diary = a.beat();
  with_diary.outages = {
      {nowMs() - 600'000, nowMs() - 300'000, protocol::causes::kTimeout},
      {nowMs() - 120'000, nowMs() - 5'000, protocol::causes::kNoNetwork},
  };
  with_diary.config_hash = "0123456789abcdef";
  with_diary.net = protocol::NetworkSelfCheck{true, {"192.0.2.7"}};
  auto answer = a.send(with_diary);
  BOOST_TEST(answer.channels.peer_key.has_value());
  BOOST_TEST(answer.channels.beacon_port.has_value());

  auto report = b.beat();
  report.peers = {{id_a, report.sent_at_ms - 2'000}, {b.agent().agent_id, report.sent_at_ms}};
  b.send(report);
  BOOST_REQUIRE_MESSAGE(
      eventually([&] { return seen(collector, id_a, "peer_witness"); }, 5s),
      "no witness evidence on A: " << collector.adminGet("/api/v1/agents/" + id_a).body);
  BOOST_TEST(!seen(collector, b.agent().agent_id, "peer_witness"));  // its own sighting
  BOOST_TEST(collector.adminGet("/api/v1/health")
                 .json()
                 ->getObject("peer_sightings")
                 ->getValue<int>("ignored") == 1);

  BOOST_REQUIRE(eventually(
      [&] {
        auto detail = collector.agent(id_a);
        return detail && detail->getArray("outages") && detail->getArray("outages")->size() == 2;
      },
      5s));
  auto detail = collector.agent(id_a);
  auto newest = detail->getArray("outages")->getObject(0);
  BOOST_TEST(newest->getValue<std::string>("cause") == "no_network");
  BOOST_TEST(!newest->getValue<std::string>("from").empty());
  BOOST_TEST(!newest->getValue<std::string>("reported_at").empty());
  auto facts = detail->getObject("facts");
  BOOST_REQUIRE(facts);
  BOOST_TEST(facts->getValue<std::string>("config_hash") == "0123456789abcdef");
  BOOST_TEST(facts->getObject("net")->getArray("addresses")->getElement<std::string>(0) ==
             "192.0.2.7");

  auto goodbye = a.beat();
  goodbye.shutdown = protocol::shutdown_reasons::kServiceStop;
  a.send(goodbye);
  BOOST_REQUIRE(eventually([&] { return statusOf(collector, id_a) == "SHUTDOWN"; }, 5s));
  detail = collector.agent(id_a);
  BOOST_TEST(detail->getValue<std::string>("last_shutdown_reason") == "service_stop");
  BOOST_TEST(!detail->isNull("last_shutdown_at"));
  BOOST_TEST(seen(collector, id_a, "shutdown_notice"));
  BOOST_TEST(seen(collector, id_a, "diary"));
  BOOST_TEST(logTail(collector.logPath(), 1 << 20)
                 .find("agent " + id_a + " announced a shutdown (service_stop)") !=
             std::string::npos);

  // The notice and the diary survive a restart.
  BOOST_TEST(collector.stop() == 0);
  collector.start();
  detail = collector.agent(id_a);
  BOOST_REQUIRE(detail);
  BOOST_TEST(detail->getValue<std::string>("last_shutdown_reason") == "service_stop");
  BOOST_TEST(detail->getArray("outages")->size() == 2u);
  BOOST_TEST(detail->getObject("facts")->getValue<std::string>("config_hash") ==
             "0123456789abcdef");
}

// An agent that was SUSPECT is asked to "verify" in the answer to its next heartbeat; once it
// is ONLINE again, it is not.
BOOST_AUTO_TEST_CASE(answer_to_a_suspect_agent_asks_it_to_verify) {
  TempDir tmp;
  Collector collector(tmp.sub("collector"), {{"heartbeat.intervalSeconds", "1"},
                                             {"presence.confirmationWindowSeconds", "60"},
                                             {"presence.tickIntervalMs", "100"},
                                             {"presence.verifyIntervalSeconds", "1"},
                                             {"presence.verifyForSeconds", "30"},
                                             {"beacon.port", "0"}});
  collector.start();
  HeartbeatSender a(collector, enroll(collector, "verify-host"));
  const std::string id = a.agent().agent_id;
  auto first = a.send();
  BOOST_TEST(!first.verify_interval_s.has_value());
  BOOST_REQUIRE_MESSAGE(eventually([&] { return statusOf(collector, id) == "SUSPECT"; }, 20s),
                        "agent never SUSPECT; status " << statusOf(collector, id));
  auto back = a.send();
  BOOST_TEST(back.verify_interval_s.value() == 1);
  BOOST_TEST(back.verify_for_s.value() == 30);
  BOOST_TEST(statusOf(collector, id) == "ONLINE");
  auto next = a.send();
  BOOST_TEST(!next.verify_interval_s.has_value());
  BOOST_TEST(!next.verify_for_s.has_value());
}

// A beacon port another process holds stops the start with the exit code of a taken HTTP
// port (69) and a message naming the port; with beacon.enabled=false nothing is bound or
// offered.
BOOST_AUTO_TEST_CASE(taken_beacon_port_stops_the_start_and_a_disabled_beacon_is_not_offered) {
  TempDir tmp;
  Collector first(tmp.sub("first"), {{"beacon.port", "0"}});
  first.start();
  const int taken = beaconPortOf(first);
  BOOST_REQUIRE(taken > 0);
  ChildProcess second(VIGIL_COLLECTOR_BIN,
                      {"--data-dir=" + tmp.sub("second"), "--http-address=127.0.0.1",
                       "--http-port=0", "--define=beacon.port=" + std::to_string(taken)},
                      tmp.sub("second.log"));
  auto code = second.waitExit(15s);
  BOOST_REQUIRE_MESSAGE(code.has_value(), "second collector runs on a taken beacon port");
  BOOST_TEST(*code == 69);
  const std::string log = logTail(tmp.sub("second.log"));
  BOOST_TEST(log.find("cannot listen on udp 127.0.0.1:" + std::to_string(taken)) !=
             std::string::npos);
  BOOST_TEST(first.adminGet("/api/v1/health").status == 200);

  Collector quiet(tmp.sub("quiet"), {{"beacon.enabled", "false"}});
  quiet.start();
  BOOST_TEST(beaconPortOf(quiet) == 0);
  const auto agent = enroll(quiet, "no-beacon");
  BOOST_TEST(!agent.channels.beacon_port.has_value());
  BOOST_TEST(agent.channels.peer_key.has_value());
  BOOST_TEST(quiet.adminGet("/api/v1/health").json()->isNull("beacon"));
}
