#pragma once

// Vigil wire protocol, version 1. docs/protocol.md is the normative description; this header
// and protocol.cc are its one implementation, shared by the agent, the collector and the tools.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace vigil::protocol {

constexpr int kVersion = 1;

// Largest request body the collector reads on the agent endpoints; larger gets 413.
constexpr size_t kMaxBodyBytes = size_t{64} * 1024;
// Largest accepted difference between a request's timestamp and the collector's clock.
constexpr int64_t kDefaultMaxClockSkewMs = 300'000;
// Longest accepted value of any string field.
constexpr size_t kMaxStringBytes = 256;
// Longest accepted arrays in a heartbeat; longer arrays are refused (400 invalid_field).
constexpr size_t kMaxOutageEntries = 32;
constexpr size_t kMaxPeerSightings = 64;
constexpr size_t kMaxAddresses = 16;
// Longest "verify" period the collector may ask for, and the agent obeys.
constexpr int64_t kMaxVerifyForS = 900;

constexpr char kEnrollPath[] = "/v1/enroll";
constexpr char kHeartbeatPath[] = "/v1/heartbeat";

constexpr char kHeaderAgentId[] = "X-Vigil-Agent-Id";
constexpr char kHeaderTimestamp[] = "X-Vigil-Timestamp";
constexpr char kHeaderSignature[] = "X-Vigil-Signature";
// Between the collectors of a cluster only (docs/cluster.md, "Routing"): evidence relayed to
// the owner of its shard, signed with the cluster's key.
constexpr char kClusterRelayPath[] = "/v1/cluster/relay";
constexpr char kHeaderClusterSignature[] = "X-Vigil-Cluster-Signature";
constexpr char kSignaturePrefix[] = "v1=";
constexpr char kContentType[] = "application/json";

// Facts an agent reports about its endpoint.
struct AgentFacts {
  std::string hostname;       // required
  std::string os_name;        // e.g. "linux", "windows", "macos"
  std::string os_version;     // e.g. "Debian GNU/Linux 12 (bookworm)"
  std::string arch;           // e.g. "x86_64"
  std::string agent_version;  // required
};

// POST /v1/enroll
struct EnrollRequest {
  std::string enroll_token;  // required: the site's enrollment token
  AgentFacts facts;
};

// Channels besides the heartbeat that the collector offers (docs/protocol.md, "UDP beacon"
// and "LAN peer witness"). Sent in the enrollment answer and in heartbeat answers.
struct ChannelOffer {
  std::optional<int64_t> beacon_port;        // the collector's UDP beacon port; absent: none
  std::optional<int64_t> beacon_interval_s;  // how often to send a beacon
  // The site's LAN peer key (64 hex; HMAC key of peer announcements, its ASCII bytes) and its
  // id (16 hex). The key is sent when the agent's heartbeat did not name this key id.
  std::optional<std::string> peer_key;
  std::optional<std::string> peer_key_id;
};

// 201 answer to an enrollment.
struct EnrollResponse {
  std::string agent_id;
  std::string secret;  // the per-agent HMAC key, used as its ASCII bytes
  int64_t heartbeat_interval_s = 0;
  int64_t server_time_ms = 0;
  ChannelOffer channels;
};

// A period when the agent ran but could not reach the collector (outage diary).
struct OutageEntry {
  int64_t from_ms = 0;  // first failed attempt, agent's corrected wall clock, Unix ms
  int64_t to_ms = 0;    // last failed attempt (or the reconnect), >= from_ms
  std::string cause;    // one of the outage causes below
};

// Why the agent could not reach the collector, as far as it can tell.
namespace causes {
constexpr char kNoNetwork[] = "no_network";   // no default route
constexpr char kDns[] = "dns";                // the collector's name did not resolve
constexpr char kConnect[] = "connect";        // refused or unreachable
constexpr char kTimeout[] = "timeout";        // connect or answer timed out
constexpr char kTls[] = "tls";                // handshake or certificate failure
constexpr char kHttpError[] = "http_error";   // the collector answered with an error
constexpr char kOverloaded[] = "overloaded";  // 429/503
constexpr char kBadAnswer[] = "bad_answer";   // an answer that is not the protocol
constexpr char kOther[] = "other";
}  // namespace causes
bool isKnownOutageCause(std::string_view cause);

// A LAN peer of the same site this agent heard (peer witness).
struct PeerSighting {
  std::string agent_id;
  int64_t heard_at_ms = 0;  // agent's corrected wall clock when last heard, Unix ms
};

// The agent's network self-check.
struct NetworkSelfCheck {
  bool default_route = false;
  std::vector<std::string> addresses;  // at most kMaxAddresses
};

// Why an agent announces it is going away (field "shutdown").
namespace shutdown_reasons {
constexpr char kServiceStop[] = "service_stop";        // the agent's service was stopped
constexpr char kSystemShutdown[] = "system_shutdown";  // the machine shuts down or reboots
constexpr char kSleep[] = "sleep";                     // the machine goes to sleep
constexpr char kLogoff[] = "logoff";                   // the session ends (Windows)
constexpr char kUninstall[] = "uninstall";             // the agent is being removed
}  // namespace shutdown_reasons
bool isKnownShutdownReason(std::string_view reason);

// How an agent's beacon channel stands when it sends a heartbeat (field "beacon_state",
// protocol 1.2). An agent that sends the field follows the beacon fallback (docs/protocol.md,
// "Beacon fallback"): when a beacon goes unacknowledged for kBeaconAckWaitMs, it sends a
// heartbeat at once (unless it is backing off), so the collector may rely on hearing it on one
// channel or the other about every beacon interval, however long its heartbeat interval.
namespace beacon_states {
constexpr char kAcked[] = "acked";            // its latest beacon was acknowledged
constexpr char kUnanswered[] = "unanswered";  // this heartbeat follows an unanswered beacon
constexpr char kPaused[] = "paused";          // it stopped beaconing (UDP seems blocked)
}  // namespace beacon_states
bool isKnownBeaconState(std::string_view state);
// How long an agent waits for a beacon's ack before it falls back to a heartbeat.
constexpr int64_t kBeaconAckWaitMs = 2000;

// POST /v1/heartbeat, signed.
struct Heartbeat {
  std::string agent_id;
  uint64_t seq = 0;  // strictly increasing per agent, across agent restarts; >= 1
  std::string boot_id;
  uint64_t uptime_s = 0;
  std::string agent_version;
  int64_t sent_at_ms = 0;               // agent's wall clock, corrected by its offset
  std::optional<int64_t> interval_s;    // the interval the agent is following now
  std::optional<std::string> hostname;  // present when it changed or on the first beat
  // Indicators added in protocol 1.1; all optional, so 1.0 agents stay valid.
  std::optional<std::string> os_name;
  std::optional<std::string> os_version;
  std::optional<std::string> config_hash;  // 16 hex: SHA-256 of the effective configuration
  std::optional<NetworkSelfCheck> net;
  std::vector<OutageEntry> outages;        // at most kMaxOutageEntries, oldest first
  std::optional<std::string> shutdown;     // one of shutdown_reasons: a goodbye notice
  std::vector<PeerSighting> peers;         // at most kMaxPeerSightings
  std::optional<std::string> peer_key_id;  // the site peer key the agent holds
  // One of beacon_states, when the agent has a beacon channel (protocol 1.2).
  std::optional<std::string> beacon_state;
};

// 200 answer to a heartbeat.
struct HeartbeatResponse {
  int64_t next_interval_s = 0;
  int64_t server_time_ms = 0;
  // "Verify": beat every verify_interval_s for the next verify_for_s seconds (both or none).
  std::optional<int64_t> verify_interval_s;
  std::optional<int64_t> verify_for_s;
  ChannelOffer channels;
};

// Body of every 4xx/5xx answer.
struct ErrorBody {
  std::string error;                      // machine-readable code, see ErrorCode names below
  std::string message;                    // for humans
  std::optional<int64_t> server_time_ms;  // set on stale_timestamp
};

// Error codes carried in ErrorBody::error.
namespace errors {
constexpr char kMalformedJson[] = "malformed_json";
// A body with bytes that are not UTF-8 or a NUL (raw or \u0000) or raw control character in
// a string: refused whole, never stored cut short.
constexpr char kInvalidText[] = "invalid_text";
constexpr char kMissingField[] = "missing_field";
constexpr char kInvalidField[] = "invalid_field";
constexpr char kUnsupportedVersion[] = "unsupported_version";
constexpr char kBodyTooLarge[] = "body_too_large";
constexpr char kUnsupportedMediaType[] = "unsupported_media_type";
constexpr char kMissingSignature[] = "missing_signature";
constexpr char kBadSignature[] = "bad_signature";
constexpr char kStaleTimestamp[] = "stale_timestamp";
constexpr char kUnknownAgent[] = "unknown_agent";
constexpr char kReplayedSequence[] = "replayed_sequence";
constexpr char kInvalidEnrollToken[] = "invalid_enroll_token";
constexpr char kUnauthorized[] = "unauthorized";
constexpr char kNotFound[] = "not_found";
constexpr char kForbidden[] = "forbidden";
constexpr char kConflict[] = "conflict";
constexpr char kInvalidCursor[] = "invalid_cursor";
// A URL a tenant gave points where the collector does not send requests (outbound policy).
constexpr char kDestinationNotAllowed[] = "destination_not_allowed";
constexpr char kMethodNotAllowed[] = "method_not_allowed";
constexpr char kOverloaded[] = "overloaded";
// 503 with Retry-After, in a cluster: the collector that judges the agent cannot be reached
// from the one that answered; the heartbeat is to be sent again (docs/cluster.md, "Routing").
constexpr char kOwnerUnreachable[] = "owner_unreachable";
constexpr char kRateLimited[] = "rate_limited";      // 429 with Retry-After: enrollment limits
constexpr char kQuotaExceeded[] = "quota_exceeded";  // 403: a site's or tenant's agent quota
constexpr char kInternal[] = "internal";
// 503 with Retry-After: the collector cannot reach its database just now (or concurrent
// writers kept conflicting); the request changed nothing and is to be sent again.
constexpr char kStoreUnavailable[] = "store_unavailable";
constexpr char kBadRequest[] = "bad_request";             // not a request the listener can frame
constexpr char kHeadersTooLarge[] = "headers_too_large";  // request head or trailer over its limit
}  // namespace errors

// Why a body was refused; `code` is one of errors::k{MalformedJson, InvalidText, MissingField,
// InvalidField, UnsupportedVersion, BodyTooLarge}; `field` names the offending field if any.
struct DecodeError {
  std::string code;
  std::string field;
  std::string message;
};

std::string encode(const EnrollRequest& m);
std::string encode(const EnrollResponse& m);
std::string encode(const Heartbeat& m);
std::string encode(const HeartbeatResponse& m);
std::string encode(const ErrorBody& m);

// Decoders accept exactly one JSON object, require "v" == kVersion and every required field
// with its exact type, ignore unknown fields, and refuse bodies over kMaxBodyBytes.
Result<EnrollRequest, DecodeError> decodeEnrollRequest(std::string_view body);
Result<EnrollResponse, DecodeError> decodeEnrollResponse(std::string_view body);
Result<Heartbeat, DecodeError> decodeHeartbeat(std::string_view body);
Result<HeartbeatResponse, DecodeError> decodeHeartbeatResponse(std::string_view body);
Result<ErrorBody, DecodeError> decodeErrorBody(std::string_view body);

// The bytes an agent signs: METHOD "\n" PATH "\n" TIMESTAMP_MS "\n" BODY.
std::string signingInput(std::string_view method, std::string_view path, int64_t timestamp_ms,
                         std::string_view body);

// The X-Vigil-Signature value: "v1=" + lower-case hex HMAC-SHA256(secret, signingInput).
Result<std::string> sign(std::string_view secret, std::string_view method, std::string_view path,
                         int64_t timestamp_ms, std::string_view body);

// True if `signature_header` is a valid v1 signature of the request; constant-time.
bool verifySignature(std::string_view secret, std::string_view method, std::string_view path,
                     int64_t timestamp_ms, std::string_view body,
                     std::string_view signature_header);

// Parses the X-Vigil-Timestamp value: decimal Unix milliseconds, no sign, at most 15 digits.
std::optional<int64_t> parseTimestampHeader(std::string_view value);

}  // namespace vigil::protocol
