#include "collector/presence/agent_status.h"

namespace vigil::collector {

const char* agentStatusName(AgentStatus status) {
  switch (status) {
    case AgentStatus::kUnknown:
      return "UNKNOWN";
    case AgentStatus::kOnline:
      return "ONLINE";
    case AgentStatus::kOffline:
      return "OFFLINE";
  }
  return "UNKNOWN";
}

StatusVerdict evaluateTimeoutStatus(std::optional<WallTime> last_seen, WallTime now,
                                    std::chrono::seconds offline_after) {
  StatusVerdict verdict;
  if (!last_seen) {
    verdict.status = AgentStatus::kUnknown;
    verdict.reason = "no heartbeat received yet";
    return verdict;
  }
  const auto age = now - *last_seen;
  const auto age_s = std::chrono::duration_cast<std::chrono::seconds>(age).count();
  if (age <= offline_after) {
    verdict.status = AgentStatus::kOnline;
    verdict.reason = age_s <= 0 ? "heartbeat just received"
                                : "last heartbeat " + std::to_string(age_s) + " s ago";
    return verdict;
  }
  verdict.status = AgentStatus::kOffline;
  verdict.reason = "no heartbeat for " + std::to_string(age_s) + " s (threshold " +
                   std::to_string(offline_after.count()) + " s)";
  verdict.since = *last_seen + offline_after;
  return verdict;
}

}  // namespace vigil::collector
