#define BOOST_TEST_MODULE collector_connection_ledger
// The listener's book of connections, in simulated time: total deadlines per phase, room in
// all and per client, which connection is spared, and when the collector itself is starved.
#include "collector/listener/connection_ledger.h"

#include <boost/test/unit_test.hpp>
#include <string>
#include <vector>

using namespace std::chrono_literals;
using vigil::MonoTime;
using vigil::collector::ConnectionLedger;
using vigil::collector::ConnectionLimits;
using vigil::collector::ConnectionPhase;

namespace {

// t0, as the expectations' arithmetic reads. NOLINTNEXTLINE(readability-identifier-naming)
const MonoTime t0{std::chrono::hours(1000)};

ConnectionLimits limits(size_t max_connections, size_t max_per_client = 0) {
  ConnectionLimits l;
  l.max_connections = max_connections;
  l.max_per_client = max_per_client;
  l.receive_timeout = 15s;
  l.idle_timeout = 2s;
  l.send_timeout = 10s;
  l.linger_timeout = 2s;
  l.fair_chance = 2s;
  return l;
}

std::vector<ConnectionLedger::Id> expiredIds(ConnectionLedger& ledger, MonoTime now) {
  std::vector<ConnectionLedger::Id> ids;
  for (const auto& e : ledger.takeExpired(now)) ids.push_back(e.id);
  return ids;
}

using Ids = std::vector<ConnectionLedger::Id>;

}  // namespace

BOOST_AUTO_TEST_CASE(a_request_has_its_receive_timeout_in_total_from_the_accept) {
  ConnectionLedger ledger(limits(100));
  BOOST_TEST(ledger.open(1, "a", t0).admitted);
  BOOST_TEST((ledger.nextDeadline() == t0 + 15s));
  BOOST_TEST(expiredIds(ledger, t0 + 14s).empty());
  BOOST_TEST(expiredIds(ledger, t0 + 15s) == Ids{1});
  BOOST_TEST(ledger.size() == 0u);
  BOOST_TEST(ledger.counters().expired[0] == 1u);
}

BOOST_AUTO_TEST_CASE(each_phase_has_its_own_deadline_and_serving_has_none) {
  ConnectionLedger ledger(limits(100));
  for (ConnectionLedger::Id id : {1, 2, 3, 4}) ledger.open(id, "a", t0);
  ledger.enter(1, ConnectionPhase::kIdle, t0 + 1s);
  ledger.enter(2, ConnectionPhase::kServing, t0 + 1s);
  ledger.enter(3, ConnectionPhase::kSending, t0 + 1s);
  ledger.enter(4, ConnectionPhase::kLingering, t0 + 1s);
  BOOST_TEST(expiredIds(ledger, t0 + 3s) == (Ids{1, 4}));
  BOOST_TEST(expiredIds(ledger, t0 + 11s) == Ids{3});
  BOOST_TEST(expiredIds(ledger, t0 + 1000s).empty());
  BOOST_TEST(ledger.count(ConnectionPhase::kServing) == 1u);
  BOOST_TEST(!ledger.nextDeadline().has_value());
}

BOOST_AUTO_TEST_CASE(a_new_connection_past_the_limit_replaces_the_one_best_spared) {
  ConnectionLedger ledger(limits(4));
  for (ConnectionLedger::Id id : {1, 2, 3, 4}) ledger.open(id, "a", t0);
  ledger.enter(2, ConnectionPhase::kIdle, t0 + 5s);
  ledger.enter(3, ConnectionPhase::kLingering, t0 + 5s);
  ledger.enter(4, ConnectionPhase::kServing, t0 + 5s);
  // Lingering first, then idle, then the longest-receiving; never the one being served.
  auto a = ledger.open(5, "b", t0 + 6s);
  BOOST_TEST(a.admitted);
  BOOST_TEST(a.evicted == Ids{3});
  a = ledger.open(6, "b", t0 + 6s);
  BOOST_TEST(a.evicted == Ids{2});
  a = ledger.open(7, "b", t0 + 6s);
  BOOST_TEST(a.evicted == Ids{1});
  // 1 had been receiving for 6 s, more than its fair chance: not starved.
  BOOST_TEST(ledger.counters().starved == 0u);
  BOOST_TEST(ledger.size() == 4u);
}

BOOST_AUTO_TEST_CASE(evicting_a_young_request_or_refusing_for_room_is_starvation) {
  ConnectionLedger ledger(limits(2));
  ledger.open(1, "a", t0);
  ledger.open(2, "a", t0);
  auto a = ledger.open(3, "b", t0 + 1s);  // 1 was receiving for 1 s only
  BOOST_TEST(a.admitted);
  BOOST_TEST(a.evicted == Ids{1});
  BOOST_TEST(ledger.counters().starved == 1u);
  ledger.enter(2, ConnectionPhase::kServing, t0 + 1s);
  ledger.enter(3, ConnectionPhase::kSending, t0 + 1s);
  a = ledger.open(4, "c", t0 + 2s);
  BOOST_TEST(!a.admitted);
  BOOST_TEST(a.evicted.empty());
  BOOST_TEST(ledger.counters().refused == 1u);
  BOOST_TEST(ledger.counters().starved == 2u);
}

BOOST_AUTO_TEST_CASE(one_client_over_its_own_limit_loses_its_own_oldest_and_starves_nobody) {
  ConnectionLedger ledger(limits(100, 2));
  ledger.open(1, "attacker", t0);
  ledger.open(2, "attacker", t0 + 1s);
  ledger.open(3, "agent", t0 + 1s);
  auto a = ledger.open(4, "attacker", t0 + 1500ms);
  BOOST_TEST(a.admitted);
  BOOST_TEST(a.evicted == Ids{1});
  BOOST_TEST(ledger.clientCount("attacker") == 2u);
  BOOST_TEST(ledger.clientCount("agent") == 1u);
  BOOST_TEST(ledger.counters().evicted_client_limit == 1u);
  BOOST_TEST(ledger.counters().starved == 0u);
  // Both of its connections being served: a third is refused, still nobody else's problem.
  ledger.enter(2, ConnectionPhase::kServing, t0 + 2s);
  ledger.enter(4, ConnectionPhase::kServing, t0 + 2s);
  BOOST_TEST(!ledger.open(5, "attacker", t0 + 2s).admitted);
  BOOST_TEST(ledger.counters().starved == 0u);
  BOOST_TEST(ledger.open(6, "agent", t0 + 2s).admitted);
}

BOOST_AUTO_TEST_CASE(closing_forgets_the_connection_and_its_client) {
  ConnectionLedger ledger(limits(100, 1));
  ledger.open(1, "a", t0);
  ledger.close(1);
  ledger.close(1);  // twice: no effect
  BOOST_TEST(ledger.size() == 0u);
  BOOST_TEST(ledger.clientCount("a") == 0u);
  BOOST_TEST(ledger.open(2, "a", t0).evicted.empty());
}

BOOST_AUTO_TEST_CASE(many_clients_come_and_go_without_losing_count) {
  // Client entries are kept by pointer; thousands of clients force the map to rehash.
  ConnectionLedger ledger(limits(100000, 4));
  for (ConnectionLedger::Id id = 1; id <= 20000; ++id) {
    BOOST_REQUIRE(ledger.open(id, "c" + std::to_string(id % 5000), t0).admitted);
  }
  BOOST_TEST(ledger.clientCount("c7") == 4u);
  BOOST_TEST(ledger.counters().evicted_client_limit == 0u);
  for (ConnectionLedger::Id id = 1; id <= 20000; id += 2) ledger.close(id);
  BOOST_TEST(ledger.size() == 10000u);
  BOOST_TEST(expiredIds(ledger, t0 + 15s).size() == 10000u);
  BOOST_TEST(ledger.size() == 0u);
}
