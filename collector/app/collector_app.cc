#include "collector/app/collector_app.h"

#include <Poco/AutoPtr.h>
#include <Poco/ConsoleChannel.h>
#include <Poco/Exception.h>
#include <Poco/FormattingChannel.h>
#include <Poco/Net/HTTPServer.h>
#include <Poco/Net/HTTPServerParams.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/Net/SocketAddress.h>
#include <Poco/PatternFormatter.h>
#include <Poco/ThreadPool.h>
#include <Poco/Util/HelpFormatter.h>
#include <Poco/Util/IntValidator.h>
#include <Poco/Util/Option.h>
#include <Poco/Util/OptionCallback.h>
#include <Poco/Util/OptionException.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <iostream>
#include <map>

#include "collector/api/admin_auth.h"
#include "collector/api/agent_query.h"
#include "collector/api/beacon_listener.h"
#include "collector/api/handlers.h"
#include "collector/api/readiness.h"
#include "collector/api/router.h"
#include "collector/app/bootstrap.h"
#include "collector/app/file_util.h"
#include "collector/ingest/agent_directory.h"
#include "collector/ingest/beacon_service.h"
#include "collector/ingest/ingest_service.h"
#include "collector/ingest/last_seen_writer.h"
#include "collector/ingest/site_peer_keys.h"
#include "collector/monitor/presence_monitor.h"
#include "collector/monitor/presence_ticker.h"
#include "collector/store/sqlite_store.h"
#include "common/clock.h"

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

void CollectorApp::setUpLogging(const std::string& level) {
  Poco::AutoPtr<Poco::PatternFormatter> formatter(new Poco::PatternFormatter(kLogPattern));
  formatter->setProperty("times", "UTC");
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
  setUpLogging(config_ ? config_->log_level : "information");
}

int CollectorApp::main(const std::vector<std::string>& args) {
  if (help_requested_) {
    Poco::Util::HelpFormatter help(options());
    help.setCommand(commandName());
    help.setUsage("[options]");
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
    return EXIT_OK;
  }
  if (!config_) {
    logger().fatal(config_error_);
    return EXIT_CONFIG;
  }
  if (!args.empty()) {
    logger().fatal("unexpected argument '" + args.front() + "'");
    return EXIT_USAGE;
  }
  for (const std::string& key : unknown_defines_) {
    logger().warning("--define %s: not a configuration key of the collector; ignored", key);
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

}  // namespace

int CollectorApp::serve(const CollectorConfig& config) {
  Poco::Logger& log = logger();
  const Clock& clock = RealClock::instance();
  log.information("vigil-collector %s starting; data directory %s", std::string(VIGIL_VERSION),
                  config.data_dir);

  auto opened = SqliteStore::open(config.data_dir);
  if (!opened.ok()) {
    log.fatal("cannot open the store: " + opened.error().toString());
    return EXIT_IOERR;
  }
  SqliteStore& store = *opened.value();
  if (Status s = bootstrapStore(store, {config.data_dir, config.admin_token, config.enroll_token},
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
  LastSeenWriter writer(directory, store, std::chrono::milliseconds(config.flush_interval_ms),
                        [&store_log](const Status& s) {
                          store_log.error("last-seen write-behind failed: " + s.toString());
                        });
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
  AgentQueryService agents(store, directory, presence, health_sources);
  AdminAuthenticator admin_auth(store);
  ReadinessProbe readiness(store);
  ApiServices services{ingest, agents, admin_auth, readiness,
                       Poco::Logger::get("vigil.collector.http")};

  // Plain HTTP in this version. TLS seam: a Poco::Net::SecureServerSocket built from a
  // Context (certificate, key) replaces this ServerSocket; nothing else changes.
  //
  // Bound explicitly: Poco's ServerSocket(address) also sets SO_REUSEPORT, which would let a
  // second collector share the port and split the fleet's traffic between two processes.
  // SO_REUSEADDR alone keeps restarts quick (TIME_WAIT) and makes a taken port an error.
  std::optional<Poco::Net::ServerSocket> socket;
  try {
    socket.emplace();
    socket->bind(
        Poco::Net::SocketAddress(config.http_address, static_cast<Poco::UInt16>(config.http_port)),
        /*reuseAddress=*/true, /*reusePort=*/false);
    socket->listen(std::max(64, config.http_max_queued));
  } catch (const Poco::Exception& e) {
    log.fatal("cannot listen on %s:%d: %s", config.http_address, config.http_port, e.displayText());
    return EXIT_UNAVAILABLE;
  }
  const Poco::Net::SocketAddress bound = socket->address();

  Poco::AutoPtr<Poco::Net::HTTPServerParams> params(new Poco::Net::HTTPServerParams);
  params->setMaxThreads(config.http_max_threads);
  params->setMaxQueued(config.http_max_queued);
  params->setKeepAlive(true);
  Poco::ThreadPool pool("http", 2, config.http_max_threads);
  Poco::Net::HTTPServer server(new CollectorRouter(services), pool, *socket, params);

  Poco::Logger& presence_log = Poco::Logger::get("vigil.collector.presence");
  const auto max_queued = static_cast<uint64_t>(config.http_max_queued);
  PresenceTicker ticker(
      presence, store, config.presence.tick_interval,
      [&server, max_queued](PresenceMonitor& monitor) {
        monitor.reportQueueDepth(presence::QueueId::kIngest,
                                 static_cast<uint64_t>(server.queuedConnections()), max_queued);
      },
      [&store_log](const Status& s) {
        store_log.error("writing presence events failed: " + s.toString());
      },
      [&presence_log](const PresenceBatch& batch) { logPresenceBatch(presence_log, batch); });

  writer.start();
  server.start();
  if (beacon_listener) beacon_listener->start();
  ticker.start();
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
    log.information("listening on %s:%hu", bound.host().toString(), bound.port());
    if (beacon_listener) {
      log.information("beacon listener on udp %s:%hu", bound.host().toString(),
                      beacon_listener->port());
    }
    waitForTerminationRequest();
    log.information("termination requested; stopping");
  }

  readiness.setListening(false);
  if (beacon_listener) beacon_listener->stop();
  server.stopAll(false);
  pool.joinAll();
  if (Status s = ticker.stop(); !s.ok()) {
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
