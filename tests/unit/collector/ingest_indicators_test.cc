#define BOOST_TEST_MODULE collector_ingest_indicators
// The indicators a heartbeat carries (docs/protocol.md, "What the collector does with the
// indicators") and the channels its answer offers, through the real IngestService, presence
// monitor and SQLite store, on a simulated clock.
#include <boost/test/unit_test.hpp>
#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "collector/ingest/agent_directory.h"
#include "collector/ingest/ingest_service.h"
#include "collector/ingest/last_seen_writer.h"
#include "collector/ingest/site_peer_keys.h"
#include "collector/monitor/presence_monitor.h"
#include "collector/store/sql_store.h"
#include "common/clock.h"
#include "common/crypto.h"
#include "common/datagram.h"
#include "common/protocol.h"
#include "store_wrapper.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_store.h"

using namespace std::chrono_literals;
namespace protocol = vigil::protocol;
namespace presence = vigil::collector::presence;
using vigil::SimulatedClock;
using vigil::collector::AgentDirectory;
using vigil::collector::AgentRecord;
using vigil::collector::ApiResult;
using vigil::collector::EnrollmentToken;
using vigil::collector::HeartbeatRequest;
using vigil::collector::IngestConfig;
using vigil::collector::IngestService;
using vigil::collector::LastSeenUpdate;
using vigil::collector::LastSeenWriter;
using vigil::collector::PresenceMonitor;
using vigil::collector::Site;
using vigil::collector::SitePeerKeys;
using vigil::collector::SqlStore;
using vigil::testing::ObservedStore;
using vigil::testing::TempDir;

namespace vigil::collector::presence {
// Boost.Test prints values of failed assertions.
inline std::ostream& operator<<(std::ostream& out, AgentStatus s) { return out << statusName(s); }
inline std::ostream& operator<<(std::ostream& out, Reason r) { return out << reasonName(r); }
}  // namespace vigil::collector::presence

namespace {

constexpr int64_t kStartMs = 1'790'000'000'000;
constexpr int64_t kIntervalS = 10;
constexpr int64_t kBeaconPort = 8471;

std::string hashOf(const std::string& token) {
  return vigil::crypto::toHex(vigil::crypto::sha256(token).value());
}

presence::PresenceConfig presenceConfig() {
  presence::PresenceConfig c;
  c.heartbeat_interval = std::chrono::seconds(kIntervalS);
  c.max_heartbeat_interval = c.heartbeat_interval;
  c.confirmation_window = std::chrono::seconds(kIntervalS);
  return c;
}

IngestConfig ingestConfig() {
  IngestConfig c;
  c.heartbeat_interval_s = kIntervalS;
  c.verify_interval_s = 3;
  c.verify_for_s = 30;
  c.beacon_port = kBeaconPort;
  c.beacon_interval_s = 15;
  return c;
}

// Two sites of tenant "t1" and one of tenant "t2", each with an enrollment token named after it.
struct IndicatorFixture {
  IndicatorFixture() : clock(vigil::fromUnixMillis(kStartMs)) {
    auto t1 = store.createTenant("t1", kStartMs);
    auto t2 = store.createTenant("t2", kStartMs);
    site_a = store.createSite(t1->id, "a", kStartMs).value();
    site_b = store.createSite(t1->id, "b", kStartMs).value();
    site_c = store.createSite(t2->id, "c", kStartMs).value();
    for (const Site* site : {&site_a, &site_b, &site_c}) {
      EnrollmentToken t;
      t.site_id = site->id;
      t.token_hash = hashOf("token-" + site->name);
      t.created_at_ms = kStartMs;
      BOOST_REQUIRE(store.createEnrollmentToken(t).ok());
    }
    BOOST_REQUIRE(directory.load(store).ok());
    BOOST_REQUIRE(peer_keys.load().ok());
    BOOST_REQUIRE(monitor->load(store, store).ok());
    service = makeService(ingestConfig());
  }

  std::unique_ptr<IngestService> makeService(const IngestConfig& config) {
    return std::make_unique<IngestService>(
        store, store, store, directory, clock, config, monitor.get(), &peer_keys,
        [this](const std::string& line) { notices.push_back(line); });
  }

  protocol::EnrollResponse enroll(const Site& site, const std::string& hostname = "host") {
    protocol::EnrollRequest req;
    req.enroll_token = "token-" + site.name;
    req.facts = {hostname, "linux", "Debian GNU/Linux 12 (bookworm)", "x86_64", "0.1.0"};
    auto result = service->enroll(protocol::encode(req));
    BOOST_REQUIRE_MESSAGE(result.ok(), (result.ok() ? std::string() : result.error().message));
    return result.value();
  }

  int64_t nowMs() const { return vigil::toUnixMillis(clock.wallNow()); }

  protocol::Heartbeat beat(const protocol::EnrollResponse& agent) {
    protocol::Heartbeat hb;
    hb.agent_id = agent.agent_id;
    hb.seq = ++seqs[agent.agent_id];
    hb.boot_id = "boot";
    hb.uptime_s = 100;
    hb.agent_version = "0.1.0";
    hb.sent_at_ms = nowMs();
    return hb;
  }

  ApiResult<protocol::HeartbeatResponse> send(const protocol::EnrollResponse& agent,
                                              const protocol::Heartbeat& hb) {
    const std::string body = protocol::encode(hb);
    HeartbeatRequest req;
    req.agent_id = agent.agent_id;
    req.timestamp = std::to_string(nowMs());
    req.signature =
        protocol::sign(agent.secret, "POST", protocol::kHeartbeatPath, nowMs(), body).value();
    req.body = body;
    return service->heartbeat(req);
  }

  protocol::HeartbeatResponse sendOk(const protocol::EnrollResponse& agent,
                                     const protocol::Heartbeat& hb) {
    auto result = send(agent, hb);
    BOOST_REQUIRE_MESSAGE(result.ok(), (result.ok() ? std::string() : result.error().message));
    return result.value();
  }

  // Moves the clock in one-second ticks of the presence engine.
  void run(std::chrono::seconds d) {
    for (auto t = 0s; t < d; t += 1s) {
      clock.advance(1s);
      monitor->tick();
    }
  }

  presence::AgentView view(const std::string& id) const { return *monitor->agentView(id); }
  presence::AgentStatus status(const std::string& id) const { return view(id).status; }
  std::optional<vigil::WallTime> lastSeen(const std::string& id, presence::Indicator i) const {
    return view(id).indicators[static_cast<size_t>(i)].last_seen;
  }

  TempDir tmp;
  SimulatedClock clock;
  std::unique_ptr<SqlStore> sqlite =
      std::move(vigil::testing::openTestStore(tmp.sub("data")).value());
  ObservedStore store{*sqlite};
  AgentDirectory directory;
  SitePeerKeys peer_keys{store};
  std::unique_ptr<PresenceMonitor> monitor =
      std::make_unique<PresenceMonitor>(presenceConfig(), clock);
  std::vector<std::string> notices;
  std::unique_ptr<IngestService> service;
  LastSeenWriter writer{directory, store, 1h};
  std::map<std::string, uint64_t> seqs;
  Site site_a, site_b, site_c;
};

}  // namespace

// ---- Channels offered ---------------------------------------------------------------------

BOOST_FIXTURE_TEST_CASE(enrollment_answer_offers_the_beacon_and_the_sites_peer_key,
                        IndicatorFixture) {
  const auto a = enroll(site_a);
  BOOST_TEST(a.channels.beacon_port.value() == kBeaconPort);
  BOOST_TEST(a.channels.beacon_interval_s.value() == 15);
  BOOST_TEST_REQUIRE(site_a.peer_key.size() == 64u);
  BOOST_TEST(a.channels.peer_key.value() == site_a.peer_key);
  BOOST_TEST(a.channels.peer_key_id.value() == vigil::datagram::peerKeyId(site_a.peer_key));
  // Another site has its own key.
  const auto c = enroll(site_c);
  BOOST_TEST(c.channels.peer_key.value() == site_c.peer_key);
  BOOST_TEST(c.channels.peer_key.value() != a.channels.peer_key.value());
  // The answer survives the wire.
  auto decoded = protocol::decodeEnrollResponse(protocol::encode(a));
  BOOST_REQUIRE(decoded.ok());
  BOOST_TEST(decoded->channels.peer_key_id.value() == a.channels.peer_key_id.value());
}

BOOST_FIXTURE_TEST_CASE(heartbeat_answer_carries_the_peer_key_until_the_agent_holds_it,
                        IndicatorFixture) {
  const auto a = enroll(site_a);
  const std::string key_id = vigil::datagram::peerKeyId(site_a.peer_key);
  auto first = sendOk(a, beat(a));
  BOOST_TEST(first.channels.peer_key.value() == site_a.peer_key);
  BOOST_TEST(first.channels.peer_key_id.value() == key_id);
  BOOST_TEST(first.channels.beacon_port.value() == kBeaconPort);

  auto holding = beat(a);
  holding.peer_key_id = key_id;
  auto second = sendOk(a, holding);
  BOOST_TEST(!second.channels.peer_key.has_value());
  BOOST_TEST(!second.channels.peer_key_id.has_value());
  BOOST_TEST(second.channels.beacon_interval_s.value() == 15);

  auto stale_key = beat(a);
  stale_key.peer_key_id = "0000000000000000";
  auto third = sendOk(a, stale_key);
  BOOST_TEST(third.channels.peer_key.value() == site_a.peer_key);
  BOOST_TEST(third.channels.peer_key_id.value() == key_id);
}

BOOST_FIXTURE_TEST_CASE(without_a_beacon_listener_no_beacon_is_offered, IndicatorFixture) {
  IngestConfig config = ingestConfig();
  config.beacon_port.reset();
  service = makeService(config);
  const auto a = enroll(site_a);
  BOOST_TEST(!a.channels.beacon_port.has_value());
  BOOST_TEST(!a.channels.beacon_interval_s.has_value());
  auto answer = sendOk(a, beat(a));
  BOOST_TEST(!answer.channels.beacon_port.has_value());
  BOOST_TEST(protocol::encode(answer).find("beacon") == std::string::npos);
}

// ---- Verify -------------------------------------------------------------------------------

BOOST_FIXTURE_TEST_CASE(verify_is_asked_only_of_an_agent_the_collector_had_lost, IndicatorFixture) {
  const auto a = enroll(site_a);
  auto first = sendOk(a, beat(a));  // UNKNOWN before: not lost
  BOOST_TEST(!first.verify_interval_s.has_value());
  BOOST_TEST(status(a.agent_id) == presence::AgentStatus::kOnline);
  run(11s);
  auto on_time = sendOk(a, beat(a));  // ONLINE before
  BOOST_TEST(!on_time.verify_interval_s.has_value());
  run(40s);
  BOOST_TEST_REQUIRE(status(a.agent_id) != presence::AgentStatus::kOnline);
  const presence::AgentStatus lost = status(a.agent_id);
  BOOST_TEST((lost == presence::AgentStatus::kSuspect || lost == presence::AgentStatus::kOffline));
  auto back = sendOk(a, beat(a));
  BOOST_TEST(back.verify_interval_s.value() == 3);
  BOOST_TEST(back.verify_for_s.value() == 30);
  BOOST_TEST(status(a.agent_id) == presence::AgentStatus::kOnline);
  auto next = sendOk(a, beat(a));  // ONLINE again: verify is not repeated
  BOOST_TEST(!next.verify_interval_s.has_value());
  BOOST_TEST(!next.verify_for_s.has_value());
}

BOOST_FIXTURE_TEST_CASE(verify_is_clamped_to_the_interval_and_the_protocols_limit,
                        IndicatorFixture) {
  IngestConfig config = ingestConfig();
  config.verify_interval_s = 99;  // slower than the heartbeat itself
  config.verify_for_s = 5000;     // above protocol::kMaxVerifyForS
  service = makeService(config);
  const auto a = enroll(site_a);
  sendOk(a, beat(a));
  run(60s);
  BOOST_TEST_REQUIRE(status(a.agent_id) == presence::AgentStatus::kOffline);
  auto back = sendOk(a, beat(a));
  BOOST_TEST(back.verify_interval_s.value() == kIntervalS);
  BOOST_TEST(back.verify_for_s.value() == protocol::kMaxVerifyForS);
  BOOST_TEST(protocol::decodeHeartbeatResponse(protocol::encode(back)).ok());
}

// ---- Outage diary -------------------------------------------------------------------------

BOOST_FIXTURE_TEST_CASE(outage_diary_is_engine_evidence_and_is_written_behind, IndicatorFixture) {
  const auto a = enroll(site_a);
  auto hb = beat(a);
  hb.outages = {{nowMs() - 600'000, nowMs() - 300'000, protocol::causes::kTimeout},
                {nowMs() - 200'000, nowMs() - 10'000, protocol::causes::kDns}};
  sendOk(a, hb);
  BOOST_TEST(lastSeen(a.agent_id, presence::Indicator::kDiary).has_value());
  // The engine tells history about each outage.
  size_t diary_records = 0;
  for (const auto& c : monitor->takePending().changes) {
    if (c.agent_id == a.agent_id && c.reason.rfind("outage_diary", 0) == 0) ++diary_records;
  }
  BOOST_TEST(diary_records == 4u);

  BOOST_TEST(store.listOutageReports(a.agent_id, 10)->empty());  // not before the flush
  BOOST_REQUIRE(writer.flush().ok());
  auto stored = store.listOutageReports(a.agent_id, 10).value();
  BOOST_REQUIRE(stored.size() == 2u);
  BOOST_TEST(stored[0].cause == "dns");  // newest first
  BOOST_TEST(stored[0].to_ms == nowMs() - 10'000);
  BOOST_TEST(stored[0].reported_at_ms == nowMs());
  BOOST_TEST(stored[1].cause == "timeout");
  BOOST_TEST(stored[1].from_ms == nowMs() - 600'000);
}

BOOST_FIXTURE_TEST_CASE(only_the_newest_outage_reports_are_kept, IndicatorFixture) {
  const auto a = enroll(site_a);
  int64_t n = 0;
  for (int round = 0; round < 4; ++round) {  // 4 x 32 = 128 reports
    auto hb = beat(a);
    for (size_t i = 0; i < protocol::kMaxOutageEntries; ++i, ++n) {
      hb.outages.push_back({n * 1000, n * 1000 + 500, protocol::causes::kConnect});
    }
    sendOk(a, hb);
    if (round % 2 == 1) BOOST_REQUIRE(writer.flush().ok());
    clock.advance(1s);
  }
  auto stored = store.listOutageReports(a.agent_id, 1000).value();
  BOOST_TEST(stored.size() == vigil::collector::kOutageReportsKeptPerAgent);
  BOOST_TEST(stored.front().from_ms == (n - 1) * 1000);
  BOOST_TEST(stored.back().from_ms == (n - 100) * 1000);
}

BOOST_FIXTURE_TEST_CASE(outage_reports_of_a_failed_flush_are_written_by_the_next_one,
                        IndicatorFixture) {
  const auto a = enroll(site_a);
  auto first = beat(a);
  first.outages = {{1000, 2000, protocol::causes::kTls}};
  sendOk(a, first);
  store.fail_last_seen = true;
  BOOST_TEST(!writer.flush().ok());
  store.fail_last_seen = false;
  auto second = beat(a);
  second.outages = {{3000, 4000, protocol::causes::kOther}};
  sendOk(a, second);
  BOOST_REQUIRE(writer.flush().ok());
  auto stored = store.listOutageReports(a.agent_id, 10).value();
  BOOST_REQUIRE(stored.size() == 2u);
  BOOST_TEST(stored[0].cause == "other");  // order kept: the retried one is older
  BOOST_TEST(stored[1].cause == "tls");
}

// ---- Shutdown notice ----------------------------------------------------------------------

BOOST_FIXTURE_TEST_CASE(shutdown_notice_makes_the_agent_shutdown_and_is_persisted,
                        IndicatorFixture) {
  const auto a = enroll(site_a);
  sendOk(a, beat(a));
  run(11s);
  auto goodbye = beat(a);
  goodbye.shutdown = protocol::shutdown_reasons::kSystemShutdown;
  sendOk(a, goodbye);
  BOOST_TEST(status(a.agent_id) == presence::AgentStatus::kShutdown);
  BOOST_TEST(view(a.agent_id).reason == presence::Reason::kAnnouncedShutdown);
  BOOST_REQUIRE(notices.size() == 1u);
  BOOST_TEST(notices[0].find(a.agent_id) != std::string::npos);
  BOOST_TEST(notices[0].find("system_shutdown") != std::string::npos);
  BOOST_TEST(directory.liveState(a.agent_id)->last_shutdown_reason.value_or("") ==
             "system_shutdown");
  BOOST_TEST(directory.liveState(a.agent_id)->last_shutdown_at_ms.value() == nowMs());

  // A workstation that said goodbye stays SHUTDOWN through the silence, without an alert.
  run(120s);
  BOOST_TEST(status(a.agent_id) == presence::AgentStatus::kShutdown);
  BOOST_REQUIRE(writer.flush().ok());
  auto stored = store.findAgent(a.agent_id).value();
  BOOST_TEST(stored->last_shutdown_reason == "system_shutdown");
  BOOST_TEST(stored->last_shutdown_at_ms.value() == nowMs() - 120'000);

  // After a collector restart the notice is evidence again: SHUTDOWN, not an alert.
  monitor = std::make_unique<PresenceMonitor>(presenceConfig(), clock);
  BOOST_REQUIRE(monitor->load(store, store).ok());
  service = makeService(ingestConfig());
  run(30s);
  BOOST_TEST(status(a.agent_id) == presence::AgentStatus::kShutdown);
  BOOST_TEST(!view(a.agent_id).alert_open);
}

BOOST_FIXTURE_TEST_CASE(a_heartbeat_after_the_shutdown_brings_the_agent_back_online,
                        IndicatorFixture) {
  const auto a = enroll(site_a);
  sendOk(a, beat(a));
  auto goodbye = beat(a);
  goodbye.shutdown = protocol::shutdown_reasons::kSleep;
  sendOk(a, goodbye);
  BOOST_TEST(status(a.agent_id) == presence::AgentStatus::kShutdown);
  run(30s);
  sendOk(a, beat(a));
  BOOST_TEST(status(a.agent_id) == presence::AgentStatus::kOnline);
  BOOST_TEST(directory.liveState(a.agent_id)->last_shutdown_reason.value_or("") ==
             "sleep");  // the last one
}

BOOST_FIXTURE_TEST_CASE(an_uninstall_notice_retires_the_agent_without_an_alert, IndicatorFixture) {
  const auto a = enroll(site_a);
  const auto b = enroll(site_a, "other");
  sendOk(a, beat(a));
  sendOk(b, beat(b));
  auto goodbye = beat(a);
  goodbye.shutdown = protocol::shutdown_reasons::kUninstall;
  sendOk(a, goodbye);
  BOOST_TEST(!monitor->agentView(a.agent_id).has_value());  // no longer tracked
  BOOST_REQUIRE(store.findAgent(a.agent_id).value()->retired_at_ms.has_value());
  BOOST_TEST(*store.findAgent(a.agent_id).value()->retired_at_ms == nowMs());
  BOOST_TEST(!store.findAgent(b.agent_id).value()->retired_at_ms.has_value());
  BOOST_REQUIRE(!notices.empty());
  BOOST_TEST(notices.back().find("retired itself") != std::string::npos);

  // Its heartbeats are refused from now on, and its silence raises nothing, also after a
  // collector restart; the other agent of the site is still watched.
  auto late = send(a, beat(a));
  BOOST_REQUIRE(!late.ok());
  BOOST_TEST(late.error().code == protocol::errors::kUnknownAgent);
  run(120s);
  BOOST_TEST(status(b.agent_id) == presence::AgentStatus::kOffline);
  monitor = std::make_unique<PresenceMonitor>(presenceConfig(), clock);
  AgentDirectory reloaded;
  BOOST_REQUIRE(reloaded.load(store).ok());
  BOOST_TEST(reloaded.credentials(a.agent_id)->retired);
  BOOST_REQUIRE(monitor->load(store, store).ok());
  run(120s);
  BOOST_TEST(!monitor->agentView(a.agent_id).has_value());
}

// ---- Peer witness -------------------------------------------------------------------------

BOOST_FIXTURE_TEST_CASE(peer_sightings_witness_only_known_agents_of_the_reporters_site,
                        IndicatorFixture) {
  const auto a = enroll(site_a, "a");
  const auto b = enroll(site_a, "b");
  const auto other_site = enroll(site_b, "other-site");
  const auto other_tenant = enroll(site_c, "other-tenant");
  const auto retired = enroll(site_a, "retired");
  AgentRecord record = store.findAgent(retired.agent_id).value().value();
  record.retired_at_ms = nowMs();
  directory.add(record);
  run(5s);

  auto report = beat(b);
  const int64_t heard = report.sent_at_ms - 5'000;
  for (const auto* peer : {&a, &other_site, &other_tenant, &retired, &b}) {
    report.peers.push_back({peer->agent_id, heard});
  }
  report.peers.push_back({"ag_nobody", heard});
  sendOk(b, report);

  // The sighting is dated by its age: five seconds before the report.
  BOOST_TEST((lastSeen(a.agent_id, presence::Indicator::kPeerWitness) ==
              clock.wallNow() - std::chrono::seconds(5)));
  for (const auto* ignored : {&other_site, &other_tenant, &b}) {
    BOOST_TEST(!lastSeen(ignored->agent_id, presence::Indicator::kPeerWitness).has_value());
  }
  BOOST_TEST(service->counters().peer_sightings_witnessed == 1u);
  BOOST_TEST(service->counters().peer_sightings_ignored == 5u);
  // Witness evidence alone does not make anyone ONLINE.
  BOOST_TEST(status(a.agent_id) == presence::AgentStatus::kUnknown);
}

BOOST_FIXTURE_TEST_CASE(a_sighting_is_never_dated_in_the_future_and_an_ancient_one_is_ignored,
                        IndicatorFixture) {
  const auto a = enroll(site_a, "a");
  const auto b = enroll(site_a, "b");
  const auto c = enroll(site_a, "c");
  run(5s);
  auto report = beat(b);
  report.peers.push_back({a.agent_id, report.sent_at_ms + 60'000});  // reporter's clock jumped
  report.peers.push_back({c.agent_id, report.sent_at_ms - int64_t{2} * 3'600'000});
  sendOk(b, report);
  BOOST_TEST((lastSeen(a.agent_id, presence::Indicator::kPeerWitness) == clock.wallNow()));
  BOOST_TEST(!lastSeen(c.agent_id, presence::Indicator::kPeerWitness).has_value());
  BOOST_TEST(service->counters().peer_sightings_ignored == 1u);
  // An old sighting is not ingest lag: the collector stays healthy.
  run(15s);
  BOOST_TEST(!monitor->health().degraded);
}

BOOST_FIXTURE_TEST_CASE(a_fresh_witness_keeps_a_silent_agent_suspect_instead_of_offline,
                        IndicatorFixture) {
  const auto a = enroll(site_a, "a");
  const auto b = enroll(site_a, "b");
  sendOk(a, beat(a));
  for (int i = 0; i < 6; ++i) {  // a falls silent; b keeps beating and hears it
    run(10s);
    auto report = beat(b);
    report.peers.push_back({a.agent_id, report.sent_at_ms - 1'000});
    sendOk(b, report);
  }
  BOOST_TEST(status(a.agent_id) == presence::AgentStatus::kSuspect);
  BOOST_TEST(view(a.agent_id).reason == presence::Reason::kWitnessedOnly);
}

// ---- Facts --------------------------------------------------------------------------------

BOOST_FIXTURE_TEST_CASE(facts_are_live_at_once_and_written_only_when_they_change,
                        IndicatorFixture) {
  const auto a = enroll(site_a);
  auto hb = beat(a);
  hb.os_name = "linux";
  hb.os_version = "Debian GNU/Linux 13 (trixie)";
  hb.config_hash = "0123456789abcdef";
  hb.net = protocol::NetworkSelfCheck{true, {"10.0.0.7", "fe80::1"}};
  sendOk(a, hb);
  auto live = directory.liveState(a.agent_id).value();
  BOOST_TEST(live.os_version.value_or("") == "Debian GNU/Linux 13 (trixie)");
  BOOST_TEST(live.config_hash.value_or("") == "0123456789abcdef");
  BOOST_REQUIRE(live.net.has_value());
  BOOST_TEST(live.net->addresses.size() == 2u);

  BOOST_REQUIRE(writer.flush().ok());
  BOOST_REQUIRE(store.last_seen_updates.back().facts.has_value());
  auto stored = store.findAgent(a.agent_id).value().value();
  BOOST_TEST(stored.os_version == "Debian GNU/Linux 13 (trixie)");
  BOOST_TEST(stored.config_hash == "0123456789abcdef");
  BOOST_REQUIRE(stored.net.has_value());
  BOOST_TEST(stored.net->default_route);
  BOOST_TEST(stored.net->addresses[1] == "fe80::1");

  // The same facts again, or none: last-seen is written, the facts are not.
  auto same = beat(a);
  same.config_hash = hb.config_hash;
  same.net = hb.net;
  sendOk(a, same);
  sendOk(a, beat(a));
  BOOST_REQUIRE(writer.flush().ok());
  BOOST_TEST(!store.last_seen_updates.back().facts.has_value());

  auto changed = beat(a);
  changed.config_hash = "fedcba9876543210";
  changed.net = protocol::NetworkSelfCheck{false, {}};
  sendOk(a, changed);
  BOOST_REQUIRE(writer.flush().ok());
  BOOST_REQUIRE(store.last_seen_updates.back().facts.has_value());
  stored = store.findAgent(a.agent_id).value().value();
  BOOST_TEST(stored.config_hash == "fedcba9876543210");
  BOOST_TEST(!stored.net->default_route);
  BOOST_TEST(stored.net->addresses.empty());
  BOOST_TEST(stored.os_version == "Debian GNU/Linux 13 (trixie)");  // kept: not reported again
}

// ---- Nothing of a refused heartbeat is kept -----------------------------------------------

BOOST_FIXTURE_TEST_CASE(a_refused_heartbeat_changes_nothing_its_indicators_say, IndicatorFixture) {
  const auto a = enroll(site_a, "a");
  const auto b = enroll(site_a, "b");
  auto accepted = beat(b);
  sendOk(b, accepted);
  run(1s);
  BOOST_REQUIRE(writer.flush().ok());
  const size_t updates_before = store.last_seen_updates.size();

  auto replay = accepted;  // same seq: 409
  replay.sent_at_ms = nowMs();
  replay.shutdown = protocol::shutdown_reasons::kServiceStop;
  replay.outages = {{1000, 2000, protocol::causes::kDns}};
  replay.peers = {{a.agent_id, nowMs()}};
  replay.config_hash = "0123456789abcdef";
  auto refused = send(b, replay);
  BOOST_REQUIRE(!refused.ok());
  BOOST_TEST(refused.error().code == protocol::errors::kReplayedSequence);

  BOOST_TEST(status(b.agent_id) == presence::AgentStatus::kOnline);
  BOOST_TEST(!lastSeen(a.agent_id, presence::Indicator::kPeerWitness).has_value());
  BOOST_TEST(!directory.liveState(b.agent_id)->config_hash.has_value());
  BOOST_TEST(!directory.liveState(b.agent_id)->last_shutdown_reason.has_value());
  BOOST_TEST(notices.empty());
  BOOST_TEST(service->counters().peer_sightings_witnessed == 0u);
  BOOST_REQUIRE(writer.flush().ok());
  BOOST_TEST(store.last_seen_updates.size() == updates_before);
  BOOST_TEST(store.listOutageReports(b.agent_id, 10)->empty());
}
