#pragma once

#include <atomic>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "agent/core/datagram_worker.h"
#include "agent/core/random.h"
#include "common/clock.h"

namespace vigil::agent {

struct BeaconOptions {
  // After this many beacons in a row without an ack the agent stops sending (the network
  // probably drops UDP) ...
  int unacked_limit = 5;
  // ... and tries again after pause_base, doubling up to pause_cap; one ack resets it.
  Duration pause_base = std::chrono::minutes(10);
  Duration pause_cap = std::chrono::hours(1);
  // UDP is blamed only while the collector answers heartbeats within this: a collector that
  // answers slowly (frozen, starved of CPU, working off a backlog) drops beacons too.
  Duration prompt_answer = std::chrono::seconds(5);
  double jitter_fraction = 0.10;
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
  uint64_t bad_acks = 0;  // malformed, for another agent, badly signed, or unexpected
  uint64_t pauses = 0;    // times sending stopped after unacked_limit
  bool paused = false;
};

// The UDP beacon (docs/protocol.md, "UDP beacon"): a signed datagram every interval to the
// collector, acknowledged by it. Thread-safe.
class BeaconChannel final : public DatagramProtocol {
 public:
  // REQUIRES: `clock` and `log` outlive the channel.
  BeaconChannel(BeaconTarget target, const Clock& clock, UniformRandom random, Logger& log,
                BeaconOptions options = {});

  // The collector clock minus the local wall clock (the heartbeat loop learns it).
  void setClockOffset(std::chrono::milliseconds offset);
  // The heartbeat loop reports each heartbeat's fate and how long its answer took (from when
  // it was due to the answer). Unanswered beacons pause the channel only while the collector
  // is shown healthy: its latest heartbeat accepted within options.prompt_answer. Beacons lost
  // while heartbeats fail or are answered late were lost with everything else (the collector,
  // or the path to it, is down or struggling), which says nothing about UDP. When heartbeats
  // are accepted promptly again after that, a pause taken meanwhile ends at once; returns true
  // then (the caller wakes whatever waits for nextDue()).
  bool noteHeartbeat(bool accepted, Duration answer_time);
  BeaconStats stats() const;

  std::optional<MonoTime> nextDue() override;
  std::vector<OutgoingDatagram> takeDue() override;
  void onDatagram(const Datagram& datagram) override;
  const char* name() const override { return "beacon"; }

 private:
  const BeaconTarget target_;
  const Clock& clock_;
  Logger& log_;
  const BeaconOptions options_;
  std::atomic<int64_t> clock_offset_ms_{0};

  mutable std::mutex mu_;
  UniformRandom random_;
  MonoTime next_due_;
  int64_t last_ts_ms_ = 0;           // strictly increasing timestamps
  std::optional<int64_t> awaiting_;  // ts of the last beacon not acked yet
  int unacked_in_a_row_ = 0;
  bool collector_in_doubt_ = false;  // latest heartbeat failed or was answered late
  Duration pause_;
  BeaconStats stats_;
};

}  // namespace vigil::agent
