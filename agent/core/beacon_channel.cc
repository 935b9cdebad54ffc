#include "agent/core/beacon_channel.h"

#include <algorithm>
#include <utility>

#include "common/datagram.h"
#include "common/time_format.h"

namespace vigil::agent {
namespace {

// Timestamps of unanswered beacons kept to recognise a late ack.
constexpr size_t kRememberedBeacons = 16;

// "5 beacons", "1 beacon"
std::string beacons(int n) { return std::to_string(n) + (n == 1 ? " beacon" : " beacons"); }

}  // namespace

BeaconChannel::BeaconChannel(BeaconTarget target, const Clock& clock, UniformRandom random,
                             Logger& log, BeaconOptions options)
    : target_(std::move(target)),
      clock_(clock),
      log_(log),
      options_(options),
      random_(std::move(random)),
      next_due_(clock.monotonicNow()),
      judge_(options.prompt_answer),
      pause_(options.pause_base) {}

std::string BeaconChannel::destination() const {
  return "udp " + target_.host + ":" + std::to_string(target_.port);
}

void BeaconChannel::setClockOffset(std::chrono::milliseconds offset) {
  std::lock_guard<std::mutex> lock(mu_);
  if (offset.count() == clock_offset_ms_) return;
  clock_offset_ms_ = offset.count();
  // Beacons stamped ahead by the old clock were dropped as stale: stamping after them would
  // keep the wrong clock. The collector's replay floor is at most the newest acknowledged one.
  last_ts_ms_ = last_acked_ts_ms_;
  const int old_clock_beacons = static_cast<int>(unanswered_.size());
  unanswered_.clear();
  unanswered_since_.reset();
  unacked_in_a_row_ = 0;
  unknown_logged_ = false;
  if (old_clock_beacons == 0) return;
  log_.info("beacon: clock offset now " + signedSecondsText(offset) + "; " +
            beacons(old_clock_beacons) +
            " stamped with the previous clock got no ack (the collector drops beacons that far "
            "off its clock as stale, as it refused the heartbeat); the next ones carry the "
            "corrected clock");
}

bool BeaconChannel::noteHeartbeat(bool accepted, Duration answer_time, const std::string& problem) {
  std::lock_guard<std::mutex> lock(mu_);
  const bool doubt_ended =
      judge_.noteHeartbeat(accepted, answer_time, problem, clock_.monotonicNow());
  if (judge_.collectorInDoubt()) return false;
  lost_while_in_doubt_ = 0;
  doubt_logged_ = false;
  if (!doubt_ended || !stats_.paused) return false;
  stats_.paused = false;
  pause_ = options_.pause_base;
  unanswered_.clear();
  unanswered_since_.reset();
  unacked_in_a_row_ = 0;
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

void BeaconChannel::setFallback(SystemEventSink* sink) {
  std::lock_guard<std::mutex> lock(mu_);
  fallback_ = sink;
}

const char* BeaconChannel::beaconState() const {
  std::lock_guard<std::mutex> lock(mu_);
  if (stats_.paused) return protocol::beacon_states::kPaused;
  const bool newest_unanswered =
      !unanswered_.empty() && unanswered_.back().ts_ms == fallback_asked_ts_ms_;
  if (newest_unanswered || last_acked_ts_ms_ == 0) return protocol::beacon_states::kUnanswered;
  return protocol::beacon_states::kAcked;
}

std::optional<MonoTime> BeaconChannel::fallbackDue() const {
  if (fallback_ == nullptr || stats_.paused || unanswered_.empty() ||
      unanswered_.back().ts_ms == fallback_asked_ts_ms_) {
    return std::nullopt;
  }
  return unanswered_.back().sent_at + options_.ack_wait;
}

std::optional<MonoTime> BeaconChannel::nextDue() {
  std::lock_guard<std::mutex> lock(mu_);
  const std::optional<MonoTime> fallback = fallbackDue();
  return fallback ? std::min(*fallback, next_due_) : next_due_;
}

bool BeaconChannel::pauseForUnanswered(MonoTime now) {
  const bool newest_unanswered = !unanswered_.empty();
  if (newest_unanswered) ++unacked_in_a_row_;
  const int limit = options_.unacked_limit;
  if (judge_.collectorInDoubt()) {
    // Lost with everything else: the run of unanswered beacons starts again.
    if (newest_unanswered) ++lost_while_in_doubt_;
    if (lost_while_in_doubt_ >= limit && !doubt_logged_) {
      log_.info("beacon: no ack for " + beacons(lost_while_in_doubt_) + " from " + destination() +
                " while " + judge_.doubtText() +
                ": the collector is unreachable or not answering, which says nothing about UDP; "
                "beacons go on");
      doubt_logged_ = true;
    }
    unanswered_.clear();
    unanswered_since_.reset();
    unacked_in_a_row_ = 0;
    unknown_logged_ = false;
    return false;
  }
  if (unacked_in_a_row_ < limit) return false;
  if (judge_.judge(unanswered_since_) != BeaconLossCause::kUdpSuspected) {
    if (!unknown_logged_) {
      log_.debug("beacon: no ack for " + beacons(unacked_in_a_row_) + " from " + destination() +
                 " and no heartbeat sent since the first of them has been answered: not known yet "
                 "whether UDP is blocked or the collector stopped answering; beacons go on until "
                 "a heartbeat tells");
      unknown_logged_ = true;
    }
    return false;
  }
  ++stats_.pauses;
  stats_.paused = true;
  // The beacon fallback's promise ends with the beacons: the collector must hear so now, in a
  // heartbeat that says "paused", not at the next regular one, minutes away perhaps.
  if (fallback_ != nullptr) {
    ++stats_.fallbacks;
    fallback_->onSystemEvent(SystemEvent::kBeaconUnanswered);
  }
  log_.warn(
      "beacon: no ack for " + beacons(unacked_in_a_row_) + " from " + destination() + " over " +
      secondsText(now - *unanswered_since_) + " although heartbeats are accepted promptly (" +
      judge_.lastPromptText() + "): UDP may be blocked on the path; pausing beacons for " +
      std::to_string(std::chrono::duration_cast<std::chrono::minutes>(pause_).count()) + " min");
  next_due_ = now + pause_;
  pause_ = std::min(pause_ * 2, options_.pause_cap);
  unanswered_.clear();
  unanswered_since_.reset();
  unacked_in_a_row_ = 0;
  unknown_logged_ = false;
  return true;
}

std::vector<OutgoingDatagram> BeaconChannel::takeDue() {
  std::lock_guard<std::mutex> lock(mu_);
  const MonoTime now = clock_.monotonicNow();
  if (const std::optional<MonoTime> fallback = fallbackDue(); fallback && now >= *fallback) {
    // The newest beacon got no ack in time: the collector hears from us by heartbeat instead.
    fallback_asked_ts_ms_ = unanswered_.back().ts_ms;
    ++stats_.fallbacks;
    fallback_->onSystemEvent(SystemEvent::kBeaconUnanswered);
  }
  if (now < next_due_) return {};
  if (pauseForUnanswered(now)) return {};
  const int64_t wall_ms = toUnixMillis(clock_.wallNow()) + clock_offset_ms_;
  const int64_t ts = std::max(wall_ms, last_ts_ms_ + 1);
  last_ts_ms_ = ts;
  next_due_ = now + jittered(target_.interval, options_.jitter_fraction, random_);
  std::string bytes = datagram::encodeBeacon(target_.agent_id, ts, target_.secret);
  if (bytes.empty()) return {};
  if (!unanswered_since_) unanswered_since_ = now;
  unanswered_.push_back(SentBeacon{ts, now});
  if (unanswered_.size() > kRememberedBeacons) unanswered_.pop_front();
  ++stats_.sent;
  return {OutgoingDatagram{target_.host, target_.port, std::move(bytes)}};
}

void BeaconChannel::acknowledged(int64_t ts_ms) {
  ++stats_.acked;
  if (ts_ms != unanswered_.back().ts_ms) ++stats_.late_acks;
  last_acked_ts_ms_ = std::max(last_acked_ts_ms_, ts_ms);
  pause_ = options_.pause_base;
  // An authentic ack, even a late one, shows that the path carries beacons and acks: the
  // beacons sent after the acknowledged one start a new run.
  while (!unanswered_.empty() && unanswered_.front().ts_ms <= ts_ms) unanswered_.pop_front();
  if (unanswered_.empty()) {
    unanswered_since_.reset();
    unacked_in_a_row_ = 0;
  } else {
    unanswered_since_ = unanswered_.front().sent_at;
    unacked_in_a_row_ = static_cast<int>(unanswered_.size()) - 1;  // all but the newest
  }
  lost_while_in_doubt_ = 0;
  doubt_logged_ = false;
  unknown_logged_ = false;
  if (stats_.paused) log_.info("beacon: acknowledged again; beacons resumed");
  stats_.paused = false;
}

void BeaconChannel::onDatagram(const Datagram& d) {
  std::optional<datagram::BeaconAck> ack = datagram::parseBeaconAck(d.bytes);
  std::lock_guard<std::mutex> lock(mu_);
  // Only an ack of a beacon of the current run counts: anything else is forged, replayed, or
  // for a beacon whose loss was already accounted for.
  const bool of_this_run =
      ack && std::any_of(unanswered_.begin(), unanswered_.end(),
                         [&](const SentBeacon& b) { return b.ts_ms == ack->ts_ms; });
  if (!of_this_run || ack->agent_id != target_.agent_id ||
      !datagram::verify(*ack, target_.secret)) {
    ++stats_.bad_acks;
    return;
  }
  acknowledged(ack->ts_ms);
}

}  // namespace vigil::agent
