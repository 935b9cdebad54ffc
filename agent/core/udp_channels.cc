#include "agent/core/udp_channels.h"

#include <utility>

namespace vigil::agent {
namespace {

// A generator of its own for a channel's thread, seeded from the runner's.
UniformRandom channelRandom(UniformRandom& parent) {
  return makeUniformRandom(static_cast<uint64_t>(parent() * 9007199254740992.0));
}

}  // namespace

UdpChannels::UdpChannels(const AgentConfig& config, UdpSocketFactory* udp,
                         IdentityStore& identity_store, const Clock& clock, UniformRandom& random,
                         Logger& log, SystemEventSink* fallback)
    : config_(config),
      udp_(udp),
      identity_store_(identity_store),
      clock_(clock),
      random_(random),
      log_(log),
      fallback_(fallback) {}

UdpChannels::~UdpChannels() { stop(); }

void UdpChannels::adopt(Identity& identity, const protocol::ChannelOffer& offer) {
  // Beacon: (re)start when the offer names a port or interval other than the running one.
  if (offer.beacon_port) {
    const bool changed = !offer_.beacon_port || *offer_.beacon_port != *offer.beacon_port ||
                         offer_.beacon_interval_s != offer.beacon_interval_s;
    offer_.beacon_port = offer.beacon_port;
    offer_.beacon_interval_s = offer.beacon_interval_s;
    if (changed || !beacon_) startBeacon(identity);
  }
  // Peer key: store a new one and restart the witness with it.
  if (offer.peer_key && *offer.peer_key != identity.peer_key) {
    identity.peer_key = *offer.peer_key;
    if (Status st = identity_store_.save(identity); !st.ok()) {
      log_.warn("cannot store the site peer key: " + st.message());
    }
    if (peer_worker_) peer_worker_->stop();
    peer_worker_.reset();
    peers_.reset();
  }
  if (!identity.peer_key.empty() && !peers_ && !peer_bind_failed_logged_) {
    startPeerWitness(identity);
  }
}

void UdpChannels::noteHeartbeat(const Identity& identity, bool accepted, Duration answer_time,
                                const std::string& problem) {
  if (beacon_ && beacon_->noteHeartbeat(accepted, answer_time, problem)) {
    startBeacon(identity);  // wakes its worker, asleep until the end of the pause
  }
}

void UdpChannels::setClockOffset(std::chrono::milliseconds offset) {
  clock_offset_ = offset;
  if (beacon_) beacon_->setClockOffset(offset);
  if (peers_) peers_->setClockOffset(offset);
}

void UdpChannels::addPeerSightings(protocol::Heartbeat& hb) const {
  if (!peers_) return;
  hb.peers = peers_->sightings();
  hb.peer_key_id = peers_->keyId();
}

void UdpChannels::addBeaconState(protocol::Heartbeat& hb) const {
  if (beacon_) hb.beacon_state = beacon_->beaconState();
}

void UdpChannels::peerSightingsDelivered(const protocol::Heartbeat& hb) {
  if (peers_) peers_->reported(hb.peers);
}

void UdpChannels::startBeacon(const Identity& identity) {
  if (beacon_worker_) beacon_worker_->stop();
  beacon_worker_.reset();
  beacon_.reset();
  if (!config_.beacon || udp_ == nullptr || !offer_.beacon_port) return;
  Result<ServerUrl> url = parseServerUrl(config_.server_url);
  if (!url.ok()) return;
  std::string host = url->host;
  const bool ipv6 = host.size() > 2 && host.front() == '[';
  if (ipv6) host = host.substr(1, host.size() - 2);
  UdpSocketOptions options;
  options.ipv6 = ipv6;
  Result<std::unique_ptr<UdpSocket>> socket = udp_->open(options);
  if (!socket.ok()) {
    log_.warn("beacon: cannot open a UDP socket: " + socket.error().message() +
              "; heartbeats only");
    return;
  }
  BeaconTarget target;
  target.host = host;
  target.port = static_cast<uint16_t>(*offer_.beacon_port);
  target.interval = std::chrono::seconds(offer_.beacon_interval_s.value_or(15));
  target.agent_id = identity.agent_id;
  target.secret = identity.secret;
  beacon_ = std::make_unique<BeaconChannel>(target, clock_, channelRandom(random_), log_);
  beacon_->setClockOffset(clock_offset_);
  beacon_->setFallback(fallback_);
  beacon_worker_ =
      std::make_unique<DatagramWorker>(*beacon_, std::move(socket.value()), clock_, log_);
  beacon_worker_->start();
  log_.info("beacon: every " + std::to_string(offer_.beacon_interval_s.value_or(15)) +
            " s to udp " + host + ":" + std::to_string(*offer_.beacon_port));
}

void UdpChannels::startPeerWitness(const Identity& identity) {
  if (peer_worker_) peer_worker_->stop();
  peer_worker_.reset();
  peers_.reset();
  if (!config_.peer_witness || udp_ == nullptr) return;
  UdpSocketOptions options;
  options.bind_port = static_cast<uint16_t>(config_.peer_port);
  options.broadcast = true;
  Result<std::unique_ptr<UdpSocket>> socket = udp_->open(options);
  if (!socket.ok()) {
    log_.warn("peer witness: cannot bind udp port " + std::to_string(config_.peer_port) + ": " +
              socket.error().message() + "; LAN peers will not hear this agent");
    peer_bind_failed_logged_ = true;
    return;
  }
  PeerWitnessOptions o;
  o.interval = std::chrono::seconds(config_.peer_interval_s);
  o.port = static_cast<uint16_t>(config_.peer_port);
  o.destinations = config_.peer_broadcast;
  UdpSocketFactory* udp = udp_;
  peers_ = std::make_unique<PeerWitness>(
      identity.agent_id, identity.peer_key, clock_, channelRandom(random_),
      [udp] { return udp->broadcastAddresses(); }, o);
  peers_->setClockOffset(clock_offset_);
  peer_worker_ = std::make_unique<DatagramWorker>(*peers_, std::move(socket.value()), clock_, log_);
  peer_worker_->start();
  log_.info("peer witness: announcing every " + std::to_string(config_.peer_interval_s) +
            " s on udp port " + std::to_string(config_.peer_port) + " (key " + peers_->keyId() +
            ")");
}

void UdpChannels::stop() {
  if (beacon_worker_) beacon_worker_->stop();
  if (peer_worker_) peer_worker_->stop();
  beacon_worker_.reset();
  peer_worker_.reset();
  beacon_.reset();
  peers_.reset();
}

}  // namespace vigil::agent
