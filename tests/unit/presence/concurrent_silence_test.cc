#define BOOST_TEST_MODULE presence_concurrent_silence
#include <boost/test/unit_test.hpp>
#include <chrono>
#include <optional>
#include <vector>

#include "collector/presence/presence_engine.h"
#include "tests/unit/presence/presence_harness.h"

// Site correlation while other things go wrong at the same time: a site cut while an agent of
// another site dies, in a fleet far too small for "the rest of the fleet is quiet" to mean
// anything, with heartbeat phases spread over the whole interval (issue 16's black-box run:
// three sites of four real agents, heartbeats every 10 s, beacons every 5 s, a confirmation
// window of 10 s).

using namespace std::chrono_literals;
using namespace vigil::collector::presence;
using vigil::Duration;
using vigil::MonoTime;
using vigil::WallTime;

namespace {

constexpr Duration kHeartbeat = 10s;
constexpr Duration kBeacon = 5s;

PresenceConfig blackBoxConfig() {
  PresenceConfig config;  // default lateness: floor 1.5, ceiling 2 intervals
  config.heartbeat_interval = kHeartbeat;
  config.max_heartbeat_interval = kHeartbeat;
  config.confirmation_window = 10s;
  return config;
}

// A fleet of sites of real-looking agents: a heartbeat every 10 s and a beacon every 5 s,
// each agent at its own phase.
class SmallFleet {
 public:
  explicit SmallFleet(Harness& h) : h_(h) {}

  // Adds an agent whose evidence is due at `phase` into every heartbeat interval, counted
  // from the instant `origin` (a heartbeat at origin + phase + k x 10 s, beacons at the same
  // phase every 5 s).
  AgentHandle add(SiteId site, Duration phase, MonoTime origin) {
    const AgentHandle a = h_.add(AgentSpec{site, 1, {}});
    start(a, phase, origin);
    return a;
  }
  void start(AgentHandle a, Duration phase, MonoTime origin) {
    MonoTime first = origin + phase;
    while (first < h_.clock.monotonicNow()) first += kHeartbeat;
    h_.keepAlive(a, Indicator::kHeartbeat, kHeartbeat, first);
    h_.keepAlive(a, Indicator::kBeacon, kBeacon, first);
  }

 private:
  Harness& h_;
};

size_t opened(const Harness& h, AlertKind kind, std::optional<AgentHandle> agent = std::nullopt) {
  return h.events.countAlerts(kind, AlertAction::kOpened, agent);
}

std::optional<WallTime> alertOpenedAt(const Harness& h, AgentHandle agent) {
  for (const auto& a : h.events.alerts) {
    if (a.kind == AlertKind::kDeviceOffline && a.action == AlertAction::kOpened &&
        a.agent == agent) {
      return a.at;
    }
  }
  return std::nullopt;
}

// Three sites of four. Site 1 is cut while one agent of site 2 dies at the same instant.
// `site1_before_cut[i]`: how long before the cut agent i of site 1 last beat; the killed agent
// last beat `killed_before_cut` before it.
struct CutAndKill {
  std::vector<AgentHandle> site1;
  AgentHandle killed = 0;
  WallTime cut_at;
};

CutAndKill cutSiteAndKillElsewhere(Harness& h, const std::vector<Duration>& site1_before_cut,
                                   Duration killed_before_cut) {
  SmallFleet fleet(h);
  const MonoTime t0 = h.clock.monotonicNow();
  // The cut comes 100 s after t0: an agent that last beat `b` before it has phase 100 s - b.
  const MonoTime cut = t0 + 100s;
  CutAndKill out;
  for (Duration before : site1_before_cut) out.site1.push_back(fleet.add(1, cut - before - t0, t0));
  out.killed = fleet.add(2, cut - killed_before_cut - t0, t0);
  for (int i = 0; i < 3; ++i) fleet.add(2, i * 3300ms + 700ms, t0);
  for (int i = 0; i < 4; ++i) fleet.add(3, i * 2500ms + 1900ms, t0);
  h.runUntil(cut);
  out.cut_at = h.clock.wallNow();
  for (AgentHandle a : out.site1) h.stop(a);
  h.stop(out.killed);
  h.run(2min);
  return out;
}

void expectOneSiteAlertAndOneDeviceAlert(const Harness& h, const CutAndKill& run) {
  BOOST_TEST(opened(h, AlertKind::kSiteUnreachable) == 1u);
  BOOST_TEST(h.engine.siteView(1).alert_open);
  for (AgentHandle a : run.site1) {
    BOOST_TEST(opened(h, AlertKind::kDeviceOffline, a) == 0u);
    BOOST_TEST(h.status(a) == Status::kUnreachable);
  }
  BOOST_TEST(opened(h, AlertKind::kDeviceOffline) == 1u);
  const auto killed_alert = alertOpenedAt(h, run.killed);
  BOOST_TEST_REQUIRE(killed_alert.has_value());
  // The usual bound: jitter + lateness ceiling + confirmation, three heartbeat intervals.
  BOOST_TEST((*killed_alert - run.cut_at <= 3 * kHeartbeat));
  BOOST_TEST(!h.engine.health().degraded);
}

}  // namespace

BOOST_AUTO_TEST_CASE(cut_site_with_one_agent_nine_seconds_ahead_and_an_unrelated_death) {
  Harness h(blackBoxConfig());
  const CutAndKill run = cutSiteAndKillElsewhere(h, {9s, 1s, 1s, 1s}, 1500ms);
  expectOneSiteAlertAndOneDeviceAlert(h, run);
}

BOOST_AUTO_TEST_CASE(cut_site_with_phases_spread_over_the_interval_and_an_unrelated_death) {
  Harness h(blackBoxConfig());
  const CutAndKill run = cutSiteAndKillElsewhere(h, {9500ms, 7s, 4500ms, 2s}, 1500ms);
  expectOneSiteAlertAndOneDeviceAlert(h, run);
}

BOOST_AUTO_TEST_CASE(cut_site_and_unrelated_death_at_every_phase_of_the_interval) {
  // Every instant of the interval for the cut, in half seconds, the site's agents at phases
  // spread over the interval or bunched with one far ahead, and the killed agent's last beat
  // at every instant too: the verdict must never depend on where the cut falls.
  for (int step = 0; step < 20; ++step) {
    for (int killed_step = 0; killed_step < 20; killed_step += 3) {
      for (bool spread : {true, false}) {
        const Duration offset = step * 500ms;
        BOOST_TEST_CONTEXT("cut " << std::chrono::duration<double>(offset).count()
                                  << " s into the interval, killed agent's last beat "
                                  << killed_step * 500 << " ms before it, phases "
                                  << (spread ? "spread" : "bunched")) {
          Harness h(blackBoxConfig());
          std::vector<Duration> before;
          for (int i = 0; i < 4; ++i) {
            const Duration phase = spread ? i * 2500ms : (i == 0 ? 8s : 0s);
            before.push_back(Duration((offset + phase).count() % kHeartbeat.count()) + 1ms);
          }
          const CutAndKill run = cutSiteAndKillElsewhere(h, before, killed_step * 500ms + 1ms);
          expectOneSiteAlertAndOneDeviceAlert(h, run);
        }
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(six_cut_and_kill_rounds_each_get_one_site_alert_and_one_device_alert) {
  // The black-box run's rounds: cut site 1 and kill one agent elsewhere, heal after a minute,
  // bring the killed agent back as a new boot, start the next round a few seconds later.
  Harness h(blackBoxConfig());
  SmallFleet fleet(h);
  const MonoTime t0 = h.clock.monotonicNow();
  std::vector<AgentHandle> site1;
  std::vector<AgentHandle> others;
  for (int i = 0; i < 4; ++i) site1.push_back(fleet.add(1, i * 2300ms, t0));
  for (SiteId s = 2; s <= 3; ++s) {
    for (int i = 0; i < 4; ++i) others.push_back(fleet.add(s, i * 2500ms + s * 700ms, t0));
  }
  h.run(60s);
  const std::vector<Duration> pauses = {0s, 5s, 2s, 7s, 3s, 9s};
  for (size_t round = 0; round < pauses.size(); ++round) {
    BOOST_TEST_CONTEXT("round " << round) {
      h.run(pauses[round]);
      const AgentHandle killed = others[round % others.size()];
      const size_t device_before = opened(h, AlertKind::kDeviceOffline);
      const size_t site_before = opened(h, AlertKind::kSiteUnreachable);
      const WallTime cut_at = h.clock.wallNow();
      for (AgentHandle a : site1) h.stop(a);
      h.stop(killed);
      h.run(60s);
      BOOST_TEST(opened(h, AlertKind::kSiteUnreachable) == site_before + 1);
      BOOST_TEST(opened(h, AlertKind::kDeviceOffline) == device_before + 1);
      for (const auto& a : h.events.alerts) {
        if (a.kind != AlertKind::kDeviceOffline || a.action != AlertAction::kOpened) continue;
        for (AgentHandle s : site1) BOOST_TEST((a.agent != s));
      }
      const auto killed_alert = alertOpenedAt(h, killed);
      BOOST_TEST_REQUIRE(killed_alert.has_value());
      BOOST_TEST((*killed_alert - cut_at <= 3 * kHeartbeat));
      // Heal: the site's agents reconnect at once, the killed one boots again.
      for (size_t i = 0; i < site1.size(); ++i) {
        fleet.start(site1[i], (round * 1300ms + i * 2300ms) % kHeartbeat, h.clock.monotonicNow());
      }
      fleet.start(killed, 1s, h.clock.monotonicNow());
      h.run(30s);
      BOOST_TEST(!h.engine.siteView(1).alert_open);
      for (AgentHandle a : site1) BOOST_TEST(h.status(a) == Status::kOnline);
      BOOST_TEST(h.status(killed) == Status::kOnline);
    }
  }
  BOOST_TEST(!h.engine.health().degraded);
}
