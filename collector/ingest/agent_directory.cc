#include "collector/ingest/agent_directory.h"

namespace vigil::collector {
namespace {
constexpr size_t kLoadPageSize = 5000;
}  // namespace

AgentDirectory::Entry AgentDirectory::entryFrom(const AgentRecord& agent) {
  Entry e;
  e.credentials.secret = agent.secret;
  e.credentials.retired = agent.retired_at_ms.has_value();
  e.live.last_seen_at_ms = agent.last_seen_at_ms;
  e.live.last_seq = agent.last_seq;
  e.live.boot_id = agent.boot_id;
  e.live.uptime_s = agent.uptime_s;
  e.live.agent_version = agent.agent_version;
  e.live.hostname = agent.hostname;
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
  std::lock_guard<std::mutex> lock(mu_);
  agents_ = std::move(loaded);
  dirty_ids_.clear();
  return Status::okStatus();
}

void AgentDirectory::add(const AgentRecord& agent) {
  std::lock_guard<std::mutex> lock(mu_);
  agents_[agent.id] = entryFrom(agent);
}

std::optional<AgentCredentials> AgentDirectory::credentials(const std::string& agent_id) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = agents_.find(agent_id);
  if (it == agents_.end()) return std::nullopt;
  return it->second.credentials;
}

AcceptOutcome AgentDirectory::accept(const protocol::Heartbeat& beat, int64_t now_ms) {
  std::lock_guard<std::mutex> lock(mu_);
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
  if (!e.dirty) {
    e.dirty = true;
    dirty_ids_.push_back(beat.agent_id);
  }
  return AcceptOutcome::kAccepted;
}

std::optional<AgentLiveState> AgentDirectory::liveState(const std::string& agent_id) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = agents_.find(agent_id);
  if (it == agents_.end()) return std::nullopt;
  return it->second.live;
}

std::vector<LastSeenUpdate> AgentDirectory::takeDirty() {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<LastSeenUpdate> out;
  out.reserve(dirty_ids_.size());
  for (const std::string& id : dirty_ids_) {
    auto it = agents_.find(id);
    if (it == agents_.end() || !it->second.dirty) continue;
    Entry& e = it->second;
    e.dirty = false;
    out.push_back(LastSeenUpdate{id, e.live.last_seen_at_ms.value_or(0), e.live.last_seq,
                                 e.live.boot_id, e.live.uptime_s, e.live.agent_version,
                                 e.live.hostname});
  }
  dirty_ids_.clear();
  return out;
}

void AgentDirectory::markDirty(const std::vector<LastSeenUpdate>& failed) {
  std::lock_guard<std::mutex> lock(mu_);
  for (const LastSeenUpdate& u : failed) {
    auto it = agents_.find(u.agent_id);
    if (it == agents_.end() || it->second.dirty) continue;
    it->second.dirty = true;
    dirty_ids_.push_back(u.agent_id);
  }
}

size_t AgentDirectory::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return agents_.size();
}

size_t AgentDirectory::dirtyCount() const {
  std::lock_guard<std::mutex> lock(mu_);
  return dirty_ids_.size();
}

}  // namespace vigil::collector
