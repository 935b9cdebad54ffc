#include "collector/cluster/evidence_router.h"

#include <algorithm>
#include <cstdlib>
#include <set>

#include "collector/core/shards.h"
#include "common/protocol.h"

namespace vigil::collector {
namespace {

namespace errors = protocol::errors;

int64_t msOf(Duration d) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
}

int64_t ageMs(MonoTime now, MonoTime at) { return std::max<int64_t>(0, msOf(now - at)); }

// The heartbeat as it was taken in, from its relayed form; its ages count back from `sent`.
AcceptedHeartbeat heartbeatFrom(const RelayedHeartbeat& h, MonoTime sent) {
  auto at = [&](int64_t age_ms) { return sent - std::chrono::milliseconds(age_ms); };
  AcceptedHeartbeat beat;
  beat.agent_id = h.agent_id;
  beat.seq = h.seq;
  beat.received_at = at(h.age_ms);
  beat.next_interval = std::chrono::milliseconds(h.interval_ms);
  beat.beacon_fallback = h.beacon_fallback;
  beat.shutdown = h.shutdown;
  for (const auto& [from, to] : h.outages) {
    beat.outages.push_back(ReportedOutage{fromUnixMillis(from), fromUnixMillis(to)});
  }
  for (const RelayedWitness& w : h.witnesses) {
    beat.witnesses.push_back(PeerWitness{w.agent_id, at(w.age_ms)});
  }
  return beat;
}

ApiError refusal(int status, const char* code, std::string message) {
  return ApiError{status, code, std::move(message), std::nullopt};
}

}  // namespace

EvidenceRouter::EvidenceRouter(PresenceMonitor& local, AgentDirectory& directory,
                               AgentStore& agents, ShardRoutes& routes, const Clock& clock,
                               std::string node, std::string instance)
    : local_(local),
      directory_(directory),
      agents_(agents),
      routes_(routes),
      clock_(clock),
      node_(std::move(node)),
      instance_(std::move(instance)) {}

void EvidenceRouter::setKey(std::string key) { key_ = std::move(key); }

EvidenceRouter::Route EvidenceRouter::route(const std::string& agent_id,
                                            std::optional<RouteTarget>* owner) const {
  std::optional<AgentPlacement> placement = directory_.placement(agent_id);
  if (!placement) return Route::kNobody;
  const int shard = shardOfSite(placement->site_id);
  if (local_.ownsShard(shard)) return Route::kLocal;
  *owner = routes_.ownerOf(shard);
  return *owner ? Route::kRemote : Route::kNobody;
}

EvidenceRouter::Queue& EvidenceRouter::queueFor(const RouteTarget& to) {
  Queue& queue = queues_[to.node];
  queue.to = to;  // the URL may have changed (a restart elsewhere)
  return queue;
}

void EvidenceRouter::agentEnrolled(const AgentRecord& agent) { local_.agentEnrolled(agent); }

HeartbeatAssessment EvidenceRouter::heartbeatAccepted(const AcceptedHeartbeat& beat) {
  std::optional<RouteTarget> owner;
  switch (route(beat.agent_id, &owner)) {
    case Route::kLocal:
      return local_.heartbeatAccepted(beat);
    case Route::kNobody: {
      MutexLock lock(mu_);
      ++counts_.no_owner;
      return {};
    }
    case Route::kRemote:
      break;
  }
  MutexLock lock(mu_);
  Queue& queue = queueFor(*owner);
  if (queue.unreachable) {
    ++counts_.undeliverable;
    HeartbeatAssessment assessment;
    assessment.undeliverable = true;
    return assessment;
  }
  queue.heartbeats.push_back(beat);
  ++queued_;
  enforceBoundLocked();
  return {};
}

bool EvidenceRouter::canDeliver(const std::string& agent_id) const {
  std::optional<RouteTarget> owner;
  if (route(agent_id, &owner) != Route::kRemote) return true;
  MutexLock lock(mu_);
  auto it = queues_.find(owner->node);
  if (it == queues_.end() || !it->second.unreachable) return true;
  ++counts_.undeliverable;
  return false;
}

void EvidenceRouter::beaconAccepted(const std::string& agent_id, MonoTime received_at,
                                    Duration interval) {
  std::optional<RouteTarget> owner;
  switch (route(agent_id, &owner)) {
    case Route::kLocal:
      local_.beaconAccepted(agent_id, received_at, interval);
      return;
    case Route::kNobody: {
      MutexLock lock(mu_);
      ++counts_.no_owner;
      return;
    }
    case Route::kRemote:
      break;
  }
  MutexLock lock(mu_);
  queueFor(*owner).beacons.push_back(QueuedBeacon{agent_id, received_at, interval});
  ++queued_;
  enforceBoundLocked();
}

bool EvidenceRouter::forgetAgent(const std::string& agent_id) {
  broadcast(RelayedNotice{RelayedNotice::Kind::kRetired, agent_id, ""});
  return local_.forgetAgent(agent_id);
}

void EvidenceRouter::setAgentClass(const std::string& agent_id, AgentClass agent_class) {
  broadcast(RelayedNotice{RelayedNotice::Kind::kClassChanged, agent_id,
                          agent_class == AgentClass::kServer ? "server" : "workstation"});
  local_.setAgentClass(agent_id, agent_class);
}

void EvidenceRouter::broadcast(const RelayedNotice& notice) {
  const std::vector<RouteTarget> peers = routes_.peers();
  MutexLock lock(mu_);
  for (const RouteTarget& peer : peers) {
    queueFor(peer).notices.push_back(notice);
    ++queued_;
  }
  enforceBoundLocked();
}

void EvidenceRouter::enforceBoundLocked() {
  // The fullest queue gives up its oldest evidence first; notices are kept.
  while (queued_ > kRelayMaxQueued) {
    Queue* fullest = nullptr;
    for (auto& [node, queue] : queues_) {
      if (queue.heartbeats.size() + queue.beacons.size() == 0) continue;
      if (fullest == nullptr || queue.size() > fullest->size()) fullest = &queue;
    }
    if (fullest == nullptr) return;
    if (!fullest->beacons.empty()) {
      fullest->beacons.pop_front();
    } else {
      fullest->heartbeats.pop_front();
    }
    --queued_;
    ++counts_.dropped_full;
  }
}

std::vector<EvidenceRouter::Outgoing> EvidenceRouter::takeBatches() {
  std::vector<Outgoing> out;
  const MonoTime now = clock_.monotonicNow();
  const int64_t now_ms = toUnixMillis(clock_.wallNow());
  MutexLock lock(mu_);
  for (auto& [node, queue] : queues_) {
    auto stale = [&](MonoTime at) { return now - at > kRelayMaxAge; };
    while (!queue.heartbeats.empty() && stale(queue.heartbeats.front().received_at)) {
      queue.heartbeats.pop_front();
      --queued_;
      ++counts_.dropped_stale;
    }
    while (!queue.beacons.empty() && stale(queue.beacons.front().received_at)) {
      queue.beacons.pop_front();
      --queued_;
      ++counts_.dropped_stale;
    }
    while (queue.size() > 0) {
      Outgoing o;
      o.to = queue.to;
      o.taken_at = now;
      RelayBatch& batch = o.batch;
      batch.from_node = node_;
      batch.from_instance = instance_;
      batch.number = next_number_++;
      batch.sent_at_ms = now_ms;
      while (!queue.notices.empty() && batch.items() < kRelayMaxItems) {
        batch.notices.push_back(std::move(queue.notices.front()));
        queue.notices.pop_front();
      }
      while (!queue.heartbeats.empty() && batch.items() < kRelayMaxItems) {
        const AcceptedHeartbeat& beat = queue.heartbeats.front();
        RelayedHeartbeat h;
        h.agent_id = beat.agent_id;
        h.seq = beat.seq;
        h.age_ms = ageMs(now, beat.received_at);
        h.interval_ms = std::max<int64_t>(1, msOf(beat.next_interval));
        h.beacon_fallback = beat.beacon_fallback;
        h.shutdown = beat.shutdown;
        for (const ReportedOutage& outage : beat.outages) {
          h.outages.emplace_back(toUnixMillis(outage.from), toUnixMillis(outage.to));
        }
        for (const PeerWitness& w : beat.witnesses) {
          h.witnesses.push_back(RelayedWitness{w.agent_id, ageMs(now, w.heard_at)});
        }
        batch.heartbeats.push_back(std::move(h));
        queue.heartbeats.pop_front();
      }
      while (!queue.beacons.empty() && batch.items() < kRelayMaxItems) {
        const QueuedBeacon& beacon = queue.beacons.front();
        batch.beacons.push_back(RelayedBeacon{beacon.agent_id, ageMs(now, beacon.received_at),
                                              std::max<int64_t>(1, msOf(beacon.interval))});
        queue.beacons.pop_front();
      }
      queued_ -= batch.items();
      o.body = encodeRelayBatch(batch);
      auto signature = relaySignature(key_, o.body);
      if (!signature.ok()) continue;  // the crypto library failed: nothing can be sent
      o.signature = std::move(signature.value());
      out.push_back(std::move(o));
    }
  }
  return out;
}

void EvidenceRouter::delivered(const Outgoing& sent, const RelayReply& reply) {
  routes_.forget(reply.not_owned);
  MutexLock lock(mu_);
  counts_.relayed += sent.batch.items();
  queueFor(sent.to).unreachable = false;
}

void EvidenceRouter::failed(const Outgoing& sent) {
  MutexLock lock(mu_);
  Queue& queue = queueFor(sent.to);
  queue.unreachable = true;
  // Back to the front of the queue, in order, as they were: tried again until kRelayMaxAge.
  auto at = [&](int64_t age_ms) { return sent.taken_at - std::chrono::milliseconds(age_ms); };
  for (auto it = sent.batch.beacons.rbegin(); it != sent.batch.beacons.rend(); ++it) {
    queue.beacons.push_front(
        QueuedBeacon{it->agent_id, at(it->age_ms), std::chrono::milliseconds(it->interval_ms)});
  }
  for (auto it = sent.batch.heartbeats.rbegin(); it != sent.batch.heartbeats.rend(); ++it) {
    queue.heartbeats.push_front(heartbeatFrom(*it, sent.taken_at));
  }
  for (auto it = sent.batch.notices.rbegin(); it != sent.batch.notices.rend(); ++it) {
    queue.notices.push_front(*it);
  }
  queued_ += sent.batch.items();
  enforceBoundLocked();
}

ApiResult<std::string> EvidenceRouter::receive(const std::optional<std::string>& signature,
                                               const std::string& body) {
  auto refuse = [&](int status, const char* code, std::string message) -> ApiError {
    MutexLock lock(mu_);
    ++counts_.refused;
    return refusal(status, code, std::move(message));
  };
  if (!signature) {
    return refuse(401, errors::kMissingSignature,
                  std::string(protocol::kHeaderClusterSignature) + " is required");
  }
  if (key_.empty() || !relaySignatureValid(key_, body, *signature)) {
    return refuse(401, errors::kBadSignature, "the relay signature does not verify");
  }
  auto decoded = decodeRelayBatch(body);
  if (!decoded.ok()) return refuse(400, errors::kInvalidField, decoded.error().message());
  const RelayBatch& batch = decoded.value();
  const int64_t skew_ms = batch.sent_at_ms - toUnixMillis(clock_.wallNow());
  if (std::llabs(skew_ms) > msOf(kRelayMaxSkew)) {
    return refuse(401, errors::kStaleTimestamp,
                  "the batch was sent " + std::to_string(std::llabs(skew_ms) / 1000) +
                      " s away from this collector's clock");
  }
  {
    MutexLock lock(mu_);
    uint64_t& last = last_applied_[{batch.from_node, batch.from_instance}];
    if (batch.number <= last) {
      ++counts_.refused;
      return refusal(409, errors::kReplayedSequence,
                     "batch " + std::to_string(batch.number) + " of " + batch.from_node +
                         " is not above the last one applied");
    }
    last = batch.number;
  }
  return encodeRelayReply(apply(batch));
}

std::optional<AgentPlacement> EvidenceRouter::placementOrLoad(const std::string& agent_id,
                                                              std::optional<AgentRecord>* loaded) {
  if (std::optional<AgentPlacement> known = directory_.placement(agent_id)) return known;
  auto found = agents_.findAgent(agent_id);
  if (!found.ok() || !found.value()) return std::nullopt;
  const AgentRecord& agent = *found.value();
  directory_.addIfAbsent(agent);
  if (agent.retired_at_ms) directory_.retire(agent.id);
  *loaded = agent;
  return directory_.placement(agent_id);
}

RelayReply EvidenceRouter::apply(const RelayBatch& batch) {
  const MonoTime now = clock_.monotonicNow();
  auto at = [&](int64_t age_ms) { return now - std::chrono::milliseconds(age_ms); };
  std::set<int> not_owned;
  // The agent's placement if its shard is this collector's, loading an agent enrolled
  // elsewhere; otherwise its shard goes into the answer.
  auto ownedHere = [&](const std::string& agent_id) {
    std::optional<AgentRecord> loaded;
    std::optional<AgentPlacement> placement = placementOrLoad(agent_id, &loaded);
    if (!placement || placement->retired) return false;
    const int shard = shardOfSite(placement->site_id);
    if (!local_.ownsShard(shard)) {
      not_owned.insert(shard);
      return false;
    }
    if (!local_.tracks(agent_id)) {
      if (!loaded) {
        auto found = agents_.findAgent(agent_id);
        if (found.ok() && found.value()) loaded = std::move(*found.value());
      }
      if (loaded) local_.agentEnrolled(*loaded);
    }
    return true;
  };
  for (const RelayedNotice& notice : batch.notices) {
    switch (notice.kind) {
      case RelayedNotice::Kind::kRetired:
        directory_.retire(notice.agent_id);
        local_.forgetAgent(notice.agent_id);
        break;
      case RelayedNotice::Kind::kClassChanged:
        local_.setAgentClass(notice.agent_id, notice.agent_class == "server"
                                                  ? AgentClass::kServer
                                                  : AgentClass::kWorkstation);
        break;
    }
  }
  for (const RelayedHeartbeat& h : batch.heartbeats) {
    if (!ownedHere(h.agent_id)) continue;
    // A heartbeat replayed to another collector than the one that first took it passes that
    // collector's check; the owner sees every heartbeat of the agent and takes none twice.
    if (h.seq > 0 && !directory_.advanceSeq(h.agent_id, h.seq)) {
      MutexLock lock(mu_);
      ++counts_.replayed;
      continue;
    }
    local_.heartbeatAccepted(heartbeatFrom(h, now));
  }
  for (const RelayedBeacon& b : batch.beacons) {
    if (!ownedHere(b.agent_id)) continue;
    local_.beaconAccepted(b.agent_id, at(b.age_ms), std::chrono::milliseconds(b.interval_ms));
  }
  MutexLock lock(mu_);
  counts_.received += batch.items();
  return RelayReply{std::vector<int>(not_owned.begin(), not_owned.end())};
}

RelayCounts EvidenceRouter::counts() const {
  MutexLock lock(mu_);
  return counts_;
}

}  // namespace vigil::collector
