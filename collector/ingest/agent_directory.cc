#include "collector/ingest/agent_directory.h"

#include <cstddef>
#include <functional>
#include <iterator>
#include <string_view>
#include <utility>

namespace vigil::collector {
namespace {

constexpr size_t kLoadPageSize = 5000;

// The fingerprint of a reported value; 0 is kept for "never reported", so an empty value
// (never taken as a report) and a hash of 0 cannot be confused with it.
uint64_t fingerprintOf(std::string_view value) {
  if (value.empty()) return 0;
  const uint64_t h = std::hash<std::string_view>{}(value);
  return h == 0 ? 1 : h;
}

// The fingerprint of a network self-check, made without copying it.
uint64_t fingerprintOf(bool default_route, const std::vector<std::string>& addresses) {
  uint64_t h = default_route ? 0x2545F4914F6CDD1DULL : 0x9E3779B97F4A7C15ULL;
  for (const std::string& address : addresses) {
    h ^= std::hash<std::string_view>{}(address) + 0x9E3779B97F4A7C15ULL + (h << 6) + (h >> 2);
  }
  return h == 0 ? 1 : h;
}

uint64_t fingerprintOf(const std::optional<AgentNetwork>& net) {
  return net ? fingerprintOf(net->default_route, net->addresses) : 0;
}

// True, and `*print` updated, if `value` differs from the remembered one.
bool remember(std::string_view value, uint64_t* print) {
  const uint64_t p = fingerprintOf(value);
  if (p == *print) return false;
  *print = p;
  return true;
}

// As remember(), for a value an agent may leave out: an unset or empty one changes nothing.
bool rememberReported(const std::optional<std::string>& reported, uint64_t* print) {
  return reported && !reported->empty() && remember(std::string_view(*reported), print);
}

// Keeps the newest kOutageReportsKeptPerAgent reports.
void trimOutages(std::vector<OutageReport>* outages) {
  if (outages->size() <= kOutageReportsKeptPerAgent) return;
  outages->erase(outages->begin(),
                 outages->end() - static_cast<std::ptrdiff_t>(kOutageReportsKeptPerAgent));
}

// Sets `*newer` from `older` unless it already holds a value.
template <typename T>
void keepNewer(std::optional<T>* newer, std::optional<T>&& older) {
  if (!*newer && older) *newer = std::move(older);
}

}  // namespace

AgentDirectory::Entry AgentDirectory::entryFrom(const AgentRecord& agent) {
  Entry e;
  e.credentials.secret = agent.secret;
  e.credentials.retired = agent.retired_at_ms.has_value();
  e.credentials.site_id = agent.site_id;
  e.credentials.tenant_id = agent.tenant_id;
  e.last_seen_at_ms = agent.last_seen_at_ms.value_or(0);
  e.last_seq = agent.last_seq;
  e.uptime_s = agent.uptime_s;
  e.printed.boot_id = fingerprintOf(agent.boot_id);
  e.printed.agent_version = fingerprintOf(agent.agent_version);
  e.printed.hostname = fingerprintOf(agent.hostname);
  e.printed.os_name = fingerprintOf(agent.os_name);
  e.printed.os_version = fingerprintOf(agent.os_version);
  e.printed.config_hash = fingerprintOf(agent.config_hash);
  e.printed.net = fingerprintOf(agent.net);
  return e;
}

Status AgentDirectory::load(AgentStore& store) {
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

void AgentDirectory::addIfAbsent(const AgentRecord& agent) {
  MutexLock lock(mu_);
  agents_.try_emplace(agent.id, entryFrom(agent));
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

AcceptOutcome AgentDirectory::recordBeaconIfNewer(const std::string& agent_id, int64_t ts_ms,
                                                  int64_t first_floor_ms) {
  MutexLock lock(mu_);
  auto it = agents_.find(agent_id);
  if (it == agents_.end()) return AcceptOutcome::kUnknownAgent;
  Entry& e = it->second;
  const bool newer =
      e.last_beacon_ts_ms == 0 ? ts_ms >= first_floor_ms : ts_ms > e.last_beacon_ts_ms;
  if (!newer) return AcceptOutcome::kReplayedSequence;
  e.last_beacon_ts_ms = ts_ms;
  return AcceptOutcome::kAccepted;
}

bool AgentDirectory::advanceSeq(const std::string& agent_id, int64_t seq) {
  MutexLock lock(mu_);
  auto it = agents_.find(agent_id);
  if (it == agents_.end() || it->second.credentials.retired || seq <= it->second.last_seq) {
    return false;
  }
  it->second.last_seq = seq;
  return true;
}

AcceptOutcome AgentDirectory::accept(const protocol::Heartbeat& beat, int64_t now_ms) {
  MutexLock lock(mu_);
  auto it = agents_.find(beat.agent_id);
  if (it == agents_.end() || it->second.credentials.retired) return AcceptOutcome::kUnknownAgent;
  Entry& e = it->second;
  const auto seq = static_cast<int64_t>(beat.seq);
  if (seq <= e.last_seq) return AcceptOutcome::kReplayedSequence;
  e.last_seen_at_ms = now_ms;
  e.last_seq = seq;
  e.uptime_s = static_cast<int64_t>(beat.uptime_s);
  auto unwritten = [&e]() -> Unwritten& {
    if (!e.unwritten) e.unwritten = std::make_unique<Unwritten>();
    return *e.unwritten;
  };
  // Boot id and version are always reported; an empty one is a value like any other.
  if (remember(beat.boot_id, &e.printed.boot_id)) unwritten().boot_id = beat.boot_id;
  if (remember(beat.agent_version, &e.printed.agent_version)) {
    unwritten().agent_version = beat.agent_version;
  }
  if (rememberReported(beat.hostname, &e.printed.hostname)) unwritten().hostname = *beat.hostname;
  if (rememberReported(beat.os_name, &e.printed.os_name)) unwritten().facts.os_name = *beat.os_name;
  if (rememberReported(beat.os_version, &e.printed.os_version)) {
    unwritten().facts.os_version = *beat.os_version;
  }
  if (rememberReported(beat.config_hash, &e.printed.config_hash)) {
    unwritten().facts.config_hash = *beat.config_hash;
  }
  if (beat.net) {
    if (const uint64_t p = fingerprintOf(beat.net->default_route, beat.net->addresses);
        p != e.printed.net) {
      e.printed.net = p;
      unwritten().facts.net = AgentNetwork{beat.net->default_route, beat.net->addresses};
    }
  }
  if (beat.shutdown) {
    unwritten().shutdown_reason = *beat.shutdown;
    unwritten().shutdown_at_ms = now_ms;
  }
  if (!beat.outages.empty()) {
    std::vector<OutageReport>& outages = unwritten().outages;
    for (const protocol::OutageEntry& o : beat.outages) {
      outages.push_back(OutageReport{beat.agent_id, o.from_ms, o.to_ms, o.cause, now_ms});
    }
    trimOutages(&outages);
  }
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
  const Entry& e = it->second;
  AgentLiveState live;
  if (e.last_seen_at_ms != 0) live.last_seen_at_ms = e.last_seen_at_ms;
  live.last_seq = e.last_seq;
  live.uptime_s = e.uptime_s;
  if (const Unwritten* u = e.unwritten.get()) {
    live.boot_id = u->boot_id;
    live.agent_version = u->agent_version;
    live.hostname = u->hostname;
    live.os_name = u->facts.os_name;
    live.os_version = u->facts.os_version;
    live.config_hash = u->facts.config_hash;
    live.net = u->facts.net;
    live.last_shutdown_reason = u->shutdown_reason;
    if (u->shutdown_reason) live.last_shutdown_at_ms = u->shutdown_at_ms;
  }
  if (!live.last_shutdown_reason && e.shutdown_in_flight) {
    live.last_shutdown_reason = e.shutdown_in_flight->reason;
    live.last_shutdown_at_ms = e.shutdown_in_flight->at_ms;
  }
  return live;
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
    u.last_seen_at_ms = e.last_seen_at_ms;
    u.last_seq = e.last_seq;
    u.uptime_s = e.uptime_s;
    if (std::unique_ptr<Unwritten> w = std::move(e.unwritten)) {
      u.boot_id = std::move(w->boot_id);
      u.agent_version = std::move(w->agent_version);
      u.hostname = std::move(w->hostname);
      if (!w->facts.empty()) u.facts = std::move(w->facts);
      if (w->shutdown_reason) {
        u.shutdown_reason = w->shutdown_reason;
        u.shutdown_at_ms = w->shutdown_at_ms;
        // Kept while written: the agent's status is SHUTDOWN already (only this, a short and
        // rare value; a fact being written shows its previous, stored value meanwhile).
        e.shutdown_in_flight = std::make_unique<ShutdownNotice>(
            ShutdownNotice{std::move(*w->shutdown_reason), w->shutdown_at_ms});
      }
      u.outages = std::move(w->outages);
    }
    out.push_back(std::move(u));
  }
  dirty_ids_.clear();
  return out;
}

void AgentDirectory::written(const std::vector<LastSeenUpdate>& batch) {
  MutexLock lock(mu_);
  for (const LastSeenUpdate& u : batch) {
    auto it = agents_.find(u.agent_id);
    if (it != agents_.end()) it->second.shutdown_in_flight.reset();
  }
}

void AgentDirectory::markDirty(std::vector<LastSeenUpdate> failed) {
  MutexLock lock(mu_);
  for (LastSeenUpdate& u : failed) {
    auto it = agents_.find(u.agent_id);
    if (it == agents_.end()) continue;
    Entry& e = it->second;
    e.shutdown_in_flight.reset();  // it goes back into `unwritten` below
    const bool carries = u.boot_id || u.agent_version || u.hostname || u.facts ||
                         u.shutdown_reason || !u.outages.empty();
    if (carries) {
      if (!e.unwritten) e.unwritten = std::make_unique<Unwritten>();
      Unwritten& w = *e.unwritten;
      keepNewer(&w.boot_id, std::move(u.boot_id));
      keepNewer(&w.agent_version, std::move(u.agent_version));
      keepNewer(&w.hostname, std::move(u.hostname));
      if (u.facts) {
        keepNewer(&w.facts.os_name, std::move(u.facts->os_name));
        keepNewer(&w.facts.os_version, std::move(u.facts->os_version));
        keepNewer(&w.facts.config_hash, std::move(u.facts->config_hash));
        keepNewer(&w.facts.net, std::move(u.facts->net));
      }
      if (!w.shutdown_reason && u.shutdown_reason) {
        w.shutdown_reason = std::move(u.shutdown_reason);
        w.shutdown_at_ms = u.shutdown_at_ms;
      }
      if (!u.outages.empty()) {
        u.outages.insert(u.outages.end(), std::make_move_iterator(w.outages.begin()),
                         std::make_move_iterator(w.outages.end()));
        w.outages = std::move(u.outages);
        trimOutages(&w.outages);
      }
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
