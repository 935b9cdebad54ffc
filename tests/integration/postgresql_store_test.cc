#define BOOST_TEST_MODULE integration_postgresql_store
// Real collector processes on a real PostgreSQL server (tests/support/postgres_server.h) with
// TLS, reached with the shipped default store.postgresql.sslMode (verify-full) and the
// password in PGPASSWORD: a real agent's life on it, two collectors sharing one database, and
// the exit codes of settings that cannot work (docs/operations.md, "Exit codes").
#include <Poco/Data/PostgreSQL/Connector.h>
#include <Poco/Data/Session.h>

#include <boost/test/unit_test.hpp>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "tests/integration/fake_collector.h"
#include "tests/integration/harness.h"
#include "tests/support/postgres_collectors.h"
#include "tests/support/postgres_server.h"
#include "tests/support/temp_dir.h"

using namespace vigil::testing;
using namespace std::chrono_literals;

namespace {

// One PostgreSQL server with a TLS certificate for 127.0.0.1 from a throwaway CA, and the
// CA's file for the collectors' sslrootcert.
struct TlsPostgres {
  TlsPostgres() : server(options(ca)) {
    ca_file = tmp.write("postgres-ca.pem", ca.certPem()).string();
  }
  static PostgresServer::Options options(const TestCertificateAuthority& authority) {
    const TlsCredentials credentials = authority.issueLoopbackServer();
    return PostgresServer::Options{credentials.cert_pem, credentials.key_pem};
  }

  // Collector settings for database `dbname`: shipped defaults but for the store and the
  // quick presence of the integration tests.
  std::map<std::string, std::string> collectorSettings(const std::string& dbname) const {
    std::map<std::string, std::string> settings = fastPresenceSettings();
    for (const auto& [key, value] : extra_settings) settings[key] = value;
    for (const auto& [key, value] :
         postgresStoreSettings(server.conninfoWithoutPassword(dbname), ca_file)) {
      settings[key] = value;
    }
    return settings;
  }
  std::map<std::string, std::string> environment() const { return postgresEnvironment(server); }
  // A collector on database `dbname` with those settings, not started.
  std::unique_ptr<Collector> collector(const std::string& name, const std::string& dbname) {
    auto c = std::make_unique<Collector>(tmp.sub(name), collectorSettings(dbname));
    c->setEnvironment(environment());
    return c;
  }

  std::map<std::string, std::string> extra_settings;
  TempDir tmp;
  TestCertificateAuthority ca;
  PostgresServer server;
  std::string ca_file;
};

std::string statusOf(const Collector& c, const std::string& id) {
  auto a = c.agent(id);
  return a ? a->getValue<std::string>("status") : "";
}

// Shorter leases than the shipped 15 s / 5 s: a failover in these tests takes about 10 s
// instead of 20 s. (The cluster demo's test runs the shipped ones.)
void useQuickLeases(TlsPostgres& pg) {
  pg.extra_settings["cluster.leaseTermSeconds"] = "8";
  pg.extra_settings["cluster.leaseRenewSeconds"] = "2";
}

// Three collectors of one cluster (collector-a, -b, -c) on database `dbname`, ready; with the
// shipped lease settings when `quick_leases` is false.
std::vector<std::unique_ptr<Collector>> startCluster(TlsPostgres& pg, const std::string& dbname,
                                                     bool quick_leases = true) {
  std::vector<std::unique_ptr<Collector>> collectors;
  if (quick_leases) useQuickLeases(pg);
  for (const char* name : {"a", "b", "c"}) {
    pg.extra_settings["cluster.nodeName"] = std::string("collector-") + name;
    collectors.push_back(pg.collector(name, dbname));
  }
  pg.extra_settings.erase("cluster.nodeName");
  for (auto& c : collectors) c->launch();
  for (auto& c : collectors) c->waitReady();
  // The tests may use the generated tokens with any collector.
  std::vector<std::string> data_dirs;
  for (auto& c : collectors) data_dirs.push_back(c->dataDir());
  shareGeneratedTokens(data_dirs);
  return collectors;
}

HttpResponse adminRequest(int port, const std::string& token, const std::string& method,
                          const std::string& path, const std::string& body = "") {
  std::map<std::string, std::string> headers = {{"Authorization", "Bearer " + token}};
  if (!body.empty()) headers["Content-Type"] = "application/json";
  return httpRequest(port, method, path, headers, body);
}

}  // namespace

BOOST_AUTO_TEST_CASE(a_real_agent_lives_on_postgresql_across_a_collector_restart) {
  TlsPostgres pg;
  const std::string db = pg.server.createDatabase("vigil");
  auto started = pg.collector("collector", db);
  Collector& collector = *started;
  collector.start();
  BOOST_TEST(readFile(collector.logPath()).find("store: postgresql at postgresql://127.0.0.1") !=
             std::string::npos);

  Agent agent(pg.tmp.sub("agent"), collector.port(), collector.enrollToken());
  agent.start();
  std::string id;
  BOOST_REQUIRE_MESSAGE(eventually([&] { return !(id = agent.agentId()).empty(); }, 20s),
                        "agent did not enroll; collector log:\n"
                            << logTail(collector.logPath()));
  BOOST_REQUIRE(eventually([&] { return statusOf(collector, id) == "ONLINE"; }, 20s));

  // The agent, its facts and its history are in PostgreSQL: a restarted collector has them.
  BOOST_TEST(collector.stop() == 0);
  collector.start();
  auto record = collector.agent(id);
  BOOST_REQUIRE(record);
  BOOST_TEST(!record->getValue<std::string>("hostname").empty());
  BOOST_TEST(eventually([&] { return statusOf(collector, id) == "ONLINE"; }, 30s));

  // A real death: OFFLINE with an alert, written to PostgreSQL.
  agent.kill();
  BOOST_REQUIRE_MESSAGE(eventually([&] { return statusOf(collector, id) == "OFFLINE"; }, 60s),
                        "collector log:\n"
                            << logTail(collector.logPath()));
  // The status is the engine's at once; its alert reaches the database with the next presence
  // write, which the admin API reads.
  BOOST_TEST(eventually(
      [&] {
        HttpResponse alerts = collector.adminGet("/api/v1/alerts?state=open");
        return alerts.status == 200 && alerts.body.find(id) != std::string::npos;
      },
      15s));

  Poco::Data::PostgreSQL::Connector::registerConnector();
  Poco::Data::Session raw(Poco::Data::PostgreSQL::Connector::KEY, pg.server.conninfo(db));
  Poco::Int64 stored_alerts = 0;
  raw << "SELECT COUNT(*) FROM alerts WHERE agent_id = $1 AND state = 'open'",
      Poco::Data::Keywords::bind(id), Poco::Data::Keywords::into(stored_alerts),
      Poco::Data::Keywords::now;
  BOOST_TEST(stored_alerts == 1);
}

BOOST_AUTO_TEST_CASE(an_admin_write_through_one_collector_is_read_through_another) {
  TlsPostgres pg;
  const std::string db = pg.server.createDatabase("vigil");
  auto first_started = pg.collector("first", db);
  Collector& first = *first_started;
  first.start();
  // The second collector shares the database: the token the first generated is valid there.
  auto second_started = pg.collector("second", db);
  Collector& second = *second_started;
  second.start();
  const std::string token = first.adminToken();

  HttpResponse created =
      adminRequest(first.port(), token, "POST", "/api/v1/tenants", R"({"name":"acme"})");
  BOOST_REQUIRE_MESSAGE(created.status == 201, created.body);
  HttpResponse listed = adminRequest(second.port(), token, "GET", "/api/v1/tenants");
  BOOST_REQUIRE(listed.status == 200);
  BOOST_TEST(listed.body.find("\"acme\"") != std::string::npos);

  // And a rename through the second is what the first answers next.
  const int64_t id = created.json()->getValue<int64_t>("id");
  HttpResponse renamed =
      adminRequest(second.port(), token, "PATCH", "/api/v1/tenants/" + std::to_string(id),
                   R"({"name":"acme2"})");
  BOOST_REQUIRE_MESSAGE(renamed.status == 200, renamed.body);
  HttpResponse again =
      adminRequest(first.port(), token, "GET", "/api/v1/tenants/" + std::to_string(id));
  BOOST_TEST(again.body.find("\"acme2\"") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(collectors_starting_at_once_on_an_empty_database_all_come_up) {
  TlsPostgres pg;
  const std::string db = pg.server.createDatabase("vigil");
  std::vector<std::unique_ptr<Collector>> collectors;
  for (const char* name : {"a", "b", "c"}) collectors.push_back(pg.collector(name, db));
  // Each migrates, then provisions the default tenant and site, racing the others.
  for (auto& c : collectors) c->launch();
  for (auto& c : collectors) c->waitReady();
  Poco::Data::PostgreSQL::Connector::registerConnector();
  Poco::Data::Session raw(Poco::Data::PostgreSQL::Connector::KEY, pg.server.conninfo(db));
  Poco::Int64 tenants = 0, sites = 0;
  raw << "SELECT COUNT(*) FROM tenants", Poco::Data::Keywords::into(tenants),
      Poco::Data::Keywords::now;
  raw << "SELECT COUNT(*) FROM sites", Poco::Data::Keywords::into(sites), Poco::Data::Keywords::now;
  BOOST_TEST(tenants == 1);
  BOOST_TEST(sites == 1);
}

BOOST_AUTO_TEST_CASE(postgresql_settings_that_cannot_work_stop_the_start_with_their_exit_code) {
  TlsPostgres pg;
  const std::string db = pg.server.createDatabase("vigil");
  auto startOnce = [&](const std::string& name, std::map<std::string, std::string> settings,
                       std::map<std::string, std::string> environment) {
    Collector collector(pg.tmp.sub(name), std::move(settings));
    collector.setEnvironment(std::move(environment));
    collector.launch();
    const int code = collector.waitExit(30s);
    BOOST_TEST_MESSAGE(name << ": exit " << code << "\n" << logTail(collector.logPath()));
    return code;
  };

  // Nothing listens there: a temporary failure (75), for systemd to try again.
  auto unreachable = pg.collectorSettings(db);
  unreachable["store.postgresql.conninfo"] =
      "host=127.0.0.1 port=1 dbname=" + db + " user=vigil sslrootcert=" + pg.ca_file;
  unreachable["store.postgresql.connectTimeoutSeconds"] = "2";
  BOOST_TEST(startOnce("unreachable", unreachable, pg.environment()) == 75);

  // A wrong password: 77.
  BOOST_TEST(startOnce("password", pg.collectorSettings(db), {{"PGPASSWORD", "wrong"}}) == 77);

  // A remote server without certificate verification: refused before connecting (78).
  auto unverified = pg.collectorSettings(db);
  unverified["store.postgresql.conninfo"] = "host=db.example.org dbname=vigil user=vigil";
  unverified["store.postgresql.sslMode"] = "require";
  BOOST_TEST(startOnce("unverified", unverified, pg.environment()) == 78);

  // A schema a newer collector made: 65, nothing changed.
  {
    auto ok = pg.collector("ok", db);
    ok->start();
    BOOST_TEST(ok->stop() == 0);
  }
  Poco::Data::PostgreSQL::Connector::registerConnector();
  Poco::Data::Session raw(Poco::Data::PostgreSQL::Connector::KEY, pg.server.conninfo(db));
  raw << "INSERT INTO schema_version (version, applied_at) SELECT MAX(version) + 1, 0"
         " FROM schema_version",
      Poco::Data::Keywords::now;
  BOOST_TEST(startOnce("newer", pg.collectorSettings(db), pg.environment()) == 65);
}

BOOST_AUTO_TEST_CASE(a_second_collector_with_a_live_collectors_node_name_stops_with_exit_78) {
  TlsPostgres pg;
  const std::string db = pg.server.createDatabase("vigil");
  useQuickLeases(pg);
  pg.extra_settings["cluster.nodeName"] = "collector-1";
  auto first = pg.collector("first", db);
  first->start();
  // The second waits out what could be a crashed predecessor's announcement (one lease term
  // and one renewal), sees it renewed, and stops.
  auto second = pg.collector("second", db);
  second->launch();
  const int code = second->waitExit(60s);
  BOOST_TEST_MESSAGE(logTail(second->logPath()));
  BOOST_TEST(code == 78);
  BOOST_TEST(logTail(second->logPath()).find("is taken by a live collector") != std::string::npos);
  BOOST_TEST(first->stop() == 0);
}

BOOST_AUTO_TEST_CASE(a_cluster_splits_the_shards_and_a_stopping_collector_hands_its_own_over) {
  TlsPostgres pg;
  const std::string db = pg.server.createDatabase("vigil");
  // The shipped leases: a handover must come well before a 15 s term could run out.
  std::vector<std::unique_ptr<Collector>> collectors = startCluster(pg, db, false);
  auto held = [&](size_t i) { return metric(*collectors[i], "vigil_cluster_shards_held"); };
  auto total = [&](size_t n) {
    double sum = 0;
    for (size_t i = 0; i < n; ++i) sum += held(i);
    return sum;
  };
  // Every shard has one owner, and each collector about a third (rendezvous hashing).
  BOOST_TEST(eventually(
      [&] { return total(3) == 256 && held(0) > 40 && held(1) > 40 && held(2) > 40; }, 60s));
  BOOST_TEST(metric(*collectors[0], "vigil_cluster_live_collectors") == 3);
  // A graceful stop releases its leases at once: the others take them at their next round,
  // without waiting for a term to run out.
  BOOST_TEST(collectors[2]->stop() == 0);
  BOOST_TEST(eventually([&] { return total(2) == 256; }, 12s));
  BOOST_TEST(metric(*collectors[0], "vigil_cluster_live_collectors") == 2);
}

BOOST_AUTO_TEST_CASE(
    evidence_through_any_collector_reaches_the_owner_and_a_dead_owner_pages_nobody) {
  TlsPostgres pg;
  const std::string db = pg.server.createDatabase("vigil");
  std::vector<std::unique_ptr<Collector>> collectors = startCluster(pg, db);
  auto held = [&](size_t i) { return metric(*collectors[i], "vigil_cluster_shards_held"); };
  BOOST_REQUIRE(eventually([&] { return held(0) + held(1) + held(2) == 256; }, 60s));

  // Every agent is in the default site, so in one shard: its owner hears its own agents and
  // the others relay theirs to it.
  Poco::Data::PostgreSQL::Connector::registerConnector();
  Poco::Data::Session raw(Poco::Data::PostgreSQL::Connector::KEY, pg.server.conninfo(db));
  auto ownerOfSite = [&] {
    std::string owner;
    raw << "SELECT COALESCE(owner, '') FROM shard_leases"
           " WHERE shard = (SELECT MIN(id) FROM sites) % 256",
        Poco::Data::Keywords::into(owner), Poco::Data::Keywords::now;
    return owner;
  };
  const std::string first_owner = ownerOfSite();
  BOOST_REQUIRE(!first_owner.empty());
  const size_t owner = static_cast<size_t>(first_owner.back() - 'a');
  std::vector<size_t> others;
  for (size_t i = 0; i < 3; ++i) {
    if (i != owner) others.push_back(i);
  }

  // Two agents through each collector that does not own the shard.
  const std::string token = collectors[0]->enrollToken();
  BOOST_REQUIRE(!token.empty());
  std::vector<std::unique_ptr<Agent>> agents;
  for (size_t i = 0; i < 4; ++i) {
    Collector& via = *collectors[others[i % 2]];
    agents.push_back(
        std::make_unique<Agent>(pg.tmp.sub("agent" + std::to_string(i)), via.port(), token));
    agents.back()->start();
  }
  std::vector<std::string> ids;
  for (auto& agent : agents) {
    std::string id;
    BOOST_REQUIRE_MESSAGE(eventually([&] { return !(id = agent->agentId()).empty(); }, 30s),
                          "agent did not enroll; its log:\n"
                              << logTail(agent->logPath()));
    ids.push_back(id);
  }
  // The owner judges them ONLINE from relayed evidence alone; every collector says so.
  for (const std::string& id : ids) {
    BOOST_TEST(eventually([&] { return statusOf(*collectors[owner], id) == "ONLINE"; }, 30s), id);
    BOOST_TEST(eventually([&] { return statusOf(*collectors[others[0]], id) == "ONLINE"; }, 10s),
               id);
  }
  BOOST_TEST(metric(*collectors[owner], "vigil_cluster_relay_items_total{outcome=\"received\"}") >
             0);
  // A non-owner lists them with the owner's verdicts, its status filter included, and counts
  // them in the site's summary.
  Collector& non_owner = *collectors[others[0]];
  HttpResponse online = non_owner.adminGet("/api/v1/agents?status=ONLINE&limit=50");
  BOOST_REQUIRE(online.status == 200);
  for (const std::string& id : ids) {
    BOOST_TEST(online.body.find(id) != std::string::npos, id);
  }
  BOOST_TEST(non_owner.adminGet("/api/v1/agents?status=OFFLINE").body.find(ids[0]) ==
             std::string::npos);
  auto onlineInSummary = [&](const std::string& path) {
    HttpResponse answer = non_owner.adminGet(path);
    auto summary = answer.json() ? answer.json()->getObject("summary") : nullptr;
    BOOST_REQUIRE_MESSAGE(answer.status == 200 && summary && summary->getObject("by_status"),
                          path << ": " << answer.body);
    return summary->getObject("by_status")->getValue<int>("ONLINE");
  };
  Poco::Int64 site_id = 0;
  Poco::Int64 tenant_id = 0;
  raw << "SELECT id, tenant_id FROM sites ORDER BY id LIMIT 1", Poco::Data::Keywords::into(site_id),
      Poco::Data::Keywords::into(tenant_id), Poco::Data::Keywords::now;
  BOOST_TEST(onlineInSummary("/api/v1/tenants/" + std::to_string(tenant_id)) == 4);
  BOOST_TEST(onlineInSummary("/api/v1/sites/" + std::to_string(site_id)) == 4);

  // The owner dies. Its leases run out, a survivor takes the shard and warms it up: nobody is
  // alerted, and every agent is ONLINE at the new owner.
  collectors[owner]->kill();
  std::string next_owner;
  BOOST_REQUIRE_MESSAGE(eventually(
                            [&] {
                              next_owner = ownerOfSite();
                              return !next_owner.empty() && next_owner != first_owner;
                            },
                            60s),
                        "no survivor took the shard");
  const size_t survivor = static_cast<size_t>(next_owner.back() - 'a');
  for (const std::string& id : ids) {
    BOOST_TEST(eventually(
                   [&] {
                     auto view = collectors[survivor]->agent(id);
                     return view && view->getValue<std::string>("status") == "ONLINE" &&
                            view->getValue<std::string>("status_reason") != "";
                   },
                   30s),
               id);
  }
  // A few more intervals for any late verdict to show.
  std::this_thread::sleep_for(5s);
  Poco::Int64 alerts = -1;
  raw << "SELECT COUNT(*) FROM alerts WHERE kind = 'device_offline'",
      Poco::Data::Keywords::into(alerts), Poco::Data::Keywords::now;
  BOOST_TEST(alerts == 0);
  for (const std::string& id : ids) BOOST_TEST(statusOf(*collectors[survivor], id) == "ONLINE", id);

  // A real death after the failover is still alerted, once.
  agents[0]->kill();
  BOOST_TEST(eventually([&] { return statusOf(*collectors[survivor], ids[0]) == "OFFLINE"; }, 60s));
  BOOST_TEST(eventually(
      [&] {
        Poco::Int64 open = 0;
        raw << "SELECT COUNT(*) FROM alerts WHERE kind = 'device_offline' AND state = 'open'",
            Poco::Data::Keywords::into(open), Poco::Data::Keywords::now;
        return open == 1;
      },
      15s));
}

BOOST_AUTO_TEST_CASE(losing_postgresql_holds_verdicts_keeps_heartbeats_and_catches_up_after) {
  TlsPostgres pg;
  const std::string db = pg.server.createDatabase("vigil");
  // A degradation's end is kept for a recovery period (by default a warm-up's length, minutes
  // with the default longest interval): a short one keeps this test short.
  pg.extra_settings["presence.recoveryPeriodSeconds"] = "5";
  auto started = pg.collector("collector", db);
  Collector& collector = *started;
  collector.start();
  Agent alive(pg.tmp.sub("alive"), collector.port(), collector.enrollToken());
  Agent dying(pg.tmp.sub("dying"), collector.port(), collector.enrollToken());
  alive.start();
  dying.start();
  std::string alive_id, dying_id;
  BOOST_REQUIRE(eventually(
      [&] {
        alive_id = alive.agentId();
        dying_id = dying.agentId();
        return !alive_id.empty() && !dying_id.empty() &&
               statusOf(collector, alive_id) == "ONLINE" &&
               statusOf(collector, dying_id) == "ONLINE";
      },
      30s));
  // Wait out the start's warm-up: from here on, only the outage may hold verdicts.
  BOOST_REQUIRE(eventually(
      [&] {
        return collector.adminGet("/api/v1/health").json()->getValue<std::string>("status") ==
               "healthy";
      },
      60s));

  // The reasons the collector is degraded for now (not those of its health history).
  auto reasons = [&] {
    std::string names;
    HttpResponse r = collector.adminGet("/api/v1/health");
    if (r.status != 200) return names;
    Poco::JSON::Array::Ptr active = r.json()->getArray("reasons");
    for (size_t i = 0; active && i < active->size(); ++i) {
      names += active->getObject(i)->getValue<std::string>("reason") + " ";
    }
    return names;
  };
  const std::string ingest_ok = "vigil_http_requests_total{class=\"ingest\",code=\"200\"}";
  const std::string ingest_unavailable = "vigil_http_requests_total{class=\"ingest\",code=\"503\"}";
  pg.server.stop();
  BOOST_REQUIRE_MESSAGE(
      eventually([&] { return reasons().find("store_unavailable") != std::string::npos; }, 20s),
      "no store_unavailable; collector log:\n"
          << logTail(collector.logPath()));
  BOOST_TEST(collector.adminGet("/api/v1/health").body.find("\"history_unavailable\":true") !=
             std::string::npos);
  // A real death while the database is away: no verdict while the collector cannot write.
  dying.kill();
  const double accepted_before = metric(collector, ingest_ok);
  std::this_thread::sleep_for(8s);  // several confirmation windows of the 1 s heartbeats
  BOOST_TEST(metric(collector, ingest_ok) > accepted_before + 5);  // heartbeats keep coming
  BOOST_TEST(metric(collector, ingest_unavailable) <= 0);
  HttpResponse during = collector.adminGet("/api/v1/health");
  BOOST_TEST(during.json()->getValue<std::string>("status") == "degraded");

  // The database is back: the collector catches up, then alerts the real death only.
  pg.server.start();
  BOOST_REQUIRE_MESSAGE(
      eventually([&] { return reasons().find("store_unavailable") == std::string::npos; }, 30s),
      "store_unavailable stays; collector log:\n"
          << logTail(collector.logPath()));
  BOOST_REQUIRE_MESSAGE(eventually(
                            [&] {
                              HttpResponse open = collector.adminGet("/api/v1/alerts?state=open");
                              return open.status == 200 &&
                                     open.body.find(dying_id) != std::string::npos;
                            },
                            90s),
                        "the dead agent was never alerted; collector log:\n"
                            << logTail(collector.logPath()));
  HttpResponse all = collector.adminGet("/api/v1/alerts");
  BOOST_TEST(all.body.find(alive_id) == std::string::npos);
  BOOST_TEST(statusOf(collector, alive_id) == "ONLINE");
}
