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

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "collector/app/bootstrap.h"
#include "collector/app/tls_context.h"
#include "collector/http/admission.h"
#include "collector/ingest/beacon_service.h"
#include "collector/ingest/ingest_service.h"
#include "collector/listener/http_listener.h"
#include "collector/notify/outbound_policy.h"
#include "collector/notify/webhook_dispatcher.h"
#include "collector/notify/webhook_transport.h"
#include "collector/presence/presence_types.h"
#include "collector/store/sql_store.h"
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

// The HTTP listener's socket: what no component's own configuration holds.
struct HttpSocketSettings {
  std::string address;
  int port = 0;           // 0: ephemeral
  std::string port_file;  // empty: none written
  int backlog = 0;        // listen backlog (http.maxQueued)
  // Plain HTTP on a non-loopback address only with this set (else TLS is required).
  bool allow_plaintext = false;
};

// TLS (docs/operations.md, "TLS"): on when certificate_file is set.
struct TlsSettings {
  std::string certificate_file;
  std::string private_key_file;
  int reload_interval_s = 0;  // 0: reload on SIGHUP only
  SessionResumption session;

  bool enabled() const { return !certificate_file.empty(); }
};

// The whole configuration, one part per component; CollectorApp::serve() hands each part to
// its component. The parts components fill in at start (the listener's TLS context, the
// beacon port offered by ingest, the connection bound the open-file limit allows) are left at
// their defaults here.
// A collector of a cluster (docs/cluster.md): on when node_name is set.
struct ClusterSettings {
  std::string node_name;     // cluster.nodeName: unique among the cluster's collectors
  std::string internal_url;  // cluster.internalUrl: where the other collectors reach this one
  std::string ca_file;       // cluster.caFile: verifies the other collectors' certificates
  // cluster.leaseTermSeconds, cluster.leaseRenewSeconds: a shard lease's term and how often
  // its holder renews it (a dead collector's shards move within term + renew).
  std::chrono::seconds lease_term{15};
  std::chrono::seconds lease_renew{5};

  bool enabled() const { return !node_name.empty(); }
};

struct CollectorConfig {
  std::string data_dir;
  HttpSocketSettings http;
  TlsSettings tls;
  // The listener's workers per class (ingest gets http.maxThreads minus the admin and probe
  // shares), connection limits and request limits.
  ListenerConfig listener;
  // Bulkheads (docs/operations.md, "Sizing and capacity"): in flight and queued per class.
  AdmissionConfig admission;
  // Heartbeat interval, clock skew, "verify" and enrollment limits (keys heartbeat.*,
  // protocol.*, presence.verify*, enrollment.*).
  IngestConfig ingest;
  // The load governor of adaptive heartbeat intervals (cadence.*; docs/presence.md).
  LoadGovernorConfig cadence;
  // Every threshold of the presence engine (keys presence.*; docs/presence.md).
  presence::PresenceConfig presence;
  // The UDP beacon listener, bound on http.address (docs/protocol.md, "UDP beacon").
  bool beacon_enabled = false;
  int beacon_port = 0;  // 0: ephemeral
  BeaconConfig beacon;
  std::chrono::milliseconds last_seen_flush_interval{0};  // store.flushIntervalMs
  StoreSettings store;                                    // store.backend, store.postgresql.*
  ClusterSettings cluster;                                // cluster.*
  // Webhook delivery (docs/webhooks.md, keys webhooks.*).
  WebhookDispatchConfig webhook_dispatch;
  HttpWebhookTransportOptions webhook_transport;
  // The key file sealing notification channel credentials (notifications.credentialsKeyFile;
  // collector/notify/secret_box.h): made if absent.
  std::string credentials_key_file;
  // How often reminders and escalations are looked for (notifications.followUpIntervalSeconds).
  std::chrono::milliseconds follow_up_interval{30'000};
  // Networks outbound requests to tenants' URLs may reach although the outbound policy refuses
  // them (key outbound.allowedNetworks; collector/notify/outbound_policy.h).
  std::vector<IpNetwork> outbound_allowed_networks;
  // The data directory's provisioning: admin and enrollment tokens (keys admin.*, enroll.*).
  BootstrapOptions bootstrap;
  std::string log_level;
  std::string log_format;  // "json" or "text"
};

// Reads and validates every key. A bad value fails with kInvalidArgument naming the key, the
// value's source-independent text and the accepted range.
Result<CollectorConfig> readCollectorConfig(const Poco::Util::AbstractConfiguration& config);

}  // namespace vigil::collector
