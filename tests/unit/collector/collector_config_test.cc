#define BOOST_TEST_MODULE collector_config
#include "collector/app/collector_config.h"

#include <Poco/AutoPtr.h>
#include <Poco/Logger.h>
#include <Poco/NullChannel.h>
#include <Poco/Util/LayeredConfiguration.h>

#include <boost/test/unit_test.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <regex>
#include <string>

#include "collector/app/bootstrap.h"
#include "collector/store/sql_store.h"
#include "collector/store/store_wrapper.h"
#include "common/clock.h"
#include "common/crypto.h"
#include "tests/support/temp_dir.h"

namespace fs = std::filesystem;
using Poco::AutoPtr;
using Poco::Util::LayeredConfiguration;
using Poco::Util::MapConfiguration;
using vigil::collector::BootstrapOptions;
using vigil::collector::bootstrapStore;
using vigil::collector::configKeys;
using vigil::collector::defaultsLayer;
using vigil::collector::environmentLayer;
using vigil::collector::environmentVariableFor;
using vigil::collector::readCollectorConfig;
using vigil::collector::SqlStore;
using vigil::testing::TempDir;

namespace {

// The defaults docs/operations.md documents: its table of keys, each row `key` | `default` (or
// (empty)) | `VIGIL_...` | meaning.
std::map<std::string, std::string> documentedDefaults() {
  std::ifstream doc(std::string(VIGIL_SOURCE_DIR) + "/docs/operations.md");
  BOOST_TEST_REQUIRE(doc.good(), "cannot read docs/operations.md");
  const std::regex row(
      R"(^\| `([A-Za-z]+\.[A-Za-z.]+)` \| (`([^`]*)`|\(empty\)) \| `VIGIL_[A-Z_]+` \|)");
  std::map<std::string, std::string> defaults;
  std::string line;
  std::smatch match;
  while (std::getline(doc, line)) {
    if (std::regex_search(line, match, row)) defaults[match[1]] = match[3];
  }
  return defaults;
}

// The presence engine's keys, which docs/operations.md sends to docs/presence.md (where they
// are described by field and in words): their defaults, written out here.
std::map<std::string, std::string> presenceDefaults() {
  return {
      {"presence.confirmationWindowSeconds", "60"},
      {"presence.witnessMaxPostponeSeconds", "600"},
      {"presence.serverShutdownGraceSeconds", "900"},
      {"presence.tickIntervalMs", "1000"},
      {"presence.tickLateAfterMs", "5000"},
      {"presence.clockJumpThresholdSeconds", "5"},
      {"presence.recoveryPeriodSeconds", "0"},
      {"presence.ingestLagBoundSeconds", "10"},
      {"presence.channelWindowSeconds", "60"},
      {"presence.suspectWindowSeconds", "60"},
      {"presence.siteWindowSeconds", "180"},
      {"presence.agentReconnectTimeSeconds", "10"},
      {"presence.flapHalfLifeSeconds", "1800"},
      {"presence.channelCollapseMaxDurationSeconds", "300"},
      {"presence.massSuspectMaxDurationSeconds", "1800"},
      {"presence.phiThreshold", "8"},
      {"presence.latenessFloor", "1.5"},
      {"presence.latenessCeiling", "2"},
      {"presence.minStddevShare", "0.1"},
      {"presence.agentJitter", "0.1"},
      {"presence.shedShareBound", "0.05"},
      {"presence.channelDropShare", "0.3"},
      {"presence.massSuspectFactor", "5"},
      {"presence.massSuspectMinShare", "0.02"},
      {"presence.siteSilentShare", "0.8"},
      {"presence.fleetSilentShare", "0.5"},
      {"presence.flapHigh", "6"},
      {"presence.flapLow", "3"},
      {"presence.storeFailuresBound", "3"},
      {"presence.channelMinAgents", "50"},
      {"presence.massSuspectMinAgents", "20"},
      {"presence.siteMinAgents", "3"},
      {"presence.fleetSilentMinAgents", "10"},
  };
}

// defaults < overrides
AutoPtr<LayeredConfiguration> configWith(const std::map<std::string, std::string>& overrides) {
  AutoPtr<LayeredConfiguration> config(new LayeredConfiguration);
  config->add(defaultsLayer(), 1000, false);
  AutoPtr<MapConfiguration> top(new MapConfiguration);
  for (const auto& [k, v] : overrides) top->setString(k, v);
  config->add(top, 0, false);
  return config;
}

std::string errorFor(const std::map<std::string, std::string>& overrides) {
  auto read = readCollectorConfig(*configWith(overrides));
  BOOST_REQUIRE_MESSAGE(!read.ok(), "configuration was accepted");
  return read.error().message();
}

std::string readFile(const fs::path& path) {
  std::ifstream in(path);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

std::string hashOf(const std::string& token) {
  return vigil::crypto::toHex(vigil::crypto::sha256(token).value());
}

Poco::Logger& quietLogger() {
  Poco::Logger& logger = Poco::Logger::get("test.bootstrap");
  logger.setChannel(new Poco::NullChannel);
  return logger;
}

}  // namespace

BOOST_AUTO_TEST_CASE(environment_names_upper_case_keys_and_split_camel_case) {
  BOOST_TEST(environmentVariableFor("http.port") == "VIGIL_HTTP_PORT");
  BOOST_TEST(environmentVariableFor("heartbeat.intervalSeconds") ==
             "VIGIL_HEARTBEAT_INTERVAL_SECONDS");
  BOOST_TEST(environmentVariableFor("http.portFile") == "VIGIL_HTTP_PORT_FILE");
  BOOST_TEST(environmentVariableFor("presence.confirmationWindowSeconds") ==
             "VIGIL_PRESENCE_CONFIRMATION_WINDOW_SECONDS");
  BOOST_TEST(environmentVariableFor("store.flushIntervalMs") == "VIGIL_STORE_FLUSH_INTERVAL_MS");
  BOOST_TEST(environmentVariableFor("data.dir") == "VIGIL_DATA_DIR");
}

BOOST_AUTO_TEST_CASE(defaults_are_valid_and_documented_values) {
  auto read = readCollectorConfig(*configWith({}));
  BOOST_REQUIRE(read.ok());
  const auto& c = read.value();
  BOOST_TEST(c.http.address == "127.0.0.1");
  BOOST_TEST(c.http.port == 8470);
  BOOST_TEST(c.http.port_file.empty());
  // http.maxThreads 10: ingest's share is what the admin API's 4 and the probes' 2 leave.
  BOOST_TEST(c.listener.workers[0] == 4u);
  BOOST_TEST(c.listener.workers[1] == 4u);
  BOOST_TEST(c.listener.workers[2] == 2u);
  BOOST_TEST(c.http.backlog == 4096);
  BOOST_TEST(!c.tls.enabled());
  BOOST_TEST(!c.http.allow_plaintext);
  BOOST_TEST(c.data_dir == "/var/lib/vigil/collector");
  BOOST_TEST(c.ingest.heartbeat_interval_s == 60);
  // The presence engine's thresholds default to PresenceConfig's own values, with the
  // heartbeat interval taken from heartbeat.intervalSeconds.
  const vigil::collector::presence::PresenceConfig engine_defaults;
  BOOST_TEST((c.presence.heartbeat_interval == std::chrono::seconds(60)));
  BOOST_TEST((c.presence.confirmation_window == engine_defaults.confirmation_window));
  BOOST_TEST((c.presence.tick_interval == engine_defaults.tick_interval));
  BOOST_TEST(c.presence.phi_threshold == engine_defaults.phi_threshold);
  BOOST_TEST(c.presence.site_silent_share == engine_defaults.site_silent_share);
  BOOST_TEST(c.presence.site_min_agents == engine_defaults.site_min_agents);
  BOOST_TEST(c.ingest.max_clock_skew_ms == 300'000);
  BOOST_TEST((c.last_seen_flush_interval == std::chrono::milliseconds(1000)));
  BOOST_TEST(c.bootstrap.admin_token.empty());
  BOOST_TEST(c.bootstrap.enroll_token.empty());
  BOOST_TEST(c.log_level == "information");
}

BOOST_AUTO_TEST_CASE(environment_layer_holds_only_known_keys_that_are_set) {
  std::map<std::string, std::string> env = {{"VIGIL_HTTP_PORT", "9000"},
                                            {"VIGIL_HEARTBEAT_INTERVAL_SECONDS", "30"},
                                            {"VIGIL_UNRELATED", "x"}};
  auto layer = environmentLayer([&](const std::string& name) -> std::optional<std::string> {
    auto it = env.find(name);
    if (it == env.end()) return std::nullopt;
    return it->second;
  });
  BOOST_TEST(layer->getString("http.port") == "9000");
  BOOST_TEST(layer->getString("heartbeat.intervalSeconds") == "30");
  BOOST_TEST(!layer->hasProperty("data.dir"));
}

BOOST_AUTO_TEST_CASE(higher_layer_overrides_lower_one) {
  auto read = readCollectorConfig(*configWith({{"http.port", "0"}, {"data.dir", "/tmp/x"}}));
  BOOST_REQUIRE(read.ok());
  BOOST_TEST(read->http.port == 0);
  BOOST_TEST(read->data_dir == "/tmp/x");
}

BOOST_AUTO_TEST_CASE(bad_values_are_refused_naming_the_key) {
  BOOST_TEST(errorFor({{"http.port", "70000"}}).find("http.port") != std::string::npos);
  BOOST_TEST(errorFor({{"http.port", "abc"}}).find("VIGIL_HTTP_PORT") != std::string::npos);
  BOOST_TEST(errorFor({{"http.port", "1,000"}}).find("http.port") != std::string::npos);
  BOOST_TEST(errorFor({{"http.maxThreads", "0"}}).find("http.maxThreads") != std::string::npos);
  BOOST_TEST(errorFor({{"heartbeat.intervalSeconds", "0"}}).find("heartbeat.intervalSeconds") !=
             std::string::npos);
  BOOST_TEST(errorFor({{"store.flushIntervalMs", "-5"}}).find("store.flushIntervalMs") !=
             std::string::npos);
  BOOST_TEST(errorFor({{"logging.level", "loud"}}).find("logging.level") != std::string::npos);
  BOOST_TEST(errorFor({{"data.dir", ""}}).find("data.dir") != std::string::npos);
  BOOST_TEST(errorFor({{"http.address", "not an address!"}}).find("http.address") !=
             std::string::npos);
}

BOOST_AUTO_TEST_CASE(presence_thresholds_are_read_and_checked) {
  auto read = readCollectorConfig(*configWith({{"heartbeat.intervalSeconds", "30"},
                                               {"presence.confirmationWindowSeconds", "45"},
                                               {"presence.tickIntervalMs", "250"},
                                               {"presence.siteSilentShare", "0.9"},
                                               {"presence.siteMinAgents", "5"}}));
  BOOST_REQUIRE(read.ok());
  BOOST_TEST((read->presence.heartbeat_interval == std::chrono::seconds(30)));
  BOOST_TEST((read->presence.confirmation_window == std::chrono::seconds(45)));
  BOOST_TEST((read->presence.tick_interval == std::chrono::milliseconds(250)));
  BOOST_TEST(read->presence.site_silent_share == 0.9);
  BOOST_TEST(read->presence.site_min_agents == 5u);

  BOOST_TEST(errorFor({{"presence.siteSilentShare", "1.5"}}).find("presence.siteSilentShare") !=
             std::string::npos);
  BOOST_TEST(errorFor({{"presence.phiThreshold", "high"}}).find("VIGIL_PRESENCE_PHI_THRESHOLD") !=
             std::string::npos);
  BOOST_TEST(errorFor({{"presence.latenessFloor", "3"}, {"presence.latenessCeiling", "2"}})
                 .find("presence.latenessCeiling") != std::string::npos);
  BOOST_TEST(
      errorFor({{"presence.flapLow", "9"}, {"presence.flapHigh", "6"}}).find("presence.flapLow") !=
      std::string::npos);
}

BOOST_AUTO_TEST_CASE(beacon_and_verify_keys_have_documented_defaults_and_are_checked) {
  auto read = readCollectorConfig(*configWith({}));
  BOOST_REQUIRE(read.ok());
  BOOST_TEST(read->beacon_enabled);
  BOOST_TEST(read->beacon_port == 8471);
  BOOST_TEST(read->beacon.interval_s == 15);
  BOOST_TEST(read->ingest.verify_interval_s == 10);
  BOOST_TEST(read->ingest.verify_for_s == 120);

  auto custom = readCollectorConfig(*configWith({{"beacon.enabled", "false"},
                                                 {"beacon.port", "0"},
                                                 {"beacon.intervalSeconds", "30"},
                                                 {"presence.verifyIntervalSeconds", "5"},
                                                 {"presence.verifyForSeconds", "60"}}));
  BOOST_REQUIRE(custom.ok());
  BOOST_TEST(!custom->beacon_enabled);
  BOOST_TEST(custom->beacon_port == 0);
  BOOST_TEST(custom->beacon.interval_s == 30);
  BOOST_TEST(custom->ingest.verify_interval_s == 5);
  BOOST_TEST(custom->ingest.verify_for_s == 60);
  BOOST_TEST(readCollectorConfig(*configWith({{"beacon.enabled", " Yes "}}))->beacon_enabled);

  BOOST_TEST(errorFor({{"beacon.enabled", "maybe"}}).find("VIGIL_BEACON_ENABLED") !=
             std::string::npos);
  BOOST_TEST(errorFor({{"beacon.port", "65536"}}).find("beacon.port") != std::string::npos);
  BOOST_TEST(errorFor({{"beacon.intervalSeconds", "0"}}).find("beacon.intervalSeconds") !=
             std::string::npos);
  BOOST_TEST(errorFor({{"presence.verifyForSeconds", "0"}}).find("presence.verifyForSeconds") !=
             std::string::npos);
}

// Webhook isolation and the outbound policy (docs/webhooks.md): the shipped defaults allow no
// internal network, bound a whole attempt, and let one destination hold one worker.
BOOST_AUTO_TEST_CASE(webhook_limits_and_outbound_networks_have_safe_defaults_and_are_checked) {
  auto read = readCollectorConfig(*configWith({}));
  BOOST_REQUIRE(read.ok());
  BOOST_TEST(read->outbound_allowed_networks.empty());
  BOOST_TEST((read->webhook_transport.attempt_timeout == std::chrono::seconds(15)));
  BOOST_TEST(read->webhook_dispatch.max_in_flight_per_destination == 1);
  BOOST_TEST(read->webhook_dispatch.max_in_flight_per_tenant == 4);
  BOOST_TEST(read->webhook_dispatch.workers == 8);

  auto custom =
      readCollectorConfig(*configWith({{"outbound.allowedNetworks", "127.0.0.0/8, fd00::/8"},
                                       {"webhooks.attemptTimeoutSeconds", "5"},
                                       {"webhooks.maxInFlightPerDestination", "3"},
                                       {"webhooks.maxInFlightPerTenant", "2"}}));
  BOOST_REQUIRE(custom.ok());
  BOOST_REQUIRE(custom->outbound_allowed_networks.size() == 2u);
  BOOST_TEST(custom->outbound_allowed_networks[0].toString() == "127.0.0.0/8");
  BOOST_TEST(custom->outbound_allowed_networks[1].toString() == "fd00::/8");
  BOOST_TEST((custom->webhook_transport.attempt_timeout == std::chrono::seconds(5)));
  BOOST_TEST(custom->webhook_dispatch.max_in_flight_per_destination == 3);
  BOOST_TEST(custom->webhook_dispatch.max_in_flight_per_tenant == 2);

  const std::string bad = errorFor({{"outbound.allowedNetworks", "127.0.0.0/8, localhost"}});
  BOOST_TEST(bad.find("VIGIL_OUTBOUND_ALLOWED_NETWORKS") != std::string::npos, bad);
  BOOST_TEST(bad.find("'localhost'") != std::string::npos, bad);
  BOOST_TEST(errorFor({{"outbound.allowedNetworks", "10.0.0.0/33"}}).find("10.0.0.0/33") !=
             std::string::npos);
  BOOST_TEST(
      errorFor({{"webhooks.attemptTimeoutSeconds", "0"}}).find("webhooks.attemptTimeoutSeconds") !=
      std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_cluster_node_needs_a_plain_name_and_the_postgresql_store) {
  auto alone = readCollectorConfig(*configWith({}));
  BOOST_REQUIRE(alone.ok());
  BOOST_TEST(!alone->cluster.enabled());
  const std::map<std::string, std::string> postgresql = {
      {"store.backend", "postgresql"}, {"store.postgresql.conninfo", "host=127.0.0.1 dbname=v"}};
  auto with = [&](std::map<std::string, std::string> extra) {
    extra.insert(postgresql.begin(), postgresql.end());
    return extra;
  };
  auto node = readCollectorConfig(*configWith(with(
      {{"cluster.nodeName", "collector-2.eu_1"}, {"cluster.internalUrl", "https://c2:8443"}})));
  BOOST_REQUIRE(node.ok());
  BOOST_TEST(node->cluster.enabled());
  BOOST_TEST(node->cluster.node_name == "collector-2.eu_1");
  BOOST_TEST(node->cluster.internal_url == "https://c2:8443");

  // On the embedded SQLite file there is nobody to share shards with.
  BOOST_TEST(errorFor({{"cluster.nodeName", "c1"}}).find("store.backend = postgresql") !=
             std::string::npos);
  BOOST_TEST(errorFor(with({{"cluster.nodeName", "c 1"}})).find("cluster.nodeName") !=
             std::string::npos);
  BOOST_TEST(
      errorFor(with({{"cluster.nodeName", std::string(65, 'a')}})).find("cluster.nodeName") !=
      std::string::npos);
  BOOST_TEST(errorFor(with({{"cluster.nodeName", "c1"}, {"cluster.internalUrl", "c2:8443"}}))
                 .find("cluster.internalUrl") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(every_key_has_its_documented_default) {
  std::map<std::string, std::string> documented = documentedDefaults();
  BOOST_TEST_REQUIRE(documented.size() >= 50u, "docs/operations.md's table was not read");
  for (const auto& [key, value] : presenceDefaults()) documented.emplace(key, value);
  auto defaults = defaultsLayer();
  for (const auto& [key, value] : documented) {
    BOOST_TEST_CONTEXT("key " << key) {
      BOOST_TEST(defaults->hasProperty(key), "documented but not a key");
      if (defaults->hasProperty(key)) BOOST_TEST(defaults->getString(key) == value);
    }
  }
  // And the other way: a key without a documented default fails too.
  for (const auto& key : configKeys()) {
    BOOST_TEST(documented.count(key.key) == 1u, key.key << " has no documented default");
  }
}

// ---- First-start provisioning -------------------------------------------------------------

BOOST_AUTO_TEST_CASE(first_start_generates_private_token_files_whose_hashes_are_stored) {
  TempDir tmp;
  const std::string dir = tmp.sub("data");
  auto store = std::move(SqlStore::openSqlite(dir).value());
  vigil::SimulatedClock clock;
  BOOST_REQUIRE(bootstrapStore(*store, BootstrapOptions{dir, "", ""}, clock, quietLogger()).ok());

  const fs::path enroll_file = fs::path(dir) / vigil::collector::kEnrollTokenFileName;
  const fs::path admin_file = fs::path(dir) / vigil::collector::kAdminTokenFileName;
  const auto owner_rw = fs::perms::owner_read | fs::perms::owner_write;
  BOOST_TEST(((fs::status(enroll_file).permissions() & fs::perms::all) == owner_rw));
  BOOST_TEST(((fs::status(admin_file).permissions() & fs::perms::all) == owner_rw));
  std::string enroll_token = readFile(enroll_file);
  std::string admin_token = readFile(admin_file);
  BOOST_REQUIRE(enroll_token.size() == 65u);  // 64 hex + "\n"
  BOOST_REQUIRE(admin_token.size() == 65u);
  enroll_token.pop_back();
  admin_token.pop_back();
  auto token = store->findEnrollmentTokenByHash(hashOf(enroll_token)).value();
  BOOST_REQUIRE(token.has_value());
  auto tenant = store->findTenantByName("default").value();
  BOOST_REQUIRE(tenant.has_value());
  auto site = store->findSiteByName(tenant->id, "default").value();
  BOOST_REQUIRE(site.has_value());
  BOOST_TEST(token->site_id == site->id);
  auto admins = store->listAdminTokens().value();
  BOOST_REQUIRE(admins.size() == 1u);
  BOOST_TEST(admins[0].token_hash == hashOf(admin_token));
}

BOOST_AUTO_TEST_CASE(second_start_keeps_tokens_and_files_unchanged) {
  TempDir tmp;
  const std::string dir = tmp.sub("data");
  auto store = std::move(SqlStore::openSqlite(dir).value());
  vigil::SimulatedClock clock;
  BOOST_REQUIRE(bootstrapStore(*store, {dir, "", ""}, clock, quietLogger()).ok());
  const std::string admin_before = readFile(fs::path(dir) / "admin-token");
  const std::string enroll_before = readFile(fs::path(dir) / "enroll-token");
  BOOST_REQUIRE(bootstrapStore(*store, {dir, "", ""}, clock, quietLogger()).ok());
  BOOST_TEST(readFile(fs::path(dir) / "admin-token") == admin_before);
  BOOST_TEST(readFile(fs::path(dir) / "enroll-token") == enroll_before);
  BOOST_TEST(store->listAdminTokens()->size() == 1u);
  BOOST_TEST(store->listEnrollmentTokens(1)->size() == 1u);
}

BOOST_AUTO_TEST_CASE(configured_tokens_are_accepted_and_no_token_file_is_written) {
  TempDir tmp;
  const std::string dir = tmp.sub("data");
  auto store = std::move(SqlStore::openSqlite(dir).value());
  vigil::SimulatedClock clock;
  const std::string admin = "configured-admin-token-0123456789abcdef";
  const std::string enroll = "configured-enroll-token";
  BOOST_REQUIRE(bootstrapStore(*store, {dir, admin, enroll}, clock, quietLogger()).ok());
  BOOST_REQUIRE(bootstrapStore(*store, {dir, admin, enroll}, clock, quietLogger()).ok());
  BOOST_TEST(!fs::exists(fs::path(dir) / "admin-token"));
  BOOST_TEST(!fs::exists(fs::path(dir) / "enroll-token"));
  BOOST_TEST(store->findEnrollmentTokenByHash(hashOf(enroll)).value().has_value());
  auto admins = store->listAdminTokens().value();
  BOOST_REQUIRE(admins.size() == 1u);
  BOOST_TEST(admins[0].token_hash == hashOf(admin));
}

BOOST_AUTO_TEST_CASE(each_components_part_is_derived_from_its_keys) {
  auto read = readCollectorConfig(*configWith({{"http.maxThreads", "20"},
                                               {"http.adminThreads", "3"},
                                               {"http.probeThreads", "1"},
                                               {"http.queueHighWater", "7"},
                                               {"http.ingestQueueHighWater", "900"},
                                               {"data.dir", "/tmp/x"}}));
  BOOST_REQUIRE(read.ok());
  const auto& c = read.value();
  // Workers per class (ingest, admin, probe); in flight: a class's workers plus its queue.
  BOOST_TEST(c.listener.workers[0] == 16u);
  BOOST_TEST(c.admission.queue_high_water[0] == 900u);
  BOOST_TEST(c.admission.max_in_flight[0] == 916u);
  BOOST_TEST(c.admission.queue_high_water[1] == 7u);
  BOOST_TEST(c.admission.max_in_flight[1] == 10u);
  BOOST_TEST(c.admission.max_in_flight[2] == 8u);
  // The same heartbeat interval and clock skew reach ingest, beacons and the engine.
  BOOST_TEST(c.beacon.max_clock_skew_ms == c.ingest.max_clock_skew_ms);
  BOOST_TEST(c.ingest.beacon_interval_s == c.beacon.interval_s);
  BOOST_TEST(c.bootstrap.data_dir == "/tmp/x");
  BOOST_TEST(c.webhook_transport.user_agent.rfind("vigil-collector/", 0) == 0u);
}

namespace {

// A store shared with another collector that creates the default tenant and site just after
// this one looked for them (between its find and its create).
class RacedStore final : public vigil::collector::StoreWrapper {
 public:
  using StoreWrapper::StoreWrapper;
  vigil::Result<std::optional<vigil::collector::Tenant>> findTenantByName(
      const std::string& name) override {
    auto found = StoreWrapper::findTenantByName(name);
    if (!tenant_raced_ && found.ok() && !found.value()) {
      tenant_raced_ = true;
      BOOST_REQUIRE(target().createTenant(name, 1).ok());  // the other collector
    }
    return found;
  }
  vigil::Result<std::optional<vigil::collector::Site>> findSiteByName(
      int64_t tenant_id, const std::string& name) override {
    auto found = StoreWrapper::findSiteByName(tenant_id, name);
    if (!site_raced_ && found.ok() && !found.value()) {
      site_raced_ = true;
      BOOST_REQUIRE(target().createSite(tenant_id, name, 1).ok());
    }
    return found;
  }

 private:
  bool tenant_raced_ = false;
  bool site_raced_ = false;
};

}  // namespace

BOOST_AUTO_TEST_CASE(a_default_tenant_and_site_made_meanwhile_by_another_collector_are_used) {
  TempDir tmp;
  const std::string dir = tmp.sub("data");
  auto store = std::move(SqlStore::openSqlite(dir).value());
  RacedStore raced(*store);
  vigil::SimulatedClock clock;
  BOOST_REQUIRE(bootstrapStore(raced, BootstrapOptions{dir, "", ""}, clock, quietLogger()).ok());
  BOOST_TEST(store->listSites().value().size() == 1u);
  auto tenant = store->findTenantByName("default").value();
  BOOST_REQUIRE(tenant.has_value());
  auto token = store->listEnrollmentTokens(store->listSites().value()[0].id).value();
  BOOST_TEST(token.size() == 1u);  // in the site the other collector made
}
