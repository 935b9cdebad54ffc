#include "tools/fleetsim/capacity.h"

#include <cjson/cJSON.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <optional>
#include <sstream>
#include <thread>

#include "common/json.h"
#include "tests/integration/fake_collector.h"
#include "tools/fleetsim/cluster_lab.h"
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

// CPU time of what serves the fleet, at one moment.
struct ServingCpu {
  std::vector<double> collectors;  // seconds, each collector's
  double front = 0;                // HAProxy's
  double database = 0;             // PostgreSQL's
  uint64_t largest_rss = 0;        // of the collectors
};

// What the fleet heartbeats to: one collector, or a cluster behind HAProxy.
class Target {
 public:
  virtual ~Target() = default;
  // Where agents and the admin API go; the admin token is set.
  virtual CollectorHttp& http() = 0;
  virtual std::string caFile() const = 0;
  // Restarts every collector with the heartbeat interval it hands out; ready when it returns.
  virtual Status restartWithInterval(int64_t interval_s) = 0;
  // nullopt when a collector cannot be read.
  virtual std::optional<ServingCpu> sampleCpu() = 0;
  virtual Status stop() = 0;
};

class SingleCollector : public Target {
 public:
  static Result<std::unique_ptr<Target>> start(const CapacityOptions& options,
                                               const std::string& work_dir) {
    std::unique_ptr<SingleCollector> t(new SingleCollector);
    t->setup_ = heartbeatOnlySetup(options.collector_binary, work_dir, 60);
    if (options.tls) {
      t->ca_ = std::make_unique<testing::TestCertificateAuthority>();
      serveTlsFrom(*t->ca_, work_dir, t->setup_);
    }
    t->collector_ = std::make_unique<CollectorControl>(t->setup_);
    if (Status s = t->collector_->start(); !s.ok()) return s;
    t->admin_ = CollectorHttp(t->collector_->http().baseUrl(), t->setup_.ca_file);
    if (Status s = useBootstrapToken(t->admin_, t->setup_.data_dir); !s.ok()) return s;
    return std::unique_ptr<Target>(std::move(t));
  }
  CollectorHttp& http() override { return admin_; }
  std::string caFile() const override { return setup_.ca_file; }
  Status restartWithInterval(int64_t interval_s) override {
    setup_.defines["heartbeat.intervalSeconds"] = std::to_string(interval_s);
    if (Status s = collector_->stop(); !s.ok()) return s;
    collector_ = std::make_unique<CollectorControl>(setup_);
    return collector_->start();
  }
  std::optional<ServingCpu> sampleCpu() override {
    const auto sample = sampleProcess(collector_->pid());
    if (!sample) return std::nullopt;
    ServingCpu cpu;
    cpu.collectors.push_back(sample->cpu_seconds);
    cpu.largest_rss = sample->rss_bytes;
    return cpu;
  }
  Status stop() override { return collector_->stop(); }

 private:
  SingleCollector() = default;
  CollectorSetup setup_;
  std::unique_ptr<testing::TestCertificateAuthority> ca_;
  std::unique_ptr<CollectorControl> collector_;
  CollectorHttp admin_{"", ""};
};

class Cluster : public Target {
 public:
  static Result<std::unique_ptr<Target>> start(const CapacityOptions& options,
                                               const std::string& work_dir) {
    ClusterLabSetup setup;
    setup.collector_binary = options.collector_binary;
    setup.haproxy_binary = options.haproxy_binary;
    setup.haproxy_template = options.haproxy_template;
    setup.work_dir = work_dir;
    setup.collectors = options.collectors;
    setup.slots = options.collectors;
    // The single collector's settings, so that only the topology differs.
    setup.defines = heartbeatOnlyDefines(60);
    auto lab = ClusterLab::start(setup, [](const std::string& line) {
      std::fprintf(stderr, "[capacity] %s\n", line.c_str());
    });
    if (!lab.ok()) return lab.error();
    std::unique_ptr<Cluster> t(new Cluster);
    t->lab_ = std::move(lab.value());
    return std::unique_ptr<Target>(std::move(t));
  }
  CollectorHttp& http() override { return lab_->http(); }
  std::string caFile() const override { return ""; }
  // Also makes every collector know every agent enrolled so far (ClusterLab::restartAll), as
  // in a cluster that has run for a while.
  Status restartWithInterval(int64_t interval_s) override {
    return lab_->restartAll(std::chrono::seconds(180),
                            {{"heartbeat.intervalSeconds", std::to_string(interval_s)}});
  }
  std::optional<ServingCpu> sampleCpu() override {
    ServingCpu cpu;
    for (uint32_t n : lab_->running()) {
      const auto sample = sampleProcess(lab_->collector(n).pid());
      if (!sample) return std::nullopt;
      cpu.collectors.push_back(sample->cpu_seconds);
      cpu.largest_rss = std::max(cpu.largest_rss, sample->rss_bytes);
    }
    const auto front = lab_->haproxySample();
    if (!front) return std::nullopt;
    cpu.front = front->cpu_seconds;
    cpu.database = lab_->postgresCpuSeconds();
    return cpu;
  }
  Status stop() override {
    lab_->stopAll();
    return Status::okStatus();
  }

 private:
  Cluster() = default;
  std::unique_ptr<ClusterLab> lab_;
};

}  // namespace

Result<CapacityResult> measureCapacity(const CapacityOptions& options) {
  CapacityResult result;
  result.agents = options.max_agents;
  result.collectors = options.collectors;
  result.tls = options.tls;
  result.connection_mode = options.connection_mode;
  if (options.collectors > 0 && options.tls) {
    return Status::invalidArgument(
        "capacity --tls measures one collector: the cluster's collectors serve plain HTTP on "
        "loopback behind HAProxy");
  }
  const std::string work_dir = (std::filesystem::temp_directory_path() /
                                ("vigil-fleetsim-capacity-" + std::to_string(::getpid())))
                                   .string();
  std::filesystem::remove_all(work_dir);
  std::filesystem::create_directories(work_dir);
  auto started = options.collectors > 0 ? Cluster::start(options, work_dir)
                                        : SingleCollector::start(options, work_dir);
  if (!started.ok()) return started.error();
  std::unique_ptr<Target> target = std::move(started.value());
  auto tenant = defaultTenantId(target->http());
  if (!tenant.ok()) return tenant.error();

  FleetOptions fleet_options;
  fleet_options.base_url = target->http().baseUrl();
  fleet_options.ca_file = target->caFile();
  fleet_options.max_connections = options.connections;
  fleet_options.connection_mode = options.connection_mode;
  fleet_options.agent_concurrency = options.agent_concurrency;
  fleet_options.beacons = false;
  fleet_options.scheduler.min_interval = std::chrono::seconds(1);
  Fleet fleet(fleet_options);
  for (uint32_t added = 0, site = 0; added < options.max_agents; ++site) {
    auto s = createSite(target->http(), *tenant, "capacity-" + std::to_string(site));
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
    if (Status s = target->restartWithInterval(interval); !s.ok()) return s;
    std::this_thread::sleep_for(std::chrono::seconds(previous_interval + interval + 2));
    previous_interval = interval;
    fleet.takeStats();
    const auto cpu_before = target->sampleCpu();
    const auto t0 = std::chrono::steady_clock::now();
    std::this_thread::sleep_for(std::chrono::seconds(options.step_seconds));
    const double elapsed =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const auto cpu_after = target->sampleCpu();
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
    if (cpu_before && cpu_after && cpu_before->collectors.size() == cpu_after->collectors.size()) {
      const double per_heartbeat_us = stats.heartbeats_accepted > 0
                                          ? 1e6 / static_cast<double>(stats.heartbeats_accepted)
                                          : 0.0;
      double collectors_s = 0;
      for (size_t i = 0; i < cpu_after->collectors.size(); ++i) {
        const double s = cpu_after->collectors[i] - cpu_before->collectors[i];
        step.collector_cpu_shares.push_back(s / elapsed);
        collectors_s += s;
      }
      step.collector_cpu_share = collectors_s / elapsed;
      step.collector_cpu_us_per_heartbeat = collectors_s * per_heartbeat_us;
      step.front_cpu_us_per_heartbeat = (cpu_after->front - cpu_before->front) * per_heartbeat_us;
      step.database_cpu_us_per_heartbeat =
          (cpu_after->database - cpu_before->database) * per_heartbeat_us;
      result.collector_rss_bytes = cpu_after->largest_rss;
    }
    step.sustained = step.server_p99_ms < kLatencyBoundMs &&
                     step.accepted_per_s >= kAcceptedShare * step.offered_per_s &&
                     step.transport_errors == 0;
    std::fprintf(stderr,
                 "[capacity] interval %lld s: offered %.0f/s accepted %.0f/s p99 %.1f ms, "
                 "%llu overloaded, %llu transport errors, collectors %.0f us/heartbeat "
                 "(HAProxy %.0f, PostgreSQL %.0f), TLS handshakes %llu full %llu resumed\n",
                 static_cast<long long>(interval), step.offered_per_s, step.accepted_per_s,
                 step.server_p99_ms, static_cast<unsigned long long>(step.overloaded),
                 static_cast<unsigned long long>(step.transport_errors),
                 step.collector_cpu_us_per_heartbeat, step.front_cpu_us_per_heartbeat,
                 step.database_cpu_us_per_heartbeat,
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
  if (Status s = target->stop(); !s.ok()) return s;
  target.reset();
  std::filesystem::remove_all(work_dir);
  result.largest_fleet_at_60s = static_cast<uint64_t>(result.sustained_per_s * 60);
  return result;
}

std::string capacityTable(const CapacityResult& r) {
  std::ostringstream t;
  char line[300];
  const bool cluster = r.collectors > 0;
  t << "capacity: " << r.agents << " simulated agents, heartbeats over "
    << (r.tls ? "HTTPS" : "HTTP") << " on loopback, connections " << modeName(r.connection_mode);
  if (cluster) {
    t << ", " << r.collectors << " collector" << (r.collectors == 1 ? "" : "s")
      << " on PostgreSQL behind HAProxy";
  }
  t << "\n";
  t << "| interval s | offered /s | accepted /s | p50 ms | p99 ms | 503/429 | transport err | "
       "collectors' CPU | each collector | collectors us/heartbeat | HAProxy us/heartbeat | "
       "PostgreSQL us/heartbeat | TLS full/resumed | sustained |\n";
  t << "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n";
  for (const CapacityStep& s : r.steps) {
    std::string each;
    for (double share : s.collector_cpu_shares) {
      if (!each.empty()) each += " / ";
      each += std::to_string(std::lround(100 * share)) + " %";
    }
    auto cluster_only = [&](double us) {
      return cluster ? std::to_string(std::lround(us)) : std::string("-");
    };
    std::snprintf(line, sizeof line,
                  "| %lld | %.0f | %.0f | %.1f | %.1f | %llu | %llu | %.0f %% | %s | %.0f | %s | "
                  "%s | %llu/%llu | %s |\n",
                  static_cast<long long>(s.interval_s), s.offered_per_s, s.accepted_per_s,
                  s.server_p50_ms, s.server_p99_ms, static_cast<unsigned long long>(s.overloaded),
                  static_cast<unsigned long long>(s.transport_errors), 100 * s.collector_cpu_share,
                  each.c_str(), s.collector_cpu_us_per_heartbeat,
                  cluster_only(s.front_cpu_us_per_heartbeat).c_str(),
                  cluster_only(s.database_cpu_us_per_heartbeat).c_str(),
                  static_cast<unsigned long long>(s.tls_full_handshakes),
                  static_cast<unsigned long long>(s.tls_resumed_handshakes),
                  s.sustained ? "yes" : "no");
    t << line;
  }
  std::snprintf(
      line, sizeof line,
      "sustained heartbeat rate (p99 < 100 ms, >= 99 %% accepted): %.0f /s (limited by %s)\n"
      "largest fleet at 60 s intervals: %llu agents; %s RSS with %u agents: %llu MiB\n",
      r.sustained_per_s, r.limited_by.c_str(),
      static_cast<unsigned long long>(r.largest_fleet_at_60s),
      cluster ? "largest collector's" : "collector", r.agents,
      static_cast<unsigned long long>(r.collector_rss_bytes >> 20));
  t << line;
  return t.str();
}

std::string capacityJson(const CapacityResult& r) {
  json::JsonPtr root(cJSON_CreateObject());
  json::addInteger(root.get(), "agents", r.agents);
  json::addInteger(root.get(), "collectors", r.collectors);
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
    cJSON* shares = cJSON_AddArrayToObject(o, "collector_cpu_shares");
    for (double share : s.collector_cpu_shares) {
      cJSON_AddItemToArray(shares, cJSON_CreateNumber(share));
    }
    cJSON_AddNumberToObject(o, "collector_cpu_us_per_heartbeat", s.collector_cpu_us_per_heartbeat);
    cJSON_AddNumberToObject(o, "front_cpu_us_per_heartbeat", s.front_cpu_us_per_heartbeat);
    cJSON_AddNumberToObject(o, "database_cpu_us_per_heartbeat", s.database_cpu_us_per_heartbeat);
    json::addInteger(o, "tls_full_handshakes", static_cast<int64_t>(s.tls_full_handshakes));
    json::addInteger(o, "tls_resumed_handshakes", static_cast<int64_t>(s.tls_resumed_handshakes));
    cJSON_AddBoolToObject(o, "sustained", s.sustained ? 1 : 0);
    cJSON_AddItemToArray(steps, o);
  }
  return json::print(root.get());
}

}  // namespace vigil::fleetsim
