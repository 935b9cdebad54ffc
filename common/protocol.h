#pragma once

// Vigil wire protocol, version 1. docs/protocol.md is the normative description; this header
// and protocol.cc are its one implementation, shared by the agent, the collector and the tools.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/status.h"

namespace vigil::protocol {

constexpr int kVersion = 1;

// Largest request body the collector reads on the agent endpoints; larger gets 413.
constexpr size_t kMaxBodyBytes = 64 * 1024;
// Largest accepted difference between a request's timestamp and the collector's clock.
constexpr int64_t kDefaultMaxClockSkewMs = 300'000;
// Longest accepted value of any string field.
constexpr size_t kMaxStringBytes = 256;

constexpr char kEnrollPath[] = "/v1/enroll";
constexpr char kHeartbeatPath[] = "/v1/heartbeat";

constexpr char kHeaderAgentId[] = "X-Vigil-Agent-Id";
constexpr char kHeaderTimestamp[] = "X-Vigil-Timestamp";
constexpr char kHeaderSignature[] = "X-Vigil-Signature";
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

// 201 answer to an enrollment.
struct EnrollResponse {
  std::string agent_id;
  std::string secret;  // the per-agent HMAC key, used as its ASCII bytes
  int64_t heartbeat_interval_s = 0;
  int64_t server_time_ms = 0;
};

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
};

// 200 answer to a heartbeat.
struct HeartbeatResponse {
  int64_t next_interval_s = 0;
  int64_t server_time_ms = 0;
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
constexpr char kMethodNotAllowed[] = "method_not_allowed";
constexpr char kOverloaded[] = "overloaded";
constexpr char kInternal[] = "internal";
}  // namespace errors

// Why a body was refused; `code` is one of errors::k{MalformedJson, MissingField,
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
