#pragma once

// The Vigil datagrams (docs/protocol.md, "UDP beacon" and "LAN peer witness"): single-line
// ASCII messages, fields separated by one space, each signed with HMAC-SHA256.
//
//   beacon  (agent -> collector UDP port):  VB1 <agent_id> <ts_ms> <sig>
//   ack     (collector -> agent):           VA1 <agent_id> <ts_ms> <next_beacon_s> <sig>
//   peer    (agent -> LAN broadcast):       VP1 <key_id> <agent_id> <ts_ms> <sig>
//
// <sig> is the lower-case hex HMAC-SHA256 of the message's fields before it, joined with "\n"
// (for example "VB1\nag_1\n1790000000000"). Beacons and acks are keyed with the agent's secret,
// peer announcements with the site's peer key. <ts_ms> is the sender's corrected wall clock in
// Unix ms; the ack echoes the beacon's <ts_ms>.

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace vigil::datagram {

// Largest datagram either side reads; longer ones are dropped unread.
constexpr size_t kMaxDatagramBytes = 512;
// Longest agent id a datagram may carry.
constexpr size_t kMaxAgentIdBytes = 64;

// Room for any datagram, for the allocation-free functions below.
using DatagramBuffer = std::array<char, kMaxDatagramBytes>;

struct Beacon {
  std::string agent_id;
  int64_t ts_ms = 0;
  std::string signature;  // 64 hex
};

struct BeaconAck {
  std::string agent_id;
  int64_t ts_ms = 0;  // the acknowledged beacon's ts_ms
  int64_t next_beacon_s = 0;
  std::string signature;
};

struct PeerAnnouncement {
  std::string key_id;  // 16 hex: which site peer key signed it
  std::string agent_id;
  int64_t ts_ms = 0;
  std::string signature;
};

// A beacon as received, without copies: views into the datagram's bytes, valid while they are.
struct BeaconView {
  std::string_view agent_id;
  std::string_view ts_text;  // <ts_ms> as sent: its one canonical spelling
  int64_t ts_ms = 0;
  std::string_view signature;
};

// Encoders sign with `key` (its bytes). They return an empty string only if signing fails.
std::string encodeBeacon(std::string_view agent_id, int64_t ts_ms, std::string_view key);
std::string encodeBeaconAck(std::string_view agent_id, int64_t ts_ms, int64_t next_beacon_s,
                            std::string_view key);
std::string encodePeerAnnouncement(std::string_view key_id, std::string_view agent_id,
                                   int64_t ts_ms, std::string_view key);

// Parsers check the shape only (exact field count, charset, lengths, ranges, numbers in
// canonical decimal without leading zeros); nullopt on any deviation. The signature is checked by
// the verify functions, once the key is known.
std::optional<Beacon> parseBeacon(std::string_view bytes);
std::optional<BeaconAck> parseBeaconAck(std::string_view bytes);
std::optional<PeerAnnouncement> parsePeerAnnouncement(std::string_view bytes);

// Constant-time signature checks.
bool verify(const Beacon& m, std::string_view key);
bool verify(const BeaconAck& m, std::string_view key);
bool verify(const PeerAnnouncement& m, std::string_view key);

// The collector's per-datagram path, without heap allocation: the same checks and the same
// bytes as parseBeacon, verify and encodeBeaconAck above.
std::optional<BeaconView> parseBeaconView(std::string_view bytes);
bool verify(const BeaconView& m, std::string_view key);
// Writes the signed ack to `out` and returns its length; 0 if signing fails or `agent_id` is
// not an agent id (parseBeaconView's are).
size_t encodeBeaconAck(std::string_view agent_id, int64_t ts_ms, int64_t next_beacon_s,
                       std::string_view key, DatagramBuffer* out);

// The id of a site peer key: the first 16 hex digits of SHA-256(key).
std::string peerKeyId(std::string_view peer_key);

}  // namespace vigil::datagram
