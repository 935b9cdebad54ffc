#include "collector/ingest/ingest_service.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <utility>
#include <vector>

#include "common/crypto.h"

namespace vigil::collector {
namespace {

namespace errors = protocol::errors;

ApiError apiError(int http_status, const char* code, std::string message) {
  return ApiError{http_status, code, std::move(message), std::nullopt};
}

ApiError bodyTooLarge() {
  return apiError(413, errors::kBodyTooLarge,
                  "body is larger than " + std::to_string(protocol::kMaxBodyBytes) + " bytes");
}

ApiError internalError() {
  return apiError(500, errors::kInternal, "the collector failed to process the request");
}

bool missing(const std::optional<std::string>& header) { return !header || header->empty(); }

constexpr char kAgentIdPrefix[] = "ag_";
// Retry-After of a heartbeat whose judge cannot be reached, or that could not be checked.
constexpr int64_t kUndeliverableRetryAfterS = 2;
constexpr int64_t kLookupBusyRetryAfterS = 5;

ApiError ownerUnreachable() {
  ApiError error{503, errors::kOwnerUnreachable,
                 "the collector that judges this agent cannot be reached just now; send the "
                 "heartbeat again",
                 std::nullopt};
  error.retry_after_s = kUndeliverableRetryAfterS;
  return error;
}
constexpr size_t kAgentIdRandomBytes = 16;
constexpr size_t kSecretRandomBytes = 32;  // 64 hex characters

// "Verify" as the protocol allows it: an interval no slower than the heartbeat's own, for at
// most protocol::kMaxVerifyForS.
IngestConfig normalized(IngestConfig c) {
  const int64_t slowest = std::max<int64_t>(1, c.heartbeat_interval_s);
  c.verify_interval_s = std::clamp<int64_t>(c.verify_interval_s, 1, slowest);
  c.verify_for_s = std::clamp<int64_t>(c.verify_for_s, 1, protocol::kMaxVerifyForS);
  return c;
}

// "600 a minute (bursts of 200)".
std::string describe(const RateLimit& limit) {
  return std::to_string(std::llround(limit.per_minute)) + " a minute (bursts of " +
         std::to_string(std::llround(limit.burst)) + ")";
}

// The 429 of an enrollment over one of its limits.
ApiError enrollmentLimited(const EnrollmentLimiter::Decision& d, const RateLimit& limit) {
  ApiError e =
      apiError(429, errors::kRateLimited,
               std::string("enrollments through this ") + EnrollmentLimiter::scopeName(d.scope) +
                   " are limited to " + describe(limit) + "; retry after " +
                   std::to_string(d.retry_after.count()) + " s");
  e.retry_after_s = d.retry_after.count();
  return e;
}

const RateLimit& limitOf(const EnrollmentLimits& limits, EnrollmentLimiter::Scope scope) {
  switch (scope) {
    case EnrollmentLimiter::Scope::kSite:
      return limits.per_site;
    case EnrollmentLimiter::Scope::kTenant:
      return limits.per_tenant;
    case EnrollmentLimiter::Scope::kToken:
      break;
  }
  return limits.per_token;
}

}  // namespace

ApiError decodeErrorToApiError(const protocol::DecodeError& error) {
  if (error.code == errors::kBodyTooLarge) return bodyTooLarge();
  return ApiError{400, error.code, error.message, std::nullopt};
}

IngestService::IngestService(AgentStore& store, TokenStore& tokens, TenancyStore& tenancy,
                             AgentDirectory& directory, const Clock& clock, IngestConfig config,
                             EvidenceSink* evidence, SitePeerKeys* peer_keys, NoticeLog notice_log)
    : store_(store),
      tokens_(tokens),
      tenancy_(tenancy),
      directory_(directory),
      clock_(clock),
      config_(normalized(config)),
      evidence_(evidence),
      peer_keys_(peer_keys),
      notice_log_(std::move(notice_log)),
      enrollment_limiter_(config_.enrollment_limits, clock) {}

int64_t IngestService::nowMs() const { return toUnixMillis(clock_.wallNow()); }

bool IngestService::overQuota(int64_t site_id, ApiError* refusal) {
  const EnrollmentLimits& l = config_.enrollment_limits;
  if (l.max_agents_per_site <= 0 && l.max_agents_per_tenant <= 0) return false;
  auto counts = store_.countAgents(site_id);
  if (!counts.ok()) {
    *refusal = storeFailure(counts.error());
    return true;
  }
  std::string over;
  if (l.max_agents_per_site > 0 && counts.value().site >= l.max_agents_per_site) {
    over = "the site holds " + std::to_string(counts.value().site) + " agents, its quota (" +
           "enrollment.maxAgentsPerSite)";
  } else if (l.max_agents_per_tenant > 0 && counts.value().tenant >= l.max_agents_per_tenant) {
    over = "the tenant holds " + std::to_string(counts.value().tenant) + " agents, its quota (" +
           "enrollment.maxAgentsPerTenant)";
  } else {
    return false;
  }
  *refusal = apiError(403, errors::kQuotaExceeded, over + "; delete agents or raise the quota");
  return true;
}

IngestCounters IngestService::counters() const {
  return IngestCounters{peer_sightings_witnessed_.load(), peer_sightings_ignored_.load(),
                        enrollment_limiter_.stats()};
}

void IngestService::useCadence(CadenceBook* book, const LoadGovernor* governor) {
  cadence_book_ = book;
  governor_ = governor;
}

BaseCadence IngestService::baseCadence(const std::string& agent_id,
                                       const AgentCredentials& agent) const {
  if (cadence_book_ == nullptr) {
    return BaseCadence{config_.heartbeat_interval_s, config_.beacon_interval_s, false};
  }
  const AgentClass agent_class = cadence_book_->agentClass(agent_id);
  const ResolvedCadence r = cadence_book_->resolve(agent.tenant_id, agent.site_id, agent_class);
  return BaseCadence{r.heartbeat_s, r.beacon_s, agent_class == AgentClass::kServer};
}

protocol::ChannelOffer IngestService::channelOffer(int64_t site_id,
                                                   const std::optional<std::string>& held_key_id,
                                                   int64_t beacon_interval_s) {
  protocol::ChannelOffer offer;
  if (config_.beacon_port) {
    offer.beacon_port = *config_.beacon_port;
    offer.beacon_interval_s = beacon_interval_s;
  }
  if (peer_keys_ != nullptr) {
    std::optional<SitePeerKey> key = peer_keys_->find(site_id);
    if (key && (!held_key_id || *held_key_id != key->key_id)) {
      offer.peer_key = key->key;
      offer.peer_key_id = key->key_id;
    }
  }
  return offer;
}

std::vector<PeerWitness> IngestService::witnessesOf(const protocol::Heartbeat& beat,
                                                    const AgentCredentials& reporter,
                                                    MonoTime received_at) {
  std::vector<PeerWitness> out;
  uint64_t ignored = 0;
  for (const protocol::PeerSighting& sighting : beat.peers) {
    // The sighting's age by the reporter's own clock; a heard_at after sent_at is "just now".
    const int64_t age_ms = std::max<int64_t>(0, beat.sent_at_ms - sighting.heard_at_ms);
    std::optional<AgentPlacement> peer;
    if (sighting.agent_id != beat.agent_id && age_ms <= kMaxPeerSightingAgeMs) {
      peer = directory_.placement(sighting.agent_id);
    }
    if (!peer || peer->retired || peer->site_id != reporter.site_id ||
        peer->tenant_id != reporter.tenant_id) {
      ++ignored;
      continue;
    }
    out.push_back(PeerWitness{sighting.agent_id, received_at - std::chrono::milliseconds(age_ms)});
  }
  peer_sightings_witnessed_ += out.size();
  peer_sightings_ignored_ += ignored;
  return out;
}

ApiResult<protocol::EnrollResponse> IngestService::enroll(std::string_view body) {
  auto result = checkEnrollment(body);
  if (result.ok()) {
    ++enrollments_accepted_;
  } else {
    MutexLock lock(refused_mu_);
    ++enrollments_refused_[result.error().code];
  }
  return result;
}

void IngestService::lookUpUnknownAgents() { lookup_unknown_ = true; }

IngestService::Lookup IngestService::loadUnknownAgent(const std::string& agent_id) {
  {
    MutexLock lock(lookup_mu_);
    const MonoTime now = clock_.monotonicNow();
    if (now - lookup_window_ >= std::chrono::seconds(1)) {
      lookup_window_ = now;
      lookups_in_window_ = 0;
    }
    if (lookups_in_window_ >= kUnknownAgentLookupsPerSecond) return Lookup::kBusy;
    ++lookups_in_window_;
  }
  auto found = store_.findAgent(agent_id);
  if (!found.ok()) return Lookup::kBusy;
  if (!found.value()) return Lookup::kNotFound;
  directory_.addIfAbsent(*found.value());
  if (found.value()->retired_at_ms) directory_.retire(agent_id);
  return Lookup::kFound;
}

ApiResult<protocol::HeartbeatResponse> IngestService::heartbeat(const HeartbeatRequest& request) {
  auto result = checkHeartbeat(request);
  if (result.ok()) {
    ++heartbeats_accepted_;
  } else {
    MutexLock lock(refused_mu_);
    ++heartbeats_refused_[result.error().code];
  }
  return result;
}

IngestOutcomes IngestService::outcomes() const {
  IngestOutcomes out;
  out.enrollments_accepted = enrollments_accepted_.load();
  out.heartbeats_accepted = heartbeats_accepted_.load();
  MutexLock lock(refused_mu_);
  out.enrollments_refused = enrollments_refused_;
  out.heartbeats_refused = heartbeats_refused_;
  return out;
}

ApiResult<protocol::EnrollResponse> IngestService::checkEnrollment(std::string_view body) {
  if (body.size() > protocol::kMaxBodyBytes) return bodyTooLarge();
  auto decoded = protocol::decodeEnrollRequest(body);
  if (!decoded.ok()) return decodeErrorToApiError(decoded.error());
  const protocol::EnrollRequest& req = decoded.value();

  const ApiError invalid_token =
      apiError(401, errors::kInvalidEnrollToken, "the enrollment token is not valid");
  auto hash = crypto::sha256(req.enroll_token);
  if (!hash.ok()) return internalError();
  auto token = tokens_.findEnrollmentTokenByHash(crypto::toHex(hash.value()));
  if (!token.ok()) return storeFailure(token.error());
  const int64_t now_ms = nowMs();
  if (!token.value() || !token.value()->usableAt(now_ms)) return invalid_token;
  auto site = tenancy_.findSite(token.value()->site_id);
  if (!site.ok()) return storeFailure(site.error());
  if (!site.value()) return invalid_token;  // deleted since the token was read
  const EnrollmentLimiter::Decision admitted =
      enrollment_limiter_.admit(token.value()->id, site.value()->id, site.value()->tenant_id);
  if (!admitted.admitted) {
    const RateLimit& limit = limitOf(config_.enrollment_limits, admitted.scope);
    if (admitted.burst_started && notice_log_) {
      // Once per burst; each refused request is logged at debug level only.
      notice_log_(std::string("enrollment limit reached for ") +
                  EnrollmentLimiter::scopeName(admitted.scope) + " " + std::to_string(admitted.id) +
                  ", " + describe(limit) +
                  ": refusing enrollments with 429 rate_limited until it refills");
    }
    return enrollmentLimited(admitted, limit);
  }
  MutexLock quota_lock(quota_mu_);
  if (ApiError quota; overQuota(site.value()->id, &quota)) return quota;

  auto id_random = crypto::randomHex(kAgentIdRandomBytes);
  auto secret = crypto::randomHex(kSecretRandomBytes);
  if (!id_random.ok() || !secret.ok()) return internalError();

  AgentRecord agent;
  agent.id = kAgentIdPrefix + id_random.value();
  agent.hostname = req.facts.hostname;
  agent.os_name = req.facts.os_name;
  agent.os_version = req.facts.os_version;
  agent.arch = req.facts.arch;
  agent.agent_version = req.facts.agent_version;
  agent.secret = secret.value();
  agent.enrolled_at_ms = now_ms;
  auto stored = store_.enrollAgent(token.value()->id, agent, now_ms);
  if (!stored.ok()) {
    // The token was used up or revoked between the check and the write.
    if (stored.error().code() == StatusCode::kPermissionDenied) return invalid_token;
    return storeFailure(stored.error());
  }
  directory_.add(stored.value());
  if (evidence_ != nullptr) evidence_->agentEnrolled(stored.value());

  protocol::EnrollResponse response;
  response.agent_id = stored.value().id;
  response.secret = stored.value().secret;
  if (cadence_book_ != nullptr) {
    cadence_book_->setAgentClass(stored.value().id, stored.value().agent_class);
  }
  AgentCredentials enrolled;
  enrolled.site_id = stored.value().site_id;
  enrolled.tenant_id = stored.value().tenant_id;
  const BaseCadence base = baseCadence(stored.value().id, enrolled);
  response.heartbeat_interval_s = base.heartbeat_s;
  response.server_time_ms = now_ms;
  response.channels = channelOffer(stored.value().site_id, std::nullopt, base.beacon_s);
  return response;
}

ApiResult<protocol::HeartbeatResponse> IngestService::checkHeartbeat(
    const HeartbeatRequest& request) {
  // 2. Size.
  if (request.body.size() > protocol::kMaxBodyBytes) return bodyTooLarge();

  // 3. Signature headers present; timestamp well-formed.
  if (missing(request.agent_id) || missing(request.timestamp) || missing(request.signature)) {
    return apiError(401, errors::kMissingSignature,
                    std::string("headers ") + protocol::kHeaderAgentId + ", " +
                        protocol::kHeaderTimestamp + " and " + protocol::kHeaderSignature +
                        " are required");
  }
  const std::optional<int64_t> timestamp_ms = protocol::parseTimestampHeader(*request.timestamp);
  if (!timestamp_ms) {
    return apiError(401, errors::kBadSignature,
                    std::string(protocol::kHeaderTimestamp) +
                        " must be 1 to 15 decimal digits (Unix milliseconds)");
  }

  // 4. Agent known and not retired.
  const std::string& agent_id = *request.agent_id;
  // The worker thread's own copy keeps its capacity: no allocation for the secret per request.
  thread_local AgentCredentials credentials;
  bool known = directory_.credentialsInto(agent_id, &credentials);
  if (!known && lookup_unknown_) {
    switch (loadUnknownAgent(agent_id)) {
      case Lookup::kFound:
        known = directory_.credentialsInto(agent_id, &credentials);
        break;
      case Lookup::kNotFound:
        break;
      case Lookup::kBusy: {
        ApiError busy = apiError(503, errors::kOverloaded,
                                 "the agent is not known here yet and cannot be looked up now");
        busy.retry_after_s = kLookupBusyRetryAfterS;
        return busy;
      }
    }
  }
  if (!known || credentials.retired) {
    return apiError(401, errors::kUnknownAgent, "unknown or retired agent");
  }

  // 5. Signature over the exact body bytes, constant-time.
  if (!protocol::verifySignature(credentials.secret, "POST", protocol::kHeartbeatPath,
                                 *timestamp_ms, request.body, *request.signature)) {
    return apiError(401, errors::kBadSignature, "the signature does not verify");
  }

  // 6. Timestamp within the allowed skew.
  const int64_t now_ms = nowMs();
  const int64_t skew_ms = *timestamp_ms - now_ms;
  if (std::llabs(skew_ms) > config_.max_clock_skew_ms) {
    ApiError error = apiError(401, errors::kStaleTimestamp,
                              "timestamp is " + std::to_string(std::llabs(skew_ms) / 1000) +
                                  " s away from the collector's clock");
    error.server_time_ms = now_ms;
    return error;
  }

  // 7. Body.
  auto decoded = protocol::decodeHeartbeat(request.body);
  if (!decoded.ok()) return decodeErrorToApiError(decoded.error());
  const protocol::Heartbeat& beat = decoded.value();
  if (beat.agent_id != agent_id) {
    return apiError(
        400, errors::kInvalidField,
        std::string("field 'agent_id' differs from header ") + protocol::kHeaderAgentId);
  }

  // In a cluster, a heartbeat whose judge cannot be reached is refused before it changes
  // anything: sent again, its sequence number is still good.
  if (evidence_ != nullptr && !evidence_->canDeliver(agent_id)) return ownerUnreachable();

  // 8 and 9. Sequence above the last accepted one; only then is state changed.
  const MonoTime received_at = clock_.monotonicNow();
  switch (directory_.accept(beat, now_ms)) {
    case AcceptOutcome::kAccepted:
      break;
    case AcceptOutcome::kUnknownAgent:  // retired between step 4 and now
      return apiError(401, errors::kUnknownAgent, "unknown or retired agent");
    case AcceptOutcome::kReplayedSequence:
      return apiError(409, errors::kReplayedSequence,
                      "seq " + std::to_string(beat.seq) + " is not above the last accepted one");
  }

  // An agent being uninstalled retires itself: recorded first (a failed write changes nothing
  // and the agent retries), then refused and untracked, as an admin's retirement.
  if (beat.shutdown == protocol::shutdown_reasons::kUninstall) {
    auto retired = store_.retireAgent(agent_id, now_ms);
    if (!retired.ok()) return storeFailure(retired.error());
    directory_.retire(agent_id);
    if (evidence_ != nullptr) evidence_->forgetAgent(agent_id);
    if (notice_log_) notice_log_("agent " + agent_id + " retired itself (uninstalled)");
    protocol::HeartbeatResponse response;
    response.next_interval_s = config_.heartbeat_interval_s;
    response.server_time_ms = now_ms;
    return response;
  }

  // The interval it is told (policy, stretched by load when the collector's budget needs it):
  // the engine expects its next heartbeat one such interval from now.
  CadenceInputs cadence;
  cadence.base = baseCadence(agent_id, credentials);
  cadence.fallback_working = beat.beacon_state == std::string_view(protocol::beacon_states::kAcked);
  const CadencePlan plan =
      planCadence(cadence, governor_ != nullptr ? governor_->level() : 0,
                  std::max(cadence.base.heartbeat_s, config_.max_heartbeat_interval_s));

  HeartbeatAssessment assessment;
  if (evidence_ != nullptr) {
    AcceptedHeartbeat accepted;
    accepted.agent_id = agent_id;
    accepted.seq = static_cast<int64_t>(beat.seq);
    accepted.received_at = received_at;
    accepted.next_interval = std::chrono::seconds(plan.heartbeat_s);
    accepted.beacon_fallback =
        beat.beacon_state.has_value() && *beat.beacon_state != protocol::beacon_states::kPaused;
    accepted.outages.reserve(beat.outages.size());
    for (const protocol::OutageEntry& o : beat.outages) {
      accepted.outages.push_back(
          ReportedOutage{fromUnixMillis(o.from_ms), fromUnixMillis(o.to_ms)});
    }
    accepted.shutdown = beat.shutdown.has_value();
    accepted.witnesses = witnessesOf(beat, credentials, received_at);
    assessment = evidence_->heartbeatAccepted(accepted);
  }
  // The owner became unreachable meanwhile; this heartbeat's sequence number is spent.
  if (assessment.undeliverable) return ownerUnreachable();
  if (beat.shutdown && notice_log_) {
    notice_log_("agent " + agent_id + " announced a shutdown (" + *beat.shutdown + ")");
  }

  protocol::HeartbeatResponse response;
  response.next_interval_s = plan.heartbeat_s;
  response.server_time_ms = now_ms;
  if (assessment.was_lost) {
    response.verify_interval_s = std::min(config_.verify_interval_s, cadence.base.heartbeat_s);
    response.verify_for_s = config_.verify_for_s;
  }
  response.channels = channelOffer(credentials.site_id, beat.peer_key_id, cadence.base.beacon_s);
  return response;
}

}  // namespace vigil::collector
