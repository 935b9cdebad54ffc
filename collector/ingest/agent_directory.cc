#include "collector/ingest/agent_directory.h"

#include <cstddef>
#include <iterator>
#include <utility>

namespace vigil::collector {
namespace {

constexpr size_t kLoadPageSize = 5000;

// Replaces `*current` by a reported non-empty value; true if that changed it.
bool takeReported(const std::optional<std::string>& reported, std::string* current) {
  if (!reported || reported->empty() || *reported == *current) return false;
  *current = *reported;
  return true;
}

// Keeps the newest kOutageReportsKeptPerAgent reports.
void trimOutages(std::vector<OutageReport>* outages) {
  if (outages->size() <= kOutageReportsKeptPerAgent) return;
  outages->erase(outages->begin(),
                 outages->end() - static_cast<std::ptrdiff_t>(kOutageReportsKeptPerAgent));
}

}  // namespace

AgentDirectory::Entry AgentDirectory::entryFrom(const AgentRecord& agent) {
  Entry e;
  e.credentials.secret = agent.secret;
  e.credentials.retired = agent.retired_at_ms.has_value();
  e.credentials.site_id = agent.site_id;
  e.credentials.tenant_id = agent.tenant_id;
  e.live.last_seen_at_ms = agent.last_seen_at_ms;
  e.live.last_seq = agent.last_seq;
  e.live.boot_id = agent.boot_id;
  e.live.uptime_s = agent.uptime_s;
  e.live.agent_version = agent.agent_version;
  e.live.hostname = agent.hostname;
  e.live.os_name = agent.os_name;
  e.live.os_version = agent.os_version;
  e.live.config_hash = agent.config_hash;
  e.live.net = agent.net;
  e.live.last_shutdown_reason = agent.last_shutdown_reason;
  e.live.last_shutdown_at_ms = agent.last_shutdown_at_ms;
  return e;
}

Status AgentDirectory::load(Store& store) {
  std::unordered_map<std::string, Entry> loaded;
  std::string after;
  while (true) {
    auto page = store.listAgents(after, kLoadPageSize);
    if (!page.ok()) return page.error();
    for (const AgentRecord& agent : page.value()) loaded.emplace(agent.id, entryFrom(agent));
    if (page.value().size() < kLoadPageSize) break;
    after = page.value().back().id;
  }
  MutexLock lock(mu_);
  agents_ = std::move(loaded);
  dirty_ids_.clear();
  return Status::okStatus();
}

void AgentDirectory::add(const AgentRecord& agent) {
  MutexLock lock(mu_);
  agents_[agent.id] = entryFrom(agent);
}

void AgentDirectory::retire(const std::string& agent_id) {
  MutexLock lock(mu_);
  auto it = agents_.find(agent_id);
  if (it != agents_.end()) it->second.credentials.retired = true;
}

void AgentDirectory::remove(const std::string& agent_id) {
  MutexLock lock(mu_);
  // A stale id left in dirty_ids_ is skipped by takeDirty (no entry).
  agents_.erase(agent_id);
}

std::optional<AgentCredentials> AgentDirectory::credentials(const std::string& agent_id) const {
  MutexLock lock(mu_);
  auto it = agents_.find(agent_id);
  if (it == agents_.end()) return std::nullopt;
  return it->second.credentials;
}

bool AgentDirectory::credentialsInto(const std::string& agent_id, AgentCredentials* out) const {
  MutexLock lock(mu_);
  auto it = agents_.find(agent_id);
  if (it == agents_.end()) return false;
  *out = it->second.credentials;
  return true;
}

std::optional<AgentPlacement> AgentDirectory::placement(const std::string& agent_id) const {
  MutexLock lock(mu_);
  auto it = agents_.find(agent_id);
  if (it == agents_.end()) return std::nullopt;
  const AgentCredentials& c = it->second.credentials;
  return AgentPlacement{c.site_id, c.tenant_id, c.retired};
}

AcceptOutcome AgentDirectory::accept(const protocol::Heartbeat& beat, int64_t now_ms) {
  MutexLock lock(mu_);
  auto it = agents_.find(beat.agent_id);
  if (it == agents_.end() || it->second.credentials.retired) return AcceptOutcome::kUnknownAgent;
  Entry& e = it->second;
  const auto seq = static_cast<int64_t>(beat.seq);
  if (seq <= e.live.last_seq) return AcceptOutcome::kReplayedSequence;
  e.live.last_seen_at_ms = now_ms;
  e.live.last_seq = seq;
  e.live.boot_id = beat.boot_id;
  e.live.uptime_s = static_cast<int64_t>(beat.uptime_s);
  e.live.agent_version = beat.agent_version;
  if (beat.hostname && !beat.hostname->empty()) e.live.hostname = *beat.hostname;
  bool facts_changed = takeReported(beat.os_name, &e.live.os_name);
  facts_changed |= takeReported(beat.os_version, &e.live.os_version);
  facts_changed |= takeReported(beat.config_hash, &e.live.config_hash);
  if (beat.net) {
    AgentNetwork net{beat.net->default_route, beat.net->addresses};
    if (!e.live.net || *e.live.net != net) {
      e.live.net = std::move(net);
      facts_changed = true;
    }
  }
  if (facts_changed) e.facts_dirty = true;
  if (beat.shutdown) {
    e.live.last_shutdown_reason = *beat.shutdown;
    e.live.last_shutdown_at_ms = now_ms;
    e.shutdown_dirty = true;
  }
  for (const protocol::OutageEntry& o : beat.outages) {
    e.pending_outages.push_back(OutageReport{beat.agent_id, o.from_ms, o.to_ms, o.cause, now_ms});
  }
  trimOutages(&e.pending_outages);
  if (!e.dirty) {
    e.dirty = true;
    dirty_ids_.push_back(beat.agent_id);
  }
  return AcceptOutcome::kAccepted;
}

std::optional<AgentLiveState> AgentDirectory::liveState(const std::string& agent_id) const {
  MutexLock lock(mu_);
  auto it = agents_.find(agent_id);
  if (it == agents_.end()) return std::nullopt;
  return it->second.live;
}

std::vector<LastSeenUpdate> AgentDirectory::takeDirty() {
  MutexLock lock(mu_);
  std::vector<LastSeenUpdate> out;
  out.reserve(dirty_ids_.size());
  for (const std::string& id : dirty_ids_) {
    auto it = agents_.find(id);
    if (it == agents_.end() || !it->second.dirty) continue;
    Entry& e = it->second;
    e.dirty = false;
    LastSeenUpdate u;
    u.agent_id = id;
    u.last_seen_at_ms = e.live.last_seen_at_ms.value_or(0);
    u.last_seq = e.live.last_seq;
    u.boot_id = e.live.boot_id;
    u.uptime_s = e.live.uptime_s;
    u.agent_version = e.live.agent_version;
    u.hostname = e.live.hostname;
    if (e.facts_dirty) {
      u.facts = AgentFactsUpdate{e.live.os_name, e.live.os_version, e.live.config_hash, e.live.net};
      e.facts_dirty = false;
    }
    if (e.shutdown_dirty) {
      u.shutdown_reason = e.live.last_shutdown_reason;
      u.shutdown_at_ms = e.live.last_shutdown_at_ms.value_or(0);
      e.shutdown_dirty = false;
    }
    u.outages = std::move(e.pending_outages);
    e.pending_outages = {};
    out.push_back(std::move(u));
  }
  dirty_ids_.clear();
  return out;
}

void AgentDirectory::markDirty(std::vector<LastSeenUpdate> failed) {
  MutexLock lock(mu_);
  for (LastSeenUpdate& u : failed) {
    auto it = agents_.find(u.agent_id);
    if (it == agents_.end()) continue;
    Entry& e = it->second;
    // Facts and notice are written with the values current at the next take.
    if (u.facts) e.facts_dirty = true;
    if (u.shutdown_reason) e.shutdown_dirty = true;
    if (!u.outages.empty()) {
      u.outages.insert(u.outages.end(), std::make_move_iterator(e.pending_outages.begin()),
                       std::make_move_iterator(e.pending_outages.end()));
      e.pending_outages = std::move(u.outages);
      trimOutages(&e.pending_outages);
    }
    if (e.dirty) continue;
    e.dirty = true;
    dirty_ids_.push_back(u.agent_id);
  }
}

size_t AgentDirectory::size() const {
  MutexLock lock(mu_);
  return agents_.size();
}

size_t AgentDirectory::dirtyCount() const {
  MutexLock lock(mu_);
  return dirty_ids_.size();
}

}  // namespace vigil::collector
