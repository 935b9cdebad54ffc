#include "collector/ingest/beacon_service.h"

#include <cstdlib>

#include "common/datagram.h"

namespace vigil::collector {
namespace {

// A beacon stamped this much before the collector's start is still taken as its first one.
constexpr int64_t kStartSlackMs = 1000;
// Agents' secrets are 64 hex digits; a longer one grows the workspace once.
constexpr size_t kSecretCapacity = 64;

}  // namespace

const char* beaconDropName(BeaconDrop drop) {
  switch (drop) {
    case BeaconDrop::kMalformed:
      return "malformed";
    case BeaconDrop::kUnknownAgent:
      return "unknown_agent";
    case BeaconDrop::kBadSignature:
      return "bad_signature";
    case BeaconDrop::kStale:
      return "stale";
    case BeaconDrop::kReplayed:
      return "replayed";
  }
  return "unknown";
}

BeaconService::BeaconService(AgentDirectory& directory, const Clock& clock, BeaconConfig config,
                             EvidenceSink* evidence)
    : directory_(directory),
      clock_(clock),
      config_(config),
      evidence_(evidence),
      started_at_ms_(toUnixMillis(clock.wallNow())) {}

BeaconWorkspace::BeaconWorkspace() {
  agent_id_.reserve(datagram::kMaxAgentIdBytes);
  credentials_.secret.reserve(kSecretCapacity);
}

BeaconVerdict BeaconService::drop(BeaconDrop reason, std::string_view agent_id) {
  const auto index = static_cast<size_t>(reason);
  ++dropped_[index];
  BeaconVerdict out;
  out.drop = reason;
  out.agent_id = agent_id;
  const MonoTime now = clock_.monotonicNow();
  MutexLock lock(mu_);
  DropLog& log = drop_log_[index];
  if (log.last_logged && now - *log.last_logged < config_.drop_log_period) {
    ++log.unlogged;
    return out;
  }
  out.log_drop = true;
  out.unlogged_drops = log.unlogged;
  log.last_logged = now;
  log.unlogged = 0;
  return out;
}

BeaconOutcome BeaconService::handle(std::string_view datagram) {
  BeaconWorkspace workspace;
  datagram::DatagramBuffer ack;
  const BeaconVerdict verdict = check(datagram, workspace, &ack);
  BeaconOutcome out;
  out.ack.assign(ack.data(), verdict.ack_size);
  out.drop = verdict.drop;
  out.agent_id = std::string(verdict.agent_id);
  out.log_drop = verdict.log_drop;
  out.unlogged_drops = verdict.unlogged_drops;
  return out;
}

BeaconVerdict BeaconService::check(std::string_view datagram, BeaconWorkspace& workspace,
                                   datagram::DatagramBuffer* ack) {
  const MonoTime received_at = clock_.monotonicNow();
  std::optional<datagram::BeaconView> beacon = datagram::parseBeaconView(datagram);
  if (!beacon) return drop(BeaconDrop::kMalformed, {});

  // Assigned, not constructed: the workspace's strings keep their capacity.
  workspace.agent_id_.assign(beacon->agent_id);
  AgentCredentials& credentials = workspace.credentials_;
  if (!directory_.credentialsInto(workspace.agent_id_, &credentials) || credentials.retired) {
    return drop(BeaconDrop::kUnknownAgent, beacon->agent_id);
  }
  if (!datagram::verify(*beacon, credentials.secret)) {
    return drop(BeaconDrop::kBadSignature, beacon->agent_id);
  }
  const int64_t now_ms = toUnixMillis(clock_.wallNow());
  if (std::llabs(beacon->ts_ms - now_ms) > config_.max_clock_skew_ms) {
    return drop(BeaconDrop::kStale, beacon->agent_id);
  }
  switch (directory_.recordBeaconIfNewer(workspace.agent_id_, beacon->ts_ms,
                                         started_at_ms_ - kStartSlackMs)) {
    case AcceptOutcome::kAccepted:
      break;
    case AcceptOutcome::kReplayedSequence:
      return drop(BeaconDrop::kReplayed, beacon->agent_id);
    case AcceptOutcome::kUnknownAgent:  // deleted since its credentials were read
      return drop(BeaconDrop::kUnknownAgent, beacon->agent_id);
  }
  ++accepted_;
  if (evidence_ != nullptr) {
    evidence_->beaconAccepted(workspace.agent_id_, received_at,
                              std::chrono::seconds(config_.interval_s));
  }
  BeaconVerdict out;
  out.agent_id = beacon->agent_id;
  out.ack_size = datagram::encodeBeaconAck(beacon->agent_id, beacon->ts_ms, config_.interval_s,
                                           credentials.secret, ack);
  return out;
}

BeaconCounters BeaconService::counters() const {
  BeaconCounters out;
  out.accepted = accepted_.load();
  for (size_t i = 0; i < kBeaconDropCount; ++i) out.dropped[i] = dropped_[i].load();
  return out;
}

}  // namespace vigil::collector
