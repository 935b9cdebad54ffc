#include "collector/listener/connection_ledger.h"

namespace vigil::collector {

const char* connectionPhaseName(ConnectionPhase phase) {
  switch (phase) {
    case ConnectionPhase::kReceiving:
      return "receiving";
    case ConnectionPhase::kIdle:
      return "idle";
    case ConnectionPhase::kServing:
      return "serving";
    case ConnectionPhase::kSending:
      return "sending";
    case ConnectionPhase::kLingering:
      return "lingering";
  }
  return "receiving";
}

ConnectionLedger::ConnectionLedger(ConnectionLimits limits) : limits_(limits) {}

Duration ConnectionLedger::timeoutOf(ConnectionPhase phase) const {
  switch (phase) {
    case ConnectionPhase::kReceiving:
      return limits_.receive_timeout;
    case ConnectionPhase::kIdle:
      return limits_.idle_timeout;
    case ConnectionPhase::kSending:
      return limits_.send_timeout;
    case ConnectionPhase::kLingering:
      return limits_.linger_timeout;
    case ConnectionPhase::kServing:
      break;
  }
  return Duration::max();
}

size_t ConnectionLedger::clientCount(const std::string& client) const {
  auto it = clients_.find(client);
  return it == clients_.end() ? 0 : it->second.open;
}

void ConnectionLedger::place(Id id, Entry& entry, ConnectionPhase phase, MonoTime now) {
  entry.phase = phase;
  entry.entered = now;
  std::list<Id>& list = phases_[index(phase)];
  entry.in_phase = list.insert(list.end(), id);
  if (spareable(phase)) {
    std::list<Id>& mine = entry.client->second.spareable;
    entry.in_client = mine.insert(mine.end(), id);
  }
}

void ConnectionLedger::unplace(Id /*id*/, Entry& entry) {
  phases_[index(entry.phase)].erase(entry.in_phase);
  if (spareable(entry.phase)) entry.client->second.spareable.erase(entry.in_client);
}

void ConnectionLedger::remove(Id id) {
  auto it = entries_.find(id);
  if (it == entries_.end()) return;
  unplace(id, it->second);
  auto* client = it->second.client;
  entries_.erase(it);
  if (--client->second.open == 0) {
    const std::string key = client->first;
    clients_.erase(key);
  }
}

bool ConnectionLedger::evictForRoom(MonoTime now, std::vector<Id>* evicted) {
  for (ConnectionPhase phase :
       {ConnectionPhase::kLingering, ConnectionPhase::kIdle, ConnectionPhase::kReceiving}) {
    std::list<Id>& list = phases_[index(phase)];
    if (list.empty()) continue;
    const Id victim = list.front();
    if (phase == ConnectionPhase::kReceiving &&
        now - entries_.at(victim).entered < limits_.fair_chance) {
      ++counters_.starved;
    }
    ++counters_.evicted[index(phase)];
    remove(victim);
    evicted->push_back(victim);
    return true;
  }
  return false;
}

ConnectionLedger::Admission ConnectionLedger::open(Id id, const std::string& client, MonoTime now) {
  Admission admission;
  if (limits_.max_per_client > 0) {
    auto it = clients_.find(client);
    if (it != clients_.end() && it->second.open >= limits_.max_per_client) {
      if (it->second.spareable.empty()) {
        ++counters_.refused;
        return admission;
      }
      const Id victim = it->second.spareable.front();
      ++counters_.evicted_client_limit;
      remove(victim);
      admission.evicted.push_back(victim);
    }
  }
  if (entries_.size() >= limits_.max_connections && !evictForRoom(now, &admission.evicted)) {
    ++counters_.refused;
    ++counters_.starved;
    return admission;
  }
  auto& client_entry = *clients_.try_emplace(client).first;
  ++client_entry.second.open;
  Entry& entry = entries_[id];
  entry.client = &client_entry;
  place(id, entry, ConnectionPhase::kReceiving, now);
  ++counters_.opened;
  admission.admitted = true;
  return admission;
}

void ConnectionLedger::enter(Id id, ConnectionPhase phase, MonoTime now) {
  auto it = entries_.find(id);
  if (it == entries_.end()) return;
  unplace(id, it->second);
  place(id, it->second, phase, now);
}

void ConnectionLedger::close(Id id) { remove(id); }

std::vector<ConnectionLedger::Expired> ConnectionLedger::takeExpired(MonoTime now) {
  std::vector<Expired> out;
  for (size_t p = 0; p < kConnectionPhaseCount; ++p) {
    const auto phase = static_cast<ConnectionPhase>(p);
    if (phase == ConnectionPhase::kServing) continue;
    const Duration timeout = timeoutOf(phase);
    std::list<Id>& list = phases_[p];
    while (!list.empty()) {
      const Id id = list.front();
      if (now - entries_.at(id).entered < timeout) break;
      ++counters_.expired[p];
      remove(id);
      out.push_back(Expired{id, phase});
    }
  }
  return out;
}

std::optional<MonoTime> ConnectionLedger::nextDeadline() const {
  std::optional<MonoTime> earliest;
  for (size_t p = 0; p < kConnectionPhaseCount; ++p) {
    const auto phase = static_cast<ConnectionPhase>(p);
    if (phase == ConnectionPhase::kServing || phases_[p].empty()) continue;
    const MonoTime deadline = entries_.at(phases_[p].front()).entered + timeoutOf(phase);
    if (!earliest || deadline < *earliest) earliest = deadline;
  }
  return earliest;
}

}  // namespace vigil::collector
