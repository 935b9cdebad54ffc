#include "collector/app/collector_config.h"

#include <Poco/Environment.h>
#include <Poco/Exception.h>
#include <Poco/Logger.h>
#include <Poco/Net/SocketAddress.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <chrono>
#include <cstdlib>
#include <limits>
#include <sstream>
#include <thread>

#include "common/protocol.h"
#include "common/text.h"

namespace vigil::collector {
namespace {

constexpr int64_t kMaxIntervalS = 86'400;

// Strict decimal integer: optional '-', 1 to 18 digits, surrounding blanks ignored.
std::optional<int64_t> parseInteger(std::string_view text) {
  text = trimBlanks(text);
  const bool negative = !text.empty() && text.front() == '-';
  if (negative) text.remove_prefix(1);
  if (text.empty() || text.size() > 18) return std::nullopt;
  int64_t value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + (c - '0');
  }
  return negative ? -value : value;
}

// Collects the first validation failure.
class Validator {
 public:
  explicit Validator(const Poco::Util::AbstractConfiguration& config) : config_(config) {}

  std::string string(const char* key) { return config_.getRawString(key, ""); }

  int64_t integer(const char* key, int64_t min, int64_t max) {
    const std::string text = string(key);
    std::optional<int64_t> value = parseInteger(text);
    if (!value || *value < min || *value > max) {
      fail(std::string("configuration key ") + key + " (env " + environmentVariableFor(key) +
           ") = '" + text + "' must be an integer from " + std::to_string(min) + " to " +
           std::to_string(max));
      return min;
    }
    return *value;
  }

  bool boolean(const char* key) {
    std::string text(trimBlanks(string(key)));
    for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (text == "true" || text == "yes" || text == "on" || text == "1") return true;
    if (text == "false" || text == "no" || text == "off" || text == "0") return false;
    fail(std::string("configuration key ") + key + " (env " + environmentVariableFor(key) +
         ") = '" + string(key) + "' must be true or false");
    return false;
  }

  double real(const std::string& key, double min, double max) {
    const std::string text = string(key.c_str());
    char* end = nullptr;
    const double value = std::strtod(text.c_str(), &end);
    if (text.empty() || end == nullptr || *end != '\0' || !(value >= min && value <= max)) {
      fail("configuration key " + key + " (env " + environmentVariableFor(key) + ") = '" + text +
           "' must be a number from " + formatNumber(min) + " to " + formatNumber(max));
      return min;
    }
    return value;
  }

  void fail(std::string message) {
    if (!error_) error_ = std::move(message);
  }
  const std::optional<std::string>& error() const { return error_; }

 private:
  const Poco::Util::AbstractConfiguration& config_;
  std::optional<std::string> error_;
};

// The presence engine's thresholds, each bound to its PresenceConfig member. Defaults come
// from PresenceConfig itself, so they are written down once.
struct DurationSetting {
  const char* key;
  const char* description;
  Duration presence::PresenceConfig::*member;
  bool milliseconds;  // unit of the key: ms if true, else s
  int64_t min, max;
};
struct RealSetting {
  const char* key;
  const char* description;
  double presence::PresenceConfig::*member;
  double min, max;
};
struct CountSetting {
  const char* key;
  const char* description;
  uint32_t presence::PresenceConfig::*member;
  int64_t min, max;
};

using PC = presence::PresenceConfig;
constexpr int64_t kDay = 86'400;

const std::vector<DurationSetting>& durationSettings() {
  static const std::vector<DurationSetting> kSettings = {
      {"presence.confirmationWindowSeconds", "silence a SUSPECT agent must keep to be OFFLINE",
       &PC::confirmation_window, false, 1, kDay},
      {"presence.beaconFallbackGraceSeconds",
       "beacon fallback: wait for the fallback heartbeat this long past a beacon interval",
       &PC::beacon_fallback_grace, false, 0, 600},
      {"presence.witnessMaxPostponeSeconds", "longest OFFLINE delay by peer witnesses alone",
       &PC::witness_max_postpone, false, 0, kDay},
      {"presence.serverShutdownGraceSeconds", "a server that announced shutdown alerts after",
       &PC::server_shutdown_grace, false, 1, 30 * kDay},
      {"presence.tickIntervalMs", "evaluation period", &PC::tick_interval, true, 10, 60'000},
      {"presence.tickLateAfterMs", "tick lateness that marks the collector frozen",
       &PC::tick_late_after, true, 100, 600'000},
      {"presence.clockJumpThresholdSeconds", "wall-clock step that degrades the collector",
       &PC::clock_jump_threshold, false, 1, kDay},
      {"presence.recoveryPeriodSeconds",
       "stay DEGRADED this long after a fault ends (0: one max interval plus jitter)",
       &PC::recovery_period, false, 0, kDay},
      {"presence.ingestLagBoundSeconds", "ingest lag that degrades the collector",
       &PC::ingest_lag_bound, false, 1, kDay},
      {"presence.channelWindowSeconds", "window of the channel-collapse check", &PC::channel_window,
       false, 1, kDay},
      {"presence.suspectWindowSeconds", "window of the mass-suspect check", &PC::suspect_window,
       false, 1, kDay},
      {"presence.siteWindowSeconds", "longest a verdict waits for its site to be judged",
       &PC::site_window, false, 1, kDay},
      {"presence.agentReconnectTimeSeconds",
       "how long an agent's attempt may hang before it retries (its connect timeout)",
       &PC::agent_reconnect_time, false, 0, 3600},
      {"presence.flapHalfLifeSeconds", "half-life of the flapping score", &PC::flap_half_life,
       false, 1, 30 * kDay},
      {"presence.channelCollapseMaxDurationSeconds",
       "longest a channel collapse keeps the collector DEGRADED",
       &PC::channel_collapse_max_duration, false, 1, kDay},
      {"presence.massSuspectMaxDurationSeconds",
       "longest a mass-suspect event keeps the collector DEGRADED", &PC::mass_suspect_max_duration,
       false, 1, kDay},
      {"presence.establishedAfterSeconds",
       "probation of a new agent before it counts toward fleet-wide degradation "
       "(0: none)",
       &PC::established_after, false, 0, 30 * kDay},
  };
  return kSettings;
}

const std::vector<RealSetting>& realSettings() {
  static const std::vector<RealSetting> kSettings = {
      {"presence.phiThreshold", "phi above which an indicator is late", &PC::phi_threshold, 1, 30},
      {"presence.latenessFloor", "earliest lateness, in expected intervals", &PC::lateness_floor, 1,
       100},
      {"presence.latenessCeiling", "latest lateness, in expected intervals", &PC::lateness_ceiling,
       1, 100},
      {"presence.minStddevShare", "smallest assumed spread, as a share of the interval",
       &PC::min_stddev_share, 0, 1},
      {"presence.agentJitter", "jitter agents add to each interval (share)", &PC::agent_jitter, 0,
       1},
      {"presence.shedShareBound", "share of shed requests that degrades the collector",
       &PC::shed_share_bound, 0, 1},
      {"presence.channelDropShare", "share of a channel's agents lost that is a collapse",
       &PC::channel_drop_share, 0, 1},
      {"presence.massSuspectFactor", "SUSPECT transitions over baseline that is a mass event",
       &PC::mass_suspect_factor, 1, 1000},
      {"presence.massSuspectMinShare", "least share of the fleet for a mass-suspect event",
       &PC::mass_suspect_min_share, 0, 1},
      {"presence.siteSilentShare", "share of a site silent together for a site alert",
       &PC::site_silent_share, 0, 1},
      {"presence.fleetSilentShare",
       "SUSPECT share of the fleet, by agents and by tenants, at which the collector is deaf",
       &PC::fleet_silent_share, 0, 1},
      {"presence.flapHigh", "flapping score that starts a flapping alert", &PC::flap_high, 0, 1000},
      {"presence.flapLow", "flapping score that ends it", &PC::flap_low, 0, 1000},
  };
  return kSettings;
}

const std::vector<CountSetting>& countSettings() {
  static const std::vector<CountSetting> kSettings = {
      {"presence.storeFailuresBound", "consecutive failed store writes that degrade",
       &PC::store_failures_bound, 1, 1'000'000},
      {"presence.channelMinAgents", "least agents on a channel for the collapse check",
       &PC::channel_min_agents, 1, 100'000'000},
      {"presence.massSuspectMinAgents", "least SUSPECT transitions for a mass event",
       &PC::mass_suspect_min_agents, 1, 100'000'000},
      {"presence.siteMinAgents", "least agents of a site for site correlation",
       &PC::site_min_agents, 2, 100'000'000},
      {"presence.fleetSilentMinAgents", "least SUSPECT agents for the collector to be deaf",
       &PC::fleet_silent_min_agents, 1, 100'000'000},
  };
  return kSettings;
}

std::string durationText(Duration d, bool milliseconds) {
  using namespace std::chrono;
  return std::to_string(milliseconds ? duration_cast<std::chrono::milliseconds>(d).count()
                                     : duration_cast<seconds>(d).count());
}

}  // namespace

std::string formatNumber(double value) {
  std::ostringstream out;
  out << value;
  return out.str();
}

const std::vector<ConfigKey>& configKeys() {
  static const std::vector<ConfigKey> kKeys = {
      {"http.address", "127.0.0.1", "address the HTTP listener binds to"},
      {"http.port", "8470", "TCP port of the HTTP listener; 0 picks a free one"},
      {"http.portFile", "", "if set, the bound port is written here (atomically) after start"},
      {"http.maxThreads", "10",
       "HTTP worker threads in all: http.adminThreads for the admin API, http.probeThreads for "
       "the probes, the rest for agents"},
      {"http.maxQueued", "4096", "listen backlog: connections the kernel holds before accept"},
      {"http.maxConnections", "10000",
       "open connections at most; a new one past it replaces the one that can best be spared"},
      {"http.maxConnectionsPerClient", "2000",
       "open connections from one client address at most; 0: no per-client limit"},
      {"http.adminThreads", "4", "admin API requests served at once"},
      {"http.probeThreads", "2", "/livez, /readyz and /metrics requests served at once"},
      {"http.queueHighWater", "32",
       "admin (and probe) requests waiting for a worker above which more are shed (503)"},
      {"http.ingestQueueHighWater", "512",
       "agent requests waiting for a worker above which more are shed (503)"},
      {"http.ingestMaxQueueDelayMs", "1000",
       "agent requests are shed (503) while the oldest waiting one has waited longer; 0: never"},
      {"http.adminMaxPerClient", "0",
       "admin requests in progress from one client address (more: 429); 0: no limit"},
      {"http.retryAfterSeconds", "5", "Retry-After of a shed request, before jitter"},
      {"http.retryAfterJitterSeconds", "10", "uniform 0..N seconds added to each Retry-After"},
      {"http.keepAliveTimeoutSeconds", "2", "an idle keep-alive connection is closed after"},
      {"http.receiveTimeoutSeconds", "15",
       "a request (TLS handshake, head and body) must be complete this long after its first "
       "byte (a new connection: after the accept), however slowly it arrives"},
      {"http.sendTimeoutSeconds", "15",
       "an answer the client does not take within this is dropped"},
      {"http.allowPlaintext", "false",
       "allow plain HTTP on a non-loopback http.address (else TLS is required)"},
      {"tls.certificateFile", "",
       "PEM certificate, leaf first then intermediates; set: the listener is HTTPS"},
      {"tls.privateKeyFile", "", "PEM private key (unencrypted) of tls.certificateFile"},
      {"tls.reloadIntervalSeconds", "5",
       "how often the certificate files are checked for a change; 0: on SIGHUP only"},
      {"tls.sessionTickets", "true",
       "resume TLS sessions by tickets (the collector keeps nothing per session; the ticket "
       "keys change with each certificate reload)"},
      {"tls.sessionCacheSize", "100000",
       "TLS sessions kept for resumption by clients without tickets (TLS 1.2; about 1 KiB "
       "each); 0: none"},
      {"tls.sessionTimeoutSeconds", "7200", "how long a TLS session can be resumed"},
      {"data.dir", "/var/lib/vigil/collector", "directory of the database and token files"},
      {"heartbeat.intervalSeconds", "60",
       "base heartbeat interval told to agents (cadence policy may set others)"},
      {"heartbeat.maxIntervalSeconds", "300",
       "longest heartbeat interval load may stretch an agent to (docs/presence.md)"},
      {"cadence.budgetPerSecond", "0",
       "heartbeats per second to stay under before intervals are stretched; 0: learnt from CPU"},
      {"cadence.targetCpuShare", "0.7",
       "learnt budget: the heartbeat rate at which the collector would use this share of the CPU"},
      {"cadence.evaluateSeconds", "10", "period over which the offered heartbeat rate is measured"},
      {"cadence.raiseEverySeconds", "30",
       "at most one lengthening step per this long (agents take a new interval at their next "
       "beat)"},
      {"cadence.lowerAfterSeconds", "120",
       "one shortening step after the rate stayed under half the budget this long"},
      {"presence.verifyIntervalSeconds", "10",
       "heartbeat interval asked of an agent that was SUSPECT, UNREACHABLE or OFFLINE"},
      {"presence.verifyForSeconds", "120",
       "how long such an agent beats at the verify interval (answered at most 900)"},
      {"beacon.enabled", "true", "run the UDP beacon listener and offer it to agents"},
      {"beacon.port", "8471",
       "UDP port of the beacon listener, on http.address; 0 picks a free one"},
      {"beacon.intervalSeconds", "15", "beacon interval told to agents"},
      {"protocol.maxClockSkewSeconds", "300", "accepted distance of a request's timestamp"},
      {"store.flushIntervalMs", "1000", "period of the last-seen write-behind"},
      {"store.backend", "sqlite",
       "where the state is kept: sqlite (vigil.db in data.dir) or postgresql (a database "
       "several collectors share; docs/cluster.md)"},
      {"store.postgresql.conninfo", "",
       "libpq connection string of the PostgreSQL database (host, port, dbname, user, "
       "sslrootcert; no value may hold a space); the password from PGPASSWORD or a password "
       "file (PGPASSFILE)"},
      {"store.postgresql.sslMode", "verify-full",
       "TLS to PostgreSQL: disable, allow, prefer, require, verify-ca or verify-full; a mode "
       "that does not verify the server is refused for a server not on this host"},
      {"store.postgresql.allowUnverifiedTls", "false",
       "allow an sslMode that does not verify a remote server's certificate"},
      {"store.postgresql.adminReaders", "3",
       "connections for the admin API's reads, besides the writer and the probes' own"},
      {"store.postgresql.connectTimeoutSeconds", "5",
       "bound of making a connection to PostgreSQL, at start and after losing one"},
      {"cluster.nodeName", "",
       "this collector's name in a cluster of collectors on one PostgreSQL database "
       "(docs/cluster.md): letters, digits, '.', '-' and '_', at most 64; empty: a collector "
       "alone"},
      {"cluster.internalUrl", "",
       "where the other collectors of the cluster reach this one, e.g. "
       "https://collector-2.internal:8443; empty: http.address and the bound port, which "
       "must then not be a wildcard address"},
      {"cluster.caFile", "",
       "PEM file of the authorities that signed the other collectors' certificates, for the "
       "evidence relayed between them over https (besides the system's); empty: the system's"},
      {"cluster.leaseTermSeconds", "15",
       "term of a shard's lease: a collector that stops renewing (dead, paused, cut off from "
       "the database) loses its shards this long after its last renewal; at least twice "
       "cluster.leaseRenewSeconds plus 3"},
      {"cluster.leaseRenewSeconds", "5",
       "how often a collector renews its leases and looks for collectors that came or went"},
      {"webhooks.workers", "8",
       "webhook deliveries in flight at once, on the dispatcher's own threads"},
      {"webhooks.maxInFlightPerDestination", "1",
       "webhook deliveries in flight at once to one receiver host and port"},
      {"webhooks.maxInFlightPerTenant", "4",
       "webhook deliveries in flight at once for one tenant (at most webhooks.workers - 1)"},
      {"webhooks.attemptTimeoutSeconds", "15",
       "bound of a whole webhook delivery attempt: resolve, connect, TLS, send, answer's head"},
      {"webhooks.requestTimeoutMs", "10000",
       "bound of the TCP connect of a webhook delivery (within webhooks.attemptTimeoutSeconds)"},
      {"webhooks.pollIntervalMs", "1000", "how often idle webhook workers look for due entries"},
      {"webhooks.retryInitialMs", "5000", "delay after a webhook delivery's first failed attempt"},
      {"webhooks.retryMaxMs", "3600000", "cap of the webhook retry backoff (doubling, jittered)"},
      {"webhooks.giveUpAfterSeconds", "86400",
       "a webhook delivery still failing at this age is given up (state failed)"},
      {"webhooks.caFile", "",
       "PEM file of extra certificate authorities trusted for https webhook receivers"},
      {"notifications.followUpIntervalSeconds", "30",
       "how often reminders and escalations of open, unacknowledged alerts are looked for"},
      {"notifications.credentialsKeyFile", "",
       "key file sealing notification channel credentials at rest (64 hex digits, made if "
       "absent; the collectors of a cluster need the same file); empty: "
       "<data.dir>/channel-credentials.key"},
      {"outbound.allowedNetworks", "",
       "CIDRs (comma or space separated) webhooks may be sent to although loopback, private, "
       "link-local or otherwise refused"},
      {"admin.token", "", "if set, this admin API bearer token is accepted"},
      {"enroll.token", "", "if set, the default site's enrollment token"},
      {"enroll.generatedTokenDays", "7",
       "the generated enroll-token expires this many days after it was made; 0: never"},
      {"enroll.generatedTokenMaxUses", "1000",
       "agents the generated enroll-token may enroll; 0: no limit"},
      {"enrollment.perTokenPerMinute", "600",
       "enrollments one enrollment token may make a minute, steadily; 0: no limit"},
      {"enrollment.perTokenBurst", "200", "enrollments one token may make at once"},
      {"enrollment.perSitePerMinute", "1200", "enrollments into one site a minute; 0: no limit"},
      {"enrollment.perSiteBurst", "400", "enrollments into one site at once"},
      {"enrollment.perTenantPerMinute", "3000",
       "enrollments into one tenant's sites a minute; 0: no limit"},
      {"enrollment.perTenantBurst", "1000", "enrollments into one tenant's sites at once"},
      {"enrollment.maxRetryAfterSeconds", "300",
       "longest Retry-After of an enrollment refused 429 rate_limited"},
      {"enrollment.maxAgentsPerSite", "25000",
       "agents (retired included) one site may hold; more are refused 403; 0: no quota"},
      {"enrollment.maxAgentsPerTenant", "100000",
       "agents (retired included) one tenant may hold; more are refused 403; 0: no quota"},
      {"logging.level", "information",
       "fatal, critical, error, warning, notice, information, "
       "debug or trace"},
      {"logging.format", "json",
       "json: one JSON object per line (time, level, logger, message); text: plain lines"},
  };
  static const std::vector<ConfigKey> kAllKeys = [] {
    std::vector<ConfigKey> all = kKeys;
    const PC defaults;
    for (const DurationSetting& d : durationSettings()) {
      all.push_back({d.key, durationText(defaults.*(d.member), d.milliseconds), d.description});
    }
    for (const RealSetting& r : realSettings()) {
      all.push_back({r.key, formatNumber(defaults.*(r.member)), r.description});
    }
    for (const CountSetting& c : countSettings()) {
      all.push_back({c.key, std::to_string(defaults.*(c.member)), c.description});
    }
    return all;
  }();
  return kAllKeys;
}

bool isKnownConfigKey(const std::string& key) {
  for (const ConfigKey& k : configKeys()) {
    if (key == k.key) return true;
  }
  return false;
}

std::string environmentVariableFor(const std::string& key) {
  std::string name = "VIGIL_";
  char previous = '.';
  for (char c : key) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '.' || c == '-') {
      name.push_back('_');
    } else if (std::isupper(u) && std::islower(static_cast<unsigned char>(previous))) {
      name.push_back('_');
      name.push_back(c);
    } else {
      name.push_back(static_cast<char>(std::toupper(u)));
    }
    previous = c;
  }
  return name;
}

Poco::AutoPtr<Poco::Util::MapConfiguration> defaultsLayer() {
  Poco::AutoPtr<Poco::Util::MapConfiguration> layer(new Poco::Util::MapConfiguration);
  for (const ConfigKey& k : configKeys()) layer->setString(k.key, k.default_value);
  return layer;
}

Poco::AutoPtr<Poco::Util::MapConfiguration> environmentLayer(const EnvironmentLookup& getenv) {
  Poco::AutoPtr<Poco::Util::MapConfiguration> layer(new Poco::Util::MapConfiguration);
  for (const ConfigKey& k : configKeys()) {
    if (std::optional<std::string> value = getenv(environmentVariableFor(k.key))) {
      layer->setString(k.key, *value);
    }
  }
  return layer;
}

EnvironmentLookup processEnvironment() {
  return [](const std::string& name) -> std::optional<std::string> {
    if (!Poco::Environment::has(name)) return std::nullopt;
    return Poco::Environment::get(name);
  };
}

Result<CollectorConfig> readCollectorConfig(const Poco::Util::AbstractConfiguration& config) {
  Validator v(config);
  CollectorConfig c;
  auto count = [&v](const char* key, int64_t min, int64_t max) {
    return static_cast<uint32_t>(v.integer(key, min, max));
  };
  auto seconds = [&v](const char* key, int64_t min, int64_t max) {
    return std::chrono::seconds(v.integer(key, min, max));
  };
  auto milliseconds = [&v](const char* key, int64_t min, int64_t max) {
    return std::chrono::milliseconds(v.integer(key, min, max));
  };
  c.data_dir = v.string("data.dir");

  c.http.address = v.string("http.address");
  c.http.port = static_cast<int>(v.integer("http.port", 0, 65535));
  c.http.port_file = v.string("http.portFile");
  c.http.backlog = static_cast<int>(v.integer("http.maxQueued", 1, 1'000'000));
  c.http.allow_plaintext = v.boolean("http.allowPlaintext");

  // Each class has its own workers: the admin API and the probes can never take ingest's.
  const uint32_t max_threads = count("http.maxThreads", 1, 1024);
  const uint32_t admin_threads = count("http.adminThreads", 1, 1024);
  const uint32_t probe_threads = count("http.probeThreads", 1, 1024);
  const bool ingest_has_threads = admin_threads + probe_threads < max_threads;
  if (ingest_has_threads) {
    c.listener.workers = {max_threads - admin_threads - probe_threads, admin_threads,
                          probe_threads};
  }
  ConnectionLimits& connections = c.listener.connections;
  connections.max_connections = count("http.maxConnections", 16, 1'000'000);
  connections.max_per_client = count("http.maxConnectionsPerClient", 0, 1'000'000);
  connections.receive_timeout = seconds("http.receiveTimeoutSeconds", 1, 3600);
  connections.idle_timeout = seconds("http.keepAliveTimeoutSeconds", 1, 3600);
  connections.send_timeout = seconds("http.sendTimeoutSeconds", 1, 3600);
  c.listener.requests.max_body_bytes = protocol::kMaxBodyBytes;

  // A class's requests admitted and not yet answered: its workers plus its queue.
  const uint32_t queue_high_water = count("http.queueHighWater", 1, 1'000'000);
  const std::array<uint32_t, kRequestClassCount> queue_limits = {
      count("http.ingestQueueHighWater", 1, 1'000'000), queue_high_water, queue_high_water};
  for (size_t i = 0; i < kRequestClassCount; ++i) {
    c.admission.max_in_flight[i] = c.listener.workers[i] + queue_limits[i];
    c.admission.queue_high_water[i] = queue_limits[i];
  }
  c.admission.max_queue_delay[static_cast<size_t>(RequestClass::kIngest)] =
      milliseconds("http.ingestMaxQueueDelayMs", 0, 60'000);
  c.admission.admin_max_per_client = count("http.adminMaxPerClient", 0, 1024);
  c.admission.retry_after_s = count("http.retryAfterSeconds", 1, 3600);
  c.admission.retry_after_jitter_s = count("http.retryAfterJitterSeconds", 0, 3600);

  c.tls.certificate_file = v.string("tls.certificateFile");
  c.tls.private_key_file = v.string("tls.privateKeyFile");
  c.tls.reload_interval_s = static_cast<int>(v.integer("tls.reloadIntervalSeconds", 0, 86400));
  c.tls.session.tickets = v.boolean("tls.sessionTickets");
  c.tls.session.cache_size = static_cast<int>(v.integer("tls.sessionCacheSize", 0, 10'000'000));
  c.tls.session.timeout_s = static_cast<int>(v.integer("tls.sessionTimeoutSeconds", 1, 86400));

  const int64_t heartbeat_interval_s = v.integer("heartbeat.intervalSeconds", 1, kMaxIntervalS);
  const int64_t max_clock_skew_ms =
      v.integer("protocol.maxClockSkewSeconds", 1, kMaxIntervalS) * 1000;
  c.presence.heartbeat_interval = std::chrono::seconds(heartbeat_interval_s);
  c.presence.max_heartbeat_interval = c.presence.heartbeat_interval;
  for (const DurationSetting& d : durationSettings()) {
    const int64_t n = v.integer(d.key, d.min, d.max);
    c.presence.*(d.member) =
        d.milliseconds ? Duration(std::chrono::milliseconds(n)) : Duration(std::chrono::seconds(n));
  }
  for (const RealSetting& r : realSettings()) c.presence.*(r.member) = v.real(r.key, r.min, r.max);
  for (const CountSetting& k : countSettings()) {
    c.presence.*(k.member) = static_cast<uint32_t>(v.integer(k.key, k.min, k.max));
  }

  c.beacon_enabled = v.boolean("beacon.enabled");
  c.beacon_port = static_cast<int>(v.integer("beacon.port", 0, 65535));
  c.beacon.interval_s = v.integer("beacon.intervalSeconds", 1, kMaxIntervalS);
  c.beacon.max_clock_skew_ms = max_clock_skew_ms;

  c.ingest.heartbeat_interval_s = heartbeat_interval_s;
  c.ingest.max_heartbeat_interval_s =
      std::max(heartbeat_interval_s, v.integer("heartbeat.maxIntervalSeconds", 1, kMaxIntervalS));
  c.cadence.budget_per_s = static_cast<double>(v.integer("cadence.budgetPerSecond", 0, 10'000'000));
  c.cadence.target_cpu_share = v.real("cadence.targetCpuShare", 0.05, 1.0);
  c.cadence.evaluate_every = seconds("cadence.evaluateSeconds", 1, 3600);
  c.cadence.raise_every = seconds("cadence.raiseEverySeconds", 1, kDay);
  c.cadence.lower_after = seconds("cadence.lowerAfterSeconds", 1, kDay);
  c.cadence.cores = std::max(1u, std::thread::hardware_concurrency());
  c.ingest.max_clock_skew_ms = max_clock_skew_ms;
  c.ingest.verify_interval_s = v.integer("presence.verifyIntervalSeconds", 1, kMaxIntervalS);
  c.ingest.verify_for_s = v.integer("presence.verifyForSeconds", 1, kMaxIntervalS);
  c.ingest.beacon_interval_s = c.beacon.interval_s;
  auto rate = [&v](const char* per_minute, const char* burst) {
    return RateLimit{static_cast<double>(v.integer(per_minute, 0, 1'000'000)),
                     static_cast<double>(v.integer(burst, 1, 1'000'000))};
  };
  EnrollmentLimits& limits = c.ingest.enrollment_limits;
  limits.per_token = rate("enrollment.perTokenPerMinute", "enrollment.perTokenBurst");
  limits.per_site = rate("enrollment.perSitePerMinute", "enrollment.perSiteBurst");
  limits.per_tenant = rate("enrollment.perTenantPerMinute", "enrollment.perTenantBurst");
  limits.max_retry_after = seconds("enrollment.maxRetryAfterSeconds", 1, kDay);
  limits.max_agents_per_site = v.integer("enrollment.maxAgentsPerSite", 0, 100'000'000);
  limits.max_agents_per_tenant = v.integer("enrollment.maxAgentsPerTenant", 0, 100'000'000);

  c.last_seen_flush_interval = milliseconds("store.flushIntervalMs", 10, 3'600'000);
  const std::string backend = v.string("store.backend");
  if (backend == "postgresql") {
    c.store.backend = StoreSettings::Backend::kPostgresql;
  } else if (backend != "sqlite") {
    v.fail("configuration key store.backend = '" + backend + "' must be sqlite or postgresql");
  }
  c.store.postgresql.conninfo = v.string("store.postgresql.conninfo");
  c.store.postgresql.ssl_mode = v.string("store.postgresql.sslMode");
  c.store.postgresql.allow_unverified_tls = v.boolean("store.postgresql.allowUnverifiedTls");
  c.store.postgresql.admin_readers = count("store.postgresql.adminReaders", 1, 64);
  c.store.postgresql.connect_timeout_s =
      static_cast<int>(v.integer("store.postgresql.connectTimeoutSeconds", 1, 300));
  if (c.store.backend == StoreSettings::Backend::kPostgresql &&
      c.store.postgresql.conninfo.empty()) {
    v.fail(
        "configuration key store.postgresql.conninfo must be set when store.backend is "
        "postgresql");
  }

  c.cluster.node_name = v.string("cluster.nodeName");
  c.cluster.internal_url = v.string("cluster.internalUrl");
  c.cluster.ca_file = v.string("cluster.caFile");
  if (c.cluster.enabled()) {
    const bool valid_name =
        c.cluster.node_name.size() <= 64 &&
        std::all_of(c.cluster.node_name.begin(), c.cluster.node_name.end(), [](char ch) {
          return std::isalnum(static_cast<unsigned char>(ch)) != 0 || ch == '.' || ch == '-' ||
                 ch == '_';
        });
    if (!valid_name) {
      v.fail("configuration key cluster.nodeName = '" + c.cluster.node_name +
             "' must be at most 64 letters, digits, '.', '-' and '_'");
    }
    if (c.store.backend != StoreSettings::Backend::kPostgresql) {
      v.fail(
          "configuration key cluster.nodeName needs store.backend = postgresql: the collectors "
          "of a cluster share one database");
    }
  }
  c.cluster.lease_term = seconds("cluster.leaseTermSeconds", 6, 300);
  c.cluster.lease_renew = seconds("cluster.leaseRenewSeconds", 1, 100);
  if (c.cluster.lease_term < 2 * c.cluster.lease_renew + std::chrono::seconds(3)) {
    v.fail("configuration key cluster.leaseTermSeconds = " +
           std::to_string(c.cluster.lease_term.count()) +
           " must be at least twice cluster.leaseRenewSeconds plus 3: a lease is renewed twice "
           "within its term, with 3 s of room before the holder steps down");
  }
  if (!c.cluster.internal_url.empty() && c.cluster.internal_url.rfind("http://", 0) != 0 &&
      c.cluster.internal_url.rfind("https://", 0) != 0) {
    v.fail("configuration key cluster.internalUrl = '" + c.cluster.internal_url +
           "' must be an http:// or https:// URL");
  }

  WebhookDispatchConfig& dispatch = c.webhook_dispatch;
  dispatch.workers = static_cast<int>(v.integer("webhooks.workers", 1, 64));
  dispatch.max_in_flight_per_destination =
      static_cast<int>(v.integer("webhooks.maxInFlightPerDestination", 1, 64));
  dispatch.max_in_flight_per_tenant =
      static_cast<int>(v.integer("webhooks.maxInFlightPerTenant", 1, 64));
  dispatch.poll_interval = milliseconds("webhooks.pollIntervalMs", 10, 60'000);
  dispatch.retry_initial = milliseconds("webhooks.retryInitialMs", 10, 3'600'000);
  dispatch.retry_max = milliseconds("webhooks.retryMaxMs", 10, 86'400'000);
  dispatch.give_up_after = seconds("webhooks.giveUpAfterSeconds", 1, 30 * kDay);
  if (!v.error() && dispatch.retry_max < dispatch.retry_initial) {
    v.fail("webhooks.retryMaxMs must not be below webhooks.retryInitialMs");
  }
  HttpWebhookTransportOptions& transport = c.webhook_transport;
  transport.attempt_timeout = seconds("webhooks.attemptTimeoutSeconds", 1, 600);
  transport.connect_timeout = milliseconds("webhooks.requestTimeoutMs", 100, 300'000);
  transport.ca_file = v.string("webhooks.caFile");
  c.credentials_key_file = v.string("notifications.credentialsKeyFile");
  c.follow_up_interval = seconds("notifications.followUpIntervalSeconds", 1, 3600);
  if (c.credentials_key_file.empty() && !c.data_dir.empty()) {
    c.credentials_key_file = c.data_dir + "/channel-credentials.key";
  }
  transport.user_agent = "vigil-collector/" + std::string(VIGIL_VERSION);
  if (auto allowed = OutboundPolicy::parseAllowedNetworks(v.string("outbound.allowedNetworks"));
      allowed.ok()) {
    c.outbound_allowed_networks = allowed.value();
  } else {
    v.fail("configuration key outbound.allowedNetworks (env " +
           environmentVariableFor("outbound.allowedNetworks") + "): " + allowed.error().message());
  }

  c.bootstrap.data_dir = c.data_dir;
  c.bootstrap.admin_token = v.string("admin.token");
  c.bootstrap.enroll_token = v.string("enroll.token");
  c.bootstrap.generated_token_days = v.integer("enroll.generatedTokenDays", 0, 3650);
  c.bootstrap.generated_token_max_uses = v.integer("enroll.generatedTokenMaxUses", 0, 10'000'000);

  c.log_level = v.string("logging.level");
  c.log_format = v.string("logging.format");
  if (c.log_format != "json" && c.log_format != "text") {
    v.fail("configuration key logging.format = '" + c.log_format + "' must be json or text");
  }

  if (c.http.address.empty()) v.fail("configuration key http.address must not be empty");
  if (c.data_dir.empty()) v.fail("configuration key data.dir must not be empty");
  if (!v.error() && c.presence.lateness_ceiling < c.presence.lateness_floor) {
    v.fail("presence.latenessCeiling must not be below presence.latenessFloor");
  }
  if (!v.error() && c.presence.flap_low > c.presence.flap_high) {
    v.fail("presence.flapLow must not be above presence.flapHigh");
  }
  if (c.bootstrap.enroll_token.size() > protocol::kMaxStringBytes) {
    v.fail("configuration key enroll.token must be at most 256 bytes");
  }
  try {
    Poco::Logger::parseLevel(c.log_level);
  } catch (const Poco::Exception&) {
    v.fail("configuration key logging.level = '" + c.log_level +
           "' must be one of none, fatal, critical, error, warning, notice, information, debug, "
           "trace");
  }
  if (!v.error() && !ingest_has_threads) {
    v.fail("http.maxThreads (" + std::to_string(max_threads) +
           ") must be larger than http.adminThreads + http.probeThreads (" +
           std::to_string(admin_threads + probe_threads) + "): the rest is ingest's share");
  }
  if (!v.error() && c.tls.certificate_file.empty() != c.tls.private_key_file.empty()) {
    v.fail("tls.certificateFile and tls.privateKeyFile must be set together");
  }
  if (!v.error()) {
    try {
      Poco::Net::SocketAddress probe(c.http.address, static_cast<Poco::UInt16>(c.http.port));
      if (!c.tls.enabled() && !c.http.allow_plaintext && !probe.host().isLoopback()) {
        v.fail("http.address = '" + c.http.address +
               "' is not a loopback address: set tls.certificateFile and tls.privateKeyFile "
               "for HTTPS, or http.allowPlaintext = true to serve plain HTTP there (behind a "
               "TLS-terminating proxy only)");
      }
    } catch (const Poco::Exception& e) {
      v.fail("configuration key http.address = '" + c.http.address +
             "' is not a usable address: " + e.displayText());
    }
  }
  if (v.error()) return Status::invalidArgument(*v.error());
  return c;
}

}  // namespace vigil::collector
