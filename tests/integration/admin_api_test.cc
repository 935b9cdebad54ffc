// The admin REST API against a real collector process: every endpoint, tenant isolation (a
// table of cross-tenant attempts, all refused, nothing changed), bad input everywhere, and a
// kill -9 that loses no tenant, token, window, webhook or alert. Every (method, path) of
// docs/openapi.yaml must have been exercised by the end (OpenApiCoverage).

#define BOOST_TEST_MODULE integration_admin_api
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Parser.h>

#include <boost/test/unit_test.hpp>
#include <chrono>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "common/protocol.h"
#include "common/time_format.h"
#include "tests/integration/harness.h"
#include "tests/integration/openapi_coverage.h"
#include "tests/integration/synthetic_agent.h"

using namespace vigil::testing;
using namespace std::chrono_literals;
namespace protocol = vigil::protocol;

namespace {

// Every exercised (method, template, status), for the OpenAPI coverage check at the end.
OpenApiCoverage& coverage() {
  static OpenApiCoverage instance;
  return instance;
}

struct Reply {
  int status = 0;
  std::string body;
  std::map<std::string, std::string> headers;
  Poco::JSON::Object::Ptr json;

  std::string str(const std::string& name) const {
    if (!json || !json->has(name) || json->isNull(name)) return "<null>";
    return json->get(name).convert<std::string>();
  }
  int64_t id() const { return json->getValue<int64_t>("id"); }
  std::string error() const { return str("error"); }
  size_t items() const {
    return json && json->getArray("items") ? json->getArray("items")->size() : 0;
  }
  std::vector<std::string> itemValues(const std::string& field) const {
    std::vector<std::string> out;
    if (!json || !json->getArray("items")) return out;
    auto arr = json->getArray("items");
    for (size_t i = 0; i < arr->size(); ++i) {
      out.push_back(arr->getObject(static_cast<unsigned>(i))->get(field).convert<std::string>());
    }
    return out;
  }
};

// An admin API client with one bearer token. Paths are given as the OpenAPI template and its
// parameters, so every call is recorded for the coverage check.
class Api {
 public:
  Api(int port, std::string token) : port_(port), token_(std::move(token)) {}

  Reply call(const std::string& method, const std::string& path_template,
             const std::map<std::string, std::string>& params = {}, const std::string& body = "",
             const std::string& query = "") {
    std::string path = path_template;
    for (const auto& [name, value] : params) {
      const std::string key = "{" + name + "}";
      const size_t at = path.find(key);
      BOOST_REQUIRE_MESSAGE(at != std::string::npos, "no {" << name << "} in " << path_template);
      path.replace(at, key.size(), value);
    }
    if (!query.empty()) path += "?" + query;
    std::map<std::string, std::string> headers;
    if (!token_.empty()) headers["Authorization"] = "Bearer " + token_;
    HttpResponse r =
        httpRequest(port_, method, path, headers, body, body.empty() ? "" : "application/json");
    coverage().record(method, path_template, r.status);
    Reply reply{r.status, r.body, r.headers, nullptr};
    try {
      reply.json = r.json();
    } catch (...) {  // NOLINT(bugprone-empty-catch): a non-JSON body leaves json null
    }
    if (r.status >= 400) {
      BOOST_TEST(r.headers.count("Content-Type") + r.headers.count("content-type") > 0u);
      BOOST_TEST(reply.error() != "<null>", method << " " << path << " error body: " << r.body);
    }
    return reply;
  }

  int port() const { return port_; }

 private:
  int port_;
  std::string token_;
};

// Enrolls a synthetic agent (the real protocol over HTTP) with `token`.
std::unique_ptr<SyntheticAgent> enrolled(int port, const std::string& token,
                                         const std::string& hostname) {
  auto agent = std::make_unique<SyntheticAgent>(port);
  SyntheticAnswer answer = agent->enroll(token, hostname);
  BOOST_REQUIRE_MESSAGE(answer.status == 201, "enroll: " << answer.status << " " << answer.body);
  return agent;
}

// Fast presence; the webhooks point at loopback, which the outbound policy refuses unless
// the operator allows it.
std::map<std::string, std::string> settings() {
  auto defines = fastPresenceSettings();
  defines["outbound.allowedNetworks"] = "127.0.0.0/8";
  return defines;
}

// Two tenants with a site, an enrollment token and an agent each, and a token per tenant.
struct TwoTenants {
  TempDir tmp;
  Collector collector{tmp.sub("collector"), settings()};
  std::unique_ptr<Api> op;  // all tenants
  int64_t tenant_a = 0, tenant_b = 0, site_a = 0, site_b = 0, etoken_b = 0;
  std::string enroll_a, enroll_b;
  std::unique_ptr<SyntheticAgent> agent_a, agent_b;
  std::unique_ptr<Api> api_a, api_b;  // scoped to one tenant
  int64_t token_a_id = 0;

  TwoTenants() {
    collector.start();
    op = std::make_unique<Api>(collector.port(), collector.adminToken());
    tenant_a = op->call("POST", "/api/v1/tenants", {}, R"({"name":"Acme"})").id();
    tenant_b = op->call("POST", "/api/v1/tenants", {}, R"({"name":"Globex"})").id();
    site_a = op->call("POST", "/api/v1/tenants/{tenant_id}/sites", {{"tenant_id", s(tenant_a)}},
                      R"({"name":"HQ"})")
                 .id();
    site_b = op->call("POST", "/api/v1/tenants/{tenant_id}/sites", {{"tenant_id", s(tenant_b)}},
                      R"({"name":"HQ"})")
                 .id();
    Reply ta = op->call("POST", "/api/v1/sites/{site_id}/enrollment-tokens",
                        {{"site_id", s(site_a)}}, R"({"name":"rollout","max_uses":10})");
    enroll_a = ta.str("token");
    Reply tb = op->call("POST", "/api/v1/sites/{site_id}/enrollment-tokens",
                        {{"site_id", s(site_b)}}, R"({"name":"rollout"})");
    enroll_b = tb.str("token");
    etoken_b = tb.id();
    agent_a = enrolled(collector.port(), enroll_a, "a-web-01");
    agent_b = enrolled(collector.port(), enroll_b, "b-web-01");
    Reply tok_a = op->call("POST", "/api/v1/admin-tokens", {},
                           R"({"name":"acme-tech","tenant_ids":[)" + s(tenant_a) + "]}");
    BOOST_REQUIRE_EQUAL(tok_a.status, 201);
    token_a_id = tok_a.id();
    api_a = std::make_unique<Api>(collector.port(), tok_a.str("token"));
    Reply tok_b = op->call("POST", "/api/v1/admin-tokens", {},
                           R"({"name":"globex-tech","tenant_ids":[)" + s(tenant_b) + "]}");
    api_b = std::make_unique<Api>(collector.port(), tok_b.str("token"));
  }

  static std::string s(int64_t v) { return std::to_string(v); }
};

}  // namespace

BOOST_FIXTURE_TEST_SUITE(admin_api, TwoTenants)

BOOST_AUTO_TEST_CASE(tenants_and_sites) {
  Reply list = op->call("GET", "/api/v1/tenants", {}, "", "q=acm");
  BOOST_TEST(list.status == 200);
  BOOST_TEST(list.itemValues("name") == std::vector<std::string>{"Acme"});
  BOOST_TEST(api_a->call("GET", "/api/v1/tenants").itemValues("name") ==
             std::vector<std::string>{"Acme"});
  Reply dup = op->call("POST", "/api/v1/tenants", {}, R"({"name":"Acme"})");
  BOOST_TEST(dup.status == 409);
  BOOST_TEST(api_a->call("POST", "/api/v1/tenants", {}, R"({"name":"Mine"})").status == 403);

  Reply one = op->call("GET", "/api/v1/tenants/{tenant_id}", {{"tenant_id", s(tenant_a)}});
  BOOST_TEST(one.status == 200);
  BOOST_TEST(one.json->getObject("summary")->getValue<int>("agents") == 1);
  Reply renamed = op->call("PATCH", "/api/v1/tenants/{tenant_id}", {{"tenant_id", s(tenant_a)}},
                           R"({"name":"Acme Corp"})");
  BOOST_TEST(renamed.str("name") == "Acme Corp");

  BOOST_TEST(
      op->call("GET", "/api/v1/tenants/{tenant_id}/sites", {{"tenant_id", s(tenant_a)}}).items() ==
      1u);
  BOOST_TEST(op->call("GET", "/api/v1/sites", {}, "", "tenant_id=" + s(tenant_b)).items() == 1u);
  // Every site: the bootstrap's default site and the two made here.
  BOOST_TEST(op->call("GET", "/api/v1/sites").items() == 3u);
  Reply site = op->call("GET", "/api/v1/sites/{site_id}", {{"site_id", s(site_a)}});
  BOOST_TEST(site.json->getObject("summary")->getValue<int>("agents") == 1);
  BOOST_TEST(site.body.find("peer_key") == std::string::npos);  // a secret: never shown
  BOOST_TEST(op->call("PATCH", "/api/v1/sites/{site_id}", {{"site_id", s(site_a)}},
                      R"({"name":"Head office"})")
                 .str("name") == "Head office");

  // A tenant or site that still holds something cannot be deleted; an empty one can.
  BOOST_TEST(op->call("DELETE", "/api/v1/sites/{site_id}", {{"site_id", s(site_a)}}).status == 409);
  BOOST_TEST(
      op->call("DELETE", "/api/v1/tenants/{tenant_id}", {{"tenant_id", s(tenant_a)}}).status ==
      409);
  int64_t empty = op->call("POST", "/api/v1/tenants", {}, R"({"name":"Initech"})").id();
  int64_t empty_site = op->call("POST", "/api/v1/tenants/{tenant_id}/sites",
                                {{"tenant_id", s(empty)}}, R"({"name":"Lab"})")
                           .id();
  BOOST_TEST(op->call("DELETE", "/api/v1/sites/{site_id}", {{"site_id", s(empty_site)}}).status ==
             204);
  BOOST_TEST(op->call("DELETE", "/api/v1/tenants/{tenant_id}", {{"tenant_id", s(empty)}}).status ==
             204);
  BOOST_TEST(op->call("GET", "/api/v1/tenants/{tenant_id}", {{"tenant_id", s(empty)}}).status ==
             404);
}

BOOST_AUTO_TEST_CASE(enrollment_tokens_expire_run_out_and_are_revoked) {
  Reply list =
      op->call("GET", "/api/v1/sites/{site_id}/enrollment-tokens", {{"site_id", s(site_b)}});
  BOOST_TEST(list.items() == 1u);
  BOOST_TEST(list.body.find(enroll_b) == std::string::npos);  // shown once, at creation
  Reply one = op->call("GET", "/api/v1/enrollment-tokens/{token_id}", {{"token_id", s(etoken_b)}});
  BOOST_TEST(one.str("uses") == "1");
  BOOST_TEST(one.str("usable") == "true");

  Reply once = op->call("POST", "/api/v1/sites/{site_id}/enrollment-tokens",
                        {{"site_id", s(site_b)}}, R"({"max_uses":1})");
  enrolled(collector.port(), once.str("token"), "b-db-01");
  protocol::EnrollRequest again;
  again.enroll_token = once.str("token");
  again.facts = {"b-db-02", "linux", "", "", "1.0.0"};
  BOOST_TEST(
      httpRequest(collector.port(), "POST", protocol::kEnrollPath, {}, protocol::encode(again))
          .status == 401);

  // A token that would be born expired is refused.
  Reply expired = op->call("POST", "/api/v1/sites/{site_id}/enrollment-tokens",
                           {{"site_id", s(site_b)}}, R"({"expires_at":"2020-01-01T00:00:00Z"})");
  BOOST_TEST(expired.status == 400);

  Reply revoked =
      op->call("DELETE", "/api/v1/enrollment-tokens/{token_id}", {{"token_id", s(etoken_b)}});
  BOOST_TEST(revoked.status == 200);
  BOOST_TEST(revoked.str("revoked") == "true");
  again.enroll_token = enroll_b;
  BOOST_TEST(
      httpRequest(collector.port(), "POST", protocol::kEnrollPath, {}, protocol::encode(again))
          .status == 401);
}

BOOST_AUTO_TEST_CASE(admin_tokens_are_shown_once_scoped_and_revocable) {
  Reply list = op->call("GET", "/api/v1/admin-tokens");
  BOOST_TEST(list.items() >= 3u);
  BOOST_TEST(list.body.find("token_hash") == std::string::npos);
  // A scoped token sees only tokens inside its scope, and cannot widen its own.
  BOOST_TEST(api_a->call("GET", "/api/v1/admin-tokens").itemValues("name") ==
             std::vector<std::string>{"acme-tech"});
  BOOST_TEST(api_a->call("POST", "/api/v1/admin-tokens", {}, R"({"name":"all"})").status == 403);
  BOOST_TEST(api_a
                 ->call("POST", "/api/v1/admin-tokens", {},
                        R"({"name":"b","tenant_ids":[)" + s(tenant_b) + "]}")
                 .status == 403);
  Reply sub = api_a->call("POST", "/api/v1/admin-tokens", {},
                          R"({"name":"acme-readonly","tenant_ids":[)" + s(tenant_a) + "]}");
  BOOST_TEST(sub.status == 201);
  BOOST_TEST(
      op->call("GET", "/api/v1/admin-tokens/{token_id}", {{"token_id", s(sub.id())}}).str("name") ==
      "acme-readonly");
  Api sub_api(collector.port(), sub.str("token"));
  BOOST_TEST(sub_api.call("GET", "/api/v1/agents").status == 200);
  BOOST_TEST(api_a->call("DELETE", "/api/v1/admin-tokens/{token_id}", {{"token_id", s(sub.id())}})
                 .status == 200);
  BOOST_TEST(sub_api.call("GET", "/api/v1/agents").status == 401);
  Api nobody(collector.port(), "vga_not_a_token");
  BOOST_TEST(nobody.call("GET", "/api/v1/tenants").status == 401);
  Api anonymous(collector.port(), "");
  BOOST_TEST(anonymous.call("GET", "/api/v1/tenants").status == 401);
}

BOOST_AUTO_TEST_CASE(agents_alerts_and_maintenance) {
  BOOST_REQUIRE_EQUAL(agent_a->heartbeat().status, 200);
  BOOST_REQUIRE_EQUAL(agent_b->heartbeat().status, 200);
  Reply agents = api_a->call("GET", "/api/v1/agents", {}, "", "status=ONLINE,UNKNOWN&q=web");
  BOOST_TEST(agents.itemValues("id") == std::vector<std::string>{agent_a->id()});
  Reply detail = api_a->call("GET", "/api/v1/agents/{agent_id}", {{"agent_id", agent_a->id()}});
  BOOST_TEST(detail.status == 200);
  BOOST_TEST(detail.json->has("evidence"));
  BOOST_TEST(detail.json->has("history"));

  // Agent A goes silent: OFFLINE with an alert (after warm-up), which the admin acknowledges
  // and then resolves.
  std::string alert_id;
  BOOST_REQUIRE_MESSAGE(eventually(
                            [&] {
                              BOOST_TEST(agent_b->heartbeat().status == 200);
                              Reply open = api_a->call("GET", "/api/v1/alerts", {}, "",
                                                       "state=open&kind=device_offline");
                              auto ids = open.itemValues("id");
                              if (ids.empty()) return false;
                              alert_id = ids.front();
                              return true;
                            },
                            30s),
                        "no offline alert; collector log:\n"
                            << logTail(collector.logPath()));
  BOOST_TEST(api_b->call("GET", "/api/v1/alerts").items() == 0u);
  Reply alert = api_a->call("GET", "/api/v1/alerts/{alert_id}", {{"alert_id", alert_id}});
  BOOST_TEST(alert.str("agent_id") == agent_a->id());
  BOOST_TEST(alert.str("tenant_id") == s(tenant_a));
  // The agent's history shows the way to OFFLINE, newest first, one page at a time.
  Reply page = api_a->call("GET", "/api/v1/agents/{agent_id}/history",
                           {{"agent_id", agent_a->id()}}, "", "limit=1");
  BOOST_TEST(page.itemValues("to") == std::vector<std::string>{"OFFLINE"});
  BOOST_TEST(page.str("next_cursor") != "<null>");
  BOOST_TEST(api_b->call("GET", "/api/v1/agents/{agent_id}/history", {{"agent_id", agent_a->id()}})
                 .status == 404);
  Reply ack = api_a->call("POST", "/api/v1/alerts/{alert_id}/acknowledge", {{"alert_id", alert_id}},
                          R"({"note":"looking"})");
  BOOST_TEST(ack.str("acknowledged_by") == "acme-tech");
  Reply resolved =
      api_a->call("POST", "/api/v1/alerts/{alert_id}/resolve", {{"alert_id", alert_id}});
  BOOST_TEST(resolved.str("state") == "resolved");
  BOOST_TEST(
      api_a->call("POST", "/api/v1/alerts/{alert_id}/resolve", {{"alert_id", alert_id}}).status ==
      409);

  // A maintenance window for agent B's site: B may go silent without an alert.
  Reply window = api_b->call(
      "POST", "/api/v1/maintenance-windows", {},
      R"({"site_id":)" + s(site_b) +
          R"(,"starts_at":"2020-01-06T00:00:00Z","duration_s":604740,"recurrence":"weekly"})");
  BOOST_REQUIRE_EQUAL(window.status, 201);
  BOOST_TEST(window.str("active") == "true");
  BOOST_TEST(api_b->call("GET", "/api/v1/maintenance-windows").items() == 1u);
  BOOST_TEST(api_a->call("GET", "/api/v1/maintenance-windows").items() == 0u);
  BOOST_TEST(
      api_b->call("GET", "/api/v1/maintenance-windows/{window_id}", {{"window_id", s(window.id())}})
          .status == 200);
  BOOST_REQUIRE_MESSAGE(
      eventually(
          [&] {
            return api_b->call("GET", "/api/v1/agents/{agent_id}", {{"agent_id", agent_b->id()}})
                       .str("status") == "MAINTENANCE";
          },
          30s),
      "agent B never in MAINTENANCE");
  BOOST_TEST(api_b->call("GET", "/api/v1/alerts").items() == 0u);
  BOOST_TEST(api_b
                 ->call("DELETE", "/api/v1/maintenance-windows/{window_id}",
                        {{"window_id", s(window.id())}})
                 .status == 204);

  // Retire: no alert follows; delete: gone.
  Reply retired =
      api_b->call("POST", "/api/v1/agents/{agent_id}/retire", {{"agent_id", agent_b->id()}});
  BOOST_TEST(retired.status == 200);
  BOOST_TEST(retired.str("retired_at") != "<null>");
  BOOST_TEST(agent_b->heartbeat().status == 401);
  BOOST_TEST(
      api_b->call("DELETE", "/api/v1/agents/{agent_id}", {{"agent_id", agent_b->id()}}).status ==
      204);
  BOOST_TEST(
      api_b->call("GET", "/api/v1/agents/{agent_id}", {{"agent_id", agent_b->id()}}).status == 404);

  BOOST_TEST(op->call("GET", "/api/v1/health").status == 200);
  BOOST_TEST(op->call("GET", "/api/v1/health/history").items() >= 1u);  // warm-up at least
}

BOOST_AUTO_TEST_CASE(webhooks_are_managed_per_tenant) {
  Reply created = api_a->call("POST", "/api/v1/webhooks", {},
                              R"({"tenant_id":)" + s(tenant_a) +
                                  R"(,"url":"http://127.0.0.1:9/hook","description":"ops"})");
  BOOST_REQUIRE_EQUAL(created.status, 201);
  BOOST_TEST(created.str("secret").rfind("whsec_", 0) == 0u);
  const std::string id = s(created.id());
  BOOST_TEST(api_a->call("GET", "/api/v1/webhooks").items() == 1u);
  BOOST_TEST(api_b->call("GET", "/api/v1/webhooks").items() == 0u);
  Reply one = api_a->call("GET", "/api/v1/webhooks/{webhook_id}", {{"webhook_id", id}});
  BOOST_TEST(one.body.find("whsec_") == std::string::npos);
  BOOST_TEST(
      api_a->call("POST", "/api/v1/webhooks/{webhook_id}/test", {{"webhook_id", id}}).status ==
      202);
  BOOST_TEST(api_a
                 ->call("PATCH", "/api/v1/webhooks/{webhook_id}", {{"webhook_id", id}},
                        R"({"enabled":false})")
                 .str("enabled") == "false");
  // A disabled webhook is not sent even a test.
  BOOST_TEST(
      api_a->call("POST", "/api/v1/webhooks/{webhook_id}/test", {{"webhook_id", id}}).status ==
      409);
  // The test event is in the outbox (an agent of tenant A that went silent meanwhile adds an
  // alert event of its own, so count only test events).
  const Reply deliveries =
      api_a->call("GET", "/api/v1/webhooks/{webhook_id}/deliveries", {{"webhook_id", id}});
  size_t test_events = 0;
  for (size_t at = deliveries.body.find("\"webhook.test\""); at != std::string::npos;
       at = deliveries.body.find("\"webhook.test\"", at + 1)) {
    ++test_events;
  }
  BOOST_TEST(test_events == 1u);
  BOOST_TEST(api_a
                 ->call("POST", "/api/v1/webhooks", {},
                        R"({"tenant_id":)" + s(tenant_a) + R"(,"url":"ftp://example.com/"})")
                 .status == 400);
  BOOST_TEST(api_a->call("DELETE", "/api/v1/webhooks/{webhook_id}", {{"webhook_id", id}}).status ==
             204);
}

// A tenant's business hours through the real HTTP edge.
BOOST_AUTO_TEST_CASE(business_hours_are_kept_per_tenant) {
  const std::map<std::string, std::string> a = {{"tenant_id", s(tenant_a)}};
  BOOST_TEST(api_a->call("GET", "/api/v1/tenants/{tenant_id}/business-hours", a).status == 404);
  Reply set = api_a->call(
      "PUT", "/api/v1/tenants/{tenant_id}/business-hours", a,
      R"({"time_zone":"America/New_York","weekly":[{"day":"mon","open":"09:00","close":"17:00"}]})");
  BOOST_TEST(set.status == 200);
  BOOST_TEST(set.str("time_zone") == "America/New_York");
  BOOST_TEST(api_a->call("GET", "/api/v1/tenants/{tenant_id}/business-hours", a).status == 200);
  BOOST_TEST(api_b->call("GET", "/api/v1/tenants/{tenant_id}/business-hours", a).status == 404);
  BOOST_TEST(api_a
                 ->call("PUT", "/api/v1/tenants/{tenant_id}/business-hours", a,
                        R"({"time_zone":"Nowhere/City","weekly":[]})")
                 .status == 400);
  BOOST_TEST(api_a->call("DELETE", "/api/v1/tenants/{tenant_id}/business-hours", a).status == 204);
}

// Availability reports through the real HTTP edge: per tenant, in its formats, refused
// outside the token's tenants and for bad parameters (docs/reports.md; the arithmetic is
// collector_availability_test's, a freeze during an outage integration_reports_test's).
BOOST_AUTO_TEST_CASE(availability_reports_are_per_tenant) {
  const std::string route = "/api/v1/reports/availability";
  const int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                             std::chrono::system_clock::now().time_since_epoch())
                             .count();
  // The last hour and the next (a month would miss an agent enrolled just before midnight).
  const std::string month = "from=" + vigil::formatRfc3339Utc(now_ms - 3'600'000) +
                            "&to=" + vigil::formatRfc3339Utc(now_ms + 3'600'000);
  Reply report = api_a->call("GET", route, {}, "", "tenant_id=" + s(tenant_a) + "&" + month);
  BOOST_REQUIRE_EQUAL(report.status, 200);
  BOOST_TEST(report.str("time_zone") == "UTC");
  BOOST_REQUIRE(report.json);
  Poco::JSON::Array::Ptr agents = report.json->getArray("agents");
  BOOST_REQUIRE(agents);
  BOOST_TEST(agents->size() == 1u);
  BOOST_TEST(agents->getObject(0)->getValue<std::string>("agent_id") == agent_a->id());
  // Narrowed to the site, then to the agent, in another zone.
  BOOST_TEST(api_a->call("GET", route, {}, "", "site_id=" + s(site_a) + "&" + month).status == 200);
  Reply one = api_a->call("GET", route, {}, "",
                          "agent_id=" + agent_a->id() + "&" + month + "&time_zone=Asia/Kathmandu");
  BOOST_TEST(one.status == 200);
  BOOST_TEST(one.str("time_zone") == "Asia/Kathmandu");
  // CSV and HTML.
  Reply csv =
      api_a->call("GET", route, {}, "", "tenant_id=" + s(tenant_a) + "&" + month + "&format=csv");
  BOOST_TEST(csv.status == 200);
  BOOST_TEST(csv.body.rfind("tenant,site,agent_id,hostname,", 0) == 0u);
  Reply html =
      api_a->call("GET", route, {}, "", "tenant_id=" + s(tenant_a) + "&" + month + "&format=html");
  BOOST_TEST(html.status == 200);
  BOOST_TEST(html.body.find("<h1>Availability report: Acme</h1>") != std::string::npos);
  // Another tenant's tenant, site and agent are unknown to a scoped token; so are ids nobody
  // has.
  BOOST_TEST(api_b->call("GET", route, {}, "", "tenant_id=" + s(tenant_a) + "&" + month).status ==
             404);
  BOOST_TEST(api_b->call("GET", route, {}, "", "site_id=" + s(site_a) + "&" + month).status == 404);
  BOOST_TEST(api_b->call("GET", route, {}, "", "agent_id=" + agent_a->id() + "&" + month).status ==
             404);
  BOOST_TEST(api_a
                 ->call("GET", route, {}, "",
                        "tenant_id=" + s(tenant_a) + "&site_id=" + s(site_b) + "&" + month)
                 .status == 404);
  BOOST_TEST(api_a->call("GET", route, {}, "", "tenant_id=999999&" + month).status == 404);
  // Bad parameters: 400 naming the field.
  const std::string a = "tenant_id=" + s(tenant_a);
  for (const std::string& bad :
       {month, a, a + "&month=2026-13", a + "&month=26-01", a + "&month=2026-02&from=2026-02-01",
        a + "&month=2026-02&" + month, a + "&from=2026-02-30&to=2026-03-01",
        a + "&from=2026-03-02&to=2026-03-01", a + "&from=2024-01-01&to=2026-01-01",
        a + "&" + month + "&time_zone=Nowhere/City",
        a + "&" + month + "&time_zone=../../etc/passwd", a + "&" + month + "&format=pdf",
        "tenant_id=abc&" + month}) {
    Reply refused = api_a->call("GET", route, {}, "", bad);
    BOOST_TEST(refused.status == 400, bad << " -> " << refused.status << " " << refused.body);
    BOOST_TEST(refused.error() == "invalid_field", bad);
  }
  Api anonymous(collector.port(), "");
  BOOST_TEST(anonymous.call("GET", route, {}, "", a + "&" + month).status == 401);
}

// Channels of other kinds through the real HTTP edge: credentials go in and never come out,
// not in answers, nor in the collector's log.
BOOST_AUTO_TEST_CASE(channels_are_managed_per_tenant_and_keep_credentials_write_only) {
  const std::string key = "pd-routing-K3Y";
  Reply created = api_a->call("POST", "/api/v1/channels", {},
                              R"({"tenant_id":)" + s(tenant_a) +
                                  R"(,"kind":"pagerduty","credentials":{"routing_key":")" + key +
                                  R"("},"settings":{"api_url":"https://127.0.0.1:9/v2/enqueue",)"
                                  R"("severity":"error"},"filter":{"site_ids":[)" +
                                  s(site_a) + R"(]}})");
  BOOST_REQUIRE_EQUAL(created.status, 201);
  BOOST_TEST(created.str("kind") == "pagerduty");
  BOOST_TEST(created.body.find(key) == std::string::npos);
  const std::string id = s(created.id());
  BOOST_TEST(api_a->call("GET", "/api/v1/channels").items() == 1u);
  BOOST_TEST(api_a->call("GET", "/api/v1/channels", {}, "", "kind=slack").items() == 0u);
  BOOST_TEST(api_b->call("GET", "/api/v1/channels").items() == 0u);
  Reply one = api_a->call("GET", "/api/v1/channels/{channel_id}", {{"channel_id", id}});
  BOOST_TEST(one.status == 200);
  BOOST_TEST(one.body.find(key) == std::string::npos);
  BOOST_TEST(one.body.find(R"("credentials_set":["routing_key"])") != std::string::npos);
  // Not a webhook.
  BOOST_TEST(api_a->call("GET", "/api/v1/webhooks/{webhook_id}", {{"webhook_id", id}}).status ==
             404);
  Reply changed = api_a->call("PATCH", "/api/v1/channels/{channel_id}", {{"channel_id", id}},
                              R"({"credentials":{"routing_key":"another-K3Y"},)"
                              R"("settings":{"severity":null}})");
  BOOST_TEST(changed.status == 200);
  BOOST_TEST(changed.body.find("K3Y") == std::string::npos);
  BOOST_TEST(changed.body.find("severity") == std::string::npos);
  BOOST_TEST(
      api_a->call("POST", "/api/v1/channels/{channel_id}/test", {{"channel_id", id}}).status ==
      202);
  BOOST_TEST(api_a->call("GET", "/api/v1/channels/{channel_id}/deliveries", {{"channel_id", id}})
                 .items() >= 1u);
  // A site of another tenant in the filter reads like an unknown one.
  BOOST_TEST(api_a
                 ->call("POST", "/api/v1/channels", {},
                        R"({"tenant_id":)" + s(tenant_a) +
                            R"(,"kind":"slack","credentials":{"webhook_url":)"
                            R"("https://127.0.0.1:9/s"},"filter":{"site_ids":[)" +
                            s(site_b) + R"(]}})")
                 .status == 400);
  BOOST_TEST(api_a->call("DELETE", "/api/v1/channels/{channel_id}", {{"channel_id", id}}).status ==
             204);
  BOOST_TEST(readFile(collector.logPath()).find("K3Y") == std::string::npos);
}

// Tenant A's token against every kind of tenant B object, by every verb: refused exactly like
// an unknown id, and nothing of B's changed.
BOOST_AUTO_TEST_CASE(cross_tenant_attempts_are_all_refused) {
  BOOST_REQUIRE_EQUAL(agent_b->heartbeat().status, 200);
  Reply hook = api_b->call("POST", "/api/v1/webhooks", {},
                           R"({"tenant_id":)" + s(tenant_b) + R"(,"url":"http://127.0.0.1:9/"})");
  Reply window = api_b->call("POST", "/api/v1/maintenance-windows", {},
                             R"({"tenant_id":)" + s(tenant_b) +
                                 R"(,"starts_at":"2030-01-01T00:00:00Z","duration_s":600})");
  Reply b_tokens = api_b->call("GET", "/api/v1/admin-tokens");
  const std::string b_admin_token = b_tokens.itemValues("id").front();

  struct Attempt {
    std::string method;
    std::string path_template;
    std::map<std::string, std::string> params;
    std::string body;
    int expected;  // 404, or 403 for an operation that needs a wider scope
  };
  const std::string tb = s(tenant_b), sb = s(site_b), hb = s(hook.id()), wb = s(window.id());
  const std::vector<Attempt> attempts = {
      {"GET", "/api/v1/tenants/{tenant_id}", {{"tenant_id", tb}}, "", 404},
      {"PATCH", "/api/v1/tenants/{tenant_id}", {{"tenant_id", tb}}, R"({"name":"pwned"})", 404},
      {"DELETE", "/api/v1/tenants/{tenant_id}", {{"tenant_id", tb}}, "", 403},
      {"GET", "/api/v1/tenants/{tenant_id}/sites", {{"tenant_id", tb}}, "", 404},
      {"POST", "/api/v1/tenants/{tenant_id}/sites", {{"tenant_id", tb}}, R"({"name":"x"})", 404},
      {"GET", "/api/v1/sites/{site_id}", {{"site_id", sb}}, "", 404},
      {"PATCH", "/api/v1/sites/{site_id}", {{"site_id", sb}}, R"({"name":"pwned"})", 404},
      {"DELETE", "/api/v1/sites/{site_id}", {{"site_id", sb}}, "", 404},
      {"GET", "/api/v1/sites/{site_id}/enrollment-tokens", {{"site_id", sb}}, "", 404},
      {"POST", "/api/v1/sites/{site_id}/enrollment-tokens", {{"site_id", sb}}, "{}", 404},
      {"GET", "/api/v1/enrollment-tokens/{token_id}", {{"token_id", s(etoken_b)}}, "", 404},
      {"DELETE", "/api/v1/enrollment-tokens/{token_id}", {{"token_id", s(etoken_b)}}, "", 404},
      {"GET", "/api/v1/agents/{agent_id}", {{"agent_id", agent_b->id()}}, "", 404},
      {"POST", "/api/v1/agents/{agent_id}/retire", {{"agent_id", agent_b->id()}}, "", 404},
      {"DELETE", "/api/v1/agents/{agent_id}", {{"agent_id", agent_b->id()}}, "", 404},
      {"GET", "/api/v1/maintenance-windows/{window_id}", {{"window_id", wb}}, "", 404},
      {"DELETE", "/api/v1/maintenance-windows/{window_id}", {{"window_id", wb}}, "", 404},
      {"POST",
       "/api/v1/maintenance-windows",
       {},
       R"({"tenant_id":)" + tb + R"(,"starts_at":"2030-01-01T00:00:00Z","duration_s":600})",
       404},
      {"POST",
       "/api/v1/maintenance-windows",
       {},
       R"({"site_id":)" + sb + R"(,"starts_at":"2030-01-01T00:00:00Z","duration_s":600})",
       404},
      {"POST",
       "/api/v1/maintenance-windows",
       {},
       R"({"agent_id":")" + agent_b->id() +
           R"(","starts_at":"2030-01-01T00:00:00Z","duration_s":600})",
       404},
      {"GET", "/api/v1/webhooks/{webhook_id}", {{"webhook_id", hb}}, "", 404},
      {"PATCH",
       "/api/v1/webhooks/{webhook_id}",
       {{"webhook_id", hb}},
       R"({"url":"http://attacker.example/"})",
       404},
      {"DELETE", "/api/v1/webhooks/{webhook_id}", {{"webhook_id", hb}}, "", 404},
      {"GET", "/api/v1/webhooks/{webhook_id}/deliveries", {{"webhook_id", hb}}, "", 404},
      {"POST", "/api/v1/webhooks/{webhook_id}/test", {{"webhook_id", hb}}, "", 404},
      {"POST",
       "/api/v1/webhooks",
       {},
       R"({"tenant_id":)" + tb + R"(,"url":"http://x.example/"})",
       404},
      {"GET", "/api/v1/channels/{channel_id}", {{"channel_id", hb}}, "", 404},
      {"PATCH",
       "/api/v1/channels/{channel_id}",
       {{"channel_id", hb}},
       R"({"description":"mine"})",
       404},
      {"DELETE", "/api/v1/channels/{channel_id}", {{"channel_id", hb}}, "", 404},
      {"GET", "/api/v1/channels/{channel_id}/deliveries", {{"channel_id", hb}}, "", 404},
      {"POST", "/api/v1/channels/{channel_id}/test", {{"channel_id", hb}}, "", 404},
      {"POST",
       "/api/v1/channels",
       {},
       R"({"tenant_id":)" + tb +
           R"(,"kind":"slack","credentials":{"webhook_url":"https://x.example/"}})",
       404},
      {"GET", "/api/v1/admin-tokens/{token_id}", {{"token_id", b_admin_token}}, "", 404},
      {"DELETE", "/api/v1/admin-tokens/{token_id}", {{"token_id", b_admin_token}}, "", 404},
      {"POST", "/api/v1/admin-tokens", {}, R"({"name":"x","tenant_ids":[)" + tb + "]}", 403},
      {"POST", "/api/v1/tenants", {}, R"({"name":"mine"})", 403},
  };
  const std::string before_b =
      op->call("GET", "/api/v1/tenants/{tenant_id}", {{"tenant_id", tb}}).body;
  for (const Attempt& a : attempts) {
    BOOST_TEST_CONTEXT(a.method << " " << a.path_template << " " << a.body) {
      Reply r = api_a->call(a.method, a.path_template, a.params, a.body);
      BOOST_TEST(r.status == a.expected);
      BOOST_TEST(r.body.find("Globex") == std::string::npos);
    }
  }
  // Listings filtered to tenant B show nothing rather than refusing (which would confirm B).
  for (const char* listing :
       {"/api/v1/agents", "/api/v1/sites", "/api/v1/alerts", "/api/v1/maintenance-windows",
        "/api/v1/webhooks", "/api/v1/channels"}) {
    Reply r = api_a->call("GET", listing, {}, "", "tenant_id=" + tb);
    BOOST_TEST(r.status == 200, listing);
    BOOST_TEST(r.items() == 0u, listing);
  }
  // Nothing of B's changed.
  BOOST_TEST(op->call("GET", "/api/v1/tenants/{tenant_id}", {{"tenant_id", tb}}).body == before_b);
  BOOST_TEST(api_b->call("GET", "/api/v1/webhooks/{webhook_id}", {{"webhook_id", hb}}).status ==
             200);
  BOOST_TEST(
      api_b->call("GET", "/api/v1/maintenance-windows/{window_id}", {{"window_id", wb}}).status ==
      200);
  BOOST_TEST(api_b->call("GET", "/api/v1/agents/{agent_id}", {{"agent_id", agent_b->id()}})
                 .str("retired_at") == "<null>");
  BOOST_TEST(api_b->call("GET", "/api/v1/enrollment-tokens/{token_id}", {{"token_id", s(etoken_b)}})
                 .str("revoked") == "false");
  BOOST_TEST(api_b->call("GET", "/api/v1/admin-tokens").items() == 1u);
}

// Malformed JSON, wrong types, unknown ids, oversized bodies, bad cursors, bad dates and
// injection attempts: a 4xx with a JSON error body, and no state change.
BOOST_AUTO_TEST_CASE(bad_input_is_refused_with_json_errors_and_changes_nothing) {
  const std::string before = op->call("GET", "/api/v1/tenants").body;
  struct Bad {
    std::string method;
    std::string path_template;
    std::map<std::string, std::string> params;
    std::string body;
    std::string query;
    int expected;
  };
  const std::string big(size_t{70} * 1024, 'x');
  const std::vector<Bad> cases = {
      {"POST", "/api/v1/tenants", {}, "{", "", 400},
      {"POST", "/api/v1/tenants", {}, "[]", "", 400},
      {"POST", "/api/v1/tenants", {}, R"({"name":42})", "", 400},
      {"POST", "/api/v1/tenants", {}, R"({"name":""})", "", 400},
      {"POST", "/api/v1/tenants", {}, R"({"nmae":"typo"})", "", 400},
      {"POST", "/api/v1/tenants", {}, R"({"name":")" + big + R"("})", "", 413},
      {"PATCH",
       "/api/v1/tenants/{tenant_id}",
       {{"tenant_id", "999999"}},
       R"({"name":"x"})",
       "",
       404},
      {"GET", "/api/v1/tenants/{tenant_id}", {{"tenant_id", "abc"}}, "", "", 404},
      {"GET", "/api/v1/tenants", {}, "", "cursor=%27%3B%20DROP%20TABLE%20tenants", 400},
      {"GET", "/api/v1/tenants", {}, "", "limit=-5", 400},
      {"GET", "/api/v1/alerts", {}, "", "opened_from=yesterday", 400},
      {"GET", "/api/v1/alerts", {}, "", "state=open%27%20OR%201%3D1", 400},
      {"GET", "/api/v1/agents", {}, "", "status=ONLINE;DROP", 400},
      {"POST",
       "/api/v1/sites/{site_id}/enrollment-tokens",
       {{"site_id", s(site_a)}},
       R"({"max_uses":"ten"})",
       "",
       400},
      {"POST",
       "/api/v1/sites/{site_id}/enrollment-tokens",
       {{"site_id", s(site_a)}},
       R"({"expires_at":"next week"})",
       "",
       400},
      {"POST",
       "/api/v1/maintenance-windows",
       {},
       R"({"tenant_id":)" + s(tenant_a) + R"(,"starts_at":"2026-02-30T00:00:00Z","duration_s":60})",
       "",
       400},
      {"POST", "/api/v1/admin-tokens", {}, R"({"name":"x","tenant_ids":["1"]})", "", 400},
      {"POST", "/api/v1/admin-tokens", {}, R"({"name":"x","tenant_ids":[999999]})", "", 400},
      {"POST",
       "/api/v1/webhooks",
       {},
       R"({"tenant_id":)" + s(tenant_a) + R"(,"url":"not a url"})",
       "",
       400},
      {"POST", "/api/v1/alerts/{alert_id}/acknowledge", {{"alert_id", "999999"}}, "", "", 404},
  };
  for (const Bad& b : cases) {
    BOOST_TEST_CONTEXT(b.method << " " << b.path_template << "?" << b.query << " "
                                << b.body.substr(0, 60)) {
      Reply r = op->call(b.method, b.path_template, b.params, b.body, b.query);
      BOOST_TEST(r.status == b.expected);
    }
  }
  // Text filters are literal: a quote or a wildcard finds nothing and breaks nothing.
  BOOST_TEST(op->call("GET", "/api/v1/tenants", {}, "", "q=%27%20OR%20%271%27%3D%271").items() ==
             0u);
  BOOST_TEST(op->call("GET", "/api/v1/tenants", {}, "", "q=%25").items() == 0u);
  BOOST_TEST(op->call("GET", "/api/v1/tenants").body == before);
  HttpResponse wrong_type = httpRequest(collector.port(), "POST", "/api/v1/tenants",
                                        {{"Authorization", "Bearer " + collector.adminToken()}},
                                        R"({"name":"x"})", "text/plain");
  BOOST_TEST(wrong_type.status == 415);
  HttpResponse wrong_method = httpRequest(collector.port(), "PUT", "/api/v1/tenants",
                                          {{"Authorization", "Bearer " + collector.adminToken()}});
  BOOST_TEST(wrong_method.status == 405);
  BOOST_TEST(collector.port() > 0);
}

// Heartbeat cadence (docs/api.md): a tenant rule and a site + class rule are stored, shown and
// resolved at once (`effective`, read from the collector's CadenceBook); an agent's class is set
// and shown; another tenant's token can neither read nor change them; bounds are enforced; the
// rules survive kill -9.
BOOST_AUTO_TEST_CASE(heartbeat_cadence_per_tenant_site_and_class) {
  const std::map<std::string, std::string> tenant_param{{"tenant_id", s(tenant_a)}};
  const std::map<std::string, std::string> site_param{{"site_id", s(site_a)}};
  const std::map<std::string, std::string> agent_param{{"agent_id", agent_a->id()}};
  const char* tenant_path = "/api/v1/tenants/{tenant_id}/cadence";
  const char* site_path = "/api/v1/sites/{site_id}/cadence";

  Reply tenant_rule = op->call("PUT", tenant_path, tenant_param,
                               R"({"heartbeat_interval_s":300,"beacon_interval_s":30})");
  BOOST_REQUIRE_MESSAGE(tenant_rule.status == 200, tenant_rule.body);
  Reply site_rule = api_a->call("PUT", site_path, site_param,
                                R"({"classes":{"server":{"heartbeat_interval_s":60,)"
                                R"("beacon_interval_s":10}}})");
  BOOST_REQUIRE_MESSAGE(site_rule.status == 200, site_rule.body);

  auto effective = [](const Reply& r, const std::string& agent_class, const std::string& field) {
    return r.json->getObject("effective")
        ->getObject(agent_class)
        ->get(field)
        .convert<std::string>();
  };
  Reply site = api_a->call("GET", site_path, site_param);
  BOOST_REQUIRE_EQUAL(site.status, 200);
  BOOST_TEST(site.json->getObject("classes")->getObject("server")->getValue<int64_t>(
                 "heartbeat_interval_s") == 60);
  BOOST_TEST(site.str("updated_by") == "acme-tech");
  BOOST_TEST(effective(site, "server", "heartbeat_interval_s") == "60");
  BOOST_TEST(effective(site, "server", "beacon_interval_s") == "10");
  BOOST_TEST(effective(site, "server", "source") == "site_class");
  BOOST_TEST(effective(site, "workstation", "heartbeat_interval_s") == "300");
  BOOST_TEST(effective(site, "workstation", "source") == "tenant");
  Reply tenant = api_a->call("GET", tenant_path, tenant_param);
  BOOST_REQUIRE_EQUAL(tenant.status, 200);
  BOOST_TEST(tenant.str("heartbeat_interval_s") == "300");
  BOOST_TEST(tenant.str("beacon_interval_s") == "30");
  BOOST_TEST(effective(tenant, "server", "source") == "tenant");
  // Tenant B is untouched.
  Reply other = api_b->call("GET", tenant_path, {{"tenant_id", s(tenant_b)}});
  BOOST_TEST(effective(other, "server", "source") == "default");

  // The agent's class: a workstation until set; then shown on the agent.
  BOOST_TEST(api_a->call("GET", "/api/v1/agents/{agent_id}", agent_param).str("class") ==
             "workstation");
  Reply patched =
      api_a->call("PATCH", "/api/v1/agents/{agent_id}", agent_param, R"({"class":"server"})");
  BOOST_REQUIRE_MESSAGE(patched.status == 200, patched.body);
  BOOST_TEST(patched.str("class") == "server");
  BOOST_TEST(patched.str("id") == agent_a->id());

  // Tenant B's token: every cadence call on A is answered as if A did not exist.
  for (const char* method : {"GET", "PUT", "DELETE"}) {
    const std::string body = std::string(method) == "PUT" ? R"({"heartbeat_interval_s":900})" : "";
    Reply t = api_b->call(method, tenant_path, tenant_param, body);
    BOOST_TEST(t.status == 404, method << " tenant: " << t.body);
    BOOST_TEST(t.error() == "not_found");
    Reply st = api_b->call(method, site_path, site_param, body);
    BOOST_TEST(st.status == 404, method << " site: " << st.body);
  }
  Reply foreign_patch =
      api_b->call("PATCH", "/api/v1/agents/{agent_id}", agent_param, R"({"class":"workstation"})");
  BOOST_TEST(foreign_patch.status == 404);
  BOOST_TEST(api_a->call("GET", "/api/v1/agents/{agent_id}", agent_param).str("class") == "server");

  // Bounds: 400 with a JSON error naming the field; nothing changed.
  struct Bad {
    const char* body;
    const char* field;
  };
  for (const Bad& bad :
       {Bad{R"({"heartbeat_interval_s":14})", "heartbeat_interval_s"},
        Bad{R"({"heartbeat_interval_s":3601})", "heartbeat_interval_s"},
        Bad{R"({"heartbeat_interval_s":60,"beacon_interval_s":60})", "beacon_interval_s"},
        Bad{R"({"heartbeat_interval_s":60,"beacon_interval_s":301})", "beacon_interval_s"},
        Bad{R"({"classes":{"server":{"heartbeat_interval_s":5000}}})",
            "classes.server.heartbeat_interval_s"}}) {
    Reply r = op->call("PUT", tenant_path, tenant_param, bad.body);
    BOOST_TEST(r.status == 400, bad.body);
    BOOST_TEST(r.error() == "invalid_field", bad.body);
    BOOST_TEST(r.str("message").rfind(bad.field, 0) == 0u, bad.body << " -> " << r.body);
  }
  BOOST_TEST(api_a->call("PATCH", "/api/v1/agents/{agent_id}", agent_param, R"({"class":"laptop"})")
                 .status == 400);
  BOOST_TEST(api_a->call("GET", tenant_path, tenant_param).str("heartbeat_interval_s") == "300");

  // A read-only token may read, not change.
  Reply viewer_token =
      op->call("POST", "/api/v1/admin-tokens", {}, R"({"name":"viewer","role":"read-only"})");
  Api viewer(collector.port(), viewer_token.str("token"));
  BOOST_TEST(viewer.call("GET", tenant_path, tenant_param).status == 200);
  BOOST_TEST(
      viewer.call("PUT", tenant_path, tenant_param, R"({"heartbeat_interval_s":60})").status ==
      403);
  BOOST_TEST(viewer.call("DELETE", site_path, site_param).status == 403);
  BOOST_TEST(
      viewer.call("PATCH", "/api/v1/agents/{agent_id}", agent_param, R"({"class":"workstation"})")
          .status == 403);

  // kill -9: the rules and the class are loaded again into the book.
  collector.kill();
  collector.start();
  Reply after = api_a->call("GET", site_path, site_param);
  BOOST_REQUIRE_EQUAL(after.status, 200);
  BOOST_TEST(effective(after, "server", "heartbeat_interval_s") == "60");
  BOOST_TEST(effective(after, "workstation", "heartbeat_interval_s") == "300");
  BOOST_TEST(api_a->call("GET", "/api/v1/agents/{agent_id}", agent_param).str("class") == "server");

  // DELETE: the site inherits the tenant again; the tenant the collector's defaults.
  BOOST_TEST(api_a->call("DELETE", site_path, site_param).status == 204);
  BOOST_TEST(effective(api_a->call("GET", site_path, site_param), "server", "source") == "tenant");
  BOOST_TEST(api_a->call("DELETE", tenant_path, tenant_param).status == 204);
  BOOST_TEST(effective(api_a->call("GET", site_path, site_param), "server", "source") == "default");
}

// kill -9 loses no tenant, site, token, window or webhook, and the scoped token still works.
BOOST_AUTO_TEST_CASE(kill_9_loses_no_setting_token_or_alert) {
  Reply window = api_a->call("POST", "/api/v1/maintenance-windows", {},
                             R"({"tenant_id":)" + s(tenant_a) +
                                 R"(,"starts_at":"2030-01-01T00:00:00Z","duration_s":600})");
  Reply hook = api_a->call("POST", "/api/v1/webhooks", {},
                           R"({"tenant_id":)" + s(tenant_a) + R"(,"url":"http://127.0.0.1:9/"})");
  const std::string tenants = op->call("GET", "/api/v1/tenants").body;
  const std::string tokens = op->call("GET", "/api/v1/admin-tokens").body;
  collector.kill();
  collector.start();
  BOOST_TEST(op->call("GET", "/api/v1/tenants").body == tenants);
  BOOST_TEST(op->call("GET", "/api/v1/admin-tokens").body == tokens);
  BOOST_TEST(
      api_a->call("GET", "/api/v1/maintenance-windows/{window_id}", {{"window_id", s(window.id())}})
          .status == 200);
  BOOST_TEST(
      api_a->call("GET", "/api/v1/webhooks/{webhook_id}", {{"webhook_id", s(hook.id())}}).status ==
      200);
  // The enrolled agents are still known and accepted.
  // (Its kept-alive connection died with the old process: a new one is made.)
  BOOST_TEST(eventually([&] { return agent_a->heartbeat().status == 200; }, 10s));
}

// Runs last (Boost runs test cases in declaration order): every (method, path) of the
// published OpenAPI description was exercised above.
BOOST_AUTO_TEST_CASE(every_documented_endpoint_was_exercised) {
  Api anonymous(collector.port(), "");
  Reply json_spec = anonymous.call("GET", "/api/v1/openapi.json");
  BOOST_REQUIRE_EQUAL(json_spec.status, 200);
  Reply yaml_spec = anonymous.call("GET", "/api/v1/openapi.yaml");
  BOOST_REQUIRE_EQUAL(yaml_spec.status, 200);
  BOOST_TEST(yaml_spec.body.find("openapi:") != std::string::npos);
  auto spec = OpenApiSpec::parse(json_spec.body);
  BOOST_REQUIRE(spec);
  const CoverageGaps gaps = findCoverageGaps(*spec, coverage(), "/api/v1/");
  BOOST_TEST(gaps.unexercised.empty(), gaps.describe());
  BOOST_TEST(gaps.undocumented.empty(), gaps.describe());
  BOOST_TEST_MESSAGE(gaps.describe());
}

BOOST_AUTO_TEST_SUITE_END()
