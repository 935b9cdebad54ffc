#pragma once

#include <string>

#include "agent/core/agent_config.h"
#include "agent/core/enrollment.h"
#include "agent/core/heartbeat_scheduler.h"
#include "agent/core/heartbeat_sender.h"
#include "agent/core/identity_store.h"
#include "agent/core/logger.h"
#include "agent/core/sequence_allocator.h"

namespace vigil::agent {

// How a one-shot command (vigil-agent enroll, vigil-agent retire) ended.
struct CommandOutcome {
  enum class Kind {
    kDone,         // done now, or nothing was left to do
    kRefused,      // the collector refused it (enrollment token) or the request was wrong
    kUnreachable,  // the collector could not be asked, failed, or asked to come back later
    kConflict,     // enrolled with another collector (enroll without force)
    kFailed,       // a local failure (state directory, corrupt identity)
  };
  Kind kind = Kind::kFailed;
  std::string message;  // one line for the administrator; never holds a token or secret
};

// The one-shot commands, each run instead of the agent's loop, with the service stopped or not
// yet started. Not thread-safe. REQUIRES: every reference outlives the commands.
class AgentCommands {
 public:
  AgentCommands(const AgentConfig& config, IdentityStore& identity_store, Enroller& enroller,
                HeartbeatSender& sender, HeartbeatScheduler& scheduler, SequenceAllocator& sequence,
                Logger& log);

  // vigil-agent enroll: one enrollment with the token, no retry; nothing is stored unless it
  // succeeds. Already enrolled with this server: kDone, nothing changes (safe to repeat on an
  // upgrade or a repair). Enrolled with another server (or an unreadable identity): kConflict,
  // unless `force`, which enrolls anew and replaces the identity only once that succeeded.
  CommandOutcome enrollOnce(bool force);
  // vigil-agent retire: tells the collector the agent is being uninstalled (a goodbye notice
  // "uninstall": the collector records it retired, so its silence raises no alert) and then
  // forgets the identity. kDone also when never enrolled or the collector no longer knows the
  // agent; kUnreachable keeps the identity, so the command can be repeated.
  CommandOutcome retire();

 private:
  // False (after saying why through `outcome`) when the state directory cannot hold state.
  bool prepareState(CommandOutcome* outcome);

  const AgentConfig& config_;
  IdentityStore& identity_store_;
  Enroller& enroller_;
  HeartbeatSender& sender_;
  HeartbeatScheduler& scheduler_;
  SequenceAllocator& sequence_;
  Logger& log_;
};

}  // namespace vigil::agent
