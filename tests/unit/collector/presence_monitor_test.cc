#define BOOST_TEST_MODULE collector_presence_monitor
#include "collector/monitor/presence_monitor.h"

#include <boost/test/unit_test.hpp>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "collector/monitor/presence_ticker.h"
#include "collector/store/sql_store.h"
#include "common/clock.h"
#include "monitor_support.h"
#include "store_queries.h"
#include "store_wrapper.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_store.h"

using namespace std::chrono_literals;
using vigil::SimulatedClock;
using vigil::collector::AgentRecord;
using vigil::collector::PresenceMonitor;
using vigil::collector::PresenceTicker;
using vigil::collector::SqlStore;
using vigil::collector::StatusChangeRecord;
namespace presence = vigil::collector::presence;

namespace {

constexpr auto kInterval = vigil::testing::kMonitorInterval;
using vigil::testing::plainBeat;

presence::PresenceConfig testConfig() { return vigil::testing::monitorTestConfig(); }

// One collector's presence machinery over a real SQLite store, driven by a simulated clock.
struct MonitorFixture {
  vigil::testing::TempDir tmp;
  SimulatedClock clock;
  std::unique_ptr<SqlStore> sqlite =
      std::move(vigil::testing::openTestStore(tmp.sub("data")).value());
  vigil::testing::ObservedStore store{*sqlite};
  std::unique_ptr<PresenceMonitor> monitor;
  std::unique_ptr<PresenceTicker> ticker;
  std::vector<std::string> agents;

  MonitorFixture() {
    vigil::testing::enrollSite(*sqlite, 3, &agents);
    restart();
  }

  // A new monitor over the same store, as after a collector restart.
  void restart() {
    if (ticker) BOOST_REQUIRE(ticker->stop().ok());
    ticker.reset();
    monitor = std::make_unique<PresenceMonitor>(testConfig(), clock);
    BOOST_REQUIRE(monitor->load(store, store).ok());
    ticker = std::make_unique<PresenceTicker>(*monitor, store, 1s);
  }

  // A heartbeat as ingest delivers it: to the engine, and (as LastSeenWriter does) to the
  // store's last-seen.
  void beat(const std::string& id) {
    monitor->heartbeatAccepted(plainBeat(id, clock.monotonicNow()));
    vigil::collector::LastSeenUpdate u;
    u.agent_id = id;
    u.last_seen_at_ms = vigil::toUnixMillis(clock.wallNow());
    u.last_seq = ++seq;
    BOOST_REQUIRE(sqlite->updateLastSeen({u}).ok());
  }
  int64_t seq = 0;
  // Advances `d` in one-second ticks; `alive` agents beat every interval.
  void run(std::chrono::seconds d, const std::vector<std::string>& alive) {
    for (auto t = 0s; t < d; t += 1s) {
      clock.advance(1s);
      if (t.count() % std::chrono::duration_cast<std::chrono::seconds>(kInterval).count() == 0) {
        for (const auto& id : alive) beat(id);
      }
      (void)ticker->tickOnce();
    }
  }
  std::string status(const std::string& id) {
    return presence::statusName(monitor->agentView(id)->status);
  }
  std::vector<std::string> storedHistory(const std::string& id) {
    auto changes = sqlite->listStatusChanges(id, 0, 100).value();
    std::vector<std::string> out;
    for (auto it = changes.rbegin(); it != changes.rend(); ++it) out.push_back(it->to_status);
    return out;
  }
};

}  // namespace

BOOST_FIXTURE_TEST_CASE(silence_becomes_offline_with_a_stored_alert_and_history, MonitorFixture) {
  run(60s, agents);
  for (const auto& id : agents) BOOST_TEST(status(id) == "ONLINE");
  // ag_0 dies; the others keep beating.
  run(60s, {agents[1], agents[2]});
  BOOST_TEST(status(agents[0]) == "OFFLINE");
  BOOST_TEST(status(agents[1]) == "ONLINE");
  auto history = storedHistory(agents[0]);
  BOOST_REQUIRE(history.size() >= 3u);
  BOOST_TEST(history[history.size() - 2] == "SUSPECT");
  BOOST_TEST(history.back() == "OFFLINE");
  auto open = vigil::testing::openAlerts(*sqlite);
  BOOST_REQUIRE(open.size() == 1u);
  BOOST_TEST(open[0].kind == "device_offline");
  BOOST_TEST(open[0].agent_id.value() == agents[0]);
  BOOST_TEST(open[0].state == "open");

  // It comes back: ONLINE again and the stored alert is resolved.
  run(30s, agents);
  BOOST_TEST(status(agents[0]) == "ONLINE");
  BOOST_TEST(vigil::testing::openAlerts(*sqlite).empty());
  BOOST_TEST(vigil::testing::allAlerts(*sqlite).at(0).state == "resolved");
}

BOOST_FIXTURE_TEST_CASE(a_failed_write_is_kept_and_retried_and_degrades_the_collector,
                        MonitorFixture) {
  run(60s, agents);
  store.fail_presence_events = true;
  run(60s, {agents[1], agents[2]});  // ag_0 goes silent while writes fail
  BOOST_TEST(vigil::testing::openAlerts(*sqlite).empty());
  // Consecutive failed writes make the collector DEGRADED, so no alert opens meanwhile.
  auto health = monitor->health();
  BOOST_TEST(health.degraded);
  BOOST_TEST((health.reasons_mask & (1u << static_cast<unsigned>(
                                         presence::DegradationReason::kStoreWriteFailures))) != 0u);
  BOOST_TEST(status(agents[0]) != "OFFLINE");

  // The store recovers: the kept events are written, and after the recovery period the
  // still-silent agent is confirmed OFFLINE with a note that its alert was held.
  store.fail_presence_events = false;
  run(180s, {agents[1], agents[2]});
  BOOST_TEST(status(agents[0]) == "OFFLINE");
  auto open = vigil::testing::openAlerts(*sqlite);
  BOOST_REQUIRE(open.size() == 1u);
  BOOST_TEST(open[0].held_since_ms.has_value());
  BOOST_TEST(open[0].held_reasons.find("store_write_failures") != std::string::npos);
  BOOST_TEST(storedHistory(agents[1]).front() == "ONLINE");  // written after the retry
}

BOOST_FIXTURE_TEST_CASE(after_a_restart_no_verdict_comes_before_warm_up_ends, MonitorFixture) {
  run(60s, agents);
  restart();
  // During warm-up (one interval plus jitter) nothing is judged, and no alert is raised
  // although nobody has been heard from since the restart.
  run(std::chrono::seconds(10), {});
  for (const auto& id : agents) BOOST_TEST(status(id) == "UNKNOWN");
  BOOST_TEST(monitor->health().degraded);
  BOOST_TEST(vigil::testing::openAlerts(*sqlite).empty());
  // Agents that report again are ONLINE; the one that stays silent is verified and alerted.
  run(90s, {agents[1], agents[2]});
  BOOST_TEST(status(agents[1]) == "ONLINE");
  BOOST_TEST(status(agents[0]) == "OFFLINE");
  BOOST_TEST(vigil::testing::openAlerts(*sqlite).size() == 1u);
}

// The ticks do not wait on the store. A write stuck on the disk (here: until the test lets it
// go) must not stop the engine's ticks: it would take the gap for a frozen process and hold
// every verdict. The events of the ticks meanwhile are written once the store answers.
BOOST_FIXTURE_TEST_CASE(ticks_go_on_while_a_write_waits_on_the_store, MonitorFixture) {
  std::mutex mu;
  std::condition_variable cv;
  bool writing = false;
  bool released = false;
  int ticks_during_the_write = 0;
  store.before_presence_events = [&] {
    std::unique_lock<std::mutex> lock(mu);
    writing = true;
    cv.notify_all();
    cv.wait(lock, [&] { return released; });
    writing = false;
  };
  PresenceTicker threaded(*monitor, store, 1ms, [&](PresenceMonitor&) {
    std::lock_guard<std::mutex> lock(mu);
    if (writing) ++ticks_during_the_write;
    cv.notify_all();
  });
  beat(agents[0]);  // UNKNOWN -> ONLINE: an event to write
  threaded.start();
  {
    std::unique_lock<std::mutex> lock(mu);
    BOOST_REQUIRE(cv.wait_for(lock, 30s, [&] { return writing; }));
    // Before the write returns, the engine is still ticking.
    BOOST_TEST(cv.wait_for(lock, 10s, [&] { return ticks_during_the_write >= 3; }));
  }
  beat(agents[1]);  // heard while the write is stuck: kept for the next write
  {
    std::lock_guard<std::mutex> lock(mu);
    released = true;
  }
  cv.notify_all();
  BOOST_REQUIRE(threaded.stop().ok());
  BOOST_TEST(store.presence_event_writes.load() >= 2);
  BOOST_TEST(storedHistory(agents[0]).front() == "ONLINE");
  BOOST_TEST(storedHistory(agents[1]).front() == "ONLINE");
}

BOOST_AUTO_TEST_CASE(past_its_bound_the_pending_batch_drops_history_but_never_alerts) {
  SimulatedClock clock;
  PresenceMonitor monitor(testConfig(), clock, /*max_pending=*/2);
  AgentRecord a;
  a.site_id = 1;
  a.tenant_id = 1;
  for (int i = 0; i < 5; ++i) {
    a.id = "ag_" + std::to_string(i);
    monitor.agentEnrolled(a);
    monitor.heartbeatAccepted(plainBeat(a.id, clock.monotonicNow()));  // UNKNOWN -> ONLINE
  }
  BOOST_TEST(monitor.droppedChanges() >= 3u);
  BOOST_TEST(monitor.takePending().changes.size() <= 2u);
}

BOOST_AUTO_TEST_CASE(status_counts_answer_each_scope_and_nothing_for_ids_no_agent_can_have) {
  SimulatedClock clock;
  PresenceMonitor monitor(testConfig(), clock);
  auto enroll = [&](const std::string& id, int64_t tenant, int64_t site) {
    AgentRecord a;
    a.id = id;
    a.tenant_id = tenant;
    a.site_id = site;
    monitor.agentEnrolled(a);
  };
  enroll("a1", 1, 10);
  enroll("a2", 1, 11);
  enroll("b1", 2, 20);
  monitor.heartbeatAccepted(plainBeat("a1", clock.monotonicNow()));  // UNKNOWN -> ONLINE
  constexpr auto kOnline = static_cast<size_t>(presence::AgentStatus::kOnline);
  constexpr auto kUnknown = static_cast<size_t>(presence::AgentStatus::kUnknown);
  auto total = [](const presence::StatusCounts& counts) {
    uint64_t sum = 0;
    for (uint32_t c : counts) sum += c;
    return sum;
  };

  BOOST_TEST(total(monitor.statusCounts(std::nullopt, std::nullopt)) == 3u);
  BOOST_TEST(monitor.statusCounts(1, std::nullopt)[kOnline] == 1u);
  BOOST_TEST(monitor.statusCounts(1, std::nullopt)[kUnknown] == 1u);
  BOOST_TEST(total(monitor.statusCounts(std::nullopt, 11)) == 1u);
  BOOST_TEST(monitor.statusCounts(1, 10)[kOnline] == 1u);
  BOOST_TEST(total(monitor.statusCounts(2, 10)) == 0u);  // the site is another tenant's
  BOOST_TEST(total(monitor.statusCounts(-1, std::nullopt)) == 0u);
  BOOST_TEST(total(monitor.statusCounts(std::nullopt, int64_t{1} << 33)) == 0u);

  BOOST_TEST(monitor.forgetAgent("a1"));
  BOOST_TEST(total(monitor.statusCounts(1, std::nullopt)) == 1u);
  BOOST_TEST(total(monitor.statusCounts(std::nullopt, std::nullopt)) == 2u);
}

BOOST_AUTO_TEST_CASE(degradation_reason_names_are_comma_separated) {
  using R = presence::DegradationReason;
  const uint32_t mask =
      (1u << static_cast<unsigned>(R::kWarmUp)) | (1u << static_cast<unsigned>(R::kTickLate));
  BOOST_TEST(presence::degradationReasonNames(mask) == "warm_up,tick_late");
  BOOST_TEST(presence::degradationReasonNames(mask, ", ") == "warm_up, tick_late");
  BOOST_TEST(presence::degradationReasonNames(0).empty());
}
