// Admin token trees and roles against a real collector process (docs/api.md, "Roles" and
// "Token trees"): a child never outlives its parent and is revoked with it, also across a
// restart; a read-only token reads every operation of the served OpenAPI description and is
// refused every other one, an operator every admin one (the operations and their roles come
// from the description the collector serves, which a unit test keeps equal to its route
// table, so a new route cannot be left out); the command line mints read-only tokens.

#define BOOST_TEST_MODULE integration_admin_token_roles
#include <Poco/DateTimeFormat.h>
#include <Poco/DateTimeFormatter.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/Timestamp.h>

#include <boost/test/unit_test.hpp>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "tests/integration/harness.h"
#include "tests/integration/synthetic_agent.h"

using namespace vigil::testing;
using namespace std::chrono_literals;

namespace {

std::string s(int64_t v) { return std::to_string(v); }

// RFC 3339 UTC of now + `ahead`.
std::string inFuture(std::chrono::milliseconds ahead) {
  Poco::Timestamp at;
  at += static_cast<Poco::Timestamp::TimeDiff>(ahead.count()) * 1000;
  return Poco::DateTimeFormatter::format(at, Poco::DateTimeFormat::ISO8601_FRAC_FORMAT);
}

// One admin API request with `token`.
HttpResponse as(int port, const std::string& token, const std::string& method,
                const std::string& path, const std::string& body = "") {
  return httpRequest(port, method, path, {{"Authorization", "Bearer " + token}}, body,
                     body.empty() ? "" : "application/json");
}

std::string member(const HttpResponse& r, const std::string& name) {
  Poco::JSON::Object::Ptr json = r.json();
  if (!json || !json->has(name) || json->isNull(name)) return "<null>";
  return json->get(name).convert<std::string>();
}

struct IssuedToken {
  int64_t id = 0;
  std::string token;
  std::string expires_at;
};

struct Fixture {
  TempDir tmp;
  Collector collector{tmp.sub("collector"), fastPresenceSettings()};
  std::string op;  // the first start's all-tenants admin token

  Fixture() {
    collector.start();
    op = collector.adminToken();
  }

  int port() const { return collector.port(); }

  // POST /api/v1/admin-tokens with `creator`; requires 201.
  IssuedToken mint(const std::string& creator, const std::string& body) {
    HttpResponse r = as(port(), creator, "POST", "/api/v1/admin-tokens", body);
    BOOST_REQUIRE_MESSAGE(r.status == 201, "mint " << body << ": " << r.status << " " << r.body);
    return IssuedToken{r.json()->getValue<int64_t>("id"), member(r, "token"),
                       member(r, "expires_at")};
  }

  // The status `token` gets for a harmless read.
  int readStatus(const std::string& token) {
    return as(port(), token, "GET", "/api/v1/tenants").status;
  }

  HttpResponse tokenSeenBy(const std::string& viewer, int64_t id) {
    return as(port(), viewer, "GET", "/api/v1/admin-tokens/" + s(id));
  }
};

}  // namespace

BOOST_FIXTURE_TEST_SUITE(admin_token_trees, Fixture)

BOOST_AUTO_TEST_CASE(a_child_expires_with_its_parent_and_cannot_ask_for_longer) {
  IssuedToken parent = mint(op, R"({"name":"parent","expires_at":")" + inFuture(3s) + "\"}");
  // Without an expiry of its own, the child gets its parent's.
  IssuedToken child = mint(parent.token, R"({"name":"child"})");
  BOOST_TEST(child.expires_at == parent.expires_at);
  // A later one is refused, and nothing is created.
  HttpResponse later = as(port(), parent.token, "POST", "/api/v1/admin-tokens",
                          R"({"name":"later","expires_at":"2035-01-01T00:00:00Z"})");
  BOOST_TEST(later.status == 400);
  BOOST_TEST(member(later, "error") == "invalid_field");
  BOOST_TEST(readStatus(child.token) == 200);

  BOOST_REQUIRE_MESSAGE(eventually([&] { return readStatus(parent.token) == 401; }, 6s),
                        "the parent never expired");
  BOOST_TEST(readStatus(child.token) == 401);
  collector.stop();
  collector.start();
  BOOST_TEST(readStatus(child.token) == 401);
  BOOST_TEST(readStatus(op) == 200);
}

BOOST_AUTO_TEST_CASE(revoking_a_token_revokes_its_children_and_grandchildren) {
  IssuedToken parent = mint(op, R"({"name":"parent"})");
  IssuedToken child = mint(parent.token, R"({"name":"child"})");
  IssuedToken grandchild = mint(child.token, R"({"name":"grandchild"})");
  IssuedToken sibling = mint(op, R"({"name":"sibling"})");
  BOOST_TEST(member(tokenSeenBy(op, grandchild.id), "parent_id") == s(child.id));
  for (const IssuedToken* t : {&parent, &child, &grandchild})
    BOOST_TEST(readStatus(t->token) == 200);

  HttpResponse revoked = as(port(), op, "DELETE", "/api/v1/admin-tokens/" + s(parent.id));
  BOOST_REQUIRE_EQUAL(revoked.status, 200);
  for (const IssuedToken* t : {&parent, &child, &grandchild}) {
    BOOST_TEST(readStatus(t->token) == 401);
    HttpResponse seen = tokenSeenBy(op, t->id);
    BOOST_TEST(member(seen, "revoked") == "true");
    BOOST_TEST(member(seen, "revoked_at") == member(revoked, "revoked_at"));
  }
  BOOST_TEST(readStatus(sibling.token) == 200);
  BOOST_TEST(readStatus(op) == 200);

  collector.kill();
  collector.start();
  BOOST_TEST(readStatus(grandchild.token) == 401);
  BOOST_TEST(readStatus(sibling.token) == 200);
}

BOOST_AUTO_TEST_SUITE_END()

namespace {

// Every kind of object the admin API has, one of each, so that every read answers 200.
struct World : Fixture {
  int64_t tenant = 0, site = 0, enrollment_token = 0, window = 0, webhook = 0;
  std::string agent_id, alert_id;
  std::unique_ptr<SyntheticAgent> agent;

  World() {
    tenant = create("/api/v1/tenants", R"({"name":"Acme"})");
    // Business hours, so that their GET finds some.
    BOOST_REQUIRE_EQUAL(as(port(), op, "PUT", "/api/v1/tenants/" + s(tenant) + "/business-hours",
                           R"({"time_zone":"UTC","weekly":[]})")
                            .status,
                        200);
    site = create("/api/v1/tenants/" + s(tenant) + "/sites", R"({"name":"HQ"})");
    HttpResponse enroll = as(port(), op, "POST", "/api/v1/sites/" + s(site) + "/enrollment-tokens",
                             R"({"name":"rollout"})");
    BOOST_REQUIRE_EQUAL(enroll.status, 201);
    enrollment_token = enroll.json()->getValue<int64_t>("id");
    agent = std::make_unique<SyntheticAgent>(port());
    BOOST_REQUIRE_EQUAL(agent->enroll(member(enroll, "token"), "web-01").status, 201);
    BOOST_REQUIRE_EQUAL(agent->heartbeat().status, 200);
    agent_id = agent->id();
    window = create("/api/v1/maintenance-windows",
                    R"({"tenant_id":)" + s(tenant) +
                        R"(,"starts_at":"2035-01-01T00:00:00Z","duration_s":600})");
    webhook = create("/api/v1/webhooks", R"({"tenant_id":)" + s(tenant) +
                                             R"(,"url":"https://hooks.example.com/vigil",)"
                                             R"("enabled":false})");
    // The agent stays silent: an offline alert follows the collector's warm-up.
    BOOST_REQUIRE_MESSAGE(eventually(
                              [&] {
                                HttpResponse open =
                                    as(port(), op, "GET", "/api/v1/alerts?state=open");
                                auto items = open.json()->getArray("items");
                                if (!items || items->size() == 0) return false;
                                alert_id = items->getObject(0)->get("id").convert<std::string>();
                                return true;
                              },
                              30s),
                          "no offline alert; collector log:\n"
                              << logTail(collector.logPath()));
  }

  int64_t create(const std::string& path, const std::string& body) {
    HttpResponse r = as(port(), op, "POST", path, body);
    BOOST_REQUIRE_MESSAGE(r.status == 201, path << ": " << r.status << " " << r.body);
    return r.json()->getValue<int64_t>("id");
  }

  // `path_template` with each parameter replaced by the id of the object made above; an admin
  // token's id is `token_id`.
  std::string concrete(std::string path, int64_t token_id) const {
    const bool admin_token = path.find("/admin-tokens/") != std::string::npos;
    const std::map<std::string, std::string> values = {
        {"{tenant_id}", s(tenant)},
        {"{site_id}", s(site)},
        {"{agent_id}", agent_id},
        {"{alert_id}", alert_id},
        {"{window_id}", s(window)},
        {"{webhook_id}", s(webhook)},
        {"{channel_id}", s(webhook)},  // a webhook is a channel
        {"{token_id}", admin_token ? s(token_id) : s(enrollment_token)}};
    for (const auto& [name, value] : values) {
      for (size_t at = path.find(name); at != std::string::npos; at = path.find(name)) {
        path.replace(at, name.size(), value);
      }
    }
    BOOST_REQUIRE_MESSAGE(path.find('{') == std::string::npos,
                          "no value for a parameter: " << path);
    // A report needs its subject and period.
    if (path == "/api/v1/reports/availability")
      path += "?tenant_id=" + s(tenant) + "&month=2026-11";
    return path;
  }

  // Every admin operation of the served description as (METHOD, template) -> x-vigil-role.
  std::map<std::pair<std::string, std::string>, std::string> servedOperations() {
    HttpResponse doc = httpRequest(port(), "GET", "/api/v1/openapi.json");
    BOOST_REQUIRE_EQUAL(doc.status, 200);
    Poco::JSON::Object::Ptr paths = doc.json()->getObject("paths");
    BOOST_REQUIRE(paths);
    std::map<std::pair<std::string, std::string>, std::string> ops;
    for (const std::string& path : paths->getNames()) {
      if (path.rfind("/api/v1/", 0) != 0 || path.rfind("/api/v1/openapi.", 0) == 0) continue;
      Poco::JSON::Object::Ptr item = paths->getObject(path);
      for (const char* method : {"get", "post", "put", "patch", "delete"}) {
        Poco::JSON::Object::Ptr op_object = item->getObject(method);
        if (!op_object) continue;
        std::string upper(method);
        for (char& c : upper) c = static_cast<char>(c - 'a' + 'A');
        ops[{upper, path}] =
            op_object->has("x-vigil-role") ? op_object->getValue<std::string>("x-vigil-role") : "";
      }
    }
    BOOST_TEST(ops.size() >= 40u);
    return ops;
  }

  // What GET of every list shows the operator: unchanged by a refused request.
  std::string snapshot() {
    std::string out;
    for (const char* path :
         {"/api/v1/tenants", "/api/v1/sites", "/api/v1/agents", "/api/v1/alerts",
          "/api/v1/maintenance-windows", "/api/v1/webhooks", "/api/v1/admin-tokens"}) {
      out += as(port(), op, "GET", path).body + "\n";
    }
    return out + as(port(), op, "GET", "/api/v1/sites/" + s(site) + "/enrollment-tokens").body;
  }
};

int rank(const std::string& role) {
  if (role == "read-only") return 0;
  if (role == "operator") return 1;
  if (role == "admin") return 2;
  return -1;
}

}  // namespace

BOOST_FIXTURE_TEST_SUITE(admin_token_roles, World)

// Reads answer 200; every other operation 403 forbidden and changes nothing. For an operator,
// only the admin operations are refused; its own work is done.
BOOST_AUTO_TEST_CASE(each_role_is_refused_exactly_the_operations_above_it) {
  const auto ops = servedOperations();
  for (const auto& [op_route, role] : ops) {
    BOOST_TEST_INFO(op_route.first << ' ' << op_route.second);
    BOOST_TEST(rank(role) >= 0, "x-vigil-role is '" << role << "'");
    if (op_route.first == "GET") BOOST_TEST(role == "read-only");
  }
  for (const std::string& held : {std::string("read-only"), std::string("operator")}) {
    IssuedToken token = mint(op, R"({"name":")" + held + R"(","role":")" + held + "\"}");
    BOOST_TEST(member(tokenSeenBy(op, token.id), "role") == held);
    const std::string before = snapshot();
    // Reads first: an operator's own work (deleting the window) comes after them.
    std::vector<std::pair<std::string, std::string>> order;
    for (const auto& [op_route, role] : ops) {
      if (op_route.first == "GET") order.push_back(op_route);
    }
    for (const auto& [op_route, role] : ops) {
      if (op_route.first != "GET") order.push_back(op_route);
    }
    for (const auto& op_route : order) {
      const auto& [method, path_template] = op_route;
      const std::string& role = ops.at(op_route);
      // Reads of an admin token read the token's own; anything else would revoke the first
      // start's token (which this test needs).
      const int64_t token_id = method == "GET" ? token.id : 1;
      const std::string path = concrete(path_template, token_id);
      HttpResponse r =
          as(port(), token.token, method, path, method == "GET" || method == "DELETE" ? "" : "{}");
      BOOST_TEST_CONTEXT(held << " token: " << method << ' ' << path << " -> " << r.status << ' '
                              << r.body.substr(0, 200)) {
        if (rank(role) > rank(held)) {
          BOOST_TEST(r.status == 403);
          BOOST_TEST(member(r, "error") == "forbidden");
        } else if (method == "GET") {
          BOOST_TEST(r.status == 200);
        } else {
          BOOST_TEST((r.status != 403 && r.status < 500));
        }
      }
    }
    if (held == "read-only") BOOST_TEST(snapshot() == before);
  }
  BOOST_TEST(readStatus(op) == 200);
}

BOOST_AUTO_TEST_CASE(a_read_only_token_cannot_mint_tokens_but_may_revoke_itself) {
  IssuedToken reader = mint(op, R"({"name":"client integration","role":"read-only"})");
  for (const char* role : {"admin", "operator", "read-only"}) {
    HttpResponse r = as(port(), reader.token, "POST", "/api/v1/admin-tokens",
                        R"({"name":"mine","role":")" + std::string(role) + "\"}");
    BOOST_TEST(r.status == 403, role);
  }
  // An admin cannot make one of an unknown role.
  BOOST_TEST(
      as(port(), op, "POST", "/api/v1/admin-tokens", R"({"name":"x","role":"root"})").status ==
      400);
  BOOST_TEST(as(port(), reader.token, "DELETE", "/api/v1/admin-tokens/1").status == 403);
  BOOST_TEST(as(port(), reader.token, "DELETE", "/api/v1/admin-tokens/" + s(reader.id)).status ==
             200);
  BOOST_TEST(readStatus(reader.token) == 401);
}

BOOST_AUTO_TEST_CASE(the_command_line_mints_a_read_only_token_for_the_running_collector) {
  const std::string log = tmp.sub("cli.log");
  ChildProcess cli(VIGIL_COLLECTOR_BIN,
                   {"--data-dir=" + collector.dataDir(), "admin-token", "create", "--name=reports",
                    "--role=read-only"},
                   log);
  BOOST_REQUIRE(cli.waitExit(30s) == 0);
  const std::string printed = readFile(log);
  const std::string token = printed.substr(0, printed.find('\n'));
  BOOST_TEST(as(port(), token, "GET", "/api/v1/sites").status == 200);
  HttpResponse refused = as(port(), token, "POST", "/api/v1/tenants", R"({"name":"x"})");
  BOOST_TEST(refused.status == 403);
  BOOST_TEST(member(refused, "error") == "forbidden");
}

BOOST_AUTO_TEST_SUITE_END()
