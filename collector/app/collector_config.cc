#include "collector/app/collector_config.h"

#include <Poco/Environment.h>
#include <Poco/Exception.h>
#include <Poco/Logger.h>
#include <Poco/Net/SocketAddress.h>

#include <cctype>
#include <chrono>
#include <cstdlib>
#include <limits>
#include <sstream>

#include "common/protocol.h"

namespace vigil::collector {
namespace {

constexpr int64_t kMaxIntervalS = 86'400;

// Strict decimal integer: optional '-', 1 to 18 digits, surrounding blanks ignored.
std::optional<int64_t> parseInteger(std::string text) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.pop_back();
  size_t i = 0;
  while (i < text.size() && std::isspace(static_cast<unsigned char>(text[i]))) ++i;
  bool negative = false;
  if (i < text.size() && text[i] == '-') {
    negative = true;
    ++i;
  }
  if (i == text.size() || text.size() - i > 18) return std::nullopt;
  int64_t value = 0;
  for (; i < text.size(); ++i) {
    if (text[i] < '0' || text[i] > '9') return std::nullopt;
    value = value * 10 + (text[i] - '0');
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
    std::string text = string(key);
    for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.pop_back();
    while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front()))) {
      text.erase(text.begin());
    }
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
      {"presence.siteWindowSeconds", "window in which a site's agents fall silent together",
       &PC::site_window, false, 1, kDay},
      {"presence.flapHalfLifeSeconds", "half-life of the flapping score", &PC::flap_half_life,
       false, 1, 30 * kDay},
      {"presence.channelCollapseMaxDurationSeconds",
       "longest a channel collapse keeps the collector DEGRADED",
       &PC::channel_collapse_max_duration, false, 1, kDay},
      {"presence.massSuspectMaxDurationSeconds",
       "longest a mass-suspect event keeps the collector DEGRADED", &PC::mass_suspect_max_duration,
       false, 1, kDay},
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
      {"presence.siteFleetQuietShare", "fleet SUSPECT share below which a site stands out",
       &PC::site_fleet_quiet_share, 0, 1},
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
      {"http.maxThreads", "16", "most HTTP worker threads"},
      {"http.maxQueued", "256", "most accepted connections waiting for a worker"},
      {"data.dir", "/var/lib/vigil/collector", "directory of the database and token files"},
      {"heartbeat.intervalSeconds", "60", "heartbeat interval told to agents"},
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
      {"admin.token", "", "if set, this admin API bearer token is accepted"},
      {"enroll.token", "", "if set, the default site's enrollment token"},
      {"logging.level", "information",
       "fatal, critical, error, warning, notice, information, "
       "debug or trace"},
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
  c.http_address = v.string("http.address");
  c.http_port = static_cast<int>(v.integer("http.port", 0, 65535));
  c.port_file = v.string("http.portFile");
  c.http_max_threads = static_cast<int>(v.integer("http.maxThreads", 1, 1024));
  c.http_max_queued = static_cast<int>(v.integer("http.maxQueued", 1, 1'000'000));
  c.data_dir = v.string("data.dir");
  c.heartbeat_interval_s = v.integer("heartbeat.intervalSeconds", 1, kMaxIntervalS);
  c.presence.heartbeat_interval = std::chrono::seconds(c.heartbeat_interval_s);
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
  c.verify_interval_s = v.integer("presence.verifyIntervalSeconds", 1, kMaxIntervalS);
  c.verify_for_s = v.integer("presence.verifyForSeconds", 1, kMaxIntervalS);
  c.beacon_enabled = v.boolean("beacon.enabled");
  c.beacon_port = static_cast<int>(v.integer("beacon.port", 0, 65535));
  c.beacon_interval_s = v.integer("beacon.intervalSeconds", 1, kMaxIntervalS);
  c.max_clock_skew_s = v.integer("protocol.maxClockSkewSeconds", 1, kMaxIntervalS);
  c.flush_interval_ms = v.integer("store.flushIntervalMs", 10, 3'600'000);
  c.admin_token = v.string("admin.token");
  c.enroll_token = v.string("enroll.token");
  c.log_level = v.string("logging.level");

  if (c.http_address.empty()) v.fail("configuration key http.address must not be empty");
  if (c.data_dir.empty()) v.fail("configuration key data.dir must not be empty");
  if (!v.error() && c.presence.lateness_ceiling < c.presence.lateness_floor) {
    v.fail("presence.latenessCeiling must not be below presence.latenessFloor");
  }
  if (!v.error() && c.presence.flap_low > c.presence.flap_high) {
    v.fail("presence.flapLow must not be above presence.flapHigh");
  }
  if (c.enroll_token.size() > protocol::kMaxStringBytes) {
    v.fail("configuration key enroll.token must be at most 256 bytes");
  }
  try {
    Poco::Logger::parseLevel(c.log_level);
  } catch (const Poco::Exception&) {
    v.fail("configuration key logging.level = '" + c.log_level +
           "' must be one of none, fatal, critical, error, warning, notice, information, debug, "
           "trace");
  }
  if (!v.error()) {
    try {
      Poco::Net::SocketAddress probe(c.http_address, static_cast<Poco::UInt16>(c.http_port));
    } catch (const Poco::Exception& e) {
      v.fail("configuration key http.address = '" + c.http_address +
             "' is not a usable address: " + e.displayText());
    }
  }
  if (v.error()) return Status::invalidArgument(*v.error());
  return c;
}

}  // namespace vigil::collector
