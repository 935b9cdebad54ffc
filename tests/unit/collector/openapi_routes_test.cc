#define BOOST_TEST_MODULE collector_openapi_routes
// docs/openapi.yaml and the collector agree: every admin operation the description documents
// is served, every served admin route is documented, the served description is the one built
// from docs/openapi.yaml, authentication is declared where the collector enforces it, and
// every admin operation names the role (x-vigil-role) the route table declares for it.
#include <boost/test/unit_test.hpp>
#include <cstring>
#include <fstream>
#include <iterator>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "collector/admin/agent_query.h"
#include "collector/admin/alert_service.h"
#include "collector/admin/cadence_service.h"
#include "collector/admin/channel_admin.h"
#include "collector/admin/maintenance_service.h"
#include "collector/admin/report_service.h"
#include "collector/admin/tenancy_service.h"
#include "collector/admin/token_service.h"
#include "collector/http/openapi_handler.h"
#include "collector/ingest/agent_directory.h"
#include "collector/monitor/presence_monitor.h"
#include "collector/store/sql_store.h"
#include "common/clock.h"
#include "common/json.h"
#include "tests/support/temp_dir.h"

namespace json = vigil::json;

namespace {

using Route = std::pair<std::string, std::string>;  // (method, path template)
using vigil::collector::AdminRole;
using vigil::collector::RouteAccess;

constexpr char kAdminPrefix[] = "/api/v1/";
// Served by the router without authentication, outside the admin route table.
const std::set<std::string> kPublicAdminPaths = {"/api/v1/openapi.json", "/api/v1/openapi.yaml"};
const std::set<std::string> kPublicPaths = {
    "/api/v1/openapi.json", "/api/v1/openapi.yaml", "/livez", "/readyz", "/metrics",
    "/v1/enroll",           "/v1/heartbeat"};
const char* const kMethods[] = {"get",   "put",  "post",    "delete",
                                "patch", "head", "options", "trace"};

// The routes the collector serves, with who may call each: the real services, over a
// throwaway store, register into one table as vigil-collector's composition root does.
std::vector<std::pair<Route, RouteAccess>> servedAdminRoutesWithAccess() {
  using namespace vigil::collector;  // NOLINT(google-build-using-namespace): test wiring
  vigil::testing::TempDir tmp;
  std::unique_ptr<SqlStore> store = std::move(SqlStore::openSqlite(tmp.sub("data")).value());
  vigil::SimulatedClock clock;
  AgentDirectory directory;
  PresenceMonitor presence(presence::PresenceConfig{}, clock);
  AdminRouteTable table;
  AgentQueryService agents(*store, *store, directory, presence);
  agents.registerRoutes(table);
  TenancyService tenancy(*store, nullptr);
  tenancy.registerRoutes(table);
  TokenService tokens(*store, *store);
  tokens.registerRoutes(table);
  AlertService alerts(*store);
  alerts.registerRoutes(table);
  MaintenanceService maintenance(*store, *store, *store, presence);
  maintenance.registerRoutes(table);
  CadenceBook book(CadenceDefaults{});
  CadenceService cadence(*store, *store, *store, book, presence, nullptr, nullptr);
  cadence.registerRoutes(table);
  const OutboundPolicy policy;
  ChannelAdminService webhooks(*store, *store, policy);
  webhooks.registerRoutes(table);
  ReportService reports(*store);
  reports.registerRoutes(table);
  std::vector<std::pair<Route, RouteAccess>> served;
  for (const Route& route : table.routes()) {
    served.emplace_back(route, *table.accessOf(route.first, route.second));
  }
  return served;
}

std::vector<Route> servedAdminRoutes() {
  std::vector<Route> routes;
  for (const auto& [route, access] : servedAdminRoutesWithAccess()) routes.push_back(route);
  return routes;
}

std::string upper(std::string s) {
  for (char& c : s) c = static_cast<char>(c - ('a' <= c && c <= 'z' ? 'a' - 'A' : 0));
  return s;
}

std::string readFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// The description as the build generated it (VIGIL_OPENAPI_JSON), parsed.
const cJSON* spec() {
  static const json::JsonPtr root = json::parse(readFile(VIGIL_OPENAPI_JSON));
  return root.get();
}

// Every operation of `paths` as (METHOD, path), with its operation object.
std::vector<std::pair<Route, const cJSON*>> operations(const cJSON* root) {
  std::vector<std::pair<Route, const cJSON*>> found;
  const cJSON* paths = cJSON_GetObjectItemCaseSensitive(root, "paths");
  const cJSON* item = nullptr;
  cJSON_ArrayForEach(item, paths) {
    for (const char* method : kMethods) {
      const cJSON* op = cJSON_GetObjectItemCaseSensitive(item, method);
      if (cJSON_IsObject(op)) found.push_back({{upper(method), item->string}, op});
    }
  }
  return found;
}

bool isAdminPath(const std::string& path) {
  return path.compare(0, std::strlen(kAdminPrefix), kAdminPrefix) == 0 &&
         kPublicAdminPaths.count(path) == 0;
}

std::string describe(const std::set<Route>& routes) {
  std::ostringstream out;
  for (const Route& r : routes) out << "\n  " << r.first << ' ' << r.second;
  return out.str();
}

}  // namespace

BOOST_AUTO_TEST_CASE(the_served_description_is_the_one_built_from_docs_openapi_yaml) {
  BOOST_REQUIRE_MESSAGE(spec() != nullptr, "not JSON: " VIGIL_OPENAPI_JSON);
  BOOST_TEST(vigil::collector::openApiJson() == readFile(VIGIL_OPENAPI_JSON));
  BOOST_TEST(vigil::collector::openApiYaml().compare(0, 9, "openapi: ") == 0);
  const cJSON* version = cJSON_GetObjectItemCaseSensitive(spec(), "openapi");
  BOOST_REQUIRE(cJSON_IsString(version));
  BOOST_TEST(std::string(version->valuestring).compare(0, 2, "3.") == 0);
  const cJSON* info_version =
      cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(spec(), "info"), "version");
  BOOST_REQUIRE(cJSON_IsString(info_version));
  BOOST_TEST(std::string(info_version->valuestring) == VIGIL_VERSION);
}

BOOST_AUTO_TEST_CASE(every_documented_admin_operation_is_served_and_every_served_route_documented) {
  BOOST_REQUIRE(spec() != nullptr);
  std::set<Route> documented;
  for (const auto& [route, op] : operations(spec())) {
    if (isAdminPath(route.second)) documented.insert(route);
  }
  std::set<Route> served;
  for (const Route& route : servedAdminRoutes()) {
    BOOST_TEST_INFO("served twice: " << route.first << ' ' << route.second);
    BOOST_TEST(served.insert(route).second);
  }

  std::set<Route> undocumented;
  std::set<Route> unserved;
  for (const Route& r : served) {
    if (documented.count(r) == 0) undocumented.insert(r);
  }
  for (const Route& r : documented) {
    if (served.count(r) == 0) unserved.insert(r);
  }
  BOOST_TEST(undocumented.empty(),
             "served but not in docs/openapi.yaml:" << describe(undocumented));
  BOOST_TEST(unserved.empty(), "in docs/openapi.yaml but not served:" << describe(unserved));
  BOOST_TEST(documented.size() >= 40u);
}

BOOST_AUTO_TEST_CASE(admin_operations_require_the_bearer_token_and_public_ones_declare_none) {
  BOOST_REQUIRE(spec() != nullptr);
  // The global requirement is bearerAuth alone.
  const cJSON* global = cJSON_GetObjectItemCaseSensitive(spec(), "security");
  BOOST_REQUIRE(cJSON_IsArray(global) && cJSON_GetArraySize(global) == 1);
  BOOST_TEST(cJSON_HasObjectItem(cJSON_GetArrayItem(global, 0), "bearerAuth"));

  std::set<std::string> public_seen;
  for (const auto& [route, op] : operations(spec())) {
    const cJSON* security = cJSON_GetObjectItemCaseSensitive(op, "security");
    const std::string name = route.first + " " + route.second;
    if (kPublicPaths.count(route.second) != 0) {
      public_seen.insert(route.second);
      BOOST_TEST_INFO(name << " needs no authentication: it must declare security: []");
      BOOST_TEST((cJSON_IsArray(security) && cJSON_GetArraySize(security) == 0));
      continue;
    }
    BOOST_TEST_INFO(name << " must inherit the global bearerAuth");
    BOOST_TEST(security == nullptr);
    const cJSON* responses = cJSON_GetObjectItemCaseSensitive(op, "responses");
    BOOST_TEST_INFO(name << " must document 401");
    BOOST_TEST(cJSON_HasObjectItem(responses, "401"));
  }
  BOOST_TEST(public_seen == kPublicPaths);
}

BOOST_AUTO_TEST_CASE(every_operation_has_a_unique_operation_id_and_a_tag) {
  BOOST_REQUIRE(spec() != nullptr);
  std::set<std::string> ids;
  for (const auto& [route, op] : operations(spec())) {
    const cJSON* id = cJSON_GetObjectItemCaseSensitive(op, "operationId");
    BOOST_TEST_INFO(route.first << ' ' << route.second);
    BOOST_REQUIRE(cJSON_IsString(id));
    BOOST_TEST(ids.insert(id->valuestring).second);
    const cJSON* tags = cJSON_GetObjectItemCaseSensitive(op, "tags");
    BOOST_TEST((cJSON_IsArray(tags) && cJSON_GetArraySize(tags) == 1));
  }
}

// Roles are declared once, in the route table; the description says the same for every
// operation, and a route that changes something never admits a read-only token.
BOOST_AUTO_TEST_CASE(every_admin_operation_names_the_role_its_route_requires) {
  BOOST_REQUIRE(spec() != nullptr);
  std::map<Route, const cJSON*> documented;
  for (const auto& [route, op] : operations(spec())) documented[route] = op;
  for (const auto& [route, access] : servedAdminRoutesWithAccess()) {
    BOOST_TEST_CONTEXT(route.first << ' ' << route.second) {
      const bool reads = route.first == "GET";
      BOOST_TEST((reads == (access.role == AdminRole::kReadOnly)),
                 "a read needs read-only, a change more");
      auto found = documented.find(route);
      BOOST_REQUIRE(found != documented.end());
      const cJSON* op = found->second;
      const cJSON* role = cJSON_GetObjectItemCaseSensitive(op, "x-vigil-role");
      BOOST_REQUIRE_MESSAGE(cJSON_IsString(role), "no x-vigil-role");
      BOOST_TEST(std::string(role->valuestring) == vigil::collector::adminRoleName(access.role));
      const cJSON* or_self = cJSON_GetObjectItemCaseSensitive(op, "x-vigil-or-self");
      BOOST_TEST(cJSON_IsTrue(or_self) == !access.or_self.empty());
      const cJSON* description = cJSON_GetObjectItemCaseSensitive(op, "description");
      BOOST_REQUIRE(cJSON_IsString(description));
      BOOST_TEST(std::string(description->valuestring).find("Role: ") != std::string::npos);
      const cJSON* responses = cJSON_GetObjectItemCaseSensitive(op, "responses");
      BOOST_TEST(cJSON_HasObjectItem(responses, "403") == !reads, "403 documented iff refused");
    }
  }
}
