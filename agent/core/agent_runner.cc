#include "agent/core/agent_runner.h"

#include <algorithm>
#include <utility>

#include "agent/core/version.h"
#include "common/protocol.h"
#include "common/time_format.h"

namespace vigil::agent {
namespace {

constexpr char kMethodPost[] = "POST";

// Keeps a string within the protocol's limit without cutting a UTF-8 sequence in two.
std::string fitString(std::string s) {
  if (s.size() <= protocol::kMaxStringBytes) return s;
  size_t cut = protocol::kMaxStringBytes;
  while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) --cut;
  s.resize(cut);
  return s;
}

// "HTTP 401 unknown_agent: agent was retired"; the error body is read when it is Vigil's.
std::string describeHttp(const CollectorAnswer& answer, std::string* error_code,
                         std::optional<int64_t>* server_time_ms) {
  std::string out = "HTTP " + std::to_string(answer.http_status);
  auto decoded = protocol::decodeErrorBody(answer.body);
  if (!decoded.ok()) return out + " (no Vigil error body)";
  if (error_code != nullptr) *error_code = decoded->error;
  if (server_time_ms != nullptr) *server_time_ms = decoded->server_time_ms;
  out += " " + decoded->error;
  if (!decoded->message.empty()) out += ": " + decoded->message;
  return out;
}

// "malformed_json" or "invalid_field next_interval_s".
std::string decodeProblem(const protocol::DecodeError& e) {
  return e.field.empty() ? e.code : e.code + " " + e.field;
}

// "network error: Failed to connect ..." or, when an answer came but was not HTTP we can use,
// "bad answer: the answer is larger than 65536 bytes".
std::string transportProblem(const CollectorAnswer& answer) {
  const bool bad_answer = answer.transport_cause == protocol::causes::kBadAnswer;
  return (bad_answer ? "bad answer: " : "network error: ") + answer.transport_error;
}

// A generator of its own for a channel's thread, seeded from the runner's.
UniformRandom channelRandom(UniformRandom& parent) {
  return makeUniformRandom(static_cast<uint64_t>(parent() * 9007199254740992.0));
}

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

HeartbeatAnswerReading readHeartbeatAnswer(const CollectorAnswer& answer) {
  HeartbeatAnswerReading r;
  using Kind = HeartbeatOutcome::Kind;
  if (!answer.transport_ok) {
    r.outcome.kind = Kind::kFailed;
    r.description = transportProblem(answer);
    r.cause = answer.transport_cause.empty() ? protocol::causes::kOther : answer.transport_cause;
    return r;
  }
  if (answer.http_status == 200) {
    auto decoded = protocol::decodeHeartbeatResponse(answer.body);
    if (decoded.ok()) {
      r.outcome.kind = Kind::kAccepted;
      r.outcome.next_interval_s = decoded->next_interval_s;
      r.outcome.verify_interval_s = decoded->verify_interval_s;
      r.outcome.verify_for_s = decoded->verify_for_s;
      r.channels = decoded->channels;
      r.description = "HTTP 200";
    } else {
      r.outcome.kind = Kind::kFailed;
      r.cause = protocol::causes::kBadAnswer;
      r.description = "HTTP 200 with an unreadable body (" + decodeProblem(decoded.error()) + ")";
    }
    return r;
  }
  std::optional<int64_t> server_time_ms;
  r.description = describeHttp(answer, &r.error_code, &server_time_ms);
  if (answer.http_status == 401 && r.error_code == protocol::errors::kStaleTimestamp) {
    r.outcome.kind = Kind::kStaleTimestamp;
    r.outcome.server_time_ms = server_time_ms;
  } else if (answer.http_status == 409 && r.error_code == protocol::errors::kReplayedSequence) {
    r.outcome.kind = Kind::kReplayedSequence;
  } else if (answer.http_status == 429 || answer.http_status == 503) {
    r.outcome.kind = Kind::kOverloaded;
    if (answer.retry_after_s) r.outcome.retry_after = std::chrono::seconds(*answer.retry_after_s);
  } else {
    r.outcome.kind = Kind::kFailed;
  }
  if (r.outcome.kind == Kind::kOverloaded) {
    r.cause = protocol::causes::kOverloaded;
  } else if (r.error_code.empty()) {
    r.cause = protocol::causes::kBadAnswer;  // not a Vigil answer: a proxy, a wrong server
  } else {
    r.cause = protocol::causes::kHttpError;
  }
  return r;
}

AgentRunner::AgentRunner(AgentConfig config, AgentRunnerDeps deps, BackoffOptions backoff,
                         RunnerTimings timings)
    : config_(std::move(config)),
      deps_(std::move(deps)),
      backoff_options_(backoff),
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
      wake_detector_(deps_.clock),
      config_hash_(configHash(config_)) {}

AgentRunner::~AgentRunner() { stopChannels(); }

void AgentRunner::stop() {
  // Under stop_mu_, so the loop's resume() for the goodbye can only come after this cancel,
  // and a second stop during the goodbye does not cancel it.
  std::lock_guard<std::mutex> lock(stop_mu_);
  if (stop_reason_ == nullptr) {
    stop_reason_ = shutdown_announced_ ? protocol::shutdown_reasons::kSystemShutdown
                                       : protocol::shutdown_reasons::kServiceStop;
  }
  stop_requested_.store(true);
  deps_.waiter.requestStop();
  if (!goodbye_started_) deps_.client.cancel();
}

void AgentRunner::onSystemEvent(SystemEvent event) {
  switch (event) {
    case SystemEvent::kServiceStop:
      stop();
      return;
    case SystemEvent::kSessionLogoff: {
      std::lock_guard<std::mutex> lock(stop_mu_);
      if (stop_reason_ == nullptr) stop_reason_ = protocol::shutdown_reasons::kLogoff;
    }
      stop();
      return;
    case SystemEvent::kSystemShutdown: {
      // A stop that follows at once (Windows preshutdown, systemd's SIGTERM) says why.
      std::lock_guard<std::mutex> lock(stop_mu_);
      shutdown_announced_ = true;
    }
      deps_.waiter.onSystemEvent(event);
      return;
    case SystemEvent::kNetworkChanged:
    case SystemEvent::kResumed:
    case SystemEvent::kSuspending:
      deps_.waiter.onSystemEvent(event);
      return;
  }
}

SystemFacts AgentRunner::readFacts() {
  Result<SystemFacts> facts = deps_.facts.facts();
  SystemFacts out;
  if (facts.ok()) {
    out = facts.value();
  } else {
    deps_.log.warn("cannot read system facts: " + facts.error().toString());
  }
  if (out.hostname.empty()) {
    deps_.log.warn("host name unknown; reporting 'unknown'");
    out.hostname = "unknown";
  }
  out.hostname = fitString(out.hostname);
  out.os_name = fitString(out.os_name);
  out.os_version = fitString(out.os_version);
  out.arch = fitString(out.arch);
  return out;
}

BootIdentity AgentRunner::readBootIdentity() {
  Result<BootIdentity> boot = deps_.boot.bootIdentity();
  if (boot.ok() && !boot->boot_id.empty()) {
    last_boot_ = boot.value();
    last_boot_->boot_id = fitString(last_boot_->boot_id);
    return *last_boot_;
  }
  deps_.log.warn("cannot read the boot identity: " +
                 (boot.ok() ? std::string("empty boot id") : boot.error().toString()));
  if (last_boot_) return *last_boot_;
  return BootIdentity{"unknown", 0};
}

void AgentRunner::logSequenceStatus() {
  const Status& st = sequence_.persistStatus();
  if (!st.ok() && !sequence_error_logged_) {
    deps_.log.warn("cannot store the sequence reservation (" + st.toString() +
                   "); heartbeats continue, numbering may repeat after a restart");
    sequence_error_logged_ = true;
  } else if (st.ok() && sequence_error_logged_) {
    deps_.log.info("sequence reservation stored again");
    sequence_error_logged_ = false;
  }
}

Status AgentRunner::run() {
  deps_.log.info(std::string("vigil-agent ") + kAgentVersion + " starting; collector " +
                 config_.server_url + ", state in " + config_.state_dir + ", config " +
                 config_hash_);
  facts_ = readFacts();

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
  logSequenceStatus();
  if (deps_.diary != nullptr) {
    if (Status st = deps_.diary->load(); !st.ok()) deps_.log.warn(st.message());
  }
  if (deps_.service != nullptr) deps_.service->ready("starting");

  std::optional<Identity> identity = loaded.value();
  if (identity) {
    deps_.log.info("identity loaded: agent " + identity->agent_id);
    if (!identity->server_url.empty() && identity->server_url != config_.server_url) {
      deps_.log.warn("agent " + identity->agent_id + " enrolled with " + identity->server_url +
                     " but now reports to " + config_.server_url +
                     "; remove identity.json to enroll with the new collector");
    }
  } else {
    Result<std::optional<Identity>> enrolled = enroll();
    if (!enrolled.ok()) return enrolled.error();
    identity = enrolled.value();
  }
  if (identity) {
    if (deps_.service != nullptr) deps_.service->ready("reporting as " + identity->agent_id);
    heartbeatLoop(*identity);
  }
  if (deps_.service != nullptr) deps_.service->stopping();
  stopChannels();
  deps_.log.info("stopped");
  return Status::okStatus();
}

AgentRunner::EnrollAttempt AgentRunner::attemptEnroll() {
  protocol::EnrollRequest request;
  request.enroll_token = config_.enroll_token;
  request.facts.hostname = facts_.hostname;
  request.facts.os_name = facts_.os_name;
  request.facts.os_version = facts_.os_version;
  request.facts.arch = facts_.arch;
  request.facts.agent_version = kAgentVersion;

  deps_.log.info("enrolling as " + facts_.hostname + " with " + config_.server_url);
  const CollectorAnswer answer = deps_.client.enroll(request);
  EnrollAttempt attempt;
  attempt.failure_key = answer.transport_ok ? "enroll:http:" + std::to_string(answer.http_status)
                                            : "enroll:net:" + answer.transport_cause;
  if (!answer.transport_ok) {
    attempt.problem = transportProblem(answer);
    return attempt;
  }
  if (answer.http_status == 201) {
    auto decoded = protocol::decodeEnrollResponse(answer.body);
    if (decoded.ok()) {
      Identity identity{decoded->agent_id, decoded->secret, config_.server_url,
                        decoded->channels.peer_key.value_or("")};
      if (Status st = deps_.identity_store.save(identity); !st.ok()) {
        attempt.store_error =
            Status(st.code(), "enrolled as " + identity.agent_id +
                                  " but cannot store the identity: " + st.message());
        return attempt;
      }
      scheduler_.adoptInterval(decoded->heartbeat_interval_s);
      offer_ = decoded->channels;
      deps_.log.info("enrolled as " + identity.agent_id + "; heartbeat interval " +
                     std::to_string(*scheduler_.intervalInUseS()) + " s");
      attempt.identity = std::move(identity);
      return attempt;
    }
    attempt.problem = "HTTP 201 with an unreadable body (" + decodeProblem(decoded.error()) + ")";
    return attempt;
  }
  std::string code;
  attempt.problem = describeHttp(answer, &code, nullptr);
  attempt.token_refused = code == protocol::errors::kInvalidEnrollToken;
  attempt.refused =
      attempt.token_refused || (answer.http_status >= 400 && answer.http_status < 500 &&
                                answer.http_status != 408 && answer.http_status != 429);
  if ((answer.http_status == 429 || answer.http_status == 503) && answer.retry_after_s) {
    attempt.retry_after = std::clamp<Duration>(std::chrono::seconds(*answer.retry_after_s),
                                               std::chrono::seconds(1), backoff_options_.cap);
  }
  return attempt;
}

Result<std::optional<Identity>> AgentRunner::enroll() {
  if (config_.enroll_token.empty()) {
    return Status::failedPrecondition(
        "not enrolled and no enrollment token: set enroll_token in the config file, "
        "VIGIL_ENROLL_TOKEN or --token");
  }
  Backoff backoff(backoff_options_, deps_.random);
  while (!stop_requested_.load()) {
    EnrollAttempt attempt = attemptEnroll();
    if (stop_requested_.load()) break;
    if (!attempt.store_error.ok()) return attempt.store_error;
    if (attempt.identity) return std::move(attempt.identity);

    const Duration ceiling = backoff.ceiling();
    Duration delay = backoff.nextDelay();
    std::string next;
    if (attempt.retry_after) {
      delay = *attempt.retry_after;
      next = "retrying in " + secondsText(delay) + " as the collector asked (Retry-After)";
    } else {
      next = "backing off, retrying in " + secondsText(delay) + " (up to " + secondsText(ceiling) +
             ")";
    }
    if (attempt.token_refused) {
      logFailure("enroll:token",
                 "enrollment token refused (" + attempt.problem + "): check enroll_token; " + next,
                 true);
    } else {
      logFailure(attempt.failure_key, "enrollment failed: " + attempt.problem + "; " + next, false);
    }
    if (deps_.waiter.waitFor(delay) == WakeReason::kStopped) break;
    deps_.waiter.takeEvents();  // nothing to report yet; an event only ends the wait early
  }
  return std::optional<Identity>();
}

bool AgentRunner::prepareStateForCommand(CommandOutcome* outcome) {
  facts_ = readFacts();
  const Status load_status = sequence_.start();
  if (const Status& persisted = sequence_.persistStatus(); !persisted.ok()) {
    *outcome = {CommandOutcome::Kind::kFailed, "state directory " + config_.state_dir +
                                                   " is not writable: " + persisted.message()};
    return false;
  }
  if (!load_status.ok()) {
    deps_.log.warn("sequence reservation unreadable (" + load_status.toString() +
                   "); numbering restarts at 1 and the collector will move it forward");
  }
  return true;
}

CommandOutcome AgentRunner::enrollOnce(bool force) {
  using Kind = CommandOutcome::Kind;
  Result<std::optional<Identity>> loaded = deps_.identity_store.load();
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
  if (!prepareStateForCommand(&outcome)) return outcome;
  EnrollAttempt attempt = attemptEnroll();
  if (!attempt.store_error.ok()) return {Kind::kFailed, attempt.store_error.message()};
  if (attempt.identity) {
    std::string done =
        "enrolled as agent " + attempt.identity->agent_id + " with " + config_.server_url;
    if (loaded.ok() && loaded.value()) {
      done += "; it replaces agent " + loaded.value()->agent_id + " of " +
              loaded.value()->server_url + ", which an admin should retire there";
    }
    return {Kind::kDone, done};
  }
  if (attempt.refused) return {Kind::kRefused, "enrollment refused: " + attempt.problem};
  return {Kind::kUnreachable, "enrollment failed: " + attempt.problem + "; nothing was stored"};
}

CommandOutcome AgentRunner::retire() {
  using Kind = CommandOutcome::Kind;
  Result<std::optional<Identity>> loaded = deps_.identity_store.load();
  if (!loaded.ok()) return {Kind::kFailed, loaded.error().message()};
  if (!loaded.value()) return {Kind::kDone, "not enrolled: nothing to retire"};
  const Identity identity = *loaded.value();
  CommandOutcome outcome;
  if (!prepareStateForCommand(&outcome)) return outcome;

  auto forget = [&](const std::string& what) -> CommandOutcome {
    if (Status st = deps_.identity_store.remove(); !st.ok()) {
      return {Kind::kFailed, what + ", but " + st.message()};
    }
    return {Kind::kDone, what + "; identity removed"};
  };
  // A refusal for the clock or the sequence corrects it, as a heartbeat's would, and tries
  // once more.
  std::string problem;
  bool collector_side = false;  // not reached, failed, or shedding load: worth repeating
  for (int attempt = 0; attempt < 2; ++attempt) {
    protocol::Heartbeat hb = buildHeartbeat(identity);
    hb.shutdown = protocol::shutdown_reasons::kUninstall;
    const CollectorAnswer answer = send(identity, hb, std::nullopt);
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

void AgentRunner::logFailure(const std::string& key, const std::string& line, bool error) {
  const MonoTime now = deps_.clock.monotonicNow();
  if (key == last_failure_key_ && last_failure_logged_at_ &&
      now - *last_failure_logged_at_ < timings_.repeat_log_every) {
    ++suppressed_failures_;
    return;
  }
  std::string text = line;
  if (suppressed_failures_ > 0) {
    text += " (" + std::to_string(suppressed_failures_) + " similar failure" +
            (suppressed_failures_ == 1 ? "" : "s") + " not logged)";
  }
  if (error) {
    deps_.log.error(text);
  } else {
    deps_.log.warn(text);
  }
  last_failure_key_ = key;
  last_failure_logged_at_ = now;
  suppressed_failures_ = 0;
}

void AgentRunner::syncClockOffset() {
  if (beacon_) beacon_->setClockOffset(scheduler_.clockOffset());
  if (peers_) peers_->setClockOffset(scheduler_.clockOffset());
}

protocol::Heartbeat AgentRunner::buildHeartbeat(const Identity& identity) {
  const BootIdentity boot = readBootIdentity();
  facts_ = readFacts();
  protocol::Heartbeat hb;
  hb.agent_id = identity.agent_id;
  hb.seq = sequence_.next();
  logSequenceStatus();
  hb.boot_id = boot.boot_id;
  hb.uptime_s = boot.uptime_s;
  hb.agent_version = kAgentVersion;
  hb.sent_at_ms = scheduler_.correctedWallMs();
  hb.interval_s = scheduler_.intervalInUseS();
  hb.hostname = facts_.hostname;
  if (!facts_.os_name.empty()) hb.os_name = facts_.os_name;
  if (!facts_.os_version.empty()) hb.os_version = facts_.os_version;
  if (!config_hash_.empty()) hb.config_hash = config_hash_;
  if (deps_.network != nullptr) {
    Result<NetworkState> net = deps_.network->state();
    if (net.ok()) {
      protocol::NetworkSelfCheck check;
      check.default_route = net->default_route;
      for (const std::string& a : net->addresses) {
        if (check.addresses.size() >= protocol::kMaxAddresses) break;
        check.addresses.push_back(fitString(a));
      }
      hb.net = std::move(check);
    }
  }
  if (deps_.diary != nullptr) hb.outages = deps_.diary->pending(hb.sent_at_ms);
  if (peers_) {
    hb.peers = peers_->sightings();
    hb.peer_key_id = peers_->keyId();
  }
  return hb;
}

CollectorAnswer AgentRunner::send(const Identity& identity, const protocol::Heartbeat& hb,
                                  std::optional<Duration> timeout) {
  SignedHeartbeat request;
  request.agent_id = identity.agent_id;
  request.timestamp_ms = hb.sent_at_ms;
  request.body = protocol::encode(hb);
  Result<std::string> signature = protocol::sign(
      identity.secret, kMethodPost, protocol::kHeartbeatPath, request.timestamp_ms, request.body);
  if (!signature.ok()) {
    CollectorAnswer a;
    a.transport_error = "cannot sign: " + signature.error().toString();
    a.transport_cause = protocol::causes::kOther;
    return a;
  }
  request.signature = std::move(signature.value());
  deps_.log.debug("sending heartbeat seq=" + std::to_string(hb.seq));
  return deps_.client.heartbeat(request, timeout);
}

void AgentRunner::sendGoodbye(const Identity& identity, const char* reason) {
  protocol::Heartbeat hb = buildHeartbeat(identity);
  hb.shutdown = reason;
  const CollectorAnswer answer = send(identity, hb, timings_.goodbye_timeout);
  const HeartbeatAnswerReading reading = readHeartbeatAnswer(answer);
  goodbye_sent_at_ = deps_.clock.monotonicNow();
  if (reading.outcome.kind == HeartbeatOutcome::Kind::kAccepted) {
    if (deps_.diary != nullptr && !hb.outages.empty()) (void)deps_.diary->delivered();
    if (peers_) peers_->reported(hb.peers);
    deps_.log.info(std::string("goodbye notice (") + reason + ") delivered");
  } else {
    deps_.log.warn(std::string("goodbye notice (") + reason +
                   ") not delivered: " + reading.description);
  }
}

AgentRunner::WaitEnd AgentRunner::sleepUntilBeat(Duration delay, const Identity& identity) {
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
    if (stop_requested_.load()) return WaitEnd::kStop;
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

void AgentRunner::heartbeatLoop(Identity& identity) {
  const BootIdentity boot = readBootIdentity();
  const bool machine_booted =
      boot.boot_id != "unknown" && std::chrono::seconds(boot.uptime_s) < timings_.boot_window;
  Duration delay = scheduler_.firstBeatDelay(machine_booted);
  if (delay > Duration::zero()) {
    deps_.log.info("machine booted " + std::to_string(boot.uptime_s) +
                   " s ago; first heartbeat in " + secondsText(delay) +
                   " (spreads a fleet that boots together)");
  }
  wake_detector_.check();
  adoptChannels(identity, offer_);

  while (sleepUntilBeat(delay, identity) == WaitEnd::kBeat) {
    const protocol::Heartbeat hb = buildHeartbeat(identity);
    const MonoTime attempt_started = deps_.clock.monotonicNow();
    const CollectorAnswer answer = send(identity, hb, std::nullopt);
    if (stop_requested_.load()) break;
    const HeartbeatAnswerReading reading = readHeartbeatAnswer(answer);

    const int failures_before = scheduler_.consecutiveFailures();
    const ScheduleDecision decision = scheduler_.onOutcome(reading.outcome);
    // The channels stamp their next datagrams with an offset learnt from this answer.
    syncClockOffset();
    const bool accepted = reading.outcome.kind == HeartbeatOutcome::Kind::kAccepted;
    if (beacon_ && beacon_->noteHeartbeat(accepted, deps_.clock.monotonicNow() - attempt_started,
                                          accepted ? std::string() : reading.description)) {
      startBeacon(identity);  // wakes its worker, asleep until the end of the pause
    }
    const std::string seq = "seq=" + std::to_string(hb.seq);
    using Kind = HeartbeatOutcome::Kind;
    switch (reading.outcome.kind) {
      case Kind::kAccepted: {
        std::string line = "heartbeat accepted " + seq;
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
        if (peers_) peers_->reported(hb.peers);
        if (scheduler_.verifying()) line += "; verifying (collector asked for faster beats)";
        const bool was_failing = failing_since_.has_value();
        failing_since_.reset();
        last_failure_key_.clear();
        suppressed_failures_ = 0;
        line += ", next in " + secondsText(decision.delay);
        if (was_failing || failures_before > 0) {
          deps_.log.info(line);
        } else {
          deps_.log.debug(line);
        }
        adoptChannels(identity, reading.channels);
        break;
      }
      case Kind::kStaleTimestamp: {
        deps_.log.warn("heartbeat " + seq + " refused: " + reading.description +
                       "; clock offset set to " + signedSecondsText(scheduler_.clockOffset()) +
                       ", " + describeRetry(decision));
        break;
      }
      case Kind::kReplayedSequence: {
        sequence_.jumpForward(decision.sequence_jump);
        logSequenceStatus();
        deps_.log.warn("heartbeat " + seq + " refused: " + reading.description +
                       "; sequence moved forward to " + std::to_string(sequence_.peekNext()) +
                       ", " + describeRetry(decision));
        break;
      }
      case Kind::kOverloaded:
      case Kind::kFailed: {
        if (!failing_since_) failing_since_ = attempt_started;
        if (deps_.diary != nullptr) {
          std::string cause = reading.cause;
          if (!answer.transport_ok && hb.net && !hb.net->default_route) {
            cause = protocol::causes::kNoNetwork;
          }
          if (Status st = deps_.diary->recordFailure(hb.sent_at_ms, cause); !st.ok()) {
            logFailure("diary", "cannot write the outage diary: " + st.message(), false);
          }
        }
        if (reading.error_code == protocol::errors::kUnknownAgent) {
          logFailure("unknown_agent",
                     "the collector does not know agent " + identity.agent_id + " (" +
                         reading.description +
                         "): it was retired or deleted; remove identity.json and set an "
                         "enrollment token to enroll again; " +
                         describeRetry(decision),
                     true);
        } else {
          const std::string key =
              reading.cause + ":" + std::to_string(answer.http_status) + ":" + reading.error_code;
          logFailure(key,
                     "heartbeat " + seq + " failed: " + reading.description + "; " +
                         describeRetry(decision),
                     false);
        }
        break;
      }
    }
    delay = decision.delay;
  }
  if (!stop_requested_.load()) return;
  // A goodbye just sent for sleep or shutdown need not be repeated for the stop that follows.
  const bool recent_goodbye =
      goodbye_sent_at_ && deps_.clock.monotonicNow() - *goodbye_sent_at_ < std::chrono::minutes(1);
  const char* reason = nullptr;
  {
    std::lock_guard<std::mutex> lock(stop_mu_);
    reason = stop_reason_;
    goodbye_started_ = true;
    deps_.client.resume();
  }
  if (!recent_goodbye && reason != nullptr) sendGoodbye(identity, reason);
}

void AgentRunner::adoptChannels(Identity& identity, const protocol::ChannelOffer& offer) {
  // Beacon: (re)start when the offer names a port or interval other than the running one.
  if (offer.beacon_port) {
    const bool changed = !offer_.beacon_port || *offer_.beacon_port != *offer.beacon_port ||
                         offer_.beacon_interval_s != offer.beacon_interval_s;
    offer_.beacon_port = offer.beacon_port;
    offer_.beacon_interval_s = offer.beacon_interval_s;
    if (changed || !beacon_) startBeacon(identity);
  }
  // Peer key: store a new one and restart the witness with it.
  if (offer.peer_key && *offer.peer_key != identity.peer_key) {
    identity.peer_key = *offer.peer_key;
    if (Status st = deps_.identity_store.save(identity); !st.ok()) {
      deps_.log.warn("cannot store the site peer key: " + st.message());
    }
    if (peer_worker_) peer_worker_->stop();
    peer_worker_.reset();
    peers_.reset();
  }
  if (!identity.peer_key.empty() && !peers_ && !peer_bind_failed_logged_) {
    startPeerWitness(identity);
  }
}

void AgentRunner::startBeacon(const Identity& identity) {
  if (beacon_worker_) beacon_worker_->stop();
  beacon_worker_.reset();
  beacon_.reset();
  if (!config_.beacon || deps_.udp == nullptr || !offer_.beacon_port) return;
  Result<ServerUrl> url = parseServerUrl(config_.server_url);
  if (!url.ok()) return;
  std::string host = url->host;
  const bool ipv6 = host.size() > 2 && host.front() == '[';
  if (ipv6) host = host.substr(1, host.size() - 2);
  UdpSocketOptions options;
  options.ipv6 = ipv6;
  Result<std::unique_ptr<UdpSocket>> socket = deps_.udp->open(options);
  if (!socket.ok()) {
    deps_.log.warn("beacon: cannot open a UDP socket: " + socket.error().message() +
                   "; heartbeats only");
    return;
  }
  BeaconTarget target;
  target.host = host;
  target.port = static_cast<uint16_t>(*offer_.beacon_port);
  target.interval = std::chrono::seconds(offer_.beacon_interval_s.value_or(15));
  target.agent_id = identity.agent_id;
  target.secret = identity.secret;
  beacon_ =
      std::make_unique<BeaconChannel>(target, deps_.clock, channelRandom(deps_.random), deps_.log);
  beacon_->setClockOffset(scheduler_.clockOffset());
  beacon_worker_ =
      std::make_unique<DatagramWorker>(*beacon_, std::move(socket.value()), deps_.clock, deps_.log);
  beacon_worker_->start();
  deps_.log.info("beacon: every " + std::to_string(offer_.beacon_interval_s.value_or(15)) +
                 " s to udp " + host + ":" + std::to_string(*offer_.beacon_port));
}

void AgentRunner::startPeerWitness(const Identity& identity) {
  if (peer_worker_) peer_worker_->stop();
  peer_worker_.reset();
  peers_.reset();
  if (!config_.peer_witness || deps_.udp == nullptr) return;
  UdpSocketOptions options;
  options.bind_port = static_cast<uint16_t>(config_.peer_port);
  options.broadcast = true;
  Result<std::unique_ptr<UdpSocket>> socket = deps_.udp->open(options);
  if (!socket.ok()) {
    deps_.log.warn("peer witness: cannot bind udp port " + std::to_string(config_.peer_port) +
                   ": " + socket.error().message() + "; LAN peers will not hear this agent");
    peer_bind_failed_logged_ = true;
    return;
  }
  PeerWitnessOptions o;
  o.interval = std::chrono::seconds(config_.peer_interval_s);
  o.port = static_cast<uint16_t>(config_.peer_port);
  o.destinations = config_.peer_broadcast;
  UdpSocketFactory* udp = deps_.udp;
  peers_ = std::make_unique<PeerWitness>(
      identity.agent_id, identity.peer_key, deps_.clock, channelRandom(deps_.random),
      [udp] { return udp->broadcastAddresses(); }, o);
  peers_->setClockOffset(scheduler_.clockOffset());
  peer_worker_ =
      std::make_unique<DatagramWorker>(*peers_, std::move(socket.value()), deps_.clock, deps_.log);
  peer_worker_->start();
  deps_.log.info("peer witness: announcing every " + std::to_string(config_.peer_interval_s) +
                 " s on udp port " + std::to_string(config_.peer_port) + " (key " +
                 peers_->keyId() + ")");
}

void AgentRunner::stopChannels() {
  if (beacon_worker_) beacon_worker_->stop();
  if (peer_worker_) peer_worker_->stop();
  beacon_worker_.reset();
  peer_worker_.reset();
  beacon_.reset();
  peers_.reset();
}

}  // namespace vigil::agent
