#pragma once

#include <optional>
#include <string>

#include "agent/core/collector_answer.h"
#include "agent/core/heartbeat_scheduler.h"
#include "agent/core/heartbeat_sender.h"
#include "agent/core/identity_store.h"
#include "agent/core/log_rate_limiter.h"
#include "agent/core/runner_deps.h"
#include "agent/core/sequence_allocator.h"
#include "agent/core/stop_request.h"
#include "agent/core/udp_channels.h"
#include "agent/core/wake_detector.h"
#include "common/protocol.h"

namespace vigil::agent {

// The enrolled agent's loop: sends a heartbeat whenever the HeartbeatScheduler says, reacts to
// OS events (network change, sleep, wake, shutdown) between beats, keeps the UDP channels in
// step with the collector's offers, and sends a goodbye notice when stopped. Not thread-safe:
// stops reach it through the StopRequest and the Waiter.
// REQUIRES: every reference outlives the loop; `deps.service` is read at each wait, so it may
// be set after construction.
class HeartbeatLoop {
 public:
  HeartbeatLoop(const AgentRunnerDeps& deps, const RunnerTimings& timings,
                HeartbeatScheduler& scheduler, SequenceAllocator& sequence, HeartbeatSender& sender,
                UdpChannels& channels, LogRateLimiter& failures, StopRequest& stop);

  // Runs until a stop is requested; `offer` is what enrolling brought (empty for a loaded
  // identity). `identity` takes a new peer key when the collector offers one.
  void run(Identity& identity, const protocol::ChannelOffer& offer);

 private:
  enum class WaitEnd { kBeat, kStop };

  // Sleeps up to `delay`, handling OS events and wakes; may shorten the sleep.
  WaitEnd sleepUntilBeat(Duration delay, const Identity& identity);
  // Sends one heartbeat and returns the delay until the next; empty when a stop came meanwhile.
  std::optional<Duration> beat(Identity& identity);
  void onAccepted(Identity& identity, const protocol::Heartbeat& hb,
                  const HeartbeatAnswerReading& reading, const ScheduleDecision& decision,
                  int failures_before);
  void onFailed(const Identity& identity, const protocol::Heartbeat& hb,
                const CollectorAnswer& answer, const HeartbeatAnswerReading& reading,
                const ScheduleDecision& decision, MonoTime attempt_started);
  void sendGoodbye(const Identity& identity, const char* reason);
  // After a stop: the goodbye notice, unless one was sent for sleep or shutdown just before.
  void sayGoodbye(const Identity& identity);

  const AgentRunnerDeps& deps_;
  const RunnerTimings& timings_;
  HeartbeatScheduler& scheduler_;
  SequenceAllocator& sequence_;
  HeartbeatSender& sender_;
  UdpChannels& channels_;
  LogRateLimiter& failures_;
  StopRequest& stop_;
  WakeDetector wake_detector_;
  // Since when heartbeats fail; empty while they succeed.
  std::optional<MonoTime> failing_since_;
  // Goodbye already sent (sleep or system shutdown): the stop that follows need not repeat it.
  std::optional<MonoTime> goodbye_sent_at_;
};

}  // namespace vigil::agent
