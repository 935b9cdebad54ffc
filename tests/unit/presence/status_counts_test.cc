#define BOOST_TEST_MODULE presence_status_counts
#include <boost/test/unit_test.hpp>
#include <chrono>
#include <map>
#include <random>
#include <set>
#include <utility>
#include <vector>

#include "collector/presence/presence_engine.h"
#include "tests/unit/presence/presence_harness.h"

using namespace std::chrono_literals;
using namespace vigil::collector::presence;
using vigil::Duration;

namespace {

constexpr TenantId kTenants = 4;
constexpr SiteId kSites = 6;

// Short windows, so that a few thousand steps go through every status many times.
PresenceConfig busyConfig() {
  PresenceConfig config = fixedLatenessConfig();
  config.heartbeat_interval = 20s;
  config.max_heartbeat_interval = 20s;
  config.confirmation_window = 10s;
  config.server_shutdown_grace = 30s;
  config.witness_max_postpone = 40s;
  config.site_window = 30s;
  config.established_after = Duration::zero();
  config.site_min_agents = 2;
  config.mass_suspect_min_agents = 5;
  return config;
}

// Counts recomputed from every live agent's view: what the engine's counters must equal.
struct Recount {
  StatusCounts fleet{};
  std::map<TenantId, StatusCounts> tenants;
  std::map<SiteId, StatusCounts> sites;
  std::map<std::pair<TenantId, SiteId>, StatusCounts> tenant_sites;
};

Recount recount(const PresenceEngine& engine, const std::set<AgentHandle>& live) {
  Recount r;
  for (AgentHandle agent : live) {
    const AgentView view = engine.agentView(agent);
    const auto i = static_cast<size_t>(view.status);
    ++r.fleet[i];
    ++r.tenants[view.tenant][i];
    ++r.sites[view.site][i];
    ++r.tenant_sites[{view.tenant, view.site}][i];
  }
  return r;
}

StatusCounts orZero(const std::map<TenantId, StatusCounts>& counts, uint32_t id) {
  auto it = counts.find(id);
  return it == counts.end() ? StatusCounts{} : it->second;
}

// Every scope the admin API can ask for, ids never used included.
void checkCounts(const PresenceEngine& engine, const std::set<AgentHandle>& live, int step) {
  const Recount r = recount(engine, live);
  BOOST_TEST_CONTEXT("step " << step) {
    BOOST_TEST(engine.statusCounts() == r.fleet);
    for (TenantId t = 0; t <= kTenants; ++t) {
      BOOST_TEST(engine.statusCounts(t, std::nullopt) == orZero(r.tenants, t));
    }
    for (SiteId s = 0; s <= kSites; ++s) {
      BOOST_TEST(engine.statusCounts(std::nullopt, s) == orZero(r.sites, s));
      for (TenantId t = 0; t <= kTenants; ++t) {
        auto it = r.tenant_sites.find({t, s});
        const StatusCounts expected = it == r.tenant_sites.end() ? StatusCounts{} : it->second;
        BOOST_TEST(engine.statusCounts(t, s) == expected);
      }
    }
    BOOST_TEST(engine.statusCounts(1'000'000u, std::nullopt) == StatusCounts{});
    BOOST_TEST(engine.statusCounts(std::nullopt, 1'000'000u) == StatusCounts{});
  }
}

// Runs `steps` random operations (enrollments, restored agents, retirements, evidence of every
// indicator, pauses, class changes, maintenance windows, collector faults) on a simulated
// clock, checking the counters against a full recount after each. Returns the statuses the
// agents went through.
std::set<AgentStatus> exercise(uint32_t seed, int steps) {
  std::mt19937 rng(seed);
  auto below = [&](uint32_t n) { return std::uniform_int_distribution<uint32_t>(0, n - 1)(rng); };
  Harness h(busyConfig());
  std::set<AgentHandle> live;
  std::vector<AgentHandle> handles;  // live, for picking one at random
  auto pick = [&]() -> std::optional<AgentHandle> {
    while (!handles.empty()) {
      const size_t i = below(static_cast<uint32_t>(handles.size()));
      if (live.count(handles[i]) != 0) return handles[i];
      handles[i] = handles.back();
      handles.pop_back();
    }
    return std::nullopt;
  };
  auto addAgent = [&] {
    AgentSpec spec;
    spec.site = below(kSites);
    // Sites belong to one tenant, except a few agents, so mixed sites are counted right too.
    spec.tenant = below(10) == 0 ? below(kTenants) : spec.site % kTenants;
    spec.agent_class = below(3) == 0 ? AgentClass::kServer : AgentClass::kWorkstation;
    std::optional<RestoredState> restored;
    if (below(4) == 0) {
      restored.emplace();
      restored->last_seen[0] = h.clock.wallNow() - std::chrono::seconds(below(120));
      restored->status = below(2) == 0 ? AgentStatus::kOffline : AgentStatus::kOnline;
      restored->expected_interval = 20s;
    }
    const AgentHandle agent = h.add(spec, restored);
    live.insert(agent);
    handles.push_back(agent);
    if (below(2) == 0) h.keepAlive(agent, Indicator::kHeartbeat, 20s);
    if (below(3) == 0) h.keepAlive(agent, Indicator::kBeacon, 10s);
  };
  for (int i = 0; i < 40; ++i) addAgent();

  for (int step = 0; step < steps; ++step) {
    const uint32_t op = below(100);
    const std::optional<AgentHandle> agent = pick();
    if (op < 8 || !agent) {
      addAgent();
    } else if (op < 12) {
      h.stop(*agent);
      h.engine.removeAgent(*agent);
      live.erase(*agent);
    } else if (op < 30) {
      h.send(*agent, below(2) == 0 ? Indicator::kHeartbeat : Indicator::kBeacon, 20s);
    } else if (op < 34) {
      h.send(*agent, Indicator::kShutdownNotice, 20s);
    } else if (op < 38) {
      if (auto by = pick()) h.witness(*agent, *by);
    } else if (op < 44) {
      h.stop(*agent);  // falls silent
    } else if (op < 48) {
      h.keepAlive(*agent, Indicator::kHeartbeat, 20s);
    } else if (op < 51) {
      h.engine.setAgentClass(*agent,
                             below(2) == 0 ? AgentClass::kServer : AgentClass::kWorkstation);
    } else if (op < 54) {
      std::vector<MaintenanceWindow> windows;
      if (below(3) != 0) {
        MaintenanceWindow w;
        w.scope = static_cast<MaintenanceWindow::Scope>(below(3));
        w.target = w.scope == MaintenanceWindow::Scope::kTenant ? below(kTenants)
                   : w.scope == MaintenanceWindow::Scope::kSite ? below(kSites)
                                                                : *agent;
        w.starts_at = h.clock.wallNow() - std::chrono::seconds(below(30));
        w.length = std::chrono::seconds(10 + below(120));
        windows.push_back(w);
      }
      h.engine.setMaintenanceWindows(std::move(windows));
    } else if (op < 59) {
      // A whole site goes dark, or comes back.
      const SiteId site = below(kSites);
      const bool dark = below(2) == 0;
      for (AgentHandle member : live) {
        if (h.engine.agentView(member).site != site) continue;
        if (dark) {
          h.stop(member);
        } else {
          h.keepAlive(member, Indicator::kHeartbeat, 20s);
        }
      }
    } else if (op < 62) {
      // A queue over its bound, or back under it: verdicts held, then released.
      h.engine.reportQueueDepth(QueueId::kIngest, below(2) == 0 ? 200 : 0, 100);
    } else {
      h.run(std::chrono::seconds(1 + below(15)));
    }
    checkCounts(h.engine, live, step);
  }
  std::set<AgentStatus> reached;
  for (const Transition& t : h.events.transitions) reached.insert(t.to);
  return reached;
}

}  // namespace

BOOST_AUTO_TEST_CASE(counts_equal_a_full_recount_after_random_transitions) {
  for (uint32_t seed : {1u, 7u, 42u, 2024u}) {
    BOOST_TEST_CONTEXT("seed " << seed) {
      const std::set<AgentStatus> reached = exercise(seed, 3000);
      // The property is only as strong as the statuses the walk visits: all of them.
      BOOST_TEST(reached.size() == kStatusCount - 1);  // every status but the initial UNKNOWN
    }
  }
}

BOOST_AUTO_TEST_CASE(projected_heartbeat_rate_follows_the_intervals_handed_out) {
  Harness h(busyConfig());
  BOOST_TEST(h.engine.projectedHeartbeatsPerSecond() == 0.0);
  const AgentHandle a = h.add();
  const AgentHandle b = h.add();
  const AgentHandle c = h.add();
  // An agent counts from its first heartbeat, at the interval it was told.
  h.send(a, Indicator::kHeartbeat, 10s);
  h.send(b, Indicator::kHeartbeat, 20s);
  BOOST_TEST(h.engine.projectedHeartbeatsPerSecond() == 0.15, boost::test_tools::tolerance(1e-6));
  // Beacons are not heartbeats: the projection is of the heartbeat channel only.
  h.send(c, Indicator::kBeacon, 5s);
  BOOST_TEST(h.engine.projectedHeartbeatsPerSecond() == 0.15, boost::test_tools::tolerance(1e-6));
  // A new interval replaces the agent's share; the same interval again changes nothing.
  h.clock.advance(10s);
  h.send(a, Indicator::kHeartbeat, 40s);
  h.send(b, Indicator::kHeartbeat, 20s);
  BOOST_TEST(h.engine.projectedHeartbeatsPerSecond() == 0.075, boost::test_tools::tolerance(1e-6));
  // A retired agent's share goes with it, and a restored one counts from the restart.
  h.engine.removeAgent(a);
  BOOST_TEST(h.engine.projectedHeartbeatsPerSecond() == 0.05, boost::test_tools::tolerance(1e-6));
  RestoredState restored;
  restored.last_seen[static_cast<size_t>(Indicator::kHeartbeat)] = h.clock.wallNow() - 5s;
  restored.expected_interval = 4s;
  h.add({}, restored);
  BOOST_TEST(h.engine.projectedHeartbeatsPerSecond() == 0.3, boost::test_tools::tolerance(1e-6));
}

BOOST_AUTO_TEST_CASE(an_offline_agent_leaves_the_projection_until_it_returns) {
  Harness h(busyConfig());
  const AgentHandle a = h.add();
  const AgentHandle b = h.add();
  h.keepAlive(a, Indicator::kHeartbeat, 20s);
  h.keepAlive(b, Indicator::kHeartbeat, 10s);
  h.passWarmUp();
  BOOST_TEST(h.engine.projectedHeartbeatsPerSecond() == 0.15, boost::test_tools::tolerance(1e-6));
  h.stop(b);
  h.run(2min);
  BOOST_REQUIRE(h.engine.agentView(b).status == AgentStatus::kOffline);
  BOOST_TEST(h.engine.projectedHeartbeatsPerSecond() == 0.05, boost::test_tools::tolerance(1e-6));
  h.keepAlive(b, Indicator::kHeartbeat, 10s);
  h.run(30s);
  BOOST_REQUIRE(h.engine.agentView(b).status == AgentStatus::kOnline);
  BOOST_TEST(h.engine.projectedHeartbeatsPerSecond() == 0.15, boost::test_tools::tolerance(1e-6));
}
