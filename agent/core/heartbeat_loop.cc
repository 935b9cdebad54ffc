#include "agent/core/heartbeat_loop.h"

#include <algorithm>

#include "common/time_format.h"

namespace vigil::agent {
namespace {

std::string describeRetry(const ScheduleDecision& d) {
  switch (d.kind) {
    case ScheduleDecision::Kind::kRetryNow:
      return "retrying at once";
    case ScheduleDecision::Kind::kRetryAfter:
      return "retrying in " + secondsText(d.delay) + " as the collector asked (Retry-After)";
    case ScheduleDecision::Kind::kBackoff:
    case ScheduleDecision::Kind::kNextBeat:
    case ScheduleDecision::Kind::kTriggered:
      break;
  }
  return "backing off, retrying in " + secondsText(d.delay) + " (up to " +
         secondsText(d.backoff_ceiling) + ")";
}

}  // namespace

HeartbeatLoop::HeartbeatLoop(const AgentRunnerDeps& deps, const RunnerTimings& timings,
                             HeartbeatScheduler& scheduler, SequenceAllocator& sequence,
                             HeartbeatSender& sender, UdpChannels& channels,
                             LogRateLimiter& failures, StopRequest& stop)
    : deps_(deps),
      timings_(timings),
      scheduler_(scheduler),
      sequence_(sequence),
      sender_(sender),
      channels_(channels),
      failures_(failures),
      stop_(stop),
      wake_detector_(deps.clock) {}

void HeartbeatLoop::run(Identity& identity, const protocol::ChannelOffer& offer) {
  const BootIdentity boot = sender_.readBootIdentity();
  const bool machine_booted =
      boot.boot_id != "unknown" && std::chrono::seconds(boot.uptime_s) < timings_.boot_window;
  Duration delay = scheduler_.firstBeatDelay(machine_booted);
  if (delay > Duration::zero()) {
    deps_.log.info("machine booted " + std::to_string(boot.uptime_s) +
                   " s ago; first heartbeat in " + secondsText(delay) +
                   " (spreads a fleet that boots together)");
  }
  wake_detector_.check();
  channels_.setClockOffset(scheduler_.clockOffset());
  channels_.adopt(identity, offer);

  while (sleepUntilBeat(delay, identity) == WaitEnd::kBeat) {
    const std::optional<Duration> next = beat(identity);
    if (!next) break;
    delay = *next;
  }
  if (stop_.requested()) sayGoodbye(identity);
}

std::optional<Duration> HeartbeatLoop::beat(Identity& identity) {
  protocol::Heartbeat hb = sender_.build(identity);
  channels_.addPeerSightings(hb);
  channels_.addBeaconState(hb);
  const MonoTime attempt_started = deps_.clock.monotonicNow();
  const CollectorAnswer answer = sender_.send(identity, hb, std::nullopt);
  if (stop_.requested()) return std::nullopt;
  const HeartbeatAnswerReading reading = readHeartbeatAnswer(answer);

  const int failures_before = scheduler_.consecutiveFailures();
  const ScheduleDecision decision = scheduler_.onOutcome(reading.outcome);
  // The channels stamp their next datagrams with an offset learnt from this answer.
  channels_.setClockOffset(scheduler_.clockOffset());
  const bool accepted = reading.outcome.kind == HeartbeatOutcome::Kind::kAccepted;
  channels_.noteHeartbeat(identity, accepted, deps_.clock.monotonicNow() - attempt_started,
                          accepted ? std::string() : reading.description);
  const std::string seq = "seq=" + std::to_string(hb.seq);
  using Kind = HeartbeatOutcome::Kind;
  switch (reading.outcome.kind) {
    case Kind::kAccepted:
      onAccepted(identity, hb, reading, decision, failures_before);
      break;
    case Kind::kStaleTimestamp:
      deps_.log.warn("heartbeat " + seq + " refused: " + reading.description +
                     "; clock offset set to " + signedSecondsText(scheduler_.clockOffset()) + ", " +
                     describeRetry(decision));
      break;
    case Kind::kReplayedSequence:
      sequence_.jumpForward(decision.sequence_jump);
      sender_.logSequenceStatus();
      deps_.log.warn("heartbeat " + seq + " refused: " + reading.description +
                     "; sequence moved forward to " + std::to_string(sequence_.peekNext()) + ", " +
                     describeRetry(decision));
      break;
    case Kind::kOverloaded:
    case Kind::kFailed:
      onFailed(identity, hb, answer, reading, decision, attempt_started);
      break;
  }
  return decision.delay;
}

void HeartbeatLoop::onAccepted(Identity& identity, const protocol::Heartbeat& hb,
                               const HeartbeatAnswerReading& reading,
                               const ScheduleDecision& decision, int failures_before) {
  std::string line = "heartbeat accepted seq=" + std::to_string(hb.seq);
  if (failures_before > 0 && failing_since_) {
    line += " after " + std::to_string(failures_before) + " failed attempt" +
            (failures_before == 1 ? "" : "s") + " over " +
            secondsText(deps_.clock.monotonicNow() - *failing_since_);
  }
  if (!hb.outages.empty()) {
    line += "; outage diary of " + std::to_string(hb.outages.size()) + " entr" +
            (hb.outages.size() == 1 ? "y" : "ies") + " delivered";
    if (Status st = deps_.diary->delivered(); !st.ok()) {
      deps_.log.warn("cannot clear the outage diary: " + st.message());
    }
  }
  channels_.peerSightingsDelivered(hb);
  if (scheduler_.verifying()) line += "; verifying (collector asked for faster beats)";
  const bool was_failing = failing_since_.has_value();
  failing_since_.reset();
  failures_.reset();
  line += ", next in " + secondsText(decision.delay);
  if (was_failing || failures_before > 0) {
    deps_.log.info(line);
  } else {
    deps_.log.debug(line);
  }
  channels_.adopt(identity, reading.channels);
}

void HeartbeatLoop::onFailed(const Identity& identity, const protocol::Heartbeat& hb,
                             const CollectorAnswer& answer, const HeartbeatAnswerReading& reading,
                             const ScheduleDecision& decision, MonoTime attempt_started) {
  if (!failing_since_) failing_since_ = attempt_started;
  if (deps_.diary != nullptr) {
    std::string cause = reading.cause;
    if (!answer.transport_ok && hb.net && !hb.net->default_route) {
      cause = protocol::causes::kNoNetwork;
    }
    if (Status st = deps_.diary->recordFailure(hb.sent_at_ms, cause); !st.ok()) {
      failures_.failure("diary", "cannot write the outage diary: " + st.message(), false);
    }
  }
  if (reading.error_code == protocol::errors::kUnknownAgent) {
    failures_.failure("unknown_agent",
                      "the collector does not know agent " + identity.agent_id + " (" +
                          reading.description +
                          "): it was retired or deleted; remove identity.json and set an "
                          "enrollment token to enroll again; " +
                          describeRetry(decision),
                      true);
  } else {
    const std::string key =
        reading.cause + ":" + std::to_string(answer.http_status) + ":" + reading.error_code;
    failures_.failure(key,
                      "heartbeat seq=" + std::to_string(hb.seq) +
                          " failed: " + reading.description + "; " + describeRetry(decision),
                      false);
  }
}

void HeartbeatLoop::sayGoodbye(const Identity& identity) {
  // A goodbye just sent for sleep or shutdown need not be repeated for the stop that follows.
  const bool recent_goodbye =
      goodbye_sent_at_ && deps_.clock.monotonicNow() - *goodbye_sent_at_ < std::chrono::minutes(1);
  const char* reason = stop_.beginGoodbye();
  if (!recent_goodbye && reason != nullptr) sendGoodbye(identity, reason);
}

void HeartbeatLoop::sendGoodbye(const Identity& identity, const char* reason) {
  protocol::Heartbeat hb = sender_.build(identity);
  channels_.addPeerSightings(hb);
  channels_.addBeaconState(hb);
  hb.shutdown = reason;
  const CollectorAnswer answer = sender_.send(identity, hb, timings_.goodbye_timeout);
  const HeartbeatAnswerReading reading = readHeartbeatAnswer(answer);
  goodbye_sent_at_ = deps_.clock.monotonicNow();
  if (reading.outcome.kind == HeartbeatOutcome::Kind::kAccepted) {
    if (deps_.diary != nullptr && !hb.outages.empty()) (void)deps_.diary->delivered();
    channels_.peerSightingsDelivered(hb);
    deps_.log.info(std::string("goodbye notice (") + reason + ") delivered");
  } else {
    deps_.log.warn(std::string("goodbye notice (") + reason +
                   ") not delivered: " + reading.description);
  }
}

HeartbeatLoop::WaitEnd HeartbeatLoop::sleepUntilBeat(Duration delay, const Identity& identity) {
  const MonoTime start = deps_.clock.monotonicNow();
  MonoTime deadline = start + delay;
  auto pullIn = [&](BeatTrigger trigger, const std::string& why) {
    const ScheduleDecision d = scheduler_.onTrigger(trigger);
    const MonoTime at = deps_.clock.monotonicNow() + d.delay;
    if (at < deadline) {
      deadline = at;
      deps_.log.info(why + "; heartbeat in " + secondsText(d.delay));
    }
  };
  while (true) {
    if (stop_.requested()) return WaitEnd::kStop;
    const MonoTime now = deps_.clock.monotonicNow();
    if (now >= deadline) return WaitEnd::kBeat;
    Duration sleep = std::min<Duration>(deadline - now, timings_.max_sleep);
    if (deps_.service != nullptr) {
      if (auto alive = deps_.service->aliveInterval()) sleep = std::min(sleep, *alive);
    }
    const WakeReason why = deps_.waiter.waitFor(sleep);
    if (deps_.service != nullptr) deps_.service->alive();
    if (why == WakeReason::kStopped) return WaitEnd::kStop;
    if (std::optional<Duration> jump = wake_detector_.check()) {
      pullIn(BeatTrigger::kResumed, "the machine woke up (clock ran " + secondsText(*jump) +
                                        " ahead of the monotonic clock)");
    }
    if (why != WakeReason::kEvent) continue;
    for (SystemEvent event : deps_.waiter.takeEvents()) {
      switch (event) {
        case SystemEvent::kNetworkChanged:
          pullIn(BeatTrigger::kNetworkChanged, "network changed");
          break;
        case SystemEvent::kResumed:
          pullIn(BeatTrigger::kResumed, "the machine woke up");
          break;
        case SystemEvent::kBeaconUnanswered:
          // The beacon fallback: the collector must hear from us on one channel or the other.
          // While heartbeats fail, the backoff's own retries go on and this adds nothing.
          if (scheduler_.consecutiveFailures() == 0) {
            const ScheduleDecision d = scheduler_.onTrigger(BeatTrigger::kBeaconUnanswered);
            const MonoTime at = deps_.clock.monotonicNow() + d.delay;
            if (at < deadline) {
              deadline = at;
              deps_.log.debug("a beacon got no ack in time; heartbeat in " + secondsText(d.delay) +
                              " (beacon fallback)");
            }
          }
          break;
        case SystemEvent::kSuspending:
          sendGoodbye(identity, protocol::shutdown_reasons::kSleep);
          if (deps_.power != nullptr) deps_.power->releaseHold();
          break;
        case SystemEvent::kSystemShutdown:
          sendGoodbye(identity, protocol::shutdown_reasons::kSystemShutdown);
          if (deps_.power != nullptr) deps_.power->releaseHold();
          break;
        case SystemEvent::kSessionLogoff:
        case SystemEvent::kServiceStop:
          return WaitEnd::kStop;  // stop() was called by onSystemEvent
      }
    }
  }
}

}  // namespace vigil::agent
