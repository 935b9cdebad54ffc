#define BOOST_TEST_MODULE agent_runner
#include "agent/core/agent_runner.h"

#include <boost/test/unit_test.hpp>
#include <chrono>
#include <future>
#include <memory>
#include <sstream>
#include <thread>

#include "agent/core/outage_diary.h"
#include "agent/core/version.h"
#include "common/datagram.h"
#include "common/protocol.h"
#include "tests/support/temp_dir.h"
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
using vigil::agent::testing::SimulatedUdpNetwork;
using vigil::agent::testing::SimulatedWaiter;
namespace datagram = vigil::datagram;
namespace protocol = vigil::protocol;

namespace {

const std::string kSecret(64, 'f');
const std::string kAgentId = "ag_5f0c";
using Request = FakeCollectorClient::Request;
using Answer = std::function<CollectorAnswer(const Request&)>;

double secondsOf(Duration d) { return std::chrono::duration<double>(d).count(); }

Answer enrolled(int64_t interval_s = 30) {
  return [interval_s](const Request&) {
    protocol::EnrollResponse r{kAgentId, kSecret, interval_s, 0, {}};
    return httpAnswer(201, protocol::encode(r));
  };
}

Answer accepted(int64_t next_interval_s = 60) {
  return [next_interval_s](const Request&) {
    return httpAnswer(
        200, protocol::encode(protocol::HeartbeatResponse{next_interval_s, 0, {}, {}, {}}));
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
  vigil::agent::RunnerTimings timings;
  vigil::agent::UdpSocketFactory* udp = nullptr;  // the beacon and peer channels, when set
  std::unique_ptr<AgentRunner> runner;

  Fixture() {
    // One wait per delay, so tests read the scheduler's delays directly (the cap on a single
    // sleep has tests of its own).
    timings.max_sleep = std::chrono::hours(48);
    config.server_url = "https://vigil.example.com";
    config.enroll_token = "tok_site";
  }

  void enrolledAlready() {
    identity_store.stored = Identity{kAgentId, kSecret, config.server_url, ""};
  }

  AgentRunner& makeRunner() {
    AgentRunnerDeps deps{client, system, system, identity_store,       sequence_store,
                         clock,  waiter, log,    makeUniformRandom(42)};
    deps.udp = udp;
    runner = std::make_unique<AgentRunner>(config, deps, vigil::agent::BackoffOptions{}, timings);
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

  // Regular heartbeats (goodbye notices left out).
  std::vector<SignedHeartbeat> heartbeats() const {
    std::vector<SignedHeartbeat> out;
    for (const Request& r : client.requests) {
      if (r.heartbeat && r.heartbeat->body.find("\"shutdown\"") == std::string::npos) {
        out.push_back(*r.heartbeat);
      }
    }
    return out;
  }
  std::vector<Request> goodbyes() const {
    std::vector<Request> out;
    for (const Request& r : client.requests) {
      if (r.heartbeat && r.heartbeat->body.find("\"shutdown\"") != std::string::npos) {
        out.push_back(r);
      }
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

BOOST_AUTO_TEST_CASE(later_beats_carry_the_interval_in_use_and_the_facts) {
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
  for (const auto& b : {b1, b2, b3}) {
    BOOST_TEST(b.hostname.value_or("") == "host-1");
    BOOST_TEST(b.os_name.value_or("") == "linux");
    BOOST_TEST(b.os_version.value_or("") == "Debian GNU/Linux 12 (bookworm)");
    BOOST_TEST(b.config_hash.value_or("") == vigil::agent::configHash(f.config));
    BOOST_TEST(!b.shutdown.has_value());
  }
  BOOST_TEST(b1.seq < b2.seq);
  BOOST_TEST(b2.seq < b3.seq);
  // Each accepted beat waits its interval +-10 %.
  const auto waits = f.waiter.waits();
  BOOST_TEST(secondsOf(waits[0]) >= 54.0);
  BOOST_TEST(secondsOf(waits[0]) <= 66.0);
  BOOST_TEST(secondsOf(waits[1]) >= 108.0);
  BOOST_TEST(secondsOf(waits[1]) <= 132.0);
  // Steady state is quiet: accepted beats log at debug level only.
  BOOST_TEST(contains(f.logs(), "DEBUG heartbeat accepted seq=1, next in "));
  BOOST_TEST(!contains(f.logs(), "INFO heartbeat accepted"));
}

BOOST_AUTO_TEST_CASE(the_config_hash_differs_for_different_configurations) {
  AgentConfig a;
  a.server_url = "https://vigil.example.com";
  AgentConfig b = a;
  b.peer_port = 40000;
  AgentConfig c = a;
  c.enroll_token = "another secret";  // secrets are not part of the hash
  BOOST_TEST(vigil::agent::configHash(a).size() == 16u);
  BOOST_TEST(vigil::agent::configHash(a) != vigil::agent::configHash(b));
  BOOST_TEST(vigil::agent::configHash(a) == vigil::agent::configHash(c));
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
  BOOST_TEST((f.client.requests[1].at == f.client.requests[0].at));  // retried at once
  BOOST_TEST(beats[1].timestamp_ms == server_now);                   // no time passed in between
  BOOST_TEST(decode(beats[1]).sent_at_ms == server_now);
  BOOST_TEST(decode(beats[1]).seq > decode(beats[0]).seq);
  BOOST_TEST(protocol::verifySignature(kSecret, "POST", protocol::kHeartbeatPath,
                                       beats[1].timestamp_ms, beats[1].body, beats[1].signature));
  BOOST_TEST(contains(f.logs(), "clock offset set to +412.000 s, retrying at once"));
}

// Issue 16: an agent whose wall clock runs 10 minutes ahead enrolls, starts the beacon and
// the LAN peer witness the collector offers (their first datagrams carry its own clock), and
// has its first heartbeat refused as stale_timestamp. From that correction on, its beacons
// and announcements carry the corrected clock, as its heartbeats do: the very next ones.
BOOST_AUTO_TEST_CASE(
    after_a_stale_timestamp_the_next_beacon_and_announcement_carry_the_corrected_clock) {
  Fixture f;
  SimulatedUdpNetwork udp(f.clock);
  f.udp = &udp;
  constexpr int64_t kAheadMs = 600'000;
  const std::string peer_key(64, 'b');
  f.client.script = {[&](const Request&) {
                       protocol::EnrollResponse r{kAgentId, kSecret, 60, 0, {}};
                       r.channels.beacon_port = 8471;
                       r.channels.beacon_interval_s = 15;
                       r.channels.peer_key = peer_key;
                       r.channels.peer_key_id = datagram::peerKeyId(peer_key);
                       return httpAnswer(201, protocol::encode(r));
                     },
                     [&](const Request& r) {
                       return refused(401, "stale_timestamp",
                                      toUnixMillis(f.clock.wallNow()) - kAheadMs)(r);
                     },
                     accepted(60)};
  // Each channel has sent what was due before a heartbeat goes out and after each wait.
  f.client.on_request = [&](const Request&) { udp.settle(); };
  AgentRunner& runner = f.makeRunner();
  f.waiter.on_wait = [&](size_t) {
    udp.settle();
    if (f.client.requests.size() >= 3) runner.stop();
  };
  BOOST_TEST_REQUIRE(runner.run().ok());
  BOOST_TEST_REQUIRE(f.heartbeats().size() == 2u);

  std::vector<std::pair<int64_t, int64_t>> beacons, announcements;  // {ts_ms, wall ms at send}
  for (const SimulatedUdpNetwork::Sent& s : udp.sent()) {
    if (auto b = datagram::parseBeacon(s.bytes)) {
      BOOST_TEST(s.host == "vigil.example.com");
      BOOST_TEST(s.port == 8471);
      BOOST_TEST(datagram::verify(*b, kSecret));
      beacons.emplace_back(b->ts_ms, s.wall_ms);
    } else if (auto a = datagram::parsePeerAnnouncement(s.bytes)) {
      BOOST_TEST(datagram::verify(*a, peer_key));
      announcements.emplace_back(a->ts_ms, s.wall_ms);
    }
  }
  // The first ones went out before any heartbeat, with the uncorrected clock; the next ones,
  // after the heartbeat interval, with the corrected one.
  BOOST_TEST_REQUIRE(beacons.size() == 2u);
  BOOST_TEST(beacons[0].first == beacons[0].second);
  BOOST_TEST(f.heartbeats()[1].timestamp_ms == beacons[0].second - kAheadMs);  // same instant
  BOOST_TEST(beacons[1].first == beacons[1].second - kAheadMs);
  BOOST_TEST_REQUIRE(announcements.size() == 2u);
  BOOST_TEST(announcements[0].first == announcements[0].second);
  BOOST_TEST(announcements[1].first == announcements[1].second - kAheadMs);
  BOOST_TEST(contains(f.logs(), "clock offset set to -600.000 s, retrying at once"));
  BOOST_TEST(contains(f.logs(),
                      "beacon: clock offset now -600.000 s; 1 beacon stamped with the "
                      "previous clock got no ack"));
}

BOOST_AUTO_TEST_CASE(stale_timestamp_twice_in_a_row_backs_off) {
  Fixture f;
  f.enrolledAlready();
  const int64_t server_now = toUnixMillis(f.clock.wallNow()) + 1'000'000;
  f.client.script = {refused(401, "stale_timestamp", server_now),
                     refused(401, "stale_timestamp", server_now)};
  BOOST_TEST_REQUIRE(f.runFor(2).ok());
  const auto waits = f.waiter.waits();
  BOOST_TEST((f.client.requests[1].at == f.client.requests[0].at));  // first retry at once
  BOOST_TEST(waits[0] <= Duration(1s));                              // then backoff
  BOOST_TEST(contains(f.logs(), "backing off"));
}

BOOST_AUTO_TEST_CASE(retry_after_from_an_overloaded_collector_is_obeyed) {
  Fixture f;
  f.enrolledAlready();
  f.client.script = {refused(429, "overloaded", {}, 42), refused(503, "overloaded", {}, 7),
                     refused(503, "overloaded")};
  BOOST_TEST_REQUIRE(f.runFor(3).ok());
  const auto waits = f.waiter.waits();
  BOOST_TEST((waits[0] >= Duration(42s) && waits[0] <= Duration(46200ms)));
  BOOST_TEST((waits[1] >= Duration(7s) && waits[1] <= Duration(7700ms)));
  BOOST_TEST(waits[2] <= Duration(4s));  // no Retry-After: backoff (third failure)
  BOOST_TEST(contains(f.logs(), "as the collector asked (Retry-After)"));
}

BOOST_AUTO_TEST_CASE(replayed_sequence_jumps_the_reservation_and_retries) {
  Fixture f;
  f.enrolledAlready();
  f.client.script = {refused(409, "replayed_sequence"), accepted(60)};
  BOOST_TEST_REQUIRE(f.runFor(2).ok());
  const auto beats = f.heartbeats();
  BOOST_TEST_REQUIRE(beats.size() == 2u);
  BOOST_TEST((f.client.requests[1].at == f.client.requests[0].at));
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
  // The request in flight was cancelled; then the goodbye went out with a short timeout.
  BOOST_TEST_REQUIRE(f.client.requests.size() == 2u);
  const auto goodbyes = f.goodbyes();
  BOOST_TEST_REQUIRE(goodbyes.size() == 1u);
  BOOST_TEST(decode(*goodbyes[0].heartbeat).shutdown.value_or("") == "service_stop");
  BOOST_TEST((goodbyes[0].timeout == std::optional<Duration>(f.timings.goodbye_timeout)));
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
  identity_store.stored = Identity{kAgentId, kSecret, "https://vigil.example.com", ""};
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
  AgentRunner runner(config, AgentRunnerDeps{client, system, system, identity_store, sequence_store,
                                             clock, waiter, log, makeUniformRandom(1)});
  std::future<Status> result = std::async(std::launch::async, [&] { return runner.run(); });
  first_beat.get_future().wait();
  const auto stop_at = std::chrono::steady_clock::now();
  runner.stop();
  BOOST_TEST_REQUIRE((result.wait_for(5s) == std::future_status::ready));
  BOOST_TEST(result.get().ok());
  BOOST_TEST((std::chrono::steady_clock::now() - stop_at < 2s));
  BOOST_TEST(client.requests.size() == 2u);  // the beat and the goodbye
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

// --- OS events, wakes, goodbye notices, the outage diary, verify mode ----------------------

namespace {

class FakePowerMonitor final : public vigil::agent::PowerMonitor {
 public:
  Status start(vigil::agent::SystemEventSink&) override { return Status::okStatus(); }
  void releaseHold() override { ++holds_released; }
  void stop() override {}
  int holds_released = 0;
};

}  // namespace

BOOST_AUTO_TEST_CASE(a_network_change_brings_the_next_beat_forward) {
  Fixture f;
  f.enrolledAlready();
  f.client.fallback = accepted(300);
  f.waiter.postAfter(100s, vigil::agent::SystemEvent::kNetworkChanged);
  BOOST_TEST_REQUIRE(f.runFor(2).ok());
  const auto& r = f.client.requests;
  BOOST_TEST_REQUIRE(r.size() >= 2u);
  // Without the event the second beat would come after 270..330 s.
  BOOST_TEST(secondsOf(r[1].at - r[0].at) == 100.0);
  BOOST_TEST(contains(f.logs(), "network changed; heartbeat in 0.0 s"));
}

BOOST_AUTO_TEST_CASE(a_wake_seen_only_in_the_clocks_brings_the_next_beat_forward) {
  Fixture f;
  f.enrolledAlready();
  f.timings.max_sleep = 60s;
  f.client.fallback = accepted(3600);
  // During the first sleep the machine is suspended for 2 hours: the wall clock jumps.
  f.waiter.on_wait = [&f](size_t n) {
    if (n == 1) f.clock.jumpWall(std::chrono::hours(2));
    if (f.client.requests.size() >= 2) f.runner->stop();
  };
  BOOST_TEST_REQUIRE(f.makeRunner().run().ok());
  const auto& r = f.client.requests;
  BOOST_TEST_REQUIRE(r.size() >= 2u);
  BOOST_TEST(secondsOf(r[1].at - r[0].at) <= 60.0);
  BOOST_TEST(contains(f.logs(), "the machine woke up (clock ran 7200.0 s ahead"));
}

BOOST_AUTO_TEST_CASE(sleep_and_system_shutdown_send_goodbyes_and_release_the_hold) {
  Fixture f;
  f.enrolledAlready();
  FakePowerMonitor power;
  f.client.fallback = accepted(300);
  f.waiter.postAfter(10s, vigil::agent::SystemEvent::kSuspending);
  f.waiter.postAfter(20s, vigil::agent::SystemEvent::kSystemShutdown);
  AgentRunner& runner = [&]() -> AgentRunner& {
    AgentRunnerDeps deps{f.client, f.system, f.system, f.identity_store,     f.sequence_store,
                         f.clock,  f.waiter, f.log,    makeUniformRandom(42)};
    deps.power = &power;
    f.runner =
        std::make_unique<AgentRunner>(f.config, deps, vigil::agent::BackoffOptions{}, f.timings);
    return *f.runner;
  }();
  // The service manager's SIGTERM follows the shutdown notice at once.
  f.client.on_request = [&](const Request&) {
    if (f.goodbyes().size() == 2) runner.stop();
  };
  BOOST_TEST_REQUIRE(runner.run().ok());
  const auto goodbyes = f.goodbyes();
  // sleep, system_shutdown, and no third one for the stop right after a shutdown notice.
  BOOST_TEST_REQUIRE(goodbyes.size() == 2u);
  BOOST_TEST(decode(*goodbyes[0].heartbeat).shutdown.value_or("") == "sleep");
  BOOST_TEST(decode(*goodbyes[1].heartbeat).shutdown.value_or("") == "system_shutdown");
  BOOST_TEST(power.holds_released == 2);
  BOOST_TEST(contains(f.logs(), "goodbye notice (sleep) delivered"));
}

BOOST_AUTO_TEST_CASE(a_session_logoff_stops_the_agent_with_a_logoff_notice) {
  Fixture f;
  f.enrolledAlready();
  f.client.fallback = accepted(300);
  AgentRunner& runner = f.makeRunner();
  f.client.on_request = [&](const Request&) {
    if (f.client.requests.size() == 1)
      runner.onSystemEvent(vigil::agent::SystemEvent::kSessionLogoff);
  };
  BOOST_TEST_REQUIRE(runner.run().ok());
  const auto goodbyes = f.goodbyes();
  BOOST_TEST_REQUIRE(goodbyes.size() == 1u);
  BOOST_TEST(decode(*goodbyes[0].heartbeat).shutdown.value_or("") == "logoff");
}

BOOST_AUTO_TEST_CASE(the_outage_diary_is_delivered_with_the_first_accepted_beat) {
  Fixture f;
  f.enrolledAlready();
  vigil::testing::TempDir dir;
  vigil::agent::testing::PlainStateProtection protection;
  vigil::agent::OutageDiary diary(dir.path(), protection, f.clock);
  f.client.script = {unreachable(), unreachable(), refused(503, "overloaded", {}, 5), accepted(60),
                     accepted(60)};
  AgentRunnerDeps deps{f.client, f.system, f.system, f.identity_store,     f.sequence_store,
                       f.clock,  f.waiter, f.log,    makeUniformRandom(42)};
  deps.diary = &diary;
  f.runner =
      std::make_unique<AgentRunner>(f.config, deps, vigil::agent::BackoffOptions{}, f.timings);
  f.waiter.on_wait = [&](size_t) {
    if (f.client.requests.size() >= 5) f.runner->stop();
  };
  BOOST_TEST_REQUIRE(f.runner->run().ok());
  const auto beats = f.heartbeats();
  BOOST_TEST_REQUIRE(beats.size() >= 5u);
  const auto failed_first = decode(beats[0]);
  const auto delivered = decode(beats[3]);
  BOOST_TEST(failed_first.outages.empty());
  BOOST_TEST_REQUIRE(delivered.outages.size() == 1u);
  BOOST_TEST(delivered.outages[0].from_ms == failed_first.sent_at_ms);
  BOOST_TEST(delivered.outages[0].to_ms == delivered.sent_at_ms);
  BOOST_TEST(delivered.outages[0].cause == "connect");
  BOOST_TEST(decode(beats[4]).outages.empty());  // delivered once, then forgotten
  BOOST_TEST(diary.empty());
  BOOST_TEST(contains(f.logs(), "outage diary of 1 entry delivered"));
}

BOOST_AUTO_TEST_CASE(the_collectors_verify_directive_speeds_up_the_beats) {
  Fixture f;
  f.enrolledAlready();
  f.config.min_interval_s = 2;
  f.client.script = {[](const Request&) {
    protocol::HeartbeatResponse r{60, 0, {}, {}, {}};
    r.verify_interval_s = 5;
    r.verify_for_s = 20;
    return httpAnswer(200, protocol::encode(r));
  }};
  f.client.fallback = accepted(60);
  BOOST_TEST_REQUIRE(f.runFor(8).ok());
  const auto waits = f.waiter.waits();
  BOOST_TEST_REQUIRE(waits.size() >= 6u);
  int fast = 0;
  for (Duration w : waits) fast += secondsOf(w) <= 5.5 ? 1 : 0;
  BOOST_TEST(fast >= 3);  // 20 s of 5 s beats
  BOOST_TEST(fast <= 5);
  BOOST_TEST(secondsOf(waits.back()) >= 54.0);  // then the regular interval again
  BOOST_TEST(contains(f.logs(), "verifying (collector asked for faster beats)"));
}

BOOST_AUTO_TEST_CASE(repeated_failures_of_one_kind_are_logged_once_per_period) {
  Fixture f;
  f.enrolledAlready();
  f.timings.repeat_log_every = std::chrono::minutes(5);
  f.client.fallback = unreachable();
  BOOST_TEST_REQUIRE(f.runFor(40).ok());
  const std::string logs = f.logs();
  size_t lines = 0;
  for (size_t at = logs.find("failed: network error"); at != std::string::npos;
       at = logs.find("failed: network error", at + 1)) {
    ++lines;
  }
  // 40 failures over roughly 40 x 150 s of capped backoff: about one line per 5 minutes.
  const double minutes = secondsOf(f.clock.monotonicNow() - f.client.requests.front().at) / 60;
  BOOST_TEST(lines >= 2u);
  BOOST_TEST(lines <= static_cast<size_t>(minutes / 5) + 2, lines << " lines in " << minutes);
  BOOST_TEST(contains(logs, "similar failures not logged"));
}

BOOST_AUTO_TEST_CASE(the_first_beat_after_a_boot_is_spread_and_after_a_restart_is_not) {
  {
    Fixture f;
    f.enrolledAlready();
    f.system.boot_value.uptime_s = 30;  // the machine just booted
    f.config.start_delay_max_s = 60;
    f.client.fallback = accepted(60);
    BOOST_TEST_REQUIRE(f.runFor(1).ok());
    BOOST_TEST_REQUIRE(!f.waiter.waits().empty());
    BOOST_TEST(secondsOf(f.waiter.waits()[0]) > 0.0);
    BOOST_TEST(secondsOf(f.waiter.waits()[0]) <= 60.0);
    BOOST_TEST(contains(f.logs(), "spreads a fleet that boots together"));
  }
  {
    Fixture f;
    f.enrolledAlready();
    f.system.boot_value.uptime_s = 86400;
    f.client.fallback = accepted(60);
    BOOST_TEST_REQUIRE(f.runFor(1).ok());
    BOOST_TEST((f.client.requests[0].at == f.clock.monotonicNow() - f.waiter.waits()[0]));
  }
}

BOOST_AUTO_TEST_CASE(a_stop_right_after_a_shutdown_notice_says_system_shutdown) {
  // Windows preshutdown: the shutdown event and the stop arrive together, before the loop
  // wakes; the one goodbye must name the shutdown.
  Fixture f;
  f.enrolledAlready();
  f.client.fallback = accepted(300);
  AgentRunner& runner = f.makeRunner();
  f.client.on_request = [&](const Request&) {
    if (f.client.requests.size() == 1) {
      runner.onSystemEvent(vigil::agent::SystemEvent::kSystemShutdown);
      runner.onSystemEvent(vigil::agent::SystemEvent::kServiceStop);
    }
  };
  BOOST_TEST_REQUIRE(runner.run().ok());
  const auto goodbyes = f.goodbyes();
  BOOST_TEST_REQUIRE(goodbyes.size() == 1u);
  BOOST_TEST(decode(*goodbyes[0].heartbeat).shutdown.value_or("") == "system_shutdown");
}

// ---- One-shot commands: vigil-agent enroll and retire --------------------------------------

using Kind = vigil::agent::CommandOutcome::Kind;

BOOST_AUTO_TEST_CASE(enroll_command_enrolls_once_and_stores_the_server) {
  Fixture f;
  f.client.script = {enrolled(30)};
  const auto outcome = f.makeRunner().enrollOnce(false);
  BOOST_TEST((outcome.kind == Kind::kDone), outcome.message);
  BOOST_TEST(contains(outcome.message, "enrolled as agent ag_5f0c"));
  BOOST_TEST(!contains(outcome.message, "tok_site"));  // installers log it
  BOOST_TEST_REQUIRE(f.identity_store.stored.has_value());
  BOOST_TEST(f.identity_store.stored->server_url == "https://vigil.example.com");
  BOOST_TEST(f.client.requests.size() == 1u);  // no heartbeat
  BOOST_TEST(f.sequence_store.stores >= 1);    // the state directory was proven writable
}

BOOST_AUTO_TEST_CASE(enroll_command_changes_nothing_when_enrolled_with_the_same_server) {
  Fixture f;
  f.enrolledAlready();
  const auto outcome = f.makeRunner().enrollOnce(false);
  BOOST_TEST((outcome.kind == Kind::kDone), outcome.message);
  BOOST_TEST(contains(outcome.message, "already enrolled as agent ag_5f0c"));
  BOOST_TEST(f.client.requests.empty());
  BOOST_TEST(f.identity_store.saves == 0);
}

BOOST_AUTO_TEST_CASE(enroll_command_needs_force_to_leave_another_collector) {
  Fixture f;
  f.identity_store.stored = Identity{"ag_old", kSecret, "https://old.example.com", ""};
  auto outcome = f.makeRunner().enrollOnce(false);
  BOOST_TEST((outcome.kind == Kind::kConflict), outcome.message);
  BOOST_TEST(f.client.requests.empty());
  BOOST_TEST(f.identity_store.stored->agent_id == "ag_old");

  // With force, a failed enrollment keeps the old identity; a successful one replaces it.
  f.client.script = {unreachable(), enrolled(30)};
  outcome = f.makeRunner().enrollOnce(true);
  BOOST_TEST((outcome.kind == Kind::kUnreachable), outcome.message);
  BOOST_TEST(f.identity_store.stored->agent_id == "ag_old");
  outcome = f.makeRunner().enrollOnce(true);
  BOOST_TEST((outcome.kind == Kind::kDone), outcome.message);
  BOOST_TEST(f.identity_store.stored->agent_id == kAgentId);
  BOOST_TEST(contains(outcome.message, "replaces agent ag_old"));
}

BOOST_AUTO_TEST_CASE(enroll_command_tells_a_refused_token_from_an_unreachable_collector) {
  Fixture f;
  f.client.script = {refused(401, protocol::errors::kInvalidEnrollToken),
                     refused(503, protocol::errors::kOverloaded, {}, 30)};
  auto outcome = f.makeRunner().enrollOnce(false);
  BOOST_TEST((outcome.kind == Kind::kRefused), outcome.message);
  BOOST_TEST(contains(outcome.message, "invalid_enroll_token"));
  outcome = f.makeRunner().enrollOnce(false);
  BOOST_TEST((outcome.kind == Kind::kUnreachable), outcome.message);
  BOOST_TEST(!f.identity_store.stored.has_value());
  BOOST_TEST(f.client.requests.size() == 2u);  // one attempt each, no retry
}

BOOST_AUTO_TEST_CASE(retire_command_sends_an_uninstall_notice_and_forgets_the_identity) {
  Fixture f;
  f.enrolledAlready();
  f.client.script = {accepted(60)};
  const auto outcome = f.makeRunner().retire();
  BOOST_TEST((outcome.kind == Kind::kDone), outcome.message);
  BOOST_TEST(contains(outcome.message, "agent ag_5f0c retired"));
  BOOST_TEST(!f.identity_store.stored.has_value());
  const auto sent = f.goodbyes();
  BOOST_TEST_REQUIRE(sent.size() == 1u);
  BOOST_TEST(f.client.requests.size() == 1u);
  const protocol::Heartbeat hb = decode(*sent[0].heartbeat);
  BOOST_TEST(hb.shutdown.value() == protocol::shutdown_reasons::kUninstall);
  BOOST_TEST(protocol::verifySignature(kSecret, "POST", protocol::kHeartbeatPath,
                                       sent[0].heartbeat->timestamp_ms, sent[0].heartbeat->body,
                                       sent[0].heartbeat->signature));
}

BOOST_AUTO_TEST_CASE(retire_command_keeps_the_identity_when_the_collector_was_not_told) {
  Fixture f;
  f.enrolledAlready();
  f.client.script = {unreachable()};
  auto outcome = f.makeRunner().retire();
  BOOST_TEST((outcome.kind == Kind::kUnreachable), outcome.message);
  BOOST_TEST(contains(outcome.message, "/api/v1/agents/ag_5f0c/retire"));
  BOOST_TEST(f.identity_store.stored.has_value());

  // A stale clock is corrected and the notice sent again at once, as a heartbeat would be.
  const int64_t server_ms = toUnixMillis(f.clock.wallNow()) + 600'000;
  f.client.script = {refused(401, protocol::errors::kStaleTimestamp, server_ms), accepted(60)};
  outcome = f.makeRunner().retire();
  BOOST_TEST((outcome.kind == Kind::kDone), outcome.message);
  BOOST_TEST(f.client.requests.size() == 3u);
  BOOST_TEST(f.client.requests[2].heartbeat->timestamp_ms >= server_ms);
  BOOST_TEST(!f.identity_store.stored.has_value());
}

BOOST_AUTO_TEST_CASE(retire_command_is_done_when_the_collector_no_longer_knows_the_agent) {
  Fixture f;
  f.enrolledAlready();
  f.client.script = {refused(401, protocol::errors::kUnknownAgent)};
  auto outcome = f.makeRunner().retire();
  BOOST_TEST((outcome.kind == Kind::kDone), outcome.message);
  BOOST_TEST(contains(outcome.message, "already retired or deleted"));
  BOOST_TEST(!f.identity_store.stored.has_value());

  // Never enrolled: nothing is sent.
  outcome = f.makeRunner().retire();
  BOOST_TEST((outcome.kind == Kind::kDone), outcome.message);
  BOOST_TEST(f.client.requests.size() == 1u);
}
