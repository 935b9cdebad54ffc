// Tenant boundaries that ids, enrollment and agent-supplied text could cross, against a real
// collector process: a deleted site's window or peer key never reaches a later site, an
// enrollment flood is limited while a paced rollout goes through, and strings that are not
// clean UTF-8 are refused rather than stored.

#define BOOST_TEST_MODULE integration_tenancy_limits
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include <boost/test/unit_test.hpp>
#include <chrono>
#include <cstdlib>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "common/json.h"
#include "common/protocol.h"
#include "tests/integration/harness.h"
#include "tests/integration/synthetic_agent.h"

using namespace vigil::testing;
using namespace std::chrono_literals;
namespace protocol = vigil::protocol;

namespace {

std::string str(int64_t v) { return std::to_string(v); }

// The admin API with the collector's all-tenant token.
class Admin {
 public:
  explicit Admin(const Collector& collector)
      : port_(collector.port()), token_(collector.adminToken()) {}

  HttpResponse call(const std::string& method, const std::string& path,
                    const std::string& body = "") const {
    return httpRequest(port_, method, path, {{"Authorization", "Bearer " + token_}}, body,
                       body.empty() ? "" : "application/json");
  }
  // POSTs `body` and returns the id of what was created (201 required).
  int64_t create(const std::string& path, const std::string& body) const {
    HttpResponse r = call("POST", path, body);
    BOOST_REQUIRE_MESSAGE(r.status == 201, "POST " << path << ": " << r.status << " " << r.body);
    return r.json()->getValue<int64_t>("id");
  }
  // A new enrollment token of `site_id` with the fields of `extra` ("" or `,"max_uses":3`).
  std::string enrollToken(int64_t site_id, const std::string& extra = "") const {
    HttpResponse r = call("POST", "/api/v1/sites/" + str(site_id) + "/enrollment-tokens",
                          R"({"name":"rollout")" + extra + "}");
    BOOST_REQUIRE_MESSAGE(r.status == 201, "enrollment token: " << r.status << " " << r.body);
    return r.json()->getValue<std::string>("token");
  }

 private:
  int port_;
  std::string token_;
};

// The site peer key an enrollment answer hands out; "" if none.
std::string peerKeyOf(const SyntheticAnswer& enrolled) {
  Poco::JSON::Parser parser;
  auto root = parser.parse(enrolled.body).extract<Poco::JSON::Object::Ptr>();
  if (!root || !root->has("peer_key")) return "";
  return root->getValue<std::string>("peer_key");
}

}  // namespace

BOOST_AUTO_TEST_CASE(a_deleted_sites_window_and_peer_key_never_reach_a_later_site) {
  TempDir tmp;
  Collector collector(tmp.sub("collector"), fastPresenceSettings());
  collector.start();
  Admin admin(collector);
  const int64_t tenant_a = admin.create("/api/v1/tenants", R"({"name":"Acme"})");
  const int64_t tenant_b = admin.create("/api/v1/tenants", R"({"name":"Globex"})");

  // Tenant A: a site whose agent learns the site's peer key, then leaves; a weekly window
  // that is always open; then the site is deleted.
  const int64_t old_site =
      admin.create("/api/v1/tenants/" + str(tenant_a) + "/sites", R"({"name":"Lab"})");
  SyntheticAgent leaver(collector.port());
  SyntheticAnswer left = leaver.enroll(admin.enrollToken(old_site), "lab-01");
  BOOST_REQUIRE_EQUAL(left.status, 201);
  const std::string old_key = peerKeyOf(left);
  BOOST_REQUIRE(!old_key.empty());
  BOOST_REQUIRE_EQUAL(admin.call("POST", "/api/v1/agents/" + leaver.id() + "/retire").status, 200);
  BOOST_REQUIRE_EQUAL(admin.call("DELETE", "/api/v1/agents/" + leaver.id()).status, 204);
  admin.create("/api/v1/maintenance-windows",
               R"({"site_id":)" + str(old_site) +
                   R"(,"starts_at":"2020-01-06T00:00:00Z","duration_s":604740,)"
                   R"("recurrence":"weekly"})");
  BOOST_REQUIRE_EQUAL(admin.call("DELETE", "/api/v1/sites/" + str(old_site)).status, 204);

  // Tenant B's next site: a new id, its own key, and its silent agent is alerted normally.
  const int64_t new_site =
      admin.create("/api/v1/tenants/" + str(tenant_b) + "/sites", R"({"name":"Lab"})");
  BOOST_TEST(new_site != old_site);
  SyntheticAgent agent(collector.port());
  SyntheticAnswer enrolled = agent.enroll(admin.enrollToken(new_site), "globex-01");
  BOOST_REQUIRE_EQUAL(enrolled.status, 201);
  BOOST_TEST(peerKeyOf(enrolled) != old_key);
  BOOST_REQUIRE_EQUAL(agent.heartbeat().status, 200);
  BOOST_TEST(admin.call("GET", "/api/v1/maintenance-windows").json()->getArray("items")->size() ==
             0u);

  std::string status;
  const bool alerted = eventually(
      [&] {
        status = admin.call("GET", "/api/v1/agents/" + agent.id())
                     .json()
                     ->getValue<std::string>("status");
        HttpResponse open = admin.call(
            "GET", "/api/v1/alerts?state=open&kind=device_offline&agent_id=" + agent.id());
        auto items = open.json()->getArray("items");
        return items && items->size() == 1;
      },
      30s);
  BOOST_TEST(alerted, "no offline alert for the silent agent; last status "
                          << status << "; collector log:\n"
                          << logTail(collector.logPath()));
  BOOST_TEST(status != "MAINTENANCE");
}

namespace {

int64_t nowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// An enrollment body with `hostname` put in as raw JSON string content (escapes and all).
std::string enrollBodyWithHostname(const std::string& token, const std::string& hostname) {
  protocol::EnrollRequest req;
  req.enroll_token = token;
  req.facts = {"HOSTNAME", "linux", "test", "x86_64", "0.1.0"};
  std::string body = protocol::encode(req);
  body.replace(body.find("HOSTNAME"), 8, hostname);
  return body;
}

void expectInvalidText(const HttpResponse& r, const std::string& what) {
  BOOST_TEST_CONTEXT(what) {
    BOOST_TEST(r.status == 400, r.body);
    auto json = r.json();
    BOOST_REQUIRE_MESSAGE(json, "error body is not JSON: " << r.body);
    BOOST_TEST(json->optValue<std::string>("error", "") == "invalid_text");
  }
}

}  // namespace

BOOST_AUTO_TEST_CASE(strings_that_are_not_clean_utf8_are_refused_everywhere) {
  TempDir tmp;
  Collector collector(tmp.sub("collector"));
  collector.start();
  Admin admin(collector);
  const std::string token = collector.enrollToken();
  auto enroll = [&](const std::string& body) {
    return httpRequest(collector.port(), "POST", protocol::kEnrollPath, {}, body);
  };
  const std::vector<std::pair<std::string, std::string>> bad_hostnames = {
      {"escaped NUL", R"(trunc\u0000ated)"},
      {"raw NUL", std::string("trunc\0ated", 10)},
      {"invalid UTF-8", "host\xff\xfe"},
      {"truncated UTF-8", "host\xc3"},
  };
  for (const auto& [what, hostname] : bad_hostnames) {
    expectInvalidText(enroll(enrollBodyWithHostname(token, hostname)), "enrollment, " + what);
  }

  // A good agent, whose heartbeats then carry the same bad hostnames.
  HttpResponse enrolled = enroll(enrollBodyWithHostname(token, "h\xc3\xa9te"));
  BOOST_REQUIRE_MESSAGE(enrolled.status == 201, enrolled.body);
  auto answer = protocol::decodeEnrollResponse(enrolled.body);
  BOOST_REQUIRE(answer.ok());
  uint64_t seq = 1;
  auto beat = [&](const std::string& hostname) {
    protocol::Heartbeat hb;
    hb.agent_id = answer->agent_id;
    hb.seq = seq++;
    hb.boot_id = "boot-1";
    hb.uptime_s = 100;
    hb.agent_version = "0.1.0";
    hb.sent_at_ms = nowMs();
    hb.hostname = "HOSTNAME";
    std::string body = protocol::encode(hb);
    body.replace(body.find("HOSTNAME"), 8, hostname);
    const int64_t ts = nowMs();
    auto sig = protocol::sign(answer->secret, "POST", protocol::kHeartbeatPath, ts, body);
    return httpRequest(collector.port(), "POST", protocol::kHeartbeatPath,
                       {{protocol::kHeaderAgentId, answer->agent_id},
                        {protocol::kHeaderTimestamp, std::to_string(ts)},
                        {protocol::kHeaderSignature, sig.value()}},
                       body);
  };
  BOOST_REQUIRE_EQUAL(beat("h\xc3\xa9te").status, 200);
  for (const auto& [what, hostname] : bad_hostnames) {
    expectInvalidText(beat(hostname), "heartbeat, " + what);
  }

  // The admin API: a raw NUL, an escaped one, bytes that are not UTF-8.
  for (const std::string& body :
       {std::string("{\"name\":\"x\0y\"}", 14), std::string(R"({"name":"x\u0000y"})"),
        std::string("{\"name\":\"x\xffy\"}")}) {
    expectInvalidText(admin.call("POST", "/api/v1/tenants", body), "admin body " + body);
  }

  // Nothing refused was stored: one agent, its hostname intact, every answer valid UTF-8.
  HttpResponse list = admin.call("GET", "/api/v1/agents");
  BOOST_TEST(vigil::json::isUtf8(list.body));
  BOOST_REQUIRE(list.json());
  BOOST_TEST(list.json()->getArray("items")->size() == 1u);
  BOOST_TEST(collector.agent(answer->agent_id)->getValue<std::string>("hostname") == "h\xc3\xa9te");
  HttpResponse tenants = admin.call("GET", "/api/v1/tenants");
  BOOST_TEST(tenants.json()->getArray("items")->size() == 1u);  // the bootstrap's default
}

BOOST_AUTO_TEST_CASE(an_enrollment_flood_is_limited_while_a_paced_rollout_goes_through) {
  TempDir tmp;
  Collector collector(tmp.sub("collector"));  // default limits
  collector.start();
  Admin admin(collector);

  // The quickstart token expires and runs out.
  HttpResponse sites = admin.call("GET", "/api/v1/sites");
  const int64_t default_site =
      sites.json()->getArray("items")->getObject(0)->getValue<int64_t>("id");
  auto bootstrap = admin.call("GET", "/api/v1/sites/" + str(default_site) + "/enrollment-tokens")
                       .json()
                       ->getArray("items")
                       ->getObject(0);
  BOOST_TEST(bootstrap->optValue<int64_t>("max_uses", 0) == 1000);
  BOOST_TEST(!bootstrap->isNull("expires_at"));

  // A leaked token, as fast as one client can: the burst passes, the rest is 429.
  const int64_t acme = admin.create("/api/v1/tenants", R"({"name":"Acme"})");
  const int64_t acme_site =
      admin.create("/api/v1/tenants/" + str(acme) + "/sites", R"({"name":"HQ"})");
  const std::string leaked = admin.enrollToken(acme_site);
  auto session = SyntheticAgent::makeSession(collector.port());
  int created = 0, limited = 0;
  std::string retry_after, body;
  const auto flood_start = std::chrono::steady_clock::now();
  for (int i = 0; i < 600; ++i) {
    SyntheticAgent agent(session);
    SyntheticAnswer a = agent.enroll(leaked, "flood-" + std::to_string(i));
    if (a.status == 201) {
      ++created;
    } else if (a.status == 429) {
      ++limited;
      retry_after = a.retry_after;
      body = a.body;
    } else {
      BOOST_FAIL("enrollment answered " << a.status << " " << a.body << a.transport_error);
    }
  }
  const double flood_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - flood_start).count();
  BOOST_TEST_MESSAGE("flood: " << created << " created, " << limited << " refused in " << flood_s
                               << " s");
  // The burst (200) and what refilled meanwhile (10 a second).
  BOOST_TEST(created >= 200);
  BOOST_TEST(created <= 200 + static_cast<int>(flood_s * 10) + 2);
  BOOST_TEST(limited == 600 - created);
  // The last of the crowd is told to come back when its turn comes, within the cap.
  BOOST_TEST(std::atoi(retry_after.c_str()) >= limited / 10 - 1);
  BOOST_TEST(std::atoi(retry_after.c_str()) <= 300);
  BOOST_TEST(body.find("\"error\":\"rate_limited\"") != std::string::npos, body);
  HttpResponse metrics = httpRequest(collector.port(), "GET", "/metrics");
  BOOST_TEST(metrics.body.find("vigil_enrollments_rate_limited_total{limit=\"token\"} " +
                               std::to_string(limited)) != std::string::npos);
  // Logged once for the whole burst, not once per refusal.
  const std::string log = logTail(collector.logPath(), 1 << 20);
  size_t lines = 0;
  for (size_t at = log.find("enrollment limit reached"); at != std::string::npos;
       at = log.find("enrollment limit reached", at + 1)) {
    ++lines;
  }
  BOOST_TEST(lines == 1u);

  // Meanwhile another tenant's rollout, paced under its token's rate, is not held back.
  const int64_t globex = admin.create("/api/v1/tenants", R"({"name":"Globex"})");
  const int64_t globex_site =
      admin.create("/api/v1/tenants/" + str(globex) + "/sites", R"({"name":"HQ"})");
  const std::string rollout = admin.enrollToken(globex_site);
  for (int i = 0; i < 250; ++i) {
    SyntheticAgent agent(session);
    SyntheticAnswer a = agent.enroll(rollout, "rollout-" + std::to_string(i));
    BOOST_REQUIRE_MESSAGE(a.status == 201, "rollout " << i << ": " << a.status << " " << a.body);
    if (i >= 190) std::this_thread::sleep_for(100ms);  // past the burst: 10 a second
  }
}

// A hostile tenant enrolls throw-away agents that beat a few times and go silent together,
// just as another tenant's machine dies: the collector must not take the many silences for its
// own fault (a partition) and hold the other tenant's alert back. The victim has a single
// machine, the case in which "most tenants are silent" is easiest to fake. Shipped presence
// defaults apart from the fast intervals of every integration test.
BOOST_AUTO_TEST_CASE(throw_away_agents_of_one_tenant_hold_back_no_alert_of_another) {
  TempDir tmp;
  Collector collector(tmp.sub("collector"), fastPresenceSettings());
  collector.start();
  Admin admin(collector);
  const int64_t acme = admin.create("/api/v1/tenants", R"({"name":"Acme"})");
  const int64_t globex = admin.create("/api/v1/tenants", R"({"name":"Globex"})");
  const int64_t acme_site =
      admin.create("/api/v1/tenants/" + str(acme) + "/sites", R"({"name":"Throwaway"})");
  const int64_t globex_site =
      admin.create("/api/v1/tenants/" + str(globex) + "/sites", R"({"name":"HQ"})");

  auto session = SyntheticAgent::makeSession(collector.port());
  const std::string acme_token = admin.enrollToken(acme_site);
  std::vector<std::unique_ptr<SyntheticAgent>> throwaways;
  for (int i = 0; i < 40; ++i) {
    throwaways.push_back(std::make_unique<SyntheticAgent>(session));
    BOOST_REQUIRE_EQUAL(throwaways.back()->enroll(acme_token, "tmp-" + str(i)).status, 201);
  }
  const std::string globex_token = admin.enrollToken(globex_site);
  SyntheticAgent globex_agent(session);
  BOOST_REQUIRE_EQUAL(globex_agent.enroll(globex_token, "globex-1").status, 201);
  // Everyone beats for a few intervals; then all stop: Globex's machine has died.
  for (int round = 0; round < 4; ++round) {
    for (auto& a : throwaways) BOOST_REQUIRE_EQUAL(a->heartbeat().status, 200);
    BOOST_REQUIRE_EQUAL(globex_agent.heartbeat().status, 200);
    std::this_thread::sleep_for(1s);
  }
  const std::string dead = globex_agent.id();
  std::string state;
  const bool paged = eventually(
      [&] {
        auto items = admin.call("GET", "/api/v1/alerts?kind=device_offline&agent_id=" + dead)
                         .json()
                         ->getArray("items");
        if (!items || items->size() == 0) return false;
        state = items->getObject(0)->getValue<std::string>("state");
        return state == "open";
      },
      30s);
  BOOST_TEST(paged, "Globex's dead machine was not paged (alert state '"
                        << state << "'); health: " << admin.call("GET", "/api/v1/health").body
                        << "\ncollector log:\n"
                        << logTail(collector.logPath()));
}
