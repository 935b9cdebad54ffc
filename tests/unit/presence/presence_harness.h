#pragma once

// Test support for the presence engine: a listener that records every event, and a harness
// that moves a SimulatedClock in tick-sized steps, ticking the engine and delivering the
// scheduled evidence of simulated agents on the way. Nothing sleeps.

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <optional>
#include <ostream>
#include <tuple>
#include <vector>

#include "collector/presence/presence_engine.h"
#include "collector/presence/presence_types.h"
#include "common/clock.h"

namespace vigil::collector::presence {

inline std::ostream& operator<<(std::ostream& out, AgentStatus status) {
  return out << statusName(status);
}
inline std::ostream& operator<<(std::ostream& out, Reason reason) {
  return out << reasonName(reason);
}
inline std::ostream& operator<<(std::ostream& out, AlertKind kind) {
  return out << static_cast<int>(kind);
}
inline std::ostream& operator<<(std::ostream& out, AlertAction action) {
  return out << static_cast<int>(action);
}

inline uint32_t bitOf(DegradationReason reason) { return 1u << static_cast<uint32_t>(reason); }

class RecordingListener : public PresenceListener {
 public:
  struct Diary {
    AgentHandle agent;
    WallTime from;
    WallTime to;
  };

  void onTransition(const Transition& t) override { transitions.push_back(t); }
  void onAlert(const AlertEvent& a) override { alerts.push_back(a); }
  void onHealthChange(const HealthChange& h) override { health.push_back(h); }
  void onDiary(AgentHandle agent, WallTime from, WallTime to) override {
    diaries.push_back({agent, from, to});
  }

  size_t countAlerts(AlertKind kind, AlertAction action,
                     std::optional<AgentHandle> agent = std::nullopt) const {
    return static_cast<size_t>(std::count_if(alerts.begin(), alerts.end(), [&](const auto& a) {
      return a.kind == kind && a.action == action && (!agent || a.agent == agent);
    }));
  }
  std::vector<AlertEvent> alertsOf(AgentHandle agent) const {
    std::vector<AlertEvent> out;
    for (const auto& a : alerts) {
      if (a.agent == agent) out.push_back(a);
    }
    return out;
  }
  // (from, to, reason) of every transition of `agent`, in order.
  std::vector<std::tuple<AgentStatus, AgentStatus, Reason>> pathOf(AgentHandle agent) const {
    std::vector<std::tuple<AgentStatus, AgentStatus, Reason>> out;
    for (const auto& t : transitions) {
      if (t.agent == agent) out.emplace_back(t.from, t.to, t.reason);
    }
    return out;
  }
  size_t countTransitionsTo(AgentStatus to) const {
    return static_cast<size_t>(std::count_if(transitions.begin(), transitions.end(),
                                             [&](const auto& t) { return t.to == to; }));
  }
  bool everDegradedWith(DegradationReason reason) const {
    return std::any_of(health.begin(), health.end(),
                       [&](const auto& h) { return (h.reasons_mask & bitOf(reason)) != 0; });
  }

  std::vector<Transition> transitions;
  std::vector<AlertEvent> alerts;
  std::vector<HealthChange> health;
  std::vector<Diary> diaries;
};

// Engine defaults for tests: lateness floor = ceiling = 1.5, so an agent told to beat every
// 60 s is late exactly 90 s after its last heartbeat (the failure detector has its own tests).
inline PresenceConfig fixedLatenessConfig() {
  PresenceConfig config;
  config.lateness_floor = 1.5;
  config.lateness_ceiling = 1.5;
  return config;
}

class Harness {
 public:
  explicit Harness(PresenceConfig config = fixedLatenessConfig())
      : config_(config), engine(config_, clock, events) {}

  // Adds an agent; one without an enrollment time enrolled long ago (established: it counts
  // toward mass suspect and deafness at once).
  AgentHandle add(AgentSpec spec = {}, std::optional<RestoredState> restored = std::nullopt) {
    if (!spec.enrolled_at) spec.enrolled_at = clock.wallNow() - std::chrono::hours(24 * 30);
    return engine.addAgent(spec, restored);
  }
  // Adds an agent that enrolls now: on probation for config.established_after.
  AgentHandle enroll(AgentSpec spec = {}) {
    spec.enrolled_at = clock.wallNow();
    return engine.addAgent(spec, std::nullopt);
  }

  // `agent` sends `indicator` every `interval` from `first` on (default: now), until stop().
  void keepAlive(AgentHandle agent, Indicator indicator = Indicator::kHeartbeat,
                 Duration interval = std::chrono::seconds(60),
                 std::optional<MonoTime> first = std::nullopt) {
    pulses_.push_back({agent, indicator, interval, first.value_or(clock.monotonicNow()), true});
  }
  void stop(AgentHandle agent, std::optional<Indicator> indicator = std::nullopt) {
    for (auto& p : pulses_) {
      if (p.agent == agent && (!indicator || p.indicator == *indicator)) p.active = false;
    }
  }
  void setInterval(AgentHandle agent, Indicator indicator, Duration interval) {
    for (auto& p : pulses_) {
      if (p.agent == agent && p.indicator == indicator && p.active) p.interval = interval;
    }
  }

  void send(AgentHandle agent, Indicator indicator = Indicator::kHeartbeat,
            Duration interval = std::chrono::seconds(60)) {
    Observation o;
    o.agent = agent;
    o.indicator = indicator;
    o.received_at = clock.monotonicNow();
    o.expected_interval = interval;
    engine.observe(o);
  }
  void witness(AgentHandle agent, AgentHandle by) {
    Observation o;
    o.agent = agent;
    o.indicator = Indicator::kPeerWitness;
    o.received_at = clock.monotonicNow();
    o.expected_interval = std::chrono::seconds(60);
    o.witness = by;
    engine.observe(o);
  }

  // Moves time forward by `d` in steps of at most one tick interval, delivering due evidence
  // and ticking after each step.
  void run(Duration d) {
    const MonoTime end = clock.monotonicNow() + d;
    while (clock.monotonicNow() < end) {
      const Duration step = std::min<Duration>(config_.tick_interval, end - clock.monotonicNow());
      clock.advance(step);
      deliver();
      engine.tick();
    }
  }
  // Runs until `t` on the monotonic clock.
  void runUntil(MonoTime t) {
    if (t > clock.monotonicNow()) run(t - clock.monotonicNow());
  }
  // Runs past warm-up (and its first tick).
  void passWarmUp() { run(config_.warmUp() + config_.tick_interval); }

  AgentStatus status(AgentHandle agent) const { return engine.agentView(agent).status; }
  Reason reason(AgentHandle agent) const { return engine.agentView(agent).reason; }
  MonoTime monoOf(WallTime wall) const {
    return clock.monotonicNow() + std::chrono::duration_cast<Duration>(wall - clock.wallNow());
  }
  // The monotonic instant after which the agent's heartbeat is late.
  MonoTime heartbeatLateAfter(AgentHandle agent) const {
    const auto& view = engine.agentView(agent);
    return monoOf(*view.indicators[static_cast<size_t>(Indicator::kHeartbeat)].late_after);
  }

  const PresenceConfig& config() const { return config_; }

  SimulatedClock clock;
  RecordingListener events;

 private:
  struct Pulse {
    AgentHandle agent;
    Indicator indicator;
    Duration interval;
    MonoTime next;
    bool active;
  };

  void deliver() {
    const MonoTime now = clock.monotonicNow();
    for (auto& p : pulses_) {
      while (p.active && p.next <= now) {
        Observation o;
        o.agent = p.agent;
        o.indicator = p.indicator;
        o.received_at = p.next;
        o.expected_interval = p.interval;
        engine.observe(o);
        p.next += p.interval;
      }
    }
  }

  PresenceConfig config_;
  std::vector<Pulse> pulses_;

 public:
  PresenceEngine engine;
};

}  // namespace vigil::collector::presence
