#pragma once

#include <optional>
#include <string>

#include "agent/core/collector_client.h"
#include "agent/core/heartbeat_scheduler.h"
#include "common/protocol.h"

namespace vigil::agent {

// How an answer to a heartbeat reads: the scheduling outcome and a line for the log.
struct HeartbeatAnswerReading {
  HeartbeatOutcome outcome;
  std::string error_code;   // the Vigil error code, if the answer carried one
  std::string description;  // "HTTP 401 unknown_agent: agent is retired", "network error: ..."
  std::string cause;        // the outage cause of a failure (protocol::causes)
  protocol::ChannelOffer channels;  // kAccepted: what the collector offers besides heartbeats
};
HeartbeatAnswerReading readHeartbeatAnswer(const CollectorAnswer& answer);

// "HTTP 401 unknown_agent: agent was retired"; the error body is read when it is Vigil's, and
// its error code and server time are stored where the pointers are not null.
std::string describeHttp(const CollectorAnswer& answer, std::string* error_code,
                         std::optional<int64_t>* server_time_ms);

// "malformed_json" or "invalid_field next_interval_s".
std::string decodeProblem(const protocol::DecodeError& e);

// "network error: Failed to connect ..." or, when an answer came but was not HTTP we can use,
// "bad answer: the answer is larger than 65536 bytes".
std::string transportProblem(const CollectorAnswer& answer);

}  // namespace vigil::agent
