#include "tests/simulation/fleet_simulation.h"

#include <algorithm>
#include <functional>
#include <memory>
#include <queue>
#include <tuple>
#include <utility>

#include "collector/presence/presence_engine.h"

namespace vigil::presence_sim {

namespace {

using namespace std::chrono_literals;
using collector::presence::AgentHandle;
using collector::presence::AgentSpec;
using collector::presence::AlertEvent;
using collector::presence::HealthChange;
using collector::presence::Indicator;
using collector::presence::Observation;
using collector::presence::PresenceEngine;
using collector::presence::PresenceListener;
using collector::presence::QueueId;
using collector::presence::RestoredState;
using collector::presence::Transition;

// Handle of an agent the running engine does not know (not enrolled yet).
constexpr AgentHandle kNoHandle = UINT32_MAX;

// How long before the run the fleet of its start enrolled.
constexpr std::chrono::hours kFleetAge{24 * 30};

// The collector's ingest queue bound, as it would report it.
constexpr uint64_t kIngestQueueBound = 100000;
// A backlog is read within this much time after the collector resumes.
constexpr Duration kDrainSpread = 2s;
// The collector flushes last-seen times to its store every this many ticks.
constexpr uint64_t kStoreWriteEveryTicks = 5;

constexpr uint8_t kHeartbeatChannel = 0;
constexpr uint8_t kBeaconChannel = 1;
constexpr uint8_t kChannels = 2;

Indicator indicatorOf(uint8_t channel) {
  return channel == kHeartbeatChannel ? Indicator::kHeartbeat : Indicator::kBeacon;
}

enum class EventKind : uint8_t {
  kSend,    // the agent sends on a channel (and schedules its next send)
  kArrive,  // an item delayed on its way reaches the collector now
};

struct Event {
  Duration::rep at;
  uint32_t agent;
  uint8_t channel;
  EventKind kind;
};

// Orders the min-heap totally, so a seed replays identically with any standard library.
struct LaterFirst {
  bool operator()(const Event& a, const Event& b) const {
    return std::tie(a.at, a.agent, a.channel, a.kind) > std::tie(b.at, b.agent, b.channel, b.kind);
  }
};

struct PendingItem {
  uint32_t agent;
  uint8_t channel;
  SimTime received_at;
};

struct Milestone {
  SimTime at;
  std::function<void()> run;
};

// Records every engine event in simulated time and simulation agent ids.
class Recorder final : public PresenceListener {
 public:
  Recorder(const Fleet& fleet, const std::vector<uint32_t>& agent_of_handle, const SimTime& now,
           SimulationRun& run)
      : fleet_(fleet), agent_of_handle_(agent_of_handle), now_(now), run_(run) {}

  void onTransition(const Transition& transition) override {
    ++run_.transitions;
    if (transition.to != AgentStatus::kOffline) return;
    const uint32_t agent = agentOf(transition.agent);
    if (agent != kNoAgent && fleet_.aliveAt(agent, now_)) ++run_.false_offline_transitions;
  }

  void onAlert(const AlertEvent& alert) override {
    AlertRecord record;
    record.kind = alert.kind;
    record.action = alert.action;
    record.agent = alert.agent ? agentOf(*alert.agent) : kNoAgent;
    record.site = alert.site;
    record.at = now_;
    record.held_for_mask = alert.held_for_mask;
    record.note = alert.note;
    run_.alerts.push_back(std::move(record));
  }

  void onHealthChange(const HealthChange& change) override {
    run_.health.push_back(HealthRecord{now_, change.degraded, change.reasons_mask});
  }

  void onDiary(AgentHandle, WallTime, WallTime) override {}

 private:
  uint32_t agentOf(AgentHandle handle) const {
    return handle < agent_of_handle_.size() ? agent_of_handle_[handle] : kNoAgent;
  }

  const Fleet& fleet_;
  const std::vector<uint32_t>& agent_of_handle_;
  const SimTime& now_;
  SimulationRun& run_;
};

class FleetSimulation {
 public:
  FleetSimulation(const PresenceConfig& config, const FleetParams& params, const FaultPlan& plan,
                  Fleet fleet)
      : config_(config),
        random_(params.seed ^ 0x5eed'f1ee'75a1'0000ULL),
        mono_origin_(clock_.monotonicNow()),
        wall_origin_(clock_.wallNow()),
        recorder_(run_.fleet, agent_of_handle_, now_, run_) {
    run_.params = params;
    run_.plan = plan;
    run_.fleet = std::move(fleet);
    intervals_[kHeartbeatChannel] = config.heartbeat_interval;
    intervals_[kBeaconChannel] = params.beacon_interval > Duration::zero()
                                     ? params.beacon_interval
                                     : config.heartbeat_interval / 4;
    last_delivered_.assign(size_t{kChannels} * run_.fleet.agentCount(), SimTime::min());
    heartbeat_failures_.assign(run_.fleet.agentCount(), 0);
    planMilestones();
  }

  SimulationRun run() {
    const auto real_start = std::chrono::steady_clock::now();
    const Fleet& fleet = run_.fleet;
    startEngine(false);
    for (uint32_t a = 0; a < fleet.agentCount(); ++a) {
      for (uint8_t ch = 0; ch < kChannels; ++ch) {
        const SimTime first = fleet.enrollsAt(a) + random_.between(0s, intervals_[ch]);
        if (ch == kBeaconChannel && !fleet.uses_beacons[a]) continue;
        events_.push(Event{first.count(), a, ch, EventKind::kSend});
      }
    }
    const SimTime end = run_.params.duration;
    SimTime next_tick = config_.tick_interval;
    size_t next_milestone = 0;
    while (true) {
      const SimTime t_event = events_.empty() ? kNever : SimTime(events_.top().at);
      const SimTime t_milestone =
          next_milestone < milestones_.size() ? milestones_[next_milestone].at : kNever;
      const SimTime t = std::min({t_event, t_milestone, next_tick});
      if (t > end) break;
      if (t == t_milestone) {
        advanceTo(t);
        milestones_[next_milestone++].run();
      } else if (t == next_tick) {
        tick(t);
        next_tick += config_.tick_interval;
      } else {
        const Event event = events_.top();
        events_.pop();
        handle(event);
      }
    }
    advanceTo(end);
    finish();
    run_.real_seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - real_start).count();
    return std::move(run_);
  }

 private:
  void planMilestones() {
    for (uint32_t a = 0; a < run_.fleet.agentCount(); ++a) {
      const SimTime at = run_.fleet.enrollsAt(a);
      if (at > SimTime::zero()) milestones_.push_back({at, [this, a] { enroll(a); }});
    }
    for (const CollectorFault& fault : run_.fleet.collector_faults) {
      const SimTime from = fault.from;
      const SimTime to = fault.from + fault.length;
      switch (fault.kind) {
        case CollectorFault::Kind::kRestart:
          milestones_.push_back({from, [this] { stopEngine(); }});
          milestones_.push_back({to, [this] { startEngine(true); }});
          break;
        case CollectorFault::Kind::kFreeze:
          milestones_.push_back({from, [this] { frozen_ = true; }});
          // The next regular tick (at this instant) is the late one; the backlog follows it.
          milestones_.push_back({to, [this] {
                                   frozen_ = false;
                                   drainPending();
                                 }});
          break;
        case CollectorFault::Kind::kIngestStall:
        case CollectorFault::Kind::kUpstreamStall: {
          const bool visible = fault.kind == CollectorFault::Kind::kIngestStall;
          milestones_.push_back({from, [this, visible] {
                                   stalled_ = true;
                                   stall_visible_ = visible;
                                 }});
          milestones_.push_back({to, [this] { endStall(); }});
          break;
        }
      }
    }
    std::stable_sort(milestones_.begin(), milestones_.end(),
                     [](const Milestone& a, const Milestone& b) { return a.at < b.at; });
  }

  void advanceTo(SimTime t) {
    if (t <= now_) return;
    clock_.advance(t - now_);
    now_ = t;
  }

  WallTime wallAt(SimTime t) const {
    return wall_origin_ + std::chrono::duration_cast<std::chrono::system_clock::duration>(t);
  }

  Duration jittered(Duration base) {
    const double j = config_.agent_jitter;
    return Duration(static_cast<Duration::rep>(static_cast<double>(base.count()) *
                                               random_.uniform(1 - j, 1 + j)));
  }

  void startEngine(bool restore) {
    const Fleet& fleet = run_.fleet;
    engine_ = std::make_unique<PresenceEngine>(config_, clock_, recorder_);
    // A new engine starts in warm-up without an event: record its initial health.
    const auto health = engine_->health();
    run_.health.push_back(HealthRecord{now_, health.degraded, health.reasons_mask});
    handle_of_agent_.assign(fleet.agentCount(), kNoHandle);
    agent_of_handle_.clear();
    for (uint32_t a = 0; a < fleet.agentCount(); ++a) {
      if (fleet.enrollsAt(a) > now_) continue;  // enrolls later
      std::optional<RestoredState> restored;
      if (restore && a < restored_.size()) restored = restored_[a];
      addToEngine(a, restored);
    }
    restored_.clear();
  }

  void addToEngine(uint32_t a, const std::optional<RestoredState>& restored) {
    const Fleet& fleet = run_.fleet;
    AgentSpec spec;
    spec.site = fleet.site[a];
    spec.tenant = fleet.tenant[a];
    spec.agent_class = fleet.agent_class[a];
    // The fleet of the run's start enrolled long before it: established agents.
    const SimTime enrolled = fleet.enrollsAt(a);
    spec.enrolled_at = enrolled > SimTime::zero() ? wallAt(enrolled) : wall_origin_ - kFleetAge;
    const AgentHandle handle = engine_->addAgent(spec, restored);
    handle_of_agent_[a] = handle;
    if (agent_of_handle_.size() <= handle) agent_of_handle_.resize(handle + 1, kNoAgent);
    agent_of_handle_[handle] = a;
  }

  // The agent enrolls now (a collector that is down takes it when it starts again).
  void enroll(uint32_t a) {
    if (engine_ && handle_of_agent_[a] == kNoHandle) addToEngine(a, std::nullopt);
  }

  // What the store holds when the collector stops: last-seen per indicator and the status.
  void stopEngine() {
    const Fleet& fleet = run_.fleet;
    restored_.assign(fleet.agentCount(), RestoredState{});
    for (uint32_t a = 0; a < fleet.agentCount(); ++a) {
      if (handle_of_agent_[a] == kNoHandle) continue;
      RestoredState& state = restored_[a];
      for (uint8_t ch = 0; ch < kChannels; ++ch) {
        const SimTime seen = last_delivered_[size_t{kChannels} * a + ch];
        if (seen != SimTime::min()) {
          state.last_seen[static_cast<size_t>(indicatorOf(ch))] = wallAt(seen);
        }
      }
      const auto view = engine_->agentView(handle_of_agent_[a]);
      state.status = view.status;
      state.status_since = view.since;
      state.expected_interval = config_.heartbeat_interval;
    }
    engine_.reset();
  }

  void endStall() {
    stalled_ = false;
    if (stall_visible_) {
      // The queue empties in one burst; each item keeps the time it was received.
      for (const PendingItem& item : pending_) observe(item.agent, item.channel, item.received_at);
      pending_.clear();
      engine_->reportIngestLag(Duration::zero());
      engine_->reportQueueDepth(QueueId::kIngest, 0, kIngestQueueBound);
    } else {
      drainPending();
    }
  }

  // Everything queued reaches the collector now, read over kDrainSpread and stamped on arrival.
  void drainPending() {
    const auto count = static_cast<Duration::rep>(pending_.size());
    for (Duration::rep i = 0; i < count; ++i) {
      const PendingItem& item = pending_[static_cast<size_t>(i)];
      const SimTime at = now_ + kDrainSpread * i / count;
      events_.push(Event{at.count(), item.agent, item.channel, EventKind::kArrive});
    }
    pending_.clear();
  }

  void handle(const Event& event) {
    const SimTime t(event.at);
    if (event.kind == EventKind::kArrive) {
      arrive(event.agent, event.channel, t);
      return;
    }
    if (!run_.fleet.aliveAt(event.agent, t)) return;  // dead: silent on every channel forever
    SimTime next = t + jittered(intervals_[event.channel]);
    const Delivery delivery = route(event.agent, event.channel, t);
    if (event.channel == kHeartbeatChannel) {
      // As the agent does: a heartbeat that failed is retried after capped full-jitter
      // backoff (1 s doubling, at most one interval), once the failed attempt gave up.
      uint8_t& failures = heartbeat_failures_[event.agent];
      if (delivery == Delivery::kDelivered) {
        failures = 0;
      } else {
        const Duration cap =
            std::min<Duration>(intervals_[kHeartbeatChannel],
                               Duration(1s) * (int64_t{1} << std::min<int>(failures, 20)));
        next = t + (delivery == Delivery::kTimedOut ? attempt_time_ : Duration::zero()) +
               random_.between(0s, std::max<Duration>(cap, 1ms));
        failures = static_cast<uint8_t>(std::min(failures + 1, 60));
      }
    }
    events_.push(Event{next.count(), event.agent, event.channel, EventKind::kSend});
  }

  enum class Delivery : uint8_t {
    kDelivered,  // reaches the collector (perhaps late)
    kRefused,    // the collector is down: the request fails at once
    kTimedOut,   // no path: the request fails after attempt_time_
  };

  // The path from the agent to the collector, where channel faults and partitions act. A
  // datagram on a cut path is lost. A heartbeat (TCP) waits for the path: if it reopens within
  // the attempt time, the request goes through then (retransmissions); otherwise it fails.
  Delivery route(uint32_t agent, uint8_t channel, SimTime t) {
    const Fleet& fleet = run_.fleet;
    const uint8_t bit =
        channel == kHeartbeatChannel ? RouteFault::kHeartbeats : RouteFault::kBeacons;
    Duration delay{};
    SimTime blocked_until = t;
    for (bool extended = true; extended;) {
      extended = false;
      for (const RouteFault& fault : fleet.route_faults) {
        if (fault.max_delay != Duration::zero() || !fault.active(blocked_until) ||
            !fault.affects(agent, fleet.site[agent], bit) || fault.to <= blocked_until) {
          continue;
        }
        blocked_until = fault.to;
        extended = true;
      }
    }
    if (blocked_until > t) {
      if (channel != kHeartbeatChannel) return Delivery::kTimedOut;  // lost
      if (blocked_until - t > attempt_time_) return Delivery::kTimedOut;
      delay = blocked_until - t + random_.between(0s, 1s);
    }
    for (const RouteFault& fault : fleet.route_faults) {
      if (fault.max_delay == Duration::zero() || !fault.active(t) ||
          !fault.affects(agent, fleet.site[agent], bit)) {
        continue;
      }
      delay = std::max(delay, random_.between(0s, fault.max_delay));
    }
    if (delay > Duration::zero()) {
      events_.push(Event{(t + delay).count(), agent, channel, EventKind::kArrive});
      return Delivery::kDelivered;
    }
    return arrive(agent, channel, t) ? Delivery::kDelivered : Delivery::kRefused;
  }

  // The item reaches the collector process at `t`. Returns false when nobody listens.
  bool arrive(uint32_t agent, uint8_t channel, SimTime t) {
    if (!engine_) return false;  // collector down: the request fails, the datagram is lost
    if (handle_of_agent_[agent] == kNoHandle) return false;  // not enrolled in this engine
    if (frozen_ || stalled_) {
      pending_.push_back(PendingItem{agent, channel, t});
      return true;
    }
    observe(agent, channel, t);
    return true;
  }

  void observe(uint32_t agent, uint8_t channel, SimTime received_at) {
    advanceTo(received_at);
    if (handle_of_agent_[agent] == kNoHandle) return;
    Observation observation;
    observation.agent = handle_of_agent_[agent];
    observation.indicator = indicatorOf(channel);
    observation.received_at = mono_origin_ + received_at;
    observation.expected_interval = intervals_[channel];
    engine_->observe(observation);
    ++run_.observations;
    if (channel == kHeartbeatChannel) ++accepted_since_report_;
    SimTime& last = last_delivered_[size_t{kChannels} * agent + channel];
    last = std::max(last, received_at);
  }

  // One evaluation period of the collector: health inputs as it would report them, then tick.
  void tick(SimTime t) {
    advanceTo(t);
    if (!engine_ || frozen_) return;
    const bool visible_backlog = stalled_ && stall_visible_;
    Duration lag = Duration::zero();
    uint64_t depth = 0;
    if (visible_backlog && !pending_.empty()) {
      lag = t - pending_.front().received_at;
      depth = pending_.size();
    }
    engine_->reportIngestLag(lag);
    engine_->reportQueueDepth(QueueId::kIngest, depth, kIngestQueueBound);
    engine_->reportRequests(accepted_since_report_, 0);
    accepted_since_report_ = 0;
    if (++store_write_counter_ % kStoreWriteEveryTicks == 0) engine_->reportStoreWrite(true);
    engine_->tick();
    ++run_.ticks;
  }

  void finish() {
    const Fleet& fleet = run_.fleet;
    run_.final_status.assign(fleet.agentCount(), AgentStatus::kUnknown);
    run_.last_received.assign(fleet.agentCount(), SimTime::min());
    for (uint32_t a = 0; a < fleet.agentCount(); ++a) {
      for (uint8_t ch = 0; ch < kChannels; ++ch) {
        run_.last_received[a] =
            std::max(run_.last_received[a], last_delivered_[size_t{kChannels} * a + ch]);
      }
    }
    if (!engine_) return;
    for (uint32_t a = 0; a < fleet.agentCount(); ++a) {
      if (handle_of_agent_[a] == kNoHandle) continue;
      run_.final_status[a] = engine_->agentView(handle_of_agent_[a]).status;
    }
    const auto health = engine_->health();
    run_.degraded_at_end = health.degraded;
    run_.reasons_at_end = health.reasons_mask;
    run_.engine_memory_bytes = engine_->memoryBytes();
    engine_.reset();  // before run_ is handed out: the recorder writes into it
  }

  PresenceConfig config_;
  SimulationRun run_;
  SimRandom random_;
  SimulatedClock clock_;
  MonoTime mono_origin_;
  WallTime wall_origin_;
  SimTime now_{};
  Duration intervals_[kChannels]{};
  std::vector<uint32_t> agent_of_handle_;
  std::vector<AgentHandle> handle_of_agent_;
  std::vector<SimTime> last_delivered_;      // [agent * kChannels + channel], min() = never
  std::vector<uint8_t> heartbeat_failures_;  // consecutive failed heartbeats per agent
  // How long a heartbeat that gets nowhere takes to fail (the agent's connect timeout).
  Duration attempt_time_ = 10s;
  std::vector<RestoredState> restored_;
  Recorder recorder_;
  std::unique_ptr<PresenceEngine> engine_;
  std::priority_queue<Event, std::vector<Event>, LaterFirst> events_;
  std::vector<PendingItem> pending_;
  std::vector<Milestone> milestones_;
  bool frozen_ = false;
  bool stalled_ = false;
  bool stall_visible_ = false;  // the stalled queue is the collector's own: lag is reported
  uint64_t accepted_since_report_ = 0;
  uint64_t store_write_counter_ = 0;
};

}  // namespace

SimulationRun runSimulation(const PresenceConfig& config, const FleetParams& params,
                            const FaultPlan& plan) {
  Fleet fleet = buildFleet(params, plan, config.warmUp(), config.heartbeat_interval);
  FleetSimulation simulation(config, params, plan, std::move(fleet));
  return simulation.run();
}

SimulationRun runFleet(const PresenceConfig& config, const FleetParams& params, Fleet fleet) {
  FaultPlan none;
  none.kind = FaultKind::kNone;
  FleetSimulation simulation(config, params, none, std::move(fleet));
  return simulation.run();
}

std::string reasonsText(uint32_t mask) {
  std::string text = collector::presence::degradationReasonNames(mask);
  return text.empty() ? "-" : text;
}

}  // namespace vigil::presence_sim
