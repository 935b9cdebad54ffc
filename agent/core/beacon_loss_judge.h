#pragma once

#include <optional>
#include <string>

#include "common/clock.h"

namespace vigil::agent {

// Why a run of beacons goes unanswered, as far as the agent's heartbeats tell.
enum class BeaconLossCause {
  // The latest heartbeat failed or was answered late: the collector, or the whole path to it,
  // is down or struggling. Says nothing about UDP.
  kCollectorInDoubt,
  // A heartbeat sent after the first unanswered beacon was accepted promptly, and none failed
  // since: the collector answers HTTPS but not the beacons, so the UDP path is suspect.
  kUdpSuspected,
  // No heartbeat sent since the beacons went unanswered has been answered yet: the collector
  // may have stopped answering everything (frozen, say) since the last good heartbeat.
  kUnknown,
};

// What the heartbeats say about the collector, kept to judge unanswered beacons
// (docs/protocol.md, "UDP beacon"). A heartbeat is prompt when accepted within
// `prompt_answer` of being due. Not thread-safe; BeaconChannel guards it with its lock.
class BeaconLossJudge {
 public:
  explicit BeaconLossJudge(Duration prompt_answer) : prompt_answer_(prompt_answer) {}

  // One heartbeat answered at `now`, `answer_time` after it was due; `problem` says what was
  // wrong when it was not accepted ("HTTP 503 overloaded: shed"; may be empty). Returns true
  // when this prompt answer ends a doubt (the previous answer failed or came late).
  bool noteHeartbeat(bool accepted, Duration answer_time, const std::string& problem, MonoTime now);

  bool collectorInDoubt() const { return in_doubt_; }

  // Why the beacons sent since `unanswered_since` (the oldest one without an ack) have no
  // ack. kUnknown when there is no such beacon.
  BeaconLossCause judge(std::optional<MonoTime> unanswered_since) const;

  // For logs, while in doubt: "heartbeats are also failing (HTTP 503 overloaded: shed)" or
  // "heartbeats are also answered late (the last one 12.0 s after it was due)".
  std::string doubtText() const;
  // For logs, after kUdpSuspected: "the last one answered 0.2 s after it was due".
  std::string lastPromptText() const;

 private:
  const Duration prompt_answer_;
  bool in_doubt_ = false;
  bool doubt_was_late_ = false;  // the doubting answer was an acceptance, only late
  std::string doubt_problem_;
  Duration doubt_answer_time_ = Duration::zero();
  // When the latest promptly accepted heartbeat was due (its answer time before `now`).
  std::optional<MonoTime> prompt_heartbeat_due_;
  Duration prompt_answer_time_ = Duration::zero();
};

}  // namespace vigil::agent
