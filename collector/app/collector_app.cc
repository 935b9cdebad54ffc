#include "collector/app/collector_app.h"

#include <Poco/AutoPtr.h>
#include <Poco/ConsoleChannel.h>
#include <Poco/Exception.h>
#include <Poco/FormattingChannel.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/Net/SocketAddress.h>
#include <Poco/PatternFormatter.h>
#include <Poco/Util/HelpFormatter.h>
#include <Poco/Util/IntValidator.h>
#include <Poco/Util/Option.h>
#include <Poco/Util/OptionCallback.h>
#include <Poco/Util/OptionException.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <thread>

#include "collector/admin/admin_api.h"
#include "collector/admin/admin_auth.h"
#include "collector/admin/agent_query.h"
#include "collector/admin/alert_service.h"
#include "collector/admin/cadence_service.h"
#include "collector/admin/channel_admin.h"
#include "collector/admin/maintenance_service.h"
#include "collector/admin/report_service.h"
#include "collector/admin/tenancy_service.h"
#include "collector/admin/token_service.h"
#include "collector/app/bootstrap.h"
#include "collector/app/cluster_membership.h"
#include "collector/app/failure_log.h"
#include "collector/app/json_log_formatter.h"
#include "collector/app/relay_transport.h"
#include "collector/app/tls_context.h"
#include "collector/app/webhook_metrics.h"
#include "collector/cluster/evidence_router.h"
#include "collector/cluster/shard_routes.h"
#include "collector/http/admission.h"
#include "collector/http/handlers.h"
#include "collector/http/metrics.h"
#include "collector/http/openapi_handler.h"
#include "collector/http/readiness.h"
#include "collector/http/router.h"
#include "collector/ingest/agent_directory.h"
#include "collector/ingest/beacon_service.h"
#include "collector/ingest/ingest_service.h"
#include "collector/ingest/last_seen_writer.h"
#include "collector/ingest/site_peer_keys.h"
#include "collector/listener/beacon_listener.h"
#include "collector/listener/http_listener.h"
#include "collector/monitor/presence_monitor.h"
#include "collector/monitor/presence_ticker.h"
#include "collector/notify/mail_transport.h"
#include "collector/notify/secret_box.h"
#include "collector/notify/webhook_dispatcher.h"
#include "collector/notify/webhook_transport.h"
#include "collector/store/sql_store.h"
#include "common/atomic_file.h"
#include "common/clock.h"
#include "common/crypto.h"
#include "common/periodic_thread.h"
#include "common/protocol.h"

namespace vigil::collector {
namespace {

using Poco::Util::Option;
using Poco::Util::OptionCallback;

// Layer priorities in the LayeredConfiguration: a lower number wins.
constexpr int kPriorityCommandLine = -300;
constexpr int kPriorityEnvironment = -200;
constexpr int kPriorityConfigFile = 0;
constexpr int kPriorityDefaults = 1000;

// Options that set one configuration key each.
const std::map<std::string, std::string>& keyOptions() {
  static const std::map<std::string, std::string> kOptions = {
      {"data-dir", "data.dir"},       {"http-address", "http.address"}, {"http-port", "http.port"},
      {"port-file", "http.portFile"}, {"log-level", "logging.level"},
  };
  return kOptions;
}

constexpr char kLogPattern[] = "%Y-%m-%dT%H:%M:%S.%iZ %p %s: %t";

}  // namespace

CollectorApp::CollectorApp() : command_line_(new Poco::Util::MapConfiguration) {
  setUnixOptions(true);
}

void CollectorApp::defineOptions(Poco::Util::OptionSet& options) {
  ServerApplication::defineOptions(options);
  options.addOption(Option("help", "h", "print this help and exit")
                        .required(false)
                        .repeatable(false)
                        .callback(OptionCallback<CollectorApp>(this, &CollectorApp::handleHelp)));
  options.addOption(
      Option("config-file", "c", "load configuration from FILE (.properties or .ini)")
          .required(false)
          .repeatable(false)
          .argument("FILE")
          .callback(OptionCallback<CollectorApp>(this, &CollectorApp::handleConfigFile)));
  options.addOption(
      Option("data-dir", "", "data directory (data.dir)")
          .required(false)
          .repeatable(false)
          .argument("DIR")
          .callback(OptionCallback<CollectorApp>(this, &CollectorApp::handleKeyOption)));
  options.addOption(
      Option("http-address", "", "listen address (http.address)")
          .required(false)
          .repeatable(false)
          .argument("ADDR")
          .callback(OptionCallback<CollectorApp>(this, &CollectorApp::handleKeyOption)));
  options.addOption(
      Option("http-port", "", "listen port, 0 for any free port (http.port)")
          .required(false)
          .repeatable(false)
          .argument("N")
          .callback(OptionCallback<CollectorApp>(this, &CollectorApp::handleKeyOption)));
  options.addOption(
      Option("port-file", "", "write the bound port to FILE (http.portFile)")
          .required(false)
          .repeatable(false)
          .argument("FILE")
          .callback(OptionCallback<CollectorApp>(this, &CollectorApp::handleKeyOption)));
  options.addOption(
      Option("log-level", "", "log level (logging.level)")
          .required(false)
          .repeatable(false)
          .argument("LEVEL")
          .callback(OptionCallback<CollectorApp>(this, &CollectorApp::handleKeyOption)));
  options.addOption(Option("define", "D", "set configuration key to value")
                        .required(false)
                        .repeatable(true)
                        .argument("key=value")
                        .callback(OptionCallback<CollectorApp>(this, &CollectorApp::handleDefine)));
  // Options of the administration commands (admin_cli.h), not of the server.
  options.addOption(
      Option("name", "", "admin-token create: the token's name")
          .required(false)
          .repeatable(false)
          .argument("NAME")
          .callback(OptionCallback<CollectorApp>(this, &CollectorApp::handleAdminOption)));
  options.addOption(
      Option("tenant", "", "admin-token create: limit the token to tenant ID (repeatable)")
          .required(false)
          .repeatable(true)
          .argument("ID")
          .callback(OptionCallback<CollectorApp>(this, &CollectorApp::handleAdminOption)));
  options.addOption(
      Option("expires", "", "admin-token create: expiry time (RFC 3339)")
          .required(false)
          .repeatable(false)
          .argument("TIME")
          .callback(OptionCallback<CollectorApp>(this, &CollectorApp::handleAdminOption)));
  options.addOption(
      Option("role", "", "admin-token create: read-only, operator or admin (default)")
          .required(false)
          .repeatable(false)
          .argument("ROLE")
          .callback(OptionCallback<CollectorApp>(this, &CollectorApp::handleAdminOption)));
}

void CollectorApp::handleAdminOption(const std::string& name, const std::string& value) {
  if (name == "name") {
    admin_options_.name = value;
  } else if (name == "tenant") {
    admin_options_.tenants.push_back(value);
  } else if (name == "expires") {
    admin_options_.expires = value;
  } else if (name == "role") {
    admin_options_.role = value;
  }
}

void CollectorApp::handleHelp(const std::string& /*name*/, const std::string& /*value*/) {
  help_requested_ = true;
  stopOptionsProcessing();
}

void CollectorApp::handleConfigFile(const std::string& /*name*/, const std::string& value) {
  config_file_ = value;
}

void CollectorApp::handleKeyOption(const std::string& name, const std::string& value) {
  command_line_->setString(keyOptions().at(name), value);
}

void CollectorApp::handleDefine(const std::string& /*name*/, const std::string& value) {
  const std::string::size_type eq = value.find('=');
  if (eq == std::string::npos || eq == 0) {
    throw Poco::Util::InvalidArgumentException("--define expects key=value, got '" + value + "'");
  }
  const std::string key = value.substr(0, eq);
  if (!isKnownConfigKey(key)) unknown_defines_.push_back(key);
  command_line_->setString(key, value.substr(eq + 1));
}

void CollectorApp::setUpLogging(const std::string& level, const std::string& format) {
  Poco::AutoPtr<Poco::Formatter> formatter;
  if (format == "text") {
    Poco::AutoPtr<Poco::PatternFormatter> pattern(new Poco::PatternFormatter(kLogPattern));
    pattern->setProperty("times", "UTC");
    formatter = pattern;
  } else {
    formatter = new JsonLogFormatter;
  }
  Poco::AutoPtr<Poco::ConsoleChannel> console(new Poco::ConsoleChannel(std::cerr));
  Poco::AutoPtr<Poco::FormattingChannel> channel(new Poco::FormattingChannel(formatter, console));
  Poco::Logger::setChannel("", channel);
  Poco::Logger::setLevel("", Poco::Logger::parseLevel(level));
  setLogger(Poco::Logger::get("vigil.collector"));
}

void CollectorApp::initialize(Poco::Util::Application& self) {
  ServerApplication::initialize(self);
  if (help_requested_) return;
  try {
    config().add(defaultsLayer(), kPriorityDefaults, false);
    if (!config_file_.empty()) loadConfiguration(config_file_, kPriorityConfigFile);
    config().add(environmentLayer(processEnvironment()), kPriorityEnvironment, false);
    config().add(command_line_, kPriorityCommandLine, false);
  } catch (const Poco::Exception& e) {
    config_error_ = "cannot load configuration file " + config_file_ + ": " + e.displayText();
  }
  if (config_error_.empty()) {
    auto read = readCollectorConfig(config());
    if (read.ok()) {
      config_ = read.value();
    } else {
      config_error_ = read.error().message();
    }
  }
  setUpLogging(config_ ? config_->log_level : "information",
               config_ ? config_->log_format : "json");
}

int CollectorApp::main(const std::vector<std::string>& args) {
  if (help_requested_) {
    Poco::Util::HelpFormatter help(options());
    help.setCommand(commandName());
    help.setUsage("[options] [command]");
    help.setHeader(
        "Vigil collector: receives agent heartbeats and serves the admin API.\n"
        "Configuration layers, lowest to highest priority: defaults < config file < "
        "environment (VIGIL_*) < command line.");
    help.format(std::cout);
    std::cout << "\nConfiguration keys (default; environment variable):\n";
    for (const ConfigKey& k : configKeys()) {
      std::cout << "  " << k.key << " = " << k.default_value << "  ("
                << environmentVariableFor(k.key) << ")\n      " << k.description << "\n";
    }
    std::cout << "\nCommands (run instead of the server, on the configured data directory):\n"
              << adminCliUsage();
    return EXIT_OK;
  }
  if (!config_) {
    logger().fatal(config_error_);
    return EXIT_CONFIG;
  }
  for (const std::string& key : unknown_defines_) {
    logger().warning("--define %s: not a configuration key of the collector; ignored", key);
  }
  if (!args.empty()) {
    return runAdminCommand(args, admin_options_, config_->store, config_->data_dir,
                           RealClock::instance(), std::cout, std::cerr);
  }
  if (admin_options_.any()) {
    logger().fatal("--name, --tenant and --expires are options of 'admin-token create'");
    return EXIT_USAGE;
  }
  return serve(*config_);
}

namespace {

// One log line per opened or resolved alert and per change of the collector's health.
// Verdicts held and released during a degradation can concern the whole fleet (a stall makes
// every agent late at once), so they are logged as counts, not one line each.
void logPresenceBatch(Poco::Logger& log, const PresenceBatch& batch) {
  for (const HealthRecord& h : batch.health) {
    if (h.degraded) {
      log.warning("collector DEGRADED (" + h.reasons + "): offline alerts are held");
    } else {
      log.notice("collector healthy again: held verdicts are being re-verified");
    }
  }
  size_t held = 0;
  size_t released = 0;
  for (const AlertChange& a : batch.alerts) {
    if (a.action == "held") {
      ++held;
      continue;
    }
    if (a.action == "released") {
      ++released;
      continue;
    }
    std::string subject =
        a.agent_id ? "agent " + *a.agent_id : "site " + std::to_string(a.site_id.value_or(0));
    std::string line = "alert " + a.kind + " " + a.action + " for " + subject;
    if (!a.note.empty()) line += ": " + a.note;
    log.notice(line);
  }
  if (held > 0) {
    log.notice(std::to_string(held) +
               " offline verdicts held while the collector is degraded (re-verified after)");
  }
  if (released > 0) {
    log.notice(std::to_string(released) +
               " held verdicts released: those agents were heard from again, no alert");
  }
}

// Requests in progress when the collector stops get this long to finish before their
// connections are shut: a stalled or hostile client must not hold a restart up.
constexpr std::chrono::seconds kDrainLimit{5};

// The file descriptors the listener may use for connections: the soft limit is raised to the
// hard one (systemd's default hard limit is 524288), and `wanted` is capped below it with room
// for the store, logs and the beacon socket.
size_t connectionRoom(size_t wanted, Poco::Logger& log) {
  constexpr rlim_t kReserved = 256;
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) return wanted;
  if (limit.rlim_cur < limit.rlim_max) {
    rlimit raised = limit;
    raised.rlim_cur = limit.rlim_max;
    if (::setrlimit(RLIMIT_NOFILE, &raised) == 0) limit = raised;
  }
  if (limit.rlim_cur == RLIM_INFINITY || limit.rlim_cur > wanted + kReserved) return wanted;
  const size_t room =
      limit.rlim_cur > 2 * kReserved ? limit.rlim_cur - kReserved : limit.rlim_cur / 2;
  log.warning("http.maxConnections = %z is more than the open-file limit allows (%z); using %z",
              wanted, static_cast<size_t>(limit.rlim_cur), room);
  return room;
}

// What HTTPS needs while the collector serves: the OpenSSL library, the certificate the
// reloader may replace, and the server context presenting it to each new handshake.
struct ServerTls {
  std::optional<OpenSslLibrary> library;
  std::optional<ServerCertificate> certificate;
  TlsHandshakeCounts handshakes;
  Poco::Net::Context::Ptr context;
};

// Loads the certificate and makes the server context into `tls` (left empty when TLS is
// off). An expired or not yet valid certificate is served with a warning: agents refuse it.
Status loadServerTls(const TlsSettings& settings, const Clock& clock, Poco::Logger& log,
                     ServerTls& tls) {
  if (!settings.enabled()) return Status::okStatus();
  tls.library.emplace();
  auto loaded = CertifiedKey::load(settings.certificate_file, settings.private_key_file);
  if (!loaded.ok()) {
    return Status::invalidArgument(
        "cannot use the TLS certificate (tls.certificateFile, tls.privateKeyFile): " +
        loaded.error().message());
  }
  if (Status valid = loaded.value()->validAt(clock.wallNow()); !valid.ok()) {
    log.warning("TLS certificate: " + valid.message() + "; agents will refuse it");
  }
  tls.certificate.emplace(loaded.value());
  auto context = makeServerContext(*tls.certificate, settings.session, &tls.handshakes);
  if (!context.ok()) return context.error();
  tls.context = context.value();
  log.information("TLS: serving " + loaded.value()->description());
  return Status::okStatus();
}

// A listening TCP socket on address:port. Bound explicitly: Poco's ServerSocket(address) also
// sets SO_REUSEPORT, which would let a second collector share the port and split the fleet's
// traffic between two processes. SO_REUSEADDR alone keeps restarts quick (TIME_WAIT) and makes
// a taken port an error. The listener does TLS itself, so the socket is plain.
Result<Poco::Net::ServerSocket> listenOn(const HttpSocketSettings& http) {
  Poco::Net::ServerSocket socket;
  try {
    socket.bind(Poco::Net::SocketAddress(http.address, static_cast<Poco::UInt16>(http.port)),
                /*reuseAddress=*/true, /*reusePort=*/false);
    socket.listen(std::max(64, http.backlog));
  } catch (const Poco::Exception& e) {
    return Status::unavailable("cannot listen on " + http.address + ":" +
                               std::to_string(http.port) + ": " + e.displayText());
  }
  return socket;
}

// The listener's configuration as it starts: the configured one, with the connection bound
// the open-file limit allows and the TLS context (null: plain HTTP).
ListenerConfig listenerConfig(const CollectorConfig& config, Poco::Net::Context::Ptr tls,
                              Poco::Logger& log) {
  ListenerConfig listener = config.listener;
  listener.connections.max_connections =
      connectionRoom(config.listener.connections.max_connections, log);
  listener.tls = std::move(tls);
  return listener;
}

// The admin API's services (docs/api.md), each registering its routes in the table. A deleted
// tenant or site takes its maintenance windows, cadence rules and peer key out of memory too:
// nothing of it may apply to anything created later.
class AdminServices {
 public:
  // Agents' retirements and class changes go to `changes`: the presence monitor, or in a
  // cluster the router that tells every collector.
  AdminServices(Store& store, AgentDirectory& directory, PresenceMonitor& presence,
                EvidenceSink& changes, const HealthSources& health, SitePeerKeys& peer_keys,
                CadenceBook& cadence, Poco::Logger& log)
      : agents_(store, store, directory, presence, health),
        maintenance_(store, store, store, presence),
        cadence_(
            store, store, store, cadence, changes,
            [this](const AdminRequest& r) { return agents_.getAgent(r); },
            [&log](const std::string& line) { log.information(line); }),
        tenancy_(
            store,
            [this](cJSON* summary, std::optional<int64_t> tenant_id,
                   std::optional<int64_t> site_id) {
              agents_.addSummary(summary, tenant_id, site_id);
            },
            deletions(peer_keys, log)),
        tokens_(store, store),
        alerts_(store),
        reports_(store) {
    agents_.routeChangesThrough(&changes);
  }
  AdminServices(const AdminServices&) = delete;
  AdminServices& operator=(const AdminServices&) = delete;

  // Reads the maintenance windows, the cadence rules and the agents' classes from the store.
  Status load() {
    if (Status s = maintenance_.load(); !s.ok()) return s;
    return cadence_.load();
  }

  void registerRoutes(AdminRouteTable& routes) {
    agents_.registerRoutes(routes);
    tenancy_.registerRoutes(routes);
    tokens_.registerRoutes(routes);
    alerts_.registerRoutes(routes);
    maintenance_.registerRoutes(routes);
    cadence_.registerRoutes(routes);
    reports_.registerRoutes(routes);
  }

 private:
  TenancyDeletions deletions(SitePeerKeys& peer_keys, Poco::Logger& log) {
    auto forget_windows = [this, &log] {
      if (Status s = maintenance_.reload(); !s.ok()) {
        log.error("cannot reload maintenance windows after a deletion: " + s.toString());
      }
      if (Status s = cadence_.reload(); !s.ok()) {
        log.error("cannot reload cadence rules after a deletion: " + s.toString());
      }
    };
    TenancyDeletions d;
    d.site_deleted = [&peer_keys, forget_windows](int64_t site_id) {
      peer_keys.forget(site_id);
      forget_windows();
    };
    d.tenant_deleted = [forget_windows](int64_t) { forget_windows(); };
    return d;
  }

  AgentQueryService agents_;
  MaintenanceService maintenance_;
  CadenceService cadence_;
  TenancyService tenancy_;
  TokenService tokens_;
  AlertService alerts_;
  ReportService reports_;
};

// What the collector remembers of its adaptive heartbeat intervals across a restart
// (<data_dir>/cadence-state, one line "LEVEL LONGEST_PLAIN_INTERVAL_S"): the governor's level,
// and the longest interval it may have told an agent without the beacon fallback, which
// warm-up must cover (such an agent may stay silent that long and still be alive).
struct CadenceMemory {
  uint32_t level = 0;
  int64_t longest_plain_interval_s = 0;
};

std::string cadenceStatePath(const std::string& data_dir) { return data_dir + "/cadence-state"; }

CadenceMemory readCadenceMemory(const std::string& data_dir) {
  CadenceMemory memory;
  std::ifstream in(cadenceStatePath(data_dir));
  unsigned level = 0;
  long long longest = 0;
  if (in >> level >> longest && longest >= 0 && longest <= 86'400) {
    memory.level = std::min<uint32_t>(level, kMaxStretchLevel);
    memory.longest_plain_interval_s = longest;
  }
  return memory;
}

Status writeCadenceMemory(const std::string& data_dir, const CadenceMemory& memory) {
  namespace fs = std::filesystem;
  return replaceFileAtomically(
      cadenceStatePath(data_dir),
      std::to_string(memory.level) + " " + std::to_string(memory.longest_plain_interval_s) + "\n",
      withPermissions(fs::perms::owner_read | fs::perms::owner_write));
}

// The longest interval an agent without the beacon fallback is told at `level`.
int64_t longestPlainInterval(const IngestConfig& ingest, uint32_t level) {
  CadenceInputs plain;
  plain.base = BaseCadence{ingest.heartbeat_interval_s, ingest.beacon_interval_s, true};
  return planCadence(plain, level, ingest.max_heartbeat_interval_s).heartbeat_s;
}

Duration processCpuTime() {
  timespec ts{};
  if (::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts) != 0) return Duration::zero();
  return std::chrono::duration_cast<Duration>(std::chrono::seconds(ts.tv_sec) +
                                              std::chrono::nanoseconds(ts.tv_nsec));
}

// vigil_cadence_*: the governor's level, rates and steps.
MetricsSource cadenceMetrics(const LoadGovernor& governor) {
  return [&governor](MetricsWriter& out) {
    const LoadGovernorView v = governor.view();
    out.family("vigil_cadence_stretch_level", MetricType::kGauge,
               "Adaptive heartbeat intervals: how many groups-steps of stretch apply (0: none).");
    out.sample(static_cast<double>(v.level));
    out.family("vigil_cadence_offered_heartbeats_per_second", MetricType::kGauge,
               "Heartbeats offered (accepted and shed) per second over the last period.");
    out.sample(v.offered_per_s);
    out.family("vigil_cadence_projected_heartbeats_per_second", MetricType::kGauge,
               "Heartbeats per second the fleet offers at the intervals handed out (the "
               "governor's load signal).");
    out.sample(v.projected_per_s);
    out.family("vigil_cadence_budget_heartbeats_per_second", MetricType::kGauge,
               "Heartbeats per second the collector aims to stay under (0: not learnt yet).");
    out.sample(v.budget_per_s);
    out.family("vigil_cadence_steps_total", MetricType::kCounter,
               "Steps of the heartbeat interval governor, by direction.");
    out.sample(static_cast<double>(v.raised), {{"direction", "lengthen"}});
    out.sample(static_cast<double>(v.lowered), {{"direction", "shorten"}});
  };
}

// Before each tick the degradation detector learns the ingest queue, how many agent requests
// were taken and shed (refused connections counted as shed ingest: their class is unknown),
// and whether the listener had to drop connections for want of room. Sheds of every class are
// summarised in the log. Called on the presence ticker's thread only.
class ListenerLoadReport {
 public:
  ListenerLoadReport(const HttpListener& listener, const AdmissionController& admission,
                     const Clock& clock, uint64_t ingest_queue_bound, Poco::Logger& http_log)
      : listener_(listener),
        clock_(clock),
        shed_reporter_(admission, clock),
        ingest_queue_bound_(ingest_queue_bound),
        http_log_(http_log) {}

  // Each tick's heartbeat rate also goes to the governor of adaptive heartbeat intervals;
  // `on_step` sees each step it takes.
  using CadenceStepSink = std::function<void(const CadenceStep&)>;
  void useGovernor(LoadGovernor* governor, CadenceStepSink on_step) {
    governor_ = governor;
    on_step_ = std::move(on_step);
  }
  // Each tick also reports the beacons read and those lost to a full receive queue.
  void useBeacons(const BeaconListener* beacons) { beacons_ = beacons; }

  void operator()(PresenceMonitor& monitor) {
    monitor.reportQueueDepth(presence::QueueId::kIngest, listener_.queued(RequestClass::kIngest),
                             ingest_queue_bound_);
    const ListenerStats s = listener_.stats();
    const ShedReporter::Delta d = shed_reporter_.take(s.connections.refused + s.accept_failures);
    monitor.reportRequests(d.ingest_accepted, d.ingest_shed);
    if (governor_ != nullptr) {
      if (std::optional<CadenceStep> step =
              governor_->sample(clock_.monotonicNow(), d.ingest_accepted, d.ingest_shed,
                                processCpuTime(), monitor.projectedHeartbeatsPerSecond())) {
        if (on_step_) on_step_(*step);
      }
    }
    const uint64_t starved = HttpListener::starvation(s);
    monitor.reportConnectionsStarved(starved - reported_starved_);
    reported_starved_ = starved;
    if (beacons_ != nullptr) {
      const BeaconListener::ReceiveStats b = beacons_->receiveStats();
      monitor.reportBeaconReceive(b.read - reported_beacons_.read,
                                  b.overflowed - reported_beacons_.overflowed);
      reported_beacons_ = b;
    }
    if (std::optional<std::string> line = shed_reporter_.summaryDue()) http_log_.warning(*line);
  }

 private:
  const HttpListener& listener_;
  const Clock& clock_;
  LoadGovernor* governor_ = nullptr;
  CadenceStepSink on_step_;
  ShedReporter shed_reporter_;
  const uint64_t ingest_queue_bound_;
  Poco::Logger& http_log_;
  uint64_t reported_starved_ = 0;
  const BeaconListener* beacons_ = nullptr;
  BeaconListener::ReceiveStats reported_beacons_;
};

// Writes the bound port for whoever started the collector on port 0 (tests, supervisors).
Status writePortFile(const std::string& path, uint16_t port) {
  namespace fs = std::filesystem;
  return replaceFileAtomically(path, std::to_string(port) + "\n",
                               withPermissions(fs::perms::owner_read | fs::perms::owner_write |
                                               fs::perms::group_read | fs::perms::others_read));
}

}  // namespace

// The write-behind's last word on whether the store's database can be reached, handed to the
// presence engine at its next tick: the writer runs on a thread of its own, the engine hears
// its inputs on the ticker's (DegradationReason::kStoreUnavailable).
class StoreReachLatch {
 public:
  void record(const Status& outcome) {
    if (outcome.ok()) {
      state_ = kReachable;
    } else if (outcome.code() == StatusCode::kUnavailable) {
      state_ = kUnreachable;
    }
  }
  // What was recorded since the last take(), if anything.
  std::optional<bool> take() {
    const int state = state_.exchange(kNothing);
    if (state == kNothing) return std::nullopt;
    return state == kReachable;
  }

 private:
  enum : int { kNothing, kReachable, kUnreachable };
  std::atomic<int> state_{kNothing};
};

// The heartbeat interval level the load governor stepped to, handed from the tick thread
// (where the governor steps) to the presence writer, which remembers it in the data directory:
// the ticks never wait on the disk (presence_ticker.h). Only the newest level is kept.
class CadenceMemoryMailbox {
 public:
  void post(const CadenceMemory& memory) {
    MutexLock lock(mu_);
    unwritten_ = memory;
  }
  // What was posted since the last take(), if anything.
  std::optional<CadenceMemory> take() {
    MutexLock lock(mu_);
    return std::exchange(unwritten_, std::nullopt);
  }

 private:
  Mutex mu_;
  std::optional<CadenceMemory> unwritten_ GUARDED_BY(mu_);
};

// The lease keeper's settings for this process: its instance id, and the URL the other
// collectors reach it at (cluster.internalUrl, or the bound address).
Result<LeaseKeeperOptions> clusterOptions(const CollectorConfig& config,
                                          const Poco::Net::SocketAddress& bound,
                                          const std::string& instance) {
  LeaseKeeperOptions options;
  options.node = config.cluster.node_name;
  options.instance = instance;
  options.internal_url = config.cluster.internal_url;
  options.lease_term = config.cluster.lease_term;
  options.renew_every = config.cluster.lease_renew;
  if (options.internal_url.empty()) {
    if (bound.host().isWildcard()) {
      return Status::invalidArgument(
          "set cluster.internalUrl: the other collectors cannot reach the wildcard address " +
          config.http.address);
    }
    options.internal_url =
        std::string(config.tls.enabled() ? "https://" : "http://") + bound.toString();
  }
  return options;
}

// The exit code of a store that cannot be opened (docs/operations.md, "Exit codes").
int storeExitCode(const Status& failure) {
  switch (failure.code()) {
    case StatusCode::kInvalidArgument:
      return Poco::Util::Application::EXIT_CONFIG;  // settings that cannot work
    case StatusCode::kUnavailable:
      return Poco::Util::Application::EXIT_TEMPFAIL;  // the database server is not reachable
    case StatusCode::kPermissionDenied:
      return Poco::Util::Application::EXIT_NOPERM;  // it refused the credentials
    case StatusCode::kFailedPrecondition:
      return Poco::Util::Application::EXIT_DATAERR;  // a newer collector's schema
    default:
      return Poco::Util::Application::EXIT_IOERR;
  }
}

int CollectorApp::serve(const CollectorConfig& config) {
  Poco::Logger& log = logger();
  const Clock& clock = RealClock::instance();
  log.information("vigil-collector %s starting; data directory %s", std::string(VIGIL_VERSION),
                  config.data_dir);
  // GET /metrics renders every source registered here (collector/http/metrics.h).
  MetricsRegistry metrics;

  // The data directory holds the generated tokens and the cadence state, and the SQLite
  // database when that is the store.
  if (Status s = ensurePrivateDirectory(config.data_dir); !s.ok()) {
    log.fatal("cannot prepare the data directory: " + s.toString());
    return EXIT_IOERR;
  }
  auto opened = SqlStore::open(config.store, config.data_dir);
  if (!opened.ok()) {
    log.fatal("cannot open the store: " + opened.error().toString());
    return storeExitCode(opened.error());
  }
  log.information("store: %s at %s", std::string(opened.value()->backendName()),
                  opened.value()->location());
  SqlStore& store = *opened.value();
  store.setOutboxFailureLog(
      [](const std::string& line) { Poco::Logger::get("vigil.collector.webhooks").error(line); });
  if (Status s = bootstrapStore(store, config.bootstrap, clock, log); !s.ok()) {
    log.fatal("cannot provision the store: " + s.toString());
    return EXIT_IOERR;
  }
  AgentDirectory directory;
  if (Status s = directory.load(store); !s.ok()) {
    log.fatal("cannot load agents: " + s.toString());
    return EXIT_IOERR;
  }
  log.information("loaded %z agents", directory.size());
  SitePeerKeys peer_keys(store);
  if (Status s = peer_keys.load(); !s.ok()) {
    log.fatal("cannot load the sites' peer keys: " + s.toString());
    return EXIT_IOERR;
  }

  Poco::Logger& store_log = Poco::Logger::get("vigil.collector.store");
  FailureLog last_seen_failures(store_log, "last-seen write-behind", clock);
  StoreReachLatch write_behind_reach;
  LastSeenWriter writer(directory, store, config.last_seen_flush_interval,
                        [&](const Status& outcome) {
                          last_seen_failures(outcome);
                          write_behind_reach.record(outcome);
                        });
  // The heartbeat cadence policy in memory (collector/core/cadence.h): kept in step by the
  // admin services (which load the agents' classes too); ingest resolves each agent's
  // intervals from it. Its rules are read here already: warm-up must cover them.
  CadenceBook cadence(
      CadenceDefaults{config.ingest.heartbeat_interval_s, config.beacon.interval_s});
  if (auto rules = store.listCadenceRules(); rules.ok()) {
    cadence.replaceRules(rules.value());
  } else {
    log.fatal("cannot load cadence rules: " + rules.error().toString());
    return EXIT_IOERR;
  }
  // Adaptive heartbeat intervals (docs/presence.md): the governor resumes at its level before
  // the restart, and warm-up covers the longest interval an agent may have been told by policy
  // or, without the beacon fallback, by load.
  CadenceMemory cadence_memory = readCadenceMemory(config.data_dir);
  presence::PresenceConfig presence_config = config.presence;
  presence_config.max_heartbeat_interval =
      std::max<Duration>({presence_config.max_heartbeat_interval,
                          std::chrono::seconds(cadence_memory.longest_plain_interval_s),
                          std::chrono::seconds(cadence.maxHeartbeatIntervalS())});
  LoadGovernor governor(config.cadence, cadence_memory.level);
  PresenceMonitor presence(presence_config, clock);
  // In a cluster the monitor loads the shards this collector takes, as it takes them.
  if (config.cluster.enabled()) {
    presence.trackOwnedShardsOnly();
    presence.setNodeName(config.cluster.node_name);
  }
  if (Status s = presence.load(store, store); !s.ok()) {
    log.fatal("cannot load presence state: " + s.toString());
    return EXIT_IOERR;
  }
  IngestConfig ingest_config = config.ingest;

  // In a cluster, evidence for a shard another collector owns is relayed to it, and admins'
  // changes to agents reach every collector (docs/cluster.md, "Routing").
  std::string cluster_instance;
  std::optional<ShardRoutes> routes;
  std::optional<EvidenceRouter> evidence_router;
  if (config.cluster.enabled()) {
    auto instance = crypto::randomHex(8);
    if (!instance.ok()) {
      log.fatal("cannot make an instance id: " + instance.error().toString());
      return EXIT_SOFTWARE;
    }
    cluster_instance = instance.value();
    auto key = store.clusterKey();
    if (!key.ok()) {
      log.fatal("cannot read the cluster's relay key: " + key.error().toString());
      return storeExitCode(key.error());
    }
    routes.emplace(config.cluster.node_name);
    evidence_router.emplace(presence, directory, store, *routes, clock, config.cluster.node_name,
                            cluster_instance);
    evidence_router->setKey(key.value());
  }
  EvidenceSink& evidence =
      evidence_router ? static_cast<EvidenceSink&>(*evidence_router) : presence;

  // The UDP beacon port, on the HTTP listener's address. Bound before anything serves, so a
  // taken port stops the start like a taken HTTP port does.
  std::optional<BeaconService> beacons;
  std::optional<BeaconListener> beacon_listener;
  if (config.beacon_enabled) {
    beacons.emplace(directory, clock, config.beacon, &evidence);
    beacon_listener.emplace(*beacons, Poco::Logger::get("vigil.collector.beacon"));
    if (Status s = beacon_listener->bind(config.http.address, config.beacon_port); !s.ok()) {
      log.fatal("cannot listen on udp %s:%d (beacon.port): %s", config.http.address,
                config.beacon_port, s.message());
      return EXIT_UNAVAILABLE;
    }
    ingest_config.beacon_port = beacon_listener->port();
  }

  Poco::Logger& ingest_log = Poco::Logger::get("vigil.collector.ingest");
  IngestService ingest(store, store, store, directory, clock, ingest_config, &evidence, &peer_keys,
                       [&ingest_log](const std::string& line) { ingest_log.information(line); });
  ingest.useCadence(&cadence, &governor);
  if (config.cluster.enabled()) ingest.lookUpUnknownAgents();
  HealthSources health_sources;
  health_sources.beacons = beacons ? &*beacons : nullptr;
  health_sources.beacon_port = beacon_listener ? beacon_listener->port() : 0;
  health_sources.ingest = &ingest;
  health_sources.cadence = &governor;
  // Each service registers its routes in the table (docs/api.md); the HTTP edge authenticates
  // and calls them. Services of other components (webhooks) register here too.
  AdminRouteTable admin_routes;
  AdminServices admin_services(store, directory, presence, evidence, health_sources, peer_keys,
                               cadence, log);
  if (Status s = admin_services.load(); !s.ok()) {
    log.fatal("cannot load maintenance windows and cadence rules: " + s.toString());
    return EXIT_IOERR;
  }
  admin_services.registerRoutes(admin_routes);

  // Webhooks (docs/webhooks.md): the outbox is filled by the store with each alert and health
  // change; the dispatcher delivers it on its own threads, never on ingest's or presence's.
  // Every request to a tenant's URL obeys the outbound policy (outbound.allowedNetworks).
  const OutboundPolicy outbound_policy(config.outbound_allowed_networks);
  auto webhook_transport = HttpWebhookTransport::create(config.webhook_transport, outbound_policy);
  if (!webhook_transport.ok()) {
    log.fatal(webhook_transport.error().message() + " (webhooks.caFile)");
    return EXIT_CONFIG;
  }
  Poco::Logger& webhook_log = Poco::Logger::get("vigil.collector.webhooks");
  // Channel credentials (docs/notifications.md) are sealed at rest with a key of the data
  // directory's, or the cluster's shared file.
  auto credentials_box = SecretBox::loadOrCreate(config.credentials_key_file);
  if (!credentials_box.ok()) {
    log.fatal(credentials_box.error().message() + " (notifications.credentialsKeyFile)");
    return EXIT_CONFIG;
  }
  if (!credentials_box.value().warning().empty())
    webhook_log.warning(credentials_box.value().warning());
  log.information("channel credentials key " + credentials_box.value().keyId() + " (" +
                  config.credentials_key_file + ")");
  SmtpMailTransportOptions mail_options;
  mail_options.timeout = config.webhook_transport.attempt_timeout;
  mail_options.ca_file = config.webhook_transport.ca_file;
  SmtpMailTransport mail_transport(mail_options, outbound_policy);
  WebhookDispatcher webhook_dispatcher(
      store, *webhook_transport.value(), clock, config.webhook_dispatch,
      [&webhook_log](const std::string& line) { webhook_log.warning(line); },
      [&webhook_log](const std::string& line) { webhook_log.error(line); },
      &credentials_box.value(), &mail_transport);
  ChannelAdminService webhooks(
      store, store, outbound_policy, [&webhook_dispatcher] { webhook_dispatcher.wake(); },
      [&webhook_log](const std::string& line) { webhook_log.warning(line); },
      &credentials_box.value());
  webhooks.registerRoutes(admin_routes);
  metrics.add(webhookMetrics(webhook_dispatcher));
  // Reminders and escalations (docs/notifications.md): looked for on their own thread; each
  // is claimed in the database, so the collectors of a cluster send each once.
  PeriodicThread follow_ups(config.follow_up_interval, [&store, &clock, &webhook_dispatcher,
                                                        &webhook_log] {
    auto enqueued = store.enqueueFollowUps(toUnixMillis(clock.wallNow()), 500);
    if (!enqueued.ok()) {
      webhook_log.error("cannot look for reminders and escalations: " + enqueued.error().message());
    } else if (enqueued.value() > 0) {
      webhook_dispatcher.wake();
    }
  });

  // The HTTP listener: HTTPS when a certificate is configured (the context presents the
  // current certificate to each new handshake, so the reloader can renew it without dropping
  // connections); plain HTTP only on loopback or with http.allowPlaintext (checked with the
  // configuration). Each request class has its own workers: the admin API and the probes can
  // never take ingest's.
  ServerTls tls;
  if (Status s = loadServerTls(config.tls, clock, log, tls); !s.ok()) {
    log.fatal(s.message());
    return EXIT_CONFIG;
  }
  auto socket = listenOn(config.http);
  if (!socket.ok()) {
    log.fatal(socket.error().message());
    return EXIT_UNAVAILABLE;
  }
  const Poco::Net::SocketAddress bound = socket.value().address();
  AdminAuthenticator admin_auth(store);
  ReadinessProbe readiness(store);
  ApiServices services{
      ingest,         admin_auth,     admin_routes, readiness,
      &openApiYaml(), &openApiJson(), clock,        Poco::Logger::get("vigil.collector.http")};
  services.metrics = &metrics;
  if (evidence_router) {
    services.relay = [&evidence_router](const std::optional<std::string>& signature,
                                        const std::string& body) {
      return evidence_router->receive(signature, body);
    };
  }
  CollectorRouter router(services);
  AdmissionController admission(config.admission);
  HttpListener listener(*socket, listenerConfig(config, tls.context, log), router, admission, clock,
                        Poco::Logger::get("vigil.collector.http.listener"));
  std::optional<CertificateReloader> reloader;
  if (tls.certificate) {
    reloader.emplace(*tls.certificate, config.tls.certificate_file, config.tls.private_key_file,
                     Poco::Logger::get("vigil.collector.tls"));
  }

  metrics.add(admissionMetrics(admission));
  metrics.add(listenerMetrics(listener));
  metrics.add(ingestMetrics(ingest));
  if (beacons) metrics.add(beaconMetrics(*beacons));
  if (beacon_listener) metrics.add(beaconReceiveMetrics(*beacon_listener));
  metrics.add(presenceMetrics(presence));
  metrics.add(directoryMetrics(directory));
  metrics.add(processMetrics());
  if (tls.context) metrics.add(tlsHandshakeMetrics(tls.handshakes));
  metrics.add(cadenceMetrics(governor));
  Poco::Logger& presence_log = Poco::Logger::get("vigil.collector.presence");
  CadenceMemoryMailbox cadence_to_remember;  // written by the presence writer
  ListenerLoadReport load_report(
      listener, admission, clock,
      config.admission.queue_high_water[static_cast<size_t>(RequestClass::kIngest)],
      Poco::Logger::get("vigil.collector.http"));
  if (beacon_listener) load_report.useBeacons(&*beacon_listener);
  load_report.useGovernor(&governor, [&](const CadenceStep& step) {
    presence_log.information(step.describe());
    cadence_memory.level = step.to_level;
    cadence_memory.longest_plain_interval_s =
        std::max(longestPlainInterval(ingest_config, step.from_level),
                 longestPlainInterval(ingest_config, step.to_level));
    cadence_to_remember.post(cadence_memory);
  });
  FailureLog presence_write_failures(store_log, "writing presence events", clock);
  auto remember_cadence = [&] {
    if (std::optional<CadenceMemory> memory = cadence_to_remember.take()) {
      if (Status s = writeCadenceMemory(config.data_dir, *memory); !s.ok()) {
        presence_log.warning("cannot remember the heartbeat interval level: " + s.toString());
      }
    }
  };
  auto tick_inputs = [&](PresenceMonitor& monitor) {
    load_report(monitor);
    if (std::optional<bool> reachable = write_behind_reach.take()) {
      monitor.reportStoreReach(*reachable);
    }
  };
  PresenceTicker ticker(
      presence, store, config.presence.tick_interval, tick_inputs,
      [&](const Status& outcome) {
        presence_write_failures(outcome);
        remember_cadence();
      },
      [&presence_log, &webhook_dispatcher](const PresenceBatch& batch) {
        logPresenceBatch(presence_log, batch);
        // The batch's events are in the webhook outbox now.
        if (!batch.alerts.empty() || !batch.health.empty()) webhook_dispatcher.wake();
      });

  // A collector of a cluster announces itself before it serves: a second process with a live
  // collector's node name stops here.
  std::optional<RelayTransport> relay_transport;
  std::optional<ClusterMembership> cluster;
  if (config.cluster.enabled()) {
    auto options = clusterOptions(config, bound, cluster_instance);
    if (!options.ok()) {
      log.fatal(options.error().message());
      return EXIT_CONFIG;
    }
    try {
      relay_transport.emplace(config.cluster.ca_file);
    } catch (const Poco::Exception& e) {
      log.fatal("cannot set up TLS to the other collectors (cluster.caFile): " + e.displayText());
      return EXIT_CONFIG;
    }
    cluster.emplace(store, presence, ticker, *evidence_router, *routes, *relay_transport, clock,
                    std::move(options.value()), Poco::Logger::get("vigil.collector.cluster"));
    if (Status joined = cluster->join(); !joined.ok()) {
      if (joined.code() == StatusCode::kAlreadyExists) {
        log.fatal(
            "cluster.nodeName '%s' is taken by a live collector: give each collector of "
            "the cluster its own name",
            config.cluster.node_name);
        return EXIT_CONFIG;
      }
      log.fatal("cannot join the cluster: " + joined.toString());
      return storeExitCode(joined);
    }
    ticker.useFences(
        [&cluster](const std::vector<int>& shards) { return cluster->fenceFor(shards); });
    readiness.alsoRequire([&cluster] { return cluster->ready(); });
    if (Status s = cluster->refreshRoutes(); !s.ok()) {
      log.warning("cannot read the shards' owners yet: " + s.toString());
    }
    metrics.add(cluster->metrics());
    log.information("cluster: node %s, reachable at %s", config.cluster.node_name,
                    cluster->internalUrl());
  }

  writer.start();
  listener.start();
  if (beacon_listener) beacon_listener->start();
  ticker.start();
  if (cluster) cluster->start();
  webhook_dispatcher.start();
  follow_ups.start();
  if (reloader) {
    reloader->start(std::chrono::seconds(config.tls.reload_interval_s));
  } else {
    // SIGHUP reloads the certificate; without TLS there is nothing to reload, and the default
    // action (ending the process) must not turn `systemctl reload` into an outage.
    ::signal(SIGHUP, SIG_IGN);
  }
  readiness.setListening(true);

  int rc = EXIT_OK;
  if (!config.http.port_file.empty()) {
    if (Status written = writePortFile(config.http.port_file, bound.port()); !written.ok()) {
      log.fatal("cannot write the port file: " + written.toString());
      rc = EXIT_CANTCREAT;
    }
  }
  if (rc == EXIT_OK) {
    log.information("listening on %s:%hu (%s)", bound.host().toString(), bound.port(),
                    std::string(config.tls.enabled() ? "https" : "http"));
    if (beacon_listener) {
      log.information("beacon listener on udp %s:%hu", bound.host().toString(),
                      beacon_listener->port());
    }
    waitForTerminationRequest();
    log.information("termination requested; stopping");
  }

  // No verdict from here on: while the listener drains, agents cannot be heard, and their
  // silence is the collector's (the next start judges them after its warm-up).
  // (A failed write is put back and retried by the last flush below.)
  static_cast<void>(ticker.stop());
  remember_cadence();
  readiness.setListening(false);
  if (reloader) reloader->stop();
  if (beacon_listener) beacon_listener->stop();
  if (const size_t cut = listener.stop(kDrainLimit); cut > 0) {
    log.warning("%z connections still busy %d s after the stop was requested; closed them", cut,
                static_cast<int>(kDrainLimit.count()));
  }
  log.information("verdicts stopped, listener closed; stopping webhook delivery");
  // Undelivered outbox entries stay pending and are delivered after the next start.
  follow_ups.stop();
  webhook_dispatcher.stop();
  // Evidence taken while draining may have changed statuses: written too.
  if (Status s = ticker.flush(); !s.ok()) {
    log.error("final presence event write failed: " + s.toString());
    if (rc == EXIT_OK) rc = EXIT_IOERR;
  }
  // Its shards go to the other collectors now rather than when their leases run out.
  if (cluster) {
    cluster->leave();
    log.information("cluster: shards handed over");
  }
  if (Status s = writer.stop(); !s.ok()) {
    log.error("final last-seen flush failed: " + s.toString());
    if (rc == EXIT_OK) rc = EXIT_IOERR;
  } else {
    log.information("last-seen flushed; stopped");
  }
  return rc;
}

}  // namespace vigil::collector
