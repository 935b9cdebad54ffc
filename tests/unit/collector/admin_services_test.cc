// The agents, alerts and maintenance services of the admin API, without HTTP: a real SQLite
// store and presence monitor, two tenants, and requests from tokens of different scopes.

#define BOOST_TEST_MODULE collector_admin_services
#include <algorithm>
#include <boost/test/unit_test.hpp>
#include <memory>
#include <string>
#include <vector>

#include "collector/admin/agent_query.h"
#include "collector/admin/alert_service.h"
#include "collector/admin/maintenance_service.h"
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
using vigil::collector::AgentRecord;
using vigil::collector::AlertChange;
using vigil::collector::ApiResult;
using vigil::collector::TenantScope;
namespace presence = vigil::collector::presence;

constexpr int64_t kNowMs = 1'795'420'800'000;  // 2026-11-23T08:00:00Z

struct Fixture {
  vigil::testing::TempDir tmp;
  vigil::SimulatedClock clock;
  std::unique_ptr<vigil::collector::SqlStore> store =
      std::move(vigil::testing::openTestStore(tmp.sub("data")).value());
  vigil::collector::AgentDirectory directory;
  vigil::collector::PresenceMonitor presence{presence::PresenceConfig{}, clock};
  vigil::collector::AgentQueryService agents{*store, *store, directory, presence};
  vigil::collector::AlertService alerts{*store};
  vigil::collector::MaintenanceService maintenance{*store, *store, *store, presence};
  AdminRouteTable routes;
  int64_t tenant_a = 0, tenant_b = 0, site_a = 0, site_b = 0;
  std::string agent_a1, agent_a2, agent_b1;

  Fixture() {
    tenant_a = store->createTenant("Acme", kNowMs)->id;
    tenant_b = store->createTenant("Globex", kNowMs)->id;
    site_a = store->createSite(tenant_a, "HQ", kNowMs)->id;
    site_b = store->createSite(tenant_b, "HQ", kNowMs)->id;
    agent_a1 = enroll(site_a, "web-01");
    agent_a2 = enroll(site_a, "db-01");
    agent_b1 = enroll(site_b, "web-01");
    BOOST_REQUIRE(directory.load(*store).ok());
    BOOST_REQUIRE(presence.load(*store, *store).ok());
    BOOST_REQUIRE(maintenance.load().ok());
    agents.registerRoutes(routes);
    alerts.registerRoutes(routes);
    maintenance.registerRoutes(routes);
  }

  std::string enroll(int64_t site, const std::string& hostname) {
    vigil::collector::EnrollmentToken token;
    token.site_id = site;
    token.token_hash = vigil::crypto::toHex(
        vigil::crypto::sha256(hostname + std::to_string(site) + std::to_string(rand())).value());
    token.created_at_ms = kNowMs;
    auto stored = store->createEnrollmentToken(token);
    AgentRecord agent;
    agent.id = "ag_" + std::to_string(site) + "_" + hostname;
    agent.hostname = hostname;
    agent.agent_version = "1.0.0";
    agent.secret = "s";
    agent.enrolled_at_ms = kNowMs;
    BOOST_REQUIRE(store->enrollAgent(stored->id, agent, kNowMs).ok());
    return agent.id;
  }

  static AdminRequest request(const TenantScope& scope) {
    AdminRequest r;
    r.principal.token_id = 1;
    r.principal.token_name = scope.all ? "operator" : "tech";
    r.principal.scope = scope;
    r.now_ms = kNowMs;
    return r;
  }
  TenantScope onlyA() const { return TenantScope{false, {tenant_a}}; }

  // Calls the route like the HTTP edge does.
  ApiResult<AdminAnswer> call(const TenantScope& scope, const std::string& method,
                              const std::string& path,
                              std::vector<std::pair<std::string, std::string>> query = {},
                              const std::string& body = "") {
    std::string allow;
    auto match = routes.match(method, path, &allow);
    BOOST_REQUIRE_MESSAGE(match, method + " " + path + " is not routed");
    AdminRequest r = request(scope);
    r.method = method;
    r.route = match->route;
    r.path_params = match->path_params;
    r.query = std::move(query);
    r.body = body;
    return (*match->handler)(r);
  }

  static std::vector<std::string> itemIds(const AdminAnswer& answer) {
    std::vector<std::string> ids;
    auto root = vigil::json::parse(answer.body);
    const cJSON* items = cJSON_GetObjectItem(root.get(), "items");
    for (const cJSON* item = items->child; item != nullptr; item = item->next) {
      const cJSON* id = cJSON_GetObjectItem(item, "id");
      ids.push_back(cJSON_IsString(id) ? id->valuestring
                                       : std::to_string(static_cast<int64_t>(id->valuedouble)));
    }
    return ids;
  }
  static std::string field(const AdminAnswer& answer, const char* name) {
    auto root = vigil::json::parse(answer.body);
    const cJSON* v = cJSON_GetObjectItem(root.get(), name);
    if (v == nullptr || cJSON_IsNull(v)) return "<null>";
    if (cJSON_IsString(v)) return v->valuestring;
    if (cJSON_IsBool(v)) return cJSON_IsTrue(v) ? "true" : "false";
    return std::to_string(static_cast<int64_t>(v->valuedouble));
  }

  void openAlert(const std::string& agent_id, int64_t at_ms) {
    AlertChange change;
    change.kind = "device_offline";
    change.action = "opened";
    change.agent_id = agent_id;
    change.at_ms = at_ms;
    BOOST_REQUIRE(store->appendPresenceEvents({}, {change}, {}).ok());
  }
};

}  // namespace

BOOST_FIXTURE_TEST_SUITE(admin_services, Fixture)

BOOST_AUTO_TEST_CASE(agent_list_filters_by_scope_tenant_site_and_text) {
  auto all = call(TenantScope::everything(), "GET", "/api/v1/agents");
  BOOST_TEST(itemIds(all.value()).size() == 3u);
  auto scoped = call(onlyA(), "GET", "/api/v1/agents");
  std::vector<std::string> expected = {agent_a1, agent_a2};
  std::sort(expected.begin(), expected.end());
  BOOST_TEST(itemIds(scoped.value()) == expected);
  // Asking for the other tenant's agents through a filter shows nothing, not an error that
  // would confirm the tenant exists.
  auto other = call(onlyA(), "GET", "/api/v1/agents", {{"tenant_id", std::to_string(tenant_b)}});
  BOOST_TEST(itemIds(other.value()).empty());
  auto text = call(TenantScope::everything(), "GET", "/api/v1/agents", {{"q", "WEB"}});
  BOOST_TEST(itemIds(text.value()).size() == 2u);
  // Wildcards and quotes are literal text: nothing here contains them...
  for (const char* injection : {"%", "web%", "w_b", "' OR 1=1 --", "\\"}) {
    auto r = call(TenantScope::everything(), "GET", "/api/v1/agents", {{"q", injection}});
    BOOST_REQUIRE(r.ok());
    BOOST_TEST(itemIds(r.value()).empty(), "q=" << injection);
  }
  // ...while every id contains a literal underscore.
  BOOST_TEST(itemIds(call(TenantScope::everything(), "GET", "/api/v1/agents", {{"q", "_"}}).value())
                 .size() == 3u);
  auto site = call(TenantScope::everything(), "GET", "/api/v1/agents",
                   {{"site_id", std::to_string(site_b)}});
  BOOST_TEST((itemIds(site.value()) == std::vector<std::string>{agent_b1}));
  auto status = call(TenantScope::everything(), "GET", "/api/v1/agents", {{"status", "UNKNOWN"}});
  BOOST_TEST(itemIds(status.value()).size() == 3u);
  auto none = call(TenantScope::everything(), "GET", "/api/v1/agents", {{"status", "OFFLINE"}});
  BOOST_TEST(itemIds(none.value()).empty());
  auto bad = call(TenantScope::everything(), "GET", "/api/v1/agents", {{"status", "GONE"}});
  BOOST_TEST(bad.error().http_status == 400);
}

BOOST_AUTO_TEST_CASE(agent_list_pages_through_a_status_filter) {
  std::vector<std::string> seen;
  std::vector<std::pair<std::string, std::string>> query = {{"limit", "1"},
                                                            {"status", "UNKNOWN,ONLINE"}};
  for (int page = 0; page < 5; ++page) {
    auto r = call(TenantScope::everything(), "GET", "/api/v1/agents", query);
    for (const std::string& id : itemIds(r.value())) seen.push_back(id);
    const std::string next = field(r.value(), "next_cursor");
    if (next == "<null>") break;
    query = {{"limit", "1"}, {"status", "UNKNOWN,ONLINE"}, {"cursor", next}};
  }
  // The pages do not overlap and together hold every agent.
  std::sort(seen.begin(), seen.end());
  std::vector<std::string> every_agent = {agent_a1, agent_a2, agent_b1};
  std::sort(every_agent.begin(), every_agent.end());
  BOOST_TEST(seen == every_agent, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(another_tenants_agent_is_not_found_for_every_verb) {
  const std::string path = "/api/v1/agents/" + agent_b1;
  BOOST_TEST(call(onlyA(), "GET", path).error().http_status == 404);
  BOOST_TEST(call(onlyA(), "POST", path + "/retire").error().http_status == 404);
  BOOST_TEST(call(onlyA(), "DELETE", path).error().http_status == 404);
  BOOST_TEST(call(onlyA(), "GET", "/api/v1/agents/ag_never").error().http_status == 404);
  // Nothing changed.
  BOOST_TEST(!store->findAgent(agent_b1).value()->retired_at_ms);
  BOOST_TEST(presence.agentView(agent_b1).has_value());
}

BOOST_AUTO_TEST_CASE(retire_refuses_the_agent_and_stops_tracking_it) {
  auto r = call(onlyA(), "POST", "/api/v1/agents/" + agent_a1 + "/retire");
  BOOST_REQUIRE(r.ok());
  BOOST_TEST(field(r.value(), "retired_at") == "2026-11-23T08:00:00.000Z");
  BOOST_TEST(directory.credentials(agent_a1)->retired);
  BOOST_TEST(!presence.agentView(agent_a1).has_value());
  BOOST_TEST(call(onlyA(), "POST", "/api/v1/agents/" + agent_a1 + "/retire").ok());  // idempotent
  auto active = call(onlyA(), "GET", "/api/v1/agents", {{"include_retired", "false"}});
  BOOST_TEST((itemIds(active.value()) == std::vector<std::string>{agent_a2}));
}

BOOST_AUTO_TEST_CASE(delete_removes_the_agent_and_its_alerts) {
  openAlert(agent_a2, kNowMs);
  auto r = call(onlyA(), "DELETE", "/api/v1/agents/" + agent_a2);
  BOOST_REQUIRE(r.ok());
  BOOST_TEST(r.value().http_status == 204);
  BOOST_TEST(!store->findAgent(agent_a2).value());
  BOOST_TEST(!directory.credentials(agent_a2));
  auto left = call(onlyA(), "GET", "/api/v1/alerts");
  BOOST_TEST(itemIds(left.value()).empty());
}

BOOST_AUTO_TEST_CASE(alerts_are_scoped_filtered_acknowledged_and_resolved) {
  openAlert(agent_a1, kNowMs - 60'000);
  openAlert(agent_b1, kNowMs);
  auto all = call(TenantScope::everything(), "GET", "/api/v1/alerts");
  BOOST_REQUIRE_EQUAL(itemIds(all.value()).size(), 2u);
  const std::string b_alert = itemIds(all.value())[0];  // newest first
  const std::string a_alert = itemIds(all.value())[1];
  BOOST_TEST(itemIds(call(onlyA(), "GET", "/api/v1/alerts").value()) ==
             std::vector<std::string>{a_alert});
  BOOST_TEST(call(onlyA(), "GET", "/api/v1/alerts/" + b_alert).error().http_status == 404);
  BOOST_TEST(call(onlyA(), "POST", "/api/v1/alerts/" + b_alert + "/resolve").error().http_status ==
             404);
  BOOST_TEST(store->findAlert(std::stoll(b_alert)).value()->state == "open");

  auto from = call(TenantScope::everything(), "GET", "/api/v1/alerts",
                   {{"opened_from", "2026-11-23T07:59:30Z"}});
  BOOST_TEST(itemIds(from.value()) == std::vector<std::string>{b_alert});
  auto by_site = call(TenantScope::everything(), "GET", "/api/v1/alerts",
                      {{"site_id", std::to_string(site_a)}, {"state", "open,held"}});
  BOOST_TEST(itemIds(by_site.value()) == std::vector<std::string>{a_alert});
  BOOST_TEST(call(TenantScope::everything(), "GET", "/api/v1/alerts", {{"state", "gone"}})
                 .error()
                 .http_status == 400);
  BOOST_TEST(call(TenantScope::everything(), "GET", "/api/v1/alerts", {{"opened_from", "today"}})
                 .error()
                 .http_status == 400);

  auto ack = call(onlyA(), "POST", "/api/v1/alerts/" + a_alert + "/acknowledge", {},
                  R"({"note":"on it"})");
  BOOST_REQUIRE(ack.ok());
  BOOST_TEST(field(ack.value(), "acknowledged_by") == "tech");
  BOOST_TEST(field(ack.value(), "state") == "open");
  BOOST_TEST(
      call(onlyA(), "POST", "/api/v1/alerts/" + a_alert + "/acknowledge", {}, R"({"nope":1})")
          .error()
          .http_status == 400);
  auto resolved = call(onlyA(), "POST", "/api/v1/alerts/" + a_alert + "/resolve");
  BOOST_REQUIRE(resolved.ok());
  BOOST_TEST(field(resolved.value(), "state") == "resolved");
  BOOST_TEST(field(resolved.value(), "closed_by") == "tech");
  auto again = call(onlyA(), "POST", "/api/v1/alerts/" + a_alert + "/resolve");
  BOOST_TEST(again.error().http_status == 409);
}

BOOST_AUTO_TEST_CASE(maintenance_windows_validate_scope_and_reach_the_engine) {
  auto created = call(onlyA(), "POST", "/api/v1/maintenance-windows", {},
                      R"({"site_id":)" + std::to_string(site_a) +
                          R"(,"starts_at":"2026-11-23T07:30:00Z","duration_s":3600,)"
                          R"("recurrence":"weekly","note":"patch Tuesday"})");
  BOOST_REQUIRE(created.ok());
  BOOST_TEST(created.value().http_status == 201);
  BOOST_TEST(field(created.value(), "active") == "true");
  BOOST_TEST(field(created.value(), "tenant_id") == std::to_string(tenant_a));
  BOOST_TEST(field(created.value(), "ends_at") == "2026-11-23T08:30:00.000Z");
  const std::string id = field(created.value(), "id");

  // Another tenant's site, or no target, or two targets, or a bad duration: refused.
  const std::string b_site = std::to_string(site_b);
  BOOST_TEST(call(onlyA(), "POST", "/api/v1/maintenance-windows", {},
                  R"({"site_id":)" + b_site +
                      R"(,"starts_at":"2026-11-23T07:30:00Z",)"
                      R"("duration_s":3600})")
                 .error()
                 .http_status == 404);
  BOOST_TEST(call(onlyA(), "POST", "/api/v1/maintenance-windows", {},
                  R"({"starts_at":"2026-11-23T07:30:00Z","duration_s":3600})")
                 .error()
                 .http_status == 400);
  BOOST_TEST(call(onlyA(), "POST", "/api/v1/maintenance-windows", {},
                  R"({"tenant_id":1,"site_id":1,"starts_at":"2026-11-23T07:30:00Z",)"
                  R"("duration_s":3600})")
                 .error()
                 .http_status == 400);
  BOOST_TEST(call(onlyA(), "POST", "/api/v1/maintenance-windows", {},
                  R"({"site_id":)" + std::to_string(site_a) +
                      R"(,"starts_at":"2026-11-23T07:30:00Z","duration_s":5})")
                 .error()
                 .http_status == 400);
  BOOST_TEST(call(onlyA(), "POST", "/api/v1/maintenance-windows", {},
                  R"({"site_id":)" + std::to_string(site_a) +
                      R"(,"starts_at":"2026-11-23T07:30:00Z","duration_s":3600,)"
                      R"("recurrence":"daily"})")
                 .error()
                 .http_status == 400);

  BOOST_TEST(
      itemIds(call(TenantScope{false, {tenant_b}}, "GET", "/api/v1/maintenance-windows").value())
          .empty());
  BOOST_TEST(call(TenantScope{false, {tenant_b}}, "DELETE", "/api/v1/maintenance-windows/" + id)
                 .error()
                 .http_status == 404);
  BOOST_TEST(call(onlyA(), "GET", "/api/v1/maintenance-windows/" + id).ok());
  BOOST_TEST(call(onlyA(), "DELETE", "/api/v1/maintenance-windows/" + id).value().http_status ==
             204);
  BOOST_TEST(store->listAllMaintenanceWindows().value().empty());
}

BOOST_AUTO_TEST_CASE(summaries_count_agents_by_status_and_open_alerts) {
  openAlert(agent_a1, kNowMs);
  vigil::json::JsonPtr summary(cJSON_CreateObject());
  agents.addSummary(summary.get(), tenant_a, std::nullopt);
  const std::string text = vigil::json::print(summary.get());
  BOOST_TEST(text.find("\"agents\":2") != std::string::npos, text);
  BOOST_TEST(text.find("\"open_alerts\":1") != std::string::npos, text);
  BOOST_TEST(text.find("\"UNKNOWN\":2") != std::string::npos, text);
}

BOOST_AUTO_TEST_CASE(health_history_pages_newest_first) {
  for (int i = 0; i < 3; ++i) {
    BOOST_REQUIRE(
        store
            ->appendPresenceEvents(
                {}, {}, {vigil::collector::HealthRecord{kNowMs + i, i % 2 == 0, "tick_late"}})
            .ok());
  }
  auto first = call(onlyA(), "GET", "/api/v1/health/history", {{"limit", "2"}});
  BOOST_TEST(itemIds(first.value()).size() == 2u);
  auto second = call(onlyA(), "GET", "/api/v1/health/history",
                     {{"limit", "2"}, {"cursor", field(first.value(), "next_cursor")}});
  BOOST_TEST(itemIds(second.value()).size() == 1u);
  BOOST_TEST(call(onlyA(), "GET", "/api/v1/health").ok());
}

BOOST_AUTO_TEST_SUITE_END()
