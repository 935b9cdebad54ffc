#define BOOST_TEST_MODULE windows_wine_agent
// The real vigil-agent.exe (scripts/build-windows-agent.sh) in console mode under wine, against
// a real Linux vigil-collector on loopback, over plain HTTP and over HTTPS with a private CA
// given as --ca-file: it enrolls, is ONLINE with os_name windows, beats at least 20 times
// without one failed request, its UDP beacons are seen, its outage diary arrives after the
// collector was stopped and started, and Ctrl-C (CTRL_C_EVENT, which wine raises on SIGINT)
// delivers its goodbye: SHUTDOWN, no alert.
#include <signal.h>

#include <boost/test/unit_test.hpp>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <string>

#include "tests/integration/agent_checks.h"
#include "tests/integration/fake_collector.h"
#include "tests/integration/harness.h"
#include "tests/support/temp_dir.h"
#include "tests/windows/wine_prefix.h"

using namespace std::chrono_literals;
using namespace vigil::testing;

namespace {

int64_t lastSeqOf(const Collector& c, const std::string& id) {
  auto a = c.agent(id);
  return a ? a->optValue<int64_t>("last_seq", -1) : -1;
}

size_t occurrences(const std::string& text, const std::string& needle) {
  size_t n = 0;
  for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
  return n;
}

// The whole life of one agent under wine; `https`: the collector serves TLS with a
// certificate of a throwaway CA, which the agent is told to trust (--ca-file).
void runAgentUnderWine(const std::string& name, bool https) {
  BOOST_REQUIRE_MESSAGE(std::filesystem::exists(VIGIL_WINDOWS_AGENT_EXE), VIGIL_WINDOWS_AGENT_EXE
                        " is missing: build it with "
                        "scripts/build-windows-agent.sh");
  TempDir tmp;
  std::map<std::string, std::string> settings = fastPresenceSettings();
  settings["beacon.intervalSeconds"] = "1";
  // Over HTTPS the agent beats less often than the collector's keep-alive timeout (2 s, as
  // shipped), so every beat meets a connection the collector has closed with close_notify.
  const std::string interval_s = https ? "3" : "1";
  settings["heartbeat.intervalSeconds"] = interval_s;
  std::optional<TestCertificateAuthority> ca;
  const std::string ca_file = tmp.sub("ca.pem");
  if (https) {
    ca.emplace();
    const TlsCredentials served = ca->issueLoopbackServer();
    std::ofstream(ca_file) << ca->certPem();
    std::ofstream(tmp.sub("server.pem")) << served.cert_pem;
    std::ofstream(tmp.sub("server.key")) << served.key_pem;
    settings["tls.certificateFile"] = tmp.sub("server.pem");
    settings["tls.privateKeyFile"] = tmp.sub("server.key");
  }
  Collector collector(tmp.sub("collector"), settings);
  if (https) collector.setCaFile(ca_file);
  collector.start();

  WinePrefix wine(std::string(VIGIL_WINE_PREFIX_ROOT) + "/" + name);
  const std::string state = tmp.sub("agent");
  const std::string log = state + ".log";
  std::ofstream(state + ".conf") << "# everything is on the command line\n";
  // Over HTTPS by name: libcurl 7.88's Schannel matches the host only against the
  // certificate's DNS names, never its IP addresses (docs/platforms.md).
  const std::string server = https ? "https://localhost:" : "http://127.0.0.1:";
  std::vector<std::string> args = {VIGIL_WINDOWS_AGENT_EXE,
                                   "--server",
                                   server + std::to_string(collector.port()),
                                   "--token",
                                   collector.enrollToken(),
                                   "--state-dir",
                                   windowsPath(state),
                                   "--config",
                                   windowsPath(state + ".conf"),
                                   "--log-level",
                                   "debug",
                                   "--min-interval",
                                   interval_s,
                                   "-D",
                                   "peer_witness=false"};
  if (https) {
    args.push_back("--ca-file");
    args.push_back(windowsPath(ca_file));
  }
  auto agent = wine.start(args, log);

  std::string id;
  BOOST_REQUIRE_MESSAGE(eventually([&] { return !(id = enrolledAgentId(state)).empty(); }, 60s),
                        "agent did not enroll; agent log:\n"
                            << logTail(log) << "\ncollector log:\n"
                            << logTail(collector.logPath()));
  BOOST_REQUIRE_MESSAGE(eventually([&] { return agentStatus(collector, id) == "ONLINE"; }, 30s),
                        "agent never ONLINE; agent log:\n"
                            << logTail(log));
  BOOST_TEST(collector.agent(id)->getValue<std::string>("os_name") == "windows");

  // At least 20 heartbeats, every request answered: not one failure in the agent's log.
  BOOST_REQUIRE_MESSAGE(eventually([&] { return lastSeqOf(collector, id) >= 20; }, 120s),
                        "fewer than 20 heartbeats; agent log:\n"
                            << logTail(log));
  // The collector counts a heartbeat before it answers, the agent logs it after the answer:
  // its 20th line may still be on its way.
  BOOST_TEST(
      eventually([&] { return occurrences(readFile(log), "heartbeat accepted") >= 20u; }, 10s));
  const std::string beating = readFile(log);
  BOOST_TEST(occurrences(beating, "failed") == 0u, "failed requests; agent log:\n" << beating);
  BOOST_TEST(!evidenceSeen(collector, id, "beacon").empty(), "no beacon seen; agent log:\n"
                                                                 << logTail(log));

  // The collector goes away and comes back: the outage diary arrives with the next beat.
  BOOST_TEST(collector.stop() == 0);
  BOOST_REQUIRE_MESSAGE(
      eventually([&] { return readFile(log).find("failed: network error") != std::string::npos; },
                 20s),
      "agent never noticed the outage; agent log:\n"
          << logTail(log));
  collector.start();
  BOOST_REQUIRE_MESSAGE(eventually([&] { return outagesReported(collector, id) >= 1; }, 40s),
                        "no outage reported; agent log:\n"
                            << logTail(log));
  BOOST_TEST(collector.agent(id)->getArray("outages")->getObject(0)->getValue<std::string>(
                 "cause") == "connect");
  BOOST_TEST(eventually([&] { return agentStatus(collector, id) == "ONLINE"; }, 20s));

  // Ctrl-C: the console control handler says goodbye and the agent exits 0.
  agent->signal(SIGINT);
  BOOST_TEST(agent->waitExit(20s).value_or(-1) == 0);
  BOOST_TEST(readFile(log).find("goodbye notice (service_stop) delivered") != std::string::npos,
             "no goodbye; agent log:\n"
                 << logTail(log));
  BOOST_REQUIRE(eventually([&] { return agentStatus(collector, id) == "SHUTDOWN"; }, 10s));
  // Well past the confirmation window: still SHUTDOWN, no alert.
  BOOST_TEST(!eventually([&] { return agentStatus(collector, id) != "SHUTDOWN"; }, 3s));
  BOOST_TEST(!collector.agent(id)->getValue<bool>("alert_open"));
}

}  // namespace

BOOST_AUTO_TEST_CASE(windows_agent_under_wine_over_http) { runAgentUnderWine("http", false); }

BOOST_AUTO_TEST_CASE(windows_agent_under_wine_over_https_with_a_private_ca) {
  runAgentUnderWine("https", true);
}
