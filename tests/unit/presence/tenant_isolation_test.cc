#define BOOST_TEST_MODULE presence_tenant_isolation
#include <boost/test/unit_test.hpp>
#include <chrono>
#include <optional>
#include <vector>

#include "collector/presence/presence_engine.h"
#include "tests/unit/presence/presence_harness.h"

// Issue 17, finding 4: no tenant's agents can suspend another tenant's alerts or make the
// collector DEGRADED on their own. Fleet-wide judgements (mass suspect: surge and deafness;
// channel collapse) count only established agents, and hold only if they would hold without
// any one tenant. The simulation (tests/simulation/presence_tenant_silence_test.cc) sweeps
// fleets and timings; these are the engine's rules one by one.

using namespace std::chrono_literals;
using namespace vigil::collector::presence;
using vigil::Duration;
using vigil::MonoTime;
using vigil::WallTime;

namespace {

constexpr Duration kInterval = 60s;

bool everHad(const Harness& h, DegradationReason reason) {
  return h.events.everDegradedWith(reason);
}

size_t opened(const Harness& h, std::optional<AgentHandle> agent = std::nullopt) {
  return h.events.countAlerts(AlertKind::kDeviceOffline, AlertAction::kOpened, agent);
}

std::optional<WallTime> openedAt(const Harness& h, AgentHandle agent) {
  for (const auto& a : h.events.alerts) {
    if (a.kind == AlertKind::kDeviceOffline && a.action == AlertAction::kOpened &&
        a.agent == agent) {
      return a.at;
    }
  }
  return std::nullopt;
}

// `count` agents of `tenant` in sites of `site_size` from `first_site`, heartbeats every
// minute at phases spread over it (and beacons every 15 s with `beacons`). `enrolled_now`:
// they enroll now (on probation); otherwise they enrolled long ago.
std::vector<AgentHandle> agents(Harness& h, TenantId tenant, int count, SiteId first_site,
                                bool enrolled_now = false, bool beacons = false,
                                int site_size = 10) {
  std::vector<AgentHandle> out;
  for (int i = 0; i < count; ++i) {
    const AgentSpec spec{first_site + static_cast<SiteId>(i / site_size), tenant, {}, {}};
    const AgentHandle a = enrolled_now ? h.enroll(spec) : h.add(spec);
    const MonoTime first = h.clock.monotonicNow() + kInterval * i / count;
    h.keepAlive(a, Indicator::kHeartbeat, kInterval, first);
    if (beacons) h.keepAlive(a, Indicator::kBeacon, 15s, first + 15s * i / count);
    out.push_back(a);
  }
  return out;
}

void stopAll(Harness& h, const std::vector<AgentHandle>& group) {
  for (AgentHandle a : group) h.stop(a);
}

// Detection bound: three heartbeat intervals plus the ticks a verdict waits for.
constexpr Duration kBound = 3 * kInterval + 2s;

// `agent`, dead since `died`, got its device alert within the detection bound.
void expectAlertedInTime(const Harness& h, AgentHandle agent, WallTime died) {
  const auto at = openedAt(h, agent);
  BOOST_TEST_REQUIRE(at.has_value());
  BOOST_TEST((*at - died <= kBound));
}

}  // namespace

BOOST_AUTO_TEST_CASE(throwaways_of_one_tenant_do_not_hold_another_tenants_only_machine) {
  // Tenant 1 enrolls 40 agents that report three times and fall silent together, as tenant 2's
  // only machine dies. Counted by agents (41 of 41) and by tenants (2 of 2), that looked like
  // the collector going deaf: the machine's alert was held for 30 minutes.
  Harness h;
  const auto victim = agents(h, 2, 1, 100);
  h.run(20min);
  const auto throwaways = agents(h, 1, 40, 0, /*enrolled_now=*/true);
  h.run(3min);
  const WallTime died = h.clock.wallNow();
  stopAll(h, throwaways);
  h.stop(victim[0]);
  h.run(10min);
  expectAlertedInTime(h, victim[0], died);
  BOOST_TEST(!everHad(h, DegradationReason::kMassSuspect));
}

BOOST_AUTO_TEST_CASE(a_tenants_long_lived_fleet_going_dark_does_not_hold_another_tenant) {
  // The same with tenant 1's own long-lived fleet of 60 (established): its silence decides
  // nothing for tenant 2, whose one death is not the collector's problem.
  Harness h;
  const auto fleet = agents(h, 1, 60, 0);
  const auto victim = agents(h, 2, 1, 100);
  h.run(10min);
  const WallTime died = h.clock.wallNow();
  stopAll(h, fleet);
  h.stop(victim[0]);
  h.run(10min);
  expectAlertedInTime(h, victim[0], died);
  BOOST_TEST(!everHad(h, DegradationReason::kMassSuspect));
}

BOOST_AUTO_TEST_CASE(throwaways_spread_over_the_tenants_of_one_token_make_no_surge) {
  // An admin token covering tenants 1 and 2 spreads 100 throw-aways over them: leaving out
  // the tenant with most entries still leaves about 25 a window, over the surge threshold. On
  // probation, none of them counts; a real death in tenant 3 alerts on time.
  Harness h;
  const auto others = agents(h, 3, 100, 200);
  h.run(20min);
  auto first = agents(h, 1, 50, 0, true);
  const auto second = agents(h, 2, 50, 10, true);
  first.insert(first.end(), second.begin(), second.end());
  h.run(3min);
  const WallTime died = h.clock.wallNow();
  stopAll(h, first);
  h.stop(others[5]);
  h.run(10min);
  expectAlertedInTime(h, others[5], died);
  BOOST_TEST(!h.events.everDegradedWith(DegradationReason::kMassSuspect));
}

BOOST_AUTO_TEST_CASE(agents_count_once_established_and_stay_established_through_offline) {
  // One tenant, one fleet: agents enrolled now count toward deafness only once they reported
  // established_after after enrolling. Before, their silence is theirs (alerts); after, the
  // same silence is the collector's problem (held).
  PresenceConfig config = fixedLatenessConfig();
  config.established_after = 10min;
  {
    Harness h(config);
    const auto young = agents(h, 1, 30, 0, true);
    h.run(5min);
    stopAll(h, young);
    h.run(10min);
    BOOST_TEST(!everHad(h, DegradationReason::kMassSuspect));
    BOOST_TEST(opened(h) + h.events.countAlerts(AlertKind::kSiteUnreachable, AlertAction::kOpened) >
               0u);
  }
  {
    Harness h(config);
    const auto grown = agents(h, 1, 30, 0, true);
    h.run(12min);
    stopAll(h, grown);
    h.run(4min);
    BOOST_TEST(everHad(h, DegradationReason::kMassSuspect));
    BOOST_TEST(opened(h) == 0u);
  }
  {
    // Established, then dead (OFFLINE, alerted), then back: still established, so a second
    // fleet-wide silence soon after is held like the first, not paged. Each in a site of its
    // own, judged device by device.
    Harness h(config);
    const auto fleet = agents(h, 1, 30, 0, false, false, 1);
    h.run(5min);
    stopAll(h, fleet);
    h.run(5min);
    BOOST_TEST_REQUIRE(everHad(h, DegradationReason::kMassSuspect));
    // Held for the maximum, then alerted.
    h.run(config.mass_suspect_max_duration + 5min);
    for (AgentHandle a : fleet) BOOST_TEST_REQUIRE(h.status(a) == AgentStatus::kOffline);
    for (AgentHandle a : fleet) h.keepAlive(a);
    h.run(3min);
    for (AgentHandle a : fleet) BOOST_TEST_REQUIRE(h.status(a) == AgentStatus::kOnline);
    const size_t alerts_before = opened(h);
    const size_t health_changes = h.events.health.size();
    stopAll(h, fleet);
    h.run(5min);
    bool held_again = false;
    for (size_t i = health_changes; i < h.events.health.size(); ++i) {
      held_again |= (h.events.health[i].reasons_mask & bitOf(DegradationReason::kMassSuspect)) != 0;
    }
    BOOST_TEST(held_again);
    BOOST_TEST(opened(h) == alerts_before);
  }
}

BOOST_AUTO_TEST_CASE(after_a_restart_the_store_enrollment_times_tell_who_is_established) {
  // Restored agents enrolled long ago count at once: a collector-side outage right after
  // warm-up is still the collector's problem. Restored agents enrolled shortly before the
  // restart are still on probation: their silence is theirs.
  auto restore = [](Harness& h, TenantId tenant, int count, SiteId first_site, WallTime enrolled) {
    const WallTime start = h.clock.wallNow();
    std::vector<AgentHandle> out;
    for (int i = 0; i < count; ++i) {
      RestoredState restored;
      restored.last_seen[static_cast<size_t>(Indicator::kHeartbeat)] = start - 20s;
      restored.status = AgentStatus::kOnline;
      AgentSpec spec{first_site + static_cast<SiteId>(i / 10), tenant, {}, enrolled};
      const AgentHandle a = h.engine.addAgent(spec, restored);
      h.keepAlive(a, Indicator::kHeartbeat, kInterval,
                  h.clock.monotonicNow() + kInterval * i / count);
      out.push_back(a);
    }
    return out;
  };
  {
    Harness h;
    const auto fleet = restore(h, 1, 30, 0, h.clock.wallNow() - 24h * 90);
    h.passWarmUp();
    stopAll(h, fleet);
    h.run(4min);
    BOOST_TEST(everHad(h, DegradationReason::kMassSuspect));
    BOOST_TEST(opened(h) == 0u);
  }
  {
    Harness h;
    restore(h, 1, 12, 0, h.clock.wallNow() - 24h * 90);
    const auto recent = restore(h, 1, 40, 10, h.clock.wallNow() - 10min);
    h.passWarmUp();
    stopAll(h, recent);
    h.run(6min);
    BOOST_TEST(!everHad(h, DegradationReason::kMassSuspect));
    BOOST_TEST(h.events.countAlerts(AlertKind::kSiteUnreachable, AlertAction::kOpened) > 0u);
  }
}

BOOST_AUTO_TEST_CASE(one_tenants_agents_dropping_heartbeats_collapse_no_channel) {
  // Tenant 1's 80 agents stop their heartbeats, their beacons going on: to the collector the
  // heartbeat channel lost 80 of 150 agents. That is tenant 1's doing; tenant 2's real death
  // alerts on time. The same drop spread over both tenants is a channel fault.
  {
    Harness h;
    const auto attacker = agents(h, 1, 80, 0, false, true);
    const auto victim = agents(h, 2, 70, 100, false, true);
    h.run(10min);
    for (AgentHandle a : attacker) h.stop(a, Indicator::kHeartbeat);
    const WallTime died = h.clock.wallNow();
    h.stop(victim[3]);
    h.run(10min);
    BOOST_TEST(!everHad(h, DegradationReason::kChannelCollapse));
    expectAlertedInTime(h, victim[3], died);
  }
  {
    Harness h;
    const auto one = agents(h, 1, 80, 0, false, true);
    const auto two = agents(h, 2, 70, 100, false, true);
    h.run(10min);
    for (int i = 0; i < 40; ++i) h.stop(one[i], Indicator::kHeartbeat);
    for (int i = 0; i < 35; ++i) h.stop(two[i], Indicator::kHeartbeat);
    h.run(3min);
    BOOST_TEST(everHad(h, DegradationReason::kChannelCollapse));
  }
}
