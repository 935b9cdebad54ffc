#pragma once

// The agent-facing endpoints (/v1/enroll, /v1/heartbeat) as a service without HTTP: the
// handlers in collector/http parse the transport and call it; tests call it directly.
//
// Heartbeats are checked in the order of docs/protocol.md ("How the collector checks a
// heartbeat"); no rejected request changes any state. Accepted heartbeats update the
// AgentDirectory only (last-seen, facts, shutdown notice, outage diary); LastSeenWriter writes
// them behind. Their indicators go to the EvidenceSink (docs/protocol.md, "What the collector
// does with the indicators"). Enrollment writes through to the store before it answers.
//
// Thread safety: safe to call concurrently.

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>

#include "collector/core/api_error.h"
#include "collector/core/cadence.h"
#include "collector/ingest/agent_directory.h"
#include "collector/ingest/cadence_planner.h"
#include "collector/ingest/enrollment_limiter.h"
#include "collector/ingest/evidence_sink.h"
#include "collector/ingest/site_peer_keys.h"
#include "collector/store/store.h"
#include "common/clock.h"
#include "common/mutex.h"
#include "common/protocol.h"
#include "common/status.h"

namespace vigil::collector {

struct IngestConfig {
  // The base heartbeat interval (next_interval_s), unless cadence policy gives another.
  int64_t heartbeat_interval_s = 60;
  // The longest heartbeat interval load may stretch an agent to (cadence_planner.h).
  int64_t max_heartbeat_interval_s = 300;
  int64_t max_clock_skew_ms = protocol::kDefaultMaxClockSkewMs;
  // "Verify" asked of an agent that was SUSPECT, UNREACHABLE or OFFLINE. Answered clamped to
  // 1..heartbeat_interval_s and 1..protocol::kMaxVerifyForS.
  int64_t verify_interval_s = 10;
  int64_t verify_for_s = 120;
  // The UDP beacon offered to agents; no port: the collector has no beacon listener.
  std::optional<int64_t> beacon_port = std::nullopt;
  int64_t beacon_interval_s = 15;
  // Enrollments per token, site and tenant (docs/operations.md, "Enrollment limits").
  EnrollmentLimits enrollment_limits = EnrollmentLimits{};
};

// Peer sightings whose age exceeds this are ignored: they say nothing about the present.
constexpr int64_t kMaxPeerSightingAgeMs = 3'600'000;

struct IngestCounters {
  uint64_t peer_sightings_witnessed = 0;  // handed to the presence engine
  // Unknown, retired, of another site or tenant, the reporter itself, or older than
  // kMaxPeerSightingAgeMs.
  uint64_t peer_sightings_ignored = 0;
  EnrollmentLimiter::Stats enrollments_limited;  // refused 429 rate_limited, by limit
};

// Answers of enroll() and heartbeat() since the start: accepted, and refused by error code.
struct IngestOutcomes {
  uint64_t enrollments_accepted = 0;
  uint64_t heartbeats_accepted = 0;
  std::map<std::string, uint64_t> enrollments_refused;  // by ApiError::code
  std::map<std::string, uint64_t> heartbeats_refused;
};

// One POST /v1/heartbeat as received; a header is nullopt when absent.
struct HeartbeatRequest {
  std::optional<std::string> agent_id;   // X-Vigil-Agent-Id
  std::optional<std::string> timestamp;  // X-Vigil-Timestamp
  std::optional<std::string> signature;  // X-Vigil-Signature
  std::string body;                      // exact bytes received
};

class IngestService {
 public:
  // One line for the operator's log (information level), e.g. an announced shutdown.
  using NoticeLog = std::function<void(const std::string& line)>;

  // `store`, `tokens`, `tenancy`, `directory`, `clock`, `evidence` and `peer_keys` (if given)
  // must outlive the service. Without `peer_keys` no peer key is offered.
  IngestService(AgentStore& store, TokenStore& tokens, TenancyStore& tenancy,
                AgentDirectory& directory, const Clock& clock, IngestConfig config,
                EvidenceSink* evidence = nullptr, SitePeerKeys* peer_keys = nullptr,
                NoticeLog notice_log = {});

  // Directs heartbeat intervals by policy (`book`: each agent's base intervals and class) and
  // load (`governor`); either may be null (the config's intervals, no stretch). Both must
  // outlive the service. Call before the first request.
  void useCadence(CadenceBook* book, const LoadGovernor* governor);

  // In a cluster: an agent enrolled through another collector is not in this one's directory
  // until its first heartbeat here, so an unknown agent id is looked up in the store, at most
  // kUnknownAgentLookupsPerSecond a second (an id no agent has costs a query); past that the
  // heartbeat is answered 503 with a Retry-After, never 401, which would tell a real agent it
  // was retired. Call before the first request.
  void lookUpUnknownAgents();
  static constexpr int kUnknownAgentLookupsPerSecond = 50;

  // POST /v1/enroll: on success the agent exists in the store and in the directory.
  ApiResult<protocol::EnrollResponse> enroll(std::string_view body);

  // POST /v1/heartbeat (checks 2 to 9 of docs/protocol.md; method and media type are the
  // transport's).
  ApiResult<protocol::HeartbeatResponse> heartbeat(const HeartbeatRequest& request);

  IngestCounters counters() const;
  IngestOutcomes outcomes() const;

 private:
  int64_t nowMs() const;
  // The channels offered to an agent of `site_id` that holds peer key `held_key_id` and
  // beacons every `beacon_interval_s`.
  protocol::ChannelOffer channelOffer(int64_t site_id,
                                      const std::optional<std::string>& held_key_id,
                                      int64_t beacon_interval_s);
  // The agent's base intervals and class, from the policy book (or the config).
  BaseCadence baseCadence(const std::string& agent_id, const AgentCredentials& agent) const;
  // The sightings of `beat` that are witness evidence, as the engine takes them.
  std::vector<PeerWitness> witnessesOf(const protocol::Heartbeat& beat,
                                       const AgentCredentials& reporter, MonoTime received_at);

  AgentStore& store_;
  TokenStore& tokens_;
  TenancyStore& tenancy_;
  AgentDirectory& directory_;
  const Clock& clock_;
  const IngestConfig config_;
  EvidenceSink* const evidence_;
  SitePeerKeys* const peer_keys_;
  const NoticeLog notice_log_;
  CadenceBook* cadence_book_ = nullptr;
  const LoadGovernor* governor_ = nullptr;
  std::atomic<uint64_t> peer_sightings_witnessed_{0};
  std::atomic<uint64_t> peer_sightings_ignored_{0};
  EnrollmentLimiter enrollment_limiter_;

  enum class Lookup { kFound, kNotFound, kBusy };
  // Loads an agent this collector's directory does not hold from the store.
  Lookup loadUnknownAgent(const std::string& agent_id);
  bool lookup_unknown_ = false;
  Mutex lookup_mu_;
  MonoTime lookup_window_ GUARDED_BY(lookup_mu_);
  int lookups_in_window_ GUARDED_BY(lookup_mu_) = 0;

  // True, with the refusal, if the site or its tenant holds as many agents as its quota.
  bool overQuota(int64_t site_id, ApiError* refusal);
  // Held from the quota check to the enrollment's write, so that enrollments arriving together
  // cannot all pass the check and overshoot the quota. Enrollment writes through to the store
  // one at a time anyway.
  Mutex quota_mu_;
  // The checks of enroll() and heartbeat(), which count their outcomes.
  ApiResult<protocol::EnrollResponse> checkEnrollment(std::string_view body);
  ApiResult<protocol::HeartbeatResponse> checkHeartbeat(const HeartbeatRequest& request);
  std::atomic<uint64_t> enrollments_accepted_{0};
  std::atomic<uint64_t> heartbeats_accepted_{0};
  mutable Mutex refused_mu_;
  std::map<std::string, uint64_t> enrollments_refused_ GUARDED_BY(refused_mu_);
  std::map<std::string, uint64_t> heartbeats_refused_ GUARDED_BY(refused_mu_);
};

// Builds the ApiError of a body that failed protocol decoding (400, or 413 for size).
ApiError decodeErrorToApiError(const protocol::DecodeError& error);

}  // namespace vigil::collector
