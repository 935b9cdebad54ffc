#define BOOST_TEST_MODULE collector_ingest_service
#include "collector/ingest/ingest_service.h"

#include <atomic>
#include <boost/test/unit_test.hpp>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "collector/ingest/agent_directory.h"
#include "collector/ingest/last_seen_writer.h"
#include "collector/store/sql_store.h"
#include "common/clock.h"
#include "common/crypto.h"
#include "common/protocol.h"
#include "store_wrapper.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_store.h"

using namespace std::chrono_literals;
namespace protocol = vigil::protocol;
using vigil::SimulatedClock;
using vigil::collector::AgentDirectory;
using vigil::collector::AgentRecord;
using vigil::collector::ApiError;
using vigil::collector::EnrollmentToken;
using vigil::collector::HeartbeatRequest;
using vigil::collector::IngestConfig;
using vigil::collector::IngestService;
using vigil::collector::LastSeenWriter;
using vigil::collector::SqlStore;
using vigil::testing::ObservedStore;
using vigil::testing::TempDir;

namespace {

constexpr char kEnrollToken[] = "site-enrollment-token";
constexpr int64_t kStartMs = 1'790'000'000'000;
constexpr int64_t kIntervalS = 45;

std::string hashOf(const std::string& token) {
  return vigil::crypto::toHex(vigil::crypto::sha256(token).value());
}

// What a request may change, captured to prove that a rejected one changed nothing.
struct AgentSnapshot {
  std::optional<int64_t> live_last_seen;
  int64_t live_last_seq = 0;
  std::string live_boot_id;
  std::optional<int64_t> stored_last_seen;
  int64_t stored_last_seq = 0;
  size_t dirty = 0;
  size_t agents = 0;

  bool operator==(const AgentSnapshot& o) const {
    return live_last_seen == o.live_last_seen && live_last_seq == o.live_last_seq &&
           live_boot_id == o.live_boot_id && stored_last_seen == o.stored_last_seen &&
           stored_last_seq == o.stored_last_seq && dirty == o.dirty && agents == o.agents;
  }
};

struct IngestFixture {
  IngestFixture()
      : clock(vigil::fromUnixMillis(kStartMs)),
        data_dir(tmp.sub("data")),
        sqlite(open(data_dir)),
        store(*sqlite),
        service(std::make_unique<IngestService>(store, store, store, directory, clock,
                                                IngestConfig{kIntervalS, 300'000})) {
    auto tenant = store.createTenant("default", kStartMs);
    auto site = store.createSite(tenant->id, "default", kStartMs);
    EnrollmentToken t;
    t.site_id = site->id;
    t.token_hash = hashOf(kEnrollToken);
    t.created_at_ms = kStartMs;
    BOOST_REQUIRE(store.createEnrollmentToken(t).ok());
    site_id = site->id;
    BOOST_REQUIRE(directory.load(store).ok());
  }

  static std::unique_ptr<SqlStore> open(const std::string& dir) {
    auto opened = vigil::testing::openTestStore(dir);
    BOOST_REQUIRE_MESSAGE(opened.ok(), (opened.ok() ? std::string() : opened.error().toString()));
    return std::move(opened.value());
  }

  static std::string enrollBody(const std::string& token, const std::string& hostname = "host") {
    protocol::EnrollRequest req;
    req.enroll_token = token;
    req.facts = {hostname, "linux", "Debian GNU/Linux 12 (bookworm)", "x86_64", "0.1.0"};
    return protocol::encode(req);
  }

  protocol::EnrollResponse enroll(const std::string& hostname = "host") {
    auto result = service->enroll(enrollBody(kEnrollToken, hostname));
    BOOST_REQUIRE_MESSAGE(result.ok(), (result.ok() ? std::string() : result.error().message));
    return result.value();
  }

  int64_t nowMs() const { return vigil::toUnixMillis(clock.wallNow()); }

  protocol::Heartbeat beat(const protocol::EnrollResponse& agent, uint64_t seq) const {
    protocol::Heartbeat hb;
    hb.agent_id = agent.agent_id;
    hb.seq = seq;
    hb.boot_id = "boot-" + std::to_string(seq);
    hb.uptime_s = 100 + seq;
    hb.agent_version = "0.1.0";
    hb.sent_at_ms = nowMs();
    return hb;
  }

  // A request for `body`, signed with `secret` at `timestamp_ms`.
  static HeartbeatRequest signedRequest(const std::string& agent_id, const std::string& secret,
                                        const std::string& body, int64_t timestamp_ms) {
    HeartbeatRequest req;
    req.agent_id = agent_id;
    req.timestamp = std::to_string(timestamp_ms);
    req.signature =
        protocol::sign(secret, "POST", protocol::kHeartbeatPath, timestamp_ms, body).value();
    req.body = body;
    return req;
  }

  HeartbeatRequest signedBody(const protocol::EnrollResponse& agent, const std::string& body) {
    return signedRequest(agent.agent_id, agent.secret, body, nowMs());
  }

  HeartbeatRequest signedBeat(const protocol::EnrollResponse& agent, uint64_t seq) {
    return signedBody(agent, protocol::encode(beat(agent, seq)));
  }

  AgentSnapshot snapshot(const std::string& agent_id) {
    AgentSnapshot s;
    if (auto live = directory.liveState(agent_id)) {
      s.live_last_seen = live->last_seen_at_ms;
      s.live_last_seq = live->last_seq;
      s.live_boot_id = live->boot_id.value_or("");
    }
    if (auto stored = store.findAgent(agent_id).value()) {
      s.stored_last_seen = stored->last_seen_at_ms;
      s.stored_last_seq = stored->last_seq;
    }
    s.dirty = directory.dirtyCount();
    s.agents = directory.size();
    return s;
  }

  // Asserts `request` is refused with `status`/`code` and changes no state of `agent`.
  ApiError expectRejected(const protocol::EnrollResponse& agent, const HeartbeatRequest& request,
                          int status, const std::string& code) {
    const AgentSnapshot before = snapshot(agent.agent_id);
    auto result = service->heartbeat(request);
    BOOST_REQUIRE_MESSAGE(!result.ok(), "request was accepted but should be refused: " + code);
    BOOST_TEST(result.error().http_status == status);
    BOOST_TEST(result.error().code == code);
    BOOST_TEST(!result.error().message.empty());
    BOOST_TEST((snapshot(agent.agent_id) == before), "a rejected request changed state");
    return result.error();
  }

  // An agent that already has seq 1 accepted, so "unchanged" is not the initial state.
  protocol::EnrollResponse agentWithOneBeat() {
    auto agent = enroll();
    BOOST_REQUIRE(service->heartbeat(signedBeat(agent, 1)).ok());
    return agent;
  }

  TempDir tmp;
  SimulatedClock clock;
  std::string data_dir;
  std::unique_ptr<SqlStore> sqlite;
  ObservedStore store;
  AgentDirectory directory;
  std::unique_ptr<IngestService> service;
  int64_t site_id = 0;
};

// A valid heartbeat body with one field replaced by raw JSON text.
std::string bodyWith(const protocol::EnrollResponse& agent, const std::string& field,
                     const std::string& raw_value) {
  std::string body = std::string("{\"v\":1,\"agent_id\":\"") + agent.agent_id +
                     "\",\"seq\":9,\"boot_id\":\"b\",\"uptime_s\":1,\"agent_version\":\"0.1.0\","
                     "\"sent_at_ms\":1}";
  const std::string key = "\"" + field + "\":";
  const auto at = body.find(key);
  if (at == std::string::npos) {
    body.insert(body.size() - 1, "," + key + raw_value);
  } else {
    const auto value_start = at + key.size();
    auto value_end = body.find_first_of(",}", value_start);
    body.replace(value_start, value_end - value_start, raw_value);
  }
  return body;
}

// A valid heartbeat body without `field`.
std::string bodyWithout(const protocol::EnrollResponse& agent, const std::string& field) {
  std::string body = bodyWith(agent, field, "0");
  const std::string member = "\"" + field + "\":0";
  const auto at = body.find(member);
  if (body[at + member.size()] == ',') {
    body.erase(at, member.size() + 1);  // first or middle member: drop its trailing comma
  } else {
    body.erase(at - 1, member.size() + 1);  // last member: drop its leading comma
  }
  return body;
}

}  // namespace

// ---- Enrollment -------------------------------------------------------------------------

BOOST_FIXTURE_TEST_CASE(enroll_with_valid_token_creates_agent_with_fresh_secret, IngestFixture) {
  auto result = service->enroll(enrollBody(kEnrollToken, "web-01"));
  BOOST_REQUIRE(result.ok());
  const auto& r = result.value();
  BOOST_TEST(r.agent_id.rfind("ag_", 0) == 0u);
  BOOST_TEST(r.secret.size() == 64u);
  BOOST_TEST(r.heartbeat_interval_s == kIntervalS);
  BOOST_TEST(r.server_time_ms == kStartMs);
  auto stored = store.findAgent(r.agent_id).value();
  BOOST_REQUIRE(stored.has_value());
  BOOST_TEST(stored->hostname == "web-01");
  BOOST_TEST(stored->os_version == "Debian GNU/Linux 12 (bookworm)");
  BOOST_TEST(stored->site_id == site_id);
  BOOST_TEST(stored->secret == r.secret);
  BOOST_TEST(directory.credentials(r.agent_id).has_value());
  // Two enrollments never share an id or a secret.
  auto other = enroll("web-02");
  BOOST_TEST(other.agent_id != r.agent_id);
  BOOST_TEST(other.secret != r.secret);
}

BOOST_FIXTURE_TEST_CASE(enroll_with_unknown_token_is_refused_and_creates_nothing, IngestFixture) {
  auto result = service->enroll(enrollBody("not-the-token"));
  BOOST_REQUIRE(!result.ok());
  BOOST_TEST(result.error().http_status == 401);
  BOOST_TEST(result.error().code == protocol::errors::kInvalidEnrollToken);
  BOOST_TEST(directory.size() == 0u);
  BOOST_TEST(store.listAgents("", 10)->empty());
}

BOOST_FIXTURE_TEST_CASE(enroll_with_used_up_token_is_refused_like_an_unknown_one, IngestFixture) {
  EnrollmentToken t;
  t.site_id = site_id;
  t.token_hash = hashOf("single-use");
  t.created_at_ms = kStartMs;
  t.max_uses = 1;
  BOOST_REQUIRE(store.createEnrollmentToken(t).ok());
  BOOST_TEST(service->enroll(enrollBody("single-use")).ok());
  auto second = service->enroll(enrollBody("single-use"));
  BOOST_REQUIRE(!second.ok());
  BOOST_TEST(second.error().code == protocol::errors::kInvalidEnrollToken);
  BOOST_TEST(directory.size() == 1u);
}

BOOST_FIXTURE_TEST_CASE(enroll_with_malformed_body_is_400_and_creates_nothing, IngestFixture) {
  auto result = service->enroll("{\"v\":1,");
  BOOST_REQUIRE(!result.ok());
  BOOST_TEST(result.error().http_status == 400);
  BOOST_TEST(result.error().code == protocol::errors::kMalformedJson);
  auto missing = service->enroll("{\"v\":1,\"enroll_token\":\"site-enrollment-token\"}");
  BOOST_REQUIRE(!missing.ok());
  BOOST_TEST(missing.error().code == protocol::errors::kMissingField);
  BOOST_TEST(directory.size() == 0u);
  BOOST_TEST(store.findEnrollmentTokenByHash(hashOf(kEnrollToken)).value()->uses == 0);
}

BOOST_FIXTURE_TEST_CASE(enrollments_over_a_limit_are_429_with_retry_after_and_create_nothing,
                        IngestFixture) {
  IngestConfig config{kIntervalS, 300'000};
  config.enrollment_limits.per_token = {60, 3};  // one a second, bursts of 3
  std::vector<std::string> notices;
  service = std::make_unique<IngestService>(
      store, store, store, directory, clock, config, nullptr, nullptr,
      [&notices](const std::string& line) { notices.push_back(line); });
  for (int i = 0; i < 3; ++i) enroll("burst-" + std::to_string(i));
  for (int i = 0; i < 5; ++i) {
    auto refused = service->enroll(enrollBody(kEnrollToken, "flood"));
    BOOST_REQUIRE(!refused.ok());
    BOOST_TEST(refused.error().http_status == 429);
    BOOST_TEST(refused.error().code == protocol::errors::kRateLimited);
    BOOST_TEST(refused.error().retry_after_s.value() == i + 1);
  }
  BOOST_TEST(directory.size() == 3u);
  BOOST_TEST(store.findEnrollmentTokenByHash(hashOf(kEnrollToken)).value()->uses == 3);
  BOOST_TEST(notices.size() == 1u);  // once per burst
  BOOST_TEST(service->counters().enrollments_limited.refused_token == 5u);
  BOOST_TEST(service->outcomes().enrollments_refused.at(protocol::errors::kRateLimited) == 5u);
  // Paced at the rate, enrollment goes through.
  clock.advance(1s);
  enroll("paced");
  // An unknown token is refused as such, not counted against anything.
  BOOST_TEST(service->enroll(enrollBody("wrong-token")).error().http_status == 401);
}

// A store that cannot take the enrollment just now (the database unreachable, or concurrent
// enrollments through other collectors conflicting on the token's row) is 503 with Retry-After,
// which an agent obeys and then enrolls; any other store failure is 500.
BOOST_FIXTURE_TEST_CASE(an_enrollment_the_store_cannot_take_now_is_503_with_retry_after,
                        IngestFixture) {
  for (const vigil::Status& failure : {vigil::Status::unavailable("could not connect"),
                                       vigil::Status::aborted("could not serialize access")}) {
    store.enroll_failure = failure;
    auto refused = service->enroll(enrollBody(kEnrollToken, "busy"));
    BOOST_REQUIRE(!refused.ok());
    BOOST_TEST(refused.error().http_status == 503);
    BOOST_TEST(refused.error().code == protocol::errors::kStoreUnavailable);
    BOOST_TEST(refused.error().retry_after_s.value() ==
               vigil::collector::kStoreUnavailableRetryAfterS);
  }
  store.enroll_failure = vigil::Status::ioError("disk I/O error");
  auto broken = service->enroll(enrollBody(kEnrollToken, "broken"));
  BOOST_REQUIRE(!broken.ok());
  BOOST_TEST(broken.error().http_status == 500);
  BOOST_TEST(!broken.error().retry_after_s.has_value());
  store.enroll_failure.reset();
  enroll("later");
  BOOST_TEST(directory.size() == 1u);
}

BOOST_FIXTURE_TEST_CASE(a_site_or_tenant_at_its_agent_quota_enrolls_no_more, IngestFixture) {
  IngestConfig config{kIntervalS, 300'000};
  config.enrollment_limits.max_agents_per_site = 2;
  config.enrollment_limits.max_agents_per_tenant = 3;
  service = std::make_unique<IngestService>(store, store, store, directory, clock, config);
  enroll("a");
  enroll("b");
  auto site_full = service->enroll(enrollBody(kEnrollToken, "c"));
  BOOST_REQUIRE(!site_full.ok());
  BOOST_TEST(site_full.error().http_status == 403);
  BOOST_TEST(site_full.error().code == protocol::errors::kQuotaExceeded);
  BOOST_TEST(site_full.error().message.find("enrollment.maxAgentsPerSite") != std::string::npos);
  // A second site of the tenant: one more fits the tenant's quota, then none.
  auto branch = store.createSite(store.findSite(site_id).value()->tenant_id, "branch", kStartMs);
  EnrollmentToken t;
  t.site_id = branch->id;
  t.token_hash = hashOf("branch-token");
  t.created_at_ms = kStartMs;
  BOOST_REQUIRE(store.createEnrollmentToken(t).ok());
  BOOST_REQUIRE(service->enroll(enrollBody("branch-token", "d")).ok());
  auto tenant_full = service->enroll(enrollBody("branch-token", "e"));
  BOOST_REQUIRE(!tenant_full.ok());
  BOOST_TEST(tenant_full.error().code == protocol::errors::kQuotaExceeded);
  BOOST_TEST(directory.size() == 3u);
  BOOST_TEST(store.findEnrollmentTokenByHash(hashOf("branch-token")).value()->uses == 1);
}

// Enrollments that arrive together (workers run them side by side) cannot all pass the quota
// check before any of them is written: the site ends with exactly its quota.
BOOST_FIXTURE_TEST_CASE(enrollments_arriving_together_do_not_overshoot_the_quota, IngestFixture) {
  IngestConfig config{kIntervalS, 300'000};
  config.enrollment_limits.max_agents_per_site = 5;
  service = std::make_unique<IngestService>(*sqlite, *sqlite, *sqlite, directory, clock, config);
  std::atomic<int> accepted{0}, over_quota{0};
  std::vector<std::thread> workers;
  for (int w = 0; w < 8; ++w) {
    workers.emplace_back([&, w] {
      for (int i = 0; i < 10; ++i) {
        auto r = service->enroll(enrollBody(kEnrollToken, "h" + std::to_string(w * 10 + i)));
        if (r.ok()) {
          ++accepted;
        } else if (r.error().code == protocol::errors::kQuotaExceeded) {
          ++over_quota;
        }
      }
    });
  }
  for (std::thread& t : workers) t.join();
  BOOST_TEST(accepted.load() == 5);
  BOOST_TEST(over_quota.load() == 75);
  BOOST_TEST(sqlite->countAgents(site_id).value().site == 5);
}

BOOST_FIXTURE_TEST_CASE(a_forgotten_sites_peer_key_is_never_handed_out_again, IngestFixture) {
  const int64_t tenant_id = store.findSite(site_id).value()->tenant_id;
  const int64_t doomed = store.createSite(tenant_id, "doomed", kStartMs)->id;
  vigil::collector::SitePeerKeys keys(store);
  BOOST_REQUIRE(keys.load().ok());
  BOOST_REQUIRE(keys.find(doomed).has_value());
  BOOST_REQUIRE(store.deleteSite(doomed).value());
  keys.forget(doomed);
  BOOST_TEST(!keys.find(doomed).has_value());
  BOOST_TEST(keys.find(site_id).has_value());
}

BOOST_FIXTURE_TEST_CASE(enroll_with_oversized_body_is_413, IngestFixture) {
  auto result = service->enroll(std::string(protocol::kMaxBodyBytes + 1, ' '));
  BOOST_REQUIRE(!result.ok());
  BOOST_TEST(result.error().http_status == 413);
  BOOST_TEST(result.error().code == protocol::errors::kBodyTooLarge);
}

// ---- Accepted heartbeats ----------------------------------------------------------------

BOOST_FIXTURE_TEST_CASE(valid_heartbeat_is_accepted_and_recorded_in_the_directory, IngestFixture) {
  auto agent = enroll();
  clock.advance(5s);
  auto result = service->heartbeat(signedBeat(agent, 1));
  BOOST_REQUIRE_MESSAGE(result.ok(), (result.ok() ? std::string() : result.error().message));
  BOOST_TEST(result->next_interval_s == kIntervalS);
  BOOST_TEST(result->server_time_ms == kStartMs + 5000);
  auto live = directory.liveState(agent.agent_id);
  BOOST_REQUIRE(live.has_value());
  BOOST_TEST(live->last_seen_at_ms.value() == kStartMs + 5000);
  BOOST_TEST(live->last_seq == 1);
  BOOST_TEST(live->boot_id.value_or("") == "boot-1");
  BOOST_TEST(live->uptime_s == 101);
  BOOST_TEST(directory.dirtyCount() == 1u);
}

BOOST_FIXTURE_TEST_CASE(accepted_heartbeat_is_not_written_to_the_store_until_flush, IngestFixture) {
  auto agent = enroll();
  BOOST_REQUIRE(service->heartbeat(signedBeat(agent, 1)).ok());
  BOOST_TEST(!store.findAgent(agent.agent_id).value()->last_seen_at_ms.has_value());
  BOOST_TEST(store.last_seen_batches.load() == 0);
}

BOOST_FIXTURE_TEST_CASE(heartbeat_with_hostname_renames_the_agent, IngestFixture) {
  auto agent = enroll("old-name");
  auto hb = beat(agent, 1);
  hb.hostname = "new-name";
  BOOST_REQUIRE(service->heartbeat(signedBody(agent, protocol::encode(hb))).ok());
  BOOST_TEST(directory.liveState(agent.agent_id)->hostname.value_or("") == "new-name");
}

BOOST_FIXTURE_TEST_CASE(heartbeat_timestamp_exactly_at_max_skew_is_accepted, IngestFixture) {
  auto agent = enroll();
  const std::string body = protocol::encode(beat(agent, 1));
  BOOST_TEST(
      service->heartbeat(signedRequest(agent.agent_id, agent.secret, body, nowMs() - 300'000))
          .ok());
  const std::string body2 = protocol::encode(beat(agent, 2));
  BOOST_TEST(
      service->heartbeat(signedRequest(agent.agent_id, agent.secret, body2, nowMs() + 300'000))
          .ok());
}

// ---- Refused heartbeats: each leaves state unchanged --------------------------------------

BOOST_FIXTURE_TEST_CASE(heartbeat_with_malformed_json_is_400_malformed_json, IngestFixture) {
  auto agent = agentWithOneBeat();
  expectRejected(agent, signedBody(agent, "{\"v\":1,"), 400, protocol::errors::kMalformedJson);
  expectRejected(agent, signedBody(agent, "not json"), 400, protocol::errors::kMalformedJson);
  expectRejected(agent, signedBody(agent, ""), 400, protocol::errors::kMalformedJson);
}

BOOST_FIXTURE_TEST_CASE(heartbeat_body_that_is_not_an_object_is_400_malformed_json, IngestFixture) {
  auto agent = agentWithOneBeat();
  expectRejected(agent, signedBody(agent, "[1,2]"), 400, protocol::errors::kMalformedJson);
  expectRejected(agent, signedBody(agent, "42"), 400, protocol::errors::kMalformedJson);
}

BOOST_FIXTURE_TEST_CASE(heartbeat_with_trailing_bytes_is_400_malformed_json, IngestFixture) {
  auto agent = agentWithOneBeat();
  expectRejected(agent, signedBody(agent, protocol::encode(beat(agent, 2)) + " {}"), 400,
                 protocol::errors::kMalformedJson);
}

BOOST_FIXTURE_TEST_CASE(heartbeat_with_wrong_field_types_is_400_invalid_field, IngestFixture) {
  auto agent = agentWithOneBeat();
  const auto invalid = protocol::errors::kInvalidField;
  expectRejected(agent, signedBody(agent, bodyWith(agent, "seq", "\"9\"")), 400, invalid);
  expectRejected(agent, signedBody(agent, bodyWith(agent, "seq", "9.5")), 400, invalid);
  expectRejected(agent, signedBody(agent, bodyWith(agent, "seq", "0")), 400, invalid);
  expectRejected(agent, signedBody(agent, bodyWith(agent, "seq", "9007199254740994")), 400,
                 invalid);
  expectRejected(agent, signedBody(agent, bodyWith(agent, "uptime_s", "-1")), 400, invalid);
  expectRejected(agent, signedBody(agent, bodyWith(agent, "boot_id", "7")), 400, invalid);
  expectRejected(agent, signedBody(agent, bodyWith(agent, "boot_id", "\"\"")), 400, invalid);
  expectRejected(agent,
                 signedBody(agent, bodyWith(agent, "boot_id", "\"" + std::string(257, 'b') + "\"")),
                 400, invalid);
  expectRejected(agent, signedBody(agent, bodyWith(agent, "interval_s", "0")), 400, invalid);
  expectRejected(agent, signedBody(agent, bodyWith(agent, "hostname", "true")), 400, invalid);
}

BOOST_FIXTURE_TEST_CASE(heartbeat_with_missing_or_null_field_is_400_missing_field, IngestFixture) {
  auto agent = agentWithOneBeat();
  const auto missing = protocol::errors::kMissingField;
  for (const char* field :
       {"agent_id", "seq", "boot_id", "uptime_s", "agent_version", "sent_at_ms"}) {
    BOOST_TEST_CONTEXT("field " << field) {
      expectRejected(agent, signedBody(agent, bodyWithout(agent, field)), 400, missing);
      expectRejected(agent, signedBody(agent, bodyWith(agent, field, "null")), 400, missing);
    }
  }
  expectRejected(agent, signedBody(agent, bodyWithout(agent, "v")), 400, missing);
}

BOOST_FIXTURE_TEST_CASE(heartbeat_with_other_protocol_version_is_400_unsupported_version,
                        IngestFixture) {
  auto agent = agentWithOneBeat();
  expectRejected(agent, signedBody(agent, bodyWith(agent, "v", "2")), 400,
                 protocol::errors::kUnsupportedVersion);
  expectRejected(agent, signedBody(agent, bodyWith(agent, "v", "\"1\"")), 400,
                 protocol::errors::kInvalidField);
}

BOOST_FIXTURE_TEST_CASE(oversized_heartbeat_is_413_body_too_large, IngestFixture) {
  auto agent = agentWithOneBeat();
  std::string body = protocol::encode(beat(agent, 2));
  body.append(protocol::kMaxBodyBytes + 1 - body.size(), ' ');
  expectRejected(agent, signedBody(agent, body), 413, protocol::errors::kBodyTooLarge);
}

BOOST_FIXTURE_TEST_CASE(heartbeat_without_any_signature_header_is_401_missing_signature,
                        IngestFixture) {
  auto agent = agentWithOneBeat();
  const auto code = protocol::errors::kMissingSignature;
  HeartbeatRequest no_id = signedBeat(agent, 2);
  no_id.agent_id.reset();
  expectRejected(agent, no_id, 401, code);
  HeartbeatRequest no_ts = signedBeat(agent, 2);
  no_ts.timestamp.reset();
  expectRejected(agent, no_ts, 401, code);
  HeartbeatRequest no_sig = signedBeat(agent, 2);
  no_sig.signature.reset();
  expectRejected(agent, no_sig, 401, code);
  HeartbeatRequest empty_sig = signedBeat(agent, 2);
  empty_sig.signature = "";
  expectRejected(agent, empty_sig, 401, code);
}

BOOST_FIXTURE_TEST_CASE(heartbeat_with_malformed_timestamp_header_is_401_bad_signature,
                        IngestFixture) {
  auto agent = agentWithOneBeat();
  for (const char* ts : {"-1", "12a", "1790000000000.5", "1234567890123456", " 1790000000000"}) {
    BOOST_TEST_CONTEXT("timestamp " << ts) {
      HeartbeatRequest req = signedBeat(agent, 2);
      req.timestamp = ts;
      expectRejected(agent, req, 401, protocol::errors::kBadSignature);
    }
  }
}

BOOST_FIXTURE_TEST_CASE(heartbeat_with_invalid_signature_is_401_bad_signature, IngestFixture) {
  auto agent = agentWithOneBeat();
  const auto code = protocol::errors::kBadSignature;
  const std::string body = protocol::encode(beat(agent, 2));
  // Signed with another key.
  expectRejected(agent, signedRequest(agent.agent_id, std::string(64, '0'), body, nowMs()), 401,
                 code);
  // Body changed after signing.
  HeartbeatRequest tampered = signedBody(agent, body);
  tampered.body = protocol::encode(beat(agent, 3));
  expectRejected(agent, tampered, 401, code);
  // Timestamp changed after signing.
  HeartbeatRequest moved = signedBody(agent, body);
  moved.timestamp = std::to_string(nowMs() + 1);
  expectRejected(agent, moved, 401, code);
  // Not the v1 scheme.
  HeartbeatRequest scheme = signedBody(agent, body);
  scheme.signature = "v2=" + scheme.signature->substr(3);
  expectRejected(agent, scheme, 401, code);
  // Upper-case hex is not the canonical form.
  HeartbeatRequest upper = signedBody(agent, body);
  for (char& c : *upper.signature) c = static_cast<char>(std::toupper(c));
  upper.signature->replace(0, 3, "v1=");
  expectRejected(agent, upper, 401, code);
}

BOOST_FIXTURE_TEST_CASE(heartbeat_timestamp_too_old_is_401_stale_with_server_time, IngestFixture) {
  auto agent = agentWithOneBeat();
  const std::string body = protocol::encode(beat(agent, 2));
  auto error =
      expectRejected(agent, signedRequest(agent.agent_id, agent.secret, body, nowMs() - 300'001),
                     401, protocol::errors::kStaleTimestamp);
  BOOST_TEST(error.server_time_ms.value() == nowMs());
}

BOOST_FIXTURE_TEST_CASE(heartbeat_timestamp_too_far_ahead_is_401_stale_with_server_time,
                        IngestFixture) {
  auto agent = agentWithOneBeat();
  const std::string body = protocol::encode(beat(agent, 2));
  auto error =
      expectRejected(agent, signedRequest(agent.agent_id, agent.secret, body, nowMs() + 412'000),
                     401, protocol::errors::kStaleTimestamp);
  BOOST_TEST(error.server_time_ms.value() == nowMs());
  BOOST_TEST(error.message.find("412 s") != std::string::npos);
}

BOOST_FIXTURE_TEST_CASE(heartbeat_with_lower_seq_is_409_replayed_sequence, IngestFixture) {
  auto agent = enroll();
  BOOST_REQUIRE(service->heartbeat(signedBeat(agent, 10)).ok());
  expectRejected(agent, signedBeat(agent, 9), 409, protocol::errors::kReplayedSequence);
  expectRejected(agent, signedBeat(agent, 1), 409, protocol::errors::kReplayedSequence);
}

BOOST_FIXTURE_TEST_CASE(heartbeat_with_equal_seq_is_409_replayed_sequence, IngestFixture) {
  auto agent = enroll();
  const HeartbeatRequest first = signedBeat(agent, 10);
  BOOST_REQUIRE(service->heartbeat(first).ok());
  // The very same request again (a captured replay within the skew window).
  expectRejected(agent, first, 409, protocol::errors::kReplayedSequence);
  clock.advance(1s);
  expectRejected(agent, signedBeat(agent, 10), 409, protocol::errors::kReplayedSequence);
}

BOOST_FIXTURE_TEST_CASE(heartbeat_from_unknown_agent_is_401_unknown_agent, IngestFixture) {
  auto agent = agentWithOneBeat();
  protocol::EnrollResponse stranger;
  stranger.agent_id = "ag_00000000000000000000000000000000";
  stranger.secret = std::string(64, '1');
  expectRejected(agent, signedBeat(stranger, 1), 401, protocol::errors::kUnknownAgent);
}

BOOST_FIXTURE_TEST_CASE(heartbeat_from_retired_agent_is_401_unknown_agent, IngestFixture) {
  auto agent = agentWithOneBeat();
  AgentRecord retired = store.findAgent(agent.agent_id).value().value();
  retired.retired_at_ms = nowMs();
  directory.add(retired);
  expectRejected(agent, signedBeat(agent, 2), 401, protocol::errors::kUnknownAgent);
}

BOOST_FIXTURE_TEST_CASE(heartbeat_body_agent_id_differing_from_header_is_400_invalid_field,
                        IngestFixture) {
  auto agent = agentWithOneBeat();
  auto other = enroll("other");
  // Signed correctly by `agent`, but the body speaks for `other`.
  const std::string body = protocol::encode(beat(other, 5));
  expectRejected(agent, signedBody(agent, body), 400, protocol::errors::kInvalidField);
  BOOST_TEST(directory.liveState(other.agent_id)->last_seq == 0);
}

// ---- Check order (docs/protocol.md) -------------------------------------------------------

BOOST_FIXTURE_TEST_CASE(unauthenticated_garbage_body_gets_signature_error_not_decode_error,
                        IngestFixture) {
  auto agent = agentWithOneBeat();
  HeartbeatRequest req = signedBody(agent, "{garbage");
  req.signature = "v1=" + std::string(64, '0');
  expectRejected(agent, req, 401, protocol::errors::kBadSignature);
}

BOOST_FIXTURE_TEST_CASE(stale_timestamp_is_reported_before_body_errors, IngestFixture) {
  auto agent = agentWithOneBeat();
  expectRejected(agent, signedRequest(agent.agent_id, agent.secret, "{garbage", nowMs() - 900'000),
                 401, protocol::errors::kStaleTimestamp);
}

BOOST_FIXTURE_TEST_CASE(unknown_agent_is_reported_before_signature_and_timestamp, IngestFixture) {
  auto agent = agentWithOneBeat();
  HeartbeatRequest req = signedBeat(agent, 2);
  req.agent_id = "ag_nobody";
  req.timestamp = "1";
  expectRejected(agent, req, 401, protocol::errors::kUnknownAgent);
}

BOOST_FIXTURE_TEST_CASE(size_is_checked_before_headers, IngestFixture) {
  auto agent = agentWithOneBeat();
  HeartbeatRequest req;
  req.body = std::string(protocol::kMaxBodyBytes + 1, ' ');
  expectRejected(agent, req, 413, protocol::errors::kBodyTooLarge);
}

BOOST_FIXTURE_TEST_CASE(replay_is_checked_after_the_body_decodes, IngestFixture) {
  auto agent = agentWithOneBeat();
  // seq 1 was accepted; a body that both replays and is invalid reports the body first.
  expectRejected(agent, signedBody(agent, bodyWith(agent, "uptime_s", "\"x\"")), 400,
                 protocol::errors::kInvalidField);
}

// ---- Write-behind -------------------------------------------------------------------------

BOOST_FIXTURE_TEST_CASE(flush_writes_all_dirty_agents_in_one_batch, IngestFixture) {
  LastSeenWriter writer(directory, store, 1h);
  auto a = enroll("a");
  auto b = enroll("b");
  auto c = enroll("c");
  for (uint64_t seq = 1; seq <= 3; ++seq) {
    for (const auto* agent : {&a, &b, &c}) {
      BOOST_REQUIRE(service->heartbeat(signedBeat(*agent, seq)).ok());
    }
    clock.advance(1s);
  }
  auto flushed = writer.flush();
  BOOST_REQUIRE(flushed.ok());
  BOOST_TEST(flushed->agents_written == 3u);
  BOOST_TEST(store.last_seen_batches.load() == 1);
  BOOST_TEST(directory.dirtyCount() == 0u);
  for (const auto* agent : {&a, &b, &c}) {
    auto stored = store.findAgent(agent->agent_id).value();
    BOOST_TEST(stored->last_seq == 3);
    BOOST_TEST(stored->last_seen_at_ms.value() == kStartMs + 2000);
    BOOST_TEST(stored->boot_id == "boot-3");
  }
}

BOOST_FIXTURE_TEST_CASE(flush_with_nothing_dirty_writes_nothing, IngestFixture) {
  LastSeenWriter writer(directory, store, 1h);
  enroll();
  auto flushed = writer.flush();
  BOOST_REQUIRE(flushed.ok());
  BOOST_TEST(flushed->agents_written == 0u);
  BOOST_TEST(store.last_seen_batches.load() == 0);
}

BOOST_FIXTURE_TEST_CASE(failed_flush_keeps_agents_dirty_for_the_next_one, IngestFixture) {
  LastSeenWriter writer(directory, store, 1h);
  auto agent = enroll();
  BOOST_REQUIRE(service->heartbeat(signedBeat(agent, 1)).ok());
  store.fail_last_seen = true;
  BOOST_TEST(!writer.flush().ok());
  BOOST_TEST(directory.dirtyCount() == 1u);
  store.fail_last_seen = false;
  auto retried = writer.flush();
  BOOST_REQUIRE(retried.ok());
  BOOST_TEST(retried->agents_written == 1u);
  BOOST_TEST(store.findAgent(agent.agent_id).value()->last_seq == 1);
}

BOOST_FIXTURE_TEST_CASE(failed_flush_keeps_reported_values_and_newer_ones_win, IngestFixture) {
  LastSeenWriter writer(directory, store, 1h);
  auto agent = enroll("host-a");
  auto first = beat(agent, 1);
  first.hostname = "host-b";
  first.os_version = "Debian GNU/Linux 13 (trixie)";
  first.config_hash = "1111111111111111";
  BOOST_REQUIRE(service->heartbeat(signedBody(agent, protocol::encode(first))).ok());
  store.fail_last_seen = true;
  BOOST_TEST(!writer.flush().ok());
  store.fail_last_seen = false;
  // Meanwhile a newer config hash; host name and OS version as before (nothing new to hold).
  auto second = beat(agent, 2);
  second.hostname = "host-b";
  second.os_version = "Debian GNU/Linux 13 (trixie)";
  second.config_hash = "2222222222222222";
  BOOST_REQUIRE(service->heartbeat(signedBody(agent, protocol::encode(second))).ok());
  BOOST_REQUIRE(writer.flush().ok());

  auto stored = store.findAgent(agent.agent_id).value().value();
  BOOST_TEST(stored.hostname == "host-b");  // from the failed batch, taken back
  BOOST_TEST(stored.os_version == "Debian GNU/Linux 13 (trixie)");
  BOOST_TEST(stored.config_hash == "2222222222222222");  // the newer one
  BOOST_TEST(stored.boot_id == "boot-2");
  BOOST_TEST(stored.last_seq == 2);
}

BOOST_FIXTURE_TEST_CASE(written_values_leave_memory_and_repeats_are_not_rewritten, IngestFixture) {
  LastSeenWriter writer(directory, store, 1h);
  auto agent = enroll("host-a");
  auto hb = beat(agent, 1);
  hb.hostname = "host-b";
  BOOST_REQUIRE(service->heartbeat(signedBody(agent, protocol::encode(hb))).ok());
  BOOST_TEST(directory.liveState(agent.agent_id)->hostname.value_or("") == "host-b");
  BOOST_REQUIRE(writer.flush().ok());
  // Stored: the directory holds only the evidence now, and the admin view reads the store.
  auto live = directory.liveState(agent.agent_id).value();
  BOOST_TEST(!live.hostname.has_value());
  BOOST_TEST(!live.boot_id.has_value());
  BOOST_TEST(live.last_seq == 1);

  // The same values again: last-seen is written, the values are not (the store keeps them).
  hb.seq = 2;
  hb.boot_id = "boot-1";
  BOOST_REQUIRE(service->heartbeat(signedBody(agent, protocol::encode(hb))).ok());
  auto taken = directory.takeDirty();
  BOOST_REQUIRE(taken.size() == 1u);
  BOOST_TEST(!taken[0].hostname.has_value());
  BOOST_TEST(!taken[0].boot_id.has_value());
  BOOST_TEST(!taken[0].agent_version.has_value());
  BOOST_TEST(!taken[0].facts.has_value());
  BOOST_REQUIRE(store.updateLastSeen(taken).ok());
  auto stored = store.findAgent(agent.agent_id).value().value();
  BOOST_TEST(stored.hostname == "host-b");
  BOOST_TEST(stored.boot_id == "boot-1");
  BOOST_TEST(stored.last_seq == 2);
}

// Between the write-behind's take and its commit a shutdown notice is neither in the
// directory's pending set nor in the store: an admin read then still sees it (a SHUTDOWN agent
// with its reason), and again after a failed write; a successful one lets it go. A newer fact
// taken meanwhile shows at once.
BOOST_FIXTURE_TEST_CASE(values_being_written_are_still_shown_until_the_write_settles,
                        IngestFixture) {
  auto agent = enroll("host-a");
  auto hb = beat(agent, 1);
  hb.hostname = "host-b";
  hb.shutdown = protocol::shutdown_reasons::kServiceStop;
  BOOST_REQUIRE(service->heartbeat(signedBody(agent, protocol::encode(hb))).ok());
  auto taken = directory.takeDirty();
  BOOST_REQUIRE(taken.size() == 1u);
  auto live = directory.liveState(agent.agent_id).value();
  BOOST_TEST(live.last_shutdown_reason.value_or("") == "service_stop");

  auto newer = beat(agent, 2);
  newer.hostname = "host-c";
  BOOST_REQUIRE(service->heartbeat(signedBody(agent, protocol::encode(newer))).ok());
  BOOST_TEST(directory.liveState(agent.agent_id)->hostname.value_or("") == "host-c");
  BOOST_TEST(directory.liveState(agent.agent_id)->last_shutdown_reason.value_or("") ==
             "service_stop");

  directory.markDirty(std::move(taken));  // the write failed: both go to the next batch
  live = directory.liveState(agent.agent_id).value();
  BOOST_TEST(live.hostname.value_or("") == "host-c");
  BOOST_TEST(live.last_shutdown_reason.value_or("") == "service_stop");

  taken = directory.takeDirty();
  BOOST_REQUIRE(store.updateLastSeen(taken).ok());
  directory.written(taken);
  live = directory.liveState(agent.agent_id).value();
  BOOST_TEST(!live.hostname.has_value());
  BOOST_TEST(!live.last_shutdown_reason.has_value());
  auto stored = store.findAgent(agent.agent_id).value().value();
  BOOST_TEST(stored.hostname == "host-c");
  BOOST_TEST(stored.last_shutdown_reason == "service_stop");
}

BOOST_FIXTURE_TEST_CASE(stop_flushes_what_the_background_writer_has_not_written_yet,
                        IngestFixture) {
  auto agent = enroll();
  {
    LastSeenWriter writer(directory, store, 1h);
    writer.start();
    BOOST_REQUIRE(service->heartbeat(signedBeat(agent, 4)).ok());
    BOOST_TEST(writer.stop().ok());
  }
  BOOST_TEST(store.findAgent(agent.agent_id).value()->last_seq == 4);
}

BOOST_FIXTURE_TEST_CASE(flushed_state_survives_store_reopen_and_still_refuses_replays,
                        IngestFixture) {
  auto agent = enroll();
  const HeartbeatRequest captured = signedBeat(agent, 7);
  BOOST_REQUIRE(service->heartbeat(captured).ok());
  {
    LastSeenWriter writer(directory, store, 1h);
    BOOST_REQUIRE(writer.flush().ok());
  }
  // Restart: a new store connection and a directory loaded from it.
  service.reset();
  sqlite.reset();
  sqlite = open(data_dir);
  ObservedStore reopened(*sqlite);
  AgentDirectory fresh;
  BOOST_REQUIRE(fresh.load(reopened).ok());
  auto live = fresh.liveState(agent.agent_id);
  BOOST_REQUIRE(live.has_value());
  BOOST_TEST(live->last_seq == 7);
  BOOST_TEST(live->last_seen_at_ms.value() == kStartMs);
  IngestService restarted(reopened, reopened, reopened, fresh, clock,
                          IngestConfig{kIntervalS, 300'000});
  auto replay = restarted.heartbeat(captured);
  BOOST_REQUIRE(!replay.ok());
  BOOST_TEST(replay.error().code == protocol::errors::kReplayedSequence);
  BOOST_TEST(restarted.heartbeat(signedBeat(agent, 8)).ok());
}

namespace {

// A cluster's router whose owner for every agent cannot be reached until told otherwise.
struct UnreachableOwner final : vigil::collector::EvidenceSink {
  bool reachable = false;
  int delivered = 0;
  void agentEnrolled(const vigil::collector::AgentRecord&) override {}
  vigil::collector::HeartbeatAssessment heartbeatAccepted(
      const vigil::collector::AcceptedHeartbeat&) override {
    ++delivered;
    return {};
  }
  void beaconAccepted(const std::string&, vigil::MonoTime, vigil::Duration) override {}
  bool forgetAgent(const std::string&) override { return false; }
  void setAgentClass(const std::string&, vigil::collector::AgentClass) override {}
  bool canDeliver(const std::string&) const override { return reachable; }
};

}  // namespace

BOOST_FIXTURE_TEST_CASE(a_heartbeat_its_judge_cannot_take_is_503_and_keeps_its_sequence,
                        IngestFixture) {
  UnreachableOwner owner;
  service = std::make_unique<IngestService>(store, store, store, directory, clock,
                                            IngestConfig{kIntervalS, 300'000}, &owner);
  auto agent = enroll();
  const HeartbeatRequest request = signedBeat(agent, 10);
  auto refused = expectRejected(agent, request, 503, protocol::errors::kOwnerUnreachable);
  BOOST_TEST(refused.retry_after_s.value() == 2);
  BOOST_TEST(owner.delivered == 0);
  // Sent again once the owner is back: the same sequence number is still good.
  owner.reachable = true;
  BOOST_TEST(service->heartbeat(request).ok());
  BOOST_TEST(owner.delivered == 1);
}
