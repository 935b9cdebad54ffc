#define BOOST_TEST_MODULE collector_tenancy_service
#include "collector/admin/tenancy_service.h"

#include <boost/test/unit_test.hpp>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "collector/admin/admin_auth.h"
#include "collector/admin/token_service.h"
#include "collector/store/sql_store.h"
#include "common/crypto.h"
#include "common/json.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_store.h"

using namespace vigil::collector;  // NOLINT(google-build-using-namespace): the code under test
using vigil::testing::TempDir;
namespace json = vigil::json;

namespace {

constexpr int64_t kNow = 1'800'000'000'000;  // 2027-01-15

template <typename T>
T ok(const vigil::Result<T>& r) {
  BOOST_REQUIRE_MESSAGE(r.ok(), (r.ok() ? std::string() : r.error().toString()));
  return r.value();
}

std::string sha256Hex(const std::string& text) {
  return vigil::crypto::toHex(vigil::crypto::sha256(text).value());
}

struct Reply {
  int status = 0;
  std::string code;  // error code, or "" on success
  std::string body;
  json::JsonPtr json;

  const cJSON* get(const char* name) const { return cJSON_GetObjectItem(json.get(), name); }
  int64_t integer(const char* name) const {
    const cJSON* item = get(name);
    BOOST_REQUIRE_MESSAGE(cJSON_IsNumber(item), std::string("no number ") + name + " in " + body);
    return static_cast<int64_t>(item->valuedouble);
  }
  std::string string(const char* name) const {
    const cJSON* item = get(name);
    BOOST_REQUIRE_MESSAGE(cJSON_IsString(item), std::string("no string ") + name + " in " + body);
    return item->valuestring;
  }
  bool boolean(const char* name) const {
    const cJSON* item = get(name);
    BOOST_REQUIRE_MESSAGE(cJSON_IsBool(item), std::string("no bool ") + name + " in " + body);
    return cJSON_IsTrue(item) != 0;
  }
  // The `name` members of a page's items, or ids as text when items have no name.
  std::vector<std::string> itemNames() const {
    std::vector<std::string> out;
    const cJSON* items = get("items");
    BOOST_REQUIRE_MESSAGE(cJSON_IsArray(items), "no items in " + body);
    for (const cJSON* i = items->child; i != nullptr; i = i->next) {
      out.emplace_back(cJSON_GetObjectItem(i, "name")->valuestring);
    }
    return out;
  }
  std::optional<std::string> nextCursor() const {
    const cJSON* c = get("next_cursor");
    if (cJSON_IsString(c)) return std::string(c->valuestring);
    BOOST_REQUIRE_MESSAGE(cJSON_IsNull(c), "next_cursor missing in " + body);
    return std::nullopt;
  }
};

struct Fixture {
  Fixture() {
    auto opened = vigil::testing::openTestStore(tmp.sub("data"));
    BOOST_REQUIRE(opened.ok());
    store = std::move(opened.value());
    tenancy = std::make_unique<TenancyService>(
        *store,
        [this](cJSON* summary, std::optional<int64_t> tenant_id, std::optional<int64_t> site_id) {
          summary_calls.emplace_back(tenant_id, site_id);
          json::addInteger(summary, "agents", 0);
          cJSON_AddObjectToObject(summary, "by_status");
          json::addInteger(summary, "open_alerts", 0);
        },
        TenancyDeletions{[this](int64_t site) { deleted_sites.push_back(site); },
                         [this](int64_t tenant) { deleted_tenants.push_back(tenant); }});
    tokens = std::make_unique<TokenService>(*store, *store);
    tenancy->registerRoutes(routes);
    tokens->registerRoutes(routes);

    tenant_a = ok(store->createTenant("Alpha", kNow));
    tenant_b = ok(store->createTenant("Bravo", kNow));
    site_a = ok(store->createSite(tenant_a.id, "a-hq", kNow));
    site_b = ok(store->createSite(tenant_b.id, "b-hq", kNow));
    EnrollmentToken e;
    e.site_id = site_b.id;
    e.token_hash = sha256Hex("b-enroll");
    e.created_at_ms = kNow;
    enroll_b = ok(store->createEnrollmentToken(e));

    NewAdminToken op;
    op.token_hash = sha256Hex("operator");
    op.name = "operator";
    operator_token = ok(store->createAdminToken(op, kNow));
    all = principalOf(operator_token);
    NewAdminToken a;
    a.token_hash = sha256Hex("tech-a");
    a.name = "tech A";
    a.all_tenants = false;
    a.tenant_ids = {tenant_a.id};
    token_a = ok(store->createAdminToken(a, kNow));
    only_a = principalOf(token_a);
    NewAdminToken b = a;
    b.token_hash = sha256Hex("tech-b");
    b.name = "tech B";
    b.tenant_ids = {tenant_b.id};
    token_b = ok(store->createAdminToken(b, kNow));
  }

  static AdminPrincipal principalOf(const AdminToken& t) {
    AdminPrincipal p;
    p.token_id = t.id;
    p.token_name = t.name;
    p.scope = t.all_tenants ? TenantScope::everything() : TenantScope{false, t.tenant_ids};
    p.role = t.role;
    p.expires_at_ms = t.expires_at_ms;
    return p;
  }

  // Routes `method path` through the table, as the HTTP edge does.
  Reply call(const AdminPrincipal& principal, const std::string& method, const std::string& path,
             const std::string& body = "",
             std::vector<std::pair<std::string, std::string>> query = {}) {
    std::string allow;
    auto match = routes.match(method, path, &allow);
    BOOST_REQUIRE_MESSAGE(match, "no route for " + method + " " + path);
    AdminRequest request;
    request.principal = principal;
    request.method = method;
    request.route = match->route;
    request.path_params = match->path_params;
    request.query = std::move(query);
    request.body = body;
    request.now_ms = kNow;
    auto result = (*match->handler)(request);
    Reply reply;
    if (result.ok()) {
      reply.status = result.value().http_status;
      reply.body = result.value().body;
    } else {
      reply.status = result.error().http_status;
      reply.code = result.error().code;
      reply.body = result.error().message;
    }
    if (!reply.body.empty() && reply.code.empty()) {
      reply.json = json::parse(reply.body);
      BOOST_REQUIRE_MESSAGE(reply.json, "not JSON: " + reply.body);
    }
    return reply;
  }

  std::string id(int64_t v) { return std::to_string(v); }

  // Everything the tenancy and token routes can change, as text.
  std::string snapshot() {
    std::string out;
    for (const Tenant& t : ok(store->listTenants(TenantScope::everything(), "", 0, 1000))) {
      out += "tenant " + id(t.id) + " " + t.name + "\n";
    }
    for (const Site& site : ok(store->listSites())) {
      out += "site " + id(site.id) + " " + id(site.tenant_id) + " " + site.name + "\n";
      for (const EnrollmentToken& e : ok(store->listEnrollmentTokens(site.id))) {
        out += "enroll " + id(e.id) + " " + e.name + " " + (e.revoked ? "revoked" : "live") + "\n";
      }
    }
    for (const AdminToken& t : ok(store->listAdminTokens())) {
      out += "admin " + id(t.id) + " " + t.name + " " + (t.revoked ? "revoked" : "live") + "\n";
    }
    return out;
  }

  TempDir tmp;
  std::unique_ptr<SqlStore> store;
  std::vector<std::pair<std::optional<int64_t>, std::optional<int64_t>>> summary_calls;
  // What TenancyDeletions was told, in order.
  std::vector<int64_t> deleted_sites, deleted_tenants;
  std::unique_ptr<TenancyService> tenancy;
  std::unique_ptr<TokenService> tokens;
  AdminRouteTable routes;
  Tenant tenant_a, tenant_b;
  Site site_a, site_b;
  EnrollmentToken enroll_b;
  AdminToken operator_token, token_a, token_b;
  AdminPrincipal all, only_a;
};

}  // namespace

BOOST_FIXTURE_TEST_SUITE(tenancy_service, Fixture)

// --- Tenants ------------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(create_tenant_trims_the_name_and_answers_201_with_summary) {
  Reply r = call(all, "POST", "/api/v1/tenants", R"({"name": "  Charlie Dental  "})");
  BOOST_TEST(r.status == 201);
  BOOST_TEST(r.string("name") == "Charlie Dental");
  BOOST_TEST(r.string("created_at") == "2027-01-15T08:00:00.000Z");
  BOOST_TEST(cJSON_IsObject(r.get("summary")));
  BOOST_REQUIRE(!summary_calls.empty());
  BOOST_TEST(*summary_calls.back().first == r.integer("id"));
  BOOST_TEST(!summary_calls.back().second);
  BOOST_TEST(ok(store->findTenant(r.integer("id")))->name == "Charlie Dental");
}

BOOST_AUTO_TEST_CASE(create_tenant_refuses_bad_names_and_taken_ones) {
  const std::string before = snapshot();
  const std::vector<std::pair<std::string, std::string>> cases = {
      {R"({})", "missing_field"},
      {R"({"name": ""})", "invalid_field"},
      {R"({"name": "   "})", "invalid_field"},
      {R"({"name": "tab\there"})", "invalid_field"},
      {R"({"name": 7})", "invalid_field"},
      {"{\"name\": \"" + std::string(201, 'x') + "\"}", "invalid_field"},
      {R"({"name": "ok", "nmae": "typo"})", "invalid_field"},
      {R"({"name": "x")", "malformed_json"},
      {R"(["name"])", "malformed_json"},
  };
  for (const auto& [body, code] : cases) {
    Reply r = call(all, "POST", "/api/v1/tenants", body);
    BOOST_TEST(r.status == 400, body);
    BOOST_TEST(r.code == code, body);
  }
  Reply taken = call(all, "POST", "/api/v1/tenants", R"({"name": "Alpha"})");
  BOOST_TEST(taken.status == 409);
  BOOST_TEST(taken.code == "conflict");
  BOOST_TEST(snapshot() == before);
}

BOOST_AUTO_TEST_CASE(injection_looking_names_are_stored_and_searched_as_text) {
  Reply r = call(all, "POST", "/api/v1/tenants", R"({"name": "'; DROP TABLE tenants; --"})");
  BOOST_TEST(r.status == 201);
  call(all, "POST", "/api/v1/tenants", R"({"name": "100% uptime"})");
  call(all, "POST", "/api/v1/tenants", R"({"name": "a_b"})");
  BOOST_TEST(call(all, "GET", "/api/v1/tenants", "", {{"q", "drop table"}}).itemNames() ==
             (std::vector<std::string>{"'; DROP TABLE tenants; --"}));
  BOOST_TEST(call(all, "GET", "/api/v1/tenants", "", {{"q", "%"}}).itemNames() ==
             (std::vector<std::string>{"100% uptime"}));
  BOOST_TEST(call(all, "GET", "/api/v1/tenants", "", {{"q", "_"}}).itemNames() ==
             (std::vector<std::string>{"a_b"}));
  BOOST_TEST(call(all, "GET", "/api/v1/tenants", "", {{"q", "' OR 1=1 --"}}).itemNames().empty());
  BOOST_TEST(call(all, "GET", "/api/v1/tenants", "", {{"q", "bad\x01"}}).status == 400);
  BOOST_TEST(call(all, "GET", "/api/v1/tenants").itemNames().size() == 5u);
}

BOOST_AUTO_TEST_CASE(tenant_listing_pages_through_the_cursor) {
  for (int i = 0; i < 3; ++i) {
    call(all, "POST", "/api/v1/tenants", "{\"name\": \"t" + std::to_string(i) + "\"}");
  }
  std::vector<std::string> seen;
  std::vector<std::pair<std::string, std::string>> query = {{"limit", "2"}};
  int pages = 0;
  for (;;) {
    Reply r = call(all, "GET", "/api/v1/tenants", "", query);
    BOOST_REQUIRE(r.status == 200);
    for (const std::string& n : r.itemNames()) seen.push_back(n);
    ++pages;
    auto next = r.nextCursor();
    if (!next) break;
    query = {{"limit", "2"}, {"cursor", *next}};
  }
  BOOST_TEST(pages == 3);
  BOOST_TEST(seen == (std::vector<std::string>{"Alpha", "Bravo", "t0", "t1", "t2"}));
  BOOST_TEST(call(all, "GET", "/api/v1/tenants", "", {{"cursor", "garbage!"}}).code ==
             "invalid_cursor");
  BOOST_TEST(call(all, "GET", "/api/v1/tenants", "", {{"limit", "0"}}).status == 400);
}

BOOST_AUTO_TEST_CASE(scoped_token_lists_only_its_tenants_and_cannot_create_or_delete) {
  BOOST_TEST(call(only_a, "GET", "/api/v1/tenants").itemNames() ==
             (std::vector<std::string>{"Alpha"}));
  const std::string before = snapshot();
  Reply create = call(only_a, "POST", "/api/v1/tenants", R"({"name": "Mine"})");
  BOOST_TEST(create.status == 403);
  BOOST_TEST(create.code == "forbidden");
  Reply del = call(only_a, "DELETE", "/api/v1/tenants/" + id(tenant_a.id));
  BOOST_TEST(del.status == 403);
  BOOST_TEST(snapshot() == before);
}

BOOST_AUTO_TEST_CASE(rename_tenant_answers_the_tenant_and_409_on_a_taken_name) {
  Reply r = call(only_a, "PATCH", "/api/v1/tenants/" + id(tenant_a.id), R"({"name": "Alpha 2"})");
  BOOST_TEST(r.status == 200);
  BOOST_TEST(r.string("name") == "Alpha 2");
  BOOST_TEST(cJSON_IsObject(r.get("summary")));
  Reply taken = call(all, "PATCH", "/api/v1/tenants/" + id(tenant_a.id), R"({"name": "Bravo"})");
  BOOST_TEST(taken.status == 409);
  BOOST_TEST(ok(store->findTenant(tenant_a.id))->name == "Alpha 2");
}

BOOST_AUTO_TEST_CASE(delete_tenant_is_409_while_it_has_sites_then_204) {
  Reply refused = call(all, "DELETE", "/api/v1/tenants/" + id(tenant_b.id));
  BOOST_TEST(refused.status == 409);
  BOOST_TEST(deleted_tenants.empty());  // nothing deleted, nobody told
  BOOST_TEST(call(all, "DELETE", "/api/v1/sites/" + id(site_b.id)).status == 204);
  BOOST_TEST(deleted_sites == std::vector<int64_t>{site_b.id});
  Reply deleted = call(all, "DELETE", "/api/v1/tenants/" + id(tenant_b.id));
  BOOST_TEST(deleted.status == 204);
  BOOST_TEST(deleted_tenants == std::vector<int64_t>{tenant_b.id});
  BOOST_TEST(deleted.body.empty());
  BOOST_TEST(call(all, "GET", "/api/v1/tenants/" + id(tenant_b.id)).status == 404);
  BOOST_TEST(call(all, "DELETE", "/api/v1/tenants/" + id(tenant_b.id)).status == 404);
}

BOOST_AUTO_TEST_CASE(bad_ids_are_404) {
  for (const char* path :
       {"/api/v1/tenants/0", "/api/v1/tenants/abc", "/api/v1/tenants/-1", "/api/v1/tenants/99999",
        "/api/v1/sites/99999", "/api/v1/enrollment-tokens/x", "/api/v1/admin-tokens/99999"}) {
    Reply r = call(all, "GET", path);
    BOOST_TEST(r.status == 404, path);
    BOOST_TEST(r.code == "not_found", path);
  }
}

// --- Sites --------------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(create_site_generates_its_peer_key_and_answers_201_with_summary) {
  Reply r =
      call(only_a, "POST", "/api/v1/tenants/" + id(tenant_a.id) + "/sites", R"({"name": "Depot"})");
  BOOST_TEST(r.status == 201);
  BOOST_TEST(r.integer("tenant_id") == tenant_a.id);
  BOOST_TEST(r.get("peer_key") == nullptr);  // secret: never answered
  BOOST_REQUIRE(!summary_calls.empty());
  BOOST_TEST(*summary_calls.back().second == r.integer("id"));
  BOOST_TEST(*summary_calls.back().first == tenant_a.id);
  auto site = ok(store->findSite(r.integer("id")));
  BOOST_TEST(site->peer_key.size() == 64u);
  Reply again =
      call(only_a, "POST", "/api/v1/tenants/" + id(tenant_a.id) + "/sites", R"({"name": "Depot"})");
  BOOST_TEST(again.status == 409);
  // The same name in another tenant is fine.
  BOOST_TEST(
      call(all, "POST", "/api/v1/tenants/" + id(tenant_b.id) + "/sites", R"({"name": "Depot"})")
          .status == 201);
}

BOOST_AUTO_TEST_CASE(site_listings_filter_by_tenant_and_text) {
  call(all, "POST", "/api/v1/tenants/" + id(tenant_a.id) + "/sites", R"({"name": "Depot"})");
  BOOST_TEST(call(all, "GET", "/api/v1/sites").itemNames() ==
             (std::vector<std::string>{"a-hq", "b-hq", "Depot"}));
  BOOST_TEST(call(all, "GET", "/api/v1/sites", "", {{"tenant_id", id(tenant_a.id)}}).itemNames() ==
             (std::vector<std::string>{"a-hq", "Depot"}));
  BOOST_TEST(call(all, "GET", "/api/v1/sites", "", {{"q", "HQ"}}).itemNames() ==
             (std::vector<std::string>{"a-hq", "b-hq"}));
  BOOST_TEST(call(all, "GET", "/api/v1/tenants/" + id(tenant_a.id) + "/sites", "", {{"q", "dep"}})
                 .itemNames() == (std::vector<std::string>{"Depot"}));
  BOOST_TEST(call(only_a, "GET", "/api/v1/sites").itemNames() ==
             (std::vector<std::string>{"a-hq", "Depot"}));
  BOOST_TEST(call(all, "GET", "/api/v1/sites", "", {{"tenant_id", "x"}}).status == 400);
  Reply unknown = call(all, "GET", "/api/v1/sites", "", {{"tenant_id", "9999"}});
  BOOST_TEST(unknown.status == 200);
  BOOST_TEST(unknown.itemNames().empty());
}

BOOST_AUTO_TEST_CASE(site_detail_rename_and_delete) {
  Reply got = call(only_a, "GET", "/api/v1/sites/" + id(site_a.id));
  BOOST_TEST(got.status == 200);
  BOOST_TEST(got.string("name") == "a-hq");
  BOOST_TEST(cJSON_IsObject(got.get("summary")));
  Reply renamed = call(only_a, "PATCH", "/api/v1/sites/" + id(site_a.id), R"({"name": "HQ"})");
  BOOST_TEST(renamed.status == 200);
  BOOST_TEST(renamed.string("name") == "HQ");
  BOOST_TEST(call(only_a, "PATCH", "/api/v1/sites/" + id(site_a.id), R"({"name": 1})").status ==
             400);
  BOOST_TEST(call(only_a, "DELETE", "/api/v1/sites/" + id(site_a.id)).status == 204);
  BOOST_TEST(!ok(store->findSite(site_a.id)));
}

BOOST_AUTO_TEST_CASE(delete_site_with_agents_is_409) {
  AgentRecord agent;
  agent.id = "agent-1";
  agent.hostname = "pc-1";
  agent.agent_version = "1";
  agent.secret = std::string(64, 'a');
  ok(store->enrollAgent(enroll_b.id, agent, kNow));
  ok(store->retireAgent("agent-1", kNow));
  Reply r = call(all, "DELETE", "/api/v1/sites/" + id(site_b.id));
  BOOST_TEST(r.status == 409);
  BOOST_TEST(r.code == "conflict");
  BOOST_TEST(deleted_sites.empty());
  BOOST_TEST(ok(store->findSite(site_b.id)).has_value());
}

// --- Enrollment tokens --------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(enrollment_token_is_shown_once_and_stored_as_its_hash) {
  Reply r = call(only_a, "POST", "/api/v1/sites/" + id(site_a.id) + "/enrollment-tokens",
                 R"({"name": "Intune", "expires_at": "2027-02-01T00:00:00+01:00", "max_uses": 5})");
  BOOST_TEST(r.status == 201);
  const std::string token = r.string("token");
  BOOST_TEST(token.rfind("vge_", 0) == 0u);
  BOOST_TEST(token.size() == 4u + 64u);
  BOOST_TEST(r.string("name") == "Intune");
  BOOST_TEST(r.string("expires_at") == "2027-01-31T23:00:00.000Z");
  BOOST_TEST(r.integer("max_uses") == 5);
  BOOST_TEST(r.integer("uses") == 0);
  BOOST_TEST(r.integer("tenant_id") == tenant_a.id);
  BOOST_TEST(r.boolean("usable"));
  BOOST_TEST(!r.boolean("revoked"));
  BOOST_TEST(cJSON_IsNull(r.get("revoked_at")));

  // Enrollment looks the token up by its hash, prefix included.
  auto stored = ok(store->findEnrollmentTokenByHash(sha256Hex(token)));
  BOOST_REQUIRE(stored);
  BOOST_TEST(stored->id == r.integer("id"));
  BOOST_TEST(stored->site_id == site_a.id);

  Reply got = call(only_a, "GET", "/api/v1/enrollment-tokens/" + id(r.integer("id")));
  BOOST_TEST(got.status == 200);
  BOOST_TEST(got.get("token") == nullptr);
  Reply list = call(only_a, "GET", "/api/v1/sites/" + id(site_a.id) + "/enrollment-tokens");
  BOOST_TEST(list.itemNames() == (std::vector<std::string>{"Intune"}));
  BOOST_TEST(list.body.find(token) == std::string::npos);
}

BOOST_AUTO_TEST_CASE(enrollment_token_body_is_checked) {
  const std::string path = "/api/v1/sites/" + id(site_a.id) + "/enrollment-tokens";
  const std::string before = snapshot();
  for (const char* body : {R"({"max_uses": 0})", R"({"max_uses": 1000001})", R"({"max_uses": 1.5})",
                           R"({"expires_at": "2020-01-01T00:00:00Z"})",
                           R"({"expires_at": "tomorrow"})", R"({"uses": 3})", R"({"name": 5})"}) {
    Reply r = call(all, "POST", path, body);
    BOOST_TEST(r.status == 400, body);
  }
  BOOST_TEST(snapshot() == before);
  Reply minimal = call(all, "POST", path, "");
  BOOST_TEST(minimal.status == 201);
  BOOST_TEST(minimal.string("name") == "");
  BOOST_TEST(cJSON_IsNull(minimal.get("expires_at")));
  BOOST_TEST(cJSON_IsNull(minimal.get("max_uses")));
}

BOOST_AUTO_TEST_CASE(revoking_an_enrollment_token_makes_it_unusable) {
  Reply r = call(all, "DELETE", "/api/v1/enrollment-tokens/" + id(enroll_b.id));
  BOOST_TEST(r.status == 200);
  BOOST_TEST(r.boolean("revoked"));
  BOOST_TEST(!r.boolean("usable"));
  BOOST_TEST(r.string("revoked_at") == "2027-01-15T08:00:00.000Z");
  BOOST_TEST(!ok(store->findEnrollmentToken(enroll_b.id))->usableAt(kNow));
}

BOOST_AUTO_TEST_CASE(enrollment_token_list_pages) {
  const std::string path = "/api/v1/sites/" + id(site_a.id) + "/enrollment-tokens";
  for (int i = 0; i < 3; ++i) {
    call(all, "POST", path, "{\"name\": \"e" + std::to_string(i) + "\"}");
  }
  Reply first = call(all, "GET", path, "", {{"limit", "2"}});
  BOOST_TEST(first.itemNames() == (std::vector<std::string>{"e0", "e1"}));
  BOOST_REQUIRE(first.nextCursor());
  Reply second = call(all, "GET", path, "", {{"limit", "2"}, {"cursor", *first.nextCursor()}});
  BOOST_TEST(second.itemNames() == (std::vector<std::string>{"e2"}));
  BOOST_TEST(!second.nextCursor());
}

// --- Admin tokens -------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(admin_token_is_shown_once_and_authenticates_with_its_scope) {
  Reply r = call(all, "POST", "/api/v1/admin-tokens",
                 "{\"name\": \"helpdesk\", \"tenant_ids\": [" + id(tenant_b.id) + ", " +
                     id(tenant_a.id) + "], \"expires_at\": \"2027-06-01T00:00:00Z\"}");
  BOOST_TEST(r.status == 201);
  const std::string token = r.string("token");
  BOOST_TEST(token.rfind("vga_", 0) == 0u);
  BOOST_TEST(!r.boolean("all_tenants"));
  BOOST_TEST(json::print(r.get("tenant_ids")) ==
             "[" + id(tenant_a.id) + "," + id(tenant_b.id) + "]");
  auto stored = ok(store->findAdminToken(r.integer("id")));
  BOOST_TEST(stored->token_hash == sha256Hex(token));
  BOOST_TEST(*stored->created_by == operator_token.id);

  AdminAuthenticator auth(*store);
  auto principal = auth.authenticate("Bearer " + token, kNow);
  BOOST_REQUIRE(principal);
  BOOST_TEST(principal->token_name == "helpdesk");
  BOOST_TEST(principal->scope.tenant_ids == (std::vector<int64_t>{tenant_a.id, tenant_b.id}));

  Reply got = call(all, "GET", "/api/v1/admin-tokens/" + id(r.integer("id")));
  BOOST_TEST(got.get("token") == nullptr);
  BOOST_TEST(call(all, "GET", "/api/v1/admin-tokens").body.find(token) == std::string::npos);
}

BOOST_AUTO_TEST_CASE(admin_token_without_or_with_null_tenants_is_all_tenants) {
  Reply absent = call(all, "POST", "/api/v1/admin-tokens", R"({"name": "ops"})");
  BOOST_TEST(absent.status == 201);
  BOOST_TEST(absent.boolean("all_tenants"));
  BOOST_TEST(json::print(absent.get("tenant_ids")) == "[]");
  Reply null = call(all, "POST", "/api/v1/admin-tokens", R"({"name": "ops2", "tenant_ids": null})");
  BOOST_TEST(null.status == 201);
  BOOST_TEST(null.boolean("all_tenants"));
}

BOOST_AUTO_TEST_CASE(admin_token_body_is_checked) {
  const std::string before = snapshot();
  for (const char* body :
       {R"({})", R"({"name": ""})", R"({"name": "x", "tenant_ids": []})",
        R"({"name": "x", "tenant_ids": [0]})", R"({"name": "x", "tenant_ids": "1"})",
        R"({"name": "x", "tenant_ids": [99999]})",
        R"({"name": "x", "expires_at": "2000-01-01T00:00:00Z"})",
        R"({"name": "x", "all_tenants": true})"}) {
    Reply r = call(all, "POST", "/api/v1/admin-tokens", body);
    BOOST_TEST(r.status == 400, body);
  }
  BOOST_TEST(snapshot() == before);
}

BOOST_AUTO_TEST_CASE(scoped_token_creates_tokens_only_inside_its_scope) {
  Reply inside = call(only_a, "POST", "/api/v1/admin-tokens",
                      "{\"name\": \"a-readonly\", \"tenant_ids\": [" + id(tenant_a.id) + "]}");
  BOOST_TEST(inside.status == 201);
  BOOST_TEST(*ok(store->findAdminToken(inside.integer("id")))->created_by == token_a.id);
  BOOST_TEST(call(only_a, "GET", "/api/v1/admin-tokens").itemNames() ==
             (std::vector<std::string>{"tech A", "a-readonly"}));
}

BOOST_AUTO_TEST_CASE(any_token_may_revoke_itself) {
  Reply r = call(only_a, "DELETE", "/api/v1/admin-tokens/" + id(token_a.id));
  BOOST_TEST(r.status == 200);
  BOOST_TEST(r.boolean("revoked"));
  BOOST_TEST(r.string("revoked_at") == "2027-01-15T08:00:00.000Z");
  AdminAuthenticator auth(*store);
  BOOST_TEST(!auth.authenticate(std::string("Bearer tech-a"), kNow));
  BOOST_TEST(auth.authenticate(std::string("Bearer tech-b"), kNow).has_value());
}

BOOST_AUTO_TEST_CASE(a_token_whose_tenants_were_deleted_sees_nothing) {
  AdminPrincipal orphan = only_a;
  orphan.scope.tenant_ids.clear();  // as authenticate answers once tenant A is gone
  BOOST_TEST(call(orphan, "GET", "/api/v1/tenants").itemNames().empty());
  BOOST_TEST(call(orphan, "GET", "/api/v1/sites").itemNames().empty());
  BOOST_TEST(call(orphan, "GET", "/api/v1/admin-tokens").itemNames() ==
             (std::vector<std::string>{"tech A"}));  // itself only
  BOOST_TEST(call(orphan, "GET", "/api/v1/sites/" + id(site_a.id)).status == 404);
  BOOST_TEST(call(orphan, "POST", "/api/v1/admin-tokens", R"({"name": "x"})").status == 403);
}

BOOST_AUTO_TEST_CASE(a_created_token_is_the_callers_child_with_its_role_unless_a_lower_one) {
  Reply same = call(all, "POST", "/api/v1/admin-tokens", R"({"name": "ops"})");
  BOOST_TEST(same.status == 201);
  BOOST_TEST(same.string("role") == "admin");
  BOOST_TEST(same.integer("parent_id") == operator_token.id);
  Reply reader =
      call(all, "POST", "/api/v1/admin-tokens", R"({"name": "reports", "role": "read-only"})");
  BOOST_TEST(reader.status == 201);
  BOOST_TEST(reader.string("role") == "read-only");
  BOOST_TEST((ok(store->findAdminToken(reader.integer("id")))->role == AdminRole::kReadOnly));
  AdminAuthenticator auth(*store);
  auto principal = auth.authenticate("Bearer " + reader.string("token"), kNow);
  BOOST_REQUIRE(principal);
  BOOST_TEST((principal->role == AdminRole::kReadOnly));
  BOOST_TEST(call(all, "GET", "/api/v1/admin-tokens/" + id(reader.integer("id"))).string("role") ==
             "read-only");
  // Tokens of the command line or the first start are roots.
  BOOST_TEST(cJSON_IsNull(
      call(all, "GET", "/api/v1/admin-tokens/" + id(operator_token.id)).get("parent_id")));
}

BOOST_AUTO_TEST_CASE(a_token_cannot_create_one_of_a_higher_role_or_an_unknown_one) {
  const std::string before = snapshot();
  AdminPrincipal operator_principal = all;
  operator_principal.role = AdminRole::kOperator;
  Reply higher =
      call(operator_principal, "POST", "/api/v1/admin-tokens", R"({"name": "x", "role": "admin"})");
  BOOST_TEST(higher.status == 403);
  BOOST_TEST(higher.code == "forbidden");
  for (const char* body : {R"({"name": "x", "role": "root"})", R"({"name": "x", "role": 2})",
                           R"({"name": "x", "role": "Admin"})"}) {
    BOOST_TEST(call(all, "POST", "/api/v1/admin-tokens", body).status == 400, body);
  }
  BOOST_TEST(snapshot() == before);
  // Without `role`, the creator's own, which is lower than admin here.
  Reply same = call(operator_principal, "POST", "/api/v1/admin-tokens", R"({"name": "tech"})");
  BOOST_TEST(same.status == 201);
  BOOST_TEST(same.string("role") == "operator");
}

BOOST_AUTO_TEST_CASE(a_created_token_expires_no_later_than_its_creator) {
  NewAdminToken brief;
  brief.token_hash = sha256Hex("brief");
  brief.name = "brief";
  brief.expires_at_ms = kNow + 3000;
  const AdminPrincipal creator = principalOf(ok(store->createAdminToken(brief, kNow)));
  // None asked: the creator's.
  Reply inherited = call(creator, "POST", "/api/v1/admin-tokens", R"({"name": "child"})");
  BOOST_TEST(inherited.status == 201);
  BOOST_TEST(inherited.string("expires_at") == "2027-01-15T08:00:03.000Z");
  // Earlier: kept. Later: refused.
  Reply earlier = call(creator, "POST", "/api/v1/admin-tokens",
                       R"({"name": "earlier", "expires_at": "2027-01-15T08:00:01Z"})");
  BOOST_TEST(earlier.status == 201);
  BOOST_TEST(earlier.string("expires_at") == "2027-01-15T08:00:01.000Z");
  const std::string before = snapshot();
  Reply later = call(creator, "POST", "/api/v1/admin-tokens",
                     R"({"name": "later", "expires_at": "2027-01-15T08:00:04Z"})");
  BOOST_TEST(later.status == 400);
  BOOST_TEST(later.code == "invalid_field");
  BOOST_TEST(snapshot() == before);

  AdminAuthenticator auth(*store);
  const std::string child = "Bearer " + inherited.string("token");
  BOOST_TEST(auth.authenticate(child, kNow + 2999).has_value());
  BOOST_TEST(!auth.authenticate(child, kNow + 3000));
}

BOOST_AUTO_TEST_CASE(revoking_a_token_revokes_the_tokens_it_created) {
  Reply child = call(only_a, "POST", "/api/v1/admin-tokens",
                     "{\"name\": \"child\", \"tenant_ids\": [" + id(tenant_a.id) + "]}");
  BOOST_REQUIRE_EQUAL(child.status, 201);
  Reply revoked = call(all, "DELETE", "/api/v1/admin-tokens/" + id(token_a.id));
  BOOST_TEST(revoked.status == 200);
  Reply seen = call(all, "GET", "/api/v1/admin-tokens/" + id(child.integer("id")));
  BOOST_TEST(seen.boolean("revoked"));
  BOOST_TEST(seen.string("revoked_at") == revoked.string("revoked_at"));
  AdminAuthenticator auth(*store);
  BOOST_TEST(!auth.authenticate("Bearer " + child.string("token"), kNow));
  BOOST_TEST(auth.authenticate(std::string("Bearer tech-b"), kNow).has_value());
}

// --- Tenant isolation ---------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(token_of_tenant_a_cannot_see_or_change_tenant_b) {
  const std::string B = id(tenant_b.id);
  const std::string b_site = id(site_b.id);
  const std::string b_enroll = id(enroll_b.id);
  struct Attempt {
    std::string method;
    std::string path;
    std::string body;
    std::vector<std::pair<std::string, std::string>> query;
    int status;
  };
  const std::vector<Attempt> attempts = {
      {"GET", "/api/v1/tenants/" + B, "", {}, 404},
      {"PATCH", "/api/v1/tenants/" + B, R"({"name": "pwned"})", {}, 404},
      {"DELETE", "/api/v1/tenants/" + B, "", {}, 403},
      {"GET", "/api/v1/tenants/" + B + "/sites", "", {}, 404},
      {"POST", "/api/v1/tenants/" + B + "/sites", R"({"name": "rogue"})", {}, 404},
      {"GET", "/api/v1/sites/" + b_site, "", {}, 404},
      {"PATCH", "/api/v1/sites/" + b_site, R"({"name": "pwned"})", {}, 404},
      {"DELETE", "/api/v1/sites/" + b_site, "", {}, 404},
      {"GET", "/api/v1/sites/" + b_site + "/enrollment-tokens", "", {}, 404},
      {"POST", "/api/v1/sites/" + b_site + "/enrollment-tokens", "{}", {}, 404},
      {"GET", "/api/v1/enrollment-tokens/" + b_enroll, "", {}, 404},
      {"DELETE", "/api/v1/enrollment-tokens/" + b_enroll, "", {}, 404},
      {"POST", "/api/v1/admin-tokens", "{\"name\": \"x\", \"tenant_ids\": [" + B + "]}", {}, 403},
      {"POST",
       "/api/v1/admin-tokens",
       "{\"name\": \"x\", \"tenant_ids\": [" + id(tenant_a.id) + ", " + B + "]}",
       {},
       403},
      {"POST", "/api/v1/admin-tokens", R"({"name": "x"})", {}, 403},
      {"GET", "/api/v1/admin-tokens/" + id(token_b.id), "", {}, 404},
      {"DELETE", "/api/v1/admin-tokens/" + id(token_b.id), "", {}, 404},
      {"GET", "/api/v1/admin-tokens/" + id(operator_token.id), "", {}, 404},
      {"DELETE", "/api/v1/admin-tokens/" + id(operator_token.id), "", {}, 404},
  };
  const std::string before = snapshot();
  for (const Attempt& a : attempts) {
    Reply r = call(only_a, a.method, a.path, a.body, a.query);
    BOOST_TEST(r.status == a.status, a.method << " " << a.path << " " << a.body);
    BOOST_TEST(r.code == (a.status == 404 ? "not_found" : "forbidden"), a.method << " " << a.path);
  }
  BOOST_TEST(snapshot() == before);

  // Listings never show B's objects; filtered to B they are empty, not refused.
  Reply filtered = call(only_a, "GET", "/api/v1/sites", "", {{"tenant_id", B}});
  BOOST_TEST(filtered.status == 200);
  BOOST_TEST(filtered.itemNames().empty());
  const std::string tenants = call(only_a, "GET", "/api/v1/tenants").body;
  BOOST_TEST(tenants.find("Bravo") == std::string::npos);
  const std::string sites = call(only_a, "GET", "/api/v1/sites").body;
  BOOST_TEST(sites.find("b-hq") == std::string::npos);
  BOOST_TEST(call(only_a, "GET", "/api/v1/admin-tokens").itemNames() ==
             (std::vector<std::string>{"tech A"}));
}

BOOST_AUTO_TEST_CASE(another_tenants_object_is_answered_exactly_like_an_unknown_one) {
  const std::vector<std::pair<std::string, std::string>> pairs = {
      {"/api/v1/tenants/" + id(tenant_b.id), "/api/v1/tenants/99999"},
      {"/api/v1/sites/" + id(site_b.id), "/api/v1/sites/99999"},
      {"/api/v1/enrollment-tokens/" + id(enroll_b.id), "/api/v1/enrollment-tokens/99999"},
      {"/api/v1/admin-tokens/" + id(token_b.id), "/api/v1/admin-tokens/99999"},
  };
  for (const auto& [theirs, unknown] : pairs) {
    Reply a = call(only_a, "GET", theirs);
    Reply b = call(only_a, "GET", unknown);
    BOOST_TEST(a.status == b.status, theirs);
    BOOST_TEST(a.code == b.code, theirs);
    BOOST_TEST(a.body == b.body, theirs);
  }
  Reply a = call(only_a, "GET", "/api/v1/sites", "", {{"tenant_id", id(tenant_b.id)}});
  Reply b = call(only_a, "GET", "/api/v1/sites", "", {{"tenant_id", "99999"}});
  BOOST_TEST(a.body == b.body);
}

// Business hours: set (answered in canonical form), read, refused naming the member,
// invisible to another tenant's token, removed.
BOOST_AUTO_TEST_CASE(business_hours_are_set_read_checked_and_removed_per_tenant) {
  const std::string path = "/api/v1/tenants/" + std::to_string(tenant_a.id) + "/business-hours";
  BOOST_TEST(call(only_a, "GET", path).status == 404);
  Reply set = call(only_a, "PUT", path,
                   R"({"time_zone": "Europe/Berlin", "holidays": ["2026-12-25"], "weekly": [)"
                   R"({"day": "fri", "open": "08:00", "close": "16:00"},)"
                   R"({"day": "mon", "open": "08:00", "close": "18:00"}]})");
  BOOST_REQUIRE_EQUAL(set.status, 200);
  const std::string canonical =
      R"({"time_zone":"Europe/Berlin","weekly":[{"day":"mon","open":"08:00","close":"18:00"},)"
      R"({"day":"fri","open":"08:00","close":"16:00"}],"holidays":["2026-12-25"]})";
  BOOST_TEST(set.body == canonical);
  BOOST_TEST(call(only_a, "GET", path).body == canonical);
  BOOST_TEST(*store->findTenantBusinessHours(tenant_a.id).value() == canonical);
  for (
      const auto& [body, mention] : std::vector<std::pair<std::string, std::string>>{
          {R"({"time_zone": "Mars/Olympus", "weekly": []})", "time_zone"},
          {R"({"time_zone": "UTC", "weekly": [{"day": "mon", "open": "18:00", "close": "08:00"}]})",
           "weekly[0].close"},
          {"{", "JSON object"},
      }) {
    Reply refused = call(only_a, "PUT", path, body);
    BOOST_TEST(refused.status == 400, body);
    BOOST_TEST(refused.body.find(mention) != std::string::npos, refused.body);
  }
  BOOST_TEST(*store->findTenantBusinessHours(tenant_a.id).value() == canonical);  // unchanged
  const AdminPrincipal only_b = principalOf(token_b);
  BOOST_TEST(call(only_b, "GET", path).status == 404);
  BOOST_TEST(call(only_b, "PUT", path, R"({"time_zone": "UTC", "weekly": []})").status == 404);
  BOOST_TEST(call(only_a, "DELETE", path).status == 204);
  BOOST_TEST(call(only_a, "GET", path).status == 404);
}

BOOST_AUTO_TEST_SUITE_END()
