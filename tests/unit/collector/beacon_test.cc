#define BOOST_TEST_MODULE collector_beacon
// The UDP beacon channel (docs/protocol.md, "UDP beacon"): BeaconService's checks on a
// simulated clock, and BeaconListener on a real loopback UDP socket.
#include <Poco/AutoPtr.h>
#include <Poco/Channel.h>
#include <Poco/Logger.h>
#include <Poco/Message.h>
#include <Poco/Net/DatagramSocket.h>
#include <Poco/Net/SocketAddress.h>
#include <Poco/Timespan.h>

#include <boost/test/unit_test.hpp>
#include <chrono>
#include <functional>
#include <mutex>
#include <optional>
#include <ostream>
#include <string>
#include <thread>
#include <vector>

#include "collector/ingest/agent_directory.h"
#include "collector/ingest/beacon_service.h"
#include "collector/listener/beacon_listener.h"
#include "collector/monitor/presence_monitor.h"
#include "common/clock.h"
#include "common/datagram.h"

using namespace std::chrono_literals;
namespace datagram = vigil::datagram;
namespace presence = vigil::collector::presence;
using vigil::SimulatedClock;
using vigil::collector::AcceptedHeartbeat;
using vigil::collector::AgentDirectory;
using vigil::collector::AgentRecord;
using vigil::collector::BeaconConfig;
using vigil::collector::BeaconDrop;
using vigil::collector::BeaconListener;
using vigil::collector::BeaconOutcome;
using vigil::collector::BeaconService;
using vigil::collector::PresenceMonitor;

namespace vigil::collector::presence {
// Boost.Test prints values of failed assertions.
inline std::ostream& operator<<(std::ostream& out, AgentStatus s) { return out << statusName(s); }
inline std::ostream& operator<<(std::ostream& out, Reason r) { return out << reasonName(r); }
}  // namespace vigil::collector::presence

namespace {

constexpr int64_t kStartMs = 1'790'000'000'000;
const std::string kSecret(64, 'a');
const std::string kOtherSecret(64, 'b');

size_t dropIndex(BeaconDrop d) { return static_cast<size_t>(d); }

presence::PresenceConfig presenceConfig() {
  presence::PresenceConfig c;
  c.heartbeat_interval = 60s;
  c.max_heartbeat_interval = 60s;
  return c;
}

struct BeaconFixture {
  BeaconFixture() : clock(vigil::fromUnixMillis(kStartMs)) {
    for (const char* id : {"ag_a", "ag_b", "ag_retired"}) {
      AgentRecord a;
      a.id = id;
      a.site_id = 1;
      a.tenant_id = 1;
      a.secret = kSecret;
      directory.add(a);
      if (a.id == "ag_retired") {
        a.retired_at_ms = kStartMs;
        directory.add(a);
        continue;
      }
      monitor.agentEnrolled(a);
    }
    service.emplace(directory, clock, BeaconConfig{}, &monitor);
  }

  int64_t nowMs() const { return vigil::toUnixMillis(clock.wallNow()); }
  std::string beacon(const std::string& id, int64_t ts, const std::string& key = kSecret) const {
    return datagram::encodeBeacon(id, ts, key);
  }
  BeaconOutcome expectDrop(const std::string& bytes, BeaconDrop reason) {
    BeaconOutcome out = service->handle(bytes);
    BOOST_TEST(out.ack.empty());
    BOOST_TEST_REQUIRE(out.drop.has_value());
    BOOST_TEST(vigil::collector::beaconDropName(*out.drop) ==
               vigil::collector::beaconDropName(reason));
    return out;
  }

  SimulatedClock clock;
  AgentDirectory directory;
  PresenceMonitor monitor{presenceConfig(), clock};
  std::optional<BeaconService> service;
};

// Polls `condition` for up to 5 s: the listener works on its own thread, on real time.
bool waitUntil(const std::function<bool()>& condition) {
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (!condition()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(10ms);
  }
  return true;
}

// Records every log message, from any thread.
class CapturingChannel : public Poco::Channel {
 public:
  void log(const Poco::Message& msg) override {
    std::lock_guard<std::mutex> lock(mu_);
    lines_.push_back(msg.getText());
  }
  std::vector<std::string> lines() {
    std::lock_guard<std::mutex> lock(mu_);
    return lines_;
  }

 private:
  std::mutex mu_;
  std::vector<std::string> lines_;
};

}  // namespace

// ---- BeaconService --------------------------------------------------------------------------

BOOST_FIXTURE_TEST_CASE(a_valid_beacon_is_accepted_and_answered_with_a_signed_ack, BeaconFixture) {
  clock.advance(2s);
  const int64_t ts = nowMs() - 300;
  BeaconOutcome out = service->handle(beacon("ag_a", ts));
  BOOST_TEST(!out.drop.has_value());
  auto ack = datagram::parseBeaconAck(out.ack);
  BOOST_REQUIRE(ack.has_value());
  BOOST_TEST(datagram::verify(*ack, kSecret));
  BOOST_TEST(!datagram::verify(*ack, kOtherSecret));
  BOOST_TEST(ack->agent_id == "ag_a");
  BOOST_TEST(ack->ts_ms == ts);
  BOOST_TEST(ack->next_beacon_s == 15);
  BOOST_TEST(service->counters().accepted == 1u);
  // The engine has it as beacon evidence: the agent is ONLINE.
  auto view = monitor.agentView("ag_a").value();
  BOOST_TEST(view.status == presence::AgentStatus::kOnline);
  const auto& beacon_view = view.indicators[static_cast<size_t>(presence::Indicator::kBeacon)];
  BOOST_TEST(beacon_view.last_seen.has_value());
  BOOST_TEST((beacon_view.expected_interval == vigil::Duration(15s)));
}

BOOST_FIXTURE_TEST_CASE(each_bad_beacon_is_dropped_without_an_ack_and_counted_by_reason,
                        BeaconFixture) {
  const int64_t now = nowMs();
  const std::string good = beacon("ag_a", now);
  expectDrop("", BeaconDrop::kMalformed);
  expectDrop("hello", BeaconDrop::kMalformed);
  expectDrop(good + "\n", BeaconDrop::kMalformed);
  expectDrop(good + std::string(600, ' '), BeaconDrop::kMalformed);
  expectDrop("VB1 ag_a 0" + good.substr(9), BeaconDrop::kMalformed);  // leading zero
  expectDrop(beacon("ag_nobody", now), BeaconDrop::kUnknownAgent);
  expectDrop(beacon("ag_retired", now), BeaconDrop::kUnknownAgent);
  expectDrop(beacon("ag_a", now, kOtherSecret), BeaconDrop::kBadSignature);
  expectDrop(beacon("ag_a", now - 300'001), BeaconDrop::kStale);
  expectDrop(beacon("ag_a", now + 300'001), BeaconDrop::kStale);
  BOOST_TEST(service->handle(good).drop.has_value() == false);
  expectDrop(good, BeaconDrop::kReplayed);                     // the same beacon again
  expectDrop(beacon("ag_a", now - 1), BeaconDrop::kReplayed);  // an older one
  BOOST_TEST(service->handle(beacon("ag_a", now + 1)).ack.size() > 0u);

  const auto counters = service->counters();
  BOOST_TEST(counters.accepted == 2u);
  BOOST_TEST(counters.dropped[dropIndex(BeaconDrop::kMalformed)] == 5u);
  BOOST_TEST(counters.dropped[dropIndex(BeaconDrop::kUnknownAgent)] == 2u);
  BOOST_TEST(counters.dropped[dropIndex(BeaconDrop::kBadSignature)] == 1u);
  BOOST_TEST(counters.dropped[dropIndex(BeaconDrop::kStale)] == 2u);
  BOOST_TEST(counters.dropped[dropIndex(BeaconDrop::kReplayed)] == 2u);
  // Dropped beacons were no evidence.
  BOOST_TEST(monitor.agentView("ag_b")->status == presence::AgentStatus::kUnknown);
}

BOOST_FIXTURE_TEST_CASE(a_beacon_at_the_skew_bound_is_accepted, BeaconFixture) {
  clock.advance(10min);  // so that 300 s ago is after the collector's start
  BOOST_TEST(!service->handle(beacon("ag_a", nowMs() + 300'000)).drop.has_value());
  BOOST_TEST(!service->handle(beacon("ag_b", nowMs() - 300'000)).drop.has_value());
}

BOOST_FIXTURE_TEST_CASE(the_first_beacon_after_a_start_must_not_predate_it, BeaconFixture) {
  // A beacon captured before the collector (re)started: without a last accepted beacon in
  // memory, the start is the replay bound (with one second of slack).
  const int64_t started = kStartMs;
  clock.advance(30s);
  expectDrop(beacon("ag_a", started - 1'001), BeaconDrop::kReplayed);
  BOOST_TEST(!service->handle(beacon("ag_b", started - 1'000)).drop.has_value());
  BOOST_TEST(!service->handle(beacon("ag_a", started + 5)).drop.has_value());
  // The bound was only for the first one; the agent's last beacon is the bound now.
  expectDrop(beacon("ag_a", started + 4), BeaconDrop::kReplayed);
}

BOOST_FIXTURE_TEST_CASE(drops_are_reported_for_logging_once_per_reason_per_period, BeaconFixture) {
  BeaconOutcome first = expectDrop("junk", BeaconDrop::kMalformed);
  BOOST_TEST(first.log_drop);
  BOOST_TEST(first.unlogged_drops == 0u);
  for (int i = 0; i < 4; ++i) {
    clock.advance(1s);
    BOOST_TEST(!expectDrop("junk", BeaconDrop::kMalformed).log_drop);
  }
  // Another reason has its own budget.
  BOOST_TEST(expectDrop(beacon("ag_nobody", nowMs()), BeaconDrop::kUnknownAgent).log_drop);
  clock.advance(6s);
  BeaconOutcome later = expectDrop("junk", BeaconDrop::kMalformed);
  BOOST_TEST(later.log_drop);
  BOOST_TEST(later.unlogged_drops == 4u);
}

BOOST_FIXTURE_TEST_CASE(beacons_keep_an_agent_online_while_its_heartbeats_are_silent,
                        BeaconFixture) {
  AcceptedHeartbeat hb;
  hb.next_interval = 60s;
  for (const char* id : {"ag_a", "ag_b"}) {
    hb.agent_id = id;
    hb.received_at = clock.monotonicNow();
    monitor.heartbeatAccepted(hb);
  }
  // Both stop their heartbeats (an HTTPS path broken by a proxy); only ag_a's beacons pass.
  for (int s = 1; s <= 300; ++s) {
    clock.advance(1s);
    if (s % 15 == 0) BOOST_TEST(service->handle(beacon("ag_a", nowMs())).ack.size() > 0u);
    monitor.tick();
  }
  BOOST_TEST(monitor.agentView("ag_a")->status == presence::AgentStatus::kOnline);
  BOOST_TEST(monitor.agentView("ag_b")->status == presence::AgentStatus::kOffline);
}

// ---- BeaconListener on a real socket ----------------------------------------------------------

BOOST_FIXTURE_TEST_CASE(the_listener_acks_a_beacon_to_its_sender_and_logs_drops_sparingly,
                        BeaconFixture) {
  Poco::AutoPtr<CapturingChannel> channel(new CapturingChannel);
  Poco::Logger& logger = Poco::Logger::get("test.beacon.listener");
  logger.setChannel(channel);
  logger.setLevel(Poco::Message::PRIO_INFORMATION);
  BeaconListener listener(*service, logger);
  BOOST_REQUIRE(listener.bind("127.0.0.1", 0).ok());
  BOOST_REQUIRE(listener.port() != 0);
  listener.start();

  Poco::Net::DatagramSocket client(Poco::Net::SocketAddress("127.0.0.1", 0));
  const Poco::Net::SocketAddress collector("127.0.0.1", listener.port());
  auto receive = [&client](std::chrono::milliseconds wait) -> std::optional<std::string> {
    if (!client.poll(Poco::Timespan(wait.count() * 1000), Poco::Net::Socket::SELECT_READ)) {
      return std::nullopt;
    }
    char buffer[1024];
    Poco::Net::SocketAddress from;
    const int n = client.receiveFrom(buffer, sizeof(buffer), from);
    return std::string(buffer, static_cast<size_t>(n));
  };

  const std::string good = beacon("ag_a", nowMs());
  client.sendTo(good.data(), static_cast<int>(good.size()), collector);
  auto ack_bytes = receive(5000ms);
  BOOST_REQUIRE_MESSAGE(ack_bytes.has_value(), "no ack for a valid beacon");
  auto ack = datagram::parseBeaconAck(*ack_bytes);
  BOOST_REQUIRE(ack.has_value());
  BOOST_TEST(datagram::verify(*ack, kSecret));
  BOOST_TEST(ack_bytes->size() <= datagram::kMaxDatagramBytes);

  // Twenty bad datagrams, one of them oversized: no answer, one log line per reason.
  const std::string oversized(2000, 'x');
  client.sendTo(oversized.data(), static_cast<int>(oversized.size()), collector);
  for (int i = 0; i < 19; ++i) client.sendTo(good.data(), static_cast<int>(good.size()), collector);
  BOOST_TEST(!receive(500ms).has_value());
  BOOST_REQUIRE(waitUntil([&] {
    const auto c = service->counters();
    return c.dropped[dropIndex(BeaconDrop::kMalformed)] == 1u &&
           c.dropped[dropIndex(BeaconDrop::kReplayed)] == 19u;
  }));
  BOOST_TEST(service->counters().accepted == 1u);
  size_t drop_lines = 0;
  for (const std::string& line : channel->lines()) {
    if (line.find("beacon dropped") != std::string::npos) ++drop_lines;
  }
  BOOST_TEST(drop_lines == 2u);  // one malformed, one replayed

  const auto before_stop = std::chrono::steady_clock::now();
  listener.stop();
  BOOST_TEST((std::chrono::steady_clock::now() - before_stop < 2s));
}

BOOST_FIXTURE_TEST_CASE(a_udp_port_held_by_another_socket_cannot_be_bound, BeaconFixture) {
  Poco::Logger& logger = Poco::Logger::get("test.beacon.taken");
  BeaconListener first(*service, logger);
  BOOST_REQUIRE(first.bind("127.0.0.1", 0).ok());
  BeaconListener second(*service, logger);
  vigil::Status taken = second.bind("127.0.0.1", first.port());
  BOOST_TEST(!taken.ok());
  BOOST_TEST((taken.code() == vigil::StatusCode::kUnavailable));
  BOOST_TEST(taken.message().find(std::to_string(first.port())) != std::string::npos);
}

namespace {

// A client socket on loopback that reads what the listener sent it.
struct BeaconClient {
  Poco::Net::DatagramSocket socket{Poco::Net::SocketAddress("127.0.0.1", 0)};

  void send(const std::string& bytes, const Poco::Net::SocketAddress& to) {
    socket.sendTo(bytes.data(), static_cast<int>(bytes.size()), to);
  }
  // Every datagram that arrives until none came for `quiet`.
  std::vector<std::string> receiveAll(std::chrono::milliseconds quiet) {
    std::vector<std::string> out;
    while (socket.poll(Poco::Timespan(quiet.count() * 1000), Poco::Net::Socket::SELECT_READ)) {
      char buffer[1024];
      Poco::Net::SocketAddress from;
      const int n = socket.receiveFrom(buffer, sizeof(buffer), from);
      out.emplace_back(buffer, static_cast<size_t>(n));
    }
    return out;
  }
};

}  // namespace

BOOST_FIXTURE_TEST_CASE(a_mixed_batch_is_answered_with_exactly_the_right_acks_to_their_senders,
                        BeaconFixture) {
  Poco::Logger& logger = Poco::Logger::get("test.beacon.batch");
  BeaconListener listener(*service, logger);
  BOOST_REQUIRE(listener.bind("127.0.0.1", 0).ok());
  const Poco::Net::SocketAddress collector("127.0.0.1", listener.port());
  BeaconClient a;
  BeaconClient b;
  BeaconClient c;
  const int64_t now = nowMs();
  // Queued before the thread starts, so one recvmmsg reads them all as one batch.
  a.send(beacon("ag_a", now), collector);                // accepted: ack to a
  b.send(beacon("ag_b", now, kOtherSecret), collector);  // forged
  c.send(beacon("ag_b", now + 1), collector);            // accepted: ack to c
  a.send(beacon("ag_a", now), collector);                // replayed
  b.send(std::string(2000, 'x'), collector);             // oversized
  c.send(beacon("ag_nobody", now), collector);           // unknown agent
  b.send(beacon("ag_a", now + 5), collector);            // accepted: ack to b
  a.send("junk", collector);                             // malformed
  c.send(beacon("ag_retired", now), collector);          // retired: unknown agent
  listener.start();

  BOOST_REQUIRE(waitUntil([&] {
    const auto counters = service->counters();
    uint64_t seen = counters.accepted;
    for (uint64_t d : counters.dropped) seen += d;
    return seen == 9u;
  }));
  auto expect_one_ack = [](BeaconClient& client, const std::string& agent, int64_t ts) {
    const std::vector<std::string> got = client.receiveAll(300ms);
    BOOST_TEST_REQUIRE(got.size() == 1u);
    auto ack = datagram::parseBeaconAck(got[0]);
    BOOST_REQUIRE(ack.has_value());
    BOOST_TEST(datagram::verify(*ack, kSecret));
    BOOST_TEST(ack->agent_id == agent);
    BOOST_TEST(ack->ts_ms == ts);
  };
  expect_one_ack(a, "ag_a", now);
  expect_one_ack(b, "ag_a", now + 5);
  expect_one_ack(c, "ag_b", now + 1);

  const auto counters = service->counters();
  BOOST_TEST(counters.accepted == 3u);
  BOOST_TEST(counters.dropped[dropIndex(BeaconDrop::kMalformed)] == 2u);
  BOOST_TEST(counters.dropped[dropIndex(BeaconDrop::kUnknownAgent)] == 2u);
  BOOST_TEST(counters.dropped[dropIndex(BeaconDrop::kBadSignature)] == 1u);
  BOOST_TEST(counters.dropped[dropIndex(BeaconDrop::kStale)] == 0u);
  BOOST_TEST(counters.dropped[dropIndex(BeaconDrop::kReplayed)] == 1u);
}

BOOST_FIXTURE_TEST_CASE(a_queue_longer_than_a_batch_is_answered_in_order, BeaconFixture) {
  Poco::Logger& logger = Poco::Logger::get("test.beacon.queue");
  BeaconListener listener(*service, logger);
  BOOST_REQUIRE(listener.bind("127.0.0.1", 0).ok());
  const Poco::Net::SocketAddress collector("127.0.0.1", listener.port());
  BeaconClient client;
  const int64_t now = nowMs();
  const size_t count = 3 * BeaconListener::kBatchSize + 5;
  for (size_t i = 0; i < count; ++i) client.send(beacon("ag_a", now + int64_t(i)), collector);
  listener.start();

  std::vector<std::string> acks;
  BOOST_REQUIRE(waitUntil([&] {
    for (std::string& ack : client.receiveAll(50ms)) acks.push_back(std::move(ack));
    return acks.size() >= count;
  }));
  BOOST_TEST(acks.size() == count);
  for (size_t i = 0; i < acks.size(); ++i) {
    auto ack = datagram::parseBeaconAck(acks[i]);
    BOOST_REQUIRE(ack.has_value());
    BOOST_TEST(ack->ts_ms == now + int64_t(i));
  }
  BOOST_TEST(service->counters().accepted == count);
}

BOOST_FIXTURE_TEST_CASE(beacons_the_kernel_dropped_on_a_full_queue_are_counted, BeaconFixture) {
  Poco::Logger& logger = Poco::Logger::get("test.beacon.overflow");
  BeaconListener listener(*service, logger);
  BOOST_REQUIRE(listener.bind("127.0.0.1", 0).ok());
  const Poco::Net::SocketAddress collector("127.0.0.1", listener.port());
  BeaconClient client;
  // Far more than the receive queue holds (at most 2 x kReceiveBufferBytes, over 500 bytes of
  // kernel memory each) while nothing reads it: on loopback the rest is dropped, none lost
  // elsewhere.
  const uint64_t sent = 2 * 2 * BeaconListener::kReceiveBufferBytes / 500 + 1000;
  for (uint64_t i = 0; i < sent; ++i) client.send("junk", collector);
  listener.start();
  BOOST_REQUIRE(waitUntil([&] { return listener.receiveStats().read > 0; }));
  // The kernel reports its count with a datagram queued after the drops.
  BOOST_REQUIRE(waitUntil([&] {
    client.send("junk", collector);
    const BeaconListener::ReceiveStats s = listener.receiveStats();
    return s.overflowed > 0 && s.read + s.overflowed >= sent;
  }));
  const BeaconListener::ReceiveStats s = listener.receiveStats();
  BOOST_TEST(s.overflowed > 0u);
  BOOST_TEST(s.read > 0u);
  BOOST_TEST(s.overflowed < sent);
  // Every datagram read is judged, the last ones (sent while waiting above) a moment later.
  BOOST_TEST(waitUntil([&] {
    return service->counters().dropped[dropIndex(BeaconDrop::kMalformed)] ==
           listener.receiveStats().read;
  }));
}

BOOST_FIXTURE_TEST_CASE(check_reuses_one_workspace_across_agents_and_keys, BeaconFixture) {
  // The allocation-free form gives what handle() gives, datagram after datagram.
  vigil::collector::BeaconWorkspace workspace;
  datagram::DatagramBuffer ack;
  const int64_t now = nowMs();
  // The verdict's agent id is a view into the datagram: keep it alive.
  const std::string from_a = beacon("ag_a", now);
  auto verdict = service->check(from_a, workspace, &ack);
  BOOST_TEST(!verdict.drop.has_value());
  BOOST_TEST(verdict.agent_id == "ag_a");
  BOOST_TEST(std::string(ack.data(), verdict.ack_size) ==
             datagram::encodeBeaconAck("ag_a", now, 15, kSecret));
  verdict = service->check(beacon("ag_b", now, kOtherSecret), workspace, &ack);
  BOOST_TEST((verdict.drop == BeaconDrop::kBadSignature));
  BOOST_TEST(verdict.ack_size == 0u);
  verdict = service->check(beacon("ag_b", now), workspace, &ack);
  BOOST_TEST(!verdict.drop.has_value());
  BOOST_TEST(std::string(ack.data(), verdict.ack_size) ==
             datagram::encodeBeaconAck("ag_b", now, 15, kSecret));
  const std::string from_nobody = beacon("ag_nobody", now);
  verdict = service->check(from_nobody, workspace, &ack);
  BOOST_TEST((verdict.drop == BeaconDrop::kUnknownAgent));
  BOOST_TEST(verdict.agent_id == "ag_nobody");
}
