#include "collector/presence/presence_types.h"

#include <algorithm>

namespace vigil::collector::presence {

const char* indicatorName(Indicator indicator) {
  switch (indicator) {
    case Indicator::kHeartbeat:
      return "heartbeat";
    case Indicator::kBeacon:
      return "beacon";
    case Indicator::kDiary:
      return "diary";
    case Indicator::kShutdownNotice:
      return "shutdown_notice";
    case Indicator::kPeerWitness:
      return "peer_witness";
  }
  return "unknown";
}

const char* statusName(AgentStatus status) {
  switch (status) {
    case AgentStatus::kUnknown:
      return "UNKNOWN";
    case AgentStatus::kOnline:
      return "ONLINE";
    case AgentStatus::kSuspect:
      return "SUSPECT";
    case AgentStatus::kOffline:
      return "OFFLINE";
    case AgentStatus::kShutdown:
      return "SHUTDOWN";
    case AgentStatus::kUnreachable:
      return "UNREACHABLE";
    case AgentStatus::kMaintenance:
      return "MAINTENANCE";
  }
  return "UNKNOWN";
}

std::optional<AgentStatus> statusFromName(std::string_view name) {
  for (size_t i = 0; i < kStatusCount; ++i) {
    const auto status = static_cast<AgentStatus>(i);
    if (name == statusName(status)) return status;
  }
  return std::nullopt;
}

const char* reasonName(Reason reason) {
  switch (reason) {
    case Reason::kNoEvidenceYet:
      return "no_evidence_yet";
    case Reason::kFreshEvidence:
      return "fresh_evidence";
    case Reason::kHeartbeatLate:
      return "heartbeat_late";
    case Reason::kWitnessedOnly:
      return "witnessed_only";
    case Reason::kHeldDegraded:
      return "held_degraded";
    case Reason::kConfirmedSilent:
      return "confirmed_silent";
    case Reason::kConfirmedAfterHold:
      return "confirmed_after_hold";
    case Reason::kWitnessExpired:
      return "witness_expired";
    case Reason::kAnnouncedShutdown:
      return "announced_shutdown";
    case Reason::kShutdownTooLong:
      return "shutdown_too_long";
    case Reason::kSitePartitioned:
      return "site_partitioned";
    case Reason::kInMaintenance:
      return "in_maintenance";
    case Reason::kRetired:
      return "retired";
  }
  return "unknown";
}

std::string reasonText(Reason reason) {
  switch (reason) {
    case Reason::kNoEvidenceYet:
      return "nothing heard from the agent since the collector started";
    case Reason::kFreshEvidence:
      return "the agent reported on time";
    case Reason::kHeartbeatLate:
      return "no heartbeat or beacon within the time the agent's history allows";
    case Reason::kWitnessedOnly:
      return "no heartbeat or beacon, but peers on its LAN still hear the agent";
    case Reason::kHeldDegraded:
      return "offline verdict held back while the collector itself is degraded";
    case Reason::kConfirmedSilent:
      return "silent on every indicator through the confirmation window";
    case Reason::kConfirmedAfterHold:
      return "silent through a full confirmation window after the collector recovered";
    case Reason::kWitnessExpired:
      return "heard only through LAN peers for longer than allowed";
    case Reason::kAnnouncedShutdown:
      return "the agent announced a shutdown, stop or sleep";
    case Reason::kShutdownTooLong:
      return "a server announced a shutdown and did not come back in time";
    case Reason::kSitePartitioned:
      return "its whole site went silent together";
    case Reason::kInMaintenance:
      return "inside a maintenance window";
    case Reason::kRetired:
      return "the agent was removed from tracking";
  }
  return "unknown reason";
}

const char* degradationReasonName(DegradationReason reason) {
  switch (reason) {
    case DegradationReason::kWarmUp:
      return "warm_up";
    case DegradationReason::kTickLate:
      return "tick_late";
    case DegradationReason::kClockJump:
      return "clock_jump";
    case DegradationReason::kIngestLag:
      return "ingest_lag";
    case DegradationReason::kQueueOverBound:
      return "queue_over_bound";
    case DegradationReason::kShedRequests:
      return "shed_requests";
    case DegradationReason::kStoreWriteFailures:
      return "store_write_failures";
    case DegradationReason::kChannelCollapse:
      return "channel_collapse";
    case DegradationReason::kMassSuspect:
      return "mass_suspect";
    case DegradationReason::kConnectionsExhausted:
      return "connections_exhausted";
    case DegradationReason::kBeaconOverflow:
      return "beacon_overflow";
    case DegradationReason::kStoreUnavailable:
      return "store_unavailable";
  }
  return "unknown";
}

std::vector<DegradationReason> degradationReasonsIn(uint32_t mask) {
  std::vector<DegradationReason> reasons;
  for (size_t i = 0; i < kDegradationReasonCount; ++i) {
    if ((mask & (1u << i)) != 0) reasons.push_back(static_cast<DegradationReason>(i));
  }
  return reasons;
}

std::string degradationReasonNames(uint32_t mask, std::string_view separator) {
  std::string names;
  for (DegradationReason reason : degradationReasonsIn(mask)) {
    if (!names.empty()) names += separator;
    names += degradationReasonName(reason);
  }
  return names;
}

Duration PresenceConfig::warmUp() const {
  const double factor = 1.0 + std::max(0.0, agent_jitter);
  return std::chrono::duration_cast<Duration>(max_heartbeat_interval * factor);
}

Duration PresenceConfig::effectiveRecoveryPeriod() const {
  return recovery_period > Duration::zero() ? recovery_period : warmUp();
}

}  // namespace vigil::collector::presence
