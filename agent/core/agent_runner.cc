#include "agent/core/agent_runner.h"

#include <algorithm>
#include <cstdio>
#include <utility>

#include "agent/core/version.h"
#include "common/protocol.h"

namespace vigil::agent {
namespace {

constexpr char kMethodPost[] = "POST";

// "58.3 s"
std::string seconds(Duration d) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f s", std::chrono::duration<double>(d).count());
  return buf;
}

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

std::string describeRetry(const ScheduleDecision& d) {
  switch (d.kind) {
    case ScheduleDecision::Kind::kRetryNow:
      return "retrying at once";
    case ScheduleDecision::Kind::kRetryAfter:
      return "retrying in " + seconds(d.delay) + " as the collector asked (Retry-After)";
    case ScheduleDecision::Kind::kBackoff:
    case ScheduleDecision::Kind::kNextBeat:
      break;
  }
  return "backing off, retrying in " + seconds(d.delay) + " (up to " + seconds(d.backoff_ceiling) +
         ")";
}

}  // namespace

HeartbeatAnswerReading readHeartbeatAnswer(const CollectorAnswer& answer) {
  HeartbeatAnswerReading r;
  using Kind = HeartbeatOutcome::Kind;
  if (!answer.transport_ok) {
    r.outcome.kind = Kind::kFailed;
    r.description = "network error: " + answer.transport_error;
    return r;
  }
  if (answer.http_status == 200) {
    auto decoded = protocol::decodeHeartbeatResponse(answer.body);
    if (decoded.ok()) {
      r.outcome.kind = Kind::kAccepted;
      r.outcome.next_interval_s = decoded->next_interval_s;
      r.description = "HTTP 200";
    } else {
      r.outcome.kind = Kind::kFailed;
      r.description = "HTTP 200 with an unreadable body (" + decoded.error().code + " " +
                      decoded.error().field + ")";
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
  return r;
}

AgentRunner::AgentRunner(AgentConfig config, AgentRunnerDeps deps, BackoffOptions backoff)
    : config_(std::move(config)),
      deps_(std::move(deps)),
      backoff_options_(backoff),
      scheduler_(SchedulerOptions{std::chrono::seconds(config_.min_interval_s),
                                  std::chrono::seconds(config_.max_interval_s), backoff, 0.10,
                                  SequenceAllocator::kDefaultBlock},
                 deps_.clock, deps_.random),
      sequence_(deps_.sequence_store) {}

void AgentRunner::stop() {
  deps_.waiter.requestStop();
  deps_.client.cancel();
}

SystemFacts AgentRunner::readFacts() {
  Result<SystemFacts> facts = deps_.system.facts();
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
  Result<BootIdentity> boot = deps_.system.bootIdentity();
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
                 config_.server_url + ", state in " + config_.state_dir);
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
  if (identity) heartbeatLoop(*identity);
  deps_.log.info("stopped");
  return Status::okStatus();
}

Result<std::optional<Identity>> AgentRunner::enroll() {
  if (config_.enroll_token.empty()) {
    return Status::failedPrecondition(
        "not enrolled and no enrollment token: set enroll_token in the config file, "
        "VIGIL_ENROLL_TOKEN or --token");
  }
  protocol::EnrollRequest request;
  request.enroll_token = config_.enroll_token;
  request.facts.hostname = facts_.hostname;
  request.facts.os_name = facts_.os_name;
  request.facts.os_version = facts_.os_version;
  request.facts.arch = facts_.arch;
  request.facts.agent_version = kAgentVersion;

  Backoff backoff(backoff_options_, deps_.random);
  while (!deps_.waiter.stopRequested()) {
    deps_.log.info("enrolling as " + facts_.hostname + " with " + config_.server_url);
    const CollectorAnswer answer = deps_.client.enroll(request);
    if (deps_.waiter.stopRequested()) break;

    std::string problem;
    bool refused_token = false;
    std::optional<Duration> retry_after;
    if (!answer.transport_ok) {
      problem = "network error: " + answer.transport_error;
    } else if (answer.http_status == 201) {
      auto decoded = protocol::decodeEnrollResponse(answer.body);
      if (decoded.ok()) {
        Identity identity{decoded->agent_id, decoded->secret, config_.server_url};
        if (Status st = deps_.identity_store.save(identity); !st.ok()) {
          return Status(st.code(), "enrolled as " + identity.agent_id +
                                       " but cannot store the identity: " + st.message());
        }
        scheduler_.adoptInterval(decoded->heartbeat_interval_s);
        deps_.log.info("enrolled as " + identity.agent_id + "; heartbeat interval " +
                       std::to_string(*scheduler_.intervalInUseS()) + " s");
        return std::optional<Identity>(std::move(identity));
      }
      problem = "HTTP 201 with an unreadable body (" + decoded.error().code + " " +
                decoded.error().field + ")";
    } else {
      std::string code;
      problem = describeHttp(answer, &code, nullptr);
      refused_token = code == protocol::errors::kInvalidEnrollToken;
      if ((answer.http_status == 429 || answer.http_status == 503) && answer.retry_after_s) {
        retry_after = std::clamp<Duration>(std::chrono::seconds(*answer.retry_after_s),
                                           std::chrono::seconds(1), backoff_options_.cap);
      }
    }

    const Duration ceiling = backoff.ceiling();
    Duration delay = backoff.nextDelay();
    std::string next;
    if (retry_after) {
      delay = *retry_after;
      next = "retrying in " + seconds(delay) + " as the collector asked (Retry-After)";
    } else {
      next = "backing off, retrying in " + seconds(delay) + " (up to " + seconds(ceiling) + ")";
    }
    std::string line;
    if (refused_token) {
      line = "enrollment token refused (";
      line += problem;
      line += "): check enroll_token; ";
      line += next;
      deps_.log.error(line);
    } else {
      line = "enrollment failed: ";
      line += problem;
      line += "; ";
      line += next;
      deps_.log.warn(line);
    }
    if (!deps_.waiter.waitFor(delay)) break;
  }
  return std::optional<Identity>();
}

void AgentRunner::heartbeatLoop(const Identity& identity) {
  bool hostname_delivered = false;
  while (!deps_.waiter.stopRequested()) {
    const BootIdentity boot = readBootIdentity();
    protocol::Heartbeat hb;
    hb.agent_id = identity.agent_id;
    hb.seq = sequence_.next();
    logSequenceStatus();
    hb.boot_id = boot.boot_id;
    hb.uptime_s = boot.uptime_s;
    hb.agent_version = kAgentVersion;
    hb.sent_at_ms = scheduler_.correctedWallMs();
    hb.interval_s = scheduler_.intervalInUseS();
    if (!hostname_delivered) hb.hostname = facts_.hostname;

    SignedHeartbeat request;
    request.agent_id = identity.agent_id;
    request.timestamp_ms = hb.sent_at_ms;
    request.body = protocol::encode(hb);
    Result<std::string> signature = protocol::sign(
        identity.secret, kMethodPost, protocol::kHeartbeatPath, request.timestamp_ms, request.body);

    HeartbeatAnswerReading reading;
    if (signature.ok()) {
      request.signature = std::move(signature.value());
      deps_.log.debug("sending heartbeat seq=" + std::to_string(hb.seq));
      const CollectorAnswer answer = deps_.client.heartbeat(request);
      if (deps_.waiter.stopRequested()) break;
      reading = readHeartbeatAnswer(answer);
    } else {
      reading.outcome.kind = HeartbeatOutcome::Kind::kFailed;
      reading.description = "cannot sign: " + signature.error().toString();
    }

    const int failures_before = scheduler_.consecutiveFailures();
    const ScheduleDecision decision = scheduler_.onOutcome(reading.outcome);
    const std::string seq = "seq=" + std::to_string(hb.seq);
    using Kind = HeartbeatOutcome::Kind;
    switch (reading.outcome.kind) {
      case Kind::kAccepted: {
        hostname_delivered = true;
        std::string line = "heartbeat accepted " + seq;
        if (failures_before > 0) {
          line += " after " + std::to_string(failures_before) + " failed attempt" +
                  (failures_before == 1 ? "" : "s");
        }
        deps_.log.info(line + ", next in " + seconds(decision.delay));
        break;
      }
      case Kind::kStaleTimestamp: {
        const double offset_s = static_cast<double>(scheduler_.clockOffset().count()) / 1000.0;
        char offset[48];
        std::snprintf(offset, sizeof offset, "%+.3f s", offset_s);
        deps_.log.warn("heartbeat " + seq + " refused: " + reading.description +
                       "; clock offset set to " + offset + ", " + describeRetry(decision));
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
      case Kind::kFailed:
        if (reading.error_code == protocol::errors::kUnknownAgent) {
          deps_.log.error("the collector does not know agent " + identity.agent_id + " (" +
                          reading.description +
                          "): it was retired or deleted; remove identity.json and set an "
                          "enrollment token to enroll again; " +
                          describeRetry(decision));
        } else {
          deps_.log.warn("heartbeat " + seq + " failed: " + reading.description + "; " +
                         describeRetry(decision));
        }
        break;
    }
    if (!deps_.waiter.waitFor(decision.delay)) break;
  }
}

}  // namespace vigil::agent
