#pragma once

#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "agent/core/datagram_worker.h"
#include "agent/core/random.h"
#include "common/clock.h"
#include "common/protocol.h"

namespace vigil::agent {

struct PeerWitnessOptions {
  Duration interval = std::chrono::seconds(30);
  double jitter_fraction = 0.10;
  uint16_t port = 47474;
  // Where announcements go; empty: `broadcast_addresses()` at each announcement.
  std::vector<std::string> destinations;
  // Announcements further than this from our clock are refused.
  Duration max_skew = std::chrono::minutes(5);
  // Peers remembered for replay protection; the least recently heard is forgotten first.
  size_t max_known_peers = 1024;
};

struct PeerWitnessStats {
  uint64_t announced = 0;
  uint64_t heard = 0;    // valid announcements of other agents
  uint64_t refused = 0;  // malformed, other key, bad signature, stale or replayed
};

// The LAN peer witness (docs/protocol.md, "LAN peer witness"): announces this agent to its
// LAN, signed with the site's peer key, and remembers which peers it heard until a heartbeat
// reports them. Never answers what it hears. Thread-safe.
class PeerWitness final : public DatagramProtocol {
 public:
  // `broadcast_addresses` lists the destinations when options.destinations is empty.
  // REQUIRES: `clock` outlives the witness; peer_key is 64 hex.
  PeerWitness(std::string agent_id, std::string peer_key, const Clock& clock, UniformRandom random,
              std::function<std::vector<std::string>()> broadcast_addresses,
              PeerWitnessOptions options = {});

  // The collector clock minus the local wall clock, learnt by the heartbeat loop from a
  // stale_timestamp answer. Every announcement taken after this call is stamped with the
  // corrected clock, also when earlier ones carried later timestamps (stamped ahead by the old
  // clock, receivers whose clocks are right refused them as stale), and received ones are
  // checked against it.
  void setClockOffset(std::chrono::milliseconds offset);
  const std::string& keyId() const { return key_id_; }
  PeerWitnessStats stats() const;

  // Peers heard and not yet reported, most recently heard first, at most kMaxPeerSightings.
  std::vector<protocol::PeerSighting> sightings() const;
  // A heartbeat carrying `reported` was accepted: forget those sightings unless the peer was
  // heard again since.
  void reported(const std::vector<protocol::PeerSighting>& reported);

  std::optional<MonoTime> nextDue() override;
  std::vector<OutgoingDatagram> takeDue() override;
  void onDatagram(const Datagram& datagram) override;
  const char* name() const override { return "peer witness"; }

 private:
  // Our corrected wall clock, Unix ms. REQUIRES: mu_ held.
  int64_t wallMs() const;

  const std::string agent_id_;
  const std::string peer_key_;
  const std::string key_id_;
  const Clock& clock_;
  const std::function<std::vector<std::string>()> broadcast_addresses_;
  const PeerWitnessOptions options_;

  mutable std::mutex mu_;
  UniformRandom random_;
  MonoTime next_due_;
  int64_t clock_offset_ms_ = 0;
  int64_t last_ts_ms_ = 0;  // announcements carry strictly increasing timestamps
  // Per peer: the newest timestamp accepted (replay protection) and, while unreported, when we
  // last heard it (our corrected wall clock).
  struct Peer {
    int64_t last_ts_ms = 0;
    std::optional<int64_t> unreported_heard_at_ms;
    MonoTime last_heard;
  };
  std::map<std::string, Peer> peers_;
  PeerWitnessStats stats_;
};

}  // namespace vigil::agent
