// Fuzz target: the relay between a cluster's collectors (collector/cluster/relay.h). The body
// is signed before it is parsed, but a parser of bytes from the network gets a fuzz target all
// the same (a peer with the key may run other code, or be compromised).
// Invariants: no crash; a batch that decodes stays within the limits and encodes to a text
// that decodes to the same batch; a reply decodes or is refused, never crashes.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "collector/cluster/relay.h"

namespace {

void check(bool condition) {
  if (!condition) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  static_cast<void>(vigil::collector::decodeRelayReply(body));
  auto batch = vigil::collector::decodeRelayBatch(body);
  if (!batch.ok()) return 0;
  check(batch.value().items() <= vigil::collector::kRelayMaxItems);
  const std::string again = vigil::collector::encodeRelayBatch(batch.value());
  auto round_trip = vigil::collector::decodeRelayBatch(again);
  check(round_trip.ok());
  check(vigil::collector::encodeRelayBatch(round_trip.value()) == again);
  return 0;
}
