#pragma once

// The agent-facing endpoints (/v1/enroll, /v1/heartbeat) as a service without HTTP: the
// handlers in collector/api parse the transport and call it; tests call it directly.
//
// Heartbeats are checked in the order of docs/protocol.md ("How the collector checks a
// heartbeat"); no rejected request changes any state. Accepted heartbeats update the
// AgentDirectory only; LastSeenWriter writes them behind. Enrollment writes through to the
// store before it answers.
//
// Thread safety: safe to call concurrently.

#include <cstdint>
#include <optional>
#include <string>

#include "collector/ingest/agent_directory.h"
#include "collector/ingest/evidence_sink.h"
#include "collector/store/store.h"
#include "common/clock.h"
#include "common/protocol.h"
#include "common/status.h"

namespace vigil::collector {

// A refused request, in the terms of the wire protocol: HTTP status, `error` code, message.
struct ApiError {
  int http_status = 500;
  std::string code;
  std::string message;
  std::optional<int64_t> server_time_ms;  // set on stale_timestamp
};

template <typename T>
using ApiResult = Result<T, ApiError>;

struct IngestConfig {
  int64_t heartbeat_interval_s = 60;  // next_interval_s of every answer
  int64_t max_clock_skew_ms = protocol::kDefaultMaxClockSkewMs;
};

// One POST /v1/heartbeat as received; a header is nullopt when absent.
struct HeartbeatRequest {
  std::optional<std::string> agent_id;   // X-Vigil-Agent-Id
  std::optional<std::string> timestamp;  // X-Vigil-Timestamp
  std::optional<std::string> signature;  // X-Vigil-Signature
  std::string body;                      // exact bytes received
};

class IngestService {
 public:
  // `store`, `directory`, `clock` and `evidence` (if given) must outlive the service.
  IngestService(Store& store, AgentDirectory& directory, const Clock& clock, IngestConfig config,
                EvidenceSink* evidence = nullptr);

  // POST /v1/enroll: on success the agent exists in the store and in the directory.
  ApiResult<protocol::EnrollResponse> enroll(std::string_view body);

  // POST /v1/heartbeat (checks 2 to 9 of docs/protocol.md; method and media type are the
  // transport's).
  ApiResult<protocol::HeartbeatResponse> heartbeat(const HeartbeatRequest& request);

 private:
  int64_t nowMs() const;

  Store& store_;
  AgentDirectory& directory_;
  const Clock& clock_;
  const IngestConfig config_;
  EvidenceSink* const evidence_;
};

// Builds the ApiError of a body that failed protocol decoding (400, or 413 for size).
ApiError decodeErrorToApiError(const protocol::DecodeError& error);

}  // namespace vigil::collector
