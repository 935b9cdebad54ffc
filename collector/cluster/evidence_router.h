#pragma once

// Evidence in a cluster goes to the collector that owns the agent's shard (docs/cluster.md,
// "Routing"). The load balancer in front of the collectors is not sticky: any collector
// authenticates any agent's heartbeat or beacon, then this router hands it to the local
// presence monitor when the shard is this collector's, or queues it for the owner, to whom a
// sender thread relays the queue in signed batches (relay.h). The owner applies a batch as if
// the evidence had reached it directly, with the time it was received where it was received.
//
// When a shard's owner cannot be reached (its last batch failed and none went through since),
// heartbeats of its agents are answered 503 (HeartbeatAssessment::undeliverable): the agent
// tries again, most likely through another collector, and evidence is never silently lost on
// the way to its judge. Evidence queued for an owner is kept for kRelayMaxAge and then dropped;
// a shard without a live owner (between one owner's lease running out and the next taking it)
// has its evidence dropped at once: the next owner reads every collector's last-seen times from
// the store when it takes the shard, and judges nothing before one warm-up.
//
// Notices (an agent forgotten, its class changed) go to every live collector: each one's
// directory refuses a retired agent, and its owner stops tracking it.
//
// Thread safety: all methods are safe to call concurrently.

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "collector/cluster/relay.h"
#include "collector/cluster/shard_routes.h"
#include "collector/core/api_error.h"
#include "collector/ingest/agent_directory.h"
#include "collector/ingest/evidence_sink.h"
#include "collector/monitor/presence_monitor.h"
#include "collector/store/store.h"
#include "common/clock.h"
#include "common/mutex.h"

namespace vigil::collector {

inline constexpr std::chrono::seconds kRelayMaxAge{5};
// Items queued for all owners together; past it the oldest are dropped.
inline constexpr size_t kRelayMaxQueued = 200'000;

struct RelayCounts {
  uint64_t relayed = 0;        // items delivered to their owners
  uint64_t received = 0;       // items applied here for another collector
  uint64_t dropped_stale = 0;  // items dropped after kRelayMaxAge without delivery
  uint64_t dropped_full = 0;   // items dropped because the queue was full
  uint64_t no_owner = 0;       // evidence of a shard nobody held
  uint64_t undeliverable = 0;  // heartbeats answered 503: their owner could not be reached
  uint64_t refused = 0;        // batches refused (signature, replay, malformed)
  uint64_t replayed = 0;       // relayed heartbeats whose seq the owner had taken already
};

class EvidenceRouter final : public EvidenceSink {
 public:
  // Everything given must outlive the router. `agents` is read for agents enrolled through
  // another collector that this one has not heard of yet.
  EvidenceRouter(PresenceMonitor& local, AgentDirectory& directory, AgentStore& agents,
                 ShardRoutes& routes, const Clock& clock, std::string node, std::string instance);

  // The cluster's relay key (LeaseStore::clusterKey()). REQUIRES: before concurrent use.
  void setKey(std::string key);

  // EvidenceSink.
  void agentEnrolled(const AgentRecord& agent) override;
  HeartbeatAssessment heartbeatAccepted(const AcceptedHeartbeat& beat) override;
  void beaconAccepted(const std::string& agent_id, MonoTime received_at,
                      Duration interval) override;
  bool forgetAgent(const std::string& agent_id) override;
  void setAgentClass(const std::string& agent_id, AgentClass agent_class) override;
  bool canDeliver(const std::string& agent_id) const override;

  // --- Sending ---------------------------------------------------------------------------
  struct Outgoing {
    RouteTarget to;
    RelayBatch batch;
    std::string body;
    std::string signature;
    MonoTime taken_at;  // the ages in `batch` count back from here
  };
  // The queued items, in signed batches of at most kRelayMaxItems per owner; items older than
  // kRelayMaxAge are dropped.
  std::vector<Outgoing> takeBatches();
  // The batch reached its owner, which answered `reply`.
  void delivered(const Outgoing& sent, const RelayReply& reply);
  // It did not: the owner is marked unreachable until a batch goes through.
  void failed(const Outgoing& sent);

  // --- Receiving -------------------------------------------------------------------------
  // A batch another collector sent (POST protocol::kClusterRelayPath): checked (signature, replay,
  // skew), then applied; the answer's body, or a 4xx.
  ApiResult<std::string> receive(const std::optional<std::string>& signature,
                                 const std::string& body);

  RelayCounts counts() const;

 private:
  struct QueuedBeacon {
    std::string agent_id;
    MonoTime received_at;
    Duration interval;
  };
  struct Queue {
    RouteTarget to;
    std::deque<AcceptedHeartbeat> heartbeats;
    std::deque<QueuedBeacon> beacons;
    std::deque<RelayedNotice> notices;
    bool unreachable = false;
    size_t size() const { return heartbeats.size() + beacons.size() + notices.size(); }
  };
  enum class Route { kLocal, kRemote, kNobody };
  Route route(const std::string& agent_id, std::optional<RouteTarget>* owner) const;
  Queue& queueFor(const RouteTarget& to) REQUIRES(mu_);
  void broadcast(const RelayedNotice& notice);
  void enforceBoundLocked() REQUIRES(mu_);
  // The agent's placement; an agent enrolled through another collector is loaded from the
  // store into the directory, and its record left in `loaded`.
  std::optional<AgentPlacement> placementOrLoad(const std::string& agent_id,
                                                std::optional<AgentRecord>* loaded);
  RelayReply apply(const RelayBatch& batch);

  PresenceMonitor& local_;
  AgentDirectory& directory_;
  AgentStore& agents_;
  ShardRoutes& routes_;
  const Clock& clock_;
  const std::string node_;
  const std::string instance_;
  std::string key_;

  mutable Mutex mu_;
  std::map<std::string, Queue> queues_ GUARDED_BY(mu_);  // by node
  size_t queued_ GUARDED_BY(mu_) = 0;
  uint64_t next_number_ GUARDED_BY(mu_) = 1;
  // The last batch number applied, by sender node and instance.
  std::map<std::pair<std::string, std::string>, uint64_t> last_applied_ GUARDED_BY(mu_);
  mutable RelayCounts counts_ GUARDED_BY(mu_);
};

}  // namespace vigil::collector
