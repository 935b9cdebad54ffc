#include "agent/core/agent_runner.h"

#include <utility>

#include "agent/core/version.h"
#include "common/protocol.h"

namespace vigil::agent {

AgentRunner::AgentRunner(AgentConfig config, AgentRunnerDeps deps, BackoffOptions backoff,
                         RunnerTimings timings)
    : config_(std::move(config)),
      deps_(std::move(deps)),
      timings_(timings),
      scheduler_(
          [&] {
            SchedulerOptions o;
            o.min_interval = std::chrono::seconds(config_.min_interval_s);
            o.max_interval = std::chrono::seconds(config_.max_interval_s);
            o.backoff = backoff;
            o.sequence_block = SequenceAllocator::kDefaultBlock;
            o.start_delay_max = std::chrono::seconds(config_.start_delay_max_s);
            return o;
          }(),
          deps_.clock, deps_.random),
      sequence_(deps_.sequence_store),
      stop_(deps_.waiter, deps_.client),
      failures_(deps_.log, deps_.clock, timings_.repeat_log_every),
      sender_(config_, HeartbeatSources{deps_.facts, deps_.boot, deps_.network, deps_.diary},
              sequence_, scheduler_, deps_.client, deps_.log),
      enroller_(config_, deps_.client, deps_.identity_store, scheduler_, deps_.log, backoff),
      channels_(config_, deps_.udp, deps_.identity_store, deps_.clock, deps_.random, deps_.log,
                &deps_.waiter),
      loop_(deps_, timings_, scheduler_, sequence_, sender_, channels_, failures_, stop_),
      commands_(config_, deps_.identity_store, enroller_, sender_, scheduler_, sequence_,
                deps_.log) {}

AgentRunner::~AgentRunner() = default;

void AgentRunner::onSystemEvent(SystemEvent event) {
  switch (event) {
    case SystemEvent::kServiceStop:
      stop_.request();
      return;
    case SystemEvent::kSessionLogoff:
      stop_.requestForLogoff();
      return;
    case SystemEvent::kSystemShutdown:
      stop_.announceShutdown();
      deps_.waiter.onSystemEvent(event);
      return;
    case SystemEvent::kNetworkChanged:
    case SystemEvent::kResumed:
    case SystemEvent::kSuspending:
    case SystemEvent::kBeaconUnanswered:
      deps_.waiter.onSystemEvent(event);
      return;
  }
}

Status AgentRunner::run() {
  deps_.log.info(std::string("vigil-agent ") + kAgentVersion + " starting; collector " +
                 config_.server_url + ", state in " + config_.state_dir + ", config " +
                 sender_.configHash());
  const SystemFacts& facts = sender_.readFacts();

  Result<std::optional<Identity>> loaded = deps_.identity_store.load();
  if (!loaded.ok()) return loaded.error();

  // Reserving sequence numbers also proves the state directory is writable, which must hold
  // before enrolling: an identity that cannot be stored would be lost at the next restart.
  const Status load_status = sequence_.start();
  const Status& persisted = sequence_.persistStatus();
  if (!persisted.ok() && !loaded.value()) {
    return Status(persisted.code(),
                  "state directory " + config_.state_dir +
                      " is not writable, refusing to enroll: " + persisted.message());
  }
  if (!load_status.ok()) {
    deps_.log.warn("sequence reservation unreadable (" + load_status.toString() +
                   "); numbering restarts at 1 and the collector will move it forward");
  }
  sender_.logSequenceStatus();
  if (deps_.diary != nullptr) {
    if (Status st = deps_.diary->load(); !st.ok()) deps_.log.warn(st.message());
  }
  if (deps_.service != nullptr) deps_.service->ready("starting");

  std::optional<Identity> identity = loaded.value();
  protocol::ChannelOffer offer;  // what enrolling brought; none for a loaded identity
  if (identity) {
    deps_.log.info("identity loaded: agent " + identity->agent_id);
    if (!identity->server_url.empty() && identity->server_url != config_.server_url) {
      deps_.log.warn("agent " + identity->agent_id + " enrolled with " + identity->server_url +
                     " but now reports to " + config_.server_url +
                     "; remove identity.json to enroll with the new collector");
    }
  } else {
    Result<std::optional<Enrollment>> enrolled =
        enroller_.untilEnrolled(facts, deps_.waiter, deps_.random, failures_, stop_);
    if (!enrolled.ok()) return enrolled.error();
    if (enrolled.value()) {
      identity = std::move(enrolled.value()->identity);
      offer = std::move(enrolled.value()->channels);
    }
  }
  if (identity) {
    if (deps_.service != nullptr) deps_.service->ready("reporting as " + identity->agent_id);
    loop_.run(*identity, offer);
  }
  if (deps_.service != nullptr) deps_.service->stopping();
  channels_.stop();
  deps_.log.info("stopped");
  return Status::okStatus();
}

}  // namespace vigil::agent
