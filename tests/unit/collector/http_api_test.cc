#define BOOST_TEST_MODULE collector_http_api
#include <Poco/AutoPtr.h>
#include <Poco/Channel.h>
#include <Poco/Logger.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/NullChannel.h>
#include <Poco/StreamCopier.h>

#include <algorithm>
#include <boost/test/unit_test.hpp>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "collector/admin/admin_auth.h"
#include "collector/admin/agent_query.h"
#include "collector/http/handlers.h"
#include "collector/http/readiness.h"
#include "collector/http/router.h"
#include "collector/ingest/agent_directory.h"
#include "collector/ingest/ingest_service.h"
#include "collector/ingest/last_seen_writer.h"
#include "collector/listener/http_listener.h"
#include "collector/monitor/presence_monitor.h"
#include "collector/monitor/presence_ticker.h"
#include "collector/store/sql_store.h"
#include "common/clock.h"
#include "common/crypto.h"
#include "common/json.h"
#include "common/protocol.h"
#include "tests/support/temp_dir.h"

using namespace std::chrono_literals;
namespace protocol = vigil::protocol;
using Poco::Net::HTTPRequest;
using vigil::collector::AdminAuthenticator;
using vigil::collector::AgentDirectory;
using vigil::collector::AgentQueryService;
using vigil::collector::ApiServices;
using vigil::collector::CollectorRouter;
using vigil::collector::EnrollmentToken;
using vigil::collector::IngestConfig;
using vigil::collector::IngestService;
using vigil::collector::PresenceMonitor;
using vigil::collector::PresenceTicker;
using vigil::collector::ReadinessProbe;
using vigil::collector::SqlStore;
using vigil::testing::TempDir;

namespace {

constexpr char kEnrollToken[] = "http-test-enroll-token";
constexpr char kAdminToken[] = "http-test-admin-token-0123456789abcdef";
constexpr int64_t kStartMs = 1'790'000'000'000;

std::string hashOf(const std::string& token) {
  return vigil::crypto::toHex(vigil::crypto::sha256(token).value());
}

struct Reply {
  int status = 0;
  std::string body;
  Poco::Net::HTTPResponse response;

  // The `error` of a protocol error body, or "" if the body is not one.
  std::string errorCode() const {
    auto decoded = protocol::decodeErrorBody(body);
    return decoded.ok() ? decoded->error : "";
  }
  std::string field(const char* name) const {
    auto root = vigil::json::parse(body);
    const cJSON* item = cJSON_GetObjectItemCaseSensitive(root.get(), name);
    if (item == nullptr) return "<absent>";
    if (cJSON_IsNull(item)) return "<null>";
    if (cJSON_IsString(item)) return item->valuestring;
    return vigil::json::print(item);
  }
};

using Headers = std::map<std::string, std::string>;

// A collector's HTTP API on 127.0.0.1 with an ephemeral port, over a real store.
struct ServerFixture {
  ServerFixture()
      : clock(vigil::fromUnixMillis(kStartMs)),
        store(std::move(SqlStore::openSqlite(tmp.sub("data")).value())),
        presence(vigil::collector::presence::PresenceConfig{}, clock),
        ticker(presence, *store, 1s),
        ingest(*store, *store, *store, directory, clock, IngestConfig{60, 300'000}, &presence),
        agents(*store, *store, directory, presence,
               vigil::collector::HealthSources{nullptr, 0, &ingest}),
        admin_auth(*store),
        readiness(*store),
        logger(quietLogger()),
        services{ingest, admin_auth, admin_routes, readiness, nullptr, nullptr, clock, logger},
        router(services),
        admission(vigil::collector::AdmissionConfig{}) {
    auto tenant = store->createTenant("default", kStartMs);
    auto site = store->createSite(tenant->id, "default", kStartMs);
    EnrollmentToken t;
    t.site_id = site->id;
    t.token_hash = hashOf(kEnrollToken);
    t.created_at_ms = kStartMs;
    BOOST_REQUIRE(store->createEnrollmentToken(t).ok());
    BOOST_REQUIRE(store
                      ->createAdminToken(vigil::collector::NewAdminToken::forAllTenants(
                                             hashOf(kAdminToken), "test"),
                                         kStartMs)
                      .ok());
    BOOST_REQUIRE(directory.load(*store).ok());
    agents.registerRoutes(admin_routes);
    // The handlers behind the collector's own listener, as in production.
    Poco::Net::ServerSocket socket;
    socket.bind(Poco::Net::SocketAddress("127.0.0.1", 0), true, false);
    socket.listen(64);
    port = socket.address().port();
    listener = std::make_unique<vigil::collector::HttpListener>(
        std::move(socket), vigil::collector::ListenerConfig{}, router, admission, clock, logger);
    listener->start();
    readiness.setListening(true);
  }
  ~ServerFixture() { listener->stop(1s); }

  static Poco::Logger& quietLogger() {
    Poco::Logger& l = Poco::Logger::get("test.http");
    l.setChannel(new Poco::NullChannel);
    return l;
  }

  Reply call(const std::string& method, const std::string& uri, const std::string& body = "",
             const Headers& headers = {}, const std::string& content_type = "application/json",
             bool send_body = true) {
    Poco::Net::HTTPClientSession session("127.0.0.1", port);
    HTTPRequest request(method, uri, Poco::Net::HTTPMessage::HTTP_1_1);
    for (const auto& [name, value] : headers) request.set(name, value);
    if (method == HTTPRequest::HTTP_POST) {
      if (!content_type.empty()) request.setContentType(content_type);
      if (!request.has("Content-Length") && !request.getChunkedTransferEncoding()) {
        request.setContentLength(static_cast<std::streamsize>(body.size()));
      }
    }
    std::ostream& out = session.sendRequest(request);
    if (send_body) out << body;
    Reply reply;
    std::istream& in = session.receiveResponse(reply.response);
    Poco::StreamCopier::copyToString(in, reply.body);
    reply.status = static_cast<int>(reply.response.getStatus());
    return reply;
  }

  Reply admin(const std::string& uri) {
    return call(HTTPRequest::HTTP_GET, uri, "",
                {{"Authorization", std::string("Bearer ") + kAdminToken}});
  }

  protocol::EnrollResponse enroll() {
    protocol::EnrollRequest req;
    req.enroll_token = kEnrollToken;
    req.facts = {"web-01", "linux", "Debian 12", "x86_64", "0.1.0"};
    Reply reply = call(HTTPRequest::HTTP_POST, protocol::kEnrollPath, protocol::encode(req));
    BOOST_REQUIRE_EQUAL(reply.status, 201);
    return protocol::decodeEnrollResponse(reply.body).value();
  }

  static protocol::Heartbeat beat(const protocol::EnrollResponse& agent, uint64_t seq) {
    protocol::Heartbeat hb;
    hb.agent_id = agent.agent_id;
    hb.seq = seq;
    hb.boot_id = "boot";
    hb.uptime_s = 10;
    hb.agent_version = "0.1.0";
    hb.sent_at_ms = kStartMs;
    return hb;
  }

  Reply heartbeat(const protocol::EnrollResponse& agent, uint64_t seq) {
    return heartbeat(agent, beat(agent, seq));
  }

  Reply heartbeat(const protocol::EnrollResponse& agent, const protocol::Heartbeat& hb) {
    const std::string body = protocol::encode(hb);
    const int64_t ts = vigil::toUnixMillis(clock.wallNow());
    return call(
        HTTPRequest::HTTP_POST, protocol::kHeartbeatPath, body,
        {{protocol::kHeaderAgentId, agent.agent_id},
         {protocol::kHeaderTimestamp, std::to_string(ts)},
         {protocol::kHeaderSignature,
          protocol::sign(agent.secret, "POST", protocol::kHeartbeatPath, ts, body).value()}});
  }

  TempDir tmp;
  vigil::SimulatedClock clock;
  std::unique_ptr<SqlStore> store;
  AgentDirectory directory;
  PresenceMonitor presence;
  PresenceTicker ticker;
  IngestService ingest;
  AgentQueryService agents;
  vigil::collector::AdminRouteTable admin_routes;
  AdminAuthenticator admin_auth;
  ReadinessProbe readiness;
  Poco::Logger& logger;
  ApiServices services;
  CollectorRouter router;
  vigil::collector::AdmissionController admission;
  std::unique_ptr<vigil::collector::HttpListener> listener;
  Poco::UInt16 port = 0;
};

}  // namespace

BOOST_FIXTURE_TEST_SUITE(http_api, ServerFixture)

BOOST_AUTO_TEST_CASE(unknown_path_is_404_not_found_json) {
  Reply r = call(HTTPRequest::HTTP_GET, "/nothing/here");
  BOOST_TEST(r.status == 404);
  BOOST_TEST(r.errorCode() == "not_found");
  BOOST_TEST(r.response.getContentType() == "application/json");
}

BOOST_AUTO_TEST_CASE(wrong_method_is_405_with_allow_header) {
  Reply r = call(HTTPRequest::HTTP_GET, protocol::kHeartbeatPath);
  BOOST_TEST(r.status == 405);
  BOOST_TEST(r.errorCode() == "method_not_allowed");
  BOOST_TEST(r.response.get("Allow", "") == "POST");
  Reply p = call(HTTPRequest::HTTP_POST, "/livez", "{}");
  BOOST_TEST(p.status == 405);
  BOOST_TEST(p.response.get("Allow", "") == "GET");
}

BOOST_AUTO_TEST_CASE(non_json_media_type_is_415) {
  Reply r = call(HTTPRequest::HTTP_POST, protocol::kEnrollPath, "{}", {}, "text/plain");
  BOOST_TEST(r.status == 415);
  BOOST_TEST(r.errorCode() == "unsupported_media_type");
  Reply none = call(HTTPRequest::HTTP_POST, protocol::kHeartbeatPath, "{}", {}, "");
  BOOST_TEST(none.status == 415);
}

BOOST_AUTO_TEST_CASE(json_media_type_with_charset_is_accepted) {
  Reply r = call(HTTPRequest::HTTP_POST, protocol::kEnrollPath, "{", {},
                 "application/json; charset=utf-8");
  BOOST_TEST(r.status == 400);
  BOOST_TEST(r.errorCode() == "malformed_json");
}

BOOST_AUTO_TEST_CASE(declared_content_length_over_limit_is_413_without_reading) {
  Reply r = call(HTTPRequest::HTTP_POST, protocol::kHeartbeatPath, "",
                 {{"Content-Length", std::to_string(protocol::kMaxBodyBytes + 1)}},
                 "application/json", /*send_body=*/false);
  BOOST_TEST(r.status == 413);
  BOOST_TEST(r.errorCode() == "body_too_large");
  BOOST_TEST(!r.response.getKeepAlive());
}

BOOST_AUTO_TEST_CASE(chunked_body_over_limit_is_413) {
  Reply r =
      call(HTTPRequest::HTTP_POST, protocol::kEnrollPath,
           std::string(protocol::kMaxBodyBytes + 100, ' '), {{"Transfer-Encoding", "chunked"}});
  BOOST_TEST(r.status == 413);
  BOOST_TEST(r.errorCode() == "body_too_large");
}

BOOST_AUTO_TEST_CASE(unsigned_heartbeat_is_401_missing_signature_json) {
  Reply r = call(HTTPRequest::HTTP_POST, protocol::kHeartbeatPath, "{bad");
  BOOST_TEST(r.status == 401);
  BOOST_TEST(r.errorCode() == "missing_signature");
}

BOOST_AUTO_TEST_CASE(enrolled_agent_heartbeat_is_accepted_over_http) {
  auto agent = enroll();
  Reply first = heartbeat(agent, 1);
  BOOST_TEST(first.status == 200);
  auto decoded = protocol::decodeHeartbeatResponse(first.body);
  BOOST_REQUIRE(decoded.ok());
  BOOST_TEST(decoded->next_interval_s == 60);
  Reply replay = heartbeat(agent, 1);
  BOOST_TEST(replay.status == 409);
  BOOST_TEST(replay.errorCode() == "replayed_sequence");
}

BOOST_AUTO_TEST_CASE(stale_timestamp_answer_carries_server_time) {
  auto agent = enroll();
  clock.jumpWall(-10min);  // the collector's view; the request is signed at the new time
  Reply ok = heartbeat(agent, 1);
  BOOST_TEST(ok.status == 200);
  const std::string body = protocol::encode(beat(agent, 2));
  const int64_t ts = kStartMs;  // 10 min ahead of the collector now
  Reply r =
      call(HTTPRequest::HTTP_POST, protocol::kHeartbeatPath, body,
           {{protocol::kHeaderAgentId, agent.agent_id},
            {protocol::kHeaderTimestamp, std::to_string(ts)},
            {protocol::kHeaderSignature,
             protocol::sign(agent.secret, "POST", protocol::kHeartbeatPath, ts, body).value()}});
  BOOST_TEST(r.status == 401);
  BOOST_TEST(r.errorCode() == "stale_timestamp");
  BOOST_TEST(r.field("server_time_ms") == std::to_string(kStartMs - 600'000));
}

BOOST_AUTO_TEST_CASE(admin_api_without_or_with_wrong_token_is_401_with_challenge) {
  Reply none = call(HTTPRequest::HTTP_GET, "/api/v1/agents");
  BOOST_TEST(none.status == 401);
  BOOST_TEST(none.errorCode() == "unauthorized");
  BOOST_TEST(none.response.get("WWW-Authenticate", "") == "Bearer");
  Reply wrong = call(HTTPRequest::HTTP_GET, "/api/v1/agents", "",
                     {{"Authorization", "Bearer not-the-token"}});
  BOOST_TEST(wrong.status == 401);
  Reply basic = call(HTTPRequest::HTTP_GET, "/api/v1/agents", "",
                     {{"Authorization", std::string("Basic ") + kAdminToken}});
  BOOST_TEST(basic.status == 401);
  Reply unknown_agent = call(HTTPRequest::HTTP_GET, "/api/v1/agents/ag_x");
  BOOST_TEST(unknown_agent.status == 401);
}

namespace {

// Keeps every message logged to it.
class CapturingChannel : public Poco::Channel {
 public:
  void log(const Poco::Message& message) override {
    std::lock_guard<std::mutex> lock(mutex_);
    texts_.push_back(message.getText());
  }
  std::vector<std::string> texts() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return texts_;
  }

 private:
  mutable std::mutex mutex_;
  std::vector<std::string> texts_;
};

}  // namespace

BOOST_AUTO_TEST_CASE(a_read_only_token_reads_but_any_change_is_403_forbidden_and_logged) {
  constexpr char kReader[] = "http-test-read-only-token-0123456789";
  vigil::collector::NewAdminToken reader =
      vigil::collector::NewAdminToken::forAllTenants(hashOf(kReader), "reader");
  reader.role = vigil::collector::AdminRole::kReadOnly;
  BOOST_REQUIRE(store->createAdminToken(reader, kStartMs).ok());
  auto agent = enroll();
  Poco::AutoPtr<CapturingChannel> captured(new CapturingChannel);
  logger.setChannel(captured);
  const Headers auth = {{"Authorization", std::string("Bearer ") + kReader}};
  BOOST_TEST(call(HTTPRequest::HTTP_GET, "/api/v1/agents/" + agent.agent_id, "", auth).status ==
             200);
  Reply retire =
      call(HTTPRequest::HTTP_POST, "/api/v1/agents/" + agent.agent_id + "/retire", "", auth);
  Reply del = call(HTTPRequest::HTTP_DELETE, "/api/v1/agents/" + agent.agent_id, "", auth);
  logger.setChannel(new Poco::NullChannel);
  for (const Reply* r : {&retire, &del}) {
    BOOST_TEST(r->status == 403);
    BOOST_TEST(r->errorCode() == "forbidden");
    BOOST_TEST(r->response.getContentType() == "application/json");
  }
  // Nothing changed: the agent is still there and not retired.
  Reply still = admin("/api/v1/agents/" + agent.agent_id);
  BOOST_TEST(still.status == 200);
  BOOST_TEST(still.field("retired_at") == "<null>");
  bool logged = false;
  for (const std::string& text : captured->texts()) {
    logged = logged || (text.find("refused") != std::string::npos &&
                        text.find("DELETE /api/v1/agents/{agent_id}") != std::string::npos &&
                        text.find("read-only") != std::string::npos);
  }
  BOOST_TEST(logged);
}

BOOST_AUTO_TEST_CASE(agent_list_pages_with_opaque_cursor) {
  auto a = enroll();
  auto b = enroll();
  auto c = enroll();
  Reply first = admin("/api/v1/agents?limit=2");
  BOOST_TEST(first.status == 200);
  auto root = vigil::json::parse(first.body);
  BOOST_TEST(cJSON_GetArraySize(cJSON_GetObjectItem(root.get(), "items")) == 2);
  const std::string cursor = first.field("next_cursor");
  std::vector<std::string> ids = {a.agent_id, b.agent_id, c.agent_id};
  std::sort(ids.begin(), ids.end());
  BOOST_TEST(cursor == vigil::collector::encodeCursor(ids[1]));  // opaque: the first page's last id
  Reply bad = admin("/api/v1/agents?limit=2&cursor=" + ids[1]);
  BOOST_TEST(bad.status == 400);
  BOOST_TEST(bad.errorCode() == "invalid_cursor");
  Reply second = admin("/api/v1/agents?limit=2&cursor=" + cursor);
  auto root2 = vigil::json::parse(second.body);
  BOOST_TEST(cJSON_GetArraySize(cJSON_GetObjectItem(root2.get(), "items")) == 1);
  BOOST_TEST(second.field("next_cursor") == "<null>");
  Reply all = admin("/api/v1/agents");
  auto root3 = vigil::json::parse(all.body);
  BOOST_TEST(cJSON_GetArraySize(cJSON_GetObjectItem(root3.get(), "items")) == 3);
}

BOOST_AUTO_TEST_CASE(agent_list_sorts_by_last_seen_and_keeps_cursors_to_their_sort) {
  auto quiet = enroll();   // never seen
  auto early = enroll();   // seen at kStartMs + 1000
  auto recent = enroll();  // seen at kStartMs + 5000
  vigil::collector::LastSeenUpdate e;
  e.agent_id = early.agent_id;
  e.last_seen_at_ms = kStartMs + 1000;
  e.last_seq = 1;
  vigil::collector::LastSeenUpdate r = e;
  r.agent_id = recent.agent_id;
  r.last_seen_at_ms = kStartMs + 5000;
  BOOST_REQUIRE(store->updateLastSeen({e, r}).ok());
  auto walk = [&](const std::string& sort) {
    std::vector<std::string> ids;
    std::string cursor;
    for (int pages = 0; pages < 5; ++pages) {
      Reply page = admin("/api/v1/agents?limit=1&sort=" + sort +
                         (cursor.empty() ? "" : "&cursor=" + cursor));
      BOOST_REQUIRE_EQUAL(page.status, 200);
      auto root = vigil::json::parse(page.body);
      const cJSON* item = cJSON_GetArrayItem(cJSON_GetObjectItem(root.get(), "items"), 0);
      if (item != nullptr) ids.push_back(cJSON_GetObjectItem(item, "id")->valuestring);
      cursor = page.field("next_cursor");
      if (cursor == "<null>") break;
    }
    return ids;
  };
  const std::vector<std::string> oldest = {quiet.agent_id, early.agent_id, recent.agent_id};
  BOOST_TEST(walk("last_seen") == oldest, boost::test_tools::per_element());
  const std::vector<std::string> newest = {recent.agent_id, early.agent_id, quiet.agent_id};
  BOOST_TEST(walk("-last_seen") == newest, boost::test_tools::per_element());
  Reply bad_sort = admin("/api/v1/agents?sort=hostname");
  BOOST_TEST(bad_sort.status == 400);
  BOOST_TEST(bad_sort.errorCode() == "invalid_field");
  // A cursor belongs to its sort: reused with another, it is refused, never misread.
  const std::string by_seen = admin("/api/v1/agents?limit=1&sort=last_seen").field("next_cursor");
  const std::string by_id = admin("/api/v1/agents?limit=1").field("next_cursor");
  for (const std::string& uri :
       {"/api/v1/agents?cursor=" + by_seen, "/api/v1/agents?sort=-last_seen&cursor=" + by_seen,
        "/api/v1/agents?sort=last_seen&cursor=" + by_id}) {
    Reply refused = admin(uri);
    BOOST_TEST(refused.status == 400, uri);
    BOOST_TEST(refused.errorCode() == "invalid_cursor", uri);
  }
}

BOOST_AUTO_TEST_CASE(agent_list_refuses_a_bad_limit) {
  for (const char* limit : {"0", "-1", "abc", ""}) {
    BOOST_TEST_CONTEXT("limit=" << limit) {
      Reply r = admin(std::string("/api/v1/agents?limit=") + limit);
      BOOST_TEST(r.status == 400);
      BOOST_TEST(r.errorCode() == "invalid_field");
    }
  }
  BOOST_TEST(admin("/api/v1/agents?limit=5000").status == 200);  // clamped to 1000
}

BOOST_AUTO_TEST_CASE(agent_detail_shows_live_evidence_and_status) {
  auto agent = enroll();
  Reply unknown = admin("/api/v1/agents/" + agent.agent_id);
  BOOST_TEST(unknown.status == 200);
  BOOST_TEST(unknown.field("status") == "UNKNOWN");
  BOOST_TEST(unknown.field("last_seen_at") == "<null>");
  BOOST_TEST(unknown.field("hostname") == "web-01");
  BOOST_TEST(unknown.field("enrolled_at") == "2026-09-21T14:13:20.000Z");

  BOOST_REQUIRE_EQUAL(heartbeat(agent, 3).status, 200);
  Reply online = admin("/api/v1/agents/" + agent.agent_id);
  BOOST_TEST(online.field("status") == "ONLINE");
  BOOST_TEST(online.field("last_seq") == "3");
  BOOST_TEST(online.field("last_seen_at") == "2026-09-21T14:13:20.000Z");

  BOOST_TEST(online.field("status_reason") == "fresh_evidence");
  BOOST_TEST(online.field("alert_open") == "false");

  // Silent for 200 s (60 s interval): late, then confirmed over the confirmation window.
  for (int i = 0; i < 200; ++i) {
    clock.advance(1s);
    BOOST_REQUIRE(ticker.tickOnce().ok());
  }
  Reply offline = admin("/api/v1/agents/" + agent.agent_id);
  BOOST_TEST(offline.field("status") == "OFFLINE");
  BOOST_TEST(offline.field("status_reason") == "confirmed_silent");
  BOOST_TEST(offline.field("alert_open") == "true");
  auto root = vigil::json::parse(offline.body);
  const cJSON* history = cJSON_GetObjectItem(root.get(), "history");
  BOOST_REQUIRE(cJSON_GetArraySize(history) >= 3);
  BOOST_TEST(std::string(cJSON_GetObjectItem(cJSON_GetArrayItem(history, 0), "to")->valuestring) ==
             "OFFLINE");
  BOOST_TEST(std::string(cJSON_GetObjectItem(cJSON_GetArrayItem(history, 1), "to")->valuestring) ==
             "SUSPECT");
  const cJSON* evidence = cJSON_GetObjectItem(root.get(), "evidence");
  const cJSON* hb = cJSON_GetObjectItem(evidence, "heartbeat");
  BOOST_TEST(std::string(cJSON_GetObjectItem(hb, "last_seen_at")->valuestring) ==
             "2026-09-21T14:13:20.000Z");
  BOOST_TEST(cJSON_GetObjectItem(hb, "expected_interval_s")->valuedouble == 60);
}

BOOST_AUTO_TEST_CASE(agent_detail_shows_facts_outages_and_the_last_shutdown) {
  auto agent = enroll();
  Reply before = admin("/api/v1/agents/" + agent.agent_id);
  BOOST_TEST(before.field("last_shutdown_reason") == "<null>");
  BOOST_TEST(before.field("outages") == "[]");
  BOOST_TEST(before.field("facts").find("\"net\":null") != std::string::npos);

  protocol::Heartbeat hb = beat(agent, 1);
  hb.os_version = "Debian GNU/Linux 13 (trixie)";
  hb.config_hash = "0123456789abcdef";
  hb.net = protocol::NetworkSelfCheck{true, {"10.0.0.7"}};
  hb.outages = {{kStartMs - 120'000, kStartMs - 60'000, protocol::causes::kNoNetwork}};
  hb.shutdown = protocol::shutdown_reasons::kServiceStop;
  BOOST_REQUIRE_EQUAL(heartbeat(agent, hb).status, 200);
  vigil::collector::LastSeenWriter writer(directory, *store, 1h);
  BOOST_REQUIRE(writer.flush().ok());

  Reply r = admin("/api/v1/agents/" + agent.agent_id);
  BOOST_TEST(r.field("status") == "SHUTDOWN");
  BOOST_TEST(r.field("last_shutdown_reason") == "service_stop");
  BOOST_TEST(r.field("last_shutdown_at") == "2026-09-21T14:13:20.000Z");
  BOOST_TEST(r.field("os_version") == "Debian GNU/Linux 13 (trixie)");
  auto root = vigil::json::parse(r.body);
  const cJSON* facts = cJSON_GetObjectItem(root.get(), "facts");
  BOOST_TEST(std::string(cJSON_GetObjectItem(facts, "hostname")->valuestring) == "web-01");
  BOOST_TEST(std::string(cJSON_GetObjectItem(facts, "config_hash")->valuestring) ==
             "0123456789abcdef");
  const cJSON* net = cJSON_GetObjectItem(facts, "net");
  BOOST_TEST(cJSON_IsTrue(cJSON_GetObjectItem(net, "default_route")));
  BOOST_TEST(
      std::string(cJSON_GetArrayItem(cJSON_GetObjectItem(net, "addresses"), 0)->valuestring) ==
      "10.0.0.7");
  const cJSON* outages = cJSON_GetObjectItem(root.get(), "outages");
  BOOST_REQUIRE(cJSON_GetArraySize(outages) == 1);
  const cJSON* outage = cJSON_GetArrayItem(outages, 0);
  BOOST_TEST(std::string(cJSON_GetObjectItem(outage, "from")->valuestring) ==
             "2026-09-21T14:11:20.000Z");
  BOOST_TEST(std::string(cJSON_GetObjectItem(outage, "to")->valuestring) ==
             "2026-09-21T14:12:20.000Z");
  BOOST_TEST(std::string(cJSON_GetObjectItem(outage, "cause")->valuestring) == "no_network");
  BOOST_TEST(std::string(cJSON_GetObjectItem(outage, "reported_at")->valuestring) ==
             "2026-09-21T14:13:20.000Z");
  // The peer key is never shown by the admin API.
  const std::string key = store->listSites().value()[0].peer_key;
  BOOST_TEST(r.body.find(key) == std::string::npos);
  BOOST_TEST(admin("/api/v1/agents").body.find(key) == std::string::npos);
}

BOOST_AUTO_TEST_CASE(health_shows_no_beacon_listener_and_the_peer_sighting_counters) {
  Reply r = admin("/api/v1/health");
  BOOST_TEST(r.field("beacon") == "<null>");
  BOOST_TEST(r.field("peer_sightings") == "{\"witnessed\":0,\"ignored\":0}");
}

BOOST_AUTO_TEST_CASE(health_shows_warm_up_then_healthy_and_needs_a_token) {
  Reply warm = admin("/api/v1/health");
  BOOST_TEST(warm.status == 200);
  BOOST_TEST(warm.field("status") == "degraded");
  BOOST_TEST(warm.body.find("\"warm_up\"") != std::string::npos);
  for (int i = 0; i < 70; ++i) {  // warm-up: one 60 s interval plus 10 % jitter
    clock.advance(1s);
    BOOST_REQUIRE(ticker.tickOnce().ok());
  }
  Reply healthy = admin("/api/v1/health");
  BOOST_TEST(healthy.field("status") == "healthy");
  BOOST_TEST(healthy.body.find("\"history\":[{") != std::string::npos);
  BOOST_TEST(call(HTTPRequest::HTTP_GET, "/api/v1/health").status == 401);
}

BOOST_AUTO_TEST_CASE(an_unchanged_admin_read_revalidates_to_304_without_a_body) {
  enroll();
  Reply first = admin("/api/v1/agents");
  BOOST_REQUIRE_EQUAL(first.status, 200);
  const std::string tag = first.response.get("ETag", "");
  BOOST_TEST(tag.size() == 34u);  // 32 hex digits, quoted
  BOOST_TEST(first.response.get("Cache-Control", "") == "no-store");
  const Headers auth = {{"Authorization", std::string("Bearer ") + kAdminToken}};
  Headers conditional = auth;
  conditional["If-None-Match"] = "\"0000\", W/" + tag;
  Reply same = call(HTTPRequest::HTTP_GET, "/api/v1/agents", "", conditional);
  BOOST_TEST(same.status == 304);
  BOOST_TEST(same.body.empty());
  BOOST_TEST(same.response.get("ETag", "") == tag);
  // A change makes a new tag: the conditional read gets the whole new page.
  enroll();
  Reply changed = call(HTTPRequest::HTTP_GET, "/api/v1/agents", "", conditional);
  BOOST_TEST(changed.status == 200);
  BOOST_TEST(changed.response.get("ETag", "") != tag);
  BOOST_TEST(changed.body.find("\"items\"") != std::string::npos);
  // The tag never stands in for the token.
  Reply anonymous = call(HTTPRequest::HTTP_GET, "/api/v1/agents", "", {{"If-None-Match", tag}});
  BOOST_TEST(anonymous.status == 401);
}

BOOST_AUTO_TEST_CASE(if_none_match_takes_lists_weak_tags_and_star) {
  using vigil::collector::ifNoneMatchNames;
  BOOST_TEST(ifNoneMatchNames("\"a\"", "\"a\""));
  BOOST_TEST(ifNoneMatchNames(" \"b\" ,\t W/\"a\" ", "\"a\""));
  BOOST_TEST(ifNoneMatchNames("*", "\"a\""));
  BOOST_TEST(!ifNoneMatchNames("\"ab\"", "\"a\""));
  BOOST_TEST(!ifNoneMatchNames("", "\"a\""));
  BOOST_TEST(!ifNoneMatchNames(",,", "\"a\""));
  BOOST_TEST(vigil::collector::entityTag("x") == vigil::collector::entityTag("x"));
  BOOST_TEST(vigil::collector::entityTag("x") != vigil::collector::entityTag("y"));
}

BOOST_AUTO_TEST_CASE(the_console_is_served_with_its_security_headers_and_revalidates) {
  Reply moved = call(HTTPRequest::HTTP_GET, "/console");
  BOOST_TEST(moved.status == 301);
  BOOST_TEST(moved.response.get("Location", "") == "/console/");
  Reply page = call(HTTPRequest::HTTP_GET, "/console/");
  BOOST_REQUIRE_EQUAL(page.status, 200);
  BOOST_TEST(page.response.getContentType() == "text/html; charset=utf-8");
  BOOST_TEST(page.body.find("<html") != std::string::npos);
  const std::string csp = page.response.get("Content-Security-Policy", "");
  BOOST_TEST(csp.find("script-src 'self'") != std::string::npos);
  BOOST_TEST(csp.find("frame-ancestors 'none'") != std::string::npos);
  BOOST_TEST(csp.find("unsafe-inline") == std::string::npos);
  BOOST_TEST(page.response.get("X-Content-Type-Options", "") == "nosniff");
  BOOST_TEST(page.response.get("Cache-Control", "") == "no-cache");
  Reply again = call(HTTPRequest::HTTP_GET, "/console/index.html", "",
                     {{"If-None-Match", page.response.get("ETag", "")}});
  BOOST_TEST(again.status == 304);
  BOOST_TEST(again.response.get("Content-Security-Policy", "") == csp);
  // Only embedded names exist: nothing else of the file system can be reached.
  for (const char* path : {"/console/../admin-token", "/console/%2e%2e/admin-token",
                           "/console/nothing.js", "/console/web/index.html"}) {
    Reply missing = call(HTTPRequest::HTTP_GET, path);
    BOOST_TEST(missing.status == 404, path);
    BOOST_TEST(missing.errorCode() == "not_found", path);
  }
  Reply posted = call(HTTPRequest::HTTP_POST, "/console/", "{}");
  BOOST_TEST(posted.status == 405);
}

BOOST_AUTO_TEST_CASE(missing_agent_is_404_not_found_json) {
  Reply r = admin("/api/v1/agents/ag_missing");
  BOOST_TEST(r.status == 404);
  BOOST_TEST(r.errorCode() == "not_found");
}

BOOST_AUTO_TEST_CASE(livez_and_readyz_report_ok_when_serving) {
  Reply live = call(HTTPRequest::HTTP_GET, "/livez");
  BOOST_TEST(live.status == 200);
  BOOST_TEST(live.field("status") == "ok");
  Reply ready = call(HTTPRequest::HTTP_GET, "/readyz");
  BOOST_TEST(ready.status == 200);
}

BOOST_AUTO_TEST_CASE(readyz_is_503_json_when_listener_is_not_up) {
  readiness.setListening(false);
  Reply r = call(HTTPRequest::HTTP_GET, "/readyz");
  BOOST_TEST(r.status == 503);
  BOOST_TEST(r.field("status") == "unavailable");
}

BOOST_AUTO_TEST_SUITE_END()
