#define BOOST_TEST_MODULE collector_lease_store
// The cluster's coordination in the store (store.h, LeaseStore), on both databases: two
// SqlStore instances on one database stand for two collectors. A lease's expiry is on the
// database's clock, so a test makes one expire by taking it for no time at all (ttl 0), never
// by waiting.
#include <algorithm>
#include <boost/test/unit_test.hpp>
#include <future>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "collector/core/shards.h"
#include "collector/store/sql_store.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_store.h"

using vigil::StatusCode;
using vigil::collector::CollectorNode;
using vigil::collector::HeldLease;
using vigil::collector::kShardCount;
using vigil::collector::ShardLease;
using vigil::collector::shardOfSite;
using vigil::collector::SqlStore;
using vigil::testing::TempDir;

namespace {

constexpr int64_t kMinute = 60'000;

struct TwoCollectors {
  TwoCollectors() {
    auto a_opened = vigil::testing::openTestStore(tmp.sub("data"));
    BOOST_REQUIRE_MESSAGE(a_opened.ok(), (a_opened.ok() ? "" : a_opened.error().toString()));
    a = std::move(a_opened.value());
    auto b_opened = vigil::testing::openTestStore(tmp.sub("data"));
    BOOST_REQUIRE_MESSAGE(b_opened.ok(), (b_opened.ok() ? "" : b_opened.error().toString()));
    b = std::move(b_opened.value());
  }
  TempDir tmp;
  std::unique_ptr<SqlStore> a;
  std::unique_ptr<SqlStore> b;
};

std::vector<int> shardsOf(const std::vector<ShardLease>& leases) {
  std::vector<int> shards;
  for (const ShardLease& l : leases) shards.push_back(l.shard);
  std::sort(shards.begin(), shards.end());
  return shards;
}

std::vector<HeldLease> heldOf(const std::vector<ShardLease>& leases) {
  std::vector<HeldLease> held;
  for (const ShardLease& l : leases) held.push_back({l.shard, l.epoch});
  return held;
}

}  // namespace

BOOST_AUTO_TEST_CASE(every_shard_starts_free_and_a_site_keeps_its_shard) {
  TwoCollectors c;
  auto leases = c.a->listShardLeases();
  BOOST_REQUIRE(leases.ok());
  BOOST_REQUIRE_EQUAL(leases->size(), static_cast<size_t>(kShardCount));
  for (int i = 0; i < kShardCount; ++i) {
    BOOST_TEST((*leases)[i].shard == i);
    BOOST_TEST(!(*leases)[i].owner.has_value());
    BOOST_TEST((*leases)[i].epoch == 0);
  }
  BOOST_TEST(shardOfSite(1) == 1);
  BOOST_TEST(shardOfSite(257) == 1);
  BOOST_TEST(shardOfSite(256) == 0);
}

BOOST_AUTO_TEST_CASE(a_live_lease_is_taken_by_nobody_else_and_an_expired_one_in_a_new_epoch) {
  TwoCollectors c;
  auto by_a = c.a->acquireShards("a", {1, 2, 3}, kMinute);
  BOOST_REQUIRE(by_a.ok());
  BOOST_TEST(shardsOf(*by_a) == (std::vector<int>{1, 2, 3}));
  for (const ShardLease& l : *by_a) {
    BOOST_TEST(l.owner.value_or("") == "a");
    BOOST_TEST(l.epoch == 1);
    BOOST_TEST(l.expires_at_ms >= l.acquired_at_ms + kMinute);
  }
  // B asks for all three and one more: it gets only the free one.
  auto by_b = c.b->acquireShards("b", {1, 2, 3, 4}, kMinute);
  BOOST_REQUIRE(by_b.ok());
  BOOST_TEST(shardsOf(*by_b) == (std::vector<int>{4}));
  // A's own live lease is not taken again either (it renews it).
  auto again = c.a->acquireShards("a", {1}, kMinute);
  BOOST_REQUIRE(again.ok());
  BOOST_TEST(again->empty());

  // A lease taken for no time has expired at once: the next owner takes it in a new epoch.
  auto brief = c.a->acquireShards("a", {5}, 0);
  BOOST_REQUIRE(brief.ok());
  BOOST_REQUIRE_EQUAL(brief->size(), 1U);
  auto taken = c.b->acquireShards("b", {5}, kMinute);
  BOOST_REQUIRE(taken.ok());
  BOOST_REQUIRE_EQUAL(taken->size(), 1U);
  BOOST_TEST((*taken)[0].epoch == (*brief)[0].epoch + 1);
  BOOST_TEST((*taken)[0].owner.value_or("") == "b");
}

BOOST_AUTO_TEST_CASE(only_the_owner_in_its_epoch_renews_and_a_lost_lease_stays_lost) {
  TwoCollectors c;
  auto held = c.a->acquireShards("a", {7, 8}, kMinute);
  BOOST_REQUIRE(held.ok());
  BOOST_REQUIRE_EQUAL(held->size(), 2U);
  const int64_t epoch7 = (*held)[0].shard == 7 ? (*held)[0].epoch : (*held)[1].epoch;

  auto renewed = c.a->renewShards("a", heldOf(*held), 2 * kMinute);
  BOOST_REQUIRE(renewed.ok());
  BOOST_TEST(shardsOf(*renewed) == (std::vector<int>{7, 8}));
  // Another collector cannot renew A's lease, nor A an epoch it does not hold.
  auto foreign = c.b->renewShards("b", heldOf(*held), kMinute);
  BOOST_REQUIRE(foreign.ok());
  BOOST_TEST(foreign->empty());
  auto stale_epoch = c.a->renewShards("a", {{7, epoch7 + 1}}, kMinute);
  BOOST_REQUIRE(stale_epoch.ok());
  BOOST_TEST(stale_epoch->empty());

  // Shard 7 expires (renewed for no time) and B takes it: A's renewal of the old epoch fails,
  // and so does any later one: the shard is B's until B lets it go.
  auto expiring = c.a->renewShards("a", {{7, epoch7}}, 0);
  BOOST_REQUIRE(expiring.ok());
  BOOST_REQUIRE_EQUAL(expiring->size(), 1U);
  auto late = c.a->renewShards("a", {{7, epoch7}}, kMinute);
  BOOST_REQUIRE(late.ok());
  BOOST_TEST(late->empty(), "an expired lease was renewed: it must be taken again, in a new epoch");
  auto by_b = c.b->acquireShards("b", {7}, kMinute);
  BOOST_REQUIRE(by_b.ok());
  BOOST_REQUIRE_EQUAL(by_b->size(), 1U);
  auto after = c.a->renewShards("a", {{7, epoch7}}, kMinute);
  BOOST_REQUIRE(after.ok());
  BOOST_TEST(after->empty());
}

BOOST_AUTO_TEST_CASE(a_released_lease_is_free_at_once_and_only_its_owner_releases_it) {
  TwoCollectors c;
  auto held = c.a->acquireShards("a", {10, 11}, kMinute);
  BOOST_REQUIRE(held.ok());
  BOOST_REQUIRE_EQUAL(held->size(), 2U);
  // B's release of A's leases changes nothing.
  BOOST_REQUIRE(c.b->releaseShards("b", heldOf(*held)).ok());
  auto none = c.b->acquireShards("b", {10, 11}, kMinute);
  BOOST_REQUIRE(none.ok());
  BOOST_TEST(none->empty());

  BOOST_REQUIRE(c.a->releaseShards("a", heldOf(*held)).ok());
  auto leases = c.b->listShardLeases();
  BOOST_REQUIRE(leases.ok());
  BOOST_TEST(!(*leases)[10].owner.has_value());
  auto by_b = c.b->acquireShards("b", {10, 11}, kMinute);
  BOOST_REQUIRE(by_b.ok());
  BOOST_TEST(shardsOf(*by_b) == (std::vector<int>{10, 11}));
  for (const ShardLease& l : *by_b) BOOST_TEST(l.epoch == 2);
}

// Two collectors that want every shard at the same moment: each shard ends with exactly one
// owner, in epoch 1, whatever the interleaving (on PostgreSQL, conflicting transactions are
// run again).
BOOST_AUTO_TEST_CASE(collectors_racing_for_every_shard_split_them_without_overlap) {
  TwoCollectors c;
  std::vector<int> all(kShardCount);
  for (int i = 0; i < kShardCount; ++i) all[i] = i;
  std::vector<ShardLease> got_a;
  std::vector<ShardLease> got_b;
  for (int round = 0; round < 8; ++round) {
    std::vector<int> half_a;
    std::vector<int> half_b;
    for (int shard : all) {
      // Overlapping asks: each wants three quarters of the shards.
      if ((shard + round) % 4 != 0) half_a.push_back(shard);
      if ((shard + round) % 4 != 1) half_b.push_back(shard);
    }
    auto fa =
        std::async(std::launch::async, [&] { return c.a->acquireShards("a", half_a, kMinute); });
    auto fb =
        std::async(std::launch::async, [&] { return c.b->acquireShards("b", half_b, kMinute); });
    auto ra = fa.get();
    auto rb = fb.get();
    BOOST_REQUIRE_MESSAGE(ra.ok(), (ra.ok() ? "" : ra.error().toString()));
    BOOST_REQUIRE_MESSAGE(rb.ok(), (rb.ok() ? "" : rb.error().toString()));
    got_a.insert(got_a.end(), ra->begin(), ra->end());
    got_b.insert(got_b.end(), rb->begin(), rb->end());
  }
  std::set<int> owned_a;
  for (const ShardLease& l : got_a) owned_a.insert(l.shard);
  for (const ShardLease& l : got_b) {
    BOOST_TEST(owned_a.count(l.shard) == 0U, "shard " << l.shard << " went to both");
  }
  BOOST_TEST(owned_a.size() + got_b.size() == static_cast<size_t>(kShardCount));
  auto leases = c.a->listShardLeases();
  BOOST_REQUIRE(leases.ok());
  for (const ShardLease& l : *leases) {
    BOOST_TEST(l.epoch == 1);
    BOOST_TEST(l.owner.has_value());
  }
}

BOOST_AUTO_TEST_CASE(a_node_name_is_one_live_collectors_and_a_restart_keeps_it) {
  TwoCollectors c;
  CollectorNode first{"node-1", "instance-a", "https://10.0.0.1:8443", 0, 0};
  auto announced = c.a->announceCollector(first, kMinute);
  BOOST_REQUIRE_MESSAGE(announced.ok(), (announced.ok() ? "" : announced.error().toString()));
  BOOST_TEST(announced->node == "node-1");
  BOOST_TEST(announced->expires_at_ms >= announced->started_at_ms + kMinute);

  // A second process configured with the same name is refused while the first is alive.
  CollectorNode namesake{"node-1", "instance-b", "https://10.0.0.2:8443", 0, 0};
  auto refused = c.b->announceCollector(namesake, kMinute);
  BOOST_REQUIRE(!refused.ok());
  BOOST_TEST(static_cast<int>(refused.error().code()) ==
             static_cast<int>(StatusCode::kAlreadyExists));
  BOOST_TEST(refused.error().message().find("node-1") != std::string::npos);

  // The first one's renewal keeps its start time.
  auto renewed = c.a->announceCollector(first, kMinute);
  BOOST_REQUIRE(renewed.ok());
  BOOST_TEST(renewed->started_at_ms == announced->started_at_ms);
  BOOST_TEST(renewed->expires_at_ms >= announced->expires_at_ms);

  CollectorNode other{"node-2", "instance-c", "https://10.0.0.3:8443", 0, 0};
  BOOST_REQUIRE(c.b->announceCollector(other, kMinute).ok());
  auto live = c.b->listLiveCollectors();
  BOOST_REQUIRE(live.ok());
  BOOST_REQUIRE_EQUAL(live->size(), 2U);
  BOOST_TEST((*live)[0].node == "node-1");
  BOOST_TEST((*live)[0].internal_url == "https://10.0.0.1:8443");
  BOOST_TEST((*live)[1].node == "node-2");

  // Once the first one's announcement expires (renewed for no time), the name is free: a
  // restarted process (a new instance) takes it.
  BOOST_REQUIRE(c.a->announceCollector(first, 0).ok());
  live = c.b->listLiveCollectors();
  BOOST_REQUIRE(live.ok());
  BOOST_REQUIRE_EQUAL(live->size(), 1U);
  auto restarted = c.b->announceCollector(namesake, kMinute);
  BOOST_REQUIRE_MESSAGE(restarted.ok(), (restarted.ok() ? "" : restarted.error().toString()));
  BOOST_TEST(restarted->instance == "instance-b");

  // Withdrawing names the instance: the old one's goodbye does not remove its successor.
  BOOST_REQUIRE(c.a->withdrawCollector("node-1", "instance-a").ok());
  live = c.a->listLiveCollectors();
  BOOST_REQUIRE(live.ok());
  BOOST_TEST(live->size() == 2U);
  BOOST_REQUIRE(c.b->withdrawCollector("node-1", "instance-b").ok());
  live = c.a->listLiveCollectors();
  BOOST_REQUIRE(live.ok());
  BOOST_REQUIRE_EQUAL(live->size(), 1U);
  BOOST_TEST((*live)[0].node == "node-2");
}

BOOST_AUTO_TEST_CASE(the_database_clock_is_one_clock_for_both_collectors) {
  TwoCollectors c;
  auto t1 = c.a->databaseTimeMs();
  auto t2 = c.b->databaseTimeMs();
  BOOST_REQUIRE(t1.ok());
  BOOST_REQUIRE(t2.ok());
  BOOST_TEST(*t2 >= *t1);
  BOOST_TEST(*t2 - *t1 < 60'000);
  // Unix milliseconds, not seconds or days: after 2020-01-01.
  BOOST_TEST(*t1 > 1'577'836'800'000LL);
}

// Fencing: a presence write names the leases it is made under, and is refused, whole, once
// one of them has moved on.
BOOST_AUTO_TEST_CASE(a_presence_write_under_a_lease_that_moved_on_is_refused_and_writes_nothing) {
  TwoCollectors c;
  using vigil::collector::LeaseFence;
  using vigil::collector::StatusChangeRecord;
  auto held = c.a->acquireShards("a", {3, 4}, kMinute);
  BOOST_REQUIRE(held.ok());
  BOOST_REQUIRE_EQUAL(held->size(), 2U);
  const LeaseFence fence{"a", heldOf(*held)};
  const std::vector<StatusChangeRecord> first = {
      {"ag_fenced", 10, "UNKNOWN", "ONLINE", "fresh_evidence", ""}};
  BOOST_REQUIRE(c.a->appendFencedPresenceEvents(fence, first, {}, {}).ok());

  // B takes shard 4 after A's lease on it ran out (renewed for no time).
  const int64_t epoch4 = fence.leases[0].shard == 4 ? fence.leases[0].epoch : fence.leases[1].epoch;
  BOOST_REQUIRE(c.a->renewShards("a", {{4, epoch4}}, 0).ok());
  auto by_b = c.b->acquireShards("b", {4}, kMinute);
  BOOST_REQUIRE(by_b.ok());
  BOOST_REQUIRE_EQUAL(by_b->size(), 1U);

  // A's write under both leases is refused, whole; under shard 3 alone it still goes in.
  const std::vector<StatusChangeRecord> second = {
      {"ag_fenced", 20, "ONLINE", "OFFLINE", "confirmed_silent", ""}};
  vigil::Status refused = c.a->appendFencedPresenceEvents(fence, second, {}, {});
  BOOST_REQUIRE(!refused.ok());
  BOOST_TEST(static_cast<int>(refused.code()) == static_cast<int>(StatusCode::kFailedPrecondition));
  BOOST_TEST(refused.message().find("fenced") != std::string::npos, refused.message());
  auto listed = c.b->listStatusChanges("ag_fenced", 0, 10);
  BOOST_REQUIRE(listed.ok());
  BOOST_TEST(listed->size() == 1U);

  const LeaseFence only3{
      "a", {{3, fence.leases[0].shard == 3 ? fence.leases[0].epoch : fence.leases[1].epoch}}};
  BOOST_REQUIRE(c.a->appendFencedPresenceEvents(only3, second, {}, {}).ok());
  // B, the new owner of shard 4, writes under its own lease; a forged fence naming B's epoch
  // with A as owner is refused.
  const LeaseFence b_fence{"b", heldOf(*by_b)};
  const std::vector<StatusChangeRecord> third = {
      {"ag_other", 30, "UNKNOWN", "ONLINE", "fresh_evidence", ""}};
  BOOST_REQUIRE(c.b->appendFencedPresenceEvents(b_fence, third, {}, {}).ok());
  BOOST_TEST(!c.a->appendFencedPresenceEvents(LeaseFence{"a", heldOf(*by_b)}, third, {}, {}).ok());
  listed = c.a->listStatusChanges("ag_fenced", 0, 10);
  BOOST_REQUIRE(listed.ok());
  BOOST_TEST(listed->size() == 2U);
  listed = c.a->listStatusChanges("ag_other", 0, 10);
  BOOST_REQUIRE(listed.ok());
  BOOST_TEST(listed->size() == 1U);
}
