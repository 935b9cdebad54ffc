#include "agent/core/enrollment.h"

#include <algorithm>
#include <utility>

#include "agent/core/collector_answer.h"
#include "agent/core/version.h"
#include "common/time_format.h"

namespace vigil::agent {

Enroller::Enroller(const AgentConfig& config, CollectorClient& client,
                   IdentityStore& identity_store, HeartbeatScheduler& scheduler, Logger& log,
                   BackoffOptions backoff)
    : config_(config),
      client_(client),
      identity_store_(identity_store),
      scheduler_(scheduler),
      log_(log),
      backoff_options_(backoff) {}

EnrollAttempt Enroller::attempt(const SystemFacts& facts) {
  protocol::EnrollRequest request;
  request.enroll_token = config_.enroll_token;
  request.facts.hostname = facts.hostname;
  request.facts.os_name = facts.os_name;
  request.facts.os_version = facts.os_version;
  request.facts.arch = facts.arch;
  request.facts.agent_version = kAgentVersion;

  log_.info("enrolling as " + facts.hostname + " with " + config_.server_url);
  const CollectorAnswer answer = client_.enroll(request);
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
      if (Status st = identity_store_.save(identity); !st.ok()) {
        attempt.store_error =
            Status(st.code(), "enrolled as " + identity.agent_id +
                                  " but cannot store the identity: " + st.message());
        return attempt;
      }
      scheduler_.adoptInterval(decoded->heartbeat_interval_s);
      log_.info("enrolled as " + identity.agent_id + "; heartbeat interval " +
                std::to_string(*scheduler_.intervalInUseS()) + " s");
      attempt.enrolled = Enrollment{std::move(identity), decoded->channels};
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

Result<std::optional<Enrollment>> Enroller::untilEnrolled(const SystemFacts& facts, Waiter& waiter,
                                                          UniformRandom& random,
                                                          LogRateLimiter& failures,
                                                          const StopRequest& stop) {
  if (config_.enroll_token.empty()) {
    return Status::failedPrecondition(
        "not enrolled and no enrollment token: set enroll_token in the config file, "
        "VIGIL_ENROLL_TOKEN or --token");
  }
  Backoff backoff(backoff_options_, random);
  while (!stop.requested()) {
    EnrollAttempt attempt = this->attempt(facts);
    if (stop.requested()) break;
    if (!attempt.store_error.ok()) return attempt.store_error;
    if (attempt.enrolled) return std::move(attempt.enrolled);

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
      failures.failure(
          "enroll:token",
          "enrollment token refused (" + attempt.problem + "): check enroll_token; " + next, true);
    } else {
      failures.failure(attempt.failure_key, "enrollment failed: " + attempt.problem + "; " + next,
                       false);
    }
    if (waiter.waitFor(delay) == WakeReason::kStopped) break;
    waiter.takeEvents();  // nothing to report yet; an event only ends the wait early
  }
  return std::optional<Enrollment>();
}

}  // namespace vigil::agent
