// The admin API's seam: route matching, parameters, cursors, dates and JSON bodies. Every
// parser here faces untrusted input; each refusal must be a 4xx naming the field.

#define BOOST_TEST_MODULE collector_admin_api
#include "collector/admin/admin_api.h"

#include <boost/test/unit_test.hpp>

#include "common/json.h"
#include "common/protocol.h"

namespace {

using vigil::collector::AdminAnswer;
using vigil::collector::AdminPrincipal;
using vigil::collector::AdminRequest;
using vigil::collector::AdminRole;
using vigil::collector::AdminRouteTable;
using vigil::collector::ApiResult;
using vigil::collector::JsonBody;
using vigil::collector::RouteAccess;

AdminRequest withQuery(std::vector<std::pair<std::string, std::string>> query) {
  AdminRequest r;
  r.query = std::move(query);
  return r;
}

ApiResult<AdminAnswer> ok(const AdminRequest&) { return AdminAnswer{200, "{}"}; }

}  // namespace

BOOST_AUTO_TEST_CASE(routes_match_templates_and_capture_parameters) {
  AdminRouteTable table;
  table.add("GET", "/api/v1/tenants", AdminRole::kReadOnly, ok);
  table.add("GET", "/api/v1/tenants/{tenant_id}", AdminRole::kReadOnly, ok);
  table.add("PATCH", "/api/v1/tenants/{tenant_id}", AdminRole::kAdmin, ok);
  table.add("GET", "/api/v1/tenants/{tenant_id}/sites", AdminRole::kReadOnly, ok);
  std::string allow;
  auto m = table.match("GET", "/api/v1/tenants/42/sites", &allow);
  BOOST_REQUIRE(m);
  BOOST_TEST(m->route == "/api/v1/tenants/{tenant_id}/sites");
  BOOST_TEST(m->path_params.at("tenant_id") == "42");
  BOOST_TEST(!table.match("GET", "/api/v1/tenants/42/sites/x", &allow));
  BOOST_TEST(allow.empty());  // 404: no template has this shape
  BOOST_TEST(!table.match("DELETE", "/api/v1/tenants/42", &allow));
  BOOST_TEST(allow == "GET, PATCH");  // 405 with Allow
  BOOST_TEST(table.routes().size() == 4u);
}

namespace {

AdminPrincipal principalOf(AdminRole role, int64_t token_id = 7) {
  AdminPrincipal p;
  p.token_id = token_id;
  p.role = role;
  return p;
}

// True if `held` may call a route needing `needed`.
bool admits(AdminRole needed, AdminRole held) {
  return !vigil::collector::checkAccess(needed, principalOf(held), {}).has_value();
}

}  // namespace

BOOST_AUTO_TEST_CASE(roles_are_ordered_and_spelt_as_the_api_spells_them) {
  BOOST_TEST(vigil::collector::adminRoleName(AdminRole::kReadOnly) == std::string("read-only"));
  BOOST_TEST(vigil::collector::adminRoleName(AdminRole::kOperator) == std::string("operator"));
  BOOST_TEST(vigil::collector::adminRoleName(AdminRole::kAdmin) == std::string("admin"));
  for (AdminRole role : {AdminRole::kReadOnly, AdminRole::kOperator, AdminRole::kAdmin}) {
    BOOST_TEST((vigil::collector::parseAdminRole(vigil::collector::adminRoleName(role)) == role));
  }
  for (const char* bad : {"", "Admin", "readonly", "read_only", "root", "admin "}) {
    BOOST_TEST(!vigil::collector::parseAdminRole(bad).has_value(), bad);
  }
  // A principal nobody set up reads at most.
  BOOST_TEST((AdminPrincipal{}.role == AdminRole::kReadOnly));
}

BOOST_AUTO_TEST_CASE(a_route_admits_the_roles_that_cover_its_own_and_refuses_the_rest_403) {
  BOOST_TEST(admits(AdminRole::kReadOnly, AdminRole::kReadOnly));
  BOOST_TEST(admits(AdminRole::kReadOnly, AdminRole::kOperator));
  BOOST_TEST(admits(AdminRole::kReadOnly, AdminRole::kAdmin));
  BOOST_TEST(!admits(AdminRole::kOperator, AdminRole::kReadOnly));
  BOOST_TEST(admits(AdminRole::kOperator, AdminRole::kOperator));
  BOOST_TEST(admits(AdminRole::kOperator, AdminRole::kAdmin));
  BOOST_TEST(!admits(AdminRole::kAdmin, AdminRole::kReadOnly));
  BOOST_TEST(!admits(AdminRole::kAdmin, AdminRole::kOperator));
  BOOST_TEST(admits(AdminRole::kAdmin, AdminRole::kAdmin));

  auto refused =
      vigil::collector::checkAccess(AdminRole::kAdmin, principalOf(AdminRole::kReadOnly), {});
  BOOST_REQUIRE(refused.has_value());
  BOOST_TEST(refused->http_status == 403);
  BOOST_TEST(refused->code == "forbidden");
  BOOST_TEST(refused->message.find("admin") != std::string::npos, refused->message);
  BOOST_TEST(refused->message.find("read-only") != std::string::npos, refused->message);
}

BOOST_AUTO_TEST_CASE(a_self_route_also_admits_the_token_its_path_names_and_no_other) {
  const RouteAccess revoke(AdminRole::kAdmin, "token_id");
  auto check = [&](AdminRole role, int64_t token_id, const std::string& named) {
    return !vigil::collector::checkAccess(revoke, principalOf(role, token_id),
                                          {{"token_id", named}})
                .has_value();
  };
  BOOST_TEST(check(AdminRole::kReadOnly, 7, "7"));
  BOOST_TEST(check(AdminRole::kReadOnly, 7, "007"));  // the same id, as the route parses it
  BOOST_TEST(!check(AdminRole::kReadOnly, 7, "8"));
  BOOST_TEST(!check(AdminRole::kReadOnly, 7, "7x"));
  BOOST_TEST(!check(AdminRole::kReadOnly, 7, ""));
  BOOST_TEST(!check(AdminRole::kOperator, 0, "0"));  // no token, no self
  BOOST_TEST(check(AdminRole::kAdmin, 7, "8"));
  // Another parameter does not count.
  BOOST_TEST(vigil::collector::checkAccess(revoke, principalOf(AdminRole::kReadOnly, 7),
                                           {{"tenant_id", "7"}})
                 .has_value());
}

BOOST_AUTO_TEST_CASE(a_match_carries_the_access_its_route_declared) {
  AdminRouteTable table;
  table.add("GET", "/api/v1/admin-tokens/{token_id}", AdminRole::kReadOnly, ok);
  table.add("DELETE", "/api/v1/admin-tokens/{token_id}", RouteAccess(AdminRole::kAdmin, "token_id"),
            ok);
  table.add("POST", "/api/v1/alerts/{alert_id}/resolve", AdminRole::kOperator, ok);
  auto get = table.match("GET", "/api/v1/admin-tokens/3", nullptr);
  BOOST_REQUIRE(get);
  BOOST_TEST((get->access.role == AdminRole::kReadOnly));
  BOOST_TEST(get->access.or_self.empty());
  auto del = table.match("DELETE", "/api/v1/admin-tokens/3", nullptr);
  BOOST_REQUIRE(del);
  BOOST_TEST((del->access.role == AdminRole::kAdmin));
  BOOST_TEST(del->access.or_self == "token_id");
  BOOST_TEST(
      (table.accessOf("POST", "/api/v1/alerts/{alert_id}/resolve")->role == AdminRole::kOperator));
  BOOST_TEST(!table.accessOf("GET", "/api/v1/alerts/{alert_id}/resolve"));
}

BOOST_AUTO_TEST_CASE(ids_that_cannot_exist_are_not_found) {
  for (const char* bad : {"", "0", "-1", "1e3", "abc", "12345678901234567890", " 1", "1 "}) {
    BOOST_TEST_CONTEXT("id '" << bad << "'") {
      AdminRequest r;
      r.path_params["tenant_id"] = bad;
      auto id = vigil::collector::parseIdParam(r, "tenant_id", "tenant");
      BOOST_REQUIRE(!id.ok());
      BOOST_TEST(id.error().http_status == 404);
      BOOST_TEST(id.error().code == "not_found");
    }
  }
  AdminRequest r;
  r.path_params["tenant_id"] = "17";
  BOOST_TEST(vigil::collector::parseIdParam(r, "tenant_id", "tenant").value() == 17);
}

BOOST_AUTO_TEST_CASE(limits_default_clamp_and_refuse) {
  BOOST_TEST(vigil::collector::parseLimit(withQuery({})).value() == 100u);
  BOOST_TEST(vigil::collector::parseLimit(withQuery({{"limit", "5000"}})).value() == 1000u);
  BOOST_TEST(vigil::collector::parseLimit(withQuery({{"limit", "7"}})).value() == 7u);
  for (const char* bad : {"0", "-3", "x", "", "1.5"}) {
    auto r = vigil::collector::parseLimit(withQuery({{"limit", bad}}));
    BOOST_TEST(!r.ok());
    BOOST_TEST(r.error().http_status == 400);
  }
}

BOOST_AUTO_TEST_CASE(cursors_round_trip_and_forgeries_are_refused) {
  const std::string cursor = vigil::collector::encodeCursor("ag_0042");
  auto key = vigil::collector::cursorKey(withQuery({{"cursor", cursor}}));
  BOOST_REQUIRE(key.ok());
  BOOST_TEST(*key.value() == "ag_0042");
  auto id =
      vigil::collector::cursorId(withQuery({{"cursor", vigil::collector::encodeCursor("99")}}), 0);
  BOOST_TEST(id.value() == 99);
  BOOST_TEST(vigil::collector::cursorId(withQuery({}), 7).value() == 7);
  const std::string not_numeric = vigil::collector::encodeCursor("abc");
  for (const std::string& bad : {std::string("ag_0042"), std::string("!!"), std::string(600, 'A'),
                                 std::string("YWJj"), not_numeric, std::string("")}) {
    BOOST_TEST_CONTEXT("cursor '" << bad.substr(0, 20) << "'") {
      auto r = vigil::collector::cursorId(withQuery({{"cursor", bad}}), 0);
      BOOST_REQUIRE(!r.ok());
      BOOST_TEST(r.error().code == "invalid_cursor");
    }
  }
}

BOOST_AUTO_TEST_CASE(rfc3339_dates_parse_with_zones_and_fractions) {
  using vigil::collector::parseRfc3339;
  BOOST_TEST(parseRfc3339("1970-01-01T00:00:00Z", "t").value() == 0);
  BOOST_TEST(parseRfc3339("2026-11-23T08:00:00.250Z", "t").value() == 1795420800250);
  BOOST_TEST(parseRfc3339("2026-11-23T09:00:00+01:00", "t").value() == 1795420800000);
  BOOST_TEST(parseRfc3339("2026-11-23T03:00:00-05:00", "t").value() == 1795420800000);
  for (const char* bad :
       {"2026-11-23", "2026-11-23 08:00:00Z", "2026-13-01T00:00:00Z", "2026-02-30T00:00:00Z",
        "2026-11-23T24:00:00Z", "2026-11-23T08:00:00", "2026-11-23T08:00:00+0100", "yesterday",
        "2026-11-23T08:00:00.Z", "1969-12-31T23:59:59Z", "'; DROP TABLE alerts; --"}) {
    BOOST_TEST_CONTEXT("date '" << bad << "'") {
      auto r = parseRfc3339(bad, "starts_at");
      BOOST_REQUIRE(!r.ok());
      BOOST_TEST(r.error().http_status == 400);
      BOOST_TEST(r.error().message.find("starts_at") != std::string::npos);
    }
  }
}

BOOST_AUTO_TEST_CASE(answers_are_valid_utf8_even_for_text_stored_before_it_was_checked) {
  vigil::json::JsonPtr obj(cJSON_CreateObject());
  vigil::collector::out::string(obj.get(), "hostname", "pc\xff\xc3-\xc3\xa9");
  const std::string printed = vigil::json::print(obj.get());
  BOOST_TEST(vigil::json::isUtf8(printed));
  BOOST_TEST(printed == "{\"hostname\":\"pc\xef\xbf\xbd\xef\xbf\xbd-\xc3\xa9\"}");
}

BOOST_AUTO_TEST_CASE(json_bodies_are_typed_and_strict) {
  BOOST_TEST(!JsonBody::parse("[1]").ok());
  BOOST_TEST(!JsonBody::parse("{").ok());
  BOOST_TEST(JsonBody::parse("").ok());  // no body: an empty object
  auto body = JsonBody::parse(
      R"({"name":"Acme","n":3,"big":1e300,"frac":1.5,"flag":true,"ids":[3,1,3],
          "tags":["a"],"ctl":"a\u0001b","slash":"a\\u0000b","when":"2026-11-23T08:00:00Z"})");
  BOOST_REQUIRE(body.ok());
  const JsonBody& b = body.value();
  BOOST_TEST(b.requiredString("name", 200).value() == "Acme");
  BOOST_TEST(b.requiredString("missing", 200).error().code == "missing_field");
  BOOST_TEST(!b.optionalString("n", 200).ok());   // wrong type
  BOOST_TEST(!b.optionalString("name", 3).ok());  // too long
  BOOST_TEST(!b.optionalString("ctl", 200).ok());
  BOOST_TEST(b.optionalString("slash", 200).value().value() == "a\\u0000b");
  BOOST_TEST(!JsonBody::parse(R"({"nul":"a\u0000b"})").ok());  // cJSON would cut it at the NUL
  // A raw NUL, raw control characters in strings and bytes that are not UTF-8: refused whole.
  for (const std::string& bad :
       {std::string("{\"name\":\"x\0y\"}", 12), std::string("{\"name\":\"x\ty\"}"),
        std::string("{\"name\":\"x\xffy\"}"), std::string("{\"name\":\"x\xc0\xafy\"}")}) {
    auto refused = JsonBody::parse(bad);
    BOOST_REQUIRE(!refused.ok());
    BOOST_TEST(refused.error().http_status == 400);
    BOOST_TEST(refused.error().code == "invalid_text");
  }
  BOOST_TEST(*b.optionalInteger("n", 1, 10).value() == 3);
  BOOST_TEST(!b.optionalInteger("n", 4, 10).ok());
  BOOST_TEST(!b.optionalInteger("big", 0, INT64_MAX).ok());
  BOOST_TEST(!b.optionalInteger("frac", 0, 10).ok());
  BOOST_TEST(*b.optionalBool("flag").value() == true);
  BOOST_TEST(!b.optionalBool("n").ok());
  BOOST_TEST((*b.optionalIdArray("ids", 10).value() == std::vector<int64_t>{1, 3}));
  BOOST_TEST(!b.optionalIdArray("ids", 1).ok());
  BOOST_TEST(!b.optionalIdArray("tags", 10).ok());
  BOOST_TEST(*b.optionalTime("when").value() == 1795420800000);
  BOOST_TEST(!b.optionalTime("name").ok());
  BOOST_TEST(!b.optionalInteger("absent", 0, 1).value());
  auto unknown = b.checkOnly({"name"});
  BOOST_REQUIRE(!unknown.ok());
  BOOST_TEST(unknown.error().code == "invalid_field");
}
