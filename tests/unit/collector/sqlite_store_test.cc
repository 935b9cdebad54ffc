#define BOOST_TEST_MODULE collector_sqlite_store
#include <Poco/Data/SQLite/Connector.h>
#include <Poco/Data/Session.h>

#include <boost/test/unit_test.hpp>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "collector/store/sql_store.h"
#include "collector/store/sql_util.h"
#include "common/crypto.h"
#include "store_queries.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_store.h"

namespace fs = std::filesystem;
using vigil::StatusCode;
using vigil::collector::AdminRole;
using vigil::collector::AgentRecord;
using vigil::collector::EnrollmentToken;
using vigil::collector::LastSeenUpdate;
using vigil::collector::Site;
using vigil::collector::SqlStore;
using vigil::testing::TempDir;

namespace {

std::unique_ptr<SqlStore> openStore(const std::string& dir) {
  auto opened = vigil::testing::openTestStore(dir);
  BOOST_REQUIRE_MESSAGE(opened.ok(), (opened.ok() ? std::string() : opened.error().toString()));
  return std::move(opened.value());
}

// A second connection to the store's database, for what the Store interface does not expose.
Poco::Data::Session rawSession(const std::string& dir) {
  return vigil::testing::rawTestSession(dir);
}

// Back to the schema before migration 5 (admin token roles), its data aside.
void undoMigration6(Poco::Data::Session& raw) {
  using Poco::Data::Keywords::now;
  raw << "DROP INDEX admin_tokens_parent", now;
  raw << "ALTER TABLE admin_tokens DROP COLUMN role", now;
}

// Back to the schema before migration 7 (agent classes, cadence rules), its data aside.
void undoMigration7(Poco::Data::Session& raw) {
  using Poco::Data::Keywords::now;
  raw << "DROP TABLE cadence_rules", now;
  raw << "ALTER TABLE agents DROP COLUMN agent_class", now;
}

// Back to the schema before migration 8 (a cluster's shard leases and collectors).
void undoMigration8(Poco::Data::Session& raw) {
  using Poco::Data::Keywords::now;
  raw << "DROP TABLE shard_leases", now;
  raw << "DROP TABLE collectors", now;
}

// Back to the schema before migration 9 (outbox claims).
void undoMigration9(Poco::Data::Session& raw) {
  using Poco::Data::Keywords::now;
  raw << "ALTER TABLE webhook_outbox DROP COLUMN claimed_by", now;
  raw << "ALTER TABLE webhook_outbox DROP COLUMN claimed_until", now;
}

// Back to the schema before migration 11 (notification channels) from 15 (reports).
void undoMigrations13To11(Poco::Data::Session& raw) {
  using Poco::Data::Keywords::now;
  raw << "DROP INDEX status_changes_at", now;
  raw << "ALTER TABLE health_changes DROP COLUMN blind_from", now;
  raw << "ALTER TABLE health_changes DROP COLUMN node", now;
  raw << "ALTER TABLE status_changes DROP COLUMN overdue_from", now;
  raw << "DROP TABLE alert_follow_ups", now;
  raw << "ALTER TABLE webhook_outbox DROP COLUMN due_from", now;
  raw << "ALTER TABLE tenants DROP COLUMN business_hours", now;
  raw << "DROP TABLE channel_tickets", now;
  for (const char* column :
       {"kind", "settings", "filter", "remind_every_s", "escalate_after_s", "escalate_to"}) {
    raw << std::string("ALTER TABLE webhooks DROP COLUMN ") + column, now;
  }
}

// Back to the schema before migration 10 (a cluster's shared keys).
void undoMigration10(Poco::Data::Session& raw) {
  using Poco::Data::Keywords::now;
  raw << "DROP TABLE cluster_keys", now;
}

std::string hashOf(const std::string& token) {
  return vigil::crypto::toHex(vigil::crypto::sha256(token).value());
}

struct StoreFixture {
  StoreFixture() : data_dir(tmp.sub("data")), store(openStore(data_dir)) {
    auto tenant = store->createTenant("default", 1000);
    BOOST_REQUIRE(tenant.ok());
    auto created = store->createSite(tenant->id, "default", 1000);
    BOOST_REQUIRE(created.ok());
    site = created.value();
    EnrollmentToken t;
    t.site_id = site.id;
    t.token_hash = hashOf("enroll-secret");
    t.created_at_ms = 1000;
    auto token = store->createEnrollmentToken(t);
    BOOST_REQUIRE(token.ok());
    token_id = token->id;
  }

  // A token of the site for at most `max_uses` enrollments; its id.
  int64_t limitedToken(const std::string& secret, int64_t max_uses) {
    EnrollmentToken t;
    t.site_id = site.id;
    t.token_hash = hashOf(secret);
    t.created_at_ms = 1000;
    t.max_uses = max_uses;
    auto created = store->createEnrollmentToken(t);
    BOOST_REQUIRE(created.ok());
    return created->id;
  }

  AgentRecord enroll(const std::string& id) {
    AgentRecord a;
    a.id = id;
    a.hostname = "host-" + id;
    a.os_name = "linux";
    a.agent_version = "0.1.0";
    a.secret = std::string(64, 'a');
    a.enrolled_at_ms = 2000;
    auto stored = store->enrollAgent(token_id, a, 2000);
    BOOST_REQUIRE_MESSAGE(stored.ok(), (stored.ok() ? std::string() : stored.error().toString()));
    return stored.value();
  }

  void reopen() {
    store.reset();
    store = openStore(data_dir);
  }

  TempDir tmp;
  std::string data_dir;
  std::unique_ptr<SqlStore> store;
  Site site;
  int64_t token_id = 0;
};

}  // namespace

BOOST_AUTO_TEST_CASE(open_creates_private_data_dir_and_database_at_latest_schema,
                     *boost::unit_test::label("sqlite_file")) {
  TempDir tmp;
  const std::string dir = tmp.sub("nested/data");
  auto store = openStore(dir);
  BOOST_TEST(store->schemaVersion().value() == SqlStore::latestSchemaVersion());
  BOOST_TEST(SqlStore::latestSchemaVersion() >= 1);
  BOOST_TEST(((fs::status(dir).permissions() & fs::perms::all) == fs::perms::owner_all));
  const fs::path db = fs::path(dir) / SqlStore::kSqliteFileName;
  BOOST_TEST(fs::exists(db));
  BOOST_TEST(((fs::status(db).permissions() & fs::perms::all) ==
              (fs::perms::owner_read | fs::perms::owner_write)));
  BOOST_TEST(store->ping().ok());
}

BOOST_AUTO_TEST_CASE(reopening_applies_no_migration_twice) {
  TempDir tmp;
  const std::string dir = tmp.sub("data");
  {
    auto store = openStore(dir);
    BOOST_TEST(store->createTenant("t", 1).ok());
  }
  auto store = openStore(dir);
  BOOST_TEST(store->schemaVersion().value() == SqlStore::latestSchemaVersion());
  BOOST_TEST(store->findTenantByName("t").value().has_value());
}

BOOST_AUTO_TEST_CASE(open_refuses_a_database_from_a_newer_collector) {
  TempDir tmp;
  const std::string dir = tmp.sub("data");
  openStore(dir).reset();
  {
    // A newer collector has applied a migration this build does not know.
    Poco::Data::Session raw = rawSession(dir);
    int next = SqlStore::latestSchemaVersion() + 1;
    raw << "INSERT INTO schema_version (version, applied_at) VALUES ($1, 0)",
        Poco::Data::Keywords::use(next), Poco::Data::Keywords::now;
  }
  auto opened = vigil::testing::openTestStore(dir);
  BOOST_REQUIRE(!opened.ok());
  BOOST_TEST((opened.error().code() == StatusCode::kFailedPrecondition));
}

BOOST_AUTO_TEST_CASE(open_reports_a_corrupt_database_as_an_error,
                     *boost::unit_test::label("sqlite_file")) {
  TempDir tmp;
  fs::create_directories(tmp.path() / "data");
  {
    std::ofstream junk(tmp.path() / "data" / SqlStore::kSqliteFileName);
    junk << std::string(4096, 'x');
  }
  auto opened = SqlStore::openSqlite(tmp.sub("data"));
  BOOST_TEST(!opened.ok());
}

BOOST_FIXTURE_TEST_CASE(tenants_and_sites_are_found_by_name, StoreFixture) {
  auto tenant = store->findTenantByName("default");
  BOOST_REQUIRE(tenant.ok());
  BOOST_REQUIRE(tenant.value().has_value());
  auto found = store->findSiteByName(tenant.value()->id, "default");
  BOOST_REQUIRE(found.value().has_value());
  BOOST_TEST(found.value()->id == site.id);
  BOOST_TEST(!store->findTenantByName("other").value().has_value());
  BOOST_TEST(!store->findSiteByName(tenant.value()->id, "other").value().has_value());
}

BOOST_FIXTURE_TEST_CASE(enrollment_tokens_are_stored_and_found_only_by_hash, StoreFixture) {
  auto by_hash = store->findEnrollmentTokenByHash(hashOf("enroll-secret"));
  BOOST_REQUIRE(by_hash.value().has_value());
  BOOST_TEST(by_hash.value()->site_id == site.id);
  BOOST_TEST(by_hash.value()->token_hash == hashOf("enroll-secret"));
  // The clear token is not a key.
  BOOST_TEST(!store->findEnrollmentTokenByHash("enroll-secret").value().has_value());
}

BOOST_FIXTURE_TEST_CASE(the_clear_enrollment_token_is_in_no_database_file, StoreFixture,
                        *boost::unit_test::label("sqlite_file")) {
  store.reset();
  for (const auto& entry : fs::directory_iterator(data_dir)) {
    std::ifstream in(entry.path(), std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    BOOST_TEST(bytes.find("enroll-secret") == std::string::npos, entry.path());
  }
}

BOOST_FIXTURE_TEST_CASE(enroll_agent_consumes_a_token_use_and_creates_agent_in_its_site,
                        StoreFixture) {
  AgentRecord a = enroll("ag_1");
  BOOST_TEST(a.site_id == site.id);
  BOOST_TEST(a.tenant_id == site.tenant_id);
  BOOST_TEST(a.hostname == "host-ag_1");
  BOOST_TEST(!a.last_seen_at_ms.has_value());
  BOOST_TEST(a.last_seq == 0);
  BOOST_TEST(store->findEnrollmentTokenByHash(hashOf("enroll-secret")).value()->uses == 1);
  auto found = store->findAgent("ag_1");
  BOOST_REQUIRE(found.value().has_value());
  BOOST_TEST(found.value()->secret == std::string(64, 'a'));
  BOOST_TEST(!store->findAgent("ag_none").value().has_value());
}

BOOST_FIXTURE_TEST_CASE(enroll_agent_with_used_up_token_creates_nothing, StoreFixture) {
  const int64_t once = limitedToken("once", 1);
  AgentRecord a;
  a.id = "ag_first";
  a.hostname = "h";
  a.agent_version = "1";
  a.secret = "s";
  BOOST_TEST(store->enrollAgent(once, a, 2000).ok());
  a.id = "ag_second";
  auto second = store->enrollAgent(once, a, 2000);
  BOOST_REQUIRE(!second.ok());
  BOOST_TEST((second.error().code() == StatusCode::kPermissionDenied));
  BOOST_TEST(!store->findAgent("ag_second").value().has_value());
  BOOST_TEST(store->findEnrollmentTokenByHash(hashOf("once")).value()->uses == 1);
}

// A bulk rollout through several collectors: many enrollments with one token at once, on two
// stores of one database where the backend allows it (PostgreSQL; SQLite has one writer). Each
// gets an agent until the token's max_uses, then the token is not usable; none fails because
// another one conflicted with it, and no use is counted twice or past the limit.
BOOST_FIXTURE_TEST_CASE(concurrent_enrollments_with_one_token_keep_its_limit_and_none_conflict,
                        StoreFixture) {
  const int64_t rollout = limitedToken("rollout", 25);
  std::unique_ptr<SqlStore> second;
  if (vigil::testing::testingPostgres()) second = openStore(data_dir);
  constexpr int kThreads = 4;
  constexpr int kEach = 10;
  std::vector<std::vector<StatusCode>> outcomes(kThreads);
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    SqlStore& target = (second && i % 2 == 1) ? *second : *store;
    threads.emplace_back([&, i, id = rollout] {
      for (int n = 0; n < kEach; ++n) {
        AgentRecord a;
        a.id = "ag_rollout_" + std::to_string(i) + "_" + std::to_string(n);
        a.hostname = a.id;
        a.agent_version = "1";
        a.secret = std::string(64, 'b');
        a.enrolled_at_ms = 2000;
        auto enrolled = target.enrollAgent(id, a, 2000);
        outcomes[i].push_back(enrolled.ok() ? StatusCode::kOk : enrolled.error().code());
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  int ok = 0, refused = 0, other = 0;
  for (const auto& of_thread : outcomes) {
    for (StatusCode code : of_thread) {
      if (code == StatusCode::kOk) {
        ++ok;
      } else if (code == StatusCode::kPermissionDenied) {
        ++refused;
      } else {
        ++other;
      }
    }
  }
  BOOST_TEST(ok == 25);
  BOOST_TEST(refused == kThreads * kEach - 25);
  BOOST_TEST(other == 0);
  BOOST_TEST(store->findEnrollmentTokenByHash(hashOf("rollout")).value()->uses == 25);
}

BOOST_FIXTURE_TEST_CASE(enroll_agent_with_expired_token_is_refused, StoreFixture) {
  EnrollmentToken t;
  t.site_id = site.id;
  t.token_hash = hashOf("expiring");
  t.created_at_ms = 1000;
  t.expires_at_ms = 5000;
  auto token = store->createEnrollmentToken(t);
  BOOST_REQUIRE(token.ok());
  BOOST_TEST(token->usableAt(4999));
  BOOST_TEST(!token->usableAt(5000));
  AgentRecord a;
  a.id = "ag_late";
  a.hostname = "h";
  a.agent_version = "1";
  a.secret = "s";
  BOOST_TEST(!store->enrollAgent(token->id, a, 5000).ok());
  BOOST_TEST(store->enrollAgent(token->id, a, 4999).ok());
}

BOOST_FIXTURE_TEST_CASE(list_agents_pages_in_id_order, StoreFixture) {
  for (const char* id : {"ag_c", "ag_a", "ag_e", "ag_b", "ag_d"}) enroll(id);
  auto first = store->listAgents("", 2);
  BOOST_REQUIRE(first.ok());
  BOOST_REQUIRE(first->size() == 2u);
  BOOST_TEST(first.value()[0].id == "ag_a");
  BOOST_TEST(first.value()[1].id == "ag_b");
  auto second = store->listAgents("ag_b", 10);
  BOOST_REQUIRE(second->size() == 3u);
  BOOST_TEST(second.value()[0].id == "ag_c");
  BOOST_TEST(second.value()[2].id == "ag_e");
  BOOST_TEST(store->listAgents("ag_e", 10)->empty());
}

BOOST_FIXTURE_TEST_CASE(batch_last_seen_update_survives_reopen, StoreFixture) {
  enroll("ag_1");
  enroll("ag_2");
  enroll("ag_3");
  std::vector<LastSeenUpdate> batch = {
      {"ag_1", 10'000, 5, "boot-1", 100, "0.2.0", "renamed-1"},
      {"ag_2", 11'000, 7, "boot-2", 200, "0.1.0", "host-ag_2"},
  };
  BOOST_REQUIRE(store->updateLastSeen(batch).ok());
  reopen();
  auto a1 = store->findAgent("ag_1").value();
  BOOST_REQUIRE(a1.has_value());
  BOOST_TEST(a1->last_seen_at_ms.value() == 10'000);
  BOOST_TEST(a1->last_seq == 5);
  BOOST_TEST(a1->boot_id == "boot-1");
  BOOST_TEST(a1->uptime_s == 100);
  BOOST_TEST(a1->agent_version == "0.2.0");
  BOOST_TEST(a1->hostname == "renamed-1");
  BOOST_TEST(store->findAgent("ag_2").value()->last_seq == 7);
  BOOST_TEST(!store->findAgent("ag_3").value()->last_seen_at_ms.has_value());
}

BOOST_FIXTURE_TEST_CASE(last_seen_update_never_moves_seq_backwards, StoreFixture) {
  enroll("ag_1");
  BOOST_REQUIRE(store->updateLastSeen({{"ag_1", 10'000, 9, "b", 1, "v", "h"}}).ok());
  BOOST_REQUIRE(store->updateLastSeen({{"ag_1", 20'000, 3, "b", 1, "v", "h"}}).ok());
  auto a = store->findAgent("ag_1").value();
  BOOST_TEST(a->last_seq == 9);
  BOOST_TEST(a->last_seen_at_ms.value() == 10'000);
}

BOOST_FIXTURE_TEST_CASE(admin_tokens_are_listed_with_their_hash_only, StoreFixture) {
  BOOST_TEST(store->listAdminTokens()->empty());
  BOOST_REQUIRE(
      store
          ->createAdminToken(vigil::collector::NewAdminToken::forAllTenants(hashOf("admin"), "ops"),
                             3000)
          .ok());
  auto tokens = store->listAdminTokens();
  BOOST_REQUIRE(tokens->size() == 1u);
  BOOST_TEST(tokens.value()[0].token_hash == hashOf("admin"));
  BOOST_TEST(tokens.value()[0].name == "ops");
  BOOST_TEST(!tokens.value()[0].revoked);
}

using vigil::collector::AlertChange;
using vigil::collector::HealthRecord;
using vigil::collector::StatusChangeRecord;

namespace {

AlertChange deviceAlert(const std::string& agent, const std::string& action, int64_t at) {
  AlertChange c;
  c.kind = "device_offline";
  c.action = action;
  c.agent_id = agent;
  c.at_ms = at;
  return c;
}

}  // namespace

BOOST_FIXTURE_TEST_CASE(status_changes_are_listed_newest_first_and_survive_reopen, StoreFixture) {
  enroll("ag_1");
  std::vector<StatusChangeRecord> changes = {
      {"ag_1", 10, "UNKNOWN", "ONLINE", "fresh_evidence", ""},
      {"ag_1", 20, "ONLINE", "SUSPECT", "heartbeat_late", ""},
      {"ag_1", 30, "SUSPECT", "OFFLINE", "confirmed_silent", "warm_up"},
  };
  BOOST_REQUIRE(store->appendPresenceEvents(changes, {}, {}).ok());
  store.reset();
  store = openStore(data_dir);
  auto listed = store->listStatusChanges("ag_1", 0, 2);
  BOOST_REQUIRE(listed.ok());
  BOOST_REQUIRE(listed->size() == 2u);
  BOOST_TEST(listed->at(0).to_status == "OFFLINE");
  BOOST_TEST(listed->at(0).degradation_reasons == "warm_up");
  BOOST_TEST(listed->at(1).to_status == "SUSPECT");
  auto last = store->listLastStatuses();
  BOOST_REQUIRE(last.ok());
  BOOST_REQUIRE(last->size() == 1u);
  BOOST_TEST(last->at(0).status == "OFFLINE");
  BOOST_TEST(last->at(0).since_ms == 30);
}

// A statement prepared once and executed per row that fails at a later row (in the field: a
// database restarted in the middle of a batch; here: a duplicate key) throws, and destroying it
// does not abort the process, as Poco 1.11's PostgreSQL connector would (sql::executeAgain).
BOOST_FIXTURE_TEST_CASE(a_batch_statement_failing_at_a_later_row_is_an_error_not_a_crash,
                        StoreFixture) {
  using Poco::Data::Keywords::now;
  using Poco::Data::Keywords::use;
  Poco::Data::Session raw = vigil::testing::rawTestSession(data_dir);
  raw << "CREATE TABLE batch_probe (id INTEGER PRIMARY KEY)", now;
  for (int round = 0; round < 3; ++round) {
    Poco::Int64 id = 10 * round + 1;
    {
      Poco::Data::Statement st(raw);
      st << "INSERT INTO batch_probe (id) VALUES ($1)", use(id);
      BOOST_TEST(vigil::collector::sql::executeAgain(st, false) == 1u);
      id += 1;
      BOOST_TEST(vigil::collector::sql::executeAgain(st, true) == 1u);
      id -= 1;  // the first row again
      BOOST_CHECK_THROW(vigil::collector::sql::executeAgain(st, true), Poco::Exception);
    }
  }
  Poco::Int64 rows = 0;
  raw << "SELECT COUNT(*) FROM batch_probe", Poco::Data::Keywords::into(rows), now;
  BOOST_TEST(rows == 6);
}

BOOST_FIXTURE_TEST_CASE(latest_verdicts_are_read_and_counted_for_a_clusters_admin_reads,
                        StoreFixture) {
  for (const char* id : {"ag_1", "ag_2", "ag_3", "ag_4"}) enroll(id);
  BOOST_REQUIRE(
      store
          ->appendPresenceEvents({{"ag_1", 10, "UNKNOWN", "ONLINE", "fresh_evidence", ""},
                                  {"ag_2", 11, "UNKNOWN", "ONLINE", "fresh_evidence", ""},
                                  {"ag_1", 20, "ONLINE", "OFFLINE", "silent", ""},
                                  {"ag_4", 21, "UNKNOWN", "ONLINE", "fresh_evidence", ""}},
                                 {}, {})
          .ok());
  BOOST_REQUIRE(store->retireAgent("ag_4", 30).value());
  auto latest = store->latestStatusChanges({"ag_1", "ag_2", "ag_3", "nobody"});
  BOOST_REQUIRE(latest.ok());
  std::map<std::string, std::string> by_agent;
  for (const StatusChangeRecord& c : latest.value()) by_agent[c.agent_id] = c.to_status;
  BOOST_TEST(by_agent.size() == 2u);  // ag_3 was never judged
  BOOST_TEST(by_agent["ag_1"] == "OFFLINE");
  BOOST_TEST(by_agent["ag_2"] == "ONLINE");
  BOOST_TEST(store->latestStatusChanges({}).value().empty());

  // Retired agents are not counted; one never judged is UNKNOWN.
  auto counts = store->countLatestStatuses(std::nullopt, std::nullopt);
  BOOST_REQUIRE(counts.ok());
  const std::map<std::string, size_t> expected = {{"OFFLINE", 1}, {"ONLINE", 1}, {"UNKNOWN", 1}};
  BOOST_TEST((counts.value() == expected));
  BOOST_TEST((store->countLatestStatuses(site.tenant_id, site.id).value() == expected));
  BOOST_TEST(store->countLatestStatuses(site.tenant_id + 1, std::nullopt).value().empty());
  BOOST_TEST(store->countLatestStatuses(std::nullopt, site.id + 1).value().empty());
}

BOOST_FIXTURE_TEST_CASE(a_held_alert_that_opens_keeps_its_held_since_and_then_resolves,
                        StoreFixture) {
  AlertChange held = deviceAlert("ag_1", "held", 100);
  held.held_since_ms = 100;
  held.held_reasons = "tick_late";
  BOOST_REQUIRE(store->appendPresenceEvents({}, {held}, {}).ok());
  auto open = vigil::testing::openAlerts(*store);
  BOOST_REQUIRE(open.size() == 1u);
  BOOST_TEST(open.at(0).state == "held");

  AlertChange opened = deviceAlert("ag_1", "opened", 500);
  opened.note = "held while the collector was degraded (tick_late)";
  BOOST_REQUIRE(store->appendPresenceEvents({}, {opened}, {}).ok());
  open = vigil::testing::openAlerts(*store);
  BOOST_REQUIRE(open.size() == 1u);
  BOOST_TEST(open.at(0).state == "open");
  BOOST_TEST(open.at(0).opened_at_ms == 500);
  BOOST_TEST(open.at(0).held_since_ms.value() == 100);
  BOOST_TEST(open.at(0).note == opened.note);

  BOOST_REQUIRE(store->appendPresenceEvents({}, {deviceAlert("ag_1", "resolved", 900)}, {}).ok());
  BOOST_TEST(vigil::testing::openAlerts(*store).empty());
  auto all = vigil::testing::allAlerts(*store);
  BOOST_REQUIRE(all.size() == 1u);
  BOOST_TEST(all.at(0).state == "resolved");
  BOOST_TEST(all.at(0).closed_at_ms.value() == 900);
}

BOOST_FIXTURE_TEST_CASE(a_released_alert_closes_only_a_held_one, StoreFixture) {
  BOOST_REQUIRE(store->appendPresenceEvents({}, {deviceAlert("ag_1", "opened", 1)}, {}).ok());
  // Releasing applies to held alerts only: the open one stays open.
  BOOST_REQUIRE(store->appendPresenceEvents({}, {deviceAlert("ag_1", "released", 2)}, {}).ok());
  BOOST_TEST(vigil::testing::openAlerts(*store).at(0).state == "open");
  // A second "opened" for the same subject does not duplicate the open alert.
  BOOST_REQUIRE(store->appendPresenceEvents({}, {deviceAlert("ag_1", "opened", 3)}, {}).ok());
  BOOST_TEST(vigil::testing::allAlerts(*store).size() == 1u);

  BOOST_REQUIRE(store->appendPresenceEvents({}, {deviceAlert("ag_2", "held", 4)}, {}).ok());
  BOOST_REQUIRE(store->appendPresenceEvents({}, {deviceAlert("ag_2", "released", 5)}, {}).ok());
  auto all = vigil::testing::allAlerts(*store);
  BOOST_REQUIRE(all.size() == 2u);
  BOOST_TEST(all.at(0).agent_id.value() == "ag_2");
  BOOST_TEST(all.at(0).state == "released");
}

BOOST_FIXTURE_TEST_CASE(site_alerts_are_matched_by_site_not_agent, StoreFixture) {
  AlertChange site_alert;
  site_alert.kind = "site_unreachable";
  site_alert.action = "opened";
  site_alert.site_id = 7;
  site_alert.at_ms = 10;
  BOOST_REQUIRE(store->appendPresenceEvents({}, {site_alert}, {}).ok());
  site_alert.site_id = 8;
  site_alert.action = "resolved";
  BOOST_REQUIRE(store->appendPresenceEvents({}, {site_alert}, {}).ok());
  BOOST_TEST(vigil::testing::openAlerts(*store).size() == 1u);  // site 8 had none to resolve
  site_alert.site_id = 7;
  BOOST_REQUIRE(store->appendPresenceEvents({}, {site_alert}, {}).ok());
  BOOST_TEST(vigil::testing::openAlerts(*store).empty());
}

BOOST_FIXTURE_TEST_CASE(health_history_is_listed_newest_first, StoreFixture) {
  BOOST_REQUIRE(store
                    ->appendPresenceEvents(
                        {}, {}, {{1, true, "warm_up"}, {2, false, ""}, {3, true, "tick_late"}})
                    .ok());
  auto h = store->listHealthHistoryPage(0, 2);
  BOOST_REQUIRE(h.ok());
  BOOST_REQUIRE(h->size() == 2u);
  BOOST_TEST(h->at(0).reasons == "tick_late");
  BOOST_TEST(!h->at(1).degraded);
}

// ---- Schema 3: site peer keys, agent facts, shutdown notices, outage reports ----------------

namespace {

bool isLowerHex(const std::string& s, size_t length) {
  return s.size() == length && s.find_first_not_of("0123456789abcdef") == std::string::npos;
}

}  // namespace

BOOST_FIXTURE_TEST_CASE(every_new_site_gets_its_own_peer_key, StoreFixture) {
  BOOST_TEST(isLowerHex(site.peer_key, 64));
  auto tenant = store->findTenantByName("default").value().value();
  auto other = store->createSite(tenant.id, "branch", 1000).value();
  BOOST_TEST(isLowerHex(other.peer_key, 64));
  BOOST_TEST(other.peer_key != site.peer_key);
  BOOST_TEST(store->findSiteByName(tenant.id, "branch").value()->peer_key == other.peer_key);
  auto sites = store->listSites().value();
  BOOST_REQUIRE(sites.size() == 2u);
  BOOST_TEST(sites[0].peer_key == site.peer_key);
  BOOST_TEST(sites[1].name == "branch");
  reopen();
  BOOST_TEST(store->listSites().value()[1].peer_key == other.peer_key);
}

// A database written by a collector at schema 2 (before peer keys) gains a peer key for each
// of its sites, and keeps its agents, when this build opens it.
BOOST_AUTO_TEST_CASE(migration_3_gives_the_sites_of_a_schema_2_database_peer_keys,
                     *boost::unit_test::label("sqlite_file")) {
  TempDir tmp;
  const std::string dir = tmp.sub("data");
  {
    auto store = openStore(dir);
    auto tenant = store->createTenant("default", 1000).value();
    auto site = store->createSite(tenant.id, "default", 1000).value();
    BOOST_REQUIRE(store->createSite(tenant.id, "branch", 1000).ok());
    EnrollmentToken t;
    t.site_id = site.id;
    t.token_hash = hashOf("enroll-secret");
    auto token = store->createEnrollmentToken(t).value();
    AgentRecord a;
    a.id = "ag_old";
    a.hostname = "old-host";
    a.agent_version = "0.1.0";
    a.secret = std::string(64, 's');
    BOOST_REQUIRE(store->enrollAgent(token.id, a, 2000).ok());
    BOOST_REQUIRE(
        store->updateLastSeen({{"ag_old", 10'000, 42, "boot", 7, "0.1.0", "old-host"}}).ok());
  }
  {
    // Back to exactly what migrations 1 and 2 created.
    using Poco::Data::Keywords::now;
    Poco::Data::Session raw = rawSession(dir);
    // Migrations 14 to 6 and 4, undone first (they build on 3; 5 leaves tables that never
    // reuse ids as they are).
    undoMigrations13To11(raw);
    undoMigration10(raw);
    undoMigration9(raw);
    undoMigration8(raw);
    undoMigration7(raw);
    undoMigration6(raw);
    for (const char* sql :
         {"DROP TABLE admin_token_tenants", "DROP TABLE maintenance_windows",
          "DROP TABLE webhook_outbox", "DROP TABLE webhooks", "DROP INDEX alerts_tenant",
          "DROP INDEX alerts_agent", "DROP INDEX alerts_site", "DROP INDEX agents_hostname"}) {
      raw << std::string(sql), now;
    }
    for (const char* column : {"all_tenants", "expires_at", "revoked_at", "created_by"}) {
      raw << std::string("ALTER TABLE admin_tokens DROP COLUMN ") + column, now;
    }
    for (const char* column : {"name", "revoked_at"}) {
      raw << std::string("ALTER TABLE enrollment_tokens DROP COLUMN ") + column, now;
    }
    for (const char* column : {"tenant_id", "acknowledged_at", "acknowledged_by", "closed_by"}) {
      raw << std::string("ALTER TABLE alerts DROP COLUMN ") + column, now;
    }
    raw << "DROP TABLE outage_reports", now;
    raw << "ALTER TABLE sites DROP COLUMN peer_key", now;
    for (const char* column : {"config_hash", "net_default_route", "net_addresses",
                               "last_shutdown_reason", "last_shutdown_at"}) {
      raw << std::string("ALTER TABLE agents DROP COLUMN ") + column, now;
    }
    raw << "DELETE FROM schema_version WHERE version > 2", now;
  }
  auto store = openStore(dir);
  BOOST_TEST(store->schemaVersion().value() == SqlStore::latestSchemaVersion());
  auto sites = store->listSites().value();
  BOOST_REQUIRE(sites.size() == 2u);
  BOOST_TEST(isLowerHex(sites[0].peer_key, 64));
  BOOST_TEST(isLowerHex(sites[1].peer_key, 64));
  BOOST_TEST(sites[0].peer_key != sites[1].peer_key);
  auto agent = store->findAgent("ag_old").value();
  BOOST_REQUIRE(agent.has_value());
  BOOST_TEST(agent->last_seq == 42);
  BOOST_TEST(agent->secret == std::string(64, 's'));
  BOOST_TEST(agent->config_hash.empty());
  BOOST_TEST(!agent->net.has_value());
  BOOST_TEST(agent->last_shutdown_reason.empty());
  BOOST_TEST(!agent->last_shutdown_at_ms.has_value());
  BOOST_TEST(store->listOutageReports("ag_old", 10)->empty());
  // The keys are generated once: reopening keeps them.
  const std::string key = sites[0].peer_key;
  store.reset();
  BOOST_TEST(openStore(dir)->listSites().value()[0].peer_key == key);
}

BOOST_FIXTURE_TEST_CASE(facts_and_shutdown_notice_are_written_with_last_seen, StoreFixture) {
  enroll("ag_1");
  LastSeenUpdate u{"ag_1", 10'000, 5, "boot", 100, "0.2.0", "host"};
  u.facts = vigil::collector::AgentFactsUpdate{"linux", "Debian 13", "0123456789abcdef",
                                               vigil::collector::AgentNetwork{true, {"10.0.0.7"}}};
  u.shutdown_reason = "service_stop";
  u.shutdown_at_ms = 10'000;
  BOOST_REQUIRE(store->updateLastSeen({u}).ok());
  reopen();
  auto a = store->findAgent("ag_1").value().value();
  BOOST_TEST(a.os_version == "Debian 13");
  BOOST_TEST(a.config_hash == "0123456789abcdef");
  BOOST_REQUIRE(a.net.has_value());
  BOOST_TEST(a.net->default_route);
  BOOST_TEST(a.net->addresses.size() == 1u);
  BOOST_TEST(a.net->addresses[0] == "10.0.0.7");
  BOOST_TEST(a.last_shutdown_reason == "service_stop");
  BOOST_TEST(a.last_shutdown_at_ms.value() == 10'000);

  // Facts of an older heartbeat never overwrite newer ones, like last-seen.
  LastSeenUpdate old{"ag_1", 9'000, 4, "boot", 99, "0.2.0", "host"};
  old.facts = vigil::collector::AgentFactsUpdate{"linux", "Debian 12", "ffffffffffffffff", {}};
  BOOST_REQUIRE(store->updateLastSeen({old}).ok());
  a = store->findAgent("ag_1").value().value();
  BOOST_TEST(a.config_hash == "0123456789abcdef");
  BOOST_TEST(a.net.has_value());
}

BOOST_FIXTURE_TEST_CASE(only_the_newest_outage_reports_of_each_agent_are_kept, StoreFixture) {
  enroll("ag_1");
  enroll("ag_2");
  LastSeenUpdate other{"ag_2", 1, 1, "b", 1, "v", "h"};
  other.outages = {{"ag_2", 1, 2, "dns", 3}};
  BOOST_REQUIRE(store->updateLastSeen({other}).ok());
  for (int64_t batch = 0; batch < 3; ++batch) {
    LastSeenUpdate u{"ag_1", 1000 + batch, batch + 1, "b", 1, "v", "h"};
    for (int64_t i = 0; i < 40; ++i) {
      const int64_t n = batch * 40 + i;
      u.outages.push_back({"ag_1", n, n + 1, "timeout", 5000 + batch});
    }
    BOOST_REQUIRE(store->updateLastSeen({u}).ok());
  }
  auto kept = store->listOutageReports("ag_1", 1000).value();
  BOOST_REQUIRE(kept.size() == vigil::collector::kOutageReportsKeptPerAgent);
  BOOST_TEST(kept.front().from_ms == 119);  // newest first
  BOOST_TEST(kept.back().from_ms == 20);
  BOOST_TEST(kept.front().reported_at_ms == 5002);
  BOOST_TEST(store->listOutageReports("ag_1", 3)->size() == 3u);
  auto others = store->listOutageReports("ag_2", 10).value();
  BOOST_REQUIRE(others.size() == 1u);
  BOOST_TEST(others[0].cause == "dns");
}

namespace {

// Tables and indexes of the schema, as SQLite holds their definitions.
std::vector<std::string> schemaObjects(const std::string& dir, const std::string& type) {
  using Poco::Data::Keywords::bind;
  using Poco::Data::Keywords::into;
  using Poco::Data::Keywords::now;
  Poco::Data::SQLite::Connector::registerConnector();
  Poco::Data::Session raw(Poco::Data::SQLite::Connector::KEY,
                          (fs::path(dir) / SqlStore::kSqliteFileName).string());
  std::vector<std::string> names;
  raw << "SELECT name FROM sqlite_master WHERE type = ? AND name NOT LIKE 'sqlite_%'"
         " ORDER BY name",
      bind(type), into(names), now;
  return names;
}

// Deletes the newest site and creates another: the new one must get a new id.
void deleteNewestSiteThenCreate(SqlStore& store, int64_t tenant_id, const std::string& name) {
  auto sites = store.listSites().value();
  BOOST_REQUIRE(!sites.empty());
  const int64_t newest = sites.back().id;
  BOOST_REQUIRE(store.deleteSite(newest).value());
  auto created = store.createSite(tenant_id, name, 5000).value();
  BOOST_TEST(created.id > newest, "site id " << newest << " given again");
}

}  // namespace

BOOST_AUTO_TEST_CASE(ids_of_deleted_objects_are_never_given_again_also_after_a_restart) {
  TempDir tmp;
  const std::string dir = tmp.sub("data");
  auto store = openStore(dir);
  auto tenant = store->createTenant("t", 1000).value();
  BOOST_REQUIRE(store->createSite(tenant.id, "a", 1000).ok());
  BOOST_REQUIRE(store->createSite(tenant.id, "b", 1000).ok());
  deleteNewestSiteThenCreate(*store, tenant.id, "c");
  store.reset();
  store = openStore(dir);
  deleteNewestSiteThenCreate(*store, tenant.id, "d");
  // Tenants too.
  auto doomed = store->createTenant("doomed", 1000).value();
  BOOST_REQUIRE(store->deleteTenant(doomed.id).value());
  store.reset();
  store = openStore(dir);
  BOOST_TEST(store->createTenant("next", 1000).value().id > doomed.id);
}

// A webhook inserted as schemas 4 to 10 hold it (before channel kinds); returns its id.
int64_t insertSchema4Webhook(const std::string& dir, int64_t tenant_id, const std::string& secret) {
  using Poco::Data::Keywords::bind;
  using Poco::Data::Keywords::into;
  using Poco::Data::Keywords::now;
  using Poco::Data::Keywords::use;
  Poco::Data::Session raw = vigil::testing::rawTestSession(dir);
  Poco::Int64 tenant = tenant_id;
  Poco::Int64 id = 0;
  raw << "INSERT INTO webhooks (tenant_id, url, secret, events, description, enabled, created_at)"
         " VALUES ($1, 'https://example.test/hook', $2, '[\"alert.opened\"]', '', 1, 1000)"
         " RETURNING id",
      use(tenant), bind(secret), into(id), now;
  return id;
}

BOOST_AUTO_TEST_CASE(migration_5_keeps_a_schema_4_database_and_stops_id_reuse,
                     *boost::unit_test::label("sqlite_file")) {
  TempDir tmp;
  const std::string dir = tmp.sub("data");
  int64_t tenant_b = 0, site_b = 0, window_id = 0, webhook_id = 0, admin_id = 0;
  std::string peer_key, webhook_secret;
  {
    auto opened = SqlStore::openSqliteAtSchemaVersion(dir, 4);
    BOOST_REQUIRE(opened.ok());
    auto& store = *opened.value();
    BOOST_REQUIRE(store.schemaVersion().value() == 4);
    auto a = store.createTenant("a", 1000).value();
    tenant_b = store.createTenant("b", 1000).value().id;
    BOOST_REQUIRE(store.createSite(a.id, "hq", 1000).ok());
    auto site = store.createSite(tenant_b, "hq", 1000).value();
    site_b = site.id;
    peer_key = site.peer_key;
    EnrollmentToken t;
    t.site_id = site_b;
    t.token_hash = hashOf("enroll-secret");
    BOOST_REQUIRE(store.createEnrollmentToken(t).ok());
    vigil::collector::MaintenanceWindowRecord w;
    w.tenant_id = tenant_b;
    w.scope = "site";
    w.site_id = site_b;
    w.starts_at_ms = 1000;
    w.duration_s = 3600;
    w.recurrence = "weekly";
    window_id = store.createMaintenanceWindow(w).value().id;
    // A webhook as schema 4 holds it (today's store writes a channel's kind, settings and
    // filter, which 4 lacks).
    webhook_secret = "whsec_" + std::string(43, 'A') + "=";
    webhook_id = insertSchema4Webhook(dir, tenant_b, webhook_secret);
    BOOST_REQUIRE(store.createSite(a.id, "spare", 1000).ok());  // the newest site, no agents
  }
  {
    // An admin token and an enrolled agent as schema 4 holds them (today's store writes a
    // token's role and an agent's class, which 4 lacks).
    using Poco::Data::Keywords::into;
    using Poco::Data::Keywords::now;
    Poco::Data::Session raw = rawSession(dir);
    raw << "INSERT INTO agents (id, site_id, hostname, agent_version, secret, enrolled_at)"
           " VALUES ('ag_old', " +
               std::to_string(site_b) + ", 'old-host', '0.1.0', '" + std::string(64, 's') +
               "', 2000)",
        now;
    raw << "UPDATE enrollment_tokens SET uses = 1", now;
    raw << "INSERT INTO admin_tokens (token_hash, name, created_at, all_tenants)"
           " VALUES ('" +
               hashOf("admin") + "', 'ops', 1000, 1)",
        now;
    raw << "SELECT last_insert_rowid()", into(admin_id), now;
  }
  const auto tables_before = schemaObjects(dir, "table");
  const auto indexes_before = schemaObjects(dir, "index");
  {
    auto at_5 = SqlStore::openSqliteAtSchemaVersion(dir, 5);
    BOOST_REQUIRE(at_5.ok());
    // Nothing lost by migration 5: tables, indexes.
    BOOST_TEST(schemaObjects(dir, "table") == tables_before, boost::test_tools::per_element());
    BOOST_TEST(schemaObjects(dir, "index") == indexes_before, boost::test_tools::per_element());
  }
  auto store = openStore(dir);
  BOOST_TEST(store->schemaVersion().value() == SqlStore::latestSchemaVersion());
  // Nor rows, ids or secrets.
  auto site = store->findSite(site_b).value();
  BOOST_REQUIRE(site.has_value());
  BOOST_TEST(site->tenant_id == tenant_b);
  BOOST_TEST(site->peer_key == peer_key);
  BOOST_TEST(store->findEnrollmentTokenByHash(hashOf("enroll-secret")).value()->uses == 1);
  BOOST_TEST(store->findAgent("ag_old").value()->site_id == site_b);
  BOOST_TEST(store->findMaintenanceWindow(window_id).value().has_value());
  BOOST_TEST(store->findWebhook(webhook_id).value()->secret == webhook_secret);
  BOOST_TEST(store->findAdminTokenByHash(hashOf("admin")).value()->id == admin_id);
  // Foreign keys hold as before: no site of an unknown tenant, no deleting a used tenant.
  BOOST_TEST(!store->createSite(tenant_b + 100, "orphan", 1000).ok());
  // From now on a deleted site's id is never given again.
  deleteNewestSiteThenCreate(*store, tenant_b, "branch");
  store.reset();
  store = openStore(dir);
  deleteNewestSiteThenCreate(*store, tenant_b, "annex");
}

// A database of schema 5 (created_by recorded since 4, no roles) holding token trees the store
// would no longer let in: children outliving or surviving their parents. Migration 6 makes every
// token an admin, revokes the descendants of revoked tokens and caps each expiry at its parent's.
BOOST_AUTO_TEST_CASE(migration_6_makes_existing_tokens_admins_within_their_parents,
                     *boost::unit_test::label("sqlite_file")) {
  TempDir tmp;
  const std::string dir = tmp.sub("data");
  BOOST_REQUIRE(SqlStore::openSqliteAtSchemaVersion(dir, 5).ok());
  {
    using Poco::Data::Keywords::now;
    Poco::Data::Session raw = rawSession(dir);
    // id, created_by, expires_at, revoked, revoked_at:
    //   1 root (CLI), never expires        4 child of 3, never expires
    //   2 child of 1, revoked at 500      5 child of 4, expires at 9000
    //   3 child of 1, expires at 7000     6 child of 2 (revoked parent)
    //                                     7 child of 6, revoked at 900 already
    for (const char* row :
         {"(1, NULL, NULL, 0, NULL)", "(2, 1, NULL, 1, 500)", "(3, 1, 7000, 0, NULL)",
          "(4, 3, NULL, 0, NULL)", "(5, 4, 9000, 0, NULL)", "(6, 2, NULL, 0, NULL)",
          "(7, 6, NULL, 1, 900)"}) {
      const std::string values = row;
      raw << "INSERT INTO admin_tokens (id, created_by, expires_at, revoked, revoked_at,"
             " token_hash, name, created_at) SELECT v.*, 'h' || v.column1, 't', 100 FROM (VALUES " +
                 values + ") v",
          now;
    }
  }
  auto store = openStore(dir);
  BOOST_TEST(store->schemaVersion().value() == SqlStore::latestSchemaVersion());
  auto tokens = store->listAdminTokens().value();
  BOOST_REQUIRE(tokens.size() == 7u);
  for (const auto& t : tokens) BOOST_TEST((t.role == AdminRole::kAdmin), t.id);
  auto expiry = [&](size_t i) { return tokens[i].expires_at_ms.value_or(-1); };
  BOOST_TEST(expiry(0) == -1);
  BOOST_TEST(expiry(2) == 7000);
  BOOST_TEST(expiry(3) == 7000);  // inherits its parent's
  BOOST_TEST(expiry(4) == 7000);  // capped
  BOOST_TEST(!tokens[0].revoked);
  BOOST_TEST(!tokens[2].revoked);
  BOOST_TEST(tokens[5].revoked);
  BOOST_TEST(tokens[5].revoked_at_ms.value_or(-1) == 500);  // its ancestor's time
  BOOST_TEST(tokens[6].revoked_at_ms.value_or(-1) == 900);  // revoked already: its own kept
  BOOST_TEST(*tokens[4].created_by == 4);
}

// A database of schema 8 (no outbox claims) with entries pending: migration 9 leaves them
// unclaimed, so the first dispatcher to look claims them, under their message ids.
BOOST_AUTO_TEST_CASE(migration_9_leaves_pending_outbox_entries_unclaimed) {
  TempDir tmp;
  const std::string dir = tmp.sub("data");
  int64_t webhook_id = 0;
  std::vector<std::string> message_ids;
  {
    auto opened = vigil::testing::openTestStoreAtSchemaVersion(dir, 8);
    BOOST_REQUIRE(opened.ok());
    auto& store = *opened.value();
    BOOST_REQUIRE(store.schemaVersion().value() == 8);
    auto tenant = store.createTenant("t", 1000).value();
    webhook_id = insertSchema4Webhook(dir, tenant.id, "whsec_" + std::string(43, 'A') + "=");
    // Outbox entries as schema 8 holds them.
    using Poco::Data::Keywords::bind;
    using Poco::Data::Keywords::now;
    using Poco::Data::Keywords::use;
    Poco::Data::Session raw = vigil::testing::rawTestSession(dir);
    Poco::Int64 hook = webhook_id;
    for (const std::string key : {"a", "b"}) {
      const std::string message_id = "msg_" + key;
      raw << "INSERT INTO webhook_outbox (webhook_id, message_id, event_type, ordering_key,"
             " payload, created_at, next_attempt_at) VALUES ($1, $2, 'webhook.test', $3, '{}',"
             " 1000, 1000)",
          use(hook), bind(message_id), bind(key), now;
      message_ids.push_back(message_id);
    }
  }
  auto store = openStore(dir);
  BOOST_TEST(store->schemaVersion().value() == SqlStore::latestSchemaVersion());
  auto claimed = store->claimDueDeliveries("first", 2000, 10, {}, 60'000, {});
  BOOST_REQUIRE(claimed.ok());
  BOOST_REQUIRE(claimed.value().size() == 2u);
  BOOST_TEST(claimed.value()[0].entry.message_id == message_ids[0]);
  BOOST_TEST(claimed.value()[1].entry.message_id == message_ids[1]);
  BOOST_TEST(store->claimDueDeliveries("second", 2000, 10, {}, 60'000, {}).value().empty());
  BOOST_TEST(
      store->markDeliveryDelivered(claimed.value()[0].entry.id, "first", {2000, 200, ""}).ok());
}

// The rest of the Store interface in one pass, so that each method runs on both databases:
// agent counts, classes, retirement and deletion; an alert's acknowledgement and resolution;
// maintenance windows; cadence rules.
BOOST_FIXTURE_TEST_CASE(the_remaining_store_operations_keep_their_contract, StoreFixture) {
  using vigil::collector::AgentClass;
  using vigil::collector::CadenceRule;
  using vigil::collector::MaintenanceFilter;
  using vigil::collector::MaintenanceWindowRecord;
  enroll("ag_1");
  enroll("ag_2");
  auto counts = store->countAgents(site.id);
  BOOST_REQUIRE(counts.ok());
  BOOST_TEST(counts->site == 2);
  BOOST_TEST(counts->tenant == 2);
  BOOST_TEST(store->setAgentClass("ag_2", AgentClass::kServer).value());
  BOOST_TEST(!store->setAgentClass("nobody", AgentClass::kServer).value());
  BOOST_TEST(
      store->listAgentIdsOfClass(AgentClass::kServer).value() == std::vector<std::string>{"ag_2"},
      boost::test_tools::per_element());

  BOOST_REQUIRE(store->appendPresenceEvents({}, {deviceAlert("ag_1", "opened", 3000)}, {}).ok());
  const int64_t alert_id = vigil::testing::openAlerts(*store).at(0).id;
  BOOST_TEST(store->acknowledgeAlert(alert_id, "ops", "looking", 4000).value());
  BOOST_TEST(store->acknowledgeAlert(alert_id, "late", "", 4500).value());  // the first stays
  BOOST_TEST(store->findAlert(alert_id).value()->acknowledged_by == "ops");
  BOOST_TEST(store->resolveAlert(alert_id, "ops", "fixed", 5000).value());
  BOOST_TEST((store->resolveAlert(alert_id, "ops", "", 5500).error().code() ==
              StatusCode::kFailedPrecondition));
  BOOST_TEST(store->findAlert(alert_id).value()->state == "resolved");
  BOOST_TEST(!store->findAlert(alert_id + 1000).value().has_value());

  MaintenanceWindowRecord w;
  w.tenant_id = site.tenant_id;
  w.scope = "site";
  w.site_id = site.id;
  w.starts_at_ms = 10'000;
  w.duration_s = 3600;
  w.recurrence = "once";
  w.created_at_ms = 6000;
  const int64_t window_id = store->createMaintenanceWindow(w).value().id;
  MaintenanceFilter filter;
  filter.scope = vigil::collector::TenantScope::everything();
  filter.site_id = site.id;
  BOOST_TEST(store->listMaintenanceWindows(filter, 0, 10).value().size() == 1u);
  BOOST_TEST(store->listAllMaintenanceWindows().value().size() == 1u);
  BOOST_TEST(store->findMaintenanceWindow(window_id).value()->duration_s == 3600);
  BOOST_TEST(store->deleteMaintenanceWindow(window_id).value());
  BOOST_TEST(!store->deleteMaintenanceWindow(window_id).value());

  CadenceRule rule;
  rule.agent_class = AgentClass::kServer;
  rule.heartbeat_interval_s = 30;
  rule.updated_at_ms = 7000;
  rule.updated_by = "ops";
  BOOST_REQUIRE(store->replaceCadenceRules(site.tenant_id, site.id, {rule}).ok());
  auto rules = store->listCadenceRules().value();
  BOOST_REQUIRE(rules.size() == 1u);
  BOOST_TEST(rules[0].site_id.value_or(0) == site.id);
  BOOST_TEST(rules[0].heartbeat_interval_s == 30);
  BOOST_TEST(store->replaceCadenceRules(site.tenant_id, site.id, {}).ok());
  BOOST_TEST(store->listCadenceRules().value().empty());

  BOOST_TEST(store->retireAgent("ag_1", 8000).value());
  BOOST_TEST(store->findAgent("ag_1").value()->retired_at_ms.value_or(0) == 8000);
  BOOST_TEST(store->deleteAgent("ag_1").value());
  BOOST_TEST(!store->findAgent("ag_1").value().has_value());
  BOOST_TEST(!store->deleteAgent("ag_1").value());
  BOOST_TEST(store->countAgents(site.id)->site == 1);
}
