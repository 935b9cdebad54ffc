#define BOOST_TEST_MODULE collector_evidence_router
// Evidence routing between a cluster's collectors (collector/cluster/evidence_router.h): two
// collectors' routers over one store, the batches carried by the test instead of HTTP.

#include "collector/cluster/evidence_router.h"

#include <boost/test/unit_test.hpp>
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "collector/core/shards.h"
#include "collector/store/sql_store.h"
#include "common/clock.h"
#include "monitor_support.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_store.h"

using namespace std::chrono_literals;
using vigil::SimulatedClock;
using vigil::StatusCode;
using vigil::collector::AgentDirectory;
using vigil::collector::CollectorNode;
using vigil::collector::decodeRelayBatch;
using vigil::collector::EvidenceRouter;
using vigil::collector::PresenceMonitor;
using vigil::collector::RelayReply;
using vigil::collector::ShardLease;
using vigil::collector::shardOfSite;
using vigil::collector::ShardRoutes;
using vigil::collector::SqlStore;
namespace presence = vigil::collector::presence;

namespace {

const std::string kKey(64, 'k');

struct Node {
  Node(const std::string& name, SqlStore& store, const SimulatedClock& clock)
      : monitor(vigil::testing::monitorTestConfig(), clock),
        routes(name),
        router(monitor, directory, store, routes, clock, name, "instance-" + name) {
    monitor.trackOwnedShardsOnly();
    router.setKey(kKey);
    BOOST_REQUIRE(directory.load(store).ok());
  }
  PresenceMonitor monitor;
  AgentDirectory directory;
  ShardRoutes routes;
  EvidenceRouter router;
};

struct RouterFixture {
  vigil::testing::TempDir tmp;
  SimulatedClock clock;
  std::unique_ptr<SqlStore> store =
      std::move(vigil::testing::openTestStore(tmp.sub("data")).value());
  std::vector<std::string> agents;
  int64_t site_id = vigil::testing::enrollSite(*store, 2, &agents);
  int shard = shardOfSite(site_id);
  Node owner{"owner", *store, clock};
  Node other{"other", *store, clock};

  RouterFixture() {
    clock.advance(10min);
    BOOST_REQUIRE(owner.monitor.adoptShards({shard}, *store, *store).ok());
    // Both know who owns the shard.
    ShardLease lease;
    lease.shard = shard;
    lease.owner = "owner";
    const std::vector<CollectorNode> live = {{"other", "i", "http://other", 0, 0},
                                             {"owner", "i", "http://owner", 0, 0}};
    owner.routes.update({lease}, live);
    other.routes.update({lease}, live);
  }

  vigil::collector::HeartbeatAssessment beatThrough(Node& node, const std::string& id) {
    return node.router.heartbeatAccepted(vigil::testing::plainBeat(id, clock.monotonicNow()));
  }
  // Carries every queued batch of `from` to `to`; the replies.
  std::vector<RelayReply> carry(Node& from, Node& to) {
    std::vector<RelayReply> replies;
    for (auto& batch : from.router.takeBatches()) {
      auto answer = to.router.receive(batch.signature, batch.body);
      BOOST_REQUIRE(answer.ok());
      replies.push_back(vigil::collector::decodeRelayReply(answer.value()).value());
      from.router.delivered(batch, replies.back());
    }
    return replies;
  }
  std::string status(Node& node, const std::string& id) {
    auto view = node.monitor.agentView(id);
    return view ? presence::statusName(view->status) : "untracked";
  }
};

}  // namespace

BOOST_FIXTURE_TEST_CASE(a_heartbeat_through_another_collector_reaches_the_owner, RouterFixture) {
  BOOST_TEST(!beatThrough(other, agents[0]).undeliverable);
  BOOST_TEST(status(other, agents[0]) == "untracked");
  BOOST_TEST(status(owner, agents[0]) == "UNKNOWN");
  clock.advance(40ms);
  auto replies = carry(other, owner);
  BOOST_REQUIRE(replies.size() == 1u);
  BOOST_TEST(replies[0].not_owned.empty());
  BOOST_TEST(status(owner, agents[0]) == "ONLINE");
  BOOST_TEST(owner.router.counts().received == 1u);
  BOOST_TEST(other.router.counts().relayed == 1u);
  // The owner's own heartbeats stay local.
  BOOST_TEST(!beatThrough(owner, agents[1]).undeliverable);
  BOOST_TEST(status(owner, agents[1]) == "ONLINE");
  BOOST_TEST(owner.router.takeBatches().empty());
}

BOOST_FIXTURE_TEST_CASE(a_batch_is_applied_once_and_only_with_the_clusters_signature,
                        RouterFixture) {
  beatThrough(other, agents[0]);
  auto batches = other.router.takeBatches();
  BOOST_REQUIRE(batches.size() == 1u);
  auto& batch = batches[0];
  // Unsigned, signed with another key, or with one byte changed: refused before parsing.
  auto unsigned_answer = owner.router.receive(std::nullopt, batch.body);
  BOOST_TEST(unsigned_answer.error().http_status == 401);
  auto forged = vigil::collector::relaySignature(std::string(64, 'x'), batch.body).value();
  BOOST_TEST(owner.router.receive(forged, batch.body).error().http_status == 401);
  std::string altered = batch.body;
  altered[altered.size() / 2] ^= 1;
  BOOST_TEST(owner.router.receive(batch.signature, altered).error().http_status == 401);
  BOOST_TEST(status(owner, agents[0]) == "UNKNOWN");
  // Once: a replay of the same batch is refused.
  BOOST_TEST(owner.router.receive(batch.signature, batch.body).ok());
  BOOST_TEST(owner.router.receive(batch.signature, batch.body).error().http_status == 409);
  // Evidence older than the relay's bound is dropped, not sent.
  beatThrough(other, agents[0]);
  clock.advance(10min);
  auto late = other.router.takeBatches();
  BOOST_TEST(late.empty());
  BOOST_TEST(other.router.counts().dropped_stale == 1u);
  BOOST_TEST(owner.router.counts().refused == 4u);
}

BOOST_FIXTURE_TEST_CASE(an_unreachable_owner_makes_heartbeats_undeliverable_until_one_goes_through,
                        RouterFixture) {
  beatThrough(other, agents[0]);
  auto batches = other.router.takeBatches();
  BOOST_REQUIRE(batches.size() == 1u);
  BOOST_TEST(other.router.canDeliver(agents[1]));
  other.router.failed(batches[0]);  // connection refused
  // Refused before the heartbeat changes anything (its sequence number stays good), so that
  // the agent sends it again, through another collector most likely.
  BOOST_TEST(!other.router.canDeliver(agents[1]));
  BOOST_TEST(other.router.canDeliver(vigil::testing::plainBeat("ag_unknown", {}).agent_id));
  BOOST_TEST(beatThrough(other, agents[1]).undeliverable);
  BOOST_TEST(other.router.counts().undeliverable == 2u);
  // The failed batch is sent again, with its evidence's age counted from when it came in.
  clock.advance(2s);
  carry(other, owner);
  BOOST_TEST(status(owner, agents[0]) == "ONLINE");
  BOOST_TEST(other.router.canDeliver(agents[1]));
  BOOST_TEST(!beatThrough(other, agents[1]).undeliverable);
}

BOOST_FIXTURE_TEST_CASE(an_owner_that_lost_the_shard_says_so_and_the_route_is_forgotten,
                        RouterFixture) {
  owner.monitor.releaseShards({shard});
  beatThrough(other, agents[0]);
  auto replies = carry(other, owner);
  BOOST_REQUIRE(replies.size() == 1u);
  BOOST_TEST(replies[0].not_owned == std::vector<int>{shard});
  BOOST_TEST(other.routes.stale());
  BOOST_TEST(!other.routes.ownerOf(shard).has_value());
  // Until the routes are read again, the shard's evidence has nobody to go to.
  beatThrough(other, agents[0]);
  BOOST_TEST(other.router.counts().no_owner == 1u);
}

BOOST_FIXTURE_TEST_CASE(a_retirement_through_any_collector_reaches_the_owner, RouterFixture) {
  beatThrough(owner, agents[0]);
  BOOST_TEST(status(owner, agents[0]) == "ONLINE");
  BOOST_TEST(other.router.forgetAgent(agents[0]) == false);  // not tracked there
  carry(other, owner);
  BOOST_TEST(status(owner, agents[0]) == "untracked");
  BOOST_TEST(owner.directory.credentials(agents[0])->retired);
}

BOOST_FIXTURE_TEST_CASE(the_owner_takes_no_relayed_heartbeat_twice, RouterFixture) {
  auto beatWithSeq = [&](int64_t seq) {
    auto beat = vigil::testing::plainBeat(agents[0], clock.monotonicNow());
    beat.seq = seq;
    other.router.heartbeatAccepted(beat);
    carry(other, owner);
  };
  beatWithSeq(5);
  BOOST_TEST(status(owner, agents[0]) == "ONLINE");
  BOOST_TEST(owner.directory.liveState(agents[0])->last_seq == 5);
  const auto first_seen = owner.monitor.agentView(agents[0])->indicators[0].last_seen;
  // The same heartbeat again (replayed to a collector that had not seen it): not evidence.
  clock.advance(30s);
  beatWithSeq(5);
  BOOST_TEST(owner.router.counts().replayed == 1u);
  BOOST_TEST((owner.monitor.agentView(agents[0])->indicators[0].last_seen == first_seen));
  // A newer one is; and so is one without a number (a collector of an older version).
  beatWithSeq(6);
  BOOST_TEST(owner.router.counts().replayed == 1u);
  BOOST_TEST((owner.monitor.agentView(agents[0])->indicators[0].last_seen != first_seen));
  BOOST_TEST(owner.directory.liveState(agents[0])->last_seq == 6);
  clock.advance(30s);
  const auto second_seen = owner.monitor.agentView(agents[0])->indicators[0].last_seen;
  beatWithSeq(0);
  BOOST_TEST((owner.monitor.agentView(agents[0])->indicators[0].last_seen != second_seen));
  BOOST_TEST(owner.router.counts().received == 4u);  // every item that arrived
}

BOOST_AUTO_TEST_CASE(a_relay_batch_survives_its_encoding_and_bad_ones_are_refused) {
  vigil::collector::RelayBatch batch;
  batch.from_node = "a";
  batch.from_instance = "i";
  batch.number = 3;
  batch.sent_at_ms = 1'790'000'000'000;
  vigil::collector::RelayedHeartbeat h;
  h.agent_id = "ag_1";
  h.seq = 77;
  h.age_ms = 12;
  h.interval_ms = 60'000;
  h.beacon_fallback = true;
  h.outages = {{1'789'999'000'000, 1'789'999'060'000}};
  h.witnesses = {{"ag_2", 1500}};
  batch.heartbeats.push_back(h);
  batch.beacons.push_back({"ag_3", 4, 15'000});
  batch.notices.push_back({vigil::collector::RelayedNotice::Kind::kClassChanged, "ag_4", "server"});
  const std::string body = vigil::collector::encodeRelayBatch(batch);
  auto decoded = decodeRelayBatch(body);
  BOOST_REQUIRE(decoded.ok());
  BOOST_TEST(vigil::collector::encodeRelayBatch(decoded.value()) == body);
  BOOST_TEST(decoded.value().heartbeats[0].witnesses[0].agent_id == "ag_2");
  BOOST_TEST(decoded.value().heartbeats[0].seq == 77);
  BOOST_TEST(decoded.value().heartbeats[0].outages[0].second == 1'789'999'060'000);

  for (
      const char* bad :
      {"[]", "{}", R"({"node":"a","instance":"i","number":1,"sent_at_ms":1,"heartbeats":[{}]})",
       R"({"node":"a","instance":"i","number":-1,"sent_at_ms":1})",
       R"({"node":"a","instance":"i","number":1,"sent_at_ms":1,"heartbeats":[{"agent":"x","seq":0,"age_ms":1,"interval_ms":1}]})",
       R"({"node":"a","instance":"i","number":1,"sent_at_ms":1,"notices":[{"agent":"x","kind":"x"}]})"}) {
    BOOST_TEST(static_cast<int>(decodeRelayBatch(bad).error().code()) ==
                   static_cast<int>(StatusCode::kInvalidArgument),
               bad);
  }
}
