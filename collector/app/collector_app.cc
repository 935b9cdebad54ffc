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
#include <filesystem>
#include <iostream>
#include <map>
#include <thread>

#include "collector/api/admin_api.h"
#include "collector/api/admin_auth.h"
#include "collector/api/admission.h"
#include "collector/api/agent_query.h"
#include "collector/api/alert_service.h"
#include "collector/api/beacon_listener.h"
#include "collector/api/handlers.h"
#include "collector/api/maintenance_service.h"
#include "collector/api/metrics.h"
#include "collector/api/openapi_handler.h"
#include "collector/api/readiness.h"
#include "collector/api/router.h"
#include "collector/api/tenancy_service.h"
#include "collector/api/token_service.h"
#include "collector/app/bootstrap.h"
#include "collector/app/failure_log.h"
#include "collector/app/file_util.h"
#include "collector/app/json_log_formatter.h"
#include "collector/app/tls_context.h"
#include "collector/ingest/agent_directory.h"
#include "collector/ingest/beacon_service.h"
#include "collector/ingest/ingest_service.h"
#include "collector/ingest/last_seen_writer.h"
#include "collector/ingest/site_peer_keys.h"
#include "collector/listener/http_listener.h"
#include "collector/monitor/presence_monitor.h"
#include "collector/monitor/presence_ticker.h"
#include "collector/notify/webhook_admin.h"
#include "collector/notify/webhook_dispatcher.h"
#include "collector/notify/webhook_transport.h"
#include "collector/store/sqlite_store.h"
#include "common/clock.h"
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
    return runAdminCommand(args, admin_options_, config_->data_dir, RealClock::instance(),
                           std::cout, std::cerr);
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

}  // namespace

int CollectorApp::serve(const CollectorConfig& config) {
  Poco::Logger& log = logger();
  const Clock& clock = RealClock::instance();
  log.information("vigil-collector %s starting; data directory %s", std::string(VIGIL_VERSION),
                  config.data_dir);
  // GET /metrics renders every source registered here (collector/api/metrics.h).
  MetricsRegistry metrics;

  auto opened = SqliteStore::open(config.data_dir);
  if (!opened.ok()) {
    log.fatal("cannot open the store: " + opened.error().toString());
    return EXIT_IOERR;
  }
  SqliteStore& store = *opened.value();
  if (Status s = bootstrapStore(
          store,
          {config.data_dir, config.admin_token, config.enroll_token,
           config.generated_enroll_token_days, config.generated_enroll_token_max_uses},
          clock, log);
      !s.ok()) {
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
  LastSeenWriter writer(directory, store, std::chrono::milliseconds(config.flush_interval_ms),
                        std::ref(last_seen_failures));
  PresenceMonitor presence(config.presence, clock);
  if (Status s = presence.load(store); !s.ok()) {
    log.fatal("cannot load presence state: " + s.toString());
    return EXIT_IOERR;
  }
  IngestConfig ingest_config;
  ingest_config.heartbeat_interval_s = config.heartbeat_interval_s;
  ingest_config.max_clock_skew_ms = config.max_clock_skew_s * 1000;
  ingest_config.verify_interval_s = config.verify_interval_s;
  ingest_config.verify_for_s = config.verify_for_s;
  ingest_config.enrollment_limits = config.enrollment_limits;

  // The UDP beacon port, on the HTTP listener's address. Bound before anything serves, so a
  // taken port stops the start like a taken HTTP port does.
  std::optional<BeaconService> beacons;
  std::optional<BeaconListener> beacon_listener;
  if (config.beacon_enabled) {
    BeaconConfig beacon_config;
    beacon_config.interval_s = config.beacon_interval_s;
    beacon_config.max_clock_skew_ms = config.max_clock_skew_s * 1000;
    beacons.emplace(directory, clock, beacon_config, &presence);
    beacon_listener.emplace(*beacons, Poco::Logger::get("vigil.collector.beacon"));
    if (Status s = beacon_listener->bind(config.http_address, config.beacon_port); !s.ok()) {
      log.fatal("cannot listen on udp %s:%d (beacon.port): %s", config.http_address,
                config.beacon_port, s.message());
      return EXIT_UNAVAILABLE;
    }
    ingest_config.beacon_port = beacon_listener->port();
    ingest_config.beacon_interval_s = config.beacon_interval_s;
  }

  Poco::Logger& ingest_log = Poco::Logger::get("vigil.collector.ingest");
  IngestService ingest(store, directory, clock, ingest_config, &presence, &peer_keys,
                       [&ingest_log](const std::string& line) { ingest_log.information(line); });
  HealthSources health_sources;
  health_sources.beacons = beacons ? &*beacons : nullptr;
  health_sources.beacon_port = beacon_listener ? beacon_listener->port() : 0;
  health_sources.ingest = &ingest;
  // --- admin API services ---
  // Each service registers its routes in the table (docs/api.md); the HTTP edge authenticates
  // and calls them. Services of other components (webhooks) register here too.
  AdminRouteTable admin_routes;
  AgentQueryService agents(store, directory, presence, health_sources);
  agents.registerRoutes(admin_routes);
  MaintenanceService maintenance(store, presence);
  if (Status s = maintenance.load(); !s.ok()) {
    log.fatal("cannot load maintenance windows: " + s.toString());
    return EXIT_IOERR;
  }
  // A deleted tenant or site takes its windows and peer key out of memory too: nothing of it
  // may apply to anything created later.
  auto forget_windows = [&maintenance, &log] {
    if (Status s = maintenance.reload(); !s.ok()) {
      log.error("cannot reload maintenance windows after a deletion: " + s.toString());
    }
  };
  TenancyDeletions deletions;
  deletions.site_deleted = [&peer_keys, forget_windows](int64_t site_id) {
    peer_keys.forget(site_id);
    forget_windows();
  };
  deletions.tenant_deleted = [forget_windows](int64_t) { forget_windows(); };
  TenancyService tenancy(
      store,
      [&agents](cJSON* summary, std::optional<int64_t> tenant_id, std::optional<int64_t> site_id) {
        agents.addSummary(summary, tenant_id, site_id);
      },
      std::move(deletions));
  tenancy.registerRoutes(admin_routes);
  TokenService tokens(store);
  tokens.registerRoutes(admin_routes);
  AlertService alerts(store);
  alerts.registerRoutes(admin_routes);
  maintenance.registerRoutes(admin_routes);
  // Webhooks (docs/webhooks.md): the outbox is filled by the store with each alert and health
  // change; the dispatcher delivers it on its own threads, never on ingest's or presence's.
  // Every request to a tenant's URL obeys the outbound policy (outbound.allowedNetworks).
  const OutboundPolicy outbound_policy(config.outbound_allowed_networks);
  HttpWebhookTransportOptions transport_options;
  transport_options.attempt_timeout = std::chrono::seconds(config.webhook_attempt_timeout_s);
  transport_options.connect_timeout = std::chrono::milliseconds(config.webhook_request_timeout_ms);
  transport_options.ca_file = config.webhook_ca_file;
  transport_options.user_agent = "vigil-collector/" + std::string(VIGIL_VERSION);
  auto webhook_transport = HttpWebhookTransport::create(transport_options, outbound_policy);
  if (!webhook_transport.ok()) {
    log.fatal(webhook_transport.error().message() + " (webhooks.caFile)");
    return EXIT_CONFIG;
  }
  WebhookDispatchConfig dispatch_config;
  dispatch_config.workers = config.webhook_workers;
  dispatch_config.max_in_flight_per_destination = config.webhook_max_in_flight_per_destination;
  dispatch_config.max_in_flight_per_tenant = config.webhook_max_in_flight_per_tenant;
  dispatch_config.poll_interval = std::chrono::milliseconds(config.webhook_poll_interval_ms);
  dispatch_config.retry_initial = std::chrono::milliseconds(config.webhook_retry_initial_ms);
  dispatch_config.retry_max = std::chrono::milliseconds(config.webhook_retry_max_ms);
  dispatch_config.give_up_after = std::chrono::seconds(config.webhook_give_up_after_s);
  Poco::Logger& webhook_log = Poco::Logger::get("vigil.collector.webhooks");
  WebhookDispatcher webhook_dispatcher(
      store, *webhook_transport.value(), clock, dispatch_config,
      [&webhook_log](const std::string& line) { webhook_log.warning(line); },
      [&webhook_log](const std::string& line) { webhook_log.error(line); });
  WebhookAdminService webhooks(
      store, outbound_policy, [&webhook_dispatcher] { webhook_dispatcher.wake(); },
      [&webhook_log](const std::string& line) { webhook_log.warning(line); });
  webhooks.registerRoutes(admin_routes);
  metrics.add([&webhook_dispatcher](MetricsWriter& out) {
    const WebhookDeliveryStats s = webhook_dispatcher.stats();
    out.family("vigil_webhook_deliveries_total", MetricType::kCounter,
               "Webhook delivery attempts, by outcome.");
    out.sample(static_cast<double>(s.delivered), {{"outcome", "delivered"}});
    out.sample(static_cast<double>(s.failed_attempts), {{"outcome", "failed"}});
    out.family("vigil_webhook_given_up_total", MetricType::kCounter,
               "Webhook outbox entries given up after webhooks.giveUpAfterSeconds.");
    out.sample(static_cast<double>(s.given_up));
    out.family("vigil_webhook_outbox_pending", MetricType::kGauge,
               "Webhook outbox entries waiting for delivery.");
    out.sample(static_cast<double>(std::max<int64_t>(s.pending, 0)));
    out.family("vigil_webhook_outbox_oldest_pending_age_seconds", MetricType::kGauge,
               "Age of the oldest webhook outbox entry waiting for delivery.");
    out.sample(s.oldest_pending_age_s);
  });
  // --- end of admin API services ---

  AdminAuthenticator admin_auth(store);
  ReadinessProbe readiness(store);
  ApiServices services{
      ingest,         admin_auth,     admin_routes, readiness,
      &openApiYaml(), &openApiJson(), clock,        Poco::Logger::get("vigil.collector.http")};

  // --- HTTP listener: TLS, bulkheads, /metrics ---
  // HTTPS when a certificate is configured (the context presents the current certificate to
  // each new handshake, so the reloader can renew it without dropping connections); plain
  // HTTP only on loopback or with http.allowPlaintext (checked with the configuration).
  const bool tls = !config.tls_certificate_file.empty();
  std::optional<OpenSslLibrary> ssl_library;
  std::optional<ServerCertificate> certificate;
  Poco::Net::Context::Ptr tls_context;
  if (tls) {
    ssl_library.emplace();
    auto loaded = CertifiedKey::load(config.tls_certificate_file, config.tls_private_key_file);
    if (!loaded.ok()) {
      log.fatal("cannot use the TLS certificate (tls.certificateFile, tls.privateKeyFile): " +
                loaded.error().message());
      return EXIT_CONFIG;
    }
    if (Status valid = loaded.value()->validAt(clock.wallNow()); !valid.ok()) {
      log.warning("TLS certificate: " + valid.message() + "; agents will refuse it");
    }
    certificate.emplace(loaded.value());
    auto context = makeServerContext(*certificate, SessionResumption{config.tls_session_cache_size,
                                                                     config.tls_session_timeout_s});
    if (!context.ok()) {
      log.fatal(context.error().message());
      return EXIT_CONFIG;
    }
    tls_context = context.value();
    log.information("TLS: serving " + loaded.value()->description());
  }

  // Bound explicitly: Poco's ServerSocket(address) also sets SO_REUSEPORT, which would let a
  // second collector share the port and split the fleet's traffic between two processes.
  // SO_REUSEADDR alone keeps restarts quick (TIME_WAIT) and makes a taken port an error.
  // The listener does TLS itself (tls_context is its server context), so the socket is plain.
  Poco::Net::ServerSocket socket;
  try {
    socket.bind(
        Poco::Net::SocketAddress(config.http_address, static_cast<Poco::UInt16>(config.http_port)),
        /*reuseAddress=*/true, /*reusePort=*/false);
    socket.listen(std::max(64, config.http_max_queued));
  } catch (const Poco::Exception& e) {
    log.fatal("cannot listen on %s:%d: %s", config.http_address, config.http_port, e.displayText());
    return EXIT_UNAVAILABLE;
  }
  const Poco::Net::SocketAddress bound = socket.address();

  // Each class has its own workers: the admin API and the probes can never take ingest's.
  // A class's requests admitted and not yet answered: its workers plus its queue.
  ListenerConfig listener_config;
  listener_config.workers = {
      static_cast<uint32_t>(config.http_max_threads - config.http_admin_threads -
                            config.http_probe_threads),
      static_cast<uint32_t>(config.http_admin_threads),
      static_cast<uint32_t>(config.http_probe_threads)};
  listener_config.connections.max_connections =
      connectionRoom(static_cast<size_t>(config.http_max_connections), log);
  listener_config.connections.max_per_client =
      static_cast<size_t>(config.http_max_connections_per_client);
  listener_config.connections.receive_timeout = std::chrono::seconds(config.http_receive_timeout_s);
  listener_config.connections.idle_timeout = std::chrono::seconds(config.http_keep_alive_timeout_s);
  listener_config.connections.send_timeout = std::chrono::seconds(config.http_send_timeout_s);
  listener_config.requests.max_body_bytes = protocol::kMaxBodyBytes;
  listener_config.tls = tls_context;
  AdmissionConfig admission_config;
  const std::array<uint32_t, kRequestClassCount> queue_limits = {
      static_cast<uint32_t>(config.http_ingest_queue_high_water),
      static_cast<uint32_t>(config.http_queue_high_water),
      static_cast<uint32_t>(config.http_queue_high_water)};
  for (size_t c = 0; c < kRequestClassCount; ++c) {
    admission_config.max_in_flight[c] = listener_config.workers[c] + queue_limits[c];
    admission_config.queue_high_water[c] = queue_limits[c];
  }
  admission_config.admin_max_per_client = static_cast<uint32_t>(config.http_admin_max_per_client);
  admission_config.retry_after_s = static_cast<uint32_t>(config.http_retry_after_s);
  admission_config.retry_after_jitter_s = static_cast<uint32_t>(config.http_retry_after_jitter_s);
  AdmissionController admission(admission_config);
  services.metrics = &metrics;
  CollectorRouter router(services);
  HttpListener listener(socket, listener_config, router, admission, clock,
                        Poco::Logger::get("vigil.collector.http.listener"));

  metrics.add(admissionMetrics(admission));
  metrics.add(listenerMetrics(listener));
  metrics.add(ingestMetrics(ingest));
  if (beacons) metrics.add(beaconMetrics(*beacons));
  metrics.add(presenceMetrics(presence));
  metrics.add(directoryMetrics(directory));
  metrics.add(processMetrics());

  std::optional<CertificateReloader> reloader;
  if (tls) {
    reloader.emplace(*certificate, config.tls_certificate_file, config.tls_private_key_file,
                     Poco::Logger::get("vigil.collector.tls"));
  }
  // --- end of HTTP listener ---

  // Before each tick the degradation detector learns the ingest queue, how many agent
  // requests were taken and shed (refused connections counted as shed ingest: their class is
  // unknown), and whether the listener had to drop connections for want of room. Sheds of
  // every class are summarised in the log.
  Poco::Logger& presence_log = Poco::Logger::get("vigil.collector.presence");
  Poco::Logger& http_log = Poco::Logger::get("vigil.collector.http");
  const auto ingest_queue_bound = static_cast<uint64_t>(config.http_ingest_queue_high_water);
  ShedReporter shed_reporter(admission, clock);
  uint64_t reported_starved = 0;
  FailureLog presence_write_failures(store_log, "writing presence events", clock);
  PresenceTicker ticker(
      presence, store, config.presence.tick_interval,
      [&listener, &shed_reporter, &http_log, &reported_starved,
       ingest_queue_bound](PresenceMonitor& monitor) {
        monitor.reportQueueDepth(presence::QueueId::kIngest, listener.queued(RequestClass::kIngest),
                                 ingest_queue_bound);
        const ListenerStats s = listener.stats();
        const ShedReporter::Delta d = shed_reporter.take(s.connections.refused + s.accept_failures);
        monitor.reportRequests(d.ingest_accepted, d.ingest_shed);
        const uint64_t starved = HttpListener::starvation(s);
        monitor.reportConnectionsStarved(starved - reported_starved);
        reported_starved = starved;
        if (std::optional<std::string> line = shed_reporter.summaryDue()) http_log.warning(*line);
      },
      std::ref(presence_write_failures),
      [&presence_log, &webhook_dispatcher](const PresenceBatch& batch) {
        logPresenceBatch(presence_log, batch);
        // The batch's events are in the webhook outbox now.
        if (!batch.alerts.empty() || !batch.health.empty()) webhook_dispatcher.wake();
      });

  writer.start();
  listener.start();
  if (beacon_listener) beacon_listener->start();
  ticker.start();
  webhook_dispatcher.start();
  if (reloader) {
    reloader->start(std::chrono::seconds(config.tls_reload_interval_s));
  } else {
    // SIGHUP reloads the certificate; without TLS there is nothing to reload, and the default
    // action (ending the process) must not turn `systemctl reload` into an outage.
    ::signal(SIGHUP, SIG_IGN);
  }
  readiness.setListening(true);

  int rc = EXIT_OK;
  if (!config.port_file.empty()) {
    Status written = writeFileAtomically(
        config.port_file, std::to_string(bound.port()) + "\n",
        std::filesystem::perms::owner_read | std::filesystem::perms::owner_write |
            std::filesystem::perms::group_read | std::filesystem::perms::others_read);
    if (!written.ok()) {
      log.fatal("cannot write the port file: " + written.toString());
      rc = EXIT_CANTCREAT;
    }
  }
  if (rc == EXIT_OK) {
    log.information("listening on %s:%hu (%s)", bound.host().toString(), bound.port(),
                    std::string(tls ? "https" : "http"));
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
  readiness.setListening(false);
  if (reloader) reloader->stop();
  if (beacon_listener) beacon_listener->stop();
  if (const size_t cut = listener.stop(kDrainLimit); cut > 0) {
    log.warning("%z connections still busy %d s after the stop was requested; closed them", cut,
                static_cast<int>(kDrainLimit.count()));
  }
  log.information("verdicts stopped, listener closed; stopping webhook delivery");
  // Undelivered outbox entries stay pending and are delivered after the next start.
  webhook_dispatcher.stop();
  // Evidence taken while draining may have changed statuses: written too.
  if (Status s = ticker.flush(); !s.ok()) {
    log.error("final presence event write failed: " + s.toString());
    if (rc == EXIT_OK) rc = EXIT_IOERR;
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
