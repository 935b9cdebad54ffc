#define BOOST_TEST_MODULE agent_runner
#include "agent/core/agent_runner.h"

#include <boost/test/unit_test.hpp>
#include <chrono>
#include <future>
#include <memory>
#include <sstream>
#include <thread>

#include "agent/core/version.h"
#include "common/protocol.h"
#include "tests/unit/agent/test_support.h"

using namespace std::chrono_literals;
using vigil::Duration;
using vigil::SimulatedClock;
using vigil::Status;
using vigil::toUnixMillis;
using vigil::agent::AgentConfig;
using vigil::agent::AgentRunner;
using vigil::agent::AgentRunnerDeps;
using vigil::agent::CollectorAnswer;
using vigil::agent::ConditionVariableWaiter;
using vigil::agent::Identity;
using vigil::agent::Logger;
using vigil::agent::LogLevel;
using vigil::agent::makeUniformRandom;
using vigil::agent::SignedHeartbeat;
using vigil::agent::testing::FakeCollectorClient;
using vigil::agent::testing::FakeSystemInfo;
using vigil::agent::testing::httpAnswer;
using vigil::agent::testing::InMemoryIdentityStore;
using vigil::agent::testing::InMemorySequenceStore;
using vigil::agent::testing::networkError;
using vigil::agent::testing::SimulatedWaiter;
namespace protocol = vigil::protocol;

namespace {

const std::string kSecret(64, 'f');
const std::string kAgentId = "ag_5f0c";
using Request = FakeCollectorClient::Request;
using Answer = std::function<CollectorAnswer(const Request&)>;

double secondsOf(Duration d) { return std::chrono::duration<double>(d).count(); }

Answer enrolled(int64_t interval_s = 30) {
  return [interval_s](const Request&) {
    protocol::EnrollResponse r{kAgentId, kSecret, interval_s, 0};
    return httpAnswer(201, protocol::encode(r));
  };
}

Answer accepted(int64_t next_interval_s = 60) {
  return [next_interval_s](const Request&) {
    return httpAnswer(200, protocol::encode(protocol::HeartbeatResponse{next_interval_s, 0}));
  };
}

Answer refused(long status, const std::string& code, std::optional<int64_t> server_time_ms = {},
               std::optional<int64_t> retry_after_s = {}) {
  return [=](const Request&) {
    protocol::ErrorBody e{code, "refused in a test", server_time_ms};
    return httpAnswer(status, protocol::encode(e), retry_after_s);
  };
}

Answer unreachable() {
  return [](const Request&) { return networkError("Failed to connect to collector"); };
}

struct Fixture {
  SimulatedClock clock;
  SimulatedWaiter waiter{clock};
  FakeCollectorClient client{clock};
  FakeSystemInfo system;
  InMemoryIdentityStore identity_store;
  InMemorySequenceStore sequence_store;
  std::ostringstream log_text;
  Logger log{clock, log_text, LogLevel::kDebug};
  AgentConfig config;
  std::unique_ptr<AgentRunner> runner;

  Fixture() {
    config.server_url = "https://vigil.example.com";
    config.enroll_token = "tok_site";
  }

  void enrolledAlready() { identity_store.stored = Identity{kAgentId, kSecret, config.server_url}; }

  AgentRunner& makeRunner() {
    runner = std::make_unique<AgentRunner>(
        config, AgentRunnerDeps{client, system, identity_store, sequence_store, clock, waiter, log,
                                makeUniformRandom(42)});
    return *runner;
  }

  // Runs until `requests` requests were answered, then stops from inside the next wait.
  Status runFor(size_t requests) {
    AgentRunner& r = makeRunner();
    waiter.on_wait = [this, requests](size_t) {
      if (client.requests.size() >= requests) runner->stop();
    };
    return r.run();
  }

  std::vector<SignedHeartbeat> heartbeats() const {
    std::vector<SignedHeartbeat> out;
    for (const Request& r : client.requests) {
      if (r.heartbeat) out.push_back(*r.heartbeat);
    }
    return out;
  }

  std::string logs() const { return log_text.str(); }
};

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

protocol::Heartbeat decode(const SignedHeartbeat& hb) {
  auto decoded = protocol::decodeHeartbeat(hb.body);
  BOOST_TEST_REQUIRE(decoded.ok(), vigil::agent::testing::errorText(decoded));
  return decoded.value();
}

}  // namespace

BOOST_AUTO_TEST_CASE(enrolls_with_the_token_then_heartbeats_at_once) {
  Fixture f;
  f.client.script = {enrolled(30), accepted(60)};
  const Status st = f.runFor(2);
  BOOST_TEST_REQUIRE(st.ok(), st.toString());

  BOOST_TEST_REQUIRE(f.client.requests.size() >= 2u);
  const Request& enroll = f.client.requests[0];
  BOOST_TEST_REQUIRE(enroll.enroll.has_value());
  BOOST_TEST(enroll.enroll->enroll_token == "tok_site");
  BOOST_TEST(enroll.enroll->facts.hostname == "host-1");
  BOOST_TEST(enroll.enroll->facts.os_name == "linux");
  BOOST_TEST(enroll.enroll->facts.os_version == "Debian GNU/Linux 12 (bookworm)");
  BOOST_TEST(enroll.enroll->facts.arch == "x86_64");
  BOOST_TEST(enroll.enroll->facts.agent_version == vigil::agent::kAgentVersion);

  BOOST_TEST_REQUIRE(f.identity_store.stored.has_value());
  BOOST_TEST(f.identity_store.stored->agent_id == kAgentId);
  BOOST_TEST(f.identity_store.stored->secret == kSecret);
  BOOST_TEST(f.identity_store.stored->server_url == "https://vigil.example.com");

  // The first heartbeat follows the enrollment without any wait.
  const Request& beat = f.client.requests[1];
  BOOST_TEST_REQUIRE(beat.heartbeat.has_value());
  BOOST_TEST((beat.at == enroll.at));
  BOOST_TEST(contains(f.logs(), "INFO enrolled as ag_5f0c"));
}

BOOST_AUTO_TEST_CASE(heartbeat_is_signed_over_the_exact_body_with_the_corrected_clock) {
  Fixture f;
  f.enrolledAlready();
  f.client.script = {accepted(60)};
  BOOST_TEST_REQUIRE(f.runFor(1).ok());

  const auto beats = f.heartbeats();
  BOOST_TEST_REQUIRE(beats.size() == 1u);
  const SignedHeartbeat& hb = beats[0];
  BOOST_TEST(hb.agent_id == kAgentId);
  BOOST_TEST(hb.timestamp_ms == toUnixMillis(f.clock.wallNow() - f.waiter.waits()[0]));
  BOOST_TEST(protocol::verifySignature(kSecret, "POST", protocol::kHeartbeatPath, hb.timestamp_ms,
                                       hb.body, hb.signature));
  // Any change to the body, timestamp or key breaks it.
  BOOST_TEST(!protocol::verifySignature(kSecret, "POST", protocol::kHeartbeatPath,
                                        hb.timestamp_ms + 1, hb.body, hb.signature));
  BOOST_TEST(!protocol::verifySignature(std::string(64, 'e'), "POST", protocol::kHeartbeatPath,
                                        hb.timestamp_ms, hb.body, hb.signature));

  const protocol::Heartbeat body = decode(hb);
  BOOST_TEST(body.agent_id == kAgentId);
  BOOST_TEST(body.seq == 1u);
  BOOST_TEST(body.boot_id == f.system.boot_value.boot_id);
  BOOST_TEST(body.uptime_s == 1234u);
  BOOST_TEST(body.agent_version == vigil::agent::kAgentVersion);
  BOOST_TEST(body.sent_at_ms == hb.timestamp_ms);
  BOOST_TEST(body.hostname.value_or("") == "host-1");
  BOOST_TEST(!body.interval_s.has_value());  // no interval known yet after a restart
}

BOOST_AUTO_TEST_CASE(later_beats_carry_the_interval_in_use_and_no_hostname) {
  Fixture f;
  f.client.script = {enrolled(30), accepted(60), accepted(120), accepted(120)};
  BOOST_TEST_REQUIRE(f.runFor(4).ok());
  const auto beats = f.heartbeats();
  BOOST_TEST_REQUIRE(beats.size() == 3u);
  const auto b1 = decode(beats[0]);
  const auto b2 = decode(beats[1]);
  const auto b3 = decode(beats[2]);
  BOOST_TEST(b1.interval_s.value_or(0) == 30);  // from the enrollment answer
  BOOST_TEST(b2.interval_s.value_or(0) == 60);
  BOOST_TEST(b3.interval_s.value_or(0) == 120);
  BOOST_TEST(b1.hostname.has_value());
  BOOST_TEST(!b2.hostname.has_value());
  BOOST_TEST(!b3.hostname.has_value());
  BOOST_TEST(b1.seq < b2.seq);
  BOOST_TEST(b2.seq < b3.seq);
  // Each accepted beat waits its interval +-10 %.
  const auto waits = f.waiter.waits();
  BOOST_TEST(secondsOf(waits[0]) >= 54.0);
  BOOST_TEST(secondsOf(waits[0]) <= 66.0);
  BOOST_TEST(secondsOf(waits[1]) >= 108.0);
  BOOST_TEST(secondsOf(waits[1]) <= 132.0);
  BOOST_TEST(contains(f.logs(), "INFO heartbeat accepted seq=1, next in "));
}

BOOST_AUTO_TEST_CASE(hostname_is_repeated_until_a_beat_is_accepted) {
  Fixture f;
  f.enrolledAlready();
  f.client.script = {unreachable(), accepted(60), accepted(60)};
  BOOST_TEST_REQUIRE(f.runFor(3).ok());
  const auto beats = f.heartbeats();
  BOOST_TEST_REQUIRE(beats.size() == 3u);
  BOOST_TEST(decode(beats[0]).hostname.has_value());
  BOOST_TEST(decode(beats[1]).hostname.has_value());
  BOOST_TEST(!decode(beats[2]).hostname.has_value());
}

BOOST_AUTO_TEST_CASE(failures_back_off_with_growing_ceilings_and_success_resets) {
  Fixture f;
  f.enrolledAlready();
  f.client.script = {
      refused(500, "internal"),      unreachable(), refused(502, ""),        unreachable(),
      refused(400, "invalid_field"), accepted(60),  refused(500, "internal")};
  BOOST_TEST_REQUIRE(f.runFor(7).ok());
  const auto waits = f.waiter.waits();
  BOOST_TEST_REQUIRE(waits.size() >= 7u);
  for (int n = 0; n < 5; ++n) {
    BOOST_TEST(waits[n] >= Duration::zero());
    BOOST_TEST(waits[n] <= Duration(1s) * (1 << n), "failure " << n);
  }
  BOOST_TEST(secondsOf(waits[5]) >= 54.0);  // accepted
  BOOST_TEST(waits[6] <= Duration(1s));     // backoff starts again at the base
  const std::string logs = f.logs();
  BOOST_TEST(contains(logs,
                      "WARN heartbeat seq=1 failed: HTTP 500 internal: refused in a test; "
                      "backing off, retrying in"));
  BOOST_TEST(contains(logs, "network error: Failed to connect to collector"));
  BOOST_TEST(contains(logs, "HTTP 502 (no Vigil error body)"));
  BOOST_TEST(contains(logs, "heartbeat accepted seq=6 after 5 failed attempts"));
}

BOOST_AUTO_TEST_CASE(a_long_outage_never_waits_more_than_the_cap) {
  Fixture f;
  f.enrolledAlready();
  f.client.fallback = unreachable();
  BOOST_TEST_REQUIRE(f.runFor(40).ok());
  for (Duration w : f.waiter.waits()) BOOST_TEST(w <= Duration(300s));
}

BOOST_AUTO_TEST_CASE(stale_timestamp_corrects_the_clock_and_retries_at_once_once) {
  Fixture f;
  f.enrolledAlready();
  const int64_t server_ahead_ms = 412'000;
  const int64_t server_now = toUnixMillis(f.clock.wallNow()) + server_ahead_ms;
  f.client.script = {refused(401, "stale_timestamp", server_now), accepted(60)};
  BOOST_TEST_REQUIRE(f.runFor(2).ok());
  const auto beats = f.heartbeats();
  BOOST_TEST_REQUIRE(beats.size() == 2u);
  BOOST_TEST(f.waiter.waits()[0] == Duration::zero());  // retried at once
  BOOST_TEST(beats[1].timestamp_ms == server_now);      // no time passed in between
  BOOST_TEST(decode(beats[1]).sent_at_ms == server_now);
  BOOST_TEST(decode(beats[1]).seq > decode(beats[0]).seq);
  BOOST_TEST(protocol::verifySignature(kSecret, "POST", protocol::kHeartbeatPath,
                                       beats[1].timestamp_ms, beats[1].body, beats[1].signature));
  BOOST_TEST(contains(f.logs(), "clock offset set to +412.000 s, retrying at once"));
}

BOOST_AUTO_TEST_CASE(stale_timestamp_twice_in_a_row_backs_off) {
  Fixture f;
  f.enrolledAlready();
  const int64_t server_now = toUnixMillis(f.clock.wallNow()) + 1'000'000;
  f.client.script = {refused(401, "stale_timestamp", server_now),
                     refused(401, "stale_timestamp", server_now)};
  BOOST_TEST_REQUIRE(f.runFor(2).ok());
  const auto waits = f.waiter.waits();
  BOOST_TEST(waits[0] == Duration::zero());
  BOOST_TEST(waits[1] <= Duration(1s));
  BOOST_TEST(contains(f.logs(), "backing off"));
}

BOOST_AUTO_TEST_CASE(retry_after_from_an_overloaded_collector_is_obeyed) {
  Fixture f;
  f.enrolledAlready();
  f.client.script = {refused(429, "overloaded", {}, 42), refused(503, "overloaded", {}, 7),
                     refused(503, "overloaded")};
  BOOST_TEST_REQUIRE(f.runFor(3).ok());
  const auto waits = f.waiter.waits();
  BOOST_TEST(waits[0] == Duration(42s));
  BOOST_TEST(waits[1] == Duration(7s));
  BOOST_TEST(waits[2] <= Duration(4s));  // no Retry-After: backoff (third failure)
  BOOST_TEST(contains(f.logs(), "retrying in 42.0 s as the collector asked (Retry-After)"));
}

BOOST_AUTO_TEST_CASE(replayed_sequence_jumps_the_reservation_and_retries) {
  Fixture f;
  f.enrolledAlready();
  f.client.script = {refused(409, "replayed_sequence"), accepted(60)};
  BOOST_TEST_REQUIRE(f.runFor(2).ok());
  const auto beats = f.heartbeats();
  BOOST_TEST_REQUIRE(beats.size() == 2u);
  BOOST_TEST(f.waiter.waits()[0] == Duration::zero());
  BOOST_TEST(decode(beats[1]).seq >= decode(beats[0]).seq + 1000);
  BOOST_TEST(f.sequence_store.reserved_below > decode(beats[1]).seq);
}

BOOST_AUTO_TEST_CASE(unknown_agent_is_logged_as_an_error_naming_the_agent_and_backed_off) {
  Fixture f;
  f.enrolledAlready();
  f.client.script = {refused(401, "unknown_agent")};
  BOOST_TEST_REQUIRE(f.runFor(1).ok());
  BOOST_TEST(f.waiter.waits()[0] <= Duration(1s));
  BOOST_TEST(contains(f.logs(), "ERROR the collector does not know agent ag_5f0c"));
}

BOOST_AUTO_TEST_CASE(a_stored_identity_is_used_without_enrolling) {
  Fixture f;
  f.enrolledAlready();
  f.config.enroll_token.clear();
  f.client.script = {accepted(60)};
  BOOST_TEST_REQUIRE(f.runFor(1).ok());
  BOOST_TEST(!f.client.requests[0].enroll.has_value());
  BOOST_TEST(f.identity_store.saves == 0);
}

BOOST_AUTO_TEST_CASE(not_enrolled_without_a_token_is_a_clear_fatal_error) {
  Fixture f;
  f.config.enroll_token.clear();
  const Status st = f.makeRunner().run();
  BOOST_TEST(!st.ok());
  BOOST_TEST(contains(st.message(), "no enrollment token"));
  BOOST_TEST(f.client.requests.empty());
}

BOOST_AUTO_TEST_CASE(an_unreadable_identity_is_fatal_and_never_reenrolls) {
  Fixture f;
  f.identity_store.load_error = Status::failedPrecondition("identity file is corrupt");
  const Status st = f.makeRunner().run();
  BOOST_TEST(!st.ok());
  BOOST_TEST(f.client.requests.empty());
}

BOOST_AUTO_TEST_CASE(an_unwritable_state_directory_is_fatal_before_enrolling) {
  Fixture f;
  f.sequence_store.store_error = Status::ioError("read-only file system");
  const Status st = f.makeRunner().run();
  BOOST_TEST(!st.ok());
  BOOST_TEST(contains(st.message(), "read-only file system"));
  BOOST_TEST(f.client.requests.empty());
}

BOOST_AUTO_TEST_CASE(a_corrupt_sequence_reservation_restarts_at_one_with_a_warning) {
  Fixture f;
  f.enrolledAlready();
  f.sequence_store.load_error = Status::failedPrecondition("sequence file is corrupt");
  f.client.script = {accepted(60)};
  BOOST_TEST_REQUIRE(f.runFor(1).ok());
  BOOST_TEST(decode(f.heartbeats().at(0)).seq == 1u);
  BOOST_TEST(contains(f.logs(), "WARN sequence reservation unreadable"));
}

BOOST_AUTO_TEST_CASE(an_enrolled_agent_keeps_beating_when_the_sequence_cannot_be_stored) {
  Fixture f;
  f.enrolledAlready();
  f.sequence_store.store_error = Status::ioError("disk full");
  f.client.fallback = accepted(60);
  BOOST_TEST_REQUIRE(f.runFor(3).ok());
  BOOST_TEST(f.heartbeats().size() == 3u);
  BOOST_TEST(contains(f.logs(), "cannot store the sequence reservation"));
}

BOOST_AUTO_TEST_CASE(enrollment_is_retried_with_backoff_until_it_succeeds) {
  Fixture f;
  f.client.script = {unreachable(), refused(401, "invalid_enroll_token"),
                     refused(503, "overloaded", {}, 20), enrolled(30), accepted(60)};
  BOOST_TEST_REQUIRE(f.runFor(5).ok());
  const auto waits = f.waiter.waits();
  BOOST_TEST_REQUIRE(waits.size() >= 4u);
  BOOST_TEST(waits[0] <= Duration(1s));
  BOOST_TEST(waits[1] <= Duration(2s));
  BOOST_TEST(waits[2] == Duration(20s));
  BOOST_TEST(f.client.requests[3].enroll.has_value());
  BOOST_TEST(f.client.requests[4].heartbeat.has_value());
  BOOST_TEST(contains(f.logs(), "ERROR enrollment token refused (HTTP 401 invalid_enroll_token"));
  BOOST_TEST(f.identity_store.stored.has_value());
}

BOOST_AUTO_TEST_CASE(identity_that_cannot_be_stored_after_enrolling_is_fatal) {
  Fixture f;
  f.identity_store.save_error = Status::ioError("disk full");
  f.client.script = {enrolled(30)};
  const Status st = f.makeRunner().run();
  BOOST_TEST(!st.ok());
  BOOST_TEST(contains(st.message(), "cannot store the identity"));
}

BOOST_AUTO_TEST_CASE(stop_during_a_request_cancels_it_and_run_returns) {
  Fixture f;
  f.enrolledAlready();
  f.client.fallback = accepted(60);
  AgentRunner& runner = f.makeRunner();
  f.client.on_request = [&](const Request&) { runner.stop(); };
  BOOST_TEST(runner.run().ok());
  BOOST_TEST(f.client.requests.size() == 1u);
  BOOST_TEST(f.client.cancelled.load());
  BOOST_TEST(f.waiter.waits().empty());
  BOOST_TEST(contains(f.logs(), "INFO stopped"));
}

BOOST_AUTO_TEST_CASE(stop_during_enrollment_backoff_returns_without_an_identity) {
  Fixture f;
  f.client.fallback = unreachable();
  AgentRunner& runner = f.makeRunner();
  f.waiter.on_wait = [&](size_t n) {
    if (n == 3) runner.stop();
  };
  BOOST_TEST(runner.run().ok());
  BOOST_TEST(f.client.requests.size() == 3u);
  BOOST_TEST(!f.identity_store.stored.has_value());
}

BOOST_AUTO_TEST_CASE(stop_from_another_thread_ends_a_real_wait_promptly) {
  // The real waiter, a long interval, and stop() from a second thread: run() must return long
  // before the interval would have passed.
  SimulatedClock clock;
  ConditionVariableWaiter waiter;
  FakeCollectorClient client(clock);
  FakeSystemInfo system;
  InMemoryIdentityStore identity_store;
  identity_store.stored = Identity{kAgentId, kSecret, "https://vigil.example.com"};
  InMemorySequenceStore sequence_store;
  std::ostringstream log_text;
  Logger log(clock, log_text);
  AgentConfig config;
  config.server_url = "https://vigil.example.com";
  client.fallback = accepted(3600);
  std::promise<void> first_beat;
  client.on_request = [&](const Request&) {
    if (client.requests.size() == 1) first_beat.set_value();
  };
  AgentRunner runner(config, AgentRunnerDeps{client, system, identity_store, sequence_store, clock,
                                             waiter, log, makeUniformRandom(1)});
  std::future<Status> result = std::async(std::launch::async, [&] { return runner.run(); });
  first_beat.get_future().wait();
  const auto stop_at = std::chrono::steady_clock::now();
  runner.stop();
  BOOST_TEST_REQUIRE((result.wait_for(5s) == std::future_status::ready));
  BOOST_TEST(result.get().ok());
  BOOST_TEST((std::chrono::steady_clock::now() - stop_at < 2s));
  BOOST_TEST(client.requests.size() == 1u);
}

BOOST_AUTO_TEST_CASE(answers_are_read_into_outcomes_per_the_protocol_table) {
  using Kind = vigil::agent::HeartbeatOutcome::Kind;
  struct Case {
    CollectorAnswer answer;
    Kind kind = Kind::kFailed;
  };
  const Case cases[] = {
      {accepted(60)({}), Kind::kAccepted},
      {httpAnswer(200, "{}"), Kind::kFailed},
      {refused(401, "stale_timestamp", 1)({}), Kind::kStaleTimestamp},
      {refused(409, "replayed_sequence")({}), Kind::kReplayedSequence},
      {refused(429, "overloaded")({}), Kind::kOverloaded},
      {httpAnswer(503, "<html>busy</html>", 3), Kind::kOverloaded},
      {refused(401, "bad_signature")({}), Kind::kFailed},
      {refused(400, "unsupported_version")({}), Kind::kFailed},
      {refused(500, "internal")({}), Kind::kFailed},
      {networkError("timeout"), Kind::kFailed},
  };
  for (const Case& c : cases) {
    const auto reading = vigil::agent::readHeartbeatAnswer(c.answer);
    BOOST_TEST(static_cast<int>(reading.outcome.kind) == static_cast<int>(c.kind),
               c.answer.http_status << " " << c.answer.body);
  }
  const auto overloaded = vigil::agent::readHeartbeatAnswer(httpAnswer(503, "", 3));
  BOOST_TEST(overloaded.outcome.retry_after.value_or(0s).count() == 3);
}
