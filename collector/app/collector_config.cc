#include "collector/app/collector_config.h"

#include <Poco/Environment.h>
#include <Poco/Exception.h>
#include <Poco/Logger.h>
#include <Poco/Net/SocketAddress.h>

#include <cctype>
#include <limits>

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

  void fail(std::string message) {
    if (!error_) error_ = std::move(message);
  }
  const std::optional<std::string>& error() const { return error_; }

 private:
  const Poco::Util::AbstractConfiguration& config_;
  std::optional<std::string> error_;
};

}  // namespace

const std::vector<ConfigKey>& configKeys() {
  static const std::vector<ConfigKey> kKeys = {
      {"http.address", "127.0.0.1", "address the HTTP listener binds to"},
      {"http.port", "8470", "TCP port of the HTTP listener; 0 picks a free one"},
      {"http.portFile", "", "if set, the bound port is written here (atomically) after start"},
      {"http.maxThreads", "16", "most HTTP worker threads"},
      {"http.maxQueued", "256", "most accepted connections waiting for a worker"},
      {"data.dir", "/var/lib/vigil/collector", "directory of the database and token files"},
      {"heartbeat.intervalSeconds", "60", "heartbeat interval told to agents"},
      {"presence.offlineAfterSeconds", "180", "silence after which an agent is OFFLINE"},
      {"protocol.maxClockSkewSeconds", "300", "accepted distance of a request's timestamp"},
      {"store.flushIntervalMs", "1000", "period of the last-seen write-behind"},
      {"admin.token", "", "if set, this admin API bearer token is accepted"},
      {"enroll.token", "", "if set, the default site's enrollment token"},
      {"logging.level", "information",
       "fatal, critical, error, warning, notice, information, "
       "debug or trace"},
  };
  return kKeys;
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
  c.offline_after_s = v.integer("presence.offlineAfterSeconds", 1, 30 * kMaxIntervalS);
  c.max_clock_skew_s = v.integer("protocol.maxClockSkewSeconds", 1, kMaxIntervalS);
  c.flush_interval_ms = v.integer("store.flushIntervalMs", 10, 3'600'000);
  c.admin_token = v.string("admin.token");
  c.enroll_token = v.string("enroll.token");
  c.log_level = v.string("logging.level");

  if (c.http_address.empty()) v.fail("configuration key http.address must not be empty");
  if (c.data_dir.empty()) v.fail("configuration key data.dir must not be empty");
  if (!v.error() && c.offline_after_s <= c.heartbeat_interval_s) {
    v.fail("presence.offlineAfterSeconds (" + std::to_string(c.offline_after_s) +
           ") must be greater than heartbeat.intervalSeconds (" +
           std::to_string(c.heartbeat_interval_s) + ")");
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
