// Fuzz target: what the agent reads from the network besides HTTP answers: beacon acks from
// the collector's UDP port and LAN peer announcements from anyone on the LAN
// (docs/protocol.md, "UDP beacon", "LAN peer witness"). The first input byte picks the
// receiver (bit 0) and whether the rest is the raw datagram (bit 1 clear) or a correctly
// signed announcement/ack built from fuzzed fields (bit 1 set), so accept and replay paths
// are reached too.
// Invariants: no crash; every datagram is counted exactly once (accepted or refused); an
// ack is accepted only for the beacon awaiting it; sightings stay within the protocol bound
// and never name the receiving agent itself.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <sstream>
#include <string>

#include "agent/core/beacon_channel.h"
#include "agent/core/logger.h"
#include "agent/core/peer_witness.h"
#include "common/clock.h"
#include "common/datagram.h"

namespace {

using namespace vigil;
using namespace vigil::agent;

const std::string kSecret(64, '7');
const std::string kPeerKey(64, '8');
constexpr char kSelf[] = "ag_self";

void check(bool condition) {
  if (!condition) std::abort();
}

struct World {
  SimulatedClock clock{fromUnixMillis(1'790'000'000'000)};
  std::ostringstream log_text;
  Logger log{clock, log_text, LogLevel::kError};
  BeaconChannel beacon{BeaconTarget{"127.0.0.1", 8471, std::chrono::seconds(15), kSelf, kSecret},
                       clock, makeUniformRandom(1), log};
  PeerWitness peers{kSelf, kPeerKey, clock, makeUniformRandom(2),
                    [] { return std::vector<std::string>{"127.255.255.255"}; }};
};

int64_t readInt(const uint8_t*& p, const uint8_t* end) {
  int64_t v = 0;
  for (int i = 0; i < 6 && p < end; ++i) v = (v << 8) | *p++;
  return v;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static World w;
  if (size == 0) return 0;
  const uint8_t mode = data[0];
  const uint8_t* p = data + 1;
  const uint8_t* end = data + size;
  std::string bytes(reinterpret_cast<const char*>(p), static_cast<size_t>(end - p));
  const int64_t now_ms = toUnixMillis(w.clock.wallNow());

  if ((mode & 1) == 0) {
    // Keep a beacon awaiting its ack now and then.
    if (mode & 4) {
      w.clock.advance(std::chrono::seconds(16));
      (void)w.beacon.takeDue();
    }
    if (mode & 2) {
      const int64_t ts = now_ms + (readInt(p, end) % 1000);
      bytes = datagram::encodeBeaconAck(kSelf, ts, 15, kSecret);
    }
    const BeaconStats before = w.beacon.stats();
    w.beacon.onDatagram(Datagram{bytes, "127.0.0.1", 8471});
    const BeaconStats after = w.beacon.stats();
    check((after.acked - before.acked) + (after.bad_acks - before.bad_acks) == 1);
  } else {
    if (mode & 2) {
      const int64_t ts = now_ms - 400'000 + (readInt(p, end) % 800'000);
      const std::string id = "ag_" + std::to_string(mode >> 2);
      bytes = datagram::encodePeerAnnouncement(datagram::peerKeyId(kPeerKey), id, ts, kPeerKey);
    }
    const PeerWitnessStats before = w.peers.stats();
    w.peers.onDatagram(Datagram{bytes, "192.0.2.7", 47474});
    const PeerWitnessStats after = w.peers.stats();
    const uint64_t counted = (after.heard - before.heard) + (after.refused - before.refused);
    check(counted <= 1);  // its own announcement is neither
    const auto sightings = w.peers.sightings();
    check(sightings.size() <= protocol::kMaxPeerSightings);
    for (const auto& s : sightings) check(s.agent_id != kSelf);
    if (mode & 8) w.peers.reported(sightings);
  }
  return 0;
}
