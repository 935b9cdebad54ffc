#pragma once

// The engine's fixed-size record of one agent, and the chunked table that holds them. No
// per-agent heap allocation: a million agents are a few hundred blocks of records.

#include <array>
#include <cstdint>
#include <memory>
#include <vector>

#include "collector/presence/channel_monitor.h"
#include "collector/presence/engine_time.h"
#include "collector/presence/failure_detector.h"
#include "collector/presence/presence_types.h"

namespace vigil::collector::presence {

// Bits of TrackedAgent::flags.
enum AgentFlag : uint8_t {
  kFlagRemoved = 1u << 0,
  kFlagHeld = 1u << 1,         // an OFFLINE verdict is held back by degradation
  kFlagAlertOpen = 1u << 2,    // a device alert is open
  kFlagFlapping = 1u << 3,     // a flapping alert is open
  kFlagWitnessed = 1u << 4,    // peer witnesses postponed the current verdict
  kFlagInHeldList = 1u << 5,   // waits in the list re-armed at recovery
  kFlagInMaintList = 1u << 6,  // in the list re-judged when a window closes
  kFlagInFlapList = 1u << 7,   // in the list scanned for the end of flapping
};

struct TrackedAgent {
  std::array<ArrivalStats, kDirectChannelCount> direct{};  // heartbeat, beacon
  Ticks witness_last = kNever;
  Ticks shutdown_last = kNever;
  Ticks diary_last = kNever;
  // Start of the current unbroken run of direct evidence: the first arrival after the agent
  // was overdue (site_question.h), or since the engine started. The collector heard the
  // agent's network working from here to its latest evidence.
  Ticks heard_since = kNever;
  // Evidence at or after this instant makes the agent established (PresenceConfig::
  // established_after): its enrollment plus that period.
  Ticks established_from = kNever;
  // Next instant the engine must look at the agent (its heap key may be earlier: keys are
  // raised lazily when popped, so fresh evidence costs no heap operation).
  Ticks due = kNever;
  // Start of the running confirmation window (SUSPECT), of the shutdown grace (SHUTDOWN), or
  // the end of the start-up grace (UNKNOWN).
  Ticks window_start = kNever;
  WallTime since{};       // of the current status
  WallTime held_since{};  // when the verdict was first held
  Ticks flap_updated = kNever;
  float flap_score = 0;
  uint32_t witness_interval_ms = 0;
  uint32_t held_for_mask = 0;
  SiteId site = 0;
  TenantId tenant = 0;
  uint32_t site_slot = 0;
  AgentStatus status = AgentStatus::kUnknown;
  Reason reason = Reason::kNoEvidenceYet;
  AgentClass agent_class = AgentClass::kWorkstation;
  uint8_t flags = 0;
  bool established = false;  // counts toward mass suspect and deafness (FleetHearing)
  // Its latest heartbeat said it follows the beacon fallback (Observation::beacon_fallback).
  bool beacon_fallback = false;

  bool has(AgentFlag flag) const { return (flags & flag) != 0; }
  void set(AgentFlag flag) { flags = static_cast<uint8_t>(flags | flag); }
  void clear(AgentFlag flag) { flags = static_cast<uint8_t>(flags & ~flag); }
  Ticks latestDirect() const {
    return direct[0].last > direct[1].last ? direct[0].last : direct[1].last;
  }
};

// Records in blocks of kBlock: growth never moves a record (references stay valid) and never
// holds more than one block of slack.
class AgentTable {
 public:
  static constexpr size_t kBlockBits = 10;
  static constexpr size_t kBlock = size_t{1} << kBlockBits;

  size_t size() const { return size_; }
  TrackedAgent& operator[](size_t i) { return blocks_[i >> kBlockBits][i & (kBlock - 1)]; }
  const TrackedAgent& operator[](size_t i) const {
    return blocks_[i >> kBlockBits][i & (kBlock - 1)];
  }
  TrackedAgent& append() {
    if ((size_ >> kBlockBits) >= blocks_.size()) {
      blocks_.push_back(std::make_unique<TrackedAgent[]>(kBlock));
    }
    return (*this)[size_++];
  }
  size_t memoryBytes() const {
    return blocks_.size() * kBlock * sizeof(TrackedAgent) +
           blocks_.capacity() * sizeof(std::unique_ptr<TrackedAgent[]>);
  }

 private:
  std::vector<std::unique_ptr<TrackedAgent[]>> blocks_;
  size_t size_ = 0;
};

}  // namespace vigil::collector::presence
