#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "agent/core/logger.h"
#include "common/status.h"

namespace vigil::agent {

constexpr int64_t kMinIntervalBoundS = 1;
constexpr int64_t kMaxIntervalBoundS = 86400;

// Everything the agent can be configured with (docs/agent.md). Defaults are the built-in
// layer; the config file, the environment and the command line override them in that order.
struct AgentConfig {
  std::string server_url;    // required: http(s)://host[:port][/path]
  std::string enroll_token;  // needed only until the agent is enrolled
  std::string state_dir;     // loadAgentConfig() starts from ConfigSources::default_state_dir
  LogLevel log_level = LogLevel::kInfo;
  std::string ca_file;  // empty: the system's CA store
  int64_t min_interval_s = 5;
  int64_t max_interval_s = 3600;
  bool allow_plain_http = false;
  // The first beat after the machine boots waits uniform(0, start_delay_max_s), so a fleet
  // that boots at once reaches the collector spread out. 0: no delay.
  int64_t start_delay_max_s = 60;
  // Transport.
  std::string pin_sha256;  // "sha256//<base64 SHA-256 of the SPKI>[;sha256//...]"; empty: none
  std::string proxy;       // proxy URL; empty: the standard environment variables
  int64_t connect_timeout_s = 10;
  int64_t request_timeout_s = 30;
  // UDP beacon to the collector (when the collector offers one).
  bool beacon = true;
  // LAN peer witness.
  bool peer_witness = true;
  int64_t peer_port = 47474;
  int64_t peer_interval_s = 30;
  // Addresses announcements go to; empty: the broadcast address of every interface.
  std::vector<std::string> peer_broadcast;
};

// The first 16 hex digits of SHA-256 over the effective configuration, secrets left out
// (enroll_token): equal for equal configurations, carried in heartbeats as config_hash.
std::string configHash(const AgentConfig& config);

// One `key = value` from a layer. `origin` names where it came from for error messages
// ("/etc/vigil/agent.conf:12", "VIGIL_SERVER_URL", "--server").
struct ConfigSetting {
  std::string key;
  std::string value;
  std::string origin;
};

// Looks an environment variable up; nullopt when unset. Injected so tests control it.
using EnvLookup = std::function<std::optional<std::string>(const std::string& name)>;

// Where loadAgentConfig() reads each layer from.
struct ConfigSources {
  // The config file; the composition root names the OS's (DefaultPaths, from the platform
  // layer) unless --config names another. Empty: no file layer.
  std::string config_path;
  // If false, a missing config_path is skipped silently (the default path is optional).
  bool config_path_explicit = false;
  // state_dir of the built-in layer: the OS's (DefaultPaths::state_dir).
  std::string default_state_dir;
  EnvLookup env;  // empty: no environment layer
  std::vector<ConfigSetting> command_line;
  // The collector an enrolled agent reports to when no layer sets server_url: the one its
  // identity in `state_dir` names (vigil-agent enroll stores it there), nullopt if none.
  // Empty: server_url must be set by a layer.
  std::function<std::optional<std::string>(const std::string& state_dir)> enrolled_server;
};

// Sets one key. Fails, naming the key, on an unknown key or a bad value.
Status applyConfigSetting(const ConfigSetting& setting, AgentConfig* config);

// Parses config-file text: `key = value` lines, full-line `#` comments, blank lines;
// whitespace around keys and values is trimmed. Errors name `source_name:line`.
Status applyConfigText(std::string_view text, std::string_view source_name, AgentConfig* config);
Status applyConfigFile(const std::string& path, AgentConfig* config);

// VIGIL_SERVER_URL, VIGIL_ENROLL_TOKEN, VIGIL_STATE_DIR, VIGIL_LOG_LEVEL, VIGIL_CA_FILE,
// VIGIL_PROXY; empty counts as unset.
Status applyEnvironment(const EnvLookup& env, AgentConfig* config);

// A collector URL taken apart.
struct ServerUrl {
  std::string scheme;  // "http" or "https", lower case
  std::string host;    // as written; IPv6 literals keep their brackets
  std::optional<int> port;
  std::string path;  // "" or "/prefix" without a trailing slash
  bool loopback = false;

  // scheme://host[:port]/path + api_path, e.g. endpoint("/v1/heartbeat").
  std::string endpoint(std::string_view api_path) const;
};

// Accepts exactly http(s)://host[:port][/path]: no user info, query or fragment.
Result<ServerUrl> parseServerUrl(std::string_view url);
// localhost, 127.0.0.0/8 and ::1.
bool isLoopbackHost(std::string_view host);

// Cross-field checks: server_url set and well-formed, plain http only to loopback or with
// allow_plain_http, 1 <= min_interval_s <= max_interval_s <= 86400, ca_file readable.
Status validateConfig(const AgentConfig& config);

// defaults < config file < environment < command line (server_url: the enrolled server
// below them all), then validateConfig().
Result<AgentConfig> loadAgentConfig(const ConfigSources& sources);

}  // namespace vigil::agent
