#pragma once

// Presence status of one agent, decided from its evidence. This issue decides by a plain
// timeout on the last accepted heartbeat; the full presence engine (SUSPECT, double
// verification, degradation, ...) replaces evaluateTimeoutStatus() behind the same types.
//
// Pure C++: no Poco::Net, no store, no OS headers.

#include <chrono>
#include <optional>
#include <string>

#include "common/clock.h"

namespace vigil::collector {

enum class AgentStatus {
  kUnknown,  // no evidence yet
  kOnline,   // fresh evidence
  kOffline,  // no evidence for longer than the offline threshold
};

// "UNKNOWN", "ONLINE", "OFFLINE": the spelling used in the API.
const char* agentStatusName(AgentStatus status);

struct StatusVerdict {
  AgentStatus status = AgentStatus::kUnknown;
  std::string reason;             // short human text, e.g. "last heartbeat 12 s ago"
  std::optional<WallTime> since;  // when the status began, if known
};

// Decides status by a timeout: never seen -> UNKNOWN; seen within `offline_after` of `now`
// -> ONLINE; otherwise OFFLINE since last_seen + offline_after. A last_seen in the future
// (a wall clock step back) counts as fresh.
// REQUIRES: offline_after > 0.
StatusVerdict evaluateTimeoutStatus(std::optional<WallTime> last_seen, WallTime now,
                                    std::chrono::seconds offline_after);

}  // namespace vigil::collector
