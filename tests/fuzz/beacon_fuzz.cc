// Fuzz target: the collector's UDP beacon path (docs/protocol.md, "UDP beacon"): parsing,
// agent lookup, HMAC check, clock skew, replay, and the ack. The first input byte picks the
// framing: bit 0 clear, the rest is the datagram as received; bit 0 set, the rest builds a
// beacon correctly signed for a known agent (bit 1: the retired one) from fuzzed timestamp
// bytes, optionally with one byte changed (bit 2), so the fuzzer reaches the accept and replay
// paths it cannot forge.
// Invariants: no crash; every datagram is either accepted or dropped for one reason, and counted
// once; only an accepted beacon gets an ack, and the ack parses, verifies with the agent's
// secret, echoes the beacon's timestamp and is no larger than a datagram may be; an accepted
// beacon is exactly the canonical encoding of what it says (no second spelling verifies).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "collector/ingest/agent_directory.h"
#include "collector/ingest/beacon_service.h"
#include "common/clock.h"
#include "common/datagram.h"

namespace {

using namespace vigil;
using namespace vigil::collector;

constexpr int64_t kStartMs = 1'790'000'000'000;
const std::string kSecret(64, '5');

void check(bool condition) {
  if (!condition) std::abort();
}

struct World {
  SimulatedClock clock{fromUnixMillis(kStartMs)};
  AgentDirectory directory;
  BeaconService service{directory, clock, BeaconConfig{}};

  World() {
    for (const char* id : {"ag_fuzz", "ag_retired"}) {
      AgentRecord a;
      a.id = id;
      a.secret = kSecret;
      if (a.id == "ag_retired") a.retired_at_ms = kStartMs;
      directory.add(a);
    }
  }
};

uint64_t total(const BeaconCounters& c) {
  uint64_t sum = c.accepted;
  for (uint64_t d : c.dropped) sum += d;
  return sum;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static World world;
  if (size == 0) return 0;
  const uint8_t mode = data[0];
  std::string datagram;
  if ((mode & 0x01) == 0) {
    datagram.assign(reinterpret_cast<const char*>(data + 1), size - 1);
  } else {
    // Timestamp: the collector's clock moved by a fuzzed number of seconds (+-32767).
    int64_t offset_s = 0;
    if (size >= 3) offset_s = static_cast<int16_t>((data[1] << 8) | data[2]);
    const int64_t ts = toUnixMillis(world.clock.wallNow()) + offset_s * 1000;
    const char* id = (mode & 0x02) ? "ag_retired" : "ag_fuzz";
    datagram = datagram::encodeBeacon(id, ts < 0 ? 0 : ts, kSecret);
    if ((mode & 0x04) && size >= 5 && !datagram.empty()) {
      datagram[data[3] % datagram.size()] = static_cast<char>(data[4]);
    }
  }

  const BeaconCounters before = world.service.counters();
  const BeaconOutcome outcome = world.service.handle(datagram);
  const BeaconCounters after = world.service.counters();
  check(total(after) == total(before) + 1);

  if (outcome.drop) {
    check(outcome.ack.empty());
    check(after.accepted == before.accepted);
    const auto index = static_cast<size_t>(*outcome.drop);
    check(after.dropped[index] == before.dropped[index] + 1);
  } else {
    check(after.accepted == before.accepted + 1);
    auto beacon = datagram::parseBeacon(datagram);
    check(beacon.has_value() && beacon->agent_id == "ag_fuzz");
    check(datagram::encodeBeacon(beacon->agent_id, beacon->ts_ms, kSecret) == datagram);
    auto ack = datagram::parseBeaconAck(outcome.ack);
    check(ack.has_value());
    check(datagram::verify(*ack, kSecret));
    check(ack->agent_id == beacon->agent_id && ack->ts_ms == beacon->ts_ms);
    check(outcome.ack.size() <= datagram::kMaxDatagramBytes);
    // The same beacon again is a replay.
    const BeaconOutcome again = world.service.handle(datagram);
    check(again.drop == BeaconDrop::kReplayed && again.ack.empty());
  }
  world.clock.advance(std::chrono::milliseconds(1));
  return 0;
}
