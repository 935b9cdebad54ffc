#pragma once

#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "agent/core/beacon_loss_judge.h"
#include "agent/core/datagram_worker.h"
#include "agent/core/platform.h"
#include "agent/core/random.h"
#include "common/clock.h"
#include "common/protocol.h"

namespace vigil::agent {

struct BeaconOptions {
  // After this many beacons in a row without an ack, while heartbeats show the collector
  // answering (BeaconChannel::noteHeartbeat), the agent stops sending (the path probably
  // drops UDP) ...
  int unacked_limit = 5;
  // ... and tries again after pause_base, doubling up to pause_cap; one ack resets it.
  Duration pause_base = std::chrono::minutes(10);
  Duration pause_cap = std::chrono::hours(1);
  // UDP is blamed only while the collector answers heartbeats within this: a collector that
  // answers slowly (frozen, starved of CPU, working off a backlog) drops beacons too.
  Duration prompt_answer = std::chrono::seconds(5);
  double jitter_fraction = 0.10;
  // The beacon fallback (docs/protocol.md): a beacon without an ack after this asks the
  // heartbeat loop for a heartbeat at once (SystemEvent::kBeaconUnanswered).
  Duration ack_wait = std::chrono::milliseconds(protocol::kBeaconAckWaitMs);
};

// Where and as whom to send beacons, from the collector's offer.
struct BeaconTarget {
  std::string host;  // the collector's host, from server_url
  uint16_t port = 0;
  Duration interval = std::chrono::seconds(15);
  std::string agent_id;
  std::string secret;
};

// Counters for logs and tests.
struct BeaconStats {
  uint64_t sent = 0;
  uint64_t acked = 0;
  uint64_t late_acks = 0;  // of `acked`: acks that came after the next beacon had gone out
  uint64_t bad_acks = 0;   // malformed, for another agent, badly signed, or unexpected
  uint64_t pauses = 0;     // times sending stopped after unacked_limit
  uint64_t fallbacks = 0;  // heartbeats asked for because a beacon went unanswered
  bool paused = false;
};

// The UDP beacon (docs/protocol.md, "UDP beacon"): a signed datagram every interval to the
// collector, acknowledged by it. Thread-safe.
class BeaconChannel final : public DatagramProtocol {
 public:
  // REQUIRES: `clock` and `log` outlive the channel.
  BeaconChannel(BeaconTarget target, const Clock& clock, UniformRandom random, Logger& log,
                BeaconOptions options = {});

  // The collector clock minus the local wall clock, learnt by the heartbeat loop from a
  // stale_timestamp answer. Every beacon taken after this call is stamped with the corrected
  // clock, also when earlier beacons carried later timestamps (the collector dropped those as
  // stale: nothing it accepted is newer than the last acknowledged beacon). Beacons still
  // unanswered were stamped with the old clock: they do not count towards a pause.
  void setClockOffset(std::chrono::milliseconds offset);
  // The heartbeat loop reports each heartbeat's fate, how long its answer took (from when it
  // was due to the answer) and, when it was not accepted, what went wrong (`problem`, for the
  // log: "HTTP 503 overloaded: shed"). Unanswered beacons pause the channel only when a
  // heartbeat sent after the first of them was accepted within options.prompt_answer and none
  // failed or came late since: the collector answered HTTPS meanwhile, so UDP is suspect.
  // Beacons lost while heartbeats fail or are answered late were lost with everything else
  // (the collector, or the path to it, is down or struggling), which says nothing about UDP;
  // and without a heartbeat answered since they went unanswered the agent does not know yet.
  // When heartbeats are accepted promptly again after failing or coming late, a pause taken
  // meanwhile ends at once; returns true then (the caller wakes whatever waits for nextDue()).
  bool noteHeartbeat(bool accepted, Duration answer_time, const std::string& problem = {});
  BeaconStats stats() const;

  // The beacon fallback: once per beacon that has no ack after options.ack_wait, and when the
  // channel pauses (the promise ends: the next heartbeat says "paused"), `sink` gets
  // SystemEvent::kBeaconUnanswered (the heartbeat loop then beats at once). Null: no fallback.
  void setFallback(SystemEventSink* sink);
  // What the next heartbeat reports (field beacon_state, protocol::beacon_states): "paused"
  // while paused, "unanswered" while the newest beacon went past its ack wait without an ack
  // (or none was ever acknowledged), "acked" otherwise.
  const char* beaconState() const;

  std::optional<MonoTime> nextDue() override;
  std::vector<OutgoingDatagram> takeDue() override;
  void onDatagram(const Datagram& datagram) override;
  const char* name() const override { return "beacon"; }

 private:
  // REQUIRES: mu_ held. Decides, at the due time of a beacon, whether the beacons without an
  // ack pause the channel; logs what the agent knows about why they are unanswered.
  bool pauseForUnanswered(MonoTime now);
  // REQUIRES: mu_ held. A valid ack for the beacon stamped `ts_ms` arrived.
  void acknowledged(int64_t ts_ms);
  // REQUIRES: mu_ held. When the newest beacon's ack wait ends, if the fallback is still to be
  // asked for it.
  std::optional<MonoTime> fallbackDue() const;
  std::string destination() const;  // "udp host:port"

  const BeaconTarget target_;
  const Clock& clock_;
  Logger& log_;
  const BeaconOptions options_;

  mutable std::mutex mu_;
  UniformRandom random_;
  MonoTime next_due_;
  int64_t clock_offset_ms_ = 0;
  int64_t last_ts_ms_ = 0;        // beacons carry strictly increasing timestamps ...
  int64_t last_acked_ts_ms_ = 0;  // ... above the newest one the collector acknowledged
  // The run of unanswered beacons: those sent since the last ack (or since the heartbeats
  // put the collector in doubt, the clock offset changed or a pause began), oldest first. The
  // newest kRememberedBeacons are kept, to recognise a late ack.
  struct SentBeacon {
    int64_t ts_ms = 0;
    MonoTime sent_at;
  };
  std::deque<SentBeacon> unanswered_;
  std::optional<MonoTime> unanswered_since_;  // when the run's first beacon was sent
  int unacked_in_a_row_ = 0;     // beacons of the run whose ack was not there by the next due time
  int lost_while_in_doubt_ = 0;  // beacons unanswered while heartbeats failed or came late
  bool doubt_logged_ = false;
  bool unknown_logged_ = false;
  SystemEventSink* fallback_ = nullptr;
  int64_t fallback_asked_ts_ms_ = 0;  // the beacon the fallback was last asked for
  BeaconLossJudge judge_;
  Duration pause_;
  BeaconStats stats_;
};

}  // namespace vigil::agent
