#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "common/clock.h"
#include "common/protocol.h"

namespace vigil::agent {

// What came back from one request to the collector.
struct CollectorAnswer {
  bool transport_ok = false;    // false: no HTTP answer (DNS, connect, TLS, timeout, cancel)
  std::string transport_error;  // set when !transport_ok, for logs
  long http_status = 0;         // set when transport_ok
  std::string body;             // at most protocol::kMaxBodyBytes
  std::optional<int64_t> retry_after_s;  // Retry-After in its seconds form, when present
  // When !transport_ok: what failed, as an outage cause (protocol::causes: dns, connect,
  // timeout, tls, other).
  std::string transport_cause;
};

// A heartbeat ready to send: the body and the headers that authenticate it.
struct SignedHeartbeat {
  std::string agent_id;      // X-Vigil-Agent-Id
  int64_t timestamp_ms = 0;  // X-Vigil-Timestamp
  std::string signature;     // X-Vigil-Signature, "v1=..."
  std::string body;          // the exact bytes that were signed
};

// The agent's link to the collector (docs/protocol.md). Implementations reuse one connection
// and verify TLS. enroll() and heartbeat() are called from one thread at a time; cancel() may
// be called from any thread.
class CollectorClient {
 public:
  virtual ~CollectorClient() = default;
  // POST /v1/enroll with the encoded request.
  virtual CollectorAnswer enroll(const protocol::EnrollRequest& request) = 0;
  // POST /v1/heartbeat. `total_timeout`, when set, replaces the configured request timeout
  // (the goodbye notice must not hold up a shutdown).
  virtual CollectorAnswer heartbeat(const SignedHeartbeat& heartbeat,
                                    std::optional<Duration> total_timeout) = 0;
  // Makes a request in flight, and every later one until resume(), end at once with a
  // transport error.
  virtual void cancel() = 0;
  virtual void resume() = 0;
};

}  // namespace vigil::agent
