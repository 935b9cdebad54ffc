#include "tools/fleetsim/runner.h"

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include "common/json.h"
#include "tests/integration/fake_collector.h"
#include "tests/integration/harness.h"
#include "tests/integration/webhook_receiver.h"
#include "tools/fleetsim/admin_writes.h"
#include "tools/fleetsim/api_reading.h"
#include "tools/fleetsim/cluster_lab.h"
#include "tools/fleetsim/cluster_steps.h"
#include "tools/fleetsim/collector_control.h"
#include "tools/fleetsim/collector_sampler.h"
#include "tools/fleetsim/office_lab.h"

namespace vigil::fleetsim {
namespace {

using std::chrono::duration_cast;
using std::chrono::milliseconds;
using std::chrono::steady_clock;

WallTime wallNow() { return std::chrono::system_clock::now(); }

// What a timeline action does to the collector's health: it opens a fault that a later action
// of the same family and target ends, ends one, is a fault in itself, or is none.
struct FaultRole {
  enum class Kind : uint8_t { kNone, kOpens, kEnds, kInstant };
  Kind kind = Kind::kNone;
  std::string family;
};

FaultRole faultRoleOf(const std::string& action) {
  using Kind = FaultRole::Kind;
  static const std::map<std::string, FaultRole> kRoles = {
      {"collector_kill", {Kind::kOpens, "collector down"}},
      {"collector_start", {Kind::kEnds, "collector down"}},
      {"collector_stop", {Kind::kOpens, "collector down"}},
      {"collector_add", {Kind::kInstant, "collector added"}},
      {"collector_remove", {Kind::kInstant, "collector removed"}},
      {"pg_restart", {Kind::kInstant, "database restarted"}},
      {"pg_stop", {Kind::kOpens, "database down"}},
      {"pg_start", {Kind::kEnds, "database down"}},
      {"db_cut", {Kind::kOpens, "collector cut off from the database"}},
      {"db_heal", {Kind::kEnds, "collector cut off from the database"}},
      {"collector_freeze", {Kind::kOpens, "collector frozen"}},
      {"collector_thaw", {Kind::kEnds, "collector frozen"}},
      {"cpu_starve_start", {Kind::kOpens, "cpu starved"}},
      {"cpu_starve_stop", {Kind::kEnds, "cpu starved"}},
      {"store_full_start", {Kind::kOpens, "store full"}},
      {"store_full_stop", {Kind::kEnds, "store full"}},
      {"site_partition_start", {Kind::kOpens, "site partitioned"}},
      {"site_partition_stop", {Kind::kEnds, "site partitioned"}},
      {"channel_block", {Kind::kOpens, "channel blocked"}},
      {"channel_unblock", {Kind::kEnds, "channel blocked"}},
      {"real_site_cut", {Kind::kOpens, "office cut off"}},
      {"real_site_heal", {Kind::kEnds, "office cut off"}},
      {"real_agent_kill", {Kind::kOpens, "office agent killed"}},
      {"real_agent_start", {Kind::kEnds, "office agent killed"}},
      {"collector_restart_tls", {Kind::kInstant, "graceful restart"}},
      {"fleet_boot", {Kind::kInstant, "fleet boot"}},
      {"real_agents_kill", {Kind::kInstant, "real agents killed"}},
  };
  auto it = kRoles.find(action);
  return it == kRoles.end() ? FaultRole{} : it->second;
}

// The collector's settings a fault must not lose, as comparable text; the site of the admin
// writes (`changing_site`, which the run renames) left out.
std::string settingsSnapshot(CollectorHttp& http, int64_t changing_site = 0) {
  std::string out;
  for (const char* path :
       {"/api/v1/sites?limit=1000", "/api/v1/webhooks?limit=1000", "/api/v1/tenants?limit=1000"}) {
    HttpAnswer a = http.get(path);
    json::JsonPtr doc = json::parse(a.body);
    out += std::string(path) + " " + std::to_string(a.status) + ":";
    const cJSON* items = doc ? cJSON_GetObjectItemCaseSensitive(doc.get(), "items") : nullptr;
    for (const cJSON* i = items ? items->child : nullptr; i; i = i->next) {
      if (changing_site != 0 && std::string(path).rfind("/api/v1/sites", 0) == 0 &&
          jsonInt(i, "id") == changing_site) {
        continue;
      }
      out += " " + std::to_string(jsonInt(i, "id")) + "=" + jsonString(i, "name") +
             jsonString(i, "url");
    }
    out += "\n";
  }
  return out;
}

// The scaled collector configuration: every duration of the presence engine, the webhooks
// and the answers to agents shrinks with the heartbeat interval, never below what the
// configuration accepts. At scale 1 nothing but the intervals (and the probation of new
// agents, below) is set.
std::map<std::string, std::string> scaledDefines(const Scenario& s, int64_t interval_s, double k) {
  std::map<std::string, std::string> d;
  auto secs = [&](const char* key, double real_s, int64_t floor_s) {
    d[key] = std::to_string(std::max<int64_t>(floor_s, std::llround(real_s * k)));
  };
  auto ms = [&](const char* key, double real_ms, int64_t floor_ms) {
    d[key] = std::to_string(std::max<int64_t>(floor_ms, std::llround(real_ms * k)));
  };
  d["heartbeat.intervalSeconds"] = std::to_string(interval_s);
  // The lab's fleet enrolls as the run starts but stands for a fleet that has reported for
  // long: established at once, as a collector's fleet is (docs/presence.md, "Mass suspect").
  d["presence.establishedAfterSeconds"] = "0";
  // The run's webhook receiver listens on loopback, which the outbound policy refuses unless
  // allowed.
  d["outbound.allowedNetworks"] = "127.0.0.0/8";
  secs("beacon.intervalSeconds", static_cast<double>(s.beacon_interval_s), 1);
  if (k < 1) {
    secs("presence.verifyIntervalSeconds", 10, 1);
    secs("presence.verifyForSeconds", 120, 2);
    secs("presence.confirmationWindowSeconds", 60, 1);
    secs("presence.witnessMaxPostponeSeconds", 600, 1);
    secs("presence.serverShutdownGraceSeconds", 900, 1);
    secs("presence.ingestLagBoundSeconds", 10, 1);
    secs("presence.channelWindowSeconds", 60, 1);
    secs("presence.suspectWindowSeconds", 60, 1);
    secs("presence.siteWindowSeconds", 180, 1);
    // The simulated agents fail at once when cut off (no route), so the time an attempt of a
    // real agent may hang before it retries shrinks with the rest.
    secs("presence.agentReconnectTimeSeconds", 10, 0);
    secs("presence.flapHalfLifeSeconds", 1800, 1);
    secs("presence.channelCollapseMaxDurationSeconds", 300, 1);
    secs("presence.beaconFallbackGraceSeconds", 5, 1);
    secs("cadence.evaluateSeconds", 10, 1);
    secs("cadence.raiseEverySeconds", 30, 1);
    secs("cadence.lowerAfterSeconds", 120, 1);
    secs("presence.massSuspectMaxDurationSeconds", 1800, 1);
    ms("presence.tickIntervalMs", 1000, 100);
    ms("presence.tickLateAfterMs", 5000, 500);
    secs("http.retryAfterSeconds", 5, 1);
    secs("http.retryAfterJitterSeconds", 10, 0);
    ms("webhooks.pollIntervalMs", 1000, 50);
    ms("webhooks.retryInitialMs", 5000, 100);
    ms("store.flushIntervalMs", 1000, 50);
  }
  for (const auto& [key, real_s] : s.collector_scaled_s) secs(key.c_str(), real_s, 1);
  for (const auto& [key, value] : s.collector_defines) d[key] = value;
  return d;
}

// The agents' scheduling options at scale k (the real agent's defaults at k = 1, with the
// smallest minimum interval the configuration accepts when the run's interval is short).
void scaleAgentOptions(FleetOptions& o, double k, int64_t interval_s) {
  auto d = [&](double real_s) {
    return duration_cast<Duration>(std::chrono::duration<double>(std::max(0.001, real_s * k)));
  };
  o.scheduler.min_interval = std::chrono::seconds(std::min<int64_t>(5, interval_s));
  o.scheduler.backoff.base = std::chrono::seconds(1);
  o.scheduler.backoff.cap = std::max<Duration>(std::chrono::seconds(1), d(300));
  o.scheduler.start_delay_max = d(60);
  o.scheduler.trigger_spacing = d(5);
  o.scheduler.failing_trigger_spacing = d(60);
  o.scheduler.max_verify = std::max<Duration>(std::chrono::seconds(2), d(900));
  o.beacon.pause_base = d(600);
  o.beacon.pause_cap = d(3600);
  o.beacon.ack_wait = d(2);
}

class Progress {
 public:
  explicit Progress(bool on) : on_(on), start_(steady_clock::now()) {}
  void operator()(const std::string& line) const {
    if (!on_) return;
    const double t = std::chrono::duration<double>(steady_clock::now() - start_).count();
    std::fprintf(stderr, "[fleetsim %7.1f s] %s\n", t, line.c_str());
  }

 private:
  bool on_;
  steady_clock::time_point start_;
};

}  // namespace

Result<RunResult> runScenario(const Scenario& scenario_in, const RunOptions& options) {
  Scenario scenario = scenario_in;
  if (options.agents > 0) scenario.agents = options.agents;
  if (options.real_agents >= 0) scenario.real_agents = static_cast<uint32_t>(options.real_agents);
  scenario.sites = std::min(scenario.sites, scenario.agents);
  const int64_t interval_s = options.interval_s > 0 ? options.interval_s : scenario.interval_s;
  const double k = static_cast<double>(interval_s) / static_cast<double>(scenario.interval_s);
  auto scaled = [&](double real_s) {
    return duration_cast<steady_clock::duration>(std::chrono::duration<double>(real_s * k));
  };
  const Progress progress(options.verbose);
  const auto run_started = steady_clock::now();

  RunResult result;
  RunObservations& obs = result.observations;
  obs.scenario = scenario.name;
  obs.replays = scenario.replays;
  obs.simulated_agents = scenario.agents;
  obs.real_agents = scenario.real_agents;
  obs.interval_s = static_cast<double>(interval_s);
  if (scenario.detect_within_beacon_intervals > 0) {
    obs.detection_span_s =
        scenario.detect_within_beacon_intervals *
        std::max(1.0, std::round(static_cast<double>(scenario.beacon_interval_s) * k));
    char span[64];
    std::snprintf(span, sizeof span, "%g beacon intervals",
                  scenario.detect_within_beacon_intervals);
    obs.detection_span_text = span;
  }
  obs.scale = k;
  obs.office_agents = scenario.offices.sites * scenario.offices.agents_per_site;

  auto has = [&](const std::string& action) {
    return std::any_of(scenario.timeline.begin(), scenario.timeline.end(),
                       [&](const FaultStep& f) { return f.action == action; });
  };
  if (scenario.real_agents > 0 && scenario.tls) {
    return Status::invalidArgument(
        "real agents run over plain HTTP: tls and real_agents exclude each other");
  }

  // The machine cannot run the scenario (the reason is in the notes).
  auto skip = [&](const Status& why) {
    result.skipped = true;
    obs.notes.push_back("skipped: " + why.message());
    return result;
  };

  // Work directory, the store's file system, certificates, ports.
  std::string work_dir = options.work_dir;
  if (work_dir.empty()) {
    work_dir = (std::filesystem::temp_directory_path() /
                ("vigil-fleetsim-" + scenario.name + "-" + std::to_string(::getpid())))
                   .string();
  }
  std::filesystem::remove_all(work_dir);
  std::filesystem::create_directories(work_dir);
  const std::string data_dir = work_dir + "/data";
  std::unique_ptr<FillableFileSystem> store_fs;
  if (has("store_full_start")) {
    const int size_mb = 64 + static_cast<int>(scenario.agents / 100);
    auto fs = FillableFileSystem::mount(data_dir, size_mb);
    if (!fs.ok() && fs.error().code() == StatusCode::kPermissionDenied) return skip(fs.error());
    if (!fs.ok()) return fs.error();
    store_fs = std::move(fs.value());
  }
  std::filesystem::create_directories(data_dir);

  // The offices' network: the collector listens on its host address.
  std::unique_ptr<OfficeLab> offices;
  if (scenario.offices.sites > 0) {
    OfficeLabSetup lab;
    lab.network_script = options.network_script;
    lab.sites = scenario.offices.sites;
    lab.agents_per_site = scenario.offices.agents_per_site;
    lab.agent_binary = options.agent_binary;
    lab.work_dir = work_dir;
    auto made = OfficeLab::create(lab);
    if (!made.ok() && made.error().code() == StatusCode::kPermissionDenied) {
      return skip(made.error());
    }
    if (!made.ok()) return made.error();
    offices = std::move(made.value());
    progress("office network up: " + std::to_string(obs.office_agents) + " hosts in " +
             std::to_string(scenario.offices.sites) + " offices, collector at " +
             offices->collectorAddress());
  }

  CollectorSetup setup;
  setup.binary = options.collector_binary;
  setup.data_dir = data_dir;
  setup.log_path = work_dir + "/collector.log";
  if (offices) setup.address = offices->collectorAddress();
  setup.http_port = freeLoopbackPort(false);
  setup.beacon_port = freeLoopbackPort(true);
  setup.defines = scaledDefines(scenario, interval_s, k);
  if (scenario.heartbeat_budget_per_agent_hour > 0) {
    // The budget of the file's fleet in real time, for this run's fleet and time scale.
    const double per_s = scenario.heartbeat_budget_per_agent_hour *
                         static_cast<double>(scenario.agents + scenario.real_agents) / 3600.0 / k;
    setup.defines["cadence.budgetPerSecond"] =
        std::to_string(std::max<int64_t>(1, std::llround(per_s)));
  }
  {
    auto it = setup.defines.find("presence.tickIntervalMs");
    obs.tick_s = it == setup.defines.end() ? 1.0 : std::atof(it->second.c_str()) / 1000.0;
  }
  // Office agents always reach the collector over HTTPS (an agent refuses plain HTTP beyond
  // loopback).
  std::unique_ptr<testing::TestCertificateAuthority> ca;
  const bool tls = scenario.tls || has("collector_restart_tls") || offices;
  const bool cluster = scenario.cluster.collectors > 0;
  obs.cluster.collectors = scenario.cluster.collectors;
  if (tls) {
    ca = std::make_unique<testing::TestCertificateAuthority>();
    serveTlsFrom(*ca, work_dir, setup);
  }

  testing::WebhookReceiver receiver;
  receiver.start();
  // One collector on its SQLite file, or a cluster behind HAProxy: `http` is where the fleet,
  // the real agents and the admin API go.
  std::unique_ptr<CollectorControl> single;
  std::unique_ptr<ClusterLab> lab;
  // The runner's own starts of the collector are faults too: each begins a warm-up.
  const WallTime first_start = wallNow();
  if (cluster) {
    progress("starting a cluster of " + std::to_string(scenario.cluster.collectors) +
             " collectors behind HAProxy, interval " + std::to_string(interval_s) + " s");
    ClusterLabSetup cluster_setup;
    cluster_setup.collector_binary = options.collector_binary;
    cluster_setup.haproxy_binary = options.haproxy_binary;
    cluster_setup.haproxy_template = options.haproxy_template;
    cluster_setup.work_dir = work_dir;
    cluster_setup.collectors = scenario.cluster.collectors;
    cluster_setup.slots = scenario.cluster.slots();
    for (const FaultStep& f : scenario.timeline) {
      if (f.action != "db_cut") continue;
      if (f.collector == kBusiest) {  // known once the fleet runs: any may be cut
        for (uint32_t n = 1; n <= cluster_setup.slots; ++n) cluster_setup.cuttable.insert(n);
      } else {
        cluster_setup.cuttable.insert(f.collector > 0 ? static_cast<uint32_t>(f.collector) : 1);
      }
    }
    cluster_setup.defines = setup.defines;
    auto started = ClusterLab::start(cluster_setup, progress);
    if (!started.ok() && started.error().code() == StatusCode::kNotFound) {
      return skip(started.error());
    }
    if (!started.ok()) return started.error();
    lab = std::move(started.value());
  } else {
    single = std::make_unique<CollectorControl>(setup);
    progress("starting vigil-collector on port " + std::to_string(setup.http_port) +
             (tls ? " (HTTPS)" : "") + ", interval " + std::to_string(interval_s) + " s");
    if (Status s = single->start(); !s.ok()) return s;
    if (Status s = useBootstrapToken(single->http(), data_dir); !s.ok()) return s;
  }
  CollectorHttp& http = lab ? lab->http() : single->http();
  {
    // What a collector may have in flight to the run's receiver when it is killed.
    auto setting = [&](const char* key, double fallback) {
      auto it = setup.defines.find(key);
      return it == setup.defines.end() ? fallback : std::atof(it->second.c_str());
    };
    obs.webhook_in_flight_per_collector = static_cast<uint32_t>(
        std::min(setting("webhooks.workers", 8), setting("webhooks.maxInFlightPerDestination", 1)));
    obs.webhook_attempt_timeout_s = setting("webhooks.attemptTimeoutSeconds", 15);
  }

  // Tenant, sites with their enrollment tokens, the webhook.
  std::string error;
  auto tenant = defaultTenantId(http);
  if (!tenant.ok()) return tenant.error();
  const int64_t tenant_id = *tenant;
  std::vector<std::string> site_tokens;
  for (uint32_t i = 0; i < scenario.sites; ++i) {
    const std::string label = "site-" + std::to_string(i);
    auto site = createSite(http, tenant_id, label);
    if (!site.ok()) return site.error();
    obs.site_ids[label] = site->id;
    site_tokens.push_back(site->enroll_token);
  }
  std::map<std::string, EnrollableSite> office_sites;
  if (offices) {
    for (const std::string& label : offices->siteLabels()) {
      auto site = createSite(http, tenant_id, label);
      if (!site.ok()) return site.error();
      obs.site_ids[label] = site->id;
      office_sites[label] = *site;
    }
  }
  {
    HttpAnswer hook =
        http.post("/api/v1/webhooks", R"({"tenant_id": )" + std::to_string(tenant_id) +
                                          R"(, "url": ")" + receiver.url() + R"("})");
    json::JsonPtr doc = json::parse(hook.body);
    if (hook.status != 201 || !doc) return Status::unavailable("create webhook: " + hook.body);
    receiver.setSecret(jsonString(doc.get(), "secret"));
  }

  // The simulated fleet.
  FleetOptions fleet_options;
  fleet_options.base_url = http.baseUrl();
  fleet_options.ca_file = setup.ca_file;
  fleet_options.max_connections = options.connections;
  fleet_options.seed = options.seed;
  scaleAgentOptions(fleet_options, k, interval_s);
  for (const FaultStep& f : scenario.timeline) {
    if (f.action == "fleet_boot" && f.seconds > 0) {
      fleet_options.scheduler.start_delay_max = scaled(static_cast<double>(f.seconds));
    }
  }
  Fleet fleet(fleet_options);
  for (uint32_t i = 0; i < scenario.sites; ++i) {
    const uint32_t count =
        scenario.agents / scenario.sites + (i < scenario.agents % scenario.sites ? 1 : 0);
    fleet.addAgents(count, site_tokens[i], "site-" + std::to_string(i));
  }
  if (scenario.agents > 0) {
    progress("enrolling " + std::to_string(scenario.agents) + " simulated agents in " +
             std::to_string(scenario.sites) + " sites");
  }
  if (Status s = fleet.enroll(12); !s.ok()) return s;
  if (const uint64_t errors = fleet.enrollmentServerErrors(); errors > 0) {
    obs.notes.push_back(std::to_string(errors) +
                        " enrollment answers were server errors (not 503), each tried again");
  }
  if (lab) {
    // The fleet was up before the run: every collector knows it, as after their own starts.
    progress("restarting the collectors: each loads the enrolled fleet");
    if (Status s = lab->restartAll(std::chrono::seconds(120)); !s.ok()) return s;
  }
  for (uint32_t i = 0; i < fleet.size(); ++i) {
    obs.agents.push_back({fleet.agentId(i), fleet.siteLabel(i), false});
  }

  // Real agents, in site-0.
  std::vector<std::unique_ptr<testing::Agent>> real;
  for (uint32_t i = 0; i < scenario.real_agents; ++i) {
    real.push_back(std::make_unique<testing::Agent>(work_dir + "/agent-" + std::to_string(i),
                                                    lab ? lab->port() : setup.http_port,
                                                    site_tokens[0]));
    real.back()->setBinary(options.agent_binary);
    real.back()->start();
  }
  if (!real.empty()) {
    progress("started " + std::to_string(real.size()) + " vigil-agent processes");
    const bool enrolled = testing::eventually(
        [&] {
          return std::all_of(real.begin(), real.end(),
                             [](const auto& a) { return !a->agentId().empty(); });
        },
        std::chrono::seconds(60));
    if (!enrolled) return Status::unavailable("real agents did not enroll in 60 s");
  }
  const uint32_t first_real = static_cast<uint32_t>(obs.agents.size());
  for (const auto& a : real) obs.agents.push_back({a->agentId(), "site-0", true});
  const uint32_t first_office = static_cast<uint32_t>(obs.agents.size());
  if (offices) {
    std::vector<milliseconds> offsets;
    for (double o : scenario.offices.start_offsets_s) {
      offsets.push_back(duration_cast<milliseconds>(scaled(o)));
    }
    progress("starting " + std::to_string(obs.office_agents) +
             " vigil-agent processes in the offices");
    if (Status s = offices->startAgents(http, office_sites, http.baseUrl(), setup.ca_file, offsets,
                                        std::chrono::seconds(60));
        !s.ok()) {
      return s;
    }
    for (const RunAgent& a : offices->agents()) obs.agents.push_back(a);
  }
  // A cluster's admin writes during the faults go to a site of their own, which they rename.
  std::unique_ptr<AdminWriter> admin_writes;
  if (lab) {
    admin_writes = std::make_unique<AdminWriter>(http, tenant_id, milliseconds(1000));
    if (Status s = admin_writes->prepare(); !s.ok()) return s;
  }
  const int64_t changing_site = admin_writes ? admin_writes->siteId() : 0;
  const std::string settings_before = settingsSnapshot(http, changing_site);

  // Sampling: each collector's memory, CPU and counters (a cluster's: also its health, which
  // the beacons' forwarder follows as a load balancer's check would).
  std::vector<CollectorSampler::Target> targets;
  CollectorSampler::Options sampler_options;
  if (lab) {
    for (uint32_t n = 1; n <= lab->slots(); ++n) {
      targets.push_back({ClusterLab::name(n), &lab->collector(n)});
    }
    sampler_options.track_health = true;
    sampler_options.on_answer = [&lab](size_t i, bool answered) {
      lab->setBeaconBackendUp(static_cast<uint32_t>(i + 1), answered);
    };
  } else {
    targets.push_back({"collector", single.get()});
  }
  CollectorSampler sampler(std::move(targets), std::move(sampler_options));
  sampler.start();

  // The timeline, with the background deaths merged in.
  struct Step {
    double at_s;
    std::string what;
    std::function<void()> run;
    FaultRole fault{};
    std::string fault_target{};  // site, agent or channel: which opening an ending ends
    double spread_s = 0;         // an instant fault's effects last this much longer (a boot)
  };
  std::vector<Step> steps;
  std::mt19937_64 rng(options.seed * 7919 + 17);
  std::vector<uint32_t> order(fleet.size());
  for (uint32_t i = 0; i < order.size(); ++i) order[i] = i;
  std::shuffle(order.begin(), order.end(), rng);
  size_t next_pick = 0;
  auto pick = [&](size_t n) {
    std::vector<uint32_t> out;
    while (out.size() < n && next_pick < order.size()) out.push_back(order[next_pick++]);
    return out;
  };
  const auto deaths = static_cast<size_t>(
      std::ceil(scenario.background_deaths * static_cast<double>(scenario.agents)));
  const double first_death_s = 3.0 * static_cast<double>(scenario.interval_s);
  std::uniform_real_distribution<double> death_time(first_death_s,
                                                    std::max(first_death_s, scenario.duration_s));
  for (uint32_t agent : pick(deaths)) {
    steps.push_back({death_time(rng), "", [&fleet, agent] { fleet.kill({agent}); }});
  }
  // How much later than written the steps run: a step that waits delays all after it.
  steady_clock::duration shift{0};
  std::string office_failure;  // an office fault that could not be applied: the run is void
  auto office_step = [&](Status s) {
    if (!s.ok() && office_failure.empty()) office_failure = s.message();
  };
  std::map<std::string, std::vector<uint32_t>> blocked;  // channel -> agents
  std::vector<std::pair<uint32_t, WallTime>> real_deaths;
  std::unique_ptr<FillableFileSystem>* fs = &store_fs;
  std::unique_ptr<StoreSnapshotHold> snapshot;
  std::optional<WallTime> down_since;
  auto down = [&] {
    if (!down_since) down_since = wallNow();
  };
  auto up = [&](const char* why) {
    if (!down_since) return;
    obs.collector_down.push_back({*down_since, wallNow(), {why}});
    down_since.reset();
  };
  // The collector's return, for ReturnStats: when it is started (or thawed), before it answers.
  auto returning = [&] { fleet.markCollectorBack(steady_clock::now()); };
  // A cluster's steps; "busiest" is the collector that owns the most agents now.
  std::unique_ptr<ClusterTimeline> cluster_steps;
  if (lab) {
    std::map<int64_t, uint64_t> agents_per_site;
    for (const RunAgent& a : obs.agents) ++agents_per_site[obs.site_ids[a.site_label]];
    const uint32_t busiest = lab->busiest(agents_per_site);
    obs.notes.push_back("the collector that owns the most agents at the start: " +
                        ClusterLab::name(busiest));
    cluster_steps =
        std::make_unique<ClusterTimeline>(*lab, obs, shift, busiest, std::chrono::seconds(60),
                                          [&progress](const std::string& line) { progress(line); });
  }
  // The single collector's own steps (a cluster's never reach them).
  CollectorControl* collector = single.get();
  for (const FaultStep& f : scenario.timeline) {
    std::function<void()> act;
    std::string what = f.action + (f.site.empty() ? "" : " " + f.site) +
                       (f.agent.empty() ? "" : " " + f.agent) +
                       (f.channel.empty() ? "" : " " + f.channel);
    std::string target = f.site + f.agent + f.channel;
    if (cluster_steps && isClusterAction(f.action)) {
      if (f.action.rfind("pg_", 0) != 0) {
        const std::string name = ClusterLab::name(cluster_steps->collectorOf(f));
        what += " " + name;
        target += name;
      }
      act = cluster_steps->action(f);
    } else if (!collector && isClusterAction(f.action)) {
      return Status::invalidArgument(f.action + ": not a step of this run");
    } else if (f.action == "collector_kill") {
      act = [&] {
        down();
        obs.collector_interruptions.push_back(wallNow());
        collector->kill();
      };
    } else if (f.action == "collector_start") {
      act = [&] {
        returning();
        if (Status s = collector->start(); !s.ok()) obs.notes.push_back("restart: " + s.message());
        up("killed");
      };
    } else if (f.action == "collector_restart_tls") {
      act = [&] {
        const testing::TlsCredentials renewed = ca->issueServer({setup.address});
        std::ofstream(setup.cert_file + ".new") << renewed.cert_pem;
        std::ofstream(setup.key_file + ".new") << renewed.key_pem;
        std::filesystem::rename(setup.key_file + ".new", setup.key_file);
        std::filesystem::rename(setup.cert_file + ".new", setup.cert_file);
        down();
        const auto stopping = steady_clock::now();
        if (Status s = collector->stop(); !s.ok())
          obs.notes.push_back("graceful stop: " + s.message());
        const auto stopped = steady_clock::now();
        returning();
        if (Status s = collector->start(); !s.ok()) obs.notes.push_back("restart: " + s.message());
        up("restart");
        obs.notes.push_back(
            "graceful restart: stop took " +
            std::to_string(duration_cast<milliseconds>(stopped - stopping).count()) +
            " ms, start to ready " +
            std::to_string(duration_cast<milliseconds>(steady_clock::now() - stopped).count()) +
            " ms");
      };
    } else if (f.action == "collector_freeze") {
      act = [&] {
        down();
        collector->freeze();
      };
    } else if (f.action == "collector_thaw") {
      act = [&] {
        returning();
        collector->thaw();
        up("frozen");
      };
    } else if (f.action == "cpu_starve_start") {
      act = [&] { collector->starveCpu(true); };
    } else if (f.action == "cpu_starve_stop") {
      act = [&] { collector->starveCpu(false); };
    } else if (f.action == "site_partition_start" || f.action == "site_partition_stop") {
      const bool on = f.action == "site_partition_start";
      const std::string site = f.site;
      act = [&fleet, site, on] { fleet.partition(fleet.agentsOfSite(site), on); };
    } else if (f.action == "channel_block") {
      const Channel channel = f.channel == "beacon" ? Channel::kBeacon : Channel::kHeartbeat;
      std::vector<uint32_t> agents;
      std::sample(order.begin(), order.end(), std::back_inserter(agents),
                  static_cast<size_t>(f.share * fleet.size()), rng);
      blocked[f.channel] = agents;
      act = [&fleet, agents, channel] { fleet.blockChannel(agents, channel, true); };
    } else if (f.action == "channel_unblock") {
      const Channel channel = f.channel == "beacon" ? Channel::kBeacon : Channel::kHeartbeat;
      const std::string name = f.channel;
      act = [&fleet, &blocked, name, channel] {
        fleet.blockChannel(blocked[name], channel, false);
      };
    } else if (f.action == "store_full_start") {
      act = [fs, &obs, &snapshot, data_dir] {
        auto hold = StoreSnapshotHold::take(data_dir + "/vigil.db");
        if (hold.ok()) {
          snapshot = std::move(hold.value());
        } else {
          obs.notes.push_back("snapshot: " + hold.error().message());
        }
        if (Status s = (*fs)->fill(); !s.ok()) obs.notes.push_back("fill: " + s.message());
      };
    } else if (f.action == "store_full_stop") {
      act = [fs, &snapshot] {
        (*fs)->drain();
        snapshot.reset();
      };
    } else if (f.action == "fleet_boot") {
      act = [&fleet] { fleet.start(true); };
    } else if (f.action == "real_agents_kill") {
      act = [&, first_real] {
        for (size_t i = 0; i < std::min<size_t>(2, real.size()); ++i) {
          real[i]->kill();
          real_deaths.emplace_back(first_real + static_cast<uint32_t>(i), wallNow());
        }
      };
    } else if (f.action == "real_site_await_phase") {
      // In seconds of the run; waiting at most two intervals.
      const auto run_s = [&](double intervals) {
        return intervals * static_cast<double>(interval_s);
      };
      PhaseWanted wanted;
      wanted.oldest_at_least_s = run_s(f.oldest_at_least);
      if (f.others_at_most) wanted.others_at_most_s = run_s(*f.others_at_most);
      wanted.fresh_agent = f.fresh_agent;
      wanted.fresh_office = f.fresh_site;
      wanted.fresh_at_most_s = run_s(f.fresh_at_most.value_or(0));
      const auto timeout = milliseconds(2000 * interval_s);
      act = [&, f, wanted, timeout] {
        auto waited = offices->awaitPhase(f.site, wanted, timeout);
        if (waited.ok()) shift += *waited;
        office_step(waited.ok() ? Status::okStatus() : waited.error());
      };
    } else if (f.action == "real_site_cut") {
      act = [&, f] { office_step(offices->cut(f.site)); };
    } else if (f.action == "real_site_heal") {
      act = [&, f] { office_step(offices->heal(f.site)); };
    } else if (f.action == "real_agent_kill") {
      act = [&, f] {
        office_step(f.agent.empty() ? offices->killFreshest(f.site) : offices->kill(f.agent));
      };
    } else if (f.action == "real_agent_start") {
      act = [&, f] {
        office_step(f.agent.empty() ? offices->restartKilled(f.site) : offices->restart(f.agent));
      };
    }
    const FaultRole role = faultRoleOf(f.action);
    const double spread_s = f.action == "fleet_boot" ? static_cast<double>(f.seconds) : 0;
    steps.push_back({f.at_s, what, act, role, target, spread_s});
  }
  std::stable_sort(steps.begin(), steps.end(),
                   [](const Step& a, const Step& b) { return a.at_s < b.at_s; });

  // Sheds and refusals count from here: enrollment's own 503s (retried) are setup.
  const uint64_t shed_before = sampler.shed();
  const uint64_t refused_before = sampler.refused();
  // PostgreSQL's work counts from here too, less the lab's own reads.
  std::optional<DatabaseCounters> database_before;
  uint64_t own_transactions_before = 0;
  double database_cpu_before = 0;
  if (lab) {
    database_before = lab->databaseCounters();
    own_transactions_before = lab->ownTransactions();
    database_cpu_before = lab->postgresCpuSeconds();
  }
  if (!scenario.fleet_boots_at_start) fleet.start(false);
  obs.fleet_started = wallNow();
  if (admin_writes) admin_writes->start();
  obs.injected.push_back(
      {first_start, obs.fleet_started, {"runner: first start of the collector, enrollment"}});
  const auto t0 = steady_clock::now();
  progress("fleet running; timeline of " + std::to_string(scenario.timeline.size()) +
           " steps and " + std::to_string(deaths) + " background deaths over " +
           std::to_string(static_cast<int>(std::llround(scenario.duration_s * k))) + " s");
  // The injected faults, from the step that began each to the step that ended it.
  std::map<std::string, std::pair<WallTime, std::string>> open_faults;  // family + target
  for (const Step& step : steps) {
    std::this_thread::sleep_until(t0 + scaled(step.at_s) + shift);
    if (!step.what.empty()) progress(step.what);
    const WallTime before = wallNow();
    step.run();
    const std::string key = step.fault.family + "/" + step.fault_target;
    switch (step.fault.kind) {
      case FaultRole::Kind::kOpens:
        open_faults.emplace(key, std::make_pair(before, step.what));
        break;
      case FaultRole::Kind::kEnds:
        if (auto it = open_faults.find(key); it != open_faults.end()) {
          obs.injected.push_back({it->second.first, wallNow(), {"injected: " + it->second.second}});
          open_faults.erase(it);
        }
        break;
      case FaultRole::Kind::kInstant:
        obs.injected.push_back(
            {before,
             wallNow() + duration_cast<WallTime::duration>(scaled(step.spread_s)),
             {"injected: " + step.what}});
        break;
      case FaultRole::Kind::kNone:
        break;
    }
  }
  if (!office_failure.empty()) {  // the run is void; the sampler must not outlive it
    sampler.stop();
    return Status::internal("office fault: " + office_failure);
  }
  std::this_thread::sleep_until(t0 + scaled(scenario.duration_s) + shift);
  obs.timeline_end = wallNow();
  if (admin_writes) admin_writes->stop();
  if (lab) {
    // Every fault still on ends, every collector not removed runs, and the cluster settles.
    const WallTime ending = wallNow();
    if (Status s = lab->endFaults(); !s.ok())
      obs.notes.push_back("end of the faults: " + s.message());
    if (Status s = lab->awaitSettled(std::chrono::seconds(120)); !s.ok()) {
      obs.cluster.unsettled.push_back("the end of the timeline: " + s.message());
    }
    cluster_steps->closeWindows();
    obs.injected.push_back({ending, wallNow(), {"runner: the faults ended, the cluster settled"}});
  } else {
    collector->starveCpu(false);
    collector->thaw();
  }
  if (store_fs) store_fs->drain();
  snapshot.reset();
  for (const auto& [key, opened] : open_faults) {  // the timeline's end ends them
    obs.injected.push_back({opened.first, wallNow(), {"injected: " + opened.second}});
  }
  if (collector && !collector->running()) {
    obs.notes.push_back("the collector was not running at the end of the timeline; started");
    const WallTime restart = wallNow();
    if (Status s = collector->start(); !s.ok()) return s;
    obs.injected.push_back({restart, wallNow(), {"runner: start after the timeline"}});
  }
  up("the end of the timeline");  // a freeze or kill the timeline left on ends here

  // Settle: long enough for the recovery period (one interval and its jitter) and three
  // intervals of detection. A scenario judged in beacon intervals with no fault to recover
  // from needs its detection span and one interval of margin.
  auto settle = std::chrono::seconds(static_cast<int64_t>(5 * interval_s + 2));
  if (obs.detection_span_s > 0 && scenario.timeline.empty()) {
    settle = std::min(
        settle, std::chrono::seconds(static_cast<int64_t>(std::ceil(obs.detection_span_s) +
                                                          static_cast<double>(interval_s) + 2)));
  }
  progress("timeline over; settling " + std::to_string(settle.count()) + " s");
  std::this_thread::sleep_for(settle);

  // Read back: alerts from the API until the webhooks have caught up with them.
  std::vector<SeenAlert> api_alerts;
  std::vector<SeenAlert> webhook_alerts;
  std::vector<DegradedPeriod> degraded;
  uint64_t outbox_pending = 0;
  const auto read_deadline = steady_clock::now() + std::chrono::seconds(60);
  for (;;) {
    api_alerts.clear();
    std::vector<const cJSON*> items;
    auto pages = listAll(http, "/api/v1/alerts", items, &error);
    for (const cJSON* a : items) api_alerts.push_back(alertOf(a));
    webhook_alerts.clear();
    degraded.clear();
    for (const auto& w : receiver.received()) {
      json::JsonPtr doc = json::parse(w.body);
      if (!doc || !w.signature_valid) continue;
      const cJSON* data = cJSON_GetObjectItemCaseSensitive(doc.get(), "data");
      if (w.type == "alert.opened") {
        webhook_alerts.push_back(alertOf(data));
      } else if (w.type == "collector.degraded" || w.type == "collector.recovered") {
        auto at = parseCollectorTime(jsonString(data, "at"));
        if (!at) at = parseCollectorTime(jsonString(doc.get(), "timestamp"));
        if (!at) continue;
        if (w.type == "collector.degraded") {
          if (degraded.empty() || degraded.back().to != WallTime::max()) {
            degraded.push_back({*at, WallTime::max(), {}});
          }
          // Every reason the period had, in the order they appeared.
          std::vector<std::string>& reasons = degraded.back().reasons;
          const cJSON* listed = cJSON_GetObjectItemCaseSensitive(data, "reasons");
          const cJSON* reason = nullptr;
          cJSON_ArrayForEach(reason, listed) {
            if (cJSON_IsString(reason) &&
                std::find(reasons.begin(), reasons.end(), reason->valuestring) == reasons.end()) {
              reasons.emplace_back(reason->valuestring);
            }
          }
        } else if (!degraded.empty() && degraded.back().to == WallTime::max()) {
          degraded.back().to = *at;
        }
      }
    }
    // The outbox is the database's: each collector of a cluster counts all of it (HAProxy does
    // not serve /metrics).
    std::vector<CollectorControl*> counting = {collector};
    if (lab) {
      counting.clear();
      for (uint32_t n : lab->running()) counting.push_back(&lab->collector(n));
    }
    outbox_pending = 0;
    for (CollectorControl* c : counting) {
      HttpAnswer m = c->http().get("/metrics");
      outbox_pending = std::max(
          outbox_pending, static_cast<uint64_t>(metricSum(m.body, "vigil_webhook_outbox_pending")));
    }
    std::set<int64_t> delivered;
    for (const auto& a : webhook_alerts) delivered.insert(a.id);
    const bool caught_up =
        outbox_pending == 0 &&
        std::all_of(api_alerts.begin(), api_alerts.end(), [&](const SeenAlert& a) {
          return (a.state != "open" && a.state != "resolved") || delivered.count(a.id);
        });
    if (caught_up || steady_clock::now() > read_deadline) break;
    std::this_thread::sleep_for(milliseconds(500));
  }
  obs.observed_until = wallNow();
  progress("read back " + std::to_string(api_alerts.size()) + " alerts, " +
           std::to_string(webhook_alerts.size()) + " delivered");
  for (auto& d : degraded) {
    if (d.to == WallTime::max()) d.to = obs.observed_until;
  }
  // A cluster's collectors each send their own collector.degraded events, which do not say
  // whose they are: each collector's periods are sampled from its own gauge instead.
  if (lab) degraded = sampler.degraded(obs.observed_until);
  for (const auto& w : receiver.received()) {
    if (!w.signature_valid) continue;
    char* end = nullptr;
    const long long at_s = std::strtoll(w.timestamp.c_str(), &end, 10);
    obs.webhook_copies.push_back({w.id, w.type, fromUnixMillis(at_s * 1000)});
  }
  {
    std::vector<const cJSON*> items;
    auto pages = listAll(http, "/api/v1/agents", items, &error);
    for (const cJSON* a : items) obs.final_status[jsonString(a, "id")] = jsonString(a, "status");
  }
  if (!lab) {
    // The availability report over the fleet's run, to now (docs/reports.md): per site if the
    // tenant has more agents than one report may hold.
    std::vector<int64_t> site_ids;
    for (const auto& [label, id] : obs.site_ids) site_ids.push_back(id);
    obs.availability = readAvailability(http, tenant_id, site_ids, obs.agents.size(),
                                        obs.fleet_started, wallNow());
    progress(obs.availability.error.empty()
                 ? "read the availability report of " +
                       std::to_string(obs.availability.agents.size()) + " agents in " +
                       std::to_string(obs.availability.requests) + " request(s)"
                 : "availability report: " + obs.availability.error);
  }
  obs.settings_unchanged = settingsSnapshot(http, changing_site) == settings_before;
  if (!obs.settings_unchanged)
    obs.settings_note = "sites, webhooks or tenants differ after the run";
  if (lab) {
    // Every admin write, read back through each collector itself; PostgreSQL's work over the
    // run; what HAProxy and the beacons' forwarder did.
    std::vector<std::pair<std::string, const CollectorHttp*>> readers;
    for (uint32_t n : lab->running()) {
      readers.emplace_back(ClusterLab::name(n), &lab->collector(n).http());
    }
    obs.cluster.admin_writes = admin_writes->readBack(readers);
    obs.cluster.admin_read_through = static_cast<uint32_t>(readers.size());
    const std::optional<DatabaseCounters> database_after = lab->databaseCounters();
    if (database_before && database_after && database_after->commits >= database_before->commits) {
      DatabaseCounters& d = obs.cluster.database;
      d.commits = database_after->commits - database_before->commits -
                  std::min(database_after->commits - database_before->commits,
                           lab->ownTransactions() - own_transactions_before);
      d.inserted = database_after->inserted - database_before->inserted;
      d.updated = database_after->updated - database_before->updated;
      d.deleted = database_after->deleted - database_before->deleted;
      obs.cluster.database_seconds =
          std::chrono::duration<double>(wallNow() - obs.fleet_started).count();
      obs.cluster.database_cpu_seconds = lab->postgresCpuSeconds() - database_cpu_before;
    } else {
      obs.notes.push_back("PostgreSQL's counters could not be read over the run");
    }
    obs.cluster.front_door = lab->frontDoorReport();
    obs.cluster.unexpected_exits = lab->unexpectedExits();
  }

  sampler.stop();
  fleet.stop();
  for (auto& a : real) {
    if (a->running()) a->stop();
  }
  if (offices) offices->stopAgents();
  if (lab) {
    lab->stopAll();
  } else if (Status s = collector->stop(); !s.ok()) {
    obs.notes.push_back("final stop: " + s.message());
  }
  progress("stopped");

  obs.truth = fleet.truth();
  if (offices) {
    for (const TruthEvent& e : offices->truth(first_office)) obs.truth.push_back(e);
    obs.offices = offices->run();
    for (const std::string& n : offices->notes()) obs.notes.push_back(n);
  }
  for (const auto& [agent, at] : real_deaths) {
    TruthEvent e;
    e.agent = agent;
    e.kind = TruthEvent::Kind::kDied;
    e.at = at;
    obs.truth.push_back(e);
  }
  obs.api_alerts = std::move(api_alerts);
  obs.webhook_alerts = std::move(webhook_alerts);
  obs.degraded = std::move(degraded);
  obs.outbox_pending_at_end = outbox_pending;
  obs.fleet = fleet.takeStats();
  obs.returns = fleet.returnStats();
  obs.surge = scenario.surge;
  obs.shed_requests = sampler.shed() - shed_before;
  obs.refused_connections = sampler.refused() - refused_before;
  const std::vector<CollectorUsage> usage = sampler.usage();
  for (const CollectorUsage& u : usage) {
    obs.peak_rss_bytes = std::max(obs.peak_rss_bytes, u.peak_rss_bytes);
    obs.cpu_seconds += u.cpu_seconds;
    obs.peak_cpu_share = std::max(obs.peak_cpu_share, u.peak_cpu_share);
  }
  if (lab) obs.cluster.usage = usage;
  // Bound: measured 35-45 MiB at 2,000 agents and 261-362 MiB at 100,000 (docs/scenarios.md,
  // "Results"); 64 MiB + 4 KiB per agent leaves about 40 % and 25 % above those.
  obs.rss_bound_bytes =
      (64ull << 20) + 4096ull * (scenario.agents + scenario.real_agents + obs.office_agents);
  obs.wall_seconds = std::chrono::duration<double>(steady_clock::now() - run_started).count();
  result.verdict = judge(obs);
  return result;
}

}  // namespace vigil::fleetsim
