#define BOOST_TEST_MODULE collector_channel_admin
// The notification channels service of the admin API (webhooks and the other kinds), without HTTP:
// a real SQLite store, two tenants, and requests from tokens of different scopes.
#include "collector/admin/channel_admin.h"

#include <boost/test/unit_test.hpp>
#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "collector/notify/channel_kinds.h"
#include "collector/notify/secret_box.h"
#include "collector/store/sql_store.h"
#include "common/json.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_store.h"

using namespace vigil::collector;

namespace {

constexpr int64_t kNowMs = 1'795'420'800'000;  // 2026-11-23T08:00:00Z

// A resolver with a few names, so that no test asks the network.
vigil::Result<std::vector<IpAddress>> fakeResolve(const std::string& host,
                                                  std::chrono::milliseconds /*timeout*/) {
  const std::map<std::string, std::vector<std::string>> names = {
      {"hooks.example.com", {"93.184.216.34"}},
      {"localhost", {"127.0.0.1", "::1"}},
      {"metadata.internal", {"169.254.169.254"}},
      {"intranet.example.com", {"10.0.0.7", "fd00::7"}},
      {"dual.example.com", {"127.0.0.1", "93.184.216.34"}},
  };
  auto found = names.find(host);
  if (found == names.end()) return vigil::Status::notFound("Name or service not known");
  std::vector<IpAddress> addresses;
  for (const std::string& a : found->second) addresses.push_back(*IpAddress::parse(a));
  return addresses;
}

struct Fixture {
  vigil::testing::TempDir tmp;
  std::unique_ptr<SqlStore> store =
      std::move(vigil::testing::openTestStore(tmp.sub("data")).value());
  int wakeups = 0;
  std::vector<std::string> warnings;
  OutboundPolicy policy{{}, &fakeResolve};
  const SecretBox box = SecretBox::fromKey(std::string(32, 'k')).value();
  ChannelAdminService service{*store,
                              *store,
                              policy,
                              [this] { ++wakeups; },
                              [this](const std::string& line) { warnings.push_back(line); },
                              &box};
  AdminRouteTable routes;
  int64_t tenant_a = 0, tenant_b = 0;

  Fixture() {
    tenant_a = store->createTenant("Acme", kNowMs)->id;
    tenant_b = store->createTenant("Globex", kNowMs)->id;
    service.registerRoutes(routes);
  }

  TenantScope onlyA() const { return TenantScope{false, {tenant_a}}; }

  // Calls the route like the HTTP edge does.
  ApiResult<AdminAnswer> call(const TenantScope& scope, const std::string& method,
                              const std::string& path, const std::string& body = "",
                              std::vector<std::pair<std::string, std::string>> query = {}) {
    std::string allow;
    auto match = routes.match(method, path, &allow);
    BOOST_REQUIRE_MESSAGE(match, method + " " + path + " is not routed");
    AdminRequest r;
    r.principal.token_id = 1;
    r.principal.token_name = "tech";
    r.principal.scope = scope;
    r.now_ms = kNowMs;
    r.method = method;
    r.route = match->route;
    r.path_params = match->path_params;
    r.query = std::move(query);
    r.body = body;
    return (*match->handler)(r);
  }

  // A webhook created by an all-tenants token; its JSON answer.
  vigil::json::JsonPtr create(int64_t tenant_id, const std::string& extra = "") {
    auto answer = call(TenantScope::everything(), "POST", "/api/v1/webhooks",
                       R"({"tenant_id": )" + std::to_string(tenant_id) +
                           R"(, "url": "https://hooks.example.com/vigil")" + extra + "}");
    BOOST_REQUIRE_MESSAGE(answer.ok(), (answer.ok() ? "" : answer.error().message));
    BOOST_REQUIRE(answer.value().http_status == 201);
    return vigil::json::parse(answer.value().body);
  }

  static int64_t idOf(const cJSON* obj) {
    return static_cast<int64_t>(cJSON_GetObjectItem(obj, "id")->valuedouble);
  }

  static std::string text(const cJSON* obj, const char* name) {
    const cJSON* v = cJSON_GetObjectItem(obj, name);
    if (v == nullptr) return "<absent>";
    if (cJSON_IsNull(v)) return "<null>";
    if (cJSON_IsString(v)) return v->valuestring;
    if (cJSON_IsBool(v)) return cJSON_IsTrue(v) ? "true" : "false";
    if (cJSON_IsNumber(v)) return std::to_string(static_cast<int64_t>(v->valuedouble));
    return vigil::json::print(v);
  }

  // The error code of a failed call, or "ok".
  static std::string errorOf(const ApiResult<AdminAnswer>& r) {
    return r.ok() ? "ok" : r.error().code;
  }
};

}  // namespace

BOOST_FIXTURE_TEST_SUITE(webhook_admin, Fixture)

BOOST_AUTO_TEST_CASE(create_answers_the_webhook_with_its_secret_once) {
  auto created = create(tenant_a, R"(, "description": "pager", "events": ["alert.resolved",
                                     "alert.opened", "alert.opened"])");
  BOOST_TEST(text(created.get(), "secret").rfind("whsec_", 0) == 0u);
  BOOST_TEST(text(created.get(), "tenant_id") == std::to_string(tenant_a));
  BOOST_TEST(text(created.get(), "url") == "https://hooks.example.com/vigil");
  BOOST_TEST(text(created.get(), "events") == R"(["alert.opened","alert.resolved"])");
  BOOST_TEST(text(created.get(), "description") == "pager");
  BOOST_TEST(text(created.get(), "enabled") == "true");
  BOOST_TEST(text(created.get(), "created_at") == "2026-11-23T08:00:00.000Z");
  const std::string path = "/api/v1/webhooks/" + std::to_string(idOf(created.get()));
  auto got = call(onlyA(), "GET", path);
  BOOST_REQUIRE(got.ok());
  auto read = vigil::json::parse(got.value().body);
  BOOST_TEST(text(read.get(), "secret") == "<absent>");
  BOOST_TEST(text(read.get(), "url") == "https://hooks.example.com/vigil");
}

BOOST_AUTO_TEST_CASE(events_default_to_every_subscribable_type) {
  auto created = create(tenant_a);
  BOOST_TEST(text(created.get(), "events") ==
             R"(["alert.opened","alert.resolved","alert.held","alert.released",)"
             R"("collector.degraded","collector.recovered"])");
}

BOOST_AUTO_TEST_CASE(bad_bodies_are_refused_and_create_nothing) {
  const auto all = TenantScope::everything();
  const std::string a = std::to_string(tenant_a);
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"{", "malformed_json"},
      {"[]", "malformed_json"},
      {R"({"url": "https://x.example"})", "missing_field"},
      {R"({"tenant_id": )" + a + "}", "missing_field"},
      {R"({"tenant_id": "1", "url": "https://x.example"})", "invalid_field"},
      {R"({"tenant_id": )" + a + R"(, "url": "ftp://x.example/"})", "invalid_field"},
      {R"({"tenant_id": )" + a + R"(, "url": "javascript:void"})", "invalid_field"},
      {R"({"tenant_id": )" + a + R"(, "url": "https:///nohost"})", "invalid_field"},
      {R"({"tenant_id": )" + a + R"(, "url": "https://u:p@x.example/"})", "invalid_field"},
      {R"({"tenant_id": )" + a + R"(, "url": "https://x.example/)" + std::string(2100, 'a') +
           R"("})",
       "invalid_field"},
      {R"({"tenant_id": )" + a + R"(, "url": "https://x.example", "events": []})", "invalid_field"},
      {R"({"tenant_id": )" + a + R"(, "url": "https://x.example", "events": ["alert.*"]})",
       "invalid_field"},
      {R"({"tenant_id": )" + a + R"(, "url": "https://x.example", "events": ["webhook.test"]})",
       "invalid_field"},
      {R"({"tenant_id": )" + a + R"(, "url": "https://x.example", "description": ")" +
           std::string(501, 'd') + R"("})",
       "invalid_field"},
      {R"({"tenant_id": )" + a + R"(, "url": "https://x.example", "enabled": "yes"})",
       "invalid_field"},
      {R"({"tenant_id": )" + a + R"(, "url": "https://x.example", "secret": "whsec_x"})",
       "invalid_field"},
  };
  for (const auto& [body, code] : cases) {
    auto r = call(all, "POST", "/api/v1/webhooks", body);
    BOOST_TEST(errorOf(r) == code, "body " << body.substr(0, 80));
    if (!r.ok()) BOOST_TEST(r.error().http_status == 400);
  }
  BOOST_TEST(store->listWebhooks(all, std::nullopt, std::nullopt, 0, 10).value().empty());
}

// The outbound policy at registration: a URL whose host is, or resolves only to, a refused
// address is 400, at creation and at change; the answer names no address.
BOOST_AUTO_TEST_CASE(urls_the_outbound_policy_refuses_are_invalid) {
  const std::string a = std::to_string(tenant_a);
  for (const std::string url : {"http://127.0.0.1:8470/api/v1/tenants",
                                "http://localhost/",
                                "http://127.1/",
                                "http://2130706433/",
                                "http://0x7f.1/",
                                "http://017700000001/",
                                "http://0.0.0.0/",
                                "http://0/",
                                "http://[::1]/",
                                "http://[::]/",
                                "http://[::ffff:127.0.0.1]/",
                                "http://169.254.169.254/latest/meta-data/",
                                "http://metadata.internal/",
                                "http://10.0.0.1/",
                                "http://172.16.5.4/",
                                "http://192.168.1.1/",
                                "http://100.64.0.1/",
                                "http://224.0.0.1/",
                                "http://255.255.255.255/",
                                "http://[fe80::1]/",
                                "http://[fd00::1]/",
                                "https://intranet.example.com/hook"}) {
    auto r = call(TenantScope::everything(), "POST", "/api/v1/webhooks",
                  R"({"tenant_id": )" + a + R"(, "url": ")" + url + R"("})");
    BOOST_TEST(errorOf(r) == "destination_not_allowed", url);
    if (r.ok()) continue;
    BOOST_TEST(r.error().http_status == 400);
    BOOST_TEST(r.error().message.rfind("url: ", 0) == 0u, r.error().message);
    BOOST_TEST(r.error().message.find("127.0.0.1") == std::string::npos, r.error().message);
    BOOST_TEST(r.error().message.find("10.0.0.7") == std::string::npos, r.error().message);
  }
  // A URL that hides its host behind user information is malformed, whatever it points at.
  BOOST_TEST(
      errorOf(call(TenantScope::everything(), "POST", "/api/v1/webhooks",
                   R"({"tenant_id": )" + a + R"(, "url": "http://evil.example\\@127.0.0.1/"})")) ==
      "invalid_field");
  BOOST_TEST(store->listWebhooks(TenantScope::everything(), std::nullopt, std::nullopt, 0, 10)
                 .value()
                 .empty());
  // Each refusal is logged with the refused addresses.
  BOOST_TEST(warnings.size() == 22u);
  BOOST_TEST(
      (!warnings.empty() && warnings.front().find("127.0.0.1 (loopback)") != std::string::npos));
  // A name with one allowed address is accepted (deliveries connect to that one only), and so
  // is a name that does not resolve now.
  create(tenant_a, R"(, "description": "x")");
  auto dual = call(TenantScope::everything(), "POST", "/api/v1/webhooks",
                   R"({"tenant_id": )" + a + R"(, "url": "https://dual.example.com/"})");
  BOOST_TEST(errorOf(dual) == "ok");
  auto unknown = call(TenantScope::everything(), "POST", "/api/v1/webhooks",
                      R"({"tenant_id": )" + a + R"(, "url": "https://not-yet.example.com/"})");
  BOOST_TEST(errorOf(unknown) == "ok");
  // A tenant outside the caller's scope is not found, whatever the URL: the scope is checked
  // first, and nothing is logged.
  const size_t logged = warnings.size();
  BOOST_TEST(errorOf(call(onlyA(), "POST", "/api/v1/webhooks",
                          R"({"tenant_id": )" + std::to_string(tenant_b) +
                              R"(, "url": "http://localhost/"})")) == "not_found");
  BOOST_TEST(warnings.size() == logged);
  // A change to a refused URL is refused and changes nothing.
  const int64_t id = idOf(create(tenant_a).get());
  const std::string path = "/api/v1/webhooks/" + std::to_string(id);
  BOOST_TEST(errorOf(call(onlyA(), "PATCH", path, R"({"url": "http://localhost:8470/"})")) ==
             "destination_not_allowed");
  BOOST_TEST(store->findWebhook(id).value()->url == "https://hooks.example.com/vigil");
}

// An operator's allow-list opens exactly its networks.
BOOST_AUTO_TEST_CASE(allowed_networks_are_accepted) {
  OutboundPolicy allowing{*OutboundPolicy::parseAllowedNetworks("127.0.0.0/8, 10.0.0.0/24"),
                          &fakeResolve};
  ChannelAdminService lenient(*store, *store, allowing);
  AdminRouteTable table;
  lenient.registerRoutes(table);
  auto post = [&](const std::string& url) {
    std::string allow;
    auto match = table.match("POST", "/api/v1/webhooks", &allow);
    AdminRequest r;
    r.principal.scope = TenantScope::everything();
    r.now_ms = kNowMs;
    r.method = "POST";
    r.route = match->route;
    r.body = R"({"tenant_id": )" + std::to_string(tenant_a) + R"(, "url": ")" + url + R"("})";
    return errorOf((*match->handler)(r));
  };
  BOOST_TEST(post("http://127.0.0.1:9000/") == "ok");
  BOOST_TEST(post("http://localhost:9000/") == "ok");
  BOOST_TEST(post("http://10.0.0.1/") == "ok");
  BOOST_TEST(post("http://10.0.1.1/") == "destination_not_allowed");
  BOOST_TEST(post("http://169.254.169.254/") == "destination_not_allowed");
}

BOOST_AUTO_TEST_CASE(webhooks_of_other_tenants_are_not_found) {
  const int64_t b = idOf(create(tenant_b).get());
  const std::string path = "/api/v1/webhooks/" + std::to_string(b);
  BOOST_TEST(errorOf(call(onlyA(), "GET", path)) == "not_found");
  BOOST_TEST(errorOf(call(onlyA(), "PATCH", path, R"({"enabled": false})")) == "not_found");
  BOOST_TEST(errorOf(call(onlyA(), "DELETE", path)) == "not_found");
  BOOST_TEST(errorOf(call(onlyA(), "GET", path + "/deliveries")) == "not_found");
  BOOST_TEST(errorOf(call(onlyA(), "POST", path + "/test")) == "not_found");
  BOOST_TEST(errorOf(call(onlyA(), "GET", "/api/v1/webhooks/999999")) == "not_found");
  BOOST_TEST(errorOf(call(onlyA(), "GET", "/api/v1/webhooks/abc")) == "not_found");
  // Creating one for a tenant outside the scope looks like an unknown tenant.
  auto r =
      call(onlyA(), "POST", "/api/v1/webhooks",
           R"({"tenant_id": )" + std::to_string(tenant_b) + R"(, "url": "https://x.example"})");
  BOOST_TEST(errorOf(r) == "not_found");
  BOOST_TEST((!r.ok() && r.error().message == "no such tenant"));
  BOOST_TEST(errorOf(call(onlyA(), "POST", "/api/v1/webhooks",
                          R"({"tenant_id": 999, "url": "https://x.example"})")) == "not_found");
  // Nothing changed.
  BOOST_TEST(store->findWebhook(b).value()->enabled);
}

BOOST_AUTO_TEST_CASE(list_shows_only_the_callers_tenants_and_pages) {
  const int64_t a1 = idOf(create(tenant_a).get());
  create(tenant_b);
  const int64_t a2 = idOf(create(tenant_a).get());
  auto page = call(onlyA(), "GET", "/api/v1/webhooks", "", {{"limit", "1"}});
  BOOST_REQUIRE(page.ok());
  auto root = vigil::json::parse(page.value().body);
  const cJSON* items = cJSON_GetObjectItem(root.get(), "items");
  BOOST_REQUIRE(cJSON_GetArraySize(items) == 1);
  BOOST_TEST(idOf(cJSON_GetArrayItem(items, 0)) == a1);
  BOOST_TEST(text(cJSON_GetArrayItem(items, 0), "secret") == "<absent>");
  const std::string cursor = text(root.get(), "next_cursor");
  auto next = call(onlyA(), "GET", "/api/v1/webhooks", "", {{"limit", "1"}, {"cursor", cursor}});
  BOOST_REQUIRE(next.ok());
  auto root2 = vigil::json::parse(next.value().body);
  const cJSON* items2 = cJSON_GetObjectItem(root2.get(), "items");
  BOOST_REQUIRE(cJSON_GetArraySize(items2) == 1);
  BOOST_TEST(idOf(cJSON_GetArrayItem(items2, 0)) == a2);
  BOOST_TEST(text(root2.get(), "next_cursor") == "<null>");

  auto of_b =
      call(onlyA(), "GET", "/api/v1/webhooks", "", {{"tenant_id", std::to_string(tenant_b)}});
  BOOST_REQUIRE(of_b.ok());
  BOOST_TEST(cJSON_GetArraySize(
                 cJSON_GetObjectItem(vigil::json::parse(of_b.value().body).get(), "items")) == 0);
  BOOST_TEST(errorOf(call(onlyA(), "GET", "/api/v1/webhooks", "", {{"cursor", "!!"}})) ==
             "invalid_cursor");
  BOOST_TEST(errorOf(call(onlyA(), "GET", "/api/v1/webhooks", "", {{"tenant_id", "x"}})) ==
             "invalid_field");
}

BOOST_AUTO_TEST_CASE(patch_changes_the_given_fields_and_validates_them) {
  const std::string path = "/api/v1/webhooks/" + std::to_string(idOf(create(tenant_a).get()));
  auto patched = call(onlyA(), "PATCH", path,
                      R"({"url": "http://203.0.113.5:8080/in", "enabled": false,
                          "events": ["collector.degraded"], "description": ""})");
  BOOST_REQUIRE(patched.ok());
  auto root = vigil::json::parse(patched.value().body);
  BOOST_TEST(text(root.get(), "url") == "http://203.0.113.5:8080/in");
  BOOST_TEST(text(root.get(), "enabled") == "false");
  BOOST_TEST(text(root.get(), "events") == R"(["collector.degraded"])");
  BOOST_TEST(text(root.get(), "secret") == "<absent>");
  BOOST_TEST(errorOf(call(onlyA(), "PATCH", path, R"({"url": "gopher://x"})")) == "invalid_field");
  BOOST_TEST(errorOf(call(onlyA(), "PATCH", path, R"({"tenant_id": 2})")) == "invalid_field");
  BOOST_TEST(errorOf(call(onlyA(), "PATCH", path, R"({"events": ["nope"]})")) == "invalid_field");
  auto unchanged = vigil::json::parse(call(onlyA(), "GET", path).value().body);
  BOOST_TEST(text(unchanged.get(), "url") == "http://203.0.113.5:8080/in");
}

BOOST_AUTO_TEST_CASE(test_event_is_queued_and_shown_in_deliveries) {
  const int64_t id = idOf(create(tenant_a).get());
  const std::string path = "/api/v1/webhooks/" + std::to_string(id);
  auto queued = call(onlyA(), "POST", path + "/test");
  BOOST_REQUIRE(queued.ok());
  BOOST_TEST(queued.value().http_status == 202);
  BOOST_TEST(wakeups == 1);
  auto delivery = vigil::json::parse(queued.value().body);
  BOOST_TEST(text(delivery.get(), "event_type") == "webhook.test");
  BOOST_TEST(text(delivery.get(), "state") == "pending");
  BOOST_TEST(text(delivery.get(), "attempts") == "0");
  BOOST_TEST(text(delivery.get(), "message_id").rfind("msg_", 0) == 0u);
  BOOST_TEST(text(delivery.get(), "next_attempt_at") == "2026-11-23T08:00:00.000Z");
  BOOST_TEST(text(delivery.get(), "last_status") == "<null>");
  BOOST_TEST(text(delivery.get(), "webhook_id") == std::to_string(id));
  call(onlyA(), "POST", path + "/test");

  auto list = call(onlyA(), "GET", path + "/deliveries", "", {{"limit", "1"}});
  BOOST_REQUIRE(list.ok());
  auto root = vigil::json::parse(list.value().body);
  const cJSON* items = cJSON_GetObjectItem(root.get(), "items");
  BOOST_REQUIRE(cJSON_GetArraySize(items) == 1);
  const int64_t newest = idOf(cJSON_GetArrayItem(items, 0));
  BOOST_TEST(newest > idOf(delivery.get()));
  auto older =
      call(onlyA(), "GET", path + "/deliveries", "", {{"cursor", text(root.get(), "next_cursor")}});
  BOOST_REQUIRE(older.ok());
  auto older_root = vigil::json::parse(older.value().body);
  const cJSON* older_items = cJSON_GetObjectItem(older_root.get(), "items");
  BOOST_REQUIRE(cJSON_GetArraySize(older_items) == 1);
  BOOST_TEST(idOf(cJSON_GetArrayItem(older_items, 0)) == idOf(delivery.get()));

  BOOST_TEST(errorOf(call(onlyA(), "POST", path + "/test", R"({"x": 1})")) == "invalid_field");
  call(onlyA(), "PATCH", path, R"({"enabled": false})");
  BOOST_TEST(errorOf(call(onlyA(), "POST", path + "/test")) == "conflict");
}

BOOST_AUTO_TEST_CASE(delete_removes_the_webhook_and_its_deliveries) {
  const int64_t id = idOf(create(tenant_a).get());
  const std::string path = "/api/v1/webhooks/" + std::to_string(id);
  call(onlyA(), "POST", path + "/test");
  auto deleted = call(onlyA(), "DELETE", path);
  BOOST_REQUIRE(deleted.ok());
  BOOST_TEST(deleted.value().http_status == 204);
  BOOST_TEST(deleted.value().body.empty());
  BOOST_TEST(errorOf(call(onlyA(), "GET", path)) == "not_found");
  BOOST_TEST(errorOf(call(onlyA(), "DELETE", path)) == "not_found");
  BOOST_TEST(store->listDeliveries(id, 0, 10).value().empty());
  BOOST_TEST(store->outboxStats().value().pending == 0);
}

BOOST_AUTO_TEST_SUITE_END()

// --- Channels of other kinds (/api/v1/channels) ---------------------------------------------

namespace {

struct ChannelFixture : Fixture {
  // A channel created by an all-tenants token; its answer (REQUIRES: 201).
  vigil::json::JsonPtr createChannel(const std::string& body) {
    auto answer = call(TenantScope::everything(), "POST", "/api/v1/channels", body);
    BOOST_REQUIRE_MESSAGE(answer.ok(), (answer.ok() ? "" : answer.error().message));
    BOOST_REQUIRE(answer.value().http_status == 201);
    return vigil::json::parse(answer.value().body);
  }
  std::string slackBody(int64_t tenant, const std::string& extra = "") const {
    return R"({"tenant_id": )" + std::to_string(tenant) +
           R"(, "kind": "slack", "credentials": {"webhook_url":)"
           R"( "https://hooks.example.com/services/T0/B0/s3cr3t"})" +
           extra + "}";
  }
  // The credentials as stored, opened.
  std::string storedCredentials(int64_t id) {
    auto w = store->findWebhook(id).value();
    BOOST_REQUIRE(w.has_value());
    auto opened = box.open(w->secret, kCredentialsContext);
    BOOST_REQUIRE(opened.ok());
    return opened.value();
  }
};

}  // namespace

BOOST_FIXTURE_TEST_SUITE(channel_admin, ChannelFixture)

BOOST_AUTO_TEST_CASE(a_slack_channel_keeps_its_url_sealed_and_never_shows_it) {
  auto created = createChannel(slackBody(tenant_a));
  const std::string answer = vigil::json::print(created.get());
  BOOST_TEST(answer.find("s3cr3t") == std::string::npos);
  BOOST_TEST(text(created.get(), "kind") == "slack");
  BOOST_TEST(text(created.get(), "url") == "https://hooks.example.com");
  BOOST_TEST(text(created.get(), "credentials_set") == R"(["webhook_url"])");
  BOOST_TEST(text(created.get(), "secret") == "<absent>");
  BOOST_TEST(text(created.get(), "filter") ==
             R"({"site_ids":[],"agent_classes":[],"alert_kinds":[]})");
  const int64_t id = idOf(created.get());
  // Sealed at rest: the store holds no trace of the URL.
  const std::string stored = store->findWebhook(id).value()->secret;
  BOOST_TEST(stored.rfind("v1:" + box.keyId() + ":", 0) == 0u);
  BOOST_TEST(stored.find("s3cr3t") == std::string::npos);
  BOOST_TEST(storedCredentials(id).find("s3cr3t") != std::string::npos);
  auto got = call(onlyA(), "GET", "/api/v1/channels/" + std::to_string(id));
  BOOST_REQUIRE(got.ok());
  BOOST_TEST(got.value().body.find("s3cr3t") == std::string::npos);
  // Not a webhook: unknown under /api/v1/webhooks, and left out of its list.
  BOOST_TEST(errorOf(call(onlyA(), "GET", "/api/v1/webhooks/" + std::to_string(id))) ==
             "not_found");
  auto hooks = call(onlyA(), "GET", "/api/v1/webhooks");
  BOOST_REQUIRE(hooks.ok());
  BOOST_TEST(hooks.value().body.find("\"items\":[]") != std::string::npos);
  auto channels = call(onlyA(), "GET", "/api/v1/channels", "", {{"kind", "slack"}});
  BOOST_REQUIRE(channels.ok());
  BOOST_TEST(channels.value().body.find("\"kind\":\"slack\"") != std::string::npos);
  BOOST_TEST(errorOf(call(onlyA(), "GET", "/api/v1/channels", "", {{"kind", "fax"}})) ==
             "invalid_field");
  BOOST_TEST(warnings.empty());
}

BOOST_AUTO_TEST_CASE(a_webhook_created_as_a_channel_is_a_webhook) {
  auto created = createChannel(R"({"tenant_id": )" + std::to_string(tenant_a) +
                               R"(, "kind": "webhook", "url": "https://hooks.example.com/v"})");
  BOOST_TEST(text(created.get(), "secret").rfind("whsec_", 0) == 0u);
  BOOST_TEST(text(created.get(), "credentials_set") == "[]");
  auto got = call(onlyA(), "GET", "/api/v1/webhooks/" + std::to_string(idOf(created.get())));
  BOOST_REQUIRE(got.ok());
  BOOST_TEST(got.value().body.find("\"kind\"") == std::string::npos);  // the webhooks view
}

BOOST_AUTO_TEST_CASE(pagerduty_gets_its_defaults_and_only_incident_events) {
  auto created = createChannel(R"({"tenant_id": )" + std::to_string(tenant_a) +
                               R"(, "kind": "pagerduty", "credentials": {"routing_key": "R1"}})");
  BOOST_TEST(text(created.get(), "url") == kPagerDutyEventsUrl);
  BOOST_TEST(text(created.get(), "settings") ==
             R"({"api_url":"https://events.pagerduty.com/v2/enqueue"})");
  BOOST_TEST(text(created.get(), "events") == R"(["alert.opened","alert.resolved"])");
  BOOST_TEST(text(created.get(), "credentials_set") == R"(["routing_key"])");
}

BOOST_AUTO_TEST_CASE(bad_channel_bodies_are_refused_naming_the_member_and_create_nothing) {
  const std::string a = std::to_string(tenant_a);
  const std::string pd = R"({"tenant_id": )" + a + R"(, "kind": "pagerduty")";
  const std::vector<std::tuple<std::string, std::string, std::string>> cases = {
      {R"({"tenant_id": )" + a + "}", "missing_field", "kind"},
      {R"({"tenant_id": )" + a + R"(, "kind": "fax"})", "invalid_field", "kind"},
      {pd + "}", "invalid_field", "credentials.routing_key: is required"},
      {pd + R"(, "credentials": "R1"})", "invalid_field", "credentials: must be an object"},
      {pd + R"(, "credentials": {"routing_key": "R1"}, "url": "https://x.example"})",
       "invalid_field", "url:"},
      {pd + R"(, "credentials": {"routing_key": "R1"}, "settings": {"severity": "loud"}})",
       "invalid_field", "settings.severity"},
      {pd +
           R"(, "credentials": {"routing_key": "R1"}, "settings": {"api_url": "http://x.example"}})",
       "invalid_field", "settings.api_url: must be an https:// URL"},
      {pd + R"(, "credentials": {"routing_key": "R1"}, "events": ["alert.held"]})", "invalid_field",
       "events"},
      {R"({"tenant_id": )" + a +
           R"(, "kind": "webhook", "url": "https://x.example", "credentials": {}})",
       "invalid_field", "credentials"},
      {slackBody(tenant_a, R"(, "filter": {"agent_classes": ["laptop"]})"), "invalid_field",
       "filter.agent_classes"},
      {slackBody(tenant_a, R"(, "filter": {"alert_kinds": ["device_offline", "x"]})"),
       "invalid_field", "filter.alert_kinds"},
      {slackBody(tenant_a, R"(, "filter": {"sites": [1]})"), "invalid_field", "filter.sites"},
      {slackBody(tenant_a, R"(, "filter": [1])"), "invalid_field", "filter"},
      {slackBody(tenant_a, R"(, "filter": {"site_ids": ["1"]})"), "invalid_field",
       "filter.site_ids"},
  };
  for (const auto& [body, code, mention] : cases) {
    auto r = call(TenantScope::everything(), "POST", "/api/v1/channels", body);
    BOOST_TEST(errorOf(r) == code, "body " << body.substr(0, 120));
    if (!r.ok()) {
      BOOST_TEST(r.error().http_status == 400);
      BOOST_TEST(r.error().message.find(mention) != std::string::npos,
                 r.error().message << " names " << mention);
      BOOST_TEST(r.error().message.find("R1") == std::string::npos);
    }
  }
  BOOST_TEST(store->listWebhooks(TenantScope::everything(), std::nullopt, std::nullopt, 0, 10)
                 .value()
                 .empty());
}

BOOST_AUTO_TEST_CASE(a_filter_names_only_the_tenants_own_sites) {
  const int64_t site_a = store->createSite(tenant_a, "a-office", kNowMs)->id;
  const int64_t site_b = store->createSite(tenant_b, "b-office", kNowMs)->id;
  auto refused =
      call(TenantScope::everything(), "POST", "/api/v1/channels",
           slackBody(tenant_a, R"(, "filter": {"site_ids": [)" + std::to_string(site_b) + "]}"));
  BOOST_TEST(errorOf(refused) == "invalid_field");
  BOOST_TEST(errorOf(call(TenantScope::everything(), "POST", "/api/v1/channels",
                          slackBody(tenant_a, R"(, "filter": {"site_ids": [999999]})"))) ==
             "invalid_field");
  auto created = createChannel(slackBody(
      tenant_a, R"(, "filter": {"site_ids": [)" + std::to_string(site_a) +
                    R"(], "agent_classes": ["server"], "alert_kinds": ["device_offline"]})"));
  BOOST_TEST(text(created.get(), "filter") == R"({"site_ids":[)" + std::to_string(site_a) +
                                                  R"(],"agent_classes":["server"],)"
                                                  R"("alert_kinds":["device_offline"]})");
  const auto stored = store->findWebhook(idOf(created.get())).value();
  BOOST_TEST((stored->filter.site_ids == std::vector<int64_t>{site_a}));
  BOOST_TEST((stored->filter.agent_classes == std::vector<std::string>{"server"}));
}

BOOST_AUTO_TEST_CASE(patch_lays_settings_and_credentials_over_the_current_ones) {
  auto created = createChannel(
      R"({"tenant_id": )" + std::to_string(tenant_a) +
      R"(, "kind": "opsgenie", "credentials": {"api_key": "old-key"}, "settings": {"priority": "P4"}})");
  const int64_t id = idOf(created.get());
  const std::string path = "/api/v1/channels/" + std::to_string(id);
  auto changed = call(onlyA(), "PATCH", path, R"({"settings": {"priority": null}})");
  BOOST_REQUIRE(changed.ok());
  BOOST_TEST(changed.value().body.find("priority") == std::string::npos);
  BOOST_TEST(storedCredentials(id) == R"({"api_key":"old-key"})");
  BOOST_REQUIRE(call(onlyA(), "PATCH", path, R"({"credentials": {"api_key": "new-key"}})").ok());
  BOOST_TEST(storedCredentials(id) == R"({"api_key":"new-key"})");
  BOOST_TEST(errorOf(call(onlyA(), "PATCH", path, R"({"url": "https://x.example"})")) ==
             "invalid_field");
  BOOST_TEST(errorOf(call(onlyA(), "PATCH", path, R"({"kind": "slack"})")) == "invalid_field");
  BOOST_TEST(errorOf(call(onlyA(), "PATCH", path, R"({"events": ["alert.released"]})")) ==
             "invalid_field");
  // Another tenant's token sees no such channel.
  BOOST_TEST(errorOf(call(TenantScope{false, {tenant_b}}, "PATCH", path,
                          R"({"enabled": false})")) == "not_found");
}

BOOST_AUTO_TEST_CASE(a_destination_the_policy_refuses_is_refused_without_logging_its_secret) {
  auto r = call(TenantScope::everything(), "POST", "/api/v1/channels",
                R"({"tenant_id": )" + std::to_string(tenant_a) +
                    R"(, "kind": "teams", "credentials": {"webhook_url":)"
                    R"( "https://metadata.internal/workflows/x?sig=S1GNATURE"}})");
  BOOST_TEST(errorOf(r) == "destination_not_allowed");
  BOOST_REQUIRE(warnings.size() == 1u);
  BOOST_TEST(warnings[0].find("S1GNATURE") == std::string::npos);
  BOOST_TEST(warnings[0].find("169.254.169.254") != std::string::npos);
  BOOST_TEST(r.error().message.find("S1GNATURE") == std::string::npos);
}

BOOST_AUTO_TEST_CASE(without_a_credentials_key_only_webhooks_can_be_made) {
  ChannelAdminService keyless(*store, *store, policy);
  AdminRouteTable keyless_routes;
  keyless.registerRoutes(keyless_routes);
  std::string allow;
  auto match = keyless_routes.match("POST", "/api/v1/channels", &allow);
  BOOST_REQUIRE(match);
  AdminRequest r;
  r.principal.scope = TenantScope::everything();
  r.now_ms = kNowMs;
  r.method = "POST";
  r.route = match->route;
  r.body = slackBody(tenant_a);
  auto answer = (*match->handler)(r);
  BOOST_REQUIRE(!answer.ok());
  BOOST_TEST(answer.error().http_status == 503);
  BOOST_TEST(answer.error().code == "credentials_unavailable");
}

BOOST_AUTO_TEST_CASE(a_channel_test_event_is_queued_under_its_id) {
  auto created = createChannel(slackBody(tenant_a));
  const std::string path = "/api/v1/channels/" + std::to_string(idOf(created.get()));
  auto queued = call(onlyA(), "POST", path + "/test");
  BOOST_REQUIRE(queued.ok());
  BOOST_TEST(queued.value().http_status == 202);
  auto entry = vigil::json::parse(queued.value().body);
  BOOST_TEST(text(entry.get(), "channel_id") == std::to_string(idOf(created.get())));
  BOOST_TEST(text(entry.get(), "event_type") == "webhook.test");
  BOOST_TEST(wakeups == 1);
  auto deliveries = call(onlyA(), "GET", path + "/deliveries");
  BOOST_REQUIRE(deliveries.ok());
  BOOST_TEST(deliveries.value().body.find("\"channel_id\"") != std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_FIXTURE_TEST_SUITE(channel_admin_credentials, ChannelFixture)

// Only the credentials actually set are named: an email server without authentication has
// no password.
BOOST_AUTO_TEST_CASE(credentials_set_names_only_what_is_set) {
  const std::string settings = R"("settings": {"smtp_host": "hooks.example.com", "from": )"
                               R"("vigil@msp.example", "to": ["ops@msp.example"]})";
  auto open_relay = createChannel(R"({"tenant_id": )" + std::to_string(tenant_a) +
                                  R"(, "kind": "email", )" + settings + "}");
  BOOST_TEST(text(open_relay.get(), "credentials_set") == "[]");
  BOOST_TEST(text(open_relay.get(), "url") == "smtp://hooks.example.com:587");
  auto with_login =
      call(onlyA(), "PATCH", "/api/v1/channels/" + std::to_string(idOf(open_relay.get())),
           R"({"settings": {"username": "vigil"}, "credentials": {"password": "pw"}})");
  BOOST_REQUIRE(with_login.ok());
  BOOST_TEST(with_login.value().body.find(R"("credentials_set":["password"])") !=
             std::string::npos);
  auto url = call(TenantScope::everything(), "POST", "/api/v1/channels",
                  R"({"tenant_id": )" + std::to_string(tenant_a) + R"(, "kind": "email", )" +
                      settings + R"(, "url": "https://x.example"})");
  BOOST_REQUIRE(!url.ok());
  BOOST_TEST(url.error().message.find("smtp_host") != std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_FIXTURE_TEST_SUITE(channel_admin_follow_up, ChannelFixture)

// A channel's reminders and escalation: shown in minutes, the escalation's channel must be
// another of the tenant's, and both halves of an escalation go together.
BOOST_AUTO_TEST_CASE(follow_up_names_another_channel_of_the_tenant) {
  auto oncall = createChannel(slackBody(tenant_a));
  auto other_tenant = createChannel(slackBody(tenant_b));
  const std::string to = std::to_string(idOf(oncall.get()));
  auto created = createChannel(slackBody(
      tenant_a, R"(, "follow_up": {"remind_every_minutes": 60, "escalate_after_minutes": 30,)"
                R"( "escalate_to": )" +
                    to + "}"));
  BOOST_TEST(text(created.get(), "follow_up") ==
             R"({"remind_every_minutes":60,"escalate_after_minutes":30,"escalate_to":)" + to + "}");
  const auto stored = store->findWebhook(idOf(created.get())).value();
  BOOST_TEST(stored->follow_up.remind_every_s == 3600);
  const std::string path = "/api/v1/channels/" + std::to_string(idOf(created.get()));
  const std::vector<std::pair<std::string, std::string>> refused = {
      {R"({"follow_up": {"remind_every_minutes": 1}})", "follow_up.remind_every_minutes"},
      {R"({"follow_up": {"escalate_after_minutes": 30}})", "go together"},
      {R"({"follow_up": {"escalate_after_minutes": 30, "escalate_to": )" +
           std::to_string(idOf(other_tenant.get())) + "}}",
       "not a channel of this tenant"},
      {R"({"follow_up": {"escalate_after_minutes": 30, "escalate_to": )" +
           std::to_string(idOf(created.get())) + "}}",
       "another channel"},
      {R"({"follow_up": {"every": 5}})", "follow_up.every"},
  };
  for (const auto& [body, mention] : refused) {
    auto r = call(onlyA(), "PATCH", path, body);
    BOOST_REQUIRE_MESSAGE(!r.ok(), body);
    BOOST_TEST(r.error().message.find(mention) != std::string::npos, r.error().message);
  }
  auto cleared = call(onlyA(), "PATCH", path, R"({"follow_up": null})");
  BOOST_REQUIRE(cleared.ok());
  BOOST_TEST(cleared.value().body.find(
                 R"("follow_up":{"remind_every_minutes":null,"escalate_after_minutes":null,)"
                 R"("escalate_to":null})") != std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()
