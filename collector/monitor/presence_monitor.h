#pragma once

// The presence engine inside the collector. Maps agent ids to engine handles, feeds the
// engine evidence from ingest, and turns its events into history, alert and health records
// kept in a bounded pending batch that PresenceTicker writes to the store once per tick.
//
// Events that cannot be stored are kept (the batch is put back) up to `max_pending`
// records; past that the oldest status changes are dropped and counted, never alerts or
// health changes. A kill -9 loses at most one tick of events: alerts lost that way are
// raised again after the restart, because the silence that caused them is still there.
//
// Thread safety: every method is safe to call concurrently (one mutex around the engine).

#include <array>
#include <bitset>
#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "collector/core/shards.h"
#include "collector/ingest/evidence_sink.h"
#include "collector/presence/presence_engine.h"
#include "collector/store/store.h"
#include "common/clock.h"
#include "common/mutex.h"
#include "common/status.h"

namespace vigil::collector {

// Events waiting to be written, in the order they happened.
struct PresenceBatch {
  std::vector<StatusChangeRecord> changes;
  std::vector<AlertChange> alerts;
  std::vector<HealthRecord> health;

  bool empty() const { return changes.empty() && alerts.empty() && health.empty(); }
  size_t size() const { return changes.size() + alerts.size() + health.size(); }
  // The shards the status changes and alerts are about, ascending, each once.
  std::vector<int> shards() const;
  // Drops the status changes and alerts of the shards `drop` says true for; returns how many.
  size_t dropShards(const std::function<bool(int shard)>& drop);
};

class PresenceMonitor final : public EvidenceSink, private presence::PresenceListener {
 public:
  static constexpr size_t kDefaultMaxPending = 200'000;

  // `clock` must outlive the monitor. The engine's warm-up starts now.
  PresenceMonitor(const presence::PresenceConfig& config, const Clock& clock,
                  size_t max_pending = kDefaultMaxPending);
  ~PresenceMonitor() override;
  PresenceMonitor(const PresenceMonitor&) = delete;
  PresenceMonitor& operator=(const PresenceMonitor&) = delete;

  // Registers every agent of `agents` with its persisted evidence and its last status in `log`
  // (of the shards owned, after trackOwnedShardsOnly()).
  // REQUIRES: called once, before concurrent use.
  Status load(AgentStore& agents, PresenceLogStore& log);

  // --- Shards, in a cluster (docs/cluster.md) -------------------------------------------
  //
  // A collector of a cluster tracks only the agents of the shards it holds the leases of.

  // From now on only the agents of adopted shards are tracked; evidence and enrollments of
  // any other agent are ignored. REQUIRES: before load() and concurrent use.
  void trackOwnedShardsOnly();
  // The cluster node (cluster.nodeName) every health change is of, from now on and for those
  // not yet taken.
  void setNodeName(const std::string& node);
  // Takes `shards` over: loads their agents with the evidence the store has of them (last
  // seen, last shutdown, last status). Each is judged only after one warm-up from now
  // (PresenceConfig::warmUp()), as after a restart: an agent that is still silent then is
  // alerted once, and one OFFLINE in the store keeps its open alert without raising it again.
  // Shards already adopted are loaded again only for agents not yet tracked.
  Status adoptShards(const std::vector<int>& shards, AgentStore& agents, PresenceLogStore& log);
  // Gives `shards` up: their agents are no longer tracked, without a word (no alert resolved,
  // no status changed; PresenceEngine::releaseAgent), and their pending events are dropped:
  // the new owner judges the agents again from the store's evidence. Returns the events
  // dropped.
  size_t releaseShards(const std::vector<int>& shards);
  // Whether the agents of `shard` are tracked here (always, without trackOwnedShardsOnly()).
  bool ownsShard(int shard) const;
  // Whether every agent is tracked here (trackOwnedShardsOnly() was not called).
  bool tracksEveryShard() const;

  // EvidenceSink: a newly enrolled agent (no evidence yet), accepted heartbeats with their
  // indicators, and accepted beacons. Unknown ids (agent or witnessed peer) are ignored.
  void agentEnrolled(const AgentRecord& agent) override;
  HeartbeatAssessment heartbeatAccepted(const AcceptedHeartbeat& beat) override;
  void beaconAccepted(const std::string& agent_id, MonoTime received_at,
                      Duration interval) override;

  // Health inputs of the degradation detector.
  void reportStoreWrite(bool ok);
  void reportStoreReach(bool reachable);
  void reportQueueDepth(presence::QueueId queue, uint64_t depth, uint64_t bound);
  void reportRequests(uint64_t accepted, uint64_t shed);
  void reportConnectionsStarved(uint64_t starved);
  void reportBeaconReceive(uint64_t read, uint64_t overflowed);

  void tick();

  // EvidenceSink: the engine stops tracking the agent and resolves its open alerts (reason
  // retired).
  bool forgetAgent(const std::string& agent_id) override;
  // The agent's class changed (an admin set it): the engine judges its announced shutdowns
  // by the new class from now on. Unknown ids are ignored.
  void setAgentClass(const std::string& agent_id, AgentClass agent_class) override;
  // Replaces the maintenance windows. Windows of agents not tracked are ignored.
  void setMaintenanceWindows(const std::vector<MaintenanceWindowRecord>& windows);

  // Tracked agents by status, of one tenant and/or one site if given. O(1) under the engine's
  // lock: the engine keeps the counts as statuses change.
  presence::StatusCounts statusCounts(std::optional<int64_t> tenant_id,
                                      std::optional<int64_t> site_id) const;

  std::optional<presence::AgentView> agentView(const std::string& agent_id) const;
  // Whether the agent is tracked here (cheaper than agentView()).
  bool tracks(const std::string& agent_id) const;
  presence::HealthView health() const;
  size_t agentCount() const;
  // PresenceEngine::projectedHeartbeatsPerSecond(), under the engine's lock (O(1)).
  double projectedHeartbeatsPerSecond() const;

  // Takes every pending event (empty if none).
  PresenceBatch takePending();
  // Returns a batch that could not be written, ahead of newer events.
  void putBack(PresenceBatch batch);
  // Status changes dropped because the pending batch was full.
  uint64_t droppedChanges() const;
  // Records in the pending batch (PresenceBatch::size()).
  size_t pendingCount() const;

 private:
  // The engine calls its listener from inside the calls made to it, under mu_.
  void onTransition(const presence::Transition& transition) override REQUIRES(mu_);
  void onAlert(const presence::AlertEvent& alert) override REQUIRES(mu_);
  void onHealthChange(const presence::HealthChange& change) override REQUIRES(mu_);
  void onDiary(presence::AgentHandle agent, WallTime from, WallTime to) override REQUIRES(mu_);

  presence::AgentHandle addAgentLocked(const AgentRecord& agent,
                                       const std::optional<presence::RestoredState>& restored)
      REQUIRES(mu_);
  bool ownsLocked(int shard) const REQUIRES(mu_) { return !sharded_ || owned_.test(shard); }
  // The agents of `agents` (of the shards `wanted` says true for) with the evidence of them in
  // the store, read without the lock.
  Result<std::vector<std::pair<AgentRecord, presence::RestoredState>>> readAgents(
      AgentStore& agents, PresenceLogStore& log, const std::function<bool(int shard)>& wanted);
  void applyMaintenanceLocked() REQUIRES(mu_);
  void enforceBoundLocked() REQUIRES(mu_);

  const Clock& clock_;
  const size_t max_pending_;
  const Duration heartbeat_interval_;

  mutable Mutex mu_;
  // Agent ids by handle; a deque so the views in handles_ stay valid as it grows.
  std::deque<std::string> ids_ GUARDED_BY(mu_);
  std::unordered_map<std::string_view, presence::AgentHandle> handles_ GUARDED_BY(mu_);
  std::vector<int16_t> shard_of_ GUARDED_BY(mu_);  // by handle
  bool sharded_ GUARDED_BY(mu_) = false;
  std::string node_ GUARDED_BY(mu_);
  std::bitset<kShardCount> owned_ GUARDED_BY(mu_);
  // The last windows given: applied again to agents adopted later.
  std::vector<MaintenanceWindowRecord> windows_ GUARDED_BY(mu_);
  PresenceBatch pending_ GUARDED_BY(mu_);
  uint64_t dropped_changes_ GUARDED_BY(mu_) = 0;
  // Last: the engine may report events from its constructor, into the members above.
  presence::PresenceEngine engine_ GUARDED_BY(mu_);
};

}  // namespace vigil::collector
