#define BOOST_TEST_MODULE integration_agent_lifecycle
#include <signal.h>
#include <sys/stat.h>

#include <algorithm>
#include <boost/test/unit_test.hpp>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "tests/integration/harness.h"

using namespace vigil::testing;
using namespace std::chrono_literals;

namespace {

// Short intervals so that warm-up (1.1 s), lateness (1.5-2 s) and the confirmation window
// (1 s) bring an OFFLINE verdict within seconds.
std::map<std::string, std::string> fastCollectorSettings() {
  return {{"heartbeat.intervalSeconds", "1"},
          {"presence.confirmationWindowSeconds", "1"},
          {"presence.tickIntervalMs", "100"},
          {"store.flushIntervalMs", "200"},
          {"beacon.intervalSeconds", "1"}};
}

// The statuses in the agent's history, oldest first ("ONLINE", "SUSPECT", ...).
std::vector<std::string> historyOf(const Collector& c, const std::string& id) {
  std::vector<std::string> out;
  auto a = c.agent(id);
  if (!a) return out;
  auto history = a->getArray("history");
  if (!history) return out;
  for (size_t i = history->size(); i-- > 0;) {
    out.push_back(history->getObject(static_cast<unsigned>(i))->getValue<std::string>("to"));
  }
  return out;
}

std::string statusOf(const Collector& c, const std::string& id) {
  auto a = c.agent(id);
  return a ? a->getValue<std::string>("status") : "";
}

int modeOf(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return -1;
  return static_cast<int>(st.st_mode & 07777);
}

// An open socket of a process, as /proc/<pid>/net/{tcp,tcp6,udp,udp6} shows it.
struct OpenSocket {
  std::string protocol;  // "tcp", "tcp6", "udp", "udp6"
  int local_port = 0;
  bool remote_set = false;  // connected (TCP, or UDP after connect())
  std::string state;        // kernel state in hex: "0A" is a listening TCP socket
};

std::vector<OpenSocket> openSocketsOf(int pid) {
  std::set<std::string> inodes;  // of the process's socket descriptors
  const std::string fd_dir = "/proc/" + std::to_string(pid) + "/fd";
  for (const auto& entry : std::filesystem::directory_iterator(fd_dir)) {
    std::error_code ec;
    const std::string target = std::filesystem::read_symlink(entry.path(), ec).string();
    if (!ec && target.rfind("socket:[", 0) == 0) {
      inodes.insert(target.substr(8, target.size() - 9));
    }
  }
  std::vector<OpenSocket> found;
  for (const char* protocol : {"tcp", "tcp6", "udp", "udp6"}) {
    std::ifstream table("/proc/" + std::to_string(pid) + "/net/" + protocol);
    std::string line;
    std::getline(table, line);  // the column names
    while (std::getline(table, line)) {
      std::istringstream fields(line);
      std::string slot, local, remote, state, queues, timer, retransmits, uid, timeout, inode;
      fields >> slot >> local >> remote >> state >> queues >> timer >> retransmits >> uid >>
          timeout >> inode;
      if (inodes.count(inode) == 0) continue;
      OpenSocket s;
      s.protocol = protocol;
      s.local_port = std::stoi(local.substr(local.find(':') + 1), nullptr, 16);
      s.remote_set = std::stoi(remote.substr(remote.find(':') + 1), nullptr, 16) != 0;
      s.state = state;
      found.push_back(s);
    }
  }
  return found;
}

}  // namespace

// End to end: a real agent enrolls with a real collector, shows ONLINE with its evidence,
// goes SUSPECT then OFFLINE (with an alert) after it stops, its record, last-seen and history
// survive a collector restart, and it comes back ONLINE, resolving the alert.
BOOST_AUTO_TEST_CASE(agent_enrolls_goes_online_then_offline_and_survives_collector_restart) {
  TempDir tmp;
  Collector collector(tmp.sub("collector"), fastCollectorSettings());
  collector.start();
  BOOST_TEST_MESSAGE("collector on port " << collector.port());
  BOOST_TEST(modeOf(collector.dataDir()) == 0700);
  BOOST_TEST(modeOf(collector.dataDir() + "/admin-token") == 0600);
  BOOST_TEST(modeOf(collector.dataDir() + "/enroll-token") == 0600);

  Agent agent(tmp.sub("agent"), collector.port(), collector.enrollToken());
  agent.start();

  std::string id;
  BOOST_REQUIRE_MESSAGE(eventually([&] { return !(id = agent.agentId()).empty(); }, 20s),
                        "agent did not enroll; agent log:\n"
                            << logTail(agent.logPath()) << "\ncollector log:\n"
                            << logTail(collector.logPath()));
  BOOST_TEST(modeOf(agent.stateDir()) == 0700);
  BOOST_TEST(modeOf(agent.stateDir() + "/identity.json") == 0600);

  BOOST_REQUIRE_MESSAGE(eventually([&] { return statusOf(collector, id) == "ONLINE"; }, 20s),
                        "agent never ONLINE; agent log:\n"
                            << logTail(agent.logPath()));
  auto record = collector.agent(id);
  BOOST_REQUIRE(record);
  BOOST_TEST(record->getValue<std::string>("id") == id);
  BOOST_TEST(!record->getValue<std::string>("hostname").empty());
  BOOST_TEST(!record->getValue<std::string>("boot_id").empty());
  BOOST_TEST(record->getValue<std::string>("agent_version") == VIGIL_VERSION);

  // The list endpoint shows it too.
  HttpResponse list = collector.adminGet("/api/v1/agents");
  BOOST_TEST(list.status == 200);
  auto items = list.json()->getArray("items");
  BOOST_REQUIRE(items);
  BOOST_TEST(items->size() == 1u);

  // Several heartbeats arrive: the sequence advances.
  int64_t first_seq = record->getValue<int64_t>("last_seq");
  BOOST_TEST(eventually(
      [&] {
        auto a = collector.agent(id);
        return a && a->getValue<int64_t>("last_seq") >= first_seq + 2;
      },
      15s));

  // Its evidence is visible per indicator.
  auto evidence = collector.agent(id)->getObject("evidence");
  BOOST_REQUIRE(evidence);
  BOOST_TEST(!evidence->getObject("heartbeat")->isNull("last_seen_at"));
  BOOST_TEST(evidence->getObject("heartbeat")->getValue<int64_t>("expected_interval_s") == 1);

  // The endpoint dies without a word (kill -9: no goodbye notice).
  agent.kill();
  BOOST_REQUIRE_MESSAGE(eventually([&] { return statusOf(collector, id) == "OFFLINE"; }, 20s),
                        "agent never OFFLINE after dying; collector log:\n"
                            << logTail(collector.logPath()));
  // Silence is verified twice: SUSPECT came before OFFLINE, and the verdict opened an alert.
  BOOST_REQUIRE(eventually(
      [&] {
        auto h = historyOf(collector, id);
        return h.size() >= 3 && h[h.size() - 2] == "SUSPECT" && h.back() == "OFFLINE";
      },
      10s));
  auto offline = collector.agent(id);
  BOOST_TEST(offline->getValue<bool>("alert_open"));
  BOOST_TEST(offline->getValue<std::string>("status_reason") == "confirmed_silent");
  BOOST_TEST(
      logTail(collector.logPath(), 1 << 20).find("alert device_offline opened for agent " + id) !=
      std::string::npos);
  auto before_restart = collector.agent(id);
  std::string last_seen = before_restart->getValue<std::string>("last_seen_at");
  int64_t last_seq = before_restart->getValue<int64_t>("last_seq");
  BOOST_TEST(!last_seen.empty());

  BOOST_TEST(collector.stop() == 0);
  collector.start();
  auto after_restart = collector.agent(id);
  BOOST_REQUIRE_MESSAGE(after_restart, "agent record lost across collector restart");
  BOOST_TEST(after_restart->getValue<std::string>("last_seen_at") == last_seen);
  BOOST_TEST(after_restart->getValue<int64_t>("last_seq") == last_seq);
  // A restarted collector reaches no verdict before its warm-up ends; then the silence is
  // verified again and the agent is OFFLINE, with its history intact.
  BOOST_REQUIRE(eventually([&] { return statusOf(collector, id) == "OFFLINE"; }, 20s));
  BOOST_TEST(historyOf(collector, id).size() >= 3u);

  // The agent comes back with the same identity, and its sequence numbers keep rising across
  // its own restart (no replayed_sequence refusals).
  agent.start();
  BOOST_REQUIRE_MESSAGE(eventually([&] { return statusOf(collector, id) == "ONLINE"; }, 20s),
                        "agent never back ONLINE; agent log:\n"
                            << logTail(agent.logPath()));
  // Fresh evidence resolved the alert.
  BOOST_TEST(eventually([&] { return !collector.agent(id)->getValue<bool>("alert_open"); }, 5s));
  BOOST_TEST(agent.agentId() == id);
  BOOST_TEST(collector.agent(id)->getValue<int64_t>("last_seq") > last_seq);
  BOOST_TEST(collector.adminGet("/api/v1/agents").json()->getArray("items")->size() == 1u);
  BOOST_TEST(logTail(agent.logPath(), 1 << 20).find("replayed_sequence") == std::string::npos);
  // A graceful stop says goodbye: SHUTDOWN, not OFFLINE, and no alert.
  BOOST_TEST(agent.stop() == 0);
  BOOST_TEST(logTail(agent.logPath()).find("goodbye notice (service_stop) delivered") !=
             std::string::npos);
  BOOST_REQUIRE(eventually([&] { return statusOf(collector, id) == "SHUTDOWN"; }, 10s));
  BOOST_TEST(!collector.agent(id)->getValue<bool>("alert_open"));
}

// kill -9 of the collector loses at most the last flush interval of last-seen, and never the
// agent's record.
BOOST_AUTO_TEST_CASE(collector_killed_with_sigkill_keeps_agent_and_recent_last_seen) {
  TempDir tmp;
  Collector collector(tmp.sub("collector"), fastCollectorSettings());
  collector.start();
  Agent agent(tmp.sub("agent"), collector.port(), collector.enrollToken());
  agent.start();
  std::string id;
  BOOST_REQUIRE(eventually([&] { return !(id = agent.agentId()).empty(); }, 20s));
  BOOST_REQUIRE(eventually(
      [&] {
        auto a = collector.agent(id);
        return a && a->getValue<int64_t>("last_seq") >= 3;
      },
      20s));
  int64_t seq_before = collector.agent(id)->getValue<int64_t>("last_seq");
  BOOST_TEST(agent.stop() == 0);
  collector.kill();
  collector.start();
  auto after = collector.agent(id);
  BOOST_REQUIRE_MESSAGE(after, "agent record lost after SIGKILL");
  // At least the heartbeats older than one flush interval (200 ms; agent beats every 1 s)
  // were on disk.
  BOOST_TEST(after->getValue<int64_t>("last_seq") >= seq_before - 1);
  BOOST_TEST(!after->isNull("last_seen_at"));
}

// Two collectors must never share a port (SO_REUSEPORT would let the kernel split the fleet's
// requests between them): the second one refuses to start, and the first keeps answering.
BOOST_AUTO_TEST_CASE(second_collector_on_a_taken_port_refuses_to_start) {
  TempDir tmp;
  Collector first(tmp.sub("first"));
  first.start();
  ChildProcess second(VIGIL_COLLECTOR_BIN,
                      {"--data-dir=" + tmp.sub("second"), "--http-address=127.0.0.1",
                       "--http-port=" + std::to_string(first.port())},
                      tmp.sub("second.log"));
  auto code = second.waitExit(15s);
  BOOST_REQUIRE_MESSAGE(code.has_value(), "second collector is running on a taken port");
  BOOST_TEST(*code == 69);  // EX_UNAVAILABLE
  BOOST_TEST(logTail(tmp.sub("second.log")).find("cannot listen") != std::string::npos);
  BOOST_TEST(first.adminGet("/api/v1/agents").status == 200);
}

// The collector reports its own health: DEGRADED with warm_up right after start, healthy once
// one heartbeat interval plus jitter has passed; the change is kept as history.
BOOST_AUTO_TEST_CASE(collector_health_shows_warm_up_then_healthy) {
  TempDir tmp;
  Collector collector(tmp.sub("collector"), fastCollectorSettings());
  collector.start();
  auto health = [&] { return collector.adminGet("/api/v1/health"); };
  BOOST_REQUIRE(health().status == 200);
  BOOST_REQUIRE(eventually(
      [&] { return health().json()->getValue<std::string>("status") == "healthy"; }, 10s));
  BOOST_TEST(health().json()->getArray("reasons")->size() == 0u);
  BOOST_REQUIRE(eventually([&] { return health().json()->getArray("history")->size() >= 2; }, 5s));
  auto history = health().json()->getArray("history");
  BOOST_TEST(history->getObject(0)->getValue<std::string>("status") == "healthy");
  BOOST_TEST(history->getObject(1)->getValue<std::string>("reasons").find("warm_up") !=
             std::string::npos);
  BOOST_TEST(httpRequest(collector.port(), "GET", "/api/v1/health").status == 401);
}

// The agent's attack surface from the network (docs/security.md): no listening TCP socket,
// every TCP socket it has is one it opened to the collector, and UDP only on the peer port
// (signed announcements, read, never answered) and on its beacon socket's ephemeral port
// (only acks signed with its own secret count), answering nothing on either.
BOOST_AUTO_TEST_CASE(
    a_running_agent_listens_on_no_tcp_port_and_binds_udp_only_for_peers_and_beacon_acks) {
  TempDir tmp;
  Collector collector(tmp.sub("collector"), fastCollectorSettings());
  collector.start();
  Agent agent(tmp.sub("agent"), collector.port(), collector.enrollToken());
  agent.start();
  std::string id;
  BOOST_REQUIRE_MESSAGE(eventually([&] { return !(id = agent.agentId()).empty(); }, 20s),
                        "agent did not enroll; agent log:\n"
                            << logTail(agent.logPath()));
  BOOST_REQUIRE(eventually([&] { return statusOf(collector, id) == "ONLINE"; }, 20s));

  const std::vector<OpenSocket> sockets = openSocketsOf(agent.pid());
  BOOST_TEST_MESSAGE("agent sockets: " << sockets.size());
  int tcp = 0;
  std::vector<int> unconnected_udp;
  for (const OpenSocket& s : sockets) {
    BOOST_TEST_MESSAGE(s.protocol << " port " << s.local_port << " state " << s.state
                                  << (s.remote_set ? " connected" : ""));
    if (s.protocol.rfind("tcp", 0) == 0) {
      ++tcp;
      BOOST_TEST(s.state != "0A", "the agent listens on TCP port " << s.local_port);
      BOOST_TEST(s.remote_set, "TCP socket on port " << s.local_port << " goes nowhere");
    } else if (!s.remote_set) {
      unconnected_udp.push_back(s.local_port);
    }
  }
  BOOST_TEST(tcp >= 1);  // its keep-alive connection to the collector
  // The peer port (default 47474) and the beacon socket, nothing else.
  BOOST_TEST(unconnected_udp.size() == 2u);
  BOOST_TEST(std::count(unconnected_udp.begin(), unconnected_udp.end(), 47474) == 1);
}
