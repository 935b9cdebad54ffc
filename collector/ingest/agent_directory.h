#pragma once

// The in-memory authority on every agent's live state: credentials for signature checks and
// the latest accepted heartbeat evidence for replay checks. Memory is O(agents): a heartbeat
// overwrites its agent's entry in place and marks it dirty; LastSeenWriter takes the dirty
// entries in batches and writes them behind to the store (docs/architecture.md).
//
// Thread safety: all methods are safe to call concurrently.

#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "collector/store/store.h"
#include "common/mutex.h"
#include "common/protocol.h"

namespace vigil::collector {

// Where an agent belongs: what same-site checks (peer witnesses) need.
struct AgentPlacement {
  int64_t site_id = 0;
  int64_t tenant_id = 0;
  bool retired = false;
};

// What the heartbeat and beacon checks need before they trust a request.
struct AgentCredentials {
  std::string secret;
  bool retired = false;
  int64_t site_id = 0;
  int64_t tenant_id = 0;
};

// The mutable part of an agent, as last accepted.
struct AgentLiveState {
  std::optional<int64_t> last_seen_at_ms;
  int64_t last_seq = 0;
  std::string boot_id;
  int64_t uptime_s = 0;
  std::string agent_version;
  std::string hostname;
  std::string os_name;
  std::string os_version;
  std::string config_hash;
  std::optional<AgentNetwork> net;
  std::string last_shutdown_reason;
  std::optional<int64_t> last_shutdown_at_ms;
};

enum class AcceptOutcome { kAccepted, kUnknownAgent, kReplayedSequence };

class AgentDirectory {
 public:
  // Loads every agent from `store`, in pages. REQUIRES: called before concurrent use.
  Status load(Store& store);

  // Adds a newly enrolled agent (not dirty: enrollment writes through).
  void add(const AgentRecord& agent);

  // An admin retired the agent: its heartbeats and beacons are refused from now on.
  void retire(const std::string& agent_id);
  // An admin deleted the agent: forgotten, pending evidence included.
  void remove(const std::string& agent_id);

  std::optional<AgentCredentials> credentials(const std::string& agent_id) const;
  // As credentials(), copied into `out`, whose strings keep their capacity: no allocation when
  // it suffices (the beacon path). False, `out` unchanged, if there is no such agent.
  bool credentialsInto(const std::string& agent_id, AgentCredentials* out) const;
  std::optional<AgentPlacement> placement(const std::string& agent_id) const;

  // Records `beat` as seen at `now_ms` if its seq is above the agent's last accepted seq;
  // otherwise changes nothing. The check and the update are one atomic step. Recorded are
  // the last-seen evidence, the facts it reports (a non-empty string or a `net` replaces the
  // previous value), its shutdown notice and its outage diary (kept for the next write, at
  // most kOutageReportsKeptPerAgent per agent: older ones would be deleted by the store).
  AcceptOutcome accept(const protocol::Heartbeat& beat, int64_t now_ms);

  std::optional<AgentLiveState> liveState(const std::string& agent_id) const;

  // Returns the evidence of every dirty agent and clears their dirty flags. Facts and the
  // shutdown notice are included only if they changed since the previous take; the pending
  // outage reports are moved out.
  std::vector<LastSeenUpdate> takeDirty();
  // Marks agents dirty again after their batch failed to reach the store, and takes back its
  // outage reports (ahead of newer ones).
  void markDirty(std::vector<LastSeenUpdate> failed);

  size_t size() const;
  size_t dirtyCount() const;

 private:
  struct Entry {
    AgentCredentials credentials;
    AgentLiveState live;
    bool dirty = false;
    bool facts_dirty = false;
    bool shutdown_dirty = false;
    std::vector<OutageReport> pending_outages;  // oldest first
  };

  static Entry entryFrom(const AgentRecord& agent);

  mutable Mutex mu_;
  std::unordered_map<std::string, Entry> agents_ GUARDED_BY(mu_);
  // Ids of the entries whose dirty flag is set, so a flush costs O(dirty), not O(agents).
  std::vector<std::string> dirty_ids_ GUARDED_BY(mu_);
};

}  // namespace vigil::collector
