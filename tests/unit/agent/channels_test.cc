#define BOOST_TEST_MODULE agent_channels
#include <boost/test/unit_test.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "agent/core/beacon_channel.h"
#include "agent/core/peer_witness.h"
#include "common/datagram.h"
#include "tests/unit/agent/test_support.h"

using namespace std::chrono_literals;
using vigil::Duration;
using vigil::SimulatedClock;
using vigil::toUnixMillis;
using vigil::agent::BeaconChannel;
using vigil::agent::BeaconTarget;
using vigil::agent::Datagram;
using vigil::agent::Logger;
using vigil::agent::LogLevel;
using vigil::agent::makeUniformRandom;
using vigil::agent::PeerWitness;
using vigil::agent::PeerWitnessOptions;
namespace datagram = vigil::datagram;

namespace {

const std::string kSecret(64, 'a');
const std::string kPeerKey(64, 'b');
constexpr Duration kPrompt = 200ms;  // a heartbeat answered in good time

BeaconTarget target() {
  BeaconTarget t;
  t.host = "127.0.0.1";
  t.port = 8471;
  t.interval = 15s;
  t.agent_id = "ag_1";
  t.secret = kSecret;
  return t;
}

struct BeaconFixture {
  SimulatedClock clock;
  std::ostringstream log_text;
  Logger log{clock, log_text, LogLevel::kDebug};
  BeaconChannel channel{target(), clock, makeUniformRandom(5), log};

  // Sends the due beacon and returns it parsed.
  datagram::Beacon send() {
    auto out = channel.takeDue();
    BOOST_TEST_REQUIRE(out.size() == 1u);
    BOOST_TEST(out[0].host == "127.0.0.1");
    BOOST_TEST(out[0].port == 8471);
    auto beacon = datagram::parseBeacon(out[0].bytes);
    BOOST_TEST_REQUIRE(beacon.has_value());
    BOOST_TEST(datagram::verify(*beacon, kSecret));
    return *beacon;
  }
  void ack(const datagram::Beacon& b, const std::string& key = kSecret) {
    channel.onDatagram(
        Datagram{datagram::encodeBeaconAck(b.agent_id, b.ts_ms, 15, key), "127.0.0.1", 8471});
  }
  void advanceToDue() { clock.advance(*channel.nextDue() - clock.monotonicNow()); }
  // Sends `count` beacons that get no ack, each at its due time.
  void sendUnanswered(int count) {
    for (int i = 0; i < count; ++i) {
      send();
      advanceToDue();
    }
  }
  // The same, with a heartbeat accepted promptly after the first of them (the collector
  // answers HTTPS while the beacons go unanswered).
  void sendUnansweredBesidePromptHeartbeats(int count) {
    for (int i = 0; i < count; ++i) {
      send();
      advanceToDue();
      if (i == 0) BOOST_TEST(!channel.noteHeartbeat(true, kPrompt));
    }
  }
};

bool contains(const std::string& text, const std::string& what) {
  return text.find(what) != std::string::npos;
}

size_t countOf(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

}  // namespace

BOOST_AUTO_TEST_CASE(beacons_are_signed_and_spaced_by_the_interval_with_jitter) {
  BeaconFixture f;
  datagram::Beacon first = f.send();
  BOOST_TEST(first.agent_id == "ag_1");
  BOOST_TEST(f.channel.takeDue().empty());  // not due again yet
  const Duration gap = *f.channel.nextDue() - f.clock.monotonicNow();
  BOOST_TEST((gap >= 13500ms && gap <= 16500ms));
  f.ack(first);
  f.advanceToDue();
  datagram::Beacon second = f.send();
  BOOST_TEST(second.ts_ms > first.ts_ms);
  BOOST_TEST(f.channel.stats().acked == 1u);
  BOOST_TEST(f.channel.stats().sent == 2u);
}

BOOST_AUTO_TEST_CASE(acks_that_are_forged_or_for_another_beacon_are_ignored) {
  BeaconFixture f;
  datagram::Beacon b = f.send();
  f.ack(b, std::string(64, 'c'));  // wrong key
  datagram::Beacon other = b;
  other.ts_ms -= 1;
  f.ack(other);  // not the beacon awaiting an ack
  f.channel.onDatagram(Datagram{"VA1 garbage", "127.0.0.1", 1});
  BOOST_TEST(f.channel.stats().bad_acks == 3u);
  BOOST_TEST(f.channel.stats().acked == 0u);
  f.ack(b);
  BOOST_TEST(f.channel.stats().acked == 1u);
}

BOOST_AUTO_TEST_CASE(unacknowledged_beacons_pause_the_channel_and_it_retries_later) {
  BeaconFixture f;
  f.sendUnansweredBesidePromptHeartbeats(5);
  // The sixth due time finds five beacons without an ack, and a heartbeat sent after the first
  // of them was accepted promptly: UDP is suspect, pause 10 minutes.
  BOOST_TEST(f.channel.takeDue().empty());
  BOOST_TEST(f.channel.stats().paused);
  BOOST_TEST(f.channel.stats().pauses == 1u);
  BOOST_TEST(std::string(f.channel.beaconState()) == "paused");  // said in the next heartbeat
  const Duration pause = *f.channel.nextDue() - f.clock.monotonicNow();
  BOOST_TEST((pause == std::chrono::duration_cast<Duration>(10min)));
  // It tries again; still nothing: the next pause is twice as long.
  f.advanceToDue();
  f.sendUnansweredBesidePromptHeartbeats(5);
  BOOST_TEST(f.channel.takeDue().empty());
  BOOST_TEST((*f.channel.nextDue() - f.clock.monotonicNow() ==
              std::chrono::duration_cast<Duration>(20min)));
  // One ack resets everything.
  f.advanceToDue();
  f.ack(f.send());
  BOOST_TEST(!f.channel.stats().paused);
  BOOST_TEST(f.channel.noteHeartbeat(true, kPrompt) == false);
  for (int i = 0; i < 4; ++i) {
    f.advanceToDue();
    f.send();
  }
  f.advanceToDue();
  BOOST_TEST(f.channel.takeDue().size() == 1u);  // 4 unacked: not paused yet
}

struct RecordingSink : vigil::agent::SystemEventSink {
  void onSystemEvent(vigil::agent::SystemEvent event) override { events.push_back(event); }
  std::vector<vigil::agent::SystemEvent> events;
};

// The beacon fallback (docs/protocol.md): a beacon without an ack after 2 s asks the heartbeat
// loop, once, for a heartbeat; the heartbeat says "unanswered" until an ack comes.
BOOST_AUTO_TEST_CASE(an_unanswered_beacon_asks_once_for_a_fallback_heartbeat) {
  BeaconFixture f;
  RecordingSink sink;
  f.channel.setFallback(&sink);
  BOOST_TEST(std::string(f.channel.beaconState()) == "unanswered");  // none acknowledged yet
  f.ack(f.send());
  BOOST_TEST(std::string(f.channel.beaconState()) == "acked");
  BOOST_TEST((*f.channel.nextDue() - f.clock.monotonicNow() > 2s));  // no fallback pending
  f.advanceToDue();
  const datagram::Beacon lost = f.send();
  BOOST_TEST((*f.channel.nextDue() - f.clock.monotonicNow() == 2s));
  f.clock.advance(1999ms);
  BOOST_TEST(f.channel.takeDue().empty());
  BOOST_TEST(sink.events.empty());
  BOOST_TEST(std::string(f.channel.beaconState()) == "acked");  // still within its ack wait
  f.clock.advance(1ms);
  BOOST_TEST(f.channel.takeDue().empty());  // the fallback, not a beacon
  BOOST_TEST_REQUIRE(sink.events.size() == 1u);
  BOOST_TEST((sink.events[0] == vigil::agent::SystemEvent::kBeaconUnanswered));
  BOOST_TEST(std::string(f.channel.beaconState()) == "unanswered");
  BOOST_TEST(f.channel.stats().fallbacks == 1u);
  // Once per beacon: the next wake-up is the next beacon's due time.
  BOOST_TEST((*f.channel.nextDue() - f.clock.monotonicNow() > 2s));
  f.channel.takeDue();
  BOOST_TEST(sink.events.size() == 1u);
  // A late ack shows the path works again.
  f.ack(lost);
  BOOST_TEST(std::string(f.channel.beaconState()) == "acked");
  // Without a sink (the fallback off) nothing is asked.
  BeaconFixture plain;
  plain.send();
  plain.clock.advance(3s);
  plain.channel.takeDue();
  BOOST_TEST(plain.channel.stats().fallbacks == 0u);
}

// Pausing ends the fallback's promise: the collector hears so at once, in a heartbeat that
// says "paused" (without it, it would wait one beacon interval for evidence that never comes).
BOOST_AUTO_TEST_CASE(pausing_the_beacons_asks_for_a_heartbeat_that_says_so) {
  BeaconFixture f;
  RecordingSink sink;
  f.channel.setFallback(&sink);
  for (int i = 0; i < 5; ++i) {
    f.send();
    f.clock.advance(2s);
    BOOST_TEST(f.channel.takeDue().empty());  // this beacon's fallback
    f.advanceToDue();
    if (i == 0) BOOST_TEST(!f.channel.noteHeartbeat(true, kPrompt));
  }
  BOOST_TEST(sink.events.size() == 5u);
  BOOST_TEST(f.channel.takeDue().empty());  // the sixth due time pauses the channel
  BOOST_TEST(f.channel.stats().paused);
  BOOST_TEST(sink.events.size() == 6u);
  BOOST_TEST(std::string(f.channel.beaconState()) == "paused");
}

// The log says what the agent knows: heartbeats were accepted promptly while these beacons got
// no answer, so the path to the beacon port is suspect.
BOOST_AUTO_TEST_CASE(beacons_unanswered_while_heartbeats_are_accepted_log_that_udp_may_be_blocked) {
  BeaconFixture f;
  f.sendUnansweredBesidePromptHeartbeats(5);
  BOOST_TEST(f.channel.takeDue().empty());
  const std::string log = f.log_text.str();
  BOOST_TEST(contains(log, "WARN beacon: no ack for 5 beacons from udp 127.0.0.1:8471 over "));
  BOOST_TEST(contains(log,
                      " although heartbeats are accepted promptly (the last one answered 0.2 s "
                      "after it was due): UDP may be blocked on the path; pausing beacons for "
                      "10 min"));
  BOOST_TEST(!contains(log, "UDP blocked?"));
  BOOST_TEST(!contains(log, "collector is unreachable"));
}

// A collector that is down (frozen, restarting) answers neither heartbeats nor beacons: that
// is no sign that UDP is blocked, and the beacons must come back with the heartbeats, not ten
// minutes later (the incident lab's collector-sigstop scenario).
BOOST_AUTO_TEST_CASE(beacons_lost_while_heartbeats_fail_do_not_pause_the_channel) {
  BeaconFixture f;
  BOOST_TEST(!f.channel.noteHeartbeat(false, kPrompt));
  f.sendUnanswered(12);
  BOOST_TEST(!f.channel.stats().paused);
  BOOST_TEST(!f.channel.noteHeartbeat(true, kPrompt));  // nothing to resume
}

// The log says so, once, with what the heartbeat got: the collector is unreachable or not
// answering, which says nothing about UDP.
BOOST_AUTO_TEST_CASE(
    beacons_unanswered_while_heartbeats_fail_log_that_the_collector_is_not_answering) {
  BeaconFixture f;
  f.send();
  f.advanceToDue();
  BOOST_TEST(!f.channel.noteHeartbeat(false, 30s, "HTTP 503 overloaded: shed"));
  f.sendUnanswered(12);
  const std::string log = f.log_text.str();
  BOOST_TEST(countOf(log, "beacon: no ack") == 1u);
  BOOST_TEST(contains(log,
                      "INFO beacon: no ack for 5 beacons from udp 127.0.0.1:8471 while heartbeats "
                      "are also failing (HTTP 503 overloaded: shed): the collector is unreachable "
                      "or not answering, which says nothing about UDP; beacons go on"));
  BOOST_TEST(!contains(log, "UDP may be blocked"));
  // Heartbeats answered late say the same of a struggling collector.
  BOOST_TEST(!f.channel.noteHeartbeat(true, kPrompt));
  BOOST_TEST(!f.channel.noteHeartbeat(true, 12s));
  f.sendUnanswered(6);
  BOOST_TEST(contains(f.log_text.str(),
                      "while heartbeats are also answered late (the last one 12.0 s after it was "
                      "due): the collector is unreachable or not answering"));
  BOOST_TEST(!f.channel.stats().paused);
}

// A collector starved of CPU or working off a backlog accepts heartbeats late and drops
// beacons from its full socket buffer: its own trouble, not UDP's (the incident lab's
// cpu-starvation scenario).
BOOST_AUTO_TEST_CASE(beacons_lost_while_heartbeats_are_answered_late_do_not_pause_the_channel) {
  BeaconFixture f;
  BOOST_TEST(!f.channel.noteHeartbeat(true, 6s));  // accepted, but 6 s after it was due
  f.sendUnanswered(12);
  BOOST_TEST(!f.channel.stats().paused);
  // Answered promptly again: now five unanswered beacons (the last one sent in doubt and
  // four more) do say UDP is blocked.
  BOOST_TEST(!f.channel.noteHeartbeat(true, 5s));
  f.sendUnanswered(4);
  BOOST_TEST(f.channel.takeDue().empty());
  BOOST_TEST(f.channel.stats().paused);
}

// A collector frozen (SIGSTOP) right after a prompt heartbeat: the beacons go unanswered while
// the next heartbeat waits for its answer. Nothing answered since says whether UDP is blocked,
// so the channel goes on until a heartbeat tells; the late answer after the thaw says the
// collector was not answering, and nobody was told UDP was blocked.
BOOST_AUTO_TEST_CASE(beacons_unanswered_since_the_last_heartbeat_answer_do_not_pause_the_channel) {
  BeaconFixture f;
  BOOST_TEST(!f.channel.noteHeartbeat(true, kPrompt));
  f.sendUnanswered(8);
  BOOST_TEST(f.channel.takeDue().size() == 1u);
  BOOST_TEST(!f.channel.stats().paused);
  BOOST_TEST(contains(f.log_text.str(),
                      "DEBUG beacon: no ack for 5 beacons from udp 127.0.0.1:8471 and no heartbeat "
                      "sent since the first of them has been answered"));
  BOOST_TEST(!f.channel.noteHeartbeat(true, 40s));  // the heartbeat held by the frozen collector
  f.advanceToDue();
  BOOST_TEST(f.channel.takeDue().size() == 1u);
  BOOST_TEST(!f.channel.noteHeartbeat(true, kPrompt));
  BOOST_TEST(!f.channel.stats().paused);
  BOOST_TEST(!contains(f.log_text.str(), "UDP may be blocked"));
}

// An authentic ack that comes after the next beacon went out (a collector working off a
// backlog) shows the path carries beacons and acks: it resets the count like a prompt one.
BOOST_AUTO_TEST_CASE(late_acks_show_that_udp_works_and_reset_the_count) {
  BeaconFixture f;
  for (int i = 0; i < 20; ++i) {
    const datagram::Beacon b = f.send();
    f.advanceToDue();
    if (i == 1) BOOST_TEST(!f.channel.noteHeartbeat(true, kPrompt));
    f.send();
    f.ack(b);  // the ack of the beacon before the newest one
    f.advanceToDue();
  }
  BOOST_TEST(!f.channel.stats().paused);
  BOOST_TEST(f.channel.stats().late_acks == 20u);
  BOOST_TEST(f.channel.stats().bad_acks == 0u);
  // The same ack again is a replay, not news.
  const datagram::Beacon b = f.send();
  f.ack(b);
  f.ack(b);
  BOOST_TEST(f.channel.stats().bad_acks == 1u);
}

// The heartbeat in flight when the collector froze is answered after the thaw, late: a pause
// taken before that (heartbeats had been prompt while beacons went unanswered) ends with the
// next prompt answer.
BOOST_AUTO_TEST_CASE(a_pause_taken_before_a_late_answer_ends_with_the_next_prompt_one) {
  BeaconFixture f;
  f.sendUnansweredBesidePromptHeartbeats(5);
  BOOST_TEST(f.channel.takeDue().empty());
  BOOST_TEST(f.channel.stats().paused);
  BOOST_TEST(!f.channel.noteHeartbeat(true, 40s));
  BOOST_TEST(f.channel.stats().paused);
  BOOST_TEST(f.channel.noteHeartbeat(true, kPrompt));
  BOOST_TEST(!f.channel.stats().paused);
}

BOOST_AUTO_TEST_CASE(a_pause_ends_when_heartbeats_are_accepted_again_after_failing) {
  BeaconFixture f;
  // Heartbeats fine, beacons unanswered: UDP looks blocked, the channel pauses.
  f.sendUnansweredBesidePromptHeartbeats(5);
  BOOST_TEST(f.channel.takeDue().empty());
  BOOST_TEST(f.channel.stats().paused);
  // Accepted heartbeats alone do not undo that inference ...
  BOOST_TEST(!f.channel.noteHeartbeat(true, kPrompt));
  BOOST_TEST(f.channel.stats().paused);
  // ... but heartbeats failing, then accepted again, show the collector was down: resume now.
  BOOST_TEST(!f.channel.noteHeartbeat(false, kPrompt));
  BOOST_TEST(f.channel.noteHeartbeat(true, kPrompt));
  BOOST_TEST(!f.channel.stats().paused);
  BOOST_TEST((*f.channel.nextDue() == f.clock.monotonicNow()));
  f.send();
  BOOST_TEST(f.log_text.str().find("beacons resumed") != std::string::npos);
}

// Issue 16: an agent whose wall clock runs 10 minutes ahead sends its first beacon before its
// first heartbeat is refused as stale_timestamp. From the correction on, beacons carry the
// corrected clock, although the first one carried a later timestamp; the beacon stamped with
// the old clock does not count towards a pause, and the log says why it got no ack.
BOOST_AUTO_TEST_CASE(after_a_clock_correction_the_next_beacon_carries_the_corrected_clock) {
  BeaconFixture f;
  const datagram::Beacon before = f.send();
  BOOST_TEST(before.ts_ms == toUnixMillis(f.clock.wallNow()));
  f.channel.setClockOffset(-600'000ms);
  BOOST_TEST(contains(f.log_text.str(),
                      "INFO beacon: clock offset now -600.000 s; 1 beacon stamped with the "
                      "previous clock got no ack (the collector drops beacons that far off its "
                      "clock as stale"));
  f.advanceToDue();
  const datagram::Beacon after = f.send();
  BOOST_TEST(after.ts_ms == toUnixMillis(f.clock.wallNow()) - 600'000);
  f.ack(after);
  BOOST_TEST(f.channel.stats().acked == 1u);
  // The same offset again changes nothing: no line, timestamps keep increasing.
  f.channel.setClockOffset(-600'000ms);
  f.advanceToDue();
  BOOST_TEST(f.send().ts_ms == toUnixMillis(f.clock.wallNow()) - 600'000);
  BOOST_TEST(countOf(f.log_text.str(), "clock offset now") == 1u);
}

namespace {

struct Peer {
  SimulatedClock& clock;
  PeerWitness witness;
  Peer(SimulatedClock& c, const std::string& id, const std::string& key = kPeerKey)
      : clock(c),
        witness(
            id, key, c, makeUniformRandom(id.size()),
            [] {
              return std::vector<std::string>{"192.168.1.255", "10.0.0.255"};
            },
            PeerWitnessOptions{}) {}
  std::string announce() {
    auto out = witness.takeDue();
    BOOST_TEST_REQUIRE(out.size() == 2u);  // one per broadcast address
    BOOST_TEST(out[0].port == 47474);
    return out[0].bytes;
  }
};

}  // namespace

BOOST_AUTO_TEST_CASE(peers_of_a_site_hear_each_other_and_report_once) {
  SimulatedClock clock;
  Peer a(clock, "ag_a"), b(clock, "ag_b");
  const std::string from_a = a.announce();
  b.witness.onDatagram(Datagram{from_a, "192.168.1.10", 47474});
  auto seen = b.witness.sightings();
  BOOST_TEST_REQUIRE(seen.size() == 1u);
  BOOST_TEST(seen[0].agent_id == "ag_a");
  BOOST_TEST(seen[0].heard_at_ms == toUnixMillis(clock.wallNow()));
  // Reported in an accepted heartbeat: forgotten until heard again.
  b.witness.reported(seen);
  BOOST_TEST(b.witness.sightings().empty());
  // Replaying the same announcement is refused.
  b.witness.onDatagram(Datagram{from_a, "192.168.1.66", 47474});
  BOOST_TEST(b.witness.sightings().empty());
  BOOST_TEST(b.witness.stats().refused == 1u);
  // A's own broadcast coming back to A is not a sighting.
  a.witness.onDatagram(Datagram{from_a, "192.168.1.10", 47474});
  BOOST_TEST(a.witness.sightings().empty());
  // The next announcement is heard again.
  clock.advance(40s);
  b.witness.onDatagram(Datagram{a.announce(), "192.168.1.10", 47474});
  BOOST_TEST(b.witness.sightings().size() == 1u);
}

BOOST_AUTO_TEST_CASE(announcements_of_other_sites_forged_or_stale_are_refused) {
  SimulatedClock clock;
  Peer a(clock, "ag_a"), b(clock, "ag_b"), stranger(clock, "ag_x", std::string(64, 'e'));
  b.witness.onDatagram(Datagram{stranger.announce(), "192.168.1.9", 47474});  // another key
  const std::string key_id = datagram::peerKeyId(kPeerKey);
  const int64_t now_ms = toUnixMillis(clock.wallNow());
  // Right key id, wrong key: forged.
  b.witness.onDatagram(Datagram{
      datagram::encodePeerAnnouncement(key_id, "ag_f", now_ms, std::string(64, 'e')), "x", 1});
  // Right key, but 10 minutes old.
  b.witness.onDatagram(Datagram{
      datagram::encodePeerAnnouncement(key_id, "ag_old", now_ms - 600000, kPeerKey), "x", 1});
  b.witness.onDatagram(Datagram{"not a datagram", "x", 1});
  BOOST_TEST(b.witness.sightings().empty());
  BOOST_TEST(b.witness.stats().refused == 4u);
}

BOOST_AUTO_TEST_CASE(sightings_are_bounded_to_the_most_recent) {
  SimulatedClock clock;
  Peer b(clock, "ag_b");
  const std::string key_id = datagram::peerKeyId(kPeerKey);
  for (int i = 0; i < 100; ++i) {
    clock.advance(10ms);
    b.witness.onDatagram(
        Datagram{datagram::encodePeerAnnouncement(key_id, "ag_" + std::to_string(i),
                                                  toUnixMillis(clock.wallNow()), kPeerKey),
                 "x", 1});
  }
  auto seen = b.witness.sightings();
  BOOST_TEST(seen.size() == vigil::protocol::kMaxPeerSightings);
  BOOST_TEST(seen.front().agent_id == "ag_99");
}

// Issue 16: announcements follow a clock correction at once, as beacons do. Agent A's wall
// clock runs 10 minutes ahead: B, whose clock is right, refuses A's first announcement as
// stale, and hears the very next one, stamped with A's corrected clock although the first one
// carried a later timestamp.
BOOST_AUTO_TEST_CASE(after_a_clock_correction_the_next_announcement_carries_the_corrected_clock) {
  SimulatedClock right_clock;
  SimulatedClock ahead_clock(right_clock.wallNow() + 10min);
  Peer a(ahead_clock, "ag_a"), b(right_clock, "ag_b");
  b.witness.onDatagram(Datagram{a.announce(), "192.168.1.10", 47474});
  BOOST_TEST(b.witness.stats().refused == 1u);
  a.witness.setClockOffset(-600'000ms);  // learnt from a stale_timestamp answer
  right_clock.advance(40s);
  ahead_clock.advance(40s);
  const std::string corrected = a.announce();
  auto parsed = datagram::parsePeerAnnouncement(corrected);
  BOOST_TEST_REQUIRE(parsed.has_value());
  BOOST_TEST(parsed->ts_ms == toUnixMillis(right_clock.wallNow()));
  b.witness.onDatagram(Datagram{corrected, "192.168.1.10", 47474});
  BOOST_TEST(b.witness.sightings().size() == 1u);
  // A judges what it hears by its corrected clock too.
  a.witness.onDatagram(Datagram{b.announce(), "192.168.1.11", 47474});
  BOOST_TEST(a.witness.sightings().size() == 1u);
}
