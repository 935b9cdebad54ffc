#define BOOST_TEST_MODULE collector_lease_keeper
// The lease keeper (collector/cluster/lease_keeper.h) on simulated time: the collectors' own
// monotonic clock and the database's clock are two SimulatedClocks, and the store is an
// in-memory one with LeaseStore's contract (the SQL store's is proven on both databases by
// collector_lease_store_test). The invariant checked throughout: at no moment do two
// collectors both believe they hold a shard.
#include "collector/cluster/lease_keeper.h"

#include <boost/test/unit_test.hpp>
#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "collector/core/shards.h"
#include "common/clock.h"

using namespace std::chrono_literals;
using vigil::Result;
using vigil::SimulatedClock;
using vigil::Status;
using vigil::StatusCode;
using vigil::collector::CollectorNode;
using vigil::collector::HeldLease;
using vigil::collector::kShardCount;
using vigil::collector::LeaseKeeper;
using vigil::collector::LeaseKeeperOptions;
using vigil::collector::LeaseStore;
using vigil::collector::ShardEvents;
using vigil::collector::ShardLease;

namespace {

// LeaseStore's contract in memory, on `db_clock`. `reachable` false: every call fails as a
// lost database does.
class MemoryLeaseStore final : public LeaseStore {
 public:
  explicit MemoryLeaseStore(const SimulatedClock& db_clock) : db_clock_(db_clock) {
    for (int i = 0; i < kShardCount; ++i) leases_[i].shard = i;
  }
  bool reachable = true;

  Result<std::vector<ShardLease>> acquireShards(const std::string& owner,
                                                const std::vector<int>& shards,
                                                int64_t ttl_ms) override {
    if (!reachable) return down();
    std::vector<ShardLease> out;
    for (int s : shards) {
      ShardLease& l = leases_[s];
      if (l.owner && l.expires_at_ms > now()) continue;
      l.owner = owner;
      ++l.epoch;
      l.expires_at_ms = now() + ttl_ms;
      l.acquired_at_ms = now();
      out.push_back(l);
    }
    return out;
  }
  Result<std::vector<ShardLease>> renewShards(const std::string& owner,
                                              const std::vector<HeldLease>& held,
                                              int64_t ttl_ms) override {
    if (!reachable) return down();
    std::vector<ShardLease> out;
    for (const HeldLease& h : held) {
      ShardLease& l = leases_[h.shard];
      if (l.owner != owner || l.epoch != h.epoch || l.expires_at_ms <= now()) continue;
      l.expires_at_ms = now() + ttl_ms;
      out.push_back(l);
    }
    return out;
  }
  Status releaseShards(const std::string& owner, const std::vector<HeldLease>& held) override {
    if (!reachable) return down().error();
    for (const HeldLease& h : held) {
      ShardLease& l = leases_[h.shard];
      if (l.owner != owner || l.epoch != h.epoch) continue;
      l.owner.reset();
      l.expires_at_ms = now();
    }
    return Status::okStatus();
  }
  Result<std::vector<ShardLease>> listShardLeases() override {
    if (!reachable) return down();
    std::vector<ShardLease> out;
    for (const auto& [shard, l] : leases_) out.push_back(l);
    return out;
  }
  Result<CollectorNode> announceCollector(const CollectorNode& node, int64_t ttl_ms) override {
    if (!reachable) return Status::unavailable("database unreachable");
    auto it = nodes_.find(node.node);
    if (it != nodes_.end() && it->second.instance != node.instance &&
        it->second.expires_at_ms > now()) {
      return Status::alreadyExists("another collector named " + node.node);
    }
    CollectorNode stored = node;
    stored.started_at_ms = (it != nodes_.end() && it->second.instance == node.instance)
                               ? it->second.started_at_ms
                               : now();
    stored.expires_at_ms = now() + ttl_ms;
    nodes_[node.node] = stored;
    return stored;
  }
  Result<std::vector<CollectorNode>> listLiveCollectors() override {
    if (!reachable) return Status::unavailable("database unreachable");
    std::vector<CollectorNode> out;
    for (const auto& [name, n] : nodes_) {
      if (n.expires_at_ms > now()) out.push_back(n);
    }
    return out;
  }
  Status withdrawCollector(const std::string& node, const std::string& instance) override {
    if (!reachable) return Status::unavailable("database unreachable");
    auto it = nodes_.find(node);
    if (it != nodes_.end() && it->second.instance == instance) nodes_.erase(it);
    return Status::okStatus();
  }
  Result<int64_t> databaseTimeMs() override {
    if (!reachable) return Status::unavailable("database unreachable");
    return now();
  }
  Result<std::string> clusterKey() override { return std::string(64, 'k'); }

  const ShardLease& lease(int shard) { return leases_[shard]; }

 private:
  static Result<std::vector<ShardLease>> down() {
    return Status::unavailable("database unreachable");
  }
  int64_t now() const { return vigil::toUnixMillis(db_clock_.wallNow()); }

  const SimulatedClock& db_clock_;
  std::map<int, ShardLease> leases_;
  std::map<std::string, CollectorNode> nodes_;
};

// One collector: its own monotonic clock (which a pause stops: a paused process sees time
// jump when it resumes) and a keeper.
struct Member {
  Member(MemoryLeaseStore& store, const std::string& name, const std::string& instance = "1")
      : node(name) {
    LeaseKeeperOptions o;
    o.node = name;
    o.instance = name + "-" + instance;
    o.internal_url = "https://" + name + ".internal:8443";
    ShardEvents events;
    events.acquired = [this](int shard, int64_t epoch) { acquired[shard] = epoch; };
    events.lost = [this](int shard, int64_t) {
      acquired.erase(shard);
      ++lost;
    };
    events.releasing = [this](int, int64_t) { ++released; };
    keeper = std::make_unique<LeaseKeeper>(store, clock, o, events);
  }
  std::string node;
  SimulatedClock clock;
  std::unique_ptr<LeaseKeeper> keeper;
  std::map<int, int64_t> acquired;  // what the events say is held
  int lost = 0;
  int released = 0;
};

// A cluster on one simulated timeline: every member's clock and the database's move together,
// except a paused member's.
struct Cluster {
  SimulatedClock db_clock;
  MemoryLeaseStore store{db_clock};
  std::vector<std::unique_ptr<Member>> members;
  std::set<std::string> paused;

  Member& add(const std::string& name) {
    members.push_back(std::make_unique<Member>(store, name));
    BOOST_REQUIRE(members.back()->keeper->start().ok());
    return *members.back();
  }
  // Advances time in 1 s steps for `d`, each member (not paused) ticking every 5 s, checking
  // after every step that no shard is believed held by two members.
  void run(vigil::Duration d) {
    for (vigil::Duration t{}; t < d; t += 1s) {
      db_clock.advance(1s);
      for (auto& m : members) {
        if (paused.count(m->node) == 0) m->clock.advance(1s);
      }
      ++step_;
      for (auto& m : members) {
        if (paused.count(m->node) == 0 && step_ % 5 == 0) m->keeper->tick();
      }
      checkNoShardHeldTwice();
    }
  }
  void checkNoShardHeldTwice() {
    for (int s = 0; s < kShardCount; ++s) {
      int holders = 0;
      for (auto& m : members) {
        // A paused member cannot act; what it would believe on resuming is what counts, and
        // its clock has not moved, so ask as if it resumed now.
        if (m->keeper->epochOf(s).has_value() && paused.count(m->node) == 0) ++holders;
      }
      BOOST_REQUIRE_MESSAGE(holders <= 1, "shard " << s << " held by " << holders);
    }
  }
  size_t heldBy(const std::string& name) {
    for (auto& m : members) {
      if (m->node == name) return m->keeper->held().size();
    }
    return 0;
  }
  size_t totalHeld() {
    size_t n = 0;
    for (auto& m : members) {
      if (paused.count(m->node) == 0) n += m->keeper->held().size();
    }
    return n;
  }
  int step_ = 0;
};

}  // namespace

BOOST_AUTO_TEST_CASE(a_lone_collector_takes_every_shard_after_one_round_of_settling) {
  Cluster c;
  Member& a = c.add("a");
  a.keeper->tick();
  BOOST_TEST(a.keeper->held().empty(), "took shards before collectors starting together met");
  c.run(10s);
  BOOST_TEST(a.keeper->held().size() == static_cast<size_t>(kShardCount));
  BOOST_TEST(a.acquired.size() == static_cast<size_t>(kShardCount));
  BOOST_TEST(a.keeper->epochOf(17).value_or(0) == 1);
  BOOST_TEST(a.keeper->liveCollectors() == 1U);
}

BOOST_AUTO_TEST_CASE(three_collectors_starting_together_split_the_shards_fairly) {
  Cluster c;
  c.add("collector-1");
  c.add("collector-2");
  c.add("collector-3");
  c.run(20s);
  BOOST_TEST(c.totalHeld() == static_cast<size_t>(kShardCount));
  for (const char* name : {"collector-1", "collector-2", "collector-3"}) {
    const size_t n = c.heldBy(name);
    BOOST_TEST_MESSAGE(name << " holds " << n);
    BOOST_TEST(n >= 60U);
    BOOST_TEST(n <= 110U);
  }
  // Nobody took a shard only to give it back: every shard is in its first epoch.
  for (int s = 0; s < kShardCount; ++s) BOOST_TEST(c.store.lease(s).epoch == 1);
}

// A paused owner (SIGSTOP) believes nothing once resumed: its deadline passed while it slept.
// Its announcement expires, the others take its shards in new epochs, and when it resumes its
// renewals are refused.
BOOST_AUTO_TEST_CASE(a_paused_owner_steps_down_before_its_shards_are_taken_and_finds_them_gone) {
  Cluster c;
  Member& a = c.add("a");
  c.add("b");
  c.run(20s);
  const std::vector<HeldLease> before = a.keeper->held();
  BOOST_REQUIRE(!before.empty());
  c.paused.insert("a");
  c.run(60s);
  // While a slept, b took every shard.
  BOOST_TEST(c.heldBy("b") == static_cast<size_t>(kShardCount));
  for (const HeldLease& h : before) BOOST_TEST(c.store.lease(h.shard).epoch > h.epoch);
  // a resumes: its clock jumps forward, and before any tick it already holds nothing.
  c.paused.clear();
  a.clock.advance(60s);
  BOOST_TEST(a.keeper->held().empty());
  for (const HeldLease& h : before) BOOST_TEST(!a.keeper->epochOf(h.shard).has_value());
  c.checkNoShardHeldTwice();
  a.keeper->tick();
  BOOST_TEST(a.lost == static_cast<int>(before.size()));
  // It rejoins: the shards it is preferred for come back to it (after b hands them over).
  c.run(60s);
  BOOST_TEST(c.heldBy("a") >= 90U);
  BOOST_TEST(c.totalHeld() == static_cast<size_t>(kShardCount));
}

// The local deadline falls before the database's expiry: a collector cut off from the database
// stops believing in its leases before another collector can take them, and none is orphaned
// for longer than a lease term plus a round.
BOOST_AUTO_TEST_CASE(a_collector_cut_off_from_the_database_lets_go_before_anyone_takes_over) {
  Cluster c;
  Member& a = c.add("a");
  c.run(20s);
  BOOST_REQUIRE(a.keeper->held().size() == static_cast<size_t>(kShardCount));
  c.store.reachable = false;
  // Within the term minus the margin (12 s) after the last renewal, it still holds them.
  c.run(5s);
  BOOST_TEST(!a.keeper->held().empty());
  c.run(10s);
  BOOST_TEST(a.keeper->held().empty());
  // In the database, the leases are still unexpired or just expired: none was taken early.
  c.store.reachable = true;
  c.run(10s);
  BOOST_TEST(a.keeper->held().size() == static_cast<size_t>(kShardCount));
  BOOST_TEST(c.store.lease(0).epoch == 2);
}

BOOST_AUTO_TEST_CASE(a_fourth_collector_takes_about_a_quarter_a_few_shards_at_a_time) {
  Cluster c;
  c.add("c1");
  c.add("c2");
  c.add("c3");
  c.run(20s);
  std::map<int, int64_t> epochs;
  for (int s = 0; s < kShardCount; ++s) epochs[s] = c.store.lease(s).epoch;
  c.add("c4");
  c.run(60s);
  BOOST_TEST(c.totalHeld() == static_cast<size_t>(kShardCount));
  const size_t moved_to_c4 = c.heldBy("c4");
  BOOST_TEST(moved_to_c4 >= 45U);
  BOOST_TEST(moved_to_c4 <= 85U);
  // Only the shards that went to c4 changed owner.
  size_t changed = 0;
  for (int s = 0; s < kShardCount; ++s) changed += c.store.lease(s).epoch != epochs[s] ? 1 : 0;
  BOOST_TEST(changed == moved_to_c4);
}

BOOST_AUTO_TEST_CASE(a_graceful_stop_hands_the_shards_over_at_the_next_round) {
  Cluster c;
  Member& a = c.add("a");
  c.add("b");
  c.run(20s);
  const size_t a_held = a.keeper->held().size();
  BOOST_REQUIRE(a_held > 0U);
  a.keeper->stop();
  BOOST_TEST(a.released == static_cast<int>(a_held));
  BOOST_TEST(a.keeper->held().empty());
  c.paused.insert("a");  // stopped: it no longer ticks
  c.run(5s);             // one round of b: no waiting for a term
  BOOST_TEST(c.heldBy("b") == static_cast<size_t>(kShardCount));
}

BOOST_AUTO_TEST_CASE(a_second_collector_with_the_same_name_does_not_start) {
  Cluster c;
  c.add("a");
  Member twin(c.store, "a", "2");
  Status s = twin.keeper->start();
  BOOST_TEST(static_cast<int>(s.code()) == static_cast<int>(StatusCode::kAlreadyExists));
}
