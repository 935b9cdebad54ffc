#pragma once

// The presence engine: decides each agent's status from several independent indicators,
// verifies silence twice before OFFLINE, correlates silence by site, detects flapping, and
// holds offline alerts back while the collector itself is degraded (docs/architecture.md,
// docs/presence.md).
//
// Pure C++: no Poco, no store, no OS headers, no threads. Time comes from the injected Clock;
// lateness is measured on its monotonic clock, wall time only labels events for humans.
//
// Thread safety: none. The owner serialises every call (the collector wraps the engine in
// one mutex). Events are delivered synchronously to the PresenceListener from inside the
// call that caused them; the listener must not call back into the engine.
//
// Scale: state per agent is a fixed-size record (no per-agent heap allocation). tick() takes
// agents from an indexed min-heap in deadline order, but evidence only ever lowers a heap key,
// never raises it: a key that evidence overtook still comes up when it passes and is then
// raised in place (O(log n)) without judging the agent. So the heap walk of a tick costs
// O(log n) for every agent that is due and for every such stale key: in a healthy fleet about
// one stale key per agent per heartbeat interval, ~17,000 per 1 s tick at 1M agents on a 60 s
// interval (docs/presence.md, "Benchmark": 3.9 ms mean when nothing is due).

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "collector/presence/presence_types.h"
#include "common/clock.h"

namespace vigil::collector::presence {

class PresenceEngine {
 public:
  // `clock` and `listener` must outlive the engine. The engine is in warm-up (DEGRADED,
  // reason kWarmUp) from construction until config.warmUp() has passed on `clock`.
  PresenceEngine(const PresenceConfig& config, const Clock& clock, PresenceListener& listener);
  ~PresenceEngine();
  PresenceEngine(const PresenceEngine&) = delete;
  PresenceEngine& operator=(const PresenceEngine&) = delete;

  // --- Fleet membership -------------------------------------------------------------------

  // Registers an agent and returns its handle (dense, stable for the engine's lifetime).
  // `restored` carries persisted evidence across a collector restart: the agent starts
  // UNKNOWN and is judged from that evidence only after warm-up, never during it.
  // REQUIRES: `site` and `tenant` are small dense ids the caller assigns (< 2^32).
  AgentHandle addAgent(const AgentSpec& spec, const std::optional<RestoredState>& restored);

  // Stops tracking (agent retired or deleted): open alerts of the agent are resolved with
  // reason kRetired and no further events are emitted for it.
  void removeAgent(AgentHandle agent);

  // Stops tracking without a word: another collector took over the agent's shard
  // (docs/cluster.md). Nothing is resolved or emitted: the agent's open alerts stay open for
  // the new owner, which restores them from the store. A site left without agents forgets its
  // alert the same way. The handle is not reused; adding the agent again gives a new one.
  void releaseAgent(AgentHandle agent);

  // Changes the agent's alert class (server / workstation).
  void setAgentClass(AgentHandle agent, AgentClass agent_class);

  // --- Evidence ---------------------------------------------------------------------------

  // One piece of evidence. `expected_interval` is the interval the collector told the agent
  // to use on this indicator (for heartbeats: the next_interval_s just answered); a change of
  // interval re-bases the agent's lateness detector instead of counting as lateness.
  void observe(const Observation& observation);

  // --- Collector health inputs (the degradation detector) ---------------------------------

  // Current depth of a named internal queue and its bound (ingest, history, outbox, ...).
  void reportQueueDepth(QueueId queue, uint64_t depth, uint64_t bound);
  // Age of the oldest evidence not yet handed to observe() (ingest lag).
  void reportIngestLag(Duration lag);
  // Requests taken and shed (429/503 or dropped) since the previous report.
  void reportRequests(uint64_t accepted, uint64_t shed);
  // Outcome of one write to the store.
  void reportStoreWrite(bool ok);
  // Whether the store's database answered the last call that needed it (a write, or the
  // write-behind): while it does not, DEGRADED with kStoreUnavailable.
  void reportStoreReach(bool reachable);
  // Connections the listener dropped before they had a fair chance to send a request (no
  // room for them) since the previous report: while any are, agents cannot reach the
  // collector through no fault of theirs (DegradationReason::kConnectionsExhausted).
  void reportConnectionsStarved(uint64_t starved);
  // Beacons read from the UDP socket, and beacons the kernel dropped because its receive
  // queue was full, since the previous report: evidence the collector itself failed to take
  // in (DegradationReason::kBeaconOverflow when the dropped share passes shed_share_bound).
  void reportBeaconReceive(uint64_t read, uint64_t overflowed);

  // --- Maintenance ------------------------------------------------------------------------

  // Replaces the set of maintenance windows. Windows are evaluated against wall time.
  void setMaintenanceWindows(std::vector<MaintenanceWindow> windows);

  // --- Evaluation -------------------------------------------------------------------------

  // Evaluates everything due at the clock's current time: agents whose deadline passed,
  // confirmation windows that ended, degradation reasons that began or ended, site
  // correlation, flapping. Call it on a fixed period (config.tick_interval); a tick that
  // arrives much later than that is itself a degradation reason (the process was frozen).
  void tick();

  // --- Queries ----------------------------------------------------------------------------

  AgentView agentView(AgentHandle agent) const;
  HealthView health() const;
  SiteView siteView(SiteId site) const;
  // Tracked agents by status: of one tenant, one site, or one tenant at one site; the whole
  // fleet when neither is given. O(1): kept up to date as agents change status.
  StatusCounts statusCounts(std::optional<TenantId> tenant = std::nullopt,
                            std::optional<SiteId> site = std::nullopt) const;
  size_t agentCount() const;
  // The heartbeat rate the tracked fleet offers at the intervals it was last told (the sum of
  // 1 / interval over the heartbeat channels of the agents not OFFLINE): the steady load the
  // handed-out intervals promise, without the bursts of a reconnect or of fallback heartbeats.
  // O(1).
  double projectedHeartbeatsPerSecond() const;
  // Approximate heap bytes held by the engine (for the bench and /metrics).
  size_t memoryBytes() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace vigil::collector::presence
