#include "agent/core/agent_commands.h"

#include "agent/core/collector_answer.h"
#include "common/protocol.h"

namespace vigil::agent {

AgentCommands::AgentCommands(const AgentConfig& config, IdentityStore& identity_store,
                             Enroller& enroller, HeartbeatSender& sender,
                             HeartbeatScheduler& scheduler, SequenceAllocator& sequence,
                             Logger& log)
    : config_(config),
      identity_store_(identity_store),
      enroller_(enroller),
      sender_(sender),
      scheduler_(scheduler),
      sequence_(sequence),
      log_(log) {}

bool AgentCommands::prepareState(CommandOutcome* outcome) {
  sender_.readFacts();
  const Status load_status = sequence_.start();
  if (const Status& persisted = sequence_.persistStatus(); !persisted.ok()) {
    *outcome = {CommandOutcome::Kind::kFailed, "state directory " + config_.state_dir +
                                                   " is not writable: " + persisted.message()};
    return false;
  }
  if (!load_status.ok()) {
    log_.warn("sequence reservation unreadable (" + load_status.toString() +
              "); numbering restarts at 1 and the collector will move it forward");
  }
  return true;
}

CommandOutcome AgentCommands::enrollOnce(bool force) {
  using Kind = CommandOutcome::Kind;
  Result<std::optional<Identity>> loaded = identity_store_.load();
  if (!force) {
    if (!loaded.ok()) {
      return {Kind::kConflict, loaded.error().message() + " (--force enrolls anew)"};
    }
    if (const std::optional<Identity>& held = loaded.value()) {
      if (held->server_url.empty() || held->server_url == config_.server_url) {
        return {Kind::kDone,
                "already enrolled as agent " + held->agent_id + " with " +
                    (held->server_url.empty() ? config_.server_url : held->server_url) +
                    "; nothing changed"};
      }
      return {Kind::kConflict, "enrolled as agent " + held->agent_id + " with " + held->server_url +
                                   ", not " + config_.server_url + " (--force enrolls anew with " +
                                   config_.server_url + ")"};
    }
  }
  if (config_.enroll_token.empty()) {
    return {Kind::kRefused, "no enrollment token (--token, VIGIL_ENROLL_TOKEN or enroll_token)"};
  }
  CommandOutcome outcome;
  if (!prepareState(&outcome)) return outcome;
  EnrollAttempt attempt = enroller_.attempt(sender_.facts());
  if (!attempt.store_error.ok()) return {Kind::kFailed, attempt.store_error.message()};
  if (attempt.enrolled) {
    std::string done =
        "enrolled as agent " + attempt.enrolled->identity.agent_id + " with " + config_.server_url;
    if (loaded.ok() && loaded.value()) {
      done += "; it replaces agent " + loaded.value()->agent_id + " of " +
              loaded.value()->server_url + ", which an admin should retire there";
    }
    return {Kind::kDone, done};
  }
  if (attempt.refused) return {Kind::kRefused, "enrollment refused: " + attempt.problem};
  return {Kind::kUnreachable, "enrollment failed: " + attempt.problem + "; nothing was stored"};
}

CommandOutcome AgentCommands::retire() {
  using Kind = CommandOutcome::Kind;
  Result<std::optional<Identity>> loaded = identity_store_.load();
  if (!loaded.ok()) return {Kind::kFailed, loaded.error().message()};
  if (!loaded.value()) return {Kind::kDone, "not enrolled: nothing to retire"};
  const Identity identity = *loaded.value();
  CommandOutcome outcome;
  if (!prepareState(&outcome)) return outcome;

  auto forget = [&](const std::string& what) -> CommandOutcome {
    if (Status st = identity_store_.remove(); !st.ok()) {
      return {Kind::kFailed, what + ", but " + st.message()};
    }
    return {Kind::kDone, what + "; identity removed"};
  };
  // A refusal for the clock or the sequence corrects it, as a heartbeat's would, and tries
  // once more.
  std::string problem;
  bool collector_side = false;  // not reached, failed, or shedding load: worth repeating
  for (int attempt = 0; attempt < 2; ++attempt) {
    protocol::Heartbeat hb = sender_.build(identity);
    hb.shutdown = protocol::shutdown_reasons::kUninstall;
    const CollectorAnswer answer = sender_.send(identity, hb, std::nullopt);
    const HeartbeatAnswerReading reading = readHeartbeatAnswer(answer);
    using Outcome = HeartbeatOutcome::Kind;
    if (reading.outcome.kind == Outcome::kAccepted) {
      return forget("agent " + identity.agent_id + " retired at " + config_.server_url);
    }
    if (reading.error_code == protocol::errors::kUnknownAgent) {
      return forget("agent " + identity.agent_id + " is already retired or deleted at " +
                    config_.server_url);
    }
    problem = reading.description;
    collector_side = !answer.transport_ok || answer.http_status >= 500 || answer.http_status == 429;
    const ScheduleDecision decision = scheduler_.onOutcome(reading.outcome);
    if (reading.outcome.kind == Outcome::kReplayedSequence) {
      sequence_.jumpForward(decision.sequence_jump);
    } else if (reading.outcome.kind != Outcome::kStaleTimestamp) {
      break;
    }
  }
  return {collector_side ? Kind::kUnreachable : Kind::kFailed,
          "could not retire agent " + identity.agent_id + " (" + problem +
              "); the identity is kept: run this again, or have an admin retire it with "
              "POST /api/v1/agents/" +
              identity.agent_id + "/retire"};
}

}  // namespace vigil::agent
