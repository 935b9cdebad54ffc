#include "agent/core/beacon_loss_judge.h"

#include "common/time_format.h"

namespace vigil::agent {

bool BeaconLossJudge::noteHeartbeat(bool accepted, Duration answer_time, const std::string& problem,
                                    MonoTime now) {
  const bool was_in_doubt = in_doubt_;
  in_doubt_ = !accepted || answer_time > prompt_answer_;
  if (in_doubt_) {
    doubt_was_late_ = accepted;
    doubt_problem_ = problem;
    doubt_answer_time_ = answer_time;
    return false;
  }
  prompt_heartbeat_due_ = now - answer_time;
  prompt_answer_time_ = answer_time;
  return was_in_doubt;
}

BeaconLossCause BeaconLossJudge::judge(std::optional<MonoTime> unanswered_since) const {
  if (in_doubt_) return BeaconLossCause::kCollectorInDoubt;
  // Evidence about UDP needs a heartbeat that went out after the beacons began to go
  // unanswered and came back promptly: the collector was answering while it ignored them.
  if (unanswered_since && prompt_heartbeat_due_ && *prompt_heartbeat_due_ >= *unanswered_since) {
    return BeaconLossCause::kUdpSuspected;
  }
  return BeaconLossCause::kUnknown;
}

std::string BeaconLossJudge::doubtText() const {
  if (doubt_was_late_) {
    return "heartbeats are also answered late (the last one " + secondsText(doubt_answer_time_) +
           " after it was due)";
  }
  return "heartbeats are also failing" +
         (doubt_problem_.empty() ? std::string() : " (" + doubt_problem_ + ")");
}

std::string BeaconLossJudge::lastPromptText() const {
  return "the last one answered " + secondsText(prompt_answer_time_) + " after it was due";
}

}  // namespace vigil::agent
