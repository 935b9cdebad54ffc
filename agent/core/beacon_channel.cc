#include "agent/core/beacon_channel.h"

#include <algorithm>
#include <utility>

#include "common/datagram.h"

namespace vigil::agent {

BeaconChannel::BeaconChannel(BeaconTarget target, const Clock& clock, UniformRandom random,
                             Logger& log, BeaconOptions options)
    : target_(std::move(target)),
      clock_(clock),
      log_(log),
      options_(options),
      random_(std::move(random)),
      next_due_(clock.monotonicNow()),
      pause_(options.pause_base) {}

void BeaconChannel::setClockOffset(std::chrono::milliseconds offset) {
  clock_offset_ms_.store(offset.count());
}

bool BeaconChannel::noteHeartbeat(bool accepted, Duration answer_time) {
  std::lock_guard<std::mutex> lock(mu_);
  const bool was_in_doubt = collector_in_doubt_;
  collector_in_doubt_ = !accepted || answer_time > options_.prompt_answer;
  if (collector_in_doubt_ || !was_in_doubt || !stats_.paused) return false;
  stats_.paused = false;
  pause_ = options_.pause_base;
  unacked_in_a_row_ = 0;
  awaiting_.reset();
  next_due_ = clock_.monotonicNow();
  log_.info(
      "beacon: heartbeats are answered promptly again; beacons resumed (they were lost with "
      "the heartbeats, not blocked)");
  return true;
}

BeaconStats BeaconChannel::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stats_;
}

std::optional<MonoTime> BeaconChannel::nextDue() {
  std::lock_guard<std::mutex> lock(mu_);
  return next_due_;
}

std::vector<OutgoingDatagram> BeaconChannel::takeDue() {
  std::lock_guard<std::mutex> lock(mu_);
  const MonoTime now = clock_.monotonicNow();
  if (now < next_due_) return {};
  if (awaiting_) ++unacked_in_a_row_;
  // While the collector is unreachable or struggling, losses say nothing about UDP.
  if (collector_in_doubt_) unacked_in_a_row_ = 0;
  if (unacked_in_a_row_ >= options_.unacked_limit) {
    // The network drops our beacons or their acks: stop for a while, then try again.
    ++stats_.pauses;
    stats_.paused = true;
    log_.warn("beacon: " + std::to_string(unacked_in_a_row_) + " beacons without an ack from udp " +
              target_.host + ":" + std::to_string(target_.port) +
              " (UDP blocked?); pausing beacons for " +
              std::to_string(std::chrono::duration_cast<std::chrono::minutes>(pause_).count()) +
              " min");
    next_due_ = now + pause_;
    pause_ = std::min(pause_ * 2, options_.pause_cap);
    unacked_in_a_row_ = 0;
    awaiting_.reset();
    return {};
  }
  const int64_t wall_ms = toUnixMillis(clock_.wallNow()) + clock_offset_ms_.load();
  const int64_t ts = std::max(wall_ms, last_ts_ms_ + 1);
  last_ts_ms_ = ts;
  awaiting_ = ts;
  next_due_ = now + jittered(target_.interval, options_.jitter_fraction, random_);
  std::string bytes = datagram::encodeBeacon(target_.agent_id, ts, target_.secret);
  if (bytes.empty()) return {};
  ++stats_.sent;
  return {OutgoingDatagram{target_.host, target_.port, std::move(bytes)}};
}

void BeaconChannel::onDatagram(const Datagram& d) {
  std::optional<datagram::BeaconAck> ack = datagram::parseBeaconAck(d.bytes);
  std::lock_guard<std::mutex> lock(mu_);
  if (!ack || ack->agent_id != target_.agent_id || !datagram::verify(*ack, target_.secret) ||
      !awaiting_ || ack->ts_ms != *awaiting_) {
    ++stats_.bad_acks;
    return;
  }
  ++stats_.acked;
  awaiting_.reset();
  unacked_in_a_row_ = 0;
  if (stats_.paused) log_.info("beacon: acknowledged again; beacons resumed");
  stats_.paused = false;
  pause_ = options_.pause_base;
}

}  // namespace vigil::agent
