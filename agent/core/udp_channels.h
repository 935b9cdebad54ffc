#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "agent/core/agent_config.h"
#include "agent/core/beacon_channel.h"
#include "agent/core/datagram_worker.h"
#include "agent/core/identity_store.h"
#include "agent/core/logger.h"
#include "agent/core/peer_witness.h"
#include "agent/core/platform.h"
#include "agent/core/random.h"
#include "common/clock.h"
#include "common/protocol.h"

namespace vigil::agent {

// The agent's channels besides the heartbeat, each on a UDP socket and a thread of its own:
// the beacon to the collector (when the collector offers one and `beacon` is on) and the LAN
// peer witness (once the agent holds the site's peer key and `peer_witness` is on). Without a
// UdpSocketFactory there are none. Its methods are called from the heartbeat loop only.
// REQUIRES: every reference outlives the channels; `random` is drawn from for each channel's
// own generator.
class UdpChannels {
 public:
  // `fallback` gets SystemEvent::kBeaconUnanswered from the beacon (its fallback); may be null.
  UdpChannels(const AgentConfig& config, UdpSocketFactory* udp, IdentityStore& identity_store,
              const Clock& clock, UniformRandom& random, Logger& log,
              SystemEventSink* fallback = nullptr);
  ~UdpChannels();
  UdpChannels(const UdpChannels&) = delete;
  UdpChannels& operator=(const UdpChannels&) = delete;

  // Follows what the collector offers: (re)starts the beacon for a new port or interval, and
  // stores a new peer key in the identity (and the identity store) and restarts the witness.
  void adopt(Identity& identity, const protocol::ChannelOffer& offer);
  // Tells the beacon how a heartbeat went; restarts its worker when the beacon asks to.
  void noteHeartbeat(const Identity& identity, bool accepted, Duration answer_time,
                     const std::string& problem);
  // The collector's clock minus ours, for the timestamps of the next datagrams.
  void setClockOffset(std::chrono::milliseconds offset);

  // Puts the peers heard since the last delivered report into `hb`, with the peer key's id.
  void addPeerSightings(protocol::Heartbeat& hb) const;
  // Puts the beacon's state into `hb` (beacon_state), when there is a beacon.
  void addBeaconState(protocol::Heartbeat& hb) const;
  // The collector took `hb`: its sightings need not be reported again.
  void peerSightingsDelivered(const protocol::Heartbeat& hb);

  // Stops both channels and waits for their threads.
  void stop();

 private:
  void startBeacon(const Identity& identity);
  void startPeerWitness(const Identity& identity);

  const AgentConfig& config_;
  UdpSocketFactory* const udp_;
  IdentityStore& identity_store_;
  const Clock& clock_;
  UniformRandom& random_;
  Logger& log_;
  SystemEventSink* const fallback_;
  std::chrono::milliseconds clock_offset_{0};

  protocol::ChannelOffer offer_;
  std::unique_ptr<BeaconChannel> beacon_;
  std::unique_ptr<DatagramWorker> beacon_worker_;
  std::unique_ptr<PeerWitness> peers_;
  std::unique_ptr<DatagramWorker> peer_worker_;
  bool peer_bind_failed_logged_ = false;
};

}  // namespace vigil::agent
