#pragma once

// The relay between the collectors of a cluster (docs/cluster.md, "Routing"): evidence one
// collector took in for a shard another one owns, carried to the owner in batches, and the
// notices every collector must hear (an agent retired or deleted, its class changed).
//
// Wire form: POST protocol::kClusterRelayPath, a JSON body (encodeRelayBatch), signed with
// HMAC-SHA256 under the cluster's key (relaySignature) over the exact body, which names the sender,
// its instance, the batch's number and time; the signature is checked before the body is parsed. A
// batch is accepted once: per sender instance, its number must rise, and its time must be within
// kRelayMaxSkew of the receiver's clock. Times inside a batch are ages
// ("heard 40 ms before the batch was sent"), never clock readings, so the two collectors'
// clocks need not agree.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/protocol.h"
#include "common/status.h"

namespace vigil::collector {

// At most this many items (heartbeats, beacons and notices together) in one batch: a batch
// stays well within protocol::kMaxBodyBytes.
inline constexpr size_t kRelayMaxItems = 200;
inline constexpr std::chrono::seconds kRelayMaxSkew{60};

struct RelayedWitness {
  std::string agent_id;
  int64_t age_ms = 0;
};

struct RelayedHeartbeat {
  std::string agent_id;
  int64_t seq = 0;          // the heartbeat's sequence number (0 or absent: not known)
  int64_t age_ms = 0;       // received this long before the batch was sent
  int64_t interval_ms = 0;  // the interval the agent was told
  bool beacon_fallback = false;
  bool shutdown = false;
  std::vector<std::pair<int64_t, int64_t>> outages;  // unix ms, from the agent's diary
  std::vector<RelayedWitness> witnesses;
};

struct RelayedBeacon {
  std::string agent_id;
  int64_t age_ms = 0;
  int64_t interval_ms = 0;
};

// Something about an agent every collector must know: it was retired or deleted (no more
// evidence of it is taken), or its class changed.
struct RelayedNotice {
  enum class Kind { kRetired, kClassChanged };
  Kind kind = Kind::kRetired;
  std::string agent_id;
  std::string agent_class;  // kClassChanged: "server" or "workstation"
};

struct RelayBatch {
  std::string from_node;
  std::string from_instance;
  uint64_t number = 0;     // rises with every batch of the sender instance
  int64_t sent_at_ms = 0;  // the sender's wall clock, for the skew check only
  std::vector<RelayedHeartbeat> heartbeats;
  std::vector<RelayedBeacon> beacons;
  std::vector<RelayedNotice> notices;

  size_t items() const { return heartbeats.size() + beacons.size() + notices.size(); }
};

// The receiver's answer: the shards of the batch's evidence it does not own (the sender's
// routes are stale for them).
struct RelayReply {
  std::vector<int> not_owned;
};

std::string encodeRelayBatch(const RelayBatch& batch);
// kInvalidArgument, saying what, for anything but a well-formed batch within the limits.
Result<RelayBatch> decodeRelayBatch(std::string_view body);
std::string encodeRelayReply(const RelayReply& reply);
Result<RelayReply> decodeRelayReply(std::string_view body);

// The signature header's value: "v1=" and the hex HMAC-SHA256 of the exact body under `key`
// (the body names the sender, its instance, the batch number and time).
Result<std::string> relaySignature(std::string_view key, std::string_view body);
// Whether `signature` is the body's, compared in constant time.
bool relaySignatureValid(std::string_view key, std::string_view body, std::string_view signature);

}  // namespace vigil::collector
