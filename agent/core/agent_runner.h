#pragma once

#include "agent/core/agent_commands.h"
#include "agent/core/agent_config.h"
#include "agent/core/backoff.h"
#include "agent/core/collector_answer.h"
#include "agent/core/enrollment.h"
#include "agent/core/heartbeat_loop.h"
#include "agent/core/heartbeat_scheduler.h"
#include "agent/core/heartbeat_sender.h"
#include "agent/core/log_rate_limiter.h"
#include "agent/core/platform.h"
#include "agent/core/runner_deps.h"
#include "agent/core/sequence_allocator.h"
#include "agent/core/stop_request.h"
#include "agent/core/udp_channels.h"
#include "common/status.h"

namespace vigil::agent {

// The agent: obtains an identity (loads it, or enrolls with the token, retrying with backoff:
// Enroller), then runs the HeartbeatLoop, which sends heartbeats (HeartbeatSender) whenever
// the HeartbeatScheduler says, runs the UDP channels the collector offers (UdpChannels), reacts
// to OS events and sends a goodbye notice when it stops. Or, instead, one of the one-shot
// commands (AgentCommands). All waiting goes through the Waiter; all time comes from the Clock.
// OS events reach it through onSystemEvent() (it is the ServiceHost's event sink).
class AgentRunner final : public SystemEventSink {
 public:
  // REQUIRES: `config` passed validateConfig().
  AgentRunner(AgentConfig config, AgentRunnerDeps deps, BackoffOptions backoff = {},
              RunnerTimings timings = {});
  ~AgentRunner() override;
  AgentRunner(const AgentRunner&) = delete;
  AgentRunner& operator=(const AgentRunner&) = delete;

  // Runs until stopped (returns OK) or a fatal error: not enrolled and no token, an unreadable
  // identity, a state directory that cannot hold the identity. Call once.
  Status run();

  // The one-shot commands (AgentCommands), each instead of run().
  CommandOutcome enrollOnce(bool force) { return commands_.enrollOnce(force); }
  CommandOutcome retire() { return commands_.retire(); }

  // Makes run() return promptly after a goodbye notice ("service_stop"): ends the current
  // wait and any request in flight. Thread-safe; may be called before run().
  void stop() { stop_.request(); }

  // The service manager's control, once the service host has it. Call before run().
  void setServiceControl(ServiceControl* control) { deps_.service = control; }

  // Thread-safe; called from platform threads. kServiceStop stops (as stop()), kSessionLogoff
  // stops with a "logoff" notice, the others are handled by the loop.
  void onSystemEvent(SystemEvent event) override;

 private:
  const AgentConfig config_;
  AgentRunnerDeps deps_;
  const RunnerTimings timings_;
  HeartbeatScheduler scheduler_;
  SequenceAllocator sequence_;
  StopRequest stop_;
  LogRateLimiter failures_;
  HeartbeatSender sender_;
  Enroller enroller_;
  UdpChannels channels_;
  HeartbeatLoop loop_;
  AgentCommands commands_;
};

}  // namespace vigil::agent
