#pragma once

// The collector's configuration: the known keys with their defaults, their environment
// variable names, and validation into a typed CollectorConfig. docs/operations.md lists the
// keys for operators; keep the two in step.
//
// Layers, lowest to highest priority: built-in defaults < config file < environment variables
// < command-line options (CollectorApp assembles them in a Poco LayeredConfiguration).

#include <Poco/AutoPtr.h>
#include <Poco/Util/AbstractConfiguration.h>
#include <Poco/Util/MapConfiguration.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "collector/ingest/enrollment_limiter.h"
#include "collector/notify/outbound_policy.h"
#include "collector/presence/presence_types.h"
#include "common/status.h"

namespace vigil::collector {

struct ConfigKey {
  std::string key;            // e.g. "http.port"
  std::string default_value;  // as text, as in a .properties file
  std::string description;
};

// Shortest text of a number, as in a .properties file ("0.1", "8").
std::string formatNumber(double value);

// Every key the collector reads.
const std::vector<ConfigKey>& configKeys();
bool isKnownConfigKey(const std::string& key);

// "VIGIL_" + the key upper-cased, with dots and camelCase boundaries turned into '_':
// http.port -> VIGIL_HTTP_PORT, heartbeat.intervalSeconds -> VIGIL_HEARTBEAT_INTERVAL_SECONDS.
std::string environmentVariableFor(const std::string& key);

// The built-in defaults layer.
Poco::AutoPtr<Poco::Util::MapConfiguration> defaultsLayer();

// The environment layer: every known key whose variable `getenv` returns.
using EnvironmentLookup = std::function<std::optional<std::string>(const std::string& name)>;
Poco::AutoPtr<Poco::Util::MapConfiguration> environmentLayer(const EnvironmentLookup& getenv);
// The process environment, through Poco::Environment.
EnvironmentLookup processEnvironment();

struct CollectorConfig {
  std::string http_address;
  int http_port = 0;  // 0: ephemeral
  std::string port_file;
  int http_max_threads = 0;
  int http_max_queued = 0;                  // listen backlog
  int http_max_connections = 0;             // open connections at most
  int http_max_connections_per_client = 0;  // 0: no per-client limit
  // Bulkheads (docs/operations.md, "Sizing and capacity"): admin and probes are capped at
  // their shares; ingest may use every worker but the probes'.
  int http_admin_threads = 0;
  int http_probe_threads = 0;
  int http_queue_high_water = 0;         // admin and other requests shed above it
  int http_ingest_queue_high_water = 0;  // ingest requests shed above it
  int http_admin_max_per_client = 0;     // 0: no per-client limit
  int http_retry_after_s = 0;
  int http_retry_after_jitter_s = 0;
  int http_keep_alive_timeout_s = 0;
  int http_receive_timeout_s = 0;  // one request, in total
  int http_send_timeout_s = 0;     // one answer, in total
  // Plain HTTP on a non-loopback address only with this set (else TLS is required).
  bool http_allow_plaintext = false;
  // TLS (docs/operations.md, "TLS"): on when tls_certificate_file is set.
  std::string tls_certificate_file;
  std::string tls_private_key_file;
  int tls_reload_interval_s = 0;        // 0: reload on SIGHUP only
  int tls_session_cache_size = 100000;  // 0: every connection makes a full handshake
  int tls_session_timeout_s = 7200;
  std::string data_dir;
  int64_t heartbeat_interval_s = 0;
  // Every threshold of the presence engine (keys presence.*; docs/presence.md).
  presence::PresenceConfig presence;
  // "Verify" asked of an agent the engine had lost (docs/protocol.md, heartbeat answer).
  int64_t verify_interval_s = 0;
  int64_t verify_for_s = 0;
  // The UDP beacon listener, bound on http_address (docs/protocol.md, "UDP beacon").
  bool beacon_enabled = false;
  int beacon_port = 0;  // 0: ephemeral
  int64_t beacon_interval_s = 0;
  int64_t max_clock_skew_s = 0;
  int64_t flush_interval_ms = 0;
  // Webhook delivery (docs/webhooks.md, keys webhooks.*).
  int webhook_workers = 0;
  int webhook_max_in_flight_per_destination = 0;
  int webhook_max_in_flight_per_tenant = 0;
  int64_t webhook_attempt_timeout_s = 0;
  int64_t webhook_request_timeout_ms = 0;  // the connect's bound
  int64_t webhook_poll_interval_ms = 0;
  int64_t webhook_retry_initial_ms = 0;
  int64_t webhook_retry_max_ms = 0;
  int64_t webhook_give_up_after_s = 0;
  std::string webhook_ca_file;  // empty: the system's CAs only
  // Networks outbound requests to tenants' URLs may reach although the outbound policy refuses
  // them (key outbound.allowedNetworks; collector/notify/outbound_policy.h).
  std::vector<IpNetwork> outbound_allowed_networks;
  std::string admin_token;
  std::string enroll_token;
  // The generated enroll-token (not a configured enroll.token): days until it expires and
  // agents it may enroll; 0: unlimited.
  int64_t generated_enroll_token_days = 0;
  int64_t generated_enroll_token_max_uses = 0;
  // Enrollments per token, site and tenant (docs/operations.md, "Enrollment limits").
  EnrollmentLimits enrollment_limits;
  std::string log_level;
  std::string log_format;  // "json" or "text"
};

// Reads and validates every key. A bad value fails with kInvalidArgument naming the key, the
// value's source-independent text and the accepted range.
Result<CollectorConfig> readCollectorConfig(const Poco::Util::AbstractConfiguration& config);

}  // namespace vigil::collector
