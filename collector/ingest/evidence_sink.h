#pragma once

// Where ingest hands accepted evidence: the presence engine (collector/monitor) in the
// running collector. Called after state was changed; implementations must be fast and
// thread-safe (they run on request threads).

#include <string>

#include "collector/store/store.h"
#include "common/clock.h"

namespace vigil::collector {

class EvidenceSink {
 public:
  virtual ~EvidenceSink() = default;
  virtual void agentEnrolled(const AgentRecord& agent) = 0;
  // An accepted heartbeat, received at `received_at`; the agent was told to beat again in
  // `next_interval`.
  virtual void heartbeatAccepted(const std::string& agent_id, MonoTime received_at,
                                 Duration next_interval) = 0;
};

}  // namespace vigil::collector
