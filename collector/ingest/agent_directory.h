#pragma once

// The in-memory authority on every agent's live state: credentials for signature checks, the
// latest accepted heartbeat sequence and beacon timestamp for replay checks, and last-seen
// evidence. A heartbeat overwrites its agent's entry in place and marks it dirty;
// LastSeenWriter takes the dirty entries in batches and writes them behind to the store
// (docs/architecture.md).
//
// Memory is O(agents) and kept small, since it is most of what a collector holds per agent:
// reported facts (boot id, version, host name, OS, config hash, addresses) are remembered as
// a 64-bit fingerprint each, so a heartbeat that repeats them changes nothing; their values
// are held only from the heartbeat that changed them until the writer takes them. The store
// holds the values; liveState() gives what is newer than the store.
//
// Thread safety: all methods are safe to call concurrently.

#include <cstdint>
#include <memory>
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

// What the directory knows of an agent beyond the store: the evidence of its last accepted
// heartbeat, and every reported value not yet written to the store (unset: the store's value
// is current).
struct AgentLiveState {
  std::optional<int64_t> last_seen_at_ms;
  int64_t last_seq = 0;
  int64_t uptime_s = 0;
  std::optional<std::string> boot_id;
  std::optional<std::string> agent_version;
  std::optional<std::string> hostname;
  std::optional<std::string> os_name;
  std::optional<std::string> os_version;
  std::optional<std::string> config_hash;
  std::optional<AgentNetwork> net;
  std::optional<std::string> last_shutdown_reason;
  std::optional<int64_t> last_shutdown_at_ms;
};

enum class AcceptOutcome { kAccepted, kUnknownAgent, kReplayedSequence };

class AgentDirectory {
 public:
  // Loads every agent from `store`, in pages. REQUIRES: called before concurrent use.
  Status load(AgentStore& store);

  // Adds a newly enrolled agent (not dirty: enrollment writes through).
  void add(const AgentRecord& agent);
  // Adds an agent read from the store unless it is here already (a cluster: an agent enrolled
  // through another collector): an entry here is never older than the store's.
  void addIfAbsent(const AgentRecord& agent);

  // An admin retired the agent: its heartbeats and beacons are refused from now on.
  void retire(const std::string& agent_id);
  // An admin deleted the agent: forgotten, pending evidence included.
  void remove(const std::string& agent_id);

  std::optional<AgentCredentials> credentials(const std::string& agent_id) const;
  // As credentials(), copied into `out`, whose strings keep their capacity: no allocation when
  // it suffices (the beacon path). False, `out` unchanged, if there is no such agent.
  bool credentialsInto(const std::string& agent_id, AgentCredentials* out) const;
  std::optional<AgentPlacement> placement(const std::string& agent_id) const;

  // Records `ts_ms` as the agent's last accepted beacon if it is newer than the previous one
  // (the first one since the start: if it is not older than `first_floor_ms`); the check and
  // the update are one atomic step. kReplayedSequence: not newer; kUnknownAgent: no such
  // agent (it was deleted meanwhile).
  AcceptOutcome recordBeaconIfNewer(const std::string& agent_id, int64_t ts_ms,
                                    int64_t first_floor_ms);

  // Records `beat` as seen at `now_ms` if its seq is above the agent's last accepted seq;
  // otherwise changes nothing. The check and the update are one atomic step. Recorded are
  // the last-seen evidence, the facts it reports that differ from the last ones (a non-empty
  // string or a `net` replaces the previous value; boot id and version always count), its
  // shutdown notice and its outage diary (kept for the next write, at most
  // kOutageReportsKeptPerAgent per agent: older ones would be deleted by the store).
  AcceptOutcome accept(const protocol::Heartbeat& beat, int64_t now_ms);

  // Raises the agent's last accepted seq to `seq` if it is above it (a heartbeat another
  // collector of a cluster took); false if it is not, or the agent is unknown or retired.
  // Nothing else changes: the collector that took the heartbeat writes its evidence.
  bool advanceSeq(const std::string& agent_id, int64_t seq);

  std::optional<AgentLiveState> liveState(const std::string& agent_id) const;

  // Returns the evidence of every dirty agent and clears their dirty flags. Reported values
  // are included only if they changed since the previous take (moved out: until the batch is
  // written, liveState() shows a fact's previous, stored value, and still shows a shutdown
  // notice, until written() or markDirty() settles the batch). The pending outage reports are
  // moved out.
  std::vector<LastSeenUpdate> takeDirty();
  // The batch takeDirty() returned is in the store: the directory holds its values no longer.
  void written(const std::vector<LastSeenUpdate>& batch);
  // Marks agents dirty again after their batch failed to reach the store, and takes back its
  // values where no newer one arrived meanwhile, and its outage reports (ahead of newer ones).
  void markDirty(std::vector<LastSeenUpdate> failed);

  size_t size() const;
  size_t dirtyCount() const;

 private:
  // A reported value, remembered only by its hash (std::hash: stable within the process).
  using Fingerprint = uint64_t;
  struct Fingerprints {
    Fingerprint boot_id = 0;
    Fingerprint agent_version = 0;
    Fingerprint hostname = 0;
    Fingerprint os_name = 0;
    Fingerprint os_version = 0;
    Fingerprint config_hash = 0;
    Fingerprint net = 0;
  };
  struct ShutdownNotice {
    std::string reason;
    int64_t at_ms = 0;
  };
  // What changed since the last take, until takeDirty() moves it out.
  struct Unwritten {
    std::optional<std::string> boot_id;
    std::optional<std::string> agent_version;
    std::optional<std::string> hostname;
    AgentFactsUpdate facts;
    std::optional<std::string> shutdown_reason;
    int64_t shutdown_at_ms = 0;
    std::vector<OutageReport> outages;  // oldest first
  };
  struct Entry {
    AgentCredentials credentials;
    int64_t last_seen_at_ms = 0;  // 0: never
    int64_t last_seq = 0;
    int64_t uptime_s = 0;
    int64_t last_beacon_ts_ms = 0;  // 0: none since the start
    Fingerprints printed;
    std::unique_ptr<Unwritten> unwritten;  // null when the store has every value
    // The shutdown notice of the batch being written, until it is settled: an admin read
    // meanwhile shows it, neither the store nor `unwritten` having it yet. Null otherwise.
    std::unique_ptr<ShutdownNotice> shutdown_in_flight;
    bool dirty = false;
  };

  static Entry entryFrom(const AgentRecord& agent);

  mutable Mutex mu_;
  std::unordered_map<std::string, Entry> agents_ GUARDED_BY(mu_);
  // Ids of the entries whose dirty flag is set, so a flush costs O(dirty), not O(agents).
  std::vector<std::string> dirty_ids_ GUARDED_BY(mu_);
};

}  // namespace vigil::collector
