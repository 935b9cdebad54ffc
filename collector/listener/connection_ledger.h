#pragma once

// The listener's book of open connections: what each is doing, when it must have moved on,
// and which to let go when there is no room for a new one. No sockets here; HttpListener
// closes what the ledger names.
//
// A connection costs a socket and a little memory, never a worker, until its request is
// complete; what bounds a slow, idle or silent client is time and room:
//   - receiving (TLS handshake, request head and body): receive_timeout in total from the
//     request's first byte (from the accept for a new connection), however slowly bytes drip;
//   - idle between keep-alive requests: idle_timeout; sending the answer: send_timeout;
//     lingering after a closing answer: linger_timeout. Serving (a worker has the request) has
//     no deadline here: the worker's bulkhead bounds it.
//   - room: at most max_connections in all and max_per_client from one address. A new
//     connection over a limit takes the place of the one that can best be spared: of the same
//     client when over its own limit, otherwise a lingering, then an idle, then the
//     longest-receiving connection (oldest first). Connections being served or sent to are
//     never evicted; when only those are left, the new connection is refused.
//
// A receiving connection evicted before fair_chance, or a connection refused for want of room
// in all, is *starved*: the collector could not give clients the time a request needs. That
// is its own incapacity, not a client's fault, and the collector reports it (DEGRADED,
// connections_exhausted) instead of judging agents it could not hear. Evictions for one
// client's own limit are that client's business and do not count.
//
// Thread safety: none; the listener's event loop owns the ledger.

#include <array>
#include <cstddef>
#include <cstdint>
#include <list>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/clock.h"

namespace vigil::collector {

enum class ConnectionPhase : uint8_t { kReceiving, kIdle, kServing, kSending, kLingering };
constexpr size_t kConnectionPhaseCount = 5;
// "receiving", "idle", "serving", "sending", "lingering"
const char* connectionPhaseName(ConnectionPhase phase);

struct ConnectionLimits {
  size_t max_connections = 20000;
  size_t max_per_client = 2000;  // 0: no per-client limit
  Duration receive_timeout = std::chrono::seconds(15);
  Duration idle_timeout = std::chrono::seconds(2);
  Duration send_timeout = std::chrono::seconds(15);
  Duration linger_timeout = std::chrono::seconds(2);
  Duration fair_chance = std::chrono::seconds(2);
};

class ConnectionLedger {
 public:
  using Id = uint64_t;

  struct Counters {
    uint64_t opened = 0;
    uint64_t refused = 0;                                   // no room and nothing to evict
    std::array<uint64_t, kConnectionPhaseCount> evicted{};  // for room in all, by phase
    uint64_t evicted_client_limit = 0;                      // for the client's own limit
    std::array<uint64_t, kConnectionPhaseCount> expired{};  // past the phase's deadline
    uint64_t starved = 0;
  };

  explicit ConnectionLedger(ConnectionLimits limits);

  struct Admission {
    bool admitted = false;
    std::vector<Id> evicted;  // already out of the ledger: the caller closes them
  };
  // A new connection `id` from `client` (its address without port) enters kReceiving at `now`.
  Admission open(Id id, const std::string& client, MonoTime now);
  // `id` moves to `phase` at `now`; its deadline starts over.
  void enter(Id id, ConnectionPhase phase, MonoTime now);
  // `id` is closed (no-op if unknown).
  void close(Id id);

  struct Expired {
    Id id;
    ConnectionPhase phase;
  };
  // Takes the connections past their deadline at `now` out of the ledger; the caller closes
  // them.
  std::vector<Expired> takeExpired(MonoTime now);
  // The earliest deadline, if any connection has one.
  std::optional<MonoTime> nextDeadline() const;

  size_t size() const { return entries_.size(); }
  size_t count(ConnectionPhase phase) const { return phases_[index(phase)].size(); }
  size_t clientCount(const std::string& client) const;
  const Counters& counters() const { return counters_; }
  const ConnectionLimits& limits() const { return limits_; }

 private:
  struct Client {
    size_t open = 0;
    std::list<Id> spareable;  // its receiving, idle and lingering connections, oldest first
  };
  struct Entry {
    // Element pointers of an unordered_map survive rehashing; iterators do not.
    std::pair<const std::string, Client>* client = nullptr;
    ConnectionPhase phase = ConnectionPhase::kReceiving;
    MonoTime entered;
    std::list<Id>::iterator in_phase;
    std::list<Id>::iterator in_client;  // valid when spareable(phase)
  };

  static size_t index(ConnectionPhase phase) { return static_cast<size_t>(phase); }
  static bool spareable(ConnectionPhase phase) {
    return phase != ConnectionPhase::kServing && phase != ConnectionPhase::kSending;
  }
  Duration timeoutOf(ConnectionPhase phase) const;
  void place(Id id, Entry& entry, ConnectionPhase phase, MonoTime now);
  void unplace(Id id, Entry& entry);
  void remove(Id id);
  // Evicts one connection to make room in all; false if none can be spared.
  bool evictForRoom(MonoTime now, std::vector<Id>* evicted);

  const ConnectionLimits limits_;
  std::unordered_map<Id, Entry> entries_;
  std::unordered_map<std::string, Client> clients_;
  // Per phase, in order of entry: with one timeout per phase, also in order of deadline.
  std::array<std::list<Id>, kConnectionPhaseCount> phases_;
  Counters counters_;
};

}  // namespace vigil::collector
