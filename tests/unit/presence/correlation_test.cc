#define BOOST_TEST_MODULE presence_correlation
#include <algorithm>
#include <boost/test/unit_test.hpp>
#include <chrono>
#include <optional>
#include <vector>

#include "collector/presence/presence_engine.h"
#include "tests/unit/presence/presence_harness.h"

using namespace std::chrono_literals;
using namespace vigil::collector::presence;
using vigil::Duration;
using vigil::MonoTime;

namespace {

std::vector<AgentHandle> site(Harness& h, SiteId id, int count, TenantId tenant = 0) {
  std::vector<AgentHandle> agents;
  for (int i = 0; i < count; ++i) {
    const AgentHandle a = h.add(AgentSpec{id, tenant, {}, {}});
    h.keepAlive(a, Indicator::kHeartbeat, 60s,
                h.clock.monotonicNow() + std::chrono::milliseconds(60000 * i / count));
    agents.push_back(a);
  }
  return agents;
}

size_t deviceOpened(const Harness& h) {
  return h.events.countAlerts(AlertKind::kDeviceOffline, AlertAction::kOpened);
}

}  // namespace

// --- Site correlation ----------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(partitioned_site_gets_one_site_alert_and_no_device_alerts) {
  Harness h;
  const auto partitioned = site(h, 1, 10);
  for (SiteId s = 2; s <= 5; ++s) site(h, s, 10);
  h.run(5min);
  for (auto a : partitioned) h.stop(a);
  h.run(10min);
  BOOST_TEST(h.events.countAlerts(AlertKind::kSiteUnreachable, AlertAction::kOpened) == 1u);
  BOOST_TEST(deviceOpened(h) == 0u);
  for (auto a : partitioned) {
    BOOST_TEST(h.status(a) == AgentStatus::kUnreachable);
    BOOST_TEST(h.reason(a) == Reason::kSitePartitioned);
  }
  BOOST_TEST(h.engine.siteView(1).alert_open);
  BOOST_TEST(h.engine.siteView(1).silent == 10u);
  BOOST_TEST(!h.engine.siteView(2).alert_open);
  BOOST_TEST(!h.engine.health().degraded);
}

BOOST_AUTO_TEST_CASE(site_alert_resolves_when_the_site_returns_and_the_dead_are_judged_alone) {
  Harness h;
  const auto partitioned = site(h, 1, 10);
  for (SiteId s = 2; s <= 5; ++s) site(h, s, 10);
  h.run(5min);
  for (auto a : partitioned) h.stop(a);
  h.run(10min);
  BOOST_TEST_REQUIRE(h.engine.siteView(1).alert_open);
  // The link comes back; one machine of the site died during the partition.
  for (size_t i = 1; i < partitioned.size(); ++i) h.keepAlive(partitioned[i]);
  h.run(2min);
  BOOST_TEST(h.events.countAlerts(AlertKind::kSiteUnreachable, AlertAction::kResolved) == 1u);
  BOOST_TEST(!h.engine.siteView(1).alert_open);
  BOOST_TEST(h.status(partitioned[0]) == AgentStatus::kSuspect);
  h.run(5min);
  BOOST_TEST(h.status(partitioned[0]) == AgentStatus::kOffline);
  BOOST_TEST(deviceOpened(h) == 1u);
  BOOST_TEST(
      h.events.countAlerts(AlertKind::kDeviceOffline, AlertAction::kOpened, partitioned[0]) == 1u);
  BOOST_TEST(h.events.countAlerts(AlertKind::kSiteUnreachable, AlertAction::kOpened) == 1u);
}

BOOST_AUTO_TEST_CASE(silence_across_every_site_is_not_a_site_partition) {
  Harness h;
  std::vector<AgentHandle> all;
  for (SiteId s = 1; s <= 5; ++s) {
    const auto agents = site(h, s, 10);
    all.insert(all.end(), agents.begin(), agents.end());
  }
  h.run(5min);
  for (auto a : all) h.stop(a);
  h.run(5min);
  BOOST_TEST(h.events.countAlerts(AlertKind::kSiteUnreachable, AlertAction::kOpened) == 0u);
  BOOST_TEST(deviceOpened(h) == 0u);  // a fleet-wide silence is the collector's problem
  BOOST_TEST(h.events.everDegradedWith(DegradationReason::kMassSuspect));
}

BOOST_AUTO_TEST_CASE(site_smaller_than_the_minimum_is_judged_device_by_device) {
  Harness h;
  const auto tiny = site(h, 1, 2);
  for (SiteId s = 2; s <= 5; ++s) site(h, s, 10);
  h.run(5min);
  for (auto a : tiny) h.stop(a);
  h.run(10min);
  BOOST_TEST(h.events.countAlerts(AlertKind::kSiteUnreachable, AlertAction::kOpened) == 0u);
  BOOST_TEST(deviceOpened(h) == 2u);
}

BOOST_AUTO_TEST_CASE(one_dead_agent_in_a_site_is_not_a_partition) {
  Harness h;
  const auto agents = site(h, 1, 10);
  for (SiteId s = 2; s <= 3; ++s) site(h, s, 10);
  h.run(5min);
  h.stop(agents[3]);
  h.run(10min);
  BOOST_TEST(h.events.countAlerts(AlertKind::kSiteUnreachable, AlertAction::kOpened) == 0u);
  BOOST_TEST(h.status(agents[3]) == AgentStatus::kOffline);
  BOOST_TEST(deviceOpened(h) == 1u);
}

// The instant of the agent's first transition to `to`, if any.
std::optional<vigil::WallTime> firstTransitionTo(const Harness& h, AgentHandle agent,
                                                 AgentStatus to) {
  for (const auto& t : h.events.transitions) {
    if (t.agent == agent && t.to == to) return t.at;
  }
  return std::nullopt;
}

BOOST_AUTO_TEST_CASE(two_deaths_in_a_five_agent_site_each_alert_within_three_intervals) {
  Harness h(PresenceConfig{});  // default lateness: floor 1.5, ceiling 2 intervals
  const auto small = site(h, 1, 5);
  for (SiteId s = 2; s <= 11; ++s) site(h, s, 20);
  h.run(5min);
  const vigil::WallTime death = h.clock.wallNow();
  h.stop(small[0]);
  h.stop(small[1]);
  h.run(10min);
  BOOST_TEST(h.events.countAlerts(AlertKind::kSiteUnreachable, AlertAction::kOpened) == 0u);
  BOOST_TEST(deviceOpened(h) == 2u);
  const Duration bound = 3 * h.config().heartbeat_interval;
  for (size_t i = 0; i < 2; ++i) {
    const auto offline = firstTransitionTo(h, small[i], AgentStatus::kOffline);
    BOOST_TEST_REQUIRE(offline.has_value());
    BOOST_TEST((*offline - death <= bound));
  }
  for (size_t i = 2; i < small.size(); ++i) BOOST_TEST(h.status(small[i]) == AgentStatus::kOnline);
}

BOOST_AUTO_TEST_CASE(partition_with_phases_and_jitter_over_a_whole_interval_gets_one_site_alert) {
  Harness h(PresenceConfig{});
  // Agents beat by hand with +-10 % jitter, phases spread over the whole interval (the last
  // one a second before the next beat of the first).
  struct Beater {
    AgentHandle agent;
    vigil::MonoTime next;
    bool alive;
  };
  std::vector<Beater> beaters;
  auto addSite = [&](SiteId id, int count) {
    std::vector<size_t> indices;
    for (int i = 0; i < count; ++i) {
      const AgentHandle a = h.add(AgentSpec{id, 0, {}, {}});
      const auto phase = std::chrono::milliseconds(59000 * i / std::max(1, count - 1));
      beaters.push_back({a, h.clock.monotonicNow() + phase, true});
      indices.push_back(beaters.size() - 1);
    }
    return indices;
  };
  const auto partitioned = addSite(1, 8);
  for (SiteId s = 2; s <= 6; ++s) addSite(s, 10);
  uint32_t draw = 12345;
  auto runFor = [&](Duration d) {
    const vigil::MonoTime end = h.clock.monotonicNow() + d;
    while (h.clock.monotonicNow() < end) {
      for (auto& b : beaters) {
        if (!b.alive || b.next > h.clock.monotonicNow()) continue;
        h.send(b.agent);
        draw = draw * 1103515245u + 12345u;
        b.next += std::chrono::milliseconds(54000 + (draw >> 8) % 12001);  // 54..66 s
      }
      h.run(1s);
    }
  };
  runFor(5min);
  for (size_t i : partitioned) beaters[i].alive = false;
  runFor(10min);
  BOOST_TEST(h.events.countAlerts(AlertKind::kSiteUnreachable, AlertAction::kOpened) == 1u);
  BOOST_TEST(deviceOpened(h) == 0u);
  for (size_t i : partitioned) BOOST_TEST(h.status(beaters[i].agent) == AgentStatus::kUnreachable);
  BOOST_TEST(h.engine.siteView(1).alert_open);
  BOOST_TEST(h.engine.siteView(1).silent == partitioned.size());
  BOOST_TEST(!h.engine.health().degraded);
}

// --- Flapping ------------------------------------------------------------------------------

namespace {

// One cycle: silent long enough to be confirmed OFFLINE, then back for a minute.
void flapOnce(Harness& h, AgentHandle a) {
  h.stop(a);
  h.run(4min);
  h.keepAlive(a);
  h.run(1min);
}

}  // namespace

BOOST_AUTO_TEST_CASE(flapping_agent_gets_one_flapping_alert_instead_of_a_stream) {
  Harness h;
  const AgentHandle a = h.add();
  h.keepAlive(a);
  h.run(2min);
  for (int i = 0; i < 10; ++i) flapOnce(h, a);
  BOOST_TEST(h.events.countAlerts(AlertKind::kFlapping, AlertAction::kOpened, a) == 1u);
  BOOST_TEST(h.engine.agentView(a).flapping);
  // Device alerts opened only before flapping was detected, none after.
  const auto alerts = h.events.alertsOf(a);
  bool flapping = false;
  size_t opened_while_flapping = 0;
  size_t opened = 0;
  for (const auto& alert : alerts) {
    if (alert.kind == AlertKind::kFlapping) flapping = alert.action == AlertAction::kOpened;
    if (alert.kind == AlertKind::kDeviceOffline && alert.action == AlertAction::kOpened) {
      ++opened;
      if (flapping) ++opened_while_flapping;
    }
  }
  BOOST_TEST(opened_while_flapping == 0u);
  BOOST_TEST(opened < 10u);
  // Stable for long enough: flapping ends, once.
  h.run(3h);
  BOOST_TEST(!h.engine.agentView(a).flapping);
  BOOST_TEST(h.events.countAlerts(AlertKind::kFlapping, AlertAction::kResolved, a) == 1u);
  BOOST_TEST(h.events.countAlerts(AlertKind::kFlapping, AlertAction::kOpened, a) == 1u);
}

BOOST_AUTO_TEST_CASE(agent_that_flaps_then_dies_alerts_when_flapping_ends) {
  Harness h;
  const AgentHandle a = h.add();
  h.keepAlive(a);
  h.run(2min);
  for (int i = 0; i < 6; ++i) flapOnce(h, a);
  BOOST_TEST_REQUIRE(h.engine.agentView(a).flapping);
  h.stop(a);
  h.run(5min);
  BOOST_TEST(h.status(a) == AgentStatus::kOffline);
  BOOST_TEST(!h.engine.agentView(a).alert_open);  // suppressed while flapping
  h.run(3h);
  BOOST_TEST(!h.engine.agentView(a).flapping);
  BOOST_TEST(h.engine.agentView(a).alert_open);
}

BOOST_AUTO_TEST_CASE(steady_agent_never_flaps) {
  Harness h;
  const AgentHandle a = h.add();
  h.keepAlive(a);
  h.run(2min);
  flapOnce(h, a);
  h.run(1h);
  flapOnce(h, a);
  BOOST_TEST(h.events.countAlerts(AlertKind::kFlapping, AlertAction::kOpened) == 0u);
  BOOST_TEST(h.events.countAlerts(AlertKind::kDeviceOffline, AlertAction::kOpened, a) == 2u);
}

// --- Maintenance ---------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(maintenance_window_suppresses_alerts_for_its_scope) {
  struct Case {
    const char* name;
    MaintenanceWindow::Scope scope;
    uint32_t target;
  };
  // The covered agent is handle 0, of site 4 and tenant 9.
  const std::vector<Case> cases = {
      {"agent", MaintenanceWindow::Scope::kAgent, 0},
      {"site", MaintenanceWindow::Scope::kSite, 4},
      {"tenant", MaintenanceWindow::Scope::kTenant, 9},
  };
  for (const auto& c : cases) {
    BOOST_TEST_CONTEXT(c.name) {
      Harness h;
      const AgentHandle covered = h.add(AgentSpec{4, 9, AgentClass::kServer, {}});
      const AgentHandle online = h.add(AgentSpec{4, 9, {}, {}});
      const AgentHandle outside = h.add(AgentSpec{5, 8, {}, {}});
      for (auto a : {covered, online, outside}) h.keepAlive(a);
      h.run(5min);
      MaintenanceWindow window;
      window.scope = c.scope;
      window.target = c.target;
      window.starts_at = h.clock.wallNow();
      window.length = 1h;
      h.engine.setMaintenanceWindows({window});
      h.stop(covered);
      h.stop(outside);
      h.run(30min);
      BOOST_TEST(h.status(covered) == AgentStatus::kMaintenance);
      BOOST_TEST(h.reason(covered) == Reason::kInMaintenance);
      BOOST_TEST(h.status(online) == AgentStatus::kOnline);
      BOOST_TEST(h.status(outside) == AgentStatus::kOffline);
      BOOST_TEST(h.events.countAlerts(AlertKind::kDeviceOffline, AlertAction::kOpened, covered) ==
                 0u);
      BOOST_TEST(h.events.countAlerts(AlertKind::kDeviceOffline, AlertAction::kOpened, outside) ==
                 1u);
      // After the window, a still-silent agent is verified like any other.
      h.run(30min);
      BOOST_TEST(h.status(covered) == AgentStatus::kSuspect);
      h.run(2min);
      BOOST_TEST(h.status(covered) == AgentStatus::kOffline);
      BOOST_TEST(h.events.countAlerts(AlertKind::kDeviceOffline, AlertAction::kOpened, covered) ==
                 1u);
    }
  }
}

BOOST_AUTO_TEST_CASE(agent_back_during_maintenance_is_online) {
  Harness h;
  const AgentHandle a = h.add();
  h.keepAlive(a);
  h.run(5min);
  MaintenanceWindow window;
  window.target = a;
  window.starts_at = h.clock.wallNow();
  window.length = 1h;
  h.engine.setMaintenanceWindows({window});
  h.stop(a);
  h.run(10min);
  BOOST_TEST_REQUIRE(h.status(a) == AgentStatus::kMaintenance);
  h.keepAlive(a);
  h.run(2h);
  BOOST_TEST(h.status(a) == AgentStatus::kOnline);
  BOOST_TEST(h.events.alerts.empty());
}

BOOST_AUTO_TEST_CASE(weekly_window_suppresses_every_week) {
  Harness h;
  const AgentHandle a = h.add();
  h.keepAlive(a);
  h.run(5min);
  MaintenanceWindow window;
  window.target = a;
  window.starts_at = h.clock.wallNow() - std::chrono::hours(24 * 7);  // last week, same time
  window.length = 1h;
  window.weekly = true;
  h.engine.setMaintenanceWindows({window});
  h.stop(a);
  h.run(20min);
  BOOST_TEST(h.status(a) == AgentStatus::kMaintenance);
  BOOST_TEST(h.events.alerts.empty());
}

BOOST_AUTO_TEST_CASE(partitioned_site_in_maintenance_raises_no_site_alert) {
  Harness h;
  const auto agents = site(h, 1, 10);
  for (SiteId s = 2; s <= 5; ++s) site(h, s, 10);
  h.run(5min);
  MaintenanceWindow window;
  window.scope = MaintenanceWindow::Scope::kSite;
  window.target = 1;
  window.starts_at = h.clock.wallNow();
  window.length = 1h;
  h.engine.setMaintenanceWindows({window});
  for (auto a : agents) h.stop(a);
  h.run(10min);
  BOOST_TEST(h.events.alerts.empty());
  for (auto a : agents) BOOST_TEST(h.status(a) == AgentStatus::kMaintenance);
}
