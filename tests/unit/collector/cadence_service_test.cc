// The heartbeat cadence service of the admin API, without HTTP: a real SQLite store, presence
// monitor and CadenceBook, two tenants, requests from tokens of different scopes. Also the
// store's side: agent classes at enrollment and by migration 7, rules leaving with their site.

#define BOOST_TEST_MODULE collector_cadence_service
#include "collector/admin/cadence_service.h"

#include <Poco/Data/Session.h>

#include <boost/test/unit_test.hpp>
#include <memory>
#include <string>
#include <vector>

#include "collector/admin/agent_query.h"
#include "collector/ingest/agent_directory.h"
#include "collector/monitor/presence_monitor.h"
#include "collector/store/sql_store.h"
#include "common/clock.h"
#include "common/crypto.h"
#include "common/json.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_store.h"

namespace {

using vigil::collector::AdminAnswer;
using vigil::collector::AdminRequest;
using vigil::collector::AdminRouteTable;
using vigil::collector::AgentClass;
using vigil::collector::AgentRecord;
using vigil::collector::ApiResult;
using vigil::collector::CadenceSource;
using vigil::collector::SqlStore;
using vigil::collector::TenantScope;
namespace presence = vigil::collector::presence;

constexpr int64_t kNowMs = 1'795'420'800'000;  // 2026-11-23T08:00:00Z

// Enrolls an agent with these facts through a new enrollment token of `site`.
std::string enroll(SqlStore& store, int64_t site, const std::string& hostname,
                   const std::string& os_name = "linux", const std::string& os_version = "") {
  vigil::collector::EnrollmentToken token;
  token.site_id = site;
  token.token_hash =
      vigil::crypto::toHex(vigil::crypto::sha256(hostname + std::to_string(site)).value());
  token.created_at_ms = kNowMs;
  auto stored = store.createEnrollmentToken(token);
  BOOST_REQUIRE(stored.ok());
  AgentRecord agent;
  agent.id = "ag_" + std::to_string(site) + "_" + hostname;
  agent.hostname = hostname;
  agent.os_name = os_name;
  agent.os_version = os_version;
  agent.agent_version = "1.0.0";
  agent.secret = "s";
  agent.enrolled_at_ms = kNowMs;
  BOOST_REQUIRE(store.enrollAgent(stored->id, agent, kNowMs).ok());
  return agent.id;
}

struct Fixture {
  vigil::testing::TempDir tmp;
  vigil::SimulatedClock clock;
  std::unique_ptr<SqlStore> store =
      std::move(vigil::testing::openTestStore(tmp.sub("data")).value());
  vigil::collector::AgentDirectory directory;
  vigil::collector::PresenceMonitor presence{presence::PresenceConfig{}, clock};
  vigil::collector::AgentQueryService agents{*store, *store, directory, presence};
  vigil::collector::CadenceBook book{vigil::collector::CadenceDefaults{60, 15}};
  std::vector<std::string> log;
  vigil::collector::CadenceService cadence{
      *store,
      *store,
      *store,
      book,
      presence,
      [this](const AdminRequest& r) { return agents.getAgent(r); },
      [this](const std::string& line) { log.push_back(line); }};
  AdminRouteTable routes;
  int64_t tenant_a = 0, tenant_b = 0, site_a = 0, site_b = 0;
  std::string workstation_a, server_a, agent_b;

  Fixture() {
    tenant_a = store->createTenant("Acme", kNowMs)->id;
    tenant_b = store->createTenant("Globex", kNowMs)->id;
    site_a = store->createSite(tenant_a, "HQ", kNowMs)->id;
    site_b = store->createSite(tenant_b, "HQ", kNowMs)->id;
    workstation_a = enroll(*store, site_a, "pc-01", "windows", "Windows 11 Pro 10.0.22631");
    server_a = enroll(*store, site_a, "dc-01", "windows", "Windows Server 2022 Standard");
    agent_b = enroll(*store, site_b, "web-01");
    BOOST_REQUIRE(directory.load(*store).ok());
    BOOST_REQUIRE(presence.load(*store, *store).ok());
    BOOST_REQUIRE(cadence.load().ok());
    agents.registerRoutes(routes);
    cadence.registerRoutes(routes);
  }

  TenantScope onlyA() const { return TenantScope{false, {tenant_a}}; }

  ApiResult<AdminAnswer> call(const TenantScope& scope, const std::string& method,
                              const std::string& path, const std::string& body = "") {
    std::string allow;
    auto match = routes.match(method, path, &allow);
    BOOST_REQUIRE_MESSAGE(match, method + " " + path + " is not routed");
    AdminRequest r;
    r.principal.token_id = 5;
    r.principal.token_name = scope.all ? "ops" : "tech";
    r.principal.scope = scope;
    r.method = method;
    r.route = match->route;
    r.path_params = match->path_params;
    r.body = body;
    r.now_ms = kNowMs;
    return (*match->handler)(r);
  }
  std::string tenantPath(int64_t tenant) const {
    return "/api/v1/tenants/" + std::to_string(tenant) + "/cadence";
  }
  std::string sitePath(int64_t site) const {
    return "/api/v1/sites/" + std::to_string(site) + "/cadence";
  }
};

// The integer at a path of members ("effective", "server", "heartbeat_interval_s"); -1 for
// null.
int64_t numberAt(const AdminAnswer& answer, std::initializer_list<const char*> path) {
  auto root = vigil::json::parse(answer.body);
  const cJSON* item = root.get();
  for (const char* name : path) item = cJSON_GetObjectItemCaseSensitive(item, name);
  BOOST_REQUIRE(item != nullptr);
  return cJSON_IsNull(item) ? -1 : static_cast<int64_t>(item->valuedouble);
}

std::string stringAt(const AdminAnswer& answer, std::initializer_list<const char*> path) {
  auto root = vigil::json::parse(answer.body);
  const cJSON* item = root.get();
  for (const char* name : path) item = cJSON_GetObjectItemCaseSensitive(item, name);
  BOOST_REQUIRE(cJSON_IsString(item));
  return item->valuestring;
}

}  // namespace

BOOST_FIXTURE_TEST_SUITE(cadence, Fixture)

BOOST_AUTO_TEST_CASE(without_rules_the_defaults_apply) {
  auto got = call(TenantScope::everything(), "GET", tenantPath(tenant_a));
  BOOST_REQUIRE(got.ok());
  BOOST_TEST(numberAt(got.value(), {"heartbeat_interval_s"}) == -1);
  BOOST_TEST(numberAt(got.value(), {"classes", "server"}) == -1);
  BOOST_TEST(numberAt(got.value(), {"effective", "server", "heartbeat_interval_s"}) == 60);
  BOOST_TEST(stringAt(got.value(), {"effective", "server", "source"}) == "default");
  BOOST_TEST(numberAt(got.value(), {"updated_at"}) == -1);
}

BOOST_AUTO_TEST_CASE(tenant_and_site_rules_are_stored_shown_and_resolved_at_once) {
  auto put = call(TenantScope::everything(), "PUT", tenantPath(tenant_a),
                  R"({"heartbeat_interval_s": 300, "beacon_interval_s": 30,
                      "classes": {"server": {"heartbeat_interval_s": 120}, "workstation": null}})");
  BOOST_REQUIRE_MESSAGE(put.ok(), (put.ok() ? std::string() : put.error().message));
  BOOST_TEST(numberAt(put.value(), {"heartbeat_interval_s"}) == 300);
  BOOST_TEST(numberAt(put.value(), {"classes", "server", "heartbeat_interval_s"}) == 120);
  BOOST_TEST(numberAt(put.value(), {"classes", "server", "beacon_interval_s"}) == -1);
  BOOST_TEST(numberAt(put.value(), {"classes", "workstation"}) == -1);
  BOOST_TEST(stringAt(put.value(), {"updated_by"}) == "ops");

  auto site = call(TenantScope::everything(), "PUT", sitePath(site_a),
                   R"({"classes": {"server": {"heartbeat_interval_s": 90,
                                              "beacon_interval_s": 10}}})");
  BOOST_REQUIRE_MESSAGE(site.ok(), (site.ok() ? std::string() : site.error().message));
  BOOST_TEST(numberAt(site.value(), {"site_id"}) == site_a);
  BOOST_TEST(numberAt(site.value(), {"heartbeat_interval_s"}) == -1);
  BOOST_TEST(numberAt(site.value(), {"effective", "server", "heartbeat_interval_s"}) == 90);
  BOOST_TEST(stringAt(site.value(), {"effective", "server", "source"}) == "site_class");
  BOOST_TEST(numberAt(site.value(), {"effective", "workstation", "heartbeat_interval_s"}) == 300);
  BOOST_TEST(stringAt(site.value(), {"effective", "workstation", "source"}) == "tenant");

  // The book, which ingest reads, has them already.
  auto server = book.resolve(tenant_a, site_a, book.agentClass(server_a));
  BOOST_TEST(server.heartbeat_s == 90);
  BOOST_TEST(server.beacon_s == 10);
  BOOST_TEST((server.source == CadenceSource::kSiteClass));
  auto other_server = book.resolve(tenant_a, 0, AgentClass::kServer);
  BOOST_TEST(other_server.heartbeat_s == 120);
  BOOST_TEST(other_server.beacon_s == 15);  // the default, below 120
  BOOST_TEST(book.maxHeartbeatIntervalS() == 300);
  BOOST_TEST(book.resolve(tenant_b, site_b, AgentClass::kServer).heartbeat_s == 60);

  // A GET reads the same back; who changed it is logged.
  auto got = call(onlyA(), "GET", tenantPath(tenant_a));
  BOOST_REQUIRE(got.ok());
  BOOST_TEST(numberAt(got.value(), {"beacon_interval_s"}) == 30);
  BOOST_REQUIRE(log.size() == 2U);
  BOOST_TEST(log[0].find("cadence of tenant " + std::to_string(tenant_a) +
                         " set by admin token "
                         "'ops' (id 5)") == 0);
  BOOST_TEST(log[0].find("server: heartbeat 120 s, beacon default") != std::string::npos);

  // A PUT replaces the scope's whole set; DELETE clears it.
  BOOST_REQUIRE(call(TenantScope::everything(), "PUT", tenantPath(tenant_a),
                     R"({"heartbeat_interval_s": 600})")
                    .ok());
  BOOST_TEST(book.resolve(tenant_a, 0, AgentClass::kServer).heartbeat_s == 600);
  auto removed = call(TenantScope::everything(), "DELETE", tenantPath(tenant_a));
  BOOST_REQUIRE(removed.ok());
  BOOST_TEST(removed.value().http_status == 204);
  BOOST_TEST(book.resolve(tenant_a, 0, AgentClass::kServer).heartbeat_s == 60);
  BOOST_TEST(book.resolve(tenant_a, site_a, AgentClass::kServer).heartbeat_s == 90);
  BOOST_TEST(log.back().find("removed by") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(another_tenants_cadence_is_answered_as_unknown) {
  for (const char* method : {"GET", "PUT", "DELETE"}) {
    auto tenant = call(onlyA(), method, tenantPath(tenant_b), R"({"heartbeat_interval_s": 300})");
    BOOST_REQUIRE(!tenant.ok());
    BOOST_TEST(tenant.error().http_status == 404);
    BOOST_TEST(tenant.error().message == "no such tenant");
    auto site = call(onlyA(), method, sitePath(site_b), R"({"heartbeat_interval_s": 300})");
    BOOST_REQUIRE(!site.ok());
    BOOST_TEST(site.error().http_status == 404);
    BOOST_TEST(site.error().message == "no such site");
  }
  auto agent = call(onlyA(), "PATCH", "/api/v1/agents/" + agent_b, R"({"class": "server"})");
  BOOST_REQUIRE(!agent.ok());
  BOOST_TEST(agent.error().http_status == 404);
  // Nothing changed for tenant B.
  BOOST_TEST(store->listCadenceRules().value().empty());
  BOOST_TEST((store->findAgent(agent_b).value()->agent_class == AgentClass::kWorkstation));
  BOOST_TEST(log.empty());
}

BOOST_AUTO_TEST_CASE(intervals_out_of_bounds_are_refused_with_the_field_named) {
  struct Case {
    const char* body;
    const char* message_start;
  };
  const Case cases[] = {
      {R"({"heartbeat_interval_s": 14})", "heartbeat_interval_s: must be an integer from 15"},
      {R"({"heartbeat_interval_s": 3601})", "heartbeat_interval_s: must be an integer from 15"},
      {R"({"heartbeat_interval_s": 60, "beacon_interval_s": 4})", "beacon_interval_s: must be"},
      {R"({"heartbeat_interval_s": 60, "beacon_interval_s": 60})",
       "beacon_interval_s: must be shorter than heartbeat_interval_s"},
      {R"({"beacon_interval_s": 30})", "beacon_interval_s: needs heartbeat_interval_s"},
      {R"({"heartbeat_interval_s": 60.5})", "heartbeat_interval_s: must be an integer"},
      {R"({"heartbeat": 60})", "heartbeat: is not a field"},
      {R"({"classes": {"laptop": {"heartbeat_interval_s": 60}}})", "classes.laptop: is not an"},
      {R"({"classes": {"server": {"heartbeat_interval_s": 10}}})",
       "classes.server.heartbeat_interval_s: must be an integer from 15"},
      {R"({"classes": {"server": {"beacon_interval_s": 10}}})",
       "classes.server.beacon_interval_s: needs"},
      {R"({"classes": {"server": {}}})", "classes.server.heartbeat_interval_s: is required"},
      {R"({"classes": {"server": 60}})", "classes.server: must be null or an object"},
      {R"({"classes": [1]})", "classes: must be an object"},
  };
  for (const Case& c : cases) {
    auto put = call(TenantScope::everything(), "PUT", tenantPath(tenant_a), c.body);
    BOOST_REQUIRE_MESSAGE(!put.ok(), c.body);
    BOOST_TEST(put.error().http_status == 400, c.body);
    BOOST_TEST(put.error().message.rfind(c.message_start, 0) == 0,
               c.body << " -> " << put.error().message);
  }
  auto malformed = call(TenantScope::everything(), "PUT", sitePath(site_a), "{");
  BOOST_REQUIRE(!malformed.ok());
  BOOST_TEST(malformed.error().code == "malformed_json");
  BOOST_TEST(store->listCadenceRules().value().empty());
}

BOOST_AUTO_TEST_CASE(agent_class_is_derived_at_enrollment_and_set_by_patch) {
  BOOST_TEST((store->findAgent(server_a).value()->agent_class == AgentClass::kServer));
  BOOST_TEST((store->findAgent(workstation_a).value()->agent_class == AgentClass::kWorkstation));
  BOOST_TEST((book.agentClass(server_a) == AgentClass::kServer));
  BOOST_TEST((book.agentClass(workstation_a) == AgentClass::kWorkstation));
  BOOST_TEST((presence.agentView(server_a)->agent_class == presence::AgentClass::kServer));

  auto patched =
      call(onlyA(), "PATCH", "/api/v1/agents/" + workstation_a, R"({"class": "server"})");
  BOOST_REQUIRE_MESSAGE(patched.ok(), (patched.ok() ? std::string() : patched.error().message));
  BOOST_TEST(stringAt(patched.value(), {"class"}) == "server");
  BOOST_TEST(stringAt(patched.value(), {"id"}) == workstation_a);
  BOOST_TEST((store->findAgent(workstation_a).value()->agent_class == AgentClass::kServer));
  BOOST_TEST((book.agentClass(workstation_a) == AgentClass::kServer));
  BOOST_TEST((presence.agentView(workstation_a)->agent_class == presence::AgentClass::kServer));
  BOOST_REQUIRE(log.size() == 1U);
  BOOST_TEST(log[0] ==
             "class of agent " + workstation_a + " set to server by admin token 'tech' (id 5)");

  auto bad = call(onlyA(), "PATCH", "/api/v1/agents/" + workstation_a, R"({"class": "laptop"})");
  BOOST_REQUIRE(!bad.ok());
  BOOST_TEST(bad.error().http_status == 400);
  BOOST_TEST(bad.error().message.rfind("class:", 0) == 0);
  auto unknown = call(onlyA(), "PATCH", "/api/v1/agents/ag_nobody", R"({"class": "server"})");
  BOOST_REQUIRE(!unknown.ok());
  BOOST_TEST(unknown.error().http_status == 404);

  // A restarted collector loads the classes into the book and the engine.
  vigil::collector::CadenceBook fresh{vigil::collector::CadenceDefaults{}};
  vigil::collector::CadenceService reloaded{*store,   *store,  *store, fresh,
                                            presence, nullptr, nullptr};
  BOOST_REQUIRE(reloaded.load().ok());
  BOOST_TEST((fresh.agentClass(workstation_a) == AgentClass::kServer));
  BOOST_TEST((fresh.agentClass(agent_b) == AgentClass::kWorkstation));
}

BOOST_AUTO_TEST_CASE(a_deleted_site_or_tenant_takes_its_rules_along) {
  const int64_t spare = store->createSite(tenant_b, "Spare", kNowMs)->id;
  BOOST_REQUIRE(
      call(TenantScope::everything(), "PUT", sitePath(spare), R"({"heartbeat_interval_s": 900})")
          .ok());
  const int64_t empty_tenant = store->createTenant("Initech", kNowMs)->id;
  BOOST_REQUIRE(call(TenantScope::everything(), "PUT", tenantPath(empty_tenant),
                     R"({"heartbeat_interval_s": 1200})")
                    .ok());
  BOOST_TEST(store->listCadenceRules().value().size() == 2U);
  BOOST_TEST(book.maxHeartbeatIntervalS() == 1200);
  BOOST_REQUIRE(store->deleteSite(spare).value());
  BOOST_REQUIRE(store->deleteTenant(empty_tenant).value());
  BOOST_TEST(store->listCadenceRules().value().empty());
  BOOST_REQUIRE(cadence.reload().ok());  // what the collector does on a deletion
  BOOST_TEST(book.maxHeartbeatIntervalS() == 60);
  // The store refuses rules for a site of another tenant.
  BOOST_TEST(
      (store->replaceCadenceRules(tenant_a, site_b, {}).code() == vigil::StatusCode::kNotFound));
}

BOOST_AUTO_TEST_SUITE_END()

// Agents enrolled before schema 7 get their class as enrollment would give it.
BOOST_AUTO_TEST_CASE(migration_7_derives_the_class_of_enrolled_agents) {
  vigil::testing::TempDir tmp;
  const std::string dir = tmp.sub("data");
  {
    auto opened = vigil::testing::openTestStoreAtSchemaVersion(dir, 6);
    BOOST_REQUIRE(opened.ok());
    SqlStore& old = *opened.value();
    const int64_t tenant = old.createTenant("a", kNowMs)->id;
    const int64_t site = old.createSite(tenant, "hq", kNowMs)->id;
    using Poco::Data::Keywords::now;
    Poco::Data::Session raw = vigil::testing::rawTestSession(dir);
    const std::string s = std::to_string(site);
    raw << "INSERT INTO agents (id, site_id, hostname, os_name, os_version, agent_version, secret,"
           " enrolled_at) VALUES"
           " ('ag_dc', " +
               s +
               ", 'dc', 'windows', 'Windows Server 2019 Standard', '1', 's', 1),"
               " ('ag_pc', " +
               s +
               ", 'pc', 'windows', 'Windows 10 Pro', '1', 's', 1),"
               " ('ag_lx', " +
               s + ", 'lx', 'linux', 'Debian Server', '1', 's', 1)",
        now;
  }
  auto store = std::move(vigil::testing::openTestStore(dir).value());
  BOOST_TEST(store->schemaVersion().value() == SqlStore::latestSchemaVersion());
  BOOST_TEST((store->findAgent("ag_dc").value()->agent_class == AgentClass::kServer));
  BOOST_TEST((store->findAgent("ag_pc").value()->agent_class == AgentClass::kWorkstation));
  BOOST_TEST((store->findAgent("ag_lx").value()->agent_class == AgentClass::kWorkstation));
  BOOST_TEST(
      store->listAgentIdsOfClass(AgentClass::kServer).value() == std::vector<std::string>{"ag_dc"},
      boost::test_tools::per_element());
}
