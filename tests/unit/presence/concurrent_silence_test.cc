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
    const AgentHandle a = h_.add(AgentSpec{site, 1, {}, {}});
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
    BOOST_TEST(h.status(a) == AgentStatus::kUnreachable);
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
      for (AgentHandle a : site1) BOOST_TEST(h.status(a) == AgentStatus::kOnline);
      BOOST_TEST(h.status(killed) == AgentStatus::kOnline);
    }
  }
  BOOST_TEST(!h.engine.health().degraded);
}

// --- What the randomized exploration found (tests/simulation/exploration.h) -----------------

namespace {

bool hasReason(const Harness& h, DegradationReason reason) {
  return (h.engine.health().reasons_mask & bitOf(reason)) != 0;
}

bool everHad(const Harness& h, DegradationReason reason) {
  return h.events.everDegradedWith(reason);
}

}  // namespace

BOOST_AUTO_TEST_CASE(a_fleet_that_is_one_site_gets_no_site_alert_while_the_collector_is_deaf) {
  // Twelve agents, all in one office. Everything they send stops reaching the collector for
  // three intervals (an outage on the collector's side it cannot see): the whole fleet is
  // silent, which is the collector's problem, and there is no other site to tell it apart.
  Harness h(blackBoxConfig());
  SmallFleet fleet(h);
  const MonoTime t0 = h.clock.monotonicNow();
  std::vector<AgentHandle> office;
  for (int i = 0; i < 12; ++i) office.push_back(fleet.add(1, i * 800ms, t0));
  h.run(2min);
  for (AgentHandle a : office) h.stop(a);
  h.run(3 * kHeartbeat);
  BOOST_TEST(hasReason(h, DegradationReason::kMassSuspect));
  for (size_t i = 0; i < office.size(); ++i) fleet.start(office[i], i * 800ms, t0);
  h.run(3min);
  BOOST_TEST(opened(h, AlertKind::kSiteUnreachable) == 0u);
  BOOST_TEST(opened(h, AlertKind::kDeviceOffline) == 0u);
  for (AgentHandle a : office) BOOST_TEST(h.status(a) == AgentStatus::kOnline);
  BOOST_TEST(!h.engine.health().degraded);
}

BOOST_AUTO_TEST_CASE(silence_on_a_working_channel_counts_while_the_other_channel_collapsed) {
  // Beacons of 40 of 100 agents vanish: the beacon channel collapses. An agent that dies
  // right after its last beacon has its latest deadline on the beacon channel, but its
  // heartbeats (a channel that works) are silent too: it is SUSPECT at once, and its alert
  // opens one confirmation window after the collapse's recovery, not a channel window later.
  PresenceConfig config = blackBoxConfig();
  config.lateness_floor = 1.5;
  config.lateness_ceiling = 1.5;  // deadlines exactly 1.5 intervals after the last arrival
  Harness h(config);
  SmallFleet fleet(h);
  const MonoTime t0 = h.clock.monotonicNow();
  std::vector<AgentHandle> agents;
  for (int i = 0; i < 100; ++i) agents.push_back(fleet.add(2 + i / 10, i * 100ms, t0));
  // x beats at phase 0 and sends beacons at phase 4 s: its last beacon comes 9 s after its
  // last heartbeat, so its beacon deadline (9 + 7.5 s) is later than its heartbeat's (15 s).
  const AgentHandle x = h.add(AgentSpec{1, 1, {}, {}});
  h.keepAlive(x, Indicator::kHeartbeat, kHeartbeat, t0 + kHeartbeat);
  h.keepAlive(x, Indicator::kBeacon, kBeacon, t0 + 4s);
  h.run(3min);
  for (int i = 0; i < 40; ++i) h.stop(agents[i], Indicator::kBeacon);
  h.run(2min);
  BOOST_TEST_REQUIRE(hasReason(h, DegradationReason::kChannelCollapse));
  // Die right after a beacon.
  while (h.engine.agentView(x).indicators[1].last_seen.value() <
         h.engine.agentView(x).indicators[0].last_seen.value() + 8s) {
    h.run(500ms);
  }
  h.stop(x);
  h.run(17s);
  BOOST_TEST(h.status(x) == AgentStatus::kSuspect);
  // The beacons come back; the collapse ends and lingers a recovery period, then one
  // confirmation window: x alerts then.
  for (int i = 0; i < 40; ++i) fleet.start(agents[i], i * 100ms, t0);
  h.run(3min);
  BOOST_TEST(h.status(x) == AgentStatus::kOffline);
  BOOST_TEST(opened(h, AlertKind::kDeviceOffline, x) == 1u);
  BOOST_TEST(opened(h, AlertKind::kDeviceOffline) == 1u);
}

BOOST_AUTO_TEST_CASE(evidence_still_in_the_ingest_queue_is_not_counted_missing) {
  // The ingest queue lags 8 s behind (under the 10 s bound that would degrade the collector):
  // an agent's heartbeat that arrived 7 s ago is still in the queue when its confirmation
  // window would end. Its silence is confirmed only once the whole window lies before the
  // lag; the heartbeat is read meanwhile and no alert opens.
  Harness h(blackBoxConfig());
  SmallFleet fleet(h);
  const MonoTime t0 = h.clock.monotonicNow();
  for (int i = 0; i < 20; ++i) fleet.add(2 + i / 5, i * 500ms, t0);
  const AgentHandle a = h.add(AgentSpec{1, 1, {}, {}});
  h.keepAlive(a, Indicator::kHeartbeat, kHeartbeat, t0);
  h.run(2min);
  // a's evidence is lost for two intervals (its network), then queued behind an 8 s lag.
  h.stop(a);
  h.run(2 * kHeartbeat + 5s);
  BOOST_TEST_REQUIRE(h.status(a) == AgentStatus::kSuspect);
  const MonoTime sent = h.clock.monotonicNow();
  for (int s = 1; s <= 8; ++s) {
    h.engine.reportIngestLag(std::chrono::seconds(s));  // before each tick: the queue's age
    h.run(1s);
  }
  // Read now, with the time it was received.
  Observation late;
  late.agent = a;
  late.indicator = Indicator::kHeartbeat;
  late.received_at = sent;
  late.expected_interval = kHeartbeat;
  h.engine.observe(late);
  h.engine.reportIngestLag(0s);
  h.keepAlive(a, Indicator::kHeartbeat, kHeartbeat, sent + kHeartbeat);
  h.run(1min);
  BOOST_TEST(opened(h, AlertKind::kDeviceOffline) == 0u);
  BOOST_TEST(h.status(a) == AgentStatus::kOnline);
  BOOST_TEST(!everHad(h, DegradationReason::kIngestLag));
}
