#define BOOST_TEST_MODULE collector_shard_handover
// A shard moving between two collectors' presence monitors over one shared store
// (docs/cluster.md): the new owner judges nothing before one warm-up, alerts a dead agent
// once, keeps an alert the old owner opened without raising it again; the old owner's late
// events are fenced out by the store or left out by its ticker.

#include <boost/test/unit_test.hpp>
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "collector/core/shards.h"
#include "collector/monitor/presence_monitor.h"
#include "collector/monitor/presence_ticker.h"
#include "collector/store/sql_store.h"
#include "common/clock.h"
#include "monitor_support.h"
#include "store_queries.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_store.h"

using namespace std::chrono_literals;
using vigil::SimulatedClock;
using vigil::StatusCode;
using vigil::collector::AgentRecord;
using vigil::collector::HeldLease;
using vigil::collector::LeaseFence;
using vigil::collector::PresenceMonitor;
using vigil::collector::PresenceTicker;
using vigil::collector::shardOfSite;
using vigil::collector::SqlStore;
namespace presence = vigil::collector::presence;

namespace {

constexpr auto kInterval = vigil::testing::kMonitorInterval;
constexpr int64_t kLeaseTtlMs = 600'000;  // the tests run in well under that

// One collector's presence: a monitor tracking only its shards, and a ticker writing under
// the fences of the leases it holds in the shared store.
struct Collector {
  Collector(std::string node_name, SqlStore& store, const SimulatedClock& clock)
      : node(std::move(node_name)),
        monitor(vigil::testing::monitorTestConfig(), clock),
        ticker(monitor, store, 1s) {
    monitor.trackOwnedShardsOnly();
    ticker.useFences([this](const std::vector<int>& shards) {
      LeaseFence fence{node, {}};
      for (int shard : shards) {
        for (const HeldLease& lease : leases) {
          if (lease.shard == shard) fence.leases.push_back(lease);
        }
      }
      return fence;
    });
  }
  std::string node;
  PresenceMonitor monitor;
  PresenceTicker ticker;
  std::vector<HeldLease> leases;  // what this collector believes it holds
};

struct HandoverFixture {
  vigil::testing::TempDir tmp;
  SimulatedClock clock;
  std::unique_ptr<SqlStore> store =
      std::move(vigil::testing::openTestStore(tmp.sub("data")).value());
  int64_t site_id = 0;
  int shard = 0;
  std::vector<std::string> agents;
  int64_t seq = 0;

  HandoverFixture() {
    // A collector running for a while: its own warm-up is over before shards move.
    clock.advance(10min);
    site_id = vigil::testing::enrollSite(*store, 4, &agents);
    shard = shardOfSite(site_id);
  }

  // `c` takes the shard's lease and adopts the shard.
  void take(Collector& c) {
    auto got = store->acquireShards(c.node, {shard}, kLeaseTtlMs);
    BOOST_REQUIRE(got.ok());
    BOOST_REQUIRE(got.value().size() == 1u);
    c.leases = {HeldLease{got.value()[0].shard, got.value()[0].epoch}};
    BOOST_REQUIRE(c.monitor.adoptShards({shard}, *store, *store).ok());
  }
  // `c` hands the shard over gracefully: writes what is pending, releases, forgets.
  void handOver(Collector& c) {
    BOOST_REQUIRE(c.ticker.flush().ok());
    BOOST_REQUIRE(store->releaseShards(c.node, c.leases).ok());
    c.leases.clear();
    c.monitor.releaseShards({shard});
  }

  // A heartbeat reaching `c`: to its engine, and (as the last-seen write-behind does) to the
  // shared store.
  void beat(Collector& c, const std::string& id) {
    c.monitor.heartbeatAccepted(vigil::testing::plainBeat(id, clock.monotonicNow()));
    vigil::collector::LastSeenUpdate u;
    u.agent_id = id;
    u.last_seen_at_ms = vigil::toUnixMillis(clock.wallNow());
    u.last_seq = ++seq;
    BOOST_REQUIRE(store->updateLastSeen({u}).ok());
  }
  // Advances `d` in one-second ticks of every collector in `running`; `alive` agents beat
  // every interval, to `to`.
  void run(std::chrono::seconds d, Collector& to, const std::vector<std::string>& alive,
           const std::vector<Collector*>& running) {
    for (auto t = 0s; t < d; t += 1s) {
      clock.advance(1s);
      if (t.count() % std::chrono::duration_cast<std::chrono::seconds>(kInterval).count() == 0) {
        for (const auto& id : alive) beat(to, id);
      }
      for (Collector* c : running) (void)c->ticker.tickOnce();
    }
  }
  std::string status(const Collector& c, const std::string& id) const {
    auto view = c.monitor.agentView(id);
    return view ? presence::statusName(view->status) : "untracked";
  }
};

}  // namespace

BOOST_FIXTURE_TEST_CASE(only_the_agents_of_adopted_shards_are_tracked, HandoverFixture) {
  Collector a("node-a", *store, clock);
  BOOST_TEST(!a.monitor.ownsShard(shard));
  BOOST_TEST(a.monitor.load(*store, *store).ok());
  BOOST_TEST(a.monitor.agentCount() == 0u);
  take(a);
  BOOST_TEST(a.monitor.ownsShard(shard));
  BOOST_TEST(a.monitor.agentCount() == agents.size());
  // Enrollments follow ownership.
  AgentRecord elsewhere;
  elsewhere.id = "ag_elsewhere";
  elsewhere.site_id = site_id + 1;
  a.monitor.agentEnrolled(elsewhere);
  BOOST_TEST(status(a, "ag_elsewhere") == "untracked");
  AgentRecord here = elsewhere;
  here.id = "ag_here";
  here.site_id = site_id;
  a.monitor.agentEnrolled(here);
  BOOST_TEST(status(a, "ag_here") == "UNKNOWN");
}

BOOST_FIXTURE_TEST_CASE(a_new_owner_waits_one_warm_up_then_alerts_a_dead_agent_once,
                        HandoverFixture) {
  Collector a("node-a", *store, clock);
  Collector b("node-b", *store, clock);
  take(a);
  run(60s, a, agents, {&a, &b});
  for (const auto& id : agents) BOOST_TEST(status(a, id) == "ONLINE");

  // ag_0 dies just before its shard moves to b.
  const std::vector<std::string> alive(agents.begin() + 1, agents.end());
  run(5s, a, alive, {&a, &b});
  handOver(a);
  BOOST_TEST(a.monitor.agentCount() == 0u);
  take(b);
  // No verdict before one maximum interval plus jitter: every agent is UNKNOWN until heard.
  run(10s, b, {}, {&a, &b});
  for (const auto& id : agents) BOOST_TEST(status(b, id) == "UNKNOWN");
  BOOST_TEST(vigil::testing::openAlerts(*store).empty());

  run(90s, b, alive, {&a, &b});
  for (const auto& id : alive) BOOST_TEST(status(b, id) == "ONLINE");
  BOOST_TEST(status(b, agents[0]) == "OFFLINE");
  auto alerts = vigil::testing::allAlerts(*store);
  BOOST_REQUIRE(alerts.size() == 1u);
  BOOST_TEST(alerts[0].agent_id.value() == agents[0]);
  BOOST_TEST(alerts[0].state == "open");
  // The handover itself changed nothing the old owner had written: no status in between.
  for (const auto& id : alive) {
    auto changes = store->listStatusChanges(id, 0, 100).value();
    for (const auto& c : changes) BOOST_TEST(c.to_status != "SUSPECT");
  }
}

BOOST_FIXTURE_TEST_CASE(an_alert_opened_by_the_old_owner_stays_open_and_is_not_raised_again,
                        HandoverFixture) {
  Collector a("node-a", *store, clock);
  Collector b("node-b", *store, clock);
  take(a);
  run(60s, a, agents, {&a, &b});
  const std::vector<std::string> alive(agents.begin() + 1, agents.end());
  run(60s, a, alive, {&a, &b});
  BOOST_TEST(status(a, agents[0]) == "OFFLINE");
  BOOST_REQUIRE(vigil::testing::openAlerts(*store).size() == 1u);

  handOver(a);
  take(b);
  run(120s, b, alive, {&a, &b});
  BOOST_TEST(status(b, agents[0]) == "OFFLINE");
  auto alerts = vigil::testing::allAlerts(*store);
  BOOST_REQUIRE(alerts.size() == 1u);
  BOOST_TEST(alerts[0].state == "open");
  // The agent comes back: the new owner resolves the old owner's alert.
  run(30s, b, agents, {&a, &b});
  BOOST_TEST(status(b, agents[0]) == "ONLINE");
  BOOST_TEST(vigil::testing::openAlerts(*store).empty());
}

BOOST_FIXTURE_TEST_CASE(a_paused_owner_writes_nothing_once_its_lease_moved_on, HandoverFixture) {
  Collector a("node-a", *store, clock);
  Collector b("node-b", *store, clock);
  take(a);
  run(60s, a, agents, {&a});
  // a stops hearing ag_0 and judges it OFFLINE, but its ticks do not reach the store: it is
  // "paused" between deciding and writing, while its lease is taken over.
  const std::vector<std::string> alive(agents.begin() + 1, agents.end());
  for (int i = 0; i < 60; ++i) {
    clock.advance(1s);
    if (i % 10 == 0) {
      for (const auto& id : alive) beat(a, id);
    }
    a.monitor.tick();
  }
  BOOST_TEST(status(a, agents[0]) == "OFFLINE");
  BOOST_REQUIRE(a.monitor.pendingCount() > 0u);
  // Its lease lapses and b takes the shard in a new epoch (released here: the same as expired).
  BOOST_REQUIRE(store->releaseShards(a.node, a.leases).ok());
  take(b);
  BOOST_TEST(b.leases[0].epoch > a.leases[0].epoch);

  // a resumes still believing in its lease: the store refuses the whole write.
  const auto failures_before = a.monitor.health().reasons_mask;
  auto written = a.ticker.flush();
  BOOST_TEST(static_cast<int>(written.code()) == static_cast<int>(StatusCode::kFailedPrecondition));
  BOOST_TEST(vigil::testing::allAlerts(*store).empty());
  // A refusal is not a store failure: the collector does not degrade over it.
  BOOST_TEST(a.monitor.health().reasons_mask == failures_before);
  BOOST_TEST(a.monitor.pendingCount() > 0u);  // kept until the keeper says the shard is gone

  // Its keeper learns the lease is gone: the shard's agents and their pending events go.
  a.leases.clear();
  const size_t dropped = a.monitor.releaseShards({shard});
  BOOST_TEST(dropped > 0u);
  BOOST_TEST(a.ticker.flush().ok());
  BOOST_TEST(vigil::testing::allAlerts(*store).empty());
  BOOST_TEST(a.monitor.agentCount() == 0u);
}

BOOST_FIXTURE_TEST_CASE(events_of_a_shard_no_longer_held_are_left_out_not_written,
                        HandoverFixture) {
  Collector a("node-a", *store, clock);
  take(a);
  run(20s, a, agents, {});  // nothing written yet: pending ONLINE changes
  BOOST_REQUIRE(a.monitor.pendingCount() > 0u);
  // The keeper's deadline passed: a's fence has no lease for the shard any more.
  a.leases.clear();
  BOOST_TEST(a.ticker.flush().ok());
  BOOST_TEST(a.ticker.fencedOut() > 0u);
  BOOST_TEST(a.monitor.pendingCount() == 0u);
  for (const auto& id : agents) BOOST_TEST(store->listStatusChanges(id, 0, 10).value().empty());
}
