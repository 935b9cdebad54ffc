// The beacon fallback (docs/presence.md, "Long heartbeat intervals and the beacon fallback"):
// agents told to beat only every 300 s but beaconing every 30 s, that send a heartbeat at once
// when a beacon goes unacknowledged. Both sides of the rule on simulated fleets:
//   - a dead agent is alerted within three beacon intervals of its death;
//   - an agent whose UDP path breaks stays ONLINE without a single alert;
// and that one channel never decides alone. SimulatedClock; nothing sleeps.

#define BOOST_TEST_MODULE presence_beacon_fallback
#include <algorithm>
#include <boost/test/unit_test.hpp>
#include <chrono>
#include <cstdint>
#include <optional>
#include <random>
#include <vector>

#include "collector/presence/presence_engine.h"
#include "tests/unit/presence/presence_harness.h"

namespace vigil::collector::presence {
namespace {

using std::chrono::seconds;

constexpr Duration kBeaconInterval = seconds(30);
constexpr Duration kLongHeartbeat = seconds(300);
constexpr Duration kShortHeartbeat = seconds(60);  // what a paused beacon gets
constexpr Duration kAckWait = std::chrono::milliseconds(2000);
constexpr int kUnansweredBeforePause = 5;

PresenceConfig fallbackConfig() {
  PresenceConfig config = fixedLatenessConfig();
  config.heartbeat_interval = kLongHeartbeat;
  config.max_heartbeat_interval = kLongHeartbeat;
  config.confirmation_window = seconds(40);
  return config;
}

// A simulated agent that behaves as vigil-agent does (agent/core/beacon_channel.h): beacons
// every interval +-10 %, heartbeats at the interval the collector gave, and a heartbeat at once
// when a beacon is not acknowledged within kAckWait; after kUnansweredBeforePause unanswered
// beacons it pauses its beacons and says so, and the collector gives it the short interval.
struct ModelAgent {
  AgentHandle handle = 0;
  MonoTime next_beacon;
  MonoTime next_heartbeat;
  std::optional<MonoTime> fallback_at;
  bool alive = true;
  bool udp_broken = false;
  bool https_broken = false;
  bool follows_fallback = true;
  int unanswered = 0;
  bool paused = false;
  std::optional<MonoTime> died_at;
};

class FallbackFleet {
 public:
  FallbackFleet(Harness& h, size_t agents, uint32_t seed) : h_(h), random_(seed) {
    for (size_t i = 0; i < agents; ++i) {
      AgentSpec spec;
      spec.site = static_cast<SiteId>(i % 30);
      ModelAgent a;
      a.handle = h_.add(spec);
      const MonoTime now = h_.clock.monotonicNow();
      a.next_beacon = now + phase(kBeaconInterval);
      a.next_heartbeat = now + phase(kLongHeartbeat);
      agents_.push_back(a);
    }
  }

  ModelAgent& operator[](size_t i) { return agents_[i]; }
  size_t size() const { return agents_.size(); }

  // Moves time by `d` in one-second steps: each agent's due evidence, then a tick.
  void run(Duration d) {
    const MonoTime end = h_.clock.monotonicNow() + d;
    while (h_.clock.monotonicNow() < end) {
      h_.clock.advance(seconds(1));
      for (ModelAgent& a : agents_) deliver(a);
      h_.engine.tick();
    }
  }

 private:
  Duration jittered(Duration interval) {
    std::uniform_real_distribution<double> factor(0.9, 1.1);
    return std::chrono::duration_cast<Duration>(interval * factor(random_));
  }
  Duration phase(Duration interval) {
    std::uniform_real_distribution<double> share(0.0, 1.0);
    return std::chrono::duration_cast<Duration>(interval * share(random_));
  }

  void observe(const ModelAgent& a, Indicator indicator, MonoTime at, Duration interval) {
    Observation o;
    o.agent = a.handle;
    o.indicator = indicator;
    o.received_at = at;
    o.expected_interval = interval;
    o.beacon_fallback = indicator == Indicator::kHeartbeat && a.follows_fallback && !a.paused;
    h_.engine.observe(o);
  }

  void heartbeat(ModelAgent& a, MonoTime at) {
    const Duration interval = a.paused || !a.follows_fallback ? kShortHeartbeat : kLongHeartbeat;
    if (!a.https_broken) observe(a, Indicator::kHeartbeat, at, interval);
    a.next_heartbeat = at + jittered(interval);
  }

  void deliver(ModelAgent& a) {
    const MonoTime now = h_.clock.monotonicNow();
    if (!a.alive) return;
    if (a.fallback_at && *a.fallback_at <= now) {
      const MonoTime at = *a.fallback_at;
      a.fallback_at.reset();
      heartbeat(a, at);
    }
    while (a.next_heartbeat <= now) heartbeat(a, a.next_heartbeat);
    while (!a.paused && a.next_beacon <= now) {
      const MonoTime at = a.next_beacon;
      a.next_beacon = at + jittered(kBeaconInterval);
      if (!a.udp_broken) {
        observe(a, Indicator::kBeacon, at, kBeaconInterval);
        a.unanswered = 0;
        continue;
      }
      if (++a.unanswered >= kUnansweredBeforePause) a.paused = true;
      if (a.follows_fallback) a.fallback_at = at + kAckWait;
    }
  }

  Harness& h_;
  std::mt19937 random_;
  std::vector<ModelAgent> agents_;
};

// A heartbeat that carries the fallback's promise, with the long interval, and a beacon.
void sendWithFallback(Harness& h, AgentHandle a) {
  Observation beat;
  beat.agent = a;
  beat.indicator = Indicator::kHeartbeat;
  beat.received_at = h.clock.monotonicNow();
  beat.expected_interval = kLongHeartbeat;
  beat.beacon_fallback = true;
  h.engine.observe(beat);
  h.send(a, Indicator::kBeacon, kBeaconInterval);
}

std::optional<WallTime> offlineAlertOf(const Harness& h, AgentHandle agent) {
  for (const AlertEvent& a : h.events.alertsOf(agent)) {
    if (a.kind == AlertKind::kDeviceOffline && a.action == AlertAction::kOpened) return a.at;
  }
  return std::nullopt;
}

BOOST_AUTO_TEST_CASE(dead_agents_are_alerted_within_three_beacon_intervals_with_long_heartbeats) {
  Harness h(fallbackConfig());
  FallbackFleet fleet(h, 300, 7);
  fleet.run(h.config().warmUp() + seconds(120));
  BOOST_REQUIRE_EQUAL(h.events.alerts.size(), 0u);

  // 30 deaths at random moments over ten minutes.
  std::mt19937 random(11);
  std::vector<size_t> dead;
  for (size_t i = 0; i < fleet.size(); i += 10) dead.push_back(i + random() % 10);
  std::vector<Duration> after(dead.size());
  for (size_t k = 0; k < dead.size(); ++k) after[k] = seconds(random() % 600);
  std::vector<size_t> order(dead.size());
  for (size_t k = 0; k < order.size(); ++k) order[k] = k;
  std::sort(order.begin(), order.end(), [&](size_t x, size_t y) { return after[x] < after[y]; });
  const MonoTime start = h.clock.monotonicNow();
  const WallTime wall_start = h.clock.wallNow();
  for (size_t k : order) {
    fleet.run(start + after[k] - h.clock.monotonicNow());
    fleet[dead[k]].alive = false;
  }
  fleet.run(seconds(180));

  Duration worst{};
  for (size_t k = 0; k < dead.size(); ++k) {
    const std::optional<WallTime> alerted = offlineAlertOf(h, fleet[dead[k]].handle);
    BOOST_REQUIRE_MESSAGE(alerted, "agent " << dead[k] << " died and was never alerted");
    const Duration latency = *alerted - (wall_start + after[k]);
    worst = std::max(worst, latency);
    BOOST_CHECK_MESSAGE(latency <= 3 * kBeaconInterval,
                        "agent " << dead[k] << " alerted "
                                 << std::chrono::duration<double>(latency).count()
                                 << " s after its death");
  }
  BOOST_TEST_MESSAGE("worst detection: " << std::chrono::duration<double>(worst).count() << " s");
  BOOST_CHECK_EQUAL(h.events.countAlerts(AlertKind::kDeviceOffline, AlertAction::kOpened),
                    dead.size());
}

BOOST_AUTO_TEST_CASE(agent_whose_udp_path_breaks_stays_online_without_an_alert) {
  Harness h(fallbackConfig());
  FallbackFleet fleet(h, 300, 3);
  fleet.run(h.config().warmUp() + seconds(120));
  // Ten agents lose UDP (too few for a channel collapse: the fallback alone must carry them).
  for (size_t i = 0; i < 300; i += 30) fleet[i].udp_broken = true;
  fleet.run(std::chrono::minutes(30));
  for (size_t i = 0; i < 300; i += 30) {
    BOOST_CHECK(fleet[i].paused);
    BOOST_CHECK_EQUAL(h.status(fleet[i].handle), AgentStatus::kOnline);
    for (const auto& [from, to, reason] : h.events.pathOf(fleet[i].handle)) {
      BOOST_CHECK_MESSAGE(to == AgentStatus::kOnline, "agent " << i << " went " << statusName(to)
                                                               << " (" << reasonName(reason)
                                                               << ")");
    }
  }
  BOOST_CHECK_EQUAL(h.events.alerts.size(), 0u);
}

BOOST_AUTO_TEST_CASE(broken_https_with_working_beacons_stays_online) {
  Harness h(fallbackConfig());
  FallbackFleet fleet(h, 60, 5);
  fleet.run(h.config().warmUp() + seconds(120));
  fleet[4].https_broken = true;
  fleet.run(std::chrono::minutes(30));
  BOOST_CHECK_EQUAL(h.status(fleet[4].handle), AgentStatus::kOnline);
  BOOST_CHECK_EQUAL(h.events.alerts.size(), 0u);
}

BOOST_AUTO_TEST_CASE(silence_on_both_channels_is_suspect_one_beacon_interval_and_grace_after) {
  PresenceConfig config = fallbackConfig();
  Harness h(config);
  const AgentHandle a = h.add();
  h.passWarmUp();
  sendWithFallback(h, a);
  const MonoTime last = h.clock.monotonicNow();
  // allowance (1 + jitter + margin = 1.2) x 30 s + grace 5 s = 41 s.
  const Duration promise = seconds(41);
  h.runUntil(last + promise - seconds(1));
  BOOST_CHECK_EQUAL(h.status(a), AgentStatus::kOnline);
  h.run(seconds(2));
  BOOST_CHECK_EQUAL(h.status(a), AgentStatus::kSuspect);
  // Then a whole confirmation window of silence (counted from the tick that saw it late).
  h.run(config.confirmation_window);
  BOOST_CHECK_EQUAL(h.status(a), AgentStatus::kSuspect);
  h.run(config.tick_interval * 2);
  BOOST_CHECK_EQUAL(h.status(a), AgentStatus::kOffline);
}

BOOST_AUTO_TEST_CASE(without_the_fallback_a_long_heartbeat_interval_decides_as_before) {
  Harness h(fallbackConfig());
  const AgentHandle a = h.add();
  h.passWarmUp();
  h.send(a, Indicator::kHeartbeat, kLongHeartbeat);  // an agent of protocol 1.1: no fallback
  h.send(a, Indicator::kBeacon, kBeaconInterval);
  const MonoTime last = h.clock.monotonicNow();
  // Silent on both channels: only the heartbeat's own lateness (1.5 x 300 s) makes it SUSPECT.
  h.runUntil(last + seconds(449));
  BOOST_CHECK_EQUAL(h.status(a), AgentStatus::kOnline);
  h.run(seconds(2));
  BOOST_CHECK_EQUAL(h.status(a), AgentStatus::kSuspect);
}

BOOST_AUTO_TEST_CASE(a_heartbeat_without_the_fallback_ends_the_promise) {
  Harness h(fallbackConfig());
  const AgentHandle a = h.add();
  h.passWarmUp();
  sendWithFallback(h, a);
  h.run(seconds(10));
  // Its beacons paused: the next heartbeat says so and gets the short interval.
  h.send(a, Indicator::kHeartbeat, kShortHeartbeat);
  const MonoTime last = h.clock.monotonicNow();
  h.runUntil(last + seconds(89));
  BOOST_CHECK_EQUAL(h.status(a), AgentStatus::kOnline);
  h.run(seconds(2));
  BOOST_CHECK_EQUAL(h.status(a), AgentStatus::kSuspect);
}

}  // namespace
}  // namespace vigil::collector::presence
