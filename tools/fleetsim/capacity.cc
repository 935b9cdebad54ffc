#include "tools/fleetsim/capacity.h"

#include <cjson/cJSON.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <sstream>
#include <thread>

#include "common/json.h"
#include "tests/integration/fake_collector.h"
#include "tools/fleetsim/collector_control.h"
#include "tools/fleetsim/report.h"

namespace vigil::fleetsim {
namespace {

constexpr double kLatencyBoundMs = 100;
constexpr double kAcceptedShare = 0.99;
constexpr uint32_t kAgentsPerSite = 250;

const char* modeName(ConnectionMode mode) {
  return mode == ConnectionMode::kAgent ? "agent" : "pooled";
}

}  // namespace

Result<CapacityResult> measureCapacity(const CapacityOptions& options) {
  CapacityResult result;
  result.agents = options.max_agents;
  result.tls = options.tls;
  result.connection_mode = options.connection_mode;
  const std::string work_dir = (std::filesystem::temp_directory_path() /
                                ("vigil-fleetsim-capacity-" + std::to_string(::getpid())))
                                   .string();
  std::filesystem::remove_all(work_dir);
  CollectorSetup setup = heartbeatOnlySetup(options.collector_binary, work_dir, 60);
  std::unique_ptr<testing::TestCertificateAuthority> ca;
  if (options.tls) {
    ca = std::make_unique<testing::TestCertificateAuthority>();
    serveTlsFrom(*ca, work_dir, setup);
  }
  auto collector = std::make_unique<CollectorControl>(setup);
  if (Status s = collector->start(); !s.ok()) return s;
  if (Status s = useBootstrapToken(collector->http(), setup.data_dir); !s.ok()) return s;
  auto tenant = defaultTenantId(collector->http());
  if (!tenant.ok()) return tenant.error();

  FleetOptions fleet_options;
  fleet_options.base_url = collector->http().baseUrl();
  fleet_options.ca_file = setup.ca_file;
  fleet_options.max_connections = options.connections;
  fleet_options.connection_mode = options.connection_mode;
  fleet_options.agent_concurrency = options.agent_concurrency;
  fleet_options.beacons = false;
  fleet_options.scheduler.min_interval = std::chrono::seconds(1);
  Fleet fleet(fleet_options);
  for (uint32_t added = 0, site = 0; added < options.max_agents; ++site) {
    auto s = createSite(collector->http(), *tenant, "capacity-" + std::to_string(site));
    if (!s.ok()) return s.error();
    const uint32_t n = std::min(kAgentsPerSite, options.max_agents - added);
    fleet.addAgents(n, s->enroll_token, "capacity-" + std::to_string(site));
    added += n;
  }
  std::fprintf(stderr, "[capacity] enrolling %u agents\n", options.max_agents);
  if (Status s = fleet.enroll(); !s.ok()) return s;
  fleet.start(false);

  int64_t previous_interval = 60;
  for (int64_t interval : options.intervals_s) {
    // The new interval reaches each agent with its next answer: wait one old interval.
    setup.defines["heartbeat.intervalSeconds"] = std::to_string(interval);
    if (Status s = collector->stop(); !s.ok()) return s;
    collector = std::make_unique<CollectorControl>(setup);
    if (Status s = collector->start(); !s.ok()) return s;
    std::this_thread::sleep_for(std::chrono::seconds(previous_interval + interval + 2));
    previous_interval = interval;
    fleet.takeStats();
    const auto cpu_before = sampleProcess(collector->pid());
    const auto t0 = std::chrono::steady_clock::now();
    std::this_thread::sleep_for(std::chrono::seconds(options.step_seconds));
    const double elapsed =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const auto cpu_after = sampleProcess(collector->pid());
    FleetStats stats = fleet.takeStats();
    CapacityStep step;
    step.interval_s = interval;
    step.offered_per_s = static_cast<double>(options.max_agents) / static_cast<double>(interval);
    step.accepted_per_s = static_cast<double>(stats.heartbeats_accepted) / elapsed;
    step.server_p50_ms = percentile(stats.server_ms, 0.50);
    step.server_p99_ms = percentile(stats.server_ms, 0.99);
    step.overloaded = stats.overloaded;
    step.transport_errors = stats.transport_errors;
    step.tls_full_handshakes = stats.tls_full_handshakes;
    step.tls_resumed_handshakes = stats.tls_resumed_handshakes;
    if (cpu_before && cpu_after) {
      const double cpu_s = cpu_after->cpu_seconds - cpu_before->cpu_seconds;
      step.collector_cpu_share = cpu_s / elapsed;
      if (stats.heartbeats_accepted > 0) {
        step.collector_cpu_us_per_heartbeat =
            1e6 * cpu_s / static_cast<double>(stats.heartbeats_accepted);
      }
      result.collector_rss_bytes = cpu_after->rss_bytes;
    }
    step.sustained = step.server_p99_ms < kLatencyBoundMs &&
                     step.accepted_per_s >= kAcceptedShare * step.offered_per_s &&
                     step.transport_errors == 0;
    std::fprintf(stderr,
                 "[capacity] interval %lld s: offered %.0f/s accepted %.0f/s p99 %.1f ms, "
                 "%llu overloaded, %llu transport errors, collector %.0f us/heartbeat, "
                 "TLS handshakes %llu full %llu resumed\n",
                 static_cast<long long>(interval), step.offered_per_s, step.accepted_per_s,
                 step.server_p99_ms, static_cast<unsigned long long>(step.overloaded),
                 static_cast<unsigned long long>(step.transport_errors),
                 step.collector_cpu_us_per_heartbeat,
                 static_cast<unsigned long long>(step.tls_full_handshakes),
                 static_cast<unsigned long long>(step.tls_resumed_handshakes));
    result.steps.push_back(step);
    if (!step.sustained) {
      if (result.limited_by.empty()) {
        result.limited_by = step.server_p99_ms >= kLatencyBoundMs ? "p99 latency" : "accepted rate";
      }
      if (!options.all_steps) break;
      continue;
    }
    if (result.limited_by.empty()) {
      result.sustained_per_s = std::max(result.sustained_per_s, step.accepted_per_s);
    }
  }
  if (result.limited_by.empty()) result.limited_by = "the shortest interval tried";
  fleet.stop();
  if (Status s = collector->stop(); !s.ok()) return s;
  std::filesystem::remove_all(work_dir);
  result.largest_fleet_at_60s = static_cast<uint64_t>(result.sustained_per_s * 60);
  return result;
}

std::string capacityTable(const CapacityResult& r) {
  std::ostringstream t;
  char line[200];
  t << "capacity: " << r.agents << " simulated agents, heartbeats over "
    << (r.tls ? "HTTPS" : "HTTP") << " on loopback, connections " << modeName(r.connection_mode)
    << "\n";
  t << "| interval s | offered /s | accepted /s | p50 ms | p99 ms | 503/429 | transport err | "
       "collector CPU | CPU us/heartbeat | TLS full/resumed | sustained |\n";
  t << "|---|---|---|---|---|---|---|---|---|---|---|\n";
  for (const CapacityStep& s : r.steps) {
    std::snprintf(
        line, sizeof line,
        "| %lld | %.0f | %.0f | %.1f | %.1f | %llu | %llu | %.0f %% | %.0f | %llu/%llu "
        "| %s |\n",
        static_cast<long long>(s.interval_s), s.offered_per_s, s.accepted_per_s, s.server_p50_ms,
        s.server_p99_ms, static_cast<unsigned long long>(s.overloaded),
        static_cast<unsigned long long>(s.transport_errors), 100 * s.collector_cpu_share,
        s.collector_cpu_us_per_heartbeat, static_cast<unsigned long long>(s.tls_full_handshakes),
        static_cast<unsigned long long>(s.tls_resumed_handshakes), s.sustained ? "yes" : "no");
    t << line;
  }
  std::snprintf(
      line, sizeof line,
      "sustained heartbeat rate (p99 < 100 ms, >= 99 %% accepted): %.0f /s (limited by %s)\n"
      "largest fleet at 60 s intervals: %llu agents; collector RSS with %u agents: %llu MiB\n",
      r.sustained_per_s, r.limited_by.c_str(),
      static_cast<unsigned long long>(r.largest_fleet_at_60s), r.agents,
      static_cast<unsigned long long>(r.collector_rss_bytes >> 20));
  t << line;
  return t.str();
}

std::string capacityJson(const CapacityResult& r) {
  json::JsonPtr root(cJSON_CreateObject());
  json::addInteger(root.get(), "agents", r.agents);
  cJSON_AddBoolToObject(root.get(), "tls", r.tls ? 1 : 0);
  cJSON_AddStringToObject(root.get(), "connection_mode", modeName(r.connection_mode));
  cJSON_AddNumberToObject(root.get(), "sustained_per_s", r.sustained_per_s);
  json::addInteger(root.get(), "largest_fleet_at_60s",
                   static_cast<int64_t>(r.largest_fleet_at_60s));
  json::addInteger(root.get(), "collector_rss_bytes", static_cast<int64_t>(r.collector_rss_bytes));
  cJSON_AddStringToObject(root.get(), "limited_by", r.limited_by.c_str());
  cJSON* steps = cJSON_AddArrayToObject(root.get(), "steps");
  for (const CapacityStep& s : r.steps) {
    cJSON* o = cJSON_CreateObject();
    json::addInteger(o, "interval_s", s.interval_s);
    cJSON_AddNumberToObject(o, "offered_per_s", s.offered_per_s);
    cJSON_AddNumberToObject(o, "accepted_per_s", s.accepted_per_s);
    cJSON_AddNumberToObject(o, "server_p50_ms", s.server_p50_ms);
    cJSON_AddNumberToObject(o, "server_p99_ms", s.server_p99_ms);
    json::addInteger(o, "overloaded", static_cast<int64_t>(s.overloaded));
    json::addInteger(o, "transport_errors", static_cast<int64_t>(s.transport_errors));
    cJSON_AddNumberToObject(o, "collector_cpu_share", s.collector_cpu_share);
    cJSON_AddNumberToObject(o, "collector_cpu_us_per_heartbeat", s.collector_cpu_us_per_heartbeat);
    json::addInteger(o, "tls_full_handshakes", static_cast<int64_t>(s.tls_full_handshakes));
    json::addInteger(o, "tls_resumed_handshakes", static_cast<int64_t>(s.tls_resumed_handshakes));
    cJSON_AddBoolToObject(o, "sustained", s.sustained ? 1 : 0);
    cJSON_AddItemToArray(steps, o);
  }
  return json::print(root.get());
}

}  // namespace vigil::fleetsim
