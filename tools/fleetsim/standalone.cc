#include "tools/fleetsim/standalone.h"

#include <csignal>
#include <cstdio>
#include <thread>

#include "tools/fleetsim/report.h"
#include "tools/fleetsim/sim_fleet.h"

namespace vigil::fleetsim {
namespace {

volatile std::sig_atomic_t g_stop = 0;

extern "C" void onStopSignal(int) { g_stop = 1; }

void printPeriod(const char* label, const FleetStats& s, double seconds) {
  std::printf(
      "%s %.0f s: %.0f heartbeats/s accepted, %llu overloaded, %llu other errors, %llu transport "
      "errors, ingest p50 %.1f ms p99 %.1f ms, beacons %llu sent %llu acked, TLS handshakes "
      "%llu full %llu resumed\n",
      label, seconds, static_cast<double>(s.heartbeats_accepted) / seconds,
      static_cast<unsigned long long>(s.overloaded),
      static_cast<unsigned long long>(s.other_http_errors),
      static_cast<unsigned long long>(s.transport_errors), percentile(s.ingest_ms, 0.5),
      percentile(s.ingest_ms, 0.99), static_cast<unsigned long long>(s.beacons_sent),
      static_cast<unsigned long long>(s.beacon_acks),
      static_cast<unsigned long long>(s.tls_full_handshakes),
      static_cast<unsigned long long>(s.tls_resumed_handshakes));
  std::fflush(stdout);
}

}  // namespace

Status runStandaloneFleet(const StandaloneOptions& options) {
  if (options.url.empty() || options.enroll_token.empty()) {
    return Status::invalidArgument("fleet needs --url and --enroll-token");
  }
  FleetOptions fleet_options;
  fleet_options.base_url = options.url;
  fleet_options.ca_file = options.ca_file;
  fleet_options.max_connections = options.connections;
  fleet_options.connection_mode = options.connection_mode;
  fleet_options.agent_concurrency = options.agent_concurrency;
  fleet_options.seed = options.seed;
  Fleet fleet(fleet_options);
  fleet.addAgents(options.agents, options.enroll_token, "fleet");
  std::printf("enrolling %u agents at %s\n", options.agents, options.url.c_str());
  std::fflush(stdout);
  if (Status s = fleet.enroll(); !s.ok()) return s;
  std::signal(SIGINT, onStopSignal);
  std::signal(SIGTERM, onStopSignal);
  fleet.start(false);
  const auto start = std::chrono::steady_clock::now();
  auto period_start = start;
  FleetStats total;
  while (!g_stop) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    const auto now = std::chrono::steady_clock::now();
    const bool over = options.seconds > 0 && now - start >= std::chrono::seconds(options.seconds);
    if (now - period_start >= std::chrono::seconds(10) || over) {
      FleetStats s = fleet.takeStats();
      printPeriod("last", s, std::chrono::duration<double>(now - period_start).count());
      total.add(s);
      period_start = now;
    }
    if (over) break;
  }
  fleet.stop();
  printPeriod("total", total,
              std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  return Status::okStatus();
}

}  // namespace vigil::fleetsim
