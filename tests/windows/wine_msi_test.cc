#define BOOST_TEST_MODULE windows_wine_msi
// The Vigil Agent MSI (scripts/package.sh --windows: the real vigil-agent.exe) installed,
// controlled, repaired and removed under wine, against a real Linux vigil-collector on
// loopback: `msiexec /i /qn SERVER_URL=... ENROLL_TOKEN=...` enrolls the agent and starts the
// VigilAgent service (ONLINE, os_name windows); `sc stop` says goodbye (SHUTDOWN, no alert);
// `sc start` brings it back ONLINE; a repair (REINSTALL=ALL) keeps its identity; `msiexec /x`
// retires it at the collector.
#include <boost/test/unit_test.hpp>
#include <filesystem>
#include <string>

#include "tests/integration/agent_checks.h"
#include "tests/integration/harness.h"
#include "tests/support/temp_dir.h"
#include "tests/windows/wine_prefix.h"

using namespace std::chrono_literals;
using namespace vigil::testing;

BOOST_AUTO_TEST_CASE(msi_installs_stops_starts_repairs_and_retires_the_agent_under_wine) {
  BOOST_REQUIRE_MESSAGE(std::filesystem::exists(VIGIL_WINDOWS_AGENT_MSI), VIGIL_WINDOWS_AGENT_MSI
                        " is missing: build it with "
                        "scripts/package.sh --windows");
  TempDir tmp;
  Collector collector(tmp.sub("collector"), fastPresenceSettings());
  collector.start();
  WinePrefix wine(std::string(VIGIL_WINE_PREFIX_ROOT) + "/msi");
  const std::string msi = windowsPath(VIGIL_WINDOWS_AGENT_MSI);
  const std::string out = tmp.sub("wine.log");
  // The installer's own verbose log, and the agent's enroll/retire output (installer.log).
  const std::string msi_log = tmp.sub("msiexec.log");
  const std::string data_dir = wine.driveC() + "/ProgramData/Vigil";
  auto logs = [&] {
    return "\nmsiexec log:\n" + logTail(msi_log) + "\ninstaller.log:\n" +
           logTail(data_dir + "/installer.log") + "\ncollector log:\n" +
           logTail(collector.logPath());
  };

  const int installed = wine.run({"msiexec", "/i", msi, "/qn", "/l*v", windowsPath(msi_log),
                                  "SERVER_URL=http://127.0.0.1:" + std::to_string(collector.port()),
                                  "ENROLL_TOKEN=" + collector.enrollToken()},
                                 out, 300s);
  BOOST_REQUIRE_MESSAGE(installed == 0, "msiexec /i exited " << installed << logs());
  const std::string id = enrolledAgentId(data_dir + "/agent");
  BOOST_REQUIRE_MESSAGE(!id.empty(), "no identity after the install" << logs());
  BOOST_REQUIRE_MESSAGE(eventually([&] { return agentStatus(collector, id) == "ONLINE"; }, 60s),
                        "the service's agent never ONLINE" << logs());
  BOOST_TEST(collector.agent(id)->getValue<std::string>("os_name") == "windows");

  // sc stop: the service says goodbye.
  BOOST_TEST(wine.run({"sc", "stop", "VigilAgent"}, out, 60s) == 0);
  BOOST_REQUIRE_MESSAGE(eventually([&] { return agentStatus(collector, id) == "SHUTDOWN"; }, 20s),
                        "no SHUTDOWN after sc stop" << logs());
  BOOST_TEST(!eventually([&] { return agentStatus(collector, id) != "SHUTDOWN"; }, 3s));
  BOOST_TEST(!collector.agent(id)->getValue<bool>("alert_open"));

  // sc start: back ONLINE.
  BOOST_TEST(wine.run({"sc", "start", "VigilAgent"}, out, 60s) == 0);
  BOOST_REQUIRE_MESSAGE(eventually([&] { return agentStatus(collector, id) == "ONLINE"; }, 30s),
                        "not ONLINE after sc start" << logs());

  // A repair (a reinstall of every feature, files overwritten) restarts the service: the same
  // agent comes back. (wine's msiexec /fa takes a ProductCode only, not a package path.)
  const int repaired = wine.run({"msiexec", "/i", msi, "/qn", "/l*v", windowsPath(msi_log),
                                 "REINSTALL=ALL", "REINSTALLMODE=vamus"},
                                out, 300s);
  BOOST_TEST(repaired == 0, "repair exited " << repaired << logs());
  BOOST_TEST(enrolledAgentId(data_dir + "/agent") == id);
  BOOST_TEST(eventually([&] { return agentStatus(collector, id) == "ONLINE"; }, 30s));
  BOOST_TEST(collector.adminGet("/api/v1/agents").json()->getArray("items")->size() == 1u);

  // Uninstall: the agent is retired at the collector, its identity deleted.
  const int removed =
      wine.run({"msiexec", "/x", msi, "/qn", "/l*v", windowsPath(msi_log)}, out, 300s);
  BOOST_TEST(removed == 0, "msiexec /x exited " << removed << logs());
  BOOST_TEST(eventually(
                 [&] {
                   auto a = collector.agent(id);
                   return a && !a->isNull("retired_at");
                 },
                 30s),
             "not retired after msiexec /x" << logs());
  BOOST_TEST(enrolledAgentId(data_dir + "/agent").empty());
}
