#include "collector/monitor/presence_monitor.h"

#include <algorithm>
#include <limits>
#include <utility>

namespace vigil::collector {
namespace {

namespace p = presence;

constexpr size_t kLoadPageSize = 1000;

const char* alertKindName(p::AlertKind kind) {
  switch (kind) {
    case p::AlertKind::kDeviceOffline:
      return "device_offline";
    case p::AlertKind::kSiteUnreachable:
      return "site_unreachable";
    case p::AlertKind::kFlapping:
      return "flapping";
  }
  return "unknown";
}

const char* alertActionName(p::AlertAction action) {
  switch (action) {
    case p::AlertAction::kOpened:
      return "opened";
    case p::AlertAction::kResolved:
      return "resolved";
    case p::AlertAction::kHeld:
      return "held";
    case p::AlertAction::kReleased:
      return "released";
  }
  return "unknown";
}

p::AgentClass engineClass(AgentClass agent_class) {
  return agent_class == AgentClass::kServer ? p::AgentClass::kServer : p::AgentClass::kWorkstation;
}

}  // namespace

std::vector<int> PresenceBatch::shards() const {
  std::bitset<kShardCount> seen;
  for (const StatusChangeRecord& c : changes) {
    if (c.shard >= 0 && c.shard < kShardCount) seen.set(static_cast<size_t>(c.shard));
  }
  for (const AlertChange& a : alerts) {
    if (a.shard >= 0 && a.shard < kShardCount) seen.set(static_cast<size_t>(a.shard));
  }
  std::vector<int> out;
  for (int shard = 0; shard < kShardCount; ++shard) {
    if (seen.test(static_cast<size_t>(shard))) out.push_back(shard);
  }
  return out;
}

size_t PresenceBatch::dropShards(const std::function<bool(int shard)>& drop) {
  const size_t before = changes.size() + alerts.size();
  auto dropped = [&](const auto& record) { return record.shard >= 0 && drop(record.shard); };
  changes.erase(std::remove_if(changes.begin(), changes.end(), dropped), changes.end());
  alerts.erase(std::remove_if(alerts.begin(), alerts.end(), dropped), alerts.end());
  return before - changes.size() - alerts.size();
}

PresenceMonitor::PresenceMonitor(const p::PresenceConfig& config, const Clock& clock,
                                 size_t max_pending)
    : clock_(clock),
      max_pending_(max_pending),
      heartbeat_interval_(config.heartbeat_interval),
      engine_(config, clock, *this) {
  // The engine starts DEGRADED (warm-up) without an event; history starts with that state.
  onHealthChange(p::HealthChange{engine_.health().degraded, engine_.health().reasons_mask,
                                 clock_.wallNow(), std::nullopt});
}

PresenceMonitor::~PresenceMonitor() = default;

Result<std::vector<std::pair<AgentRecord, p::RestoredState>>> PresenceMonitor::readAgents(
    AgentStore& agents, PresenceLogStore& log, const std::function<bool(int shard)>& wanted) {
  auto last = log.listLastStatuses();
  if (!last.ok()) return last.error();
  std::unordered_map<std::string, LastStatusRecord> last_by_agent;
  for (LastStatusRecord& r : last.value()) last_by_agent.emplace(r.agent_id, std::move(r));

  std::vector<std::pair<AgentRecord, p::RestoredState>> out;
  std::string after;
  while (true) {
    auto page = agents.listAgents(after, kLoadPageSize);
    if (!page.ok()) return page.error();
    const size_t page_size = page.value().size();
    if (page_size > 0) after = page.value().back().id;  // before the records are moved
    for (AgentRecord& agent : page.value()) {
      if (agent.retired_at_ms || !wanted(shardOfSite(agent.site_id))) continue;
      p::RestoredState restored;
      restored.expected_interval = heartbeat_interval_;
      if (agent.last_seen_at_ms) {
        restored.last_seen[static_cast<size_t>(p::Indicator::kHeartbeat)] =
            fromUnixMillis(*agent.last_seen_at_ms);
      }
      // A goodbye newer than the last heartbeat brings the agent back as SHUTDOWN, not as a
      // silent agent to alert on.
      if (agent.last_shutdown_at_ms) {
        restored.last_seen[static_cast<size_t>(p::Indicator::kShutdownNotice)] =
            fromUnixMillis(*agent.last_shutdown_at_ms);
      }
      if (auto it = last_by_agent.find(agent.id); it != last_by_agent.end()) {
        if (auto status = p::statusFromName(it->second.status)) restored.status = *status;
        restored.status_since = fromUnixMillis(it->second.since_ms);
      }
      out.emplace_back(std::move(agent), restored);
    }
    if (page_size < kLoadPageSize) break;
  }
  return out;
}

Status PresenceMonitor::load(AgentStore& agents, PresenceLogStore& log) {
  std::bitset<kShardCount> owned;
  bool sharded = false;
  {
    MutexLock lock(mu_);
    owned = owned_;
    sharded = sharded_;
  }
  auto read = readAgents(agents, log, [&](int shard) { return !sharded || owned.test(shard); });
  if (!read.ok()) return read.error();
  MutexLock lock(mu_);
  // The collector's last sign of life before this start: the newest evidence it accepted and
  // status it wrote. A single collector was blind from there until its warm-up ends (the
  // availability report counts that as its own time); a cluster's shards were watched by the
  // other collectors meanwhile.
  std::optional<int64_t> last_life;
  for (const auto& [agent, restored] : read.value()) {
    for (const std::optional<int64_t>& at :
         {agent.last_seen_at_ms, agent.last_shutdown_at_ms,
          restored.status_since ? std::optional<int64_t>(toUnixMillis(*restored.status_since))
                                : std::nullopt}) {
      if (at && (!last_life || *at > *last_life)) last_life = at;
    }
    addAgentLocked(agent, restored);
  }
  if (!sharded && last_life && !pending_.health.empty()) {
    HealthRecord& start = pending_.health.front();
    if (start.degraded && !start.blind_from_ms && *last_life < start.at_ms) {
      start.blind_from_ms = last_life;
    }
  }
  return Status::okStatus();
}

void PresenceMonitor::setNodeName(const std::string& node) {
  MutexLock lock(mu_);
  node_ = node;
  for (HealthRecord& h : pending_.health) h.node = node;
}

void PresenceMonitor::trackOwnedShardsOnly() {
  MutexLock lock(mu_);
  sharded_ = true;
}

Status PresenceMonitor::adoptShards(const std::vector<int>& shards, AgentStore& agents,
                                    PresenceLogStore& log) {
  std::bitset<kShardCount> adopted;
  for (int shard : shards) {
    if (shard >= 0 && shard < kShardCount) adopted.set(static_cast<size_t>(shard));
  }
  {
    // Owned first: an agent enrolled while the store is read is added by agentEnrolled().
    MutexLock lock(mu_);
    owned_ |= adopted;
  }
  auto read = readAgents(agents, log, [&](int shard) { return adopted.test(shard); });
  if (!read.ok()) return read.error();
  MutexLock lock(mu_);
  for (const auto& [agent, restored] : read.value()) {
    // A shard given up while the store was read stays given up.
    if (ownsLocked(shardOfSite(agent.site_id))) addAgentLocked(agent, restored);
  }
  applyMaintenanceLocked();
  return Status::okStatus();
}

size_t PresenceMonitor::releaseShards(const std::vector<int>& shards) {
  std::bitset<kShardCount> released;
  for (int shard : shards) {
    if (shard >= 0 && shard < kShardCount) released.set(static_cast<size_t>(shard));
  }
  MutexLock lock(mu_);
  owned_ &= ~released;
  std::vector<p::AgentHandle> leaving;
  for (const auto& [id, handle] : handles_) {
    if (released.test(static_cast<size_t>(shard_of_[handle]))) leaving.push_back(handle);
  }
  for (p::AgentHandle handle : leaving) {
    handles_.erase(std::string_view(ids_[handle]));
    engine_.releaseAgent(handle);
  }
  return pending_.dropShards([&](int shard) { return released.test(static_cast<size_t>(shard)); });
}

bool PresenceMonitor::ownsShard(int shard) const {
  if (shard < 0 || shard >= kShardCount) return false;
  MutexLock lock(mu_);
  return ownsLocked(shard);
}

bool PresenceMonitor::tracksEveryShard() const {
  MutexLock lock(mu_);
  return !sharded_;
}

void PresenceMonitor::agentEnrolled(const AgentRecord& agent) {
  MutexLock lock(mu_);
  if (!ownsLocked(shardOfSite(agent.site_id))) return;
  addAgentLocked(agent, std::nullopt);
}

p::AgentHandle PresenceMonitor::addAgentLocked(const AgentRecord& agent,
                                               const std::optional<p::RestoredState>& restored) {
  if (auto it = handles_.find(agent.id); it != handles_.end()) return it->second;
  p::AgentSpec spec;
  spec.site = static_cast<p::SiteId>(agent.site_id);
  spec.tenant = static_cast<p::TenantId>(agent.tenant_id);
  spec.agent_class = engineClass(agent.agent_class);
  // Evidence counts toward fleet-wide judgements only some time after enrollment.
  if (agent.enrolled_at_ms > 0) spec.enrolled_at = fromUnixMillis(agent.enrolled_at_ms);
  const p::AgentHandle handle = engine_.addAgent(spec, restored);
  if (ids_.size() <= handle) ids_.resize(handle + 1);
  if (shard_of_.size() <= handle) shard_of_.resize(handle + 1, -1);
  ids_[handle] = agent.id;
  shard_of_[handle] = static_cast<int16_t>(shardOfSite(agent.site_id));
  handles_.emplace(std::string_view(ids_[handle]), handle);
  return handle;
}

void PresenceMonitor::setAgentClass(const std::string& agent_id, AgentClass agent_class) {
  MutexLock lock(mu_);
  auto it = handles_.find(agent_id);
  if (it == handles_.end()) return;
  engine_.setAgentClass(it->second, engineClass(agent_class));
}

HeartbeatAssessment PresenceMonitor::heartbeatAccepted(const AcceptedHeartbeat& beat) {
  MutexLock lock(mu_);
  auto it = handles_.find(beat.agent_id);
  if (it == handles_.end()) return {};
  const p::AgentHandle agent = it->second;
  HeartbeatAssessment assessment;
  const p::AgentStatus before = engine_.agentView(agent).status;
  assessment.was_lost = before == p::AgentStatus::kSuspect ||
                        before == p::AgentStatus::kUnreachable ||
                        before == p::AgentStatus::kOffline;

  p::Observation o;
  o.agent = agent;
  o.indicator = p::Indicator::kHeartbeat;
  o.received_at = beat.received_at;
  o.expected_interval = beat.next_interval;
  o.beacon_fallback = beat.beacon_fallback;
  engine_.observe(o);

  for (const ReportedOutage& outage : beat.outages) {
    p::Observation d = o;
    d.indicator = p::Indicator::kDiary;
    d.diary_from = outage.from;
    d.diary_to = outage.to;
    engine_.observe(d);
  }
  if (beat.shutdown) {
    p::Observation n = o;
    n.indicator = p::Indicator::kShutdownNotice;
    engine_.observe(n);
  }
  for (const PeerWitness& w : beat.witnesses) {
    auto peer = handles_.find(w.agent_id);
    if (peer == handles_.end()) continue;
    p::Observation seen;
    seen.agent = peer->second;
    seen.indicator = p::Indicator::kPeerWitness;
    seen.received_at = w.heard_at;
    // Sightings come with the reporter's heartbeats.
    seen.expected_interval = beat.next_interval;
    seen.witness = agent;
    engine_.observe(seen);
  }
  return assessment;
}

void PresenceMonitor::beaconAccepted(const std::string& agent_id, MonoTime received_at,
                                     Duration interval) {
  MutexLock lock(mu_);
  auto it = handles_.find(agent_id);
  if (it == handles_.end()) return;
  p::Observation o;
  o.agent = it->second;
  o.indicator = p::Indicator::kBeacon;
  o.received_at = received_at;
  o.expected_interval = interval;
  engine_.observe(o);
}

void PresenceMonitor::reportStoreWrite(bool ok) {
  MutexLock lock(mu_);
  engine_.reportStoreWrite(ok);
}

void PresenceMonitor::reportStoreReach(bool reachable) {
  MutexLock lock(mu_);
  engine_.reportStoreReach(reachable);
}

void PresenceMonitor::reportQueueDepth(p::QueueId queue, uint64_t depth, uint64_t bound) {
  MutexLock lock(mu_);
  engine_.reportQueueDepth(queue, depth, bound);
}

void PresenceMonitor::reportRequests(uint64_t accepted, uint64_t shed) {
  MutexLock lock(mu_);
  engine_.reportRequests(accepted, shed);
}

void PresenceMonitor::reportConnectionsStarved(uint64_t starved) {
  MutexLock lock(mu_);
  engine_.reportConnectionsStarved(starved);
}

void PresenceMonitor::reportBeaconReceive(uint64_t read, uint64_t overflowed) {
  MutexLock lock(mu_);
  engine_.reportBeaconReceive(read, overflowed);
}

void PresenceMonitor::tick() {
  MutexLock lock(mu_);
  // The pending batch is itself a queue: past its bound the collector is degraded.
  engine_.reportQueueDepth(p::QueueId::kHistory, pending_.size(), max_pending_);
  engine_.tick();
}

bool PresenceMonitor::forgetAgent(const std::string& agent_id) {
  MutexLock lock(mu_);
  auto it = handles_.find(agent_id);
  if (it == handles_.end()) return false;
  const p::AgentHandle handle = it->second;
  handles_.erase(it);
  engine_.removeAgent(handle);
  return true;
}

void PresenceMonitor::setMaintenanceWindows(const std::vector<MaintenanceWindowRecord>& windows) {
  MutexLock lock(mu_);
  windows_ = windows;
  applyMaintenanceLocked();
}

void PresenceMonitor::applyMaintenanceLocked() {
  std::vector<p::MaintenanceWindow> converted;
  converted.reserve(windows_.size());
  for (const MaintenanceWindowRecord& w : windows_) {
    p::MaintenanceWindow mw;
    if (w.scope == "tenant") {
      mw.scope = p::MaintenanceWindow::Scope::kTenant;
      mw.target = static_cast<uint32_t>(w.tenant_id);
    } else if (w.scope == "site" && w.site_id) {
      mw.scope = p::MaintenanceWindow::Scope::kSite;
      mw.target = static_cast<uint32_t>(*w.site_id);
    } else if (w.scope == "agent" && w.agent_id) {
      auto it = handles_.find(*w.agent_id);
      if (it == handles_.end()) continue;
      mw.scope = p::MaintenanceWindow::Scope::kAgent;
      mw.target = it->second;
    } else {
      continue;
    }
    mw.starts_at = WallTime(std::chrono::milliseconds(w.starts_at_ms));
    mw.length = std::chrono::seconds(w.duration_s);
    mw.weekly = w.recurrence == "weekly";
    converted.push_back(mw);
  }
  engine_.setMaintenanceWindows(std::move(converted));
}

p::StatusCounts PresenceMonitor::statusCounts(std::optional<int64_t> tenant_id,
                                              std::optional<int64_t> site_id) const {
  // The engine's ids are the store's, narrowed: an id outside its range has no agent.
  auto outOfRange = [](const std::optional<int64_t>& id) {
    return id && (*id < 0 || *id > std::numeric_limits<uint32_t>::max());
  };
  if (outOfRange(tenant_id) || outOfRange(site_id)) return {};
  std::optional<p::TenantId> tenant;
  std::optional<p::SiteId> site;
  if (tenant_id) tenant = static_cast<p::TenantId>(*tenant_id);
  if (site_id) site = static_cast<p::SiteId>(*site_id);
  MutexLock lock(mu_);
  return engine_.statusCounts(tenant, site);
}

bool PresenceMonitor::tracks(const std::string& agent_id) const {
  MutexLock lock(mu_);
  return handles_.count(agent_id) > 0;
}

std::optional<p::AgentView> PresenceMonitor::agentView(const std::string& agent_id) const {
  MutexLock lock(mu_);
  auto it = handles_.find(agent_id);
  if (it == handles_.end()) return std::nullopt;
  return engine_.agentView(it->second);
}

p::HealthView PresenceMonitor::health() const {
  MutexLock lock(mu_);
  return engine_.health();
}

size_t PresenceMonitor::agentCount() const {
  MutexLock lock(mu_);
  return engine_.agentCount();
}

double PresenceMonitor::projectedHeartbeatsPerSecond() const {
  MutexLock lock(mu_);
  return engine_.projectedHeartbeatsPerSecond();
}

PresenceBatch PresenceMonitor::takePending() {
  MutexLock lock(mu_);
  PresenceBatch out = std::move(pending_);
  pending_ = PresenceBatch();
  return out;
}

void PresenceMonitor::putBack(PresenceBatch batch) {
  MutexLock lock(mu_);
  auto prepend = [](auto& older, auto& newer) {
    older.insert(older.end(), std::make_move_iterator(newer.begin()),
                 std::make_move_iterator(newer.end()));
    newer = std::move(older);
  };
  prepend(batch.changes, pending_.changes);
  prepend(batch.alerts, pending_.alerts);
  prepend(batch.health, pending_.health);
  enforceBoundLocked();
}

uint64_t PresenceMonitor::droppedChanges() const {
  MutexLock lock(mu_);
  return dropped_changes_;
}

size_t PresenceMonitor::pendingCount() const {
  MutexLock lock(mu_);
  return pending_.size();
}

void PresenceMonitor::enforceBoundLocked() {
  if (pending_.size() <= max_pending_) return;
  // History is the only thing that may be lost; alerts and health changes never are.
  const size_t excess = std::min(pending_.size() - max_pending_, pending_.changes.size());
  pending_.changes.erase(pending_.changes.begin(),
                         pending_.changes.begin() + static_cast<std::ptrdiff_t>(excess));
  dropped_changes_ += excess;
}

// Listener callbacks run inside engine calls, so mu_ is already held.

void PresenceMonitor::onTransition(const p::Transition& t) {
  if (t.agent >= ids_.size()) return;
  StatusChangeRecord change{ids_[t.agent],
                            toUnixMillis(t.at),
                            p::statusName(t.from),
                            p::statusName(t.to),
                            p::reasonName(t.reason),
                            p::degradationReasonNames(t.degradation_mask),
                            0,
                            shard_of_[t.agent],
                            std::nullopt};
  if (t.overdue_from) change.overdue_from_ms = toUnixMillis(*t.overdue_from);
  pending_.changes.push_back(std::move(change));
  enforceBoundLocked();
}

void PresenceMonitor::onAlert(const p::AlertEvent& alert) {
  AlertChange change;
  change.kind = alertKindName(alert.kind);
  change.action = alertActionName(alert.action);
  if (alert.agent && *alert.agent < ids_.size()) {
    change.agent_id = ids_[*alert.agent];
    change.shard = shard_of_[*alert.agent];
  }
  // Device and flapping alerts are about an agent; only site alerts are keyed by site.
  if (alert.kind == p::AlertKind::kSiteUnreachable && alert.site) {
    change.site_id = *alert.site;
    change.shard = shardOfSite(*alert.site);
  }
  change.at_ms = toUnixMillis(alert.at);
  if (alert.held_since) change.held_since_ms = toUnixMillis(*alert.held_since);
  change.held_reasons = p::degradationReasonNames(alert.held_for_mask);
  change.note = alert.note;
  pending_.alerts.push_back(std::move(change));
}

void PresenceMonitor::onHealthChange(const p::HealthChange& change) {
  HealthRecord record;
  record.at_ms = toUnixMillis(change.at);
  record.degraded = change.degraded;
  record.reasons = p::degradationReasonNames(change.reasons_mask);
  if (change.blind_from) record.blind_from_ms = toUnixMillis(*change.blind_from);
  record.node = node_;
  pending_.health.push_back(std::move(record));
}

void PresenceMonitor::onDiary(p::AgentHandle agent, WallTime from, WallTime to) {
  // The agent ran but could not reach the collector from `from` to `to`: history shows
  // "endpoint up, path down" for that period instead of a gap.
  if (agent >= ids_.size()) return;
  pending_.changes.push_back(StatusChangeRecord{ids_[agent], toUnixMillis(from), "ONLINE", "ONLINE",
                                                "outage_diary_start", "", 0, shard_of_[agent],
                                                std::nullopt});
  pending_.changes.push_back(StatusChangeRecord{ids_[agent], toUnixMillis(to), "ONLINE", "ONLINE",
                                                "outage_diary_end", "", 0, shard_of_[agent],
                                                std::nullopt});
  enforceBoundLocked();
}

}  // namespace vigil::collector
