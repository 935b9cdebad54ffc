#define BOOST_TEST_MODULE integration_bad_input
#include <Poco/Exception.h>
#include <Poco/Net/SocketAddress.h>
#include <Poco/Net/StreamSocket.h>

#include <boost/test/unit_test.hpp>
#include <chrono>
#include <cstdlib>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "common/protocol.h"
#include "tests/integration/harness.h"

using namespace vigil;
using namespace vigil::testing;
using namespace std::chrono_literals;

namespace {

int64_t nowMs() { return toUnixMillis(RealClock::instance().wallNow()); }

struct EnrolledAgent {
  std::string id;
  std::string secret;
};

// One collector and one agent enrolled by hand, shared by every case in this file.
struct CollectorFixture {
  TempDir tmp;
  Collector collector{tmp.sub("collector"), {{"store.flushIntervalMs", "100"}}};
  EnrolledAgent agent;
  uint64_t next_seq = 1;

  CollectorFixture() {
    collector.start();
    protocol::EnrollRequest req;
    req.enroll_token = collector.enrollToken();
    req.facts = {"bad-input-host", "linux", "test", "x86_64", "0.1.0"};
    HttpResponse r =
        httpRequest(collector.port(), "POST", protocol::kEnrollPath, {}, protocol::encode(req));
    BOOST_REQUIRE_MESSAGE(r.status == 201, "enroll failed: " << r.status << " " << r.body);
    auto resp = protocol::decodeEnrollResponse(r.body);
    BOOST_REQUIRE(resp.ok());
    agent = {resp->agent_id, resp->secret};
  }

  protocol::Heartbeat heartbeat(uint64_t seq) const {
    protocol::Heartbeat hb;
    hb.agent_id = agent.id;
    hb.seq = seq;
    hb.boot_id = "boot-1";
    hb.uptime_s = 100;
    hb.agent_version = "0.1.0";
    hb.sent_at_ms = nowMs();
    return hb;
  }

  // Sends `body` signed with `secret` at `ts`, as agent `id`.
  HttpResponse send(const std::string& body, const std::string& id, const std::string& secret,
                    int64_t ts, const std::string& content_type = "application/json") const {
    auto sig = protocol::sign(secret, "POST", protocol::kHeartbeatPath, ts, body);
    return httpRequest(collector.port(), "POST", protocol::kHeartbeatPath,
                       {{protocol::kHeaderAgentId, id},
                        {protocol::kHeaderTimestamp, std::to_string(ts)},
                        {protocol::kHeaderSignature, sig.value()}},
                       body, content_type);
  }
  HttpResponse sendSigned(const std::string& body) const {
    return send(body, agent.id, agent.secret, nowMs());
  }

  Poco::JSON::Object::Ptr record() const { return collector.agent(agent.id); }
};

void expectError(const HttpResponse& r, int status, const std::string& code) {
  BOOST_TEST(r.status == status, "HTTP " << r.status << " body " << r.body);
  auto body = r.json();
  BOOST_REQUIRE_MESSAGE(body, "error body is not JSON: " << r.body);
  BOOST_TEST(body->optValue<std::string>("error", "") == code);
  BOOST_TEST(!body->optValue<std::string>("message", "").empty());
}

// Sends `bytes` on a new connection and returns everything the collector answers until it
// closes the connection.
std::string rawExchange(int port, const std::string& bytes) {
  Poco::Net::StreamSocket socket(
      Poco::Net::SocketAddress("127.0.0.1", static_cast<Poco::UInt16>(port)));
  socket.setReceiveTimeout(Poco::Timespan(10, 0));
  socket.sendBytes(bytes.data(), static_cast<int>(bytes.size()));
  std::string all;
  char buffer[4096];
  try {
    for (int n; (n = socket.receiveBytes(buffer, sizeof buffer)) > 0;) {
      all.append(buffer, static_cast<size_t>(n));
    }
  } catch (const Poco::Exception&) {
  }
  return all;
}

int answersIn(const std::string& text) {
  int n = 0;
  for (size_t at = text.find("HTTP/1.1 "); at != std::string::npos;
       at = text.find("HTTP/1.1 ", at + 1)) {
    ++n;
  }
  return n;
}

}  // namespace

BOOST_FIXTURE_TEST_SUITE(bad_input, CollectorFixture)

// Every kind of bad agent request gets its 4xx and JSON error, and none changes the agent's
// recorded state: afterwards the next good heartbeat is still accepted in sequence.
BOOST_AUTO_TEST_CASE(every_bad_heartbeat_is_refused_and_changes_nothing) {
  BOOST_REQUIRE(sendSigned(protocol::encode(heartbeat(next_seq++))).status == 200);
  BOOST_REQUIRE(eventually([&] { return record() && !record()->isNull("last_seen_at"); }, 10s));
  auto before = record();
  const int64_t seq_before = before->getValue<int64_t>("last_seq");
  const std::string seen_before = before->getValue<std::string>("last_seen_at");
  BOOST_REQUIRE(seq_before == 1);

  auto with = [&](const std::string& field, const std::string& raw) {
    std::string body = protocol::encode(heartbeat(100));
    auto pos = body.find("\"" + field + "\":");
    BOOST_REQUIRE(pos != std::string::npos);
    auto value_start = pos + field.size() + 3;
    auto value_end = body.find_first_of(",}", value_start);
    if (raw.empty()) {  // remove the member and its comma
      body.erase(pos - 1, value_end - pos + 1);
    } else {
      body.replace(value_start, value_end - value_start, raw);
    }
    return body;
  };

  struct Case {
    std::string name;
    std::function<HttpResponse()> send;
    int status;
    std::string code;
  };
  const std::string good = protocol::encode(heartbeat(100));
  const std::vector<Case> cases = {
      {"malformed JSON", [&] { return sendSigned("{\"v\":1,"); }, 400, "malformed_json"},
      {"not an object", [&] { return sendSigned("[1]"); }, 400, "malformed_json"},
      {"seq as string", [&] { return sendSigned(with("seq", "\"100\"")); }, 400, "invalid_field"},
      {"uptime negative", [&] { return sendSigned(with("uptime_s", "-1")); }, 400, "invalid_field"},
      {"missing boot_id", [&] { return sendSigned(with("boot_id", "")); }, 400, "missing_field"},
      {"unsupported version", [&] { return sendSigned(with("v", "2")); }, 400,
       "unsupported_version"},
      {"body agent id differs from header",
       [&] { return sendSigned(with("agent_id", "\"ag_x\"")); }, 400, "invalid_field"},
      {"oversized body",
       [&] { return sendSigned(with("boot_id", "\"" + std::string(70'000, 'x') + "\"")); }, 413,
       "body_too_large"},
      {"wrong content type",
       [&] { return send(good, agent.id, agent.secret, nowMs(), "text/plain"); }, 415,
       "unsupported_media_type"},
      {"missing signature headers",
       [&] { return httpRequest(collector.port(), "POST", protocol::kHeartbeatPath, {}, good); },
       401, "missing_signature"},
      {"bad signature", [&] { return send(good, agent.id, std::string(64, '0'), nowMs()); }, 401,
       "bad_signature"},
      {"malformed timestamp header",
       [&] {
         auto sig = protocol::sign(agent.secret, "POST", protocol::kHeartbeatPath, 1, good);
         return httpRequest(collector.port(), "POST", protocol::kHeartbeatPath,
                            {{protocol::kHeaderAgentId, agent.id},
                             {protocol::kHeaderTimestamp, "-1"},
                             {protocol::kHeaderSignature, sig.value()}},
                            good);
       },
       401, "bad_signature"},
      {"stale timestamp (10 min old)",
       [&] { return send(good, agent.id, agent.secret, nowMs() - 600'000); }, 401,
       "stale_timestamp"},
      {"future timestamp (10 min ahead)",
       [&] { return send(good, agent.id, agent.secret, nowMs() + 600'000); }, 401,
       "stale_timestamp"},
      {"replayed sequence number", [&] { return sendSigned(protocol::encode(heartbeat(1))); }, 409,
       "replayed_sequence"},
      {"unknown agent id", [&] { return send(good, "ag_doesnotexist", agent.secret, nowMs()); },
       401, "unknown_agent"},
      {"wrong method", [&] { return httpRequest(collector.port(), "GET", "/v1/heartbeat"); }, 405,
       "method_not_allowed"},
      {"unknown path", [&] { return httpRequest(collector.port(), "GET", "/v1/nothing"); }, 404,
       "not_found"},
  };
  for (const auto& c : cases) {
    BOOST_TEST_CONTEXT("case: " << c.name) { expectError(c.send(), c.status, c.code); }
  }

  // The stale-timestamp answer tells the agent the collector's time.
  auto stale = send(good, agent.id, agent.secret, nowMs() - 600'000).json();
  BOOST_TEST(std::llabs(stale->getValue<int64_t>("server_time_ms") - nowMs()) < 60'000);

  // Wait past a flush: nothing refused may have reached the store either.
  std::this_thread::sleep_for(300ms);
  auto after = record();
  BOOST_TEST(after->getValue<int64_t>("last_seq") == seq_before);
  BOOST_TEST(after->getValue<std::string>("last_seen_at") == seen_before);
  BOOST_TEST(after->getValue<std::string>("boot_id") == "boot-1");

  // Every refusal left a log line naming its code.
  std::string log = logTail(collector.logPath(), 1 << 20);
  for (const char* code :
       {"malformed_json", "invalid_field", "missing_field", "unsupported_version", "body_too_large",
        "unsupported_media_type", "missing_signature", "bad_signature", "stale_timestamp",
        "replayed_sequence", "unknown_agent", "method_not_allowed", "not_found"}) {
    BOOST_TEST_CONTEXT("log line for " << code) { BOOST_TEST(log.find(code) != std::string::npos); }
  }

  // State is intact: the next good heartbeat in sequence is accepted.
  HttpResponse ok = sendSigned(protocol::encode(heartbeat(2)));
  BOOST_TEST(ok.status == 200);
  auto resp = protocol::decodeHeartbeatResponse(ok.body);
  BOOST_REQUIRE(resp.ok());
  BOOST_TEST(resp->next_interval_s == 60);
}

BOOST_AUTO_TEST_CASE(a_body_larger_than_declared_limit_is_refused_without_reading_it) {
  // Content-Length alone decides: a 10 MB declared body is refused before it is read.
  std::string big(size_t{10} * 1024 * 1024, 'x');
  expectError(sendSigned(big), 413, "body_too_large");
  BOOST_TEST(httpRequest(collector.port(), "GET", "/livez").status == 200);
}

BOOST_AUTO_TEST_CASE(bad_enrollments_are_refused_and_create_no_agent) {
  auto enroll = [&](const std::string& body) {
    return httpRequest(collector.port(), "POST", protocol::kEnrollPath, {}, body);
  };
  protocol::EnrollRequest req;
  req.enroll_token = "not-a-real-token";
  req.facts = {"h", "linux", "", "", "0.1.0"};
  expectError(enroll(protocol::encode(req)), 401, "invalid_enroll_token");
  expectError(enroll("{"), 400, "malformed_json");
  expectError(enroll(R"({"v":1,"hostname":"h","agent_version":"1"})"), 400, "missing_field");
  expectError(enroll(R"({"v":1,"enroll_token":7,"hostname":"h","agent_version":"1"})"), 400,
              "invalid_field");

  HttpResponse list = collector.adminGet("/api/v1/agents");
  BOOST_TEST(list.json()->getArray("items")->size() == 1u);
}

BOOST_AUTO_TEST_CASE(admin_api_refuses_missing_and_wrong_tokens) {
  HttpResponse none = httpRequest(collector.port(), "GET", "/api/v1/agents");
  expectError(none, 401, "unauthorized");
  BOOST_TEST(none.headers.count("WWW-Authenticate") == 1u);
  expectError(
      httpRequest(collector.port(), "GET", "/api/v1/agents", {{"Authorization", "Bearer wrong"}}),
      401, "unauthorized");
  expectError(httpRequest(collector.port(), "GET", "/api/v1/agents/" + agent.id,
                          {{"Authorization", "Basic abc"}}),
              401, "unauthorized");
  expectError(collector.adminGet("/api/v1/agents/ag_nope"), 404, "not_found");
  // A token that is right but for the admin API is no enrollment token and vice versa.
  expectError(httpRequest(collector.port(), "GET", "/api/v1/agents",
                          {{"Authorization", "Bearer " + collector.enrollToken()}}),
              401, "unauthorized");
}

// RFC 9112 §6: a body is always read as the body of its own request, whatever the method, and
// a request that could be framed two ways is refused and its connection closed, so nothing
// hidden in it ever runs as a request of its own.
BOOST_AUTO_TEST_CASE(requests_that_could_hide_another_request_smuggle_nothing) {
  const std::string hidden = "DELETE /api/v1/agents/" + agent.id +
                             " HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " +
                             collector.adminToken() + "\r\n\r\n";
  // A GET with a Content-Length body: two requests, two answers, and the body never runs.
  for (const std::string& path : {std::string("/livez"), std::string("/api/v1/agents")}) {
    const std::string all = rawExchange(
        collector.port(),
        "GET " + path + " HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + collector.adminToken() +
            "\r\nContent-Length: " + std::to_string(hidden.size()) + "\r\n\r\n" + hidden +
            "GET /livez HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    BOOST_TEST(answersIn(all) == 2, all);
    BOOST_TEST(all.find("HTTP/1.1 204") == std::string::npos, all);
  }
  // Framing that a proxy in front could read differently: 400 and the connection closes.
  for (const std::string& framing :
       {std::string("Transfer-Encoding: chunked\r\nContent-Length: 5\r\n"),
        std::string("Transfer-Encoding: gzip, chunked\r\nContent-Length: 5\r\n"),
        std::string("Transfer-Encoding: identity\r\nContent-Length: 5\r\n"),
        std::string("Transfer-Encoding: chunked, identity\r\n")}) {
    const std::string all =
        rawExchange(collector.port(), "POST /v1/heartbeat HTTP/1.1\r\nHost: x\r\n" + framing +
                                          "\r\n0\r\n\r\n" + hidden);
    BOOST_TEST_CONTEXT(framing) {
      BOOST_TEST(all.rfind("HTTP/1.1 400", 0) == 0u, all);
      BOOST_TEST(all.find("\"error\":\"bad_request\"") != std::string::npos, all);
      BOOST_TEST(answersIn(all) == 1, all);
    }
  }
  // The agent the hidden requests would have retired is still there.
  BOOST_TEST(collector.agent(agent.id) != nullptr);
}

BOOST_AUTO_TEST_SUITE_END()
