#pragma once

// The UDP beacon channel without the socket (docs/protocol.md, "UDP beacon"): checks one
// received datagram, hands an accepted beacon to the EvidenceSink and builds its ack. The
// socket and its thread are BeaconListener's (collector/listener); tests and the fuzz target call
// this directly.
//
// Work per datagram is bounded: at most kMaxDatagramBytes are looked at, one map lookup, one
// HMAC; memory grows only with agents whose beacons were accepted (one timestamp each).
// check() allocates nothing once its agent had a beacon accepted (its workspace is reused);
// handle() is the same check with copied results.
// Every drop is counted by reason; drops are for logging in at most one line per reason per
// log period, never one per datagram.
//
// Thread safety: safe to call concurrently (each thread with its own BeaconWorkspace).

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "collector/ingest/agent_directory.h"
#include "collector/ingest/evidence_sink.h"
#include "common/clock.h"
#include "common/datagram.h"
#include "common/mutex.h"
#include "common/protocol.h"

namespace vigil::collector {

// Why a beacon was dropped, in check order.
enum class BeaconDrop : uint8_t {
  kMalformed,     // not a beacon datagram (shape, length, charset)
  kUnknownAgent,  // no such agent, or retired
  kBadSignature,  // not signed with the agent's secret
  kStale,         // timestamp more than the allowed skew from the collector's clock
  kReplayed,      // not newer than the agent's last accepted beacon, or older than the start
};
constexpr size_t kBeaconDropCount = 5;
const char* beaconDropName(BeaconDrop drop);  // "malformed", "unknown_agent", ...

struct BeaconConfig {
  int64_t interval_s = 15;  // next_beacon_s of every ack, and the interval the engine expects
  int64_t max_clock_skew_ms = protocol::kDefaultMaxClockSkewMs;
  Duration drop_log_period = std::chrono::seconds(10);
};

struct BeaconOutcome {
  std::string ack;                 // send to the beacon's sender; empty when dropped
  std::optional<BeaconDrop> drop;  // why it was dropped
  // The beacon's agent id once it parsed (charset-checked, safe to log); else empty.
  std::string agent_id;
  // True for the first drop of its reason in a log period: log it, with the number of drops
  // of that reason that were not logged before it.
  bool log_drop = false;
  uint64_t unlogged_drops = 0;
};

// The outcome of check(): views, no copies.
struct BeaconVerdict {
  std::optional<BeaconDrop> drop;  // why it was dropped; nullopt: accepted
  // The beacon's agent id once it parsed (charset-checked, safe to log), a view into the
  // datagram; else empty.
  std::string_view agent_id;
  size_t ack_size = 0;  // bytes of the ack written to the caller's buffer; 0 when dropped
  // As in BeaconOutcome.
  bool log_drop = false;
  uint64_t unlogged_drops = 0;
};

// What check() reuses from one datagram to the next: room for the agent's id and
// credentials. One per thread; not shared.
class BeaconWorkspace {
 public:
  BeaconWorkspace();

 private:
  friend class BeaconService;
  std::string agent_id_;  // the current beacon's, as the directory and the replay map key it
  AgentCredentials credentials_;
};

struct BeaconCounters {
  uint64_t accepted = 0;
  std::array<uint64_t, kBeaconDropCount> dropped{};  // indexed by BeaconDrop
};

class BeaconService {
 public:
  // `directory`, `clock` and `evidence` (if given) must outlive the service. Beacons stamped
  // more than 1 s before the construction (the collector's start) are replays unless the
  // agent had a beacon accepted since.
  BeaconService(AgentDirectory& directory, const Clock& clock, BeaconConfig config,
                EvidenceSink* evidence = nullptr);

  // Checks `datagram` in the order of docs/protocol.md: shape, agent known and not retired,
  // signature, timestamp, replay. Only an accepted beacon changes state.
  BeaconOutcome handle(std::string_view datagram);
  // As handle(), without heap allocation: the ack goes
  // to `ack` (verdict.ack_size bytes), the agent id is a view into `datagram`.
  BeaconVerdict check(std::string_view datagram, BeaconWorkspace& workspace,
                      datagram::DatagramBuffer* ack);

  BeaconCounters counters() const;
  const BeaconConfig& config() const { return config_; }

 private:
  BeaconVerdict drop(BeaconDrop reason, std::string_view agent_id);

  AgentDirectory& directory_;  // also holds each agent's last accepted beacon timestamp
  const Clock& clock_;
  const BeaconConfig config_;
  EvidenceSink* const evidence_;
  const int64_t started_at_ms_;

  Mutex mu_;
  struct DropLog {
    std::optional<MonoTime> last_logged;
    uint64_t unlogged = 0;
  };
  std::array<DropLog, kBeaconDropCount> drop_log_ GUARDED_BY(mu_);

  std::atomic<uint64_t> accepted_{0};
  std::array<std::atomic<uint64_t>, kBeaconDropCount> dropped_{};
};

}  // namespace vigil::collector
