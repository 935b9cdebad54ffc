#pragma once

#include <optional>
#include <string>

#include "agent/core/agent_config.h"
#include "agent/core/backoff.h"
#include "agent/core/collector_client.h"
#include "agent/core/heartbeat_scheduler.h"
#include "agent/core/identity_store.h"
#include "agent/core/logger.h"
#include "agent/core/random.h"
#include "agent/core/sequence_allocator.h"
#include "agent/core/system_info.h"
#include "agent/core/waiter.h"
#include "common/clock.h"

namespace vigil::agent {

// How an answer to a heartbeat reads: the scheduling outcome and a line for the log.
struct HeartbeatAnswerReading {
  HeartbeatOutcome outcome;
  std::string error_code;   // the Vigil error code, if the answer carried one
  std::string description;  // "HTTP 401 unknown_agent: agent is retired", "network error: ..."
};
HeartbeatAnswerReading readHeartbeatAnswer(const CollectorAnswer& answer);

// The seams the runner works through. All references must outlive the runner.
struct AgentRunnerDeps {
  CollectorClient& client;
  SystemInfo& system;
  IdentityStore& identity_store;
  SequenceStore& sequence_store;
  const Clock& clock;
  Waiter& waiter;
  Logger& log;
  UniformRandom random;
};

// The agent's main loop: obtains an identity (loads it, or enrolls with the token, retrying
// with backoff), then sends a heartbeat at once and then whenever the HeartbeatScheduler says,
// until stopped. All waiting goes through the Waiter and all time comes from the Clock.
class AgentRunner {
 public:
  // REQUIRES: `config` passed validateConfig().
  AgentRunner(AgentConfig config, AgentRunnerDeps deps, BackoffOptions backoff = {});
  AgentRunner(const AgentRunner&) = delete;
  AgentRunner& operator=(const AgentRunner&) = delete;

  // Runs until stop() (returns OK) or a fatal error: not enrolled and no token, an unreadable
  // identity, a state directory that cannot hold the identity. Call once.
  Status run();

  // Makes run() return promptly: ends the current wait and any request in flight.
  // Thread-safe; may be called before run().
  void stop();

 private:
  // The stored identity, or a new one from enrollment; nullopt if stopped first.
  Result<std::optional<Identity>> obtainIdentity();
  Result<std::optional<Identity>> enroll();
  void heartbeatLoop(const Identity& identity);
  SystemFacts readFacts();
  BootIdentity readBootIdentity();
  void logSequenceStatus();

  AgentConfig config_;
  AgentRunnerDeps deps_;
  BackoffOptions backoff_options_;
  HeartbeatScheduler scheduler_;
  SequenceAllocator sequence_;
  SystemFacts facts_;
  std::optional<BootIdentity> last_boot_;
  bool sequence_error_logged_ = false;
};

}  // namespace vigil::agent
