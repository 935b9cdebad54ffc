#include "agent/core/peer_witness.h"

#include <algorithm>
#include <utility>

#include "common/datagram.h"

namespace vigil::agent {

PeerWitness::PeerWitness(std::string agent_id, std::string peer_key, const Clock& clock,
                         UniformRandom random,
                         std::function<std::vector<std::string>()> broadcast_addresses,
                         PeerWitnessOptions options)
    : agent_id_(std::move(agent_id)),
      peer_key_(std::move(peer_key)),
      key_id_(datagram::peerKeyId(peer_key_)),
      clock_(clock),
      broadcast_addresses_(std::move(broadcast_addresses)),
      options_(std::move(options)),
      random_(std::move(random)),
      next_due_(clock.monotonicNow()) {}

void PeerWitness::setClockOffset(std::chrono::milliseconds offset) {
  std::lock_guard<std::mutex> lock(mu_);
  if (offset.count() == clock_offset_ms_) return;
  clock_offset_ms_ = offset.count();
  last_ts_ms_ = 0;  // announcements follow the corrected clock, not the old one's timestamps
}

int64_t PeerWitness::wallMs() const { return toUnixMillis(clock_.wallNow()) + clock_offset_ms_; }

PeerWitnessStats PeerWitness::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stats_;
}

std::optional<MonoTime> PeerWitness::nextDue() {
  std::lock_guard<std::mutex> lock(mu_);
  return next_due_;
}

std::vector<OutgoingDatagram> PeerWitness::takeDue() {
  std::lock_guard<std::mutex> lock(mu_);
  const MonoTime now = clock_.monotonicNow();
  if (now < next_due_) return {};
  next_due_ = now + jittered(options_.interval, options_.jitter_fraction, random_);
  const int64_t ts = std::max(wallMs(), last_ts_ms_ + 1);
  last_ts_ms_ = ts;
  const std::string bytes = datagram::encodePeerAnnouncement(key_id_, agent_id_, ts, peer_key_);
  if (bytes.empty()) return {};
  std::vector<std::string> destinations = options_.destinations;
  if (destinations.empty() && broadcast_addresses_) destinations = broadcast_addresses_();
  std::vector<OutgoingDatagram> out;
  out.reserve(destinations.size());
  for (std::string& host : destinations) {
    out.push_back(OutgoingDatagram{std::move(host), options_.port, bytes});
  }
  if (!out.empty()) ++stats_.announced;
  return out;
}

void PeerWitness::onDatagram(const Datagram& d) {
  std::optional<datagram::PeerAnnouncement> a = datagram::parsePeerAnnouncement(d.bytes);
  std::lock_guard<std::mutex> lock(mu_);
  const int64_t now_ms = wallMs();
  if (a && a->agent_id == agent_id_) return;  // our own broadcast, looped back
  const int64_t skew_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(options_.max_skew).count();
  if (!a || a->key_id != key_id_ || !datagram::verify(*a, peer_key_) ||
      a->ts_ms > now_ms + skew_ms || a->ts_ms < now_ms - skew_ms) {
    ++stats_.refused;
    return;
  }
  auto it = peers_.find(a->agent_id);
  if (it != peers_.end() && a->ts_ms <= it->second.last_ts_ms) {
    ++stats_.refused;  // replayed
    return;
  }
  if (it == peers_.end()) {
    if (peers_.size() >= options_.max_known_peers) {
      auto oldest = std::min_element(
          peers_.begin(), peers_.end(),
          [](const auto& x, const auto& y) { return x.second.last_heard < y.second.last_heard; });
      peers_.erase(oldest);
    }
    it = peers_.emplace(a->agent_id, Peer{}).first;
  }
  it->second.last_ts_ms = a->ts_ms;
  it->second.unreported_heard_at_ms = now_ms;
  it->second.last_heard = clock_.monotonicNow();
  ++stats_.heard;
}

std::vector<protocol::PeerSighting> PeerWitness::sightings() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<protocol::PeerSighting> out;
  for (const auto& [id, peer] : peers_) {
    if (peer.unreported_heard_at_ms) out.push_back({id, *peer.unreported_heard_at_ms});
  }
  std::sort(out.begin(), out.end(),
            [](const auto& x, const auto& y) { return x.heard_at_ms > y.heard_at_ms; });
  if (out.size() > protocol::kMaxPeerSightings) out.resize(protocol::kMaxPeerSightings);
  return out;
}

void PeerWitness::reported(const std::vector<protocol::PeerSighting>& reported) {
  std::lock_guard<std::mutex> lock(mu_);
  for (const protocol::PeerSighting& s : reported) {
    auto it = peers_.find(s.agent_id);
    if (it != peers_.end() && it->second.unreported_heard_at_ms &&
        *it->second.unreported_heard_at_ms <= s.heard_at_ms) {
      it->second.unreported_heard_at_ms.reset();
    }
  }
}

}  // namespace vigil::agent
