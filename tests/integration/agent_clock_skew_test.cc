#define BOOST_TEST_MODULE integration_agent_clock_skew
// Issue 16: the real vigil-agent with its wall clock 10 minutes ahead (libfaketime, the wall
// clock only: CLOCK_MONOTONIC stays the machine's) against a real vigil-collector. Its first
// heartbeat is refused as stale_timestamp and corrects its clock offset; from that correction
// on its UDP beacons and LAN peer announcements carry the corrected clock too, so the
// collector accepts its beacons (none dropped as stale) and a peer whose clock is right hears
// it. libfaketime (Debian package faketime) is required: scripts/install-deps.sh --test
// installs it, and without it the test fails saying so.
#include <boost/test/unit_test.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <optional>
#include <random>
#include <regex>
#include <sstream>
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
using vigil::testing::randomPeerPort;
using vigil::testing::TempDir;

namespace {

constexpr double kAheadS = 600;  // FAKETIME "+10m"

// libfaketime's multi-threaded variant (Debian package faketime), or "" if not installed.
std::string libfaketimePath() {
  std::error_code ec;
  for (const auto& dir : std::filesystem::directory_iterator("/usr/lib", ec)) {
    const std::filesystem::path candidate = dir.path() / "faketime" / "libfaketimeMT.so.1";
    if (std::filesystem::exists(candidate, ec)) return candidate.string();
  }
  return "";
}

// The environment that runs a process with its wall clock kAheadS ahead and its monotonic
// clock left alone.
std::map<std::string, std::string> wallClockAhead(const std::string& library) {
  return {{"LD_PRELOAD", library}, {"FAKETIME", "+10m"}, {"FAKETIME_DONT_FAKE_MONOTONIC", "1"}};
}

double nowS(const std::chrono::system_clock::time_point t) {
  return std::chrono::duration<double>(t.time_since_epoch()).count();
}
double nowS(const std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(t.time_since_epoch()).count();
}

// Runs python3 under `environment` and returns what it reads from its wall and monotonic
// clocks minus ours: {kAheadS, 0} when only the wall clock is faked.
std::optional<std::pair<double, double>> clockSkewUnder(
    const std::map<std::string, std::string>& environment) {
  std::string command = "env";
  for (const auto& [name, value] : environment) command += " " + name + "='" + value + "'";
  command += " python3 -c 'import time; print(time.time(), time.monotonic())'";
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) return std::nullopt;
  char line[128] = {};
  const bool read = std::fgets(line, sizeof line, pipe) != nullptr;
  ::pclose(pipe);
  const double wall_now = nowS(std::chrono::system_clock::now());
  const double mono_now = nowS(std::chrono::steady_clock::now());
  double wall = 0;
  double mono = 0;
  if (!read || std::sscanf(line, "%lf %lf", &wall, &mono) != 2) return std::nullopt;
  return std::make_pair(wall - wall_now, mono - mono_now);
}

// The environment for a skewed agent.
std::map<std::string, std::string> skewedAgentEnvironment() {
  const std::string library = libfaketimePath();
  BOOST_REQUIRE_MESSAGE(!library.empty(),
                        "libfaketime is not installed (Debian package faketime: "
                        "scripts/install-deps.sh --test installs it)");
  std::map<std::string, std::string> environment = wallClockAhead(library);
  // libfaketime really moves the wall clock here, and only the wall clock.
  const auto skew = clockSkewUnder(environment);
  BOOST_REQUIRE_MESSAGE(skew.has_value(), "cannot read the clocks of a process under libfaketime");
  BOOST_REQUIRE_MESSAGE(std::abs(skew->first - kAheadS) < 5,
                        "wall clock under libfaketime is " << skew->first << " s ahead");
  BOOST_REQUIRE_MESSAGE(std::abs(skew->second) < 5,
                        "monotonic clock under libfaketime is " << skew->second << " s off");
  return environment;
}

std::map<std::string, std::string> fastCollectorSettings() {
  return {{"heartbeat.intervalSeconds", "2"},
          {"store.flushIntervalMs", "200"},
          {"beacon.port", "0"},
          {"beacon.intervalSeconds", "1"}};
}

// The clock offset the agent logged after a stale_timestamp refusal, in seconds.
std::optional<double> loggedClockOffset(const Agent& agent) {
  static const std::regex kLine("clock offset set to ([+-][0-9]+\\.[0-9]+) s");
  const std::string log = logTail(agent.logPath(), 1 << 20);
  std::smatch m;
  if (!std::regex_search(log, m, kLine)) return std::nullopt;
  return std::stod(m[1].str());
}

// Waits for the agent's correction and checks it undoes the skew.
void requireClockCorrected(const Agent& agent) {
  std::optional<double> offset;
  BOOST_REQUIRE_MESSAGE(
      eventually([&] { return (offset = loggedClockOffset(agent)).has_value(); }, 20s),
      "the agent's heartbeat was never refused as stale; agent log:\n"
          << logTail(agent.logPath()));
  BOOST_TEST(std::abs(*offset + kAheadS) < 5, "clock offset " << *offset << " s");
}

int64_t beaconCounter(const Collector& c, const std::string& name) {
  auto health = c.adminGet("/api/v1/health").json();
  if (!health || !health->getObject("beacon")) return -1;
  auto beacon = health->getObject("beacon");
  if (name == "accepted") return beacon->getValue<int64_t>("accepted");
  return beacon->getObject("dropped")->getValue<int64_t>(name);
}

}  // namespace

BOOST_AUTO_TEST_CASE(beacons_of_an_agent_whose_clock_runs_ahead_are_accepted_after_the_correction) {
  const std::map<std::string, std::string> skewed = skewedAgentEnvironment();
  TempDir tmp;
  Collector collector(tmp.sub("collector"), fastCollectorSettings());
  collector.start();
  Agent agent(tmp.sub("agent"), collector.port(), collector.enrollToken());
  agent.setExtraArgs({"-D", "peer_witness=false"});
  agent.setEnvironment(skewed);
  agent.start();
  const std::string id = enrolledId(agent);
  requireClockCorrected(agent);

  // The agent's only beacon stamped with the wrong clock is the one its channel sent at once,
  // when it started before the first heartbeat was answered; every later one is accepted.
  BOOST_REQUIRE_MESSAGE(eventually([&] { return beaconCounter(collector, "accepted") >= 3; }, 20s),
                        "beacons not accepted; health: "
                            << collector.adminGet("/api/v1/health").body << "\nagent log:\n"
                            << logTail(agent.logPath()));
  const int64_t stale = beaconCounter(collector, "stale");
  BOOST_TEST(stale <= 1);
  const int64_t accepted = beaconCounter(collector, "accepted");
  BOOST_REQUIRE(
      eventually([&] { return beaconCounter(collector, "accepted") >= accepted + 5; }, 20s));
  BOOST_TEST(beaconCounter(collector, "stale") == stale, "beacons dropped as stale later");
  BOOST_TEST(beaconCounter(collector, "replayed") == 0);
  BOOST_TEST(beaconCounter(collector, "bad_signature") == 0);
  BOOST_TEST(!evidenceSeen(collector, id, "beacon").empty());

  const std::string log = logTail(agent.logPath(), 1 << 20);
  BOOST_TEST(log.find("pausing beacons") == std::string::npos, log);
  BOOST_TEST(agent.stop() == 0);
}

BOOST_AUTO_TEST_CASE(a_peer_whose_clock_runs_ahead_is_heard_after_the_correction) {
  const std::map<std::string, std::string> skewed = skewedAgentEnvironment();
  TempDir tmp;
  Collector collector(tmp.sub("collector"), fastCollectorSettings());
  collector.start();
  const std::string port = randomPeerPort();
  const std::vector<std::string> args = {"-D", "peer_port=" + port, "-D", "peer_interval_s=5"};
  Agent ahead(tmp.sub("agent-ahead"), collector.port(), collector.enrollToken());
  Agent right(tmp.sub("agent-right"), collector.port(), collector.enrollToken());
  ahead.setExtraArgs(args);
  right.setExtraArgs(args);
  ahead.setEnvironment(skewed);
  ahead.start();
  right.start();
  const std::string id_ahead = enrolledId(ahead);
  const std::string id_right = enrolledId(right);
  requireClockCorrected(ahead);
  // The agent whose clock is right hears the corrected announcements and reports them; the
  // other one judges what it hears by its corrected clock.
  BOOST_REQUIRE_MESSAGE(eventually(
                            [&] {
                              return !evidenceSeen(collector, id_ahead, "peer_witness").empty() &&
                                     !evidenceSeen(collector, id_right, "peer_witness").empty();
                            },
                            30s),
                        "no peer evidence; agent ahead log:\n"
                            << logTail(ahead.logPath()) << "\nagent right log:\n"
                            << logTail(right.logPath()));
  BOOST_TEST(ahead.stop() == 0);
  BOOST_TEST(right.stop() == 0);
}
