#include "agent/core/collector_answer.h"

namespace vigil::agent {

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

std::string decodeProblem(const protocol::DecodeError& e) {
  return e.field.empty() ? e.code : e.code + " " + e.field;
}

std::string transportProblem(const CollectorAnswer& answer) {
  const bool bad_answer = answer.transport_cause == protocol::causes::kBadAnswer;
  return (bad_answer ? "bad answer: " : "network error: ") + answer.transport_error;
}

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

}  // namespace vigil::agent
