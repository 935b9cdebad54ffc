#pragma once

#include <optional>
#include <string>

#include "agent/core/agent_config.h"
#include "agent/core/backoff.h"
#include "agent/core/collector_client.h"
#include "agent/core/heartbeat_scheduler.h"
#include "agent/core/identity_store.h"
#include "agent/core/log_rate_limiter.h"
#include "agent/core/logger.h"
#include "agent/core/platform.h"
#include "agent/core/random.h"
#include "agent/core/stop_request.h"
#include "agent/core/waiter.h"
#include "common/protocol.h"
#include "common/status.h"

namespace vigil::agent {

// An identity the collector gave, stored, and what came with it.
struct Enrollment {
  Identity identity;
  protocol::ChannelOffer channels;  // what the collector offers besides heartbeats
};

// One enrollment request and what its answer means.
struct EnrollAttempt {
  std::optional<Enrollment> enrolled;  // enrolled and stored
  Status store_error;                  // enrolled, but the identity could not be stored
  std::string problem;                 // why not enrolled, for the log
  std::string failure_key;             // equal for failures alike (rate-limited logging)
  bool refused = false;                // the collector refused the token or the request
  bool token_refused = false;          // ... because of the token (invalid_enroll_token)
  std::optional<Duration> retry_after;
};

// Obtains an identity from the collector with the configured enrollment token and stores it.
// On success the scheduler adopts the collector's heartbeat interval. Not thread-safe.
// REQUIRES: every reference outlives the enroller.
class Enroller {
 public:
  Enroller(const AgentConfig& config, CollectorClient& client, IdentityStore& identity_store,
           HeartbeatScheduler& scheduler, Logger& log, BackoffOptions backoff);

  // One request, reporting `facts`; nothing is stored unless it succeeds.
  EnrollAttempt attempt(const SystemFacts& facts);

  // Attempts until enrolled, backing off between failures (or waiting as the collector asks)
  // and logging them through `failures`. Fails without a token or when the identity cannot be
  // stored; an empty optional when `stop` was requested first.
  Result<std::optional<Enrollment>> untilEnrolled(const SystemFacts& facts, Waiter& waiter,
                                                  UniformRandom& random, LogRateLimiter& failures,
                                                  const StopRequest& stop);

 private:
  const AgentConfig& config_;
  CollectorClient& client_;
  IdentityStore& identity_store_;
  HeartbeatScheduler& scheduler_;
  Logger& log_;
  const BackoffOptions backoff_options_;
};

}  // namespace vigil::agent
