#define BOOST_TEST_MODULE fleetsim_verdict
// The scenario verdict (tools/fleetsim/report.h) on hand-made observations: each assertion of
// docs/scenarios.md fails when its condition is broken, and holds when it is not.

#include <boost/test/unit_test.hpp>

#include "tools/fleetsim/api_reading.h"
#include "tools/fleetsim/report.h"
#include "tools/fleetsim/scenario.h"

namespace vigil::fleetsim {
namespace {

using std::chrono::seconds;

const WallTime kStart = fromUnixMillis(1'790'000'000'000);

WallTime at(double s) {
  return kStart + std::chrono::duration_cast<std::chrono::system_clock::duration>(
                      std::chrono::duration<double>(s));
}

// Three agents of site-0 and one of site-1, 2 s intervals, a 100 s timeline.
RunObservations baseRun() {
  RunObservations run;
  run.scenario = "test";
  run.interval_s = 2;
  run.fleet_started = kStart;
  run.timeline_end = at(100);
  run.observed_until = at(120);
  run.agents = {{"ag_a", "site-0", false},
                {"ag_b", "site-0", false},
                {"ag_c", "site-0", false},
                {"ag_d", "site-1", false}};
  run.site_ids = {{"site-0", 10}, {"site-1", 11}};
  for (const auto& a : run.agents) run.final_status[a.id] = "ONLINE";
  return run;
}

SeenAlert offline(int64_t id, const std::string& agent, double opened_s) {
  SeenAlert a;
  a.id = id;
  a.kind = "device_offline";
  a.state = "open";
  a.agent_id = agent;
  a.opened_at = at(opened_s);
  return a;
}

void die(RunObservations& run, uint32_t agent, double s) {
  TruthEvent e;
  e.agent = agent;
  e.kind = TruthEvent::Kind::kDied;
  e.at = at(s);
  run.truth.push_back(e);
  run.final_status[run.agents[agent].id] = "OFFLINE";
}

std::string firstFailure(const Verdict& v) { return v.failures.empty() ? "" : v.failures[0]; }

void alert(RunObservations& run, const SeenAlert& a) {
  run.webhook_alerts.push_back(a);
  run.api_alerts.push_back(a);
}

BOOST_AUTO_TEST_CASE(a_quiet_run_passes) {
  const Verdict v = judge(baseRun());
  BOOST_TEST(v.passed());
  BOOST_TEST(v.true_failures == 0u);
}

BOOST_AUTO_TEST_CASE(an_alert_for_a_living_agent_is_false) {
  RunObservations run = baseRun();
  alert(run, offline(1, "ag_a", 50));
  const Verdict v = judge(run);
  BOOST_TEST(v.false_offline_alerts == 1u);
  BOOST_TEST(!v.passed());
}

BOOST_AUTO_TEST_CASE(a_death_without_an_alert_is_missed) {
  RunObservations run = baseRun();
  die(run, 1, 40);
  const Verdict v = judge(run);
  BOOST_TEST(v.true_failures == 1u);
  BOOST_TEST(v.missed_failures == 1u);
  BOOST_TEST(!v.passed());
}

BOOST_AUTO_TEST_CASE(an_alert_before_the_death_does_not_count_for_it) {
  RunObservations run = baseRun();
  die(run, 1, 40);
  alert(run, offline(1, "ag_b", 30));
  const Verdict v = judge(run);
  BOOST_TEST(v.false_offline_alerts == 1u);
  BOOST_TEST(v.missed_failures == 1u);
}

BOOST_AUTO_TEST_CASE(detection_latency_is_measured_from_the_death) {
  RunObservations run = baseRun();
  die(run, 1, 40);
  alert(run, offline(1, "ag_b", 45));
  Verdict v = judge(run);
  BOOST_TEST(v.passed());
  BOOST_TEST(v.detection_max_s == 5.0, boost::test_tools::tolerance(1e-6));
  // Slower than three intervals (6 s) fails.
  run = baseRun();
  die(run, 1, 40);
  alert(run, offline(1, "ag_b", 47));
  v = judge(run);
  BOOST_TEST(!v.passed());
  BOOST_TEST(v.detection_p99_s == 7.0, boost::test_tools::tolerance(1e-6));
}

BOOST_AUTO_TEST_CASE(detection_waits_for_the_collector_to_be_healthy) {
  RunObservations run = baseRun();
  die(run, 1, 40);
  run.degraded.push_back({at(41), at(60), {"tick_late"}});
  run.collector_down.push_back({at(39), at(55), {"frozen"}});
  run.injected.push_back({at(39), at(55), {"injected: collector_freeze"}});
  alert(run, offline(1, "ag_b", 63));
  const Verdict v = judge(run);
  BOOST_TEST(v.passed(), firstFailure(v));
  BOOST_TEST(v.detection_max_s == 3.0, boost::test_tools::tolerance(1e-6));
  // What the admin waited is reported too: from the death itself.
  BOOST_TEST(v.detection_from_death_max_s == 23.0, boost::test_tools::tolerance(1e-6));
  // From the fault's end and its recovery (1.1 intervals): 63 - (55 + 2.2).
  BOOST_TEST(v.detection_from_faults_p99_s == 5.8, boost::test_tools::tolerance(1e-6));
}

// A collector that calls itself degraded for longer than the fault it suffered cannot buy
// itself time: the latency also counts from the fault's end and recovery.
BOOST_AUTO_TEST_CASE(detection_also_counts_from_the_injected_faults) {
  RunObservations run = baseRun();
  die(run, 1, 40);
  run.injected.push_back({at(39), at(42), {"injected: collector_freeze"}});
  run.degraded.push_back({at(41), at(47), {"tick_late"}});  // within the fault and recovery
  alert(run, offline(1, "ag_b", 52));
  const Verdict v = judge(run);
  BOOST_TEST(v.detection_max_s == 5.0, boost::test_tools::tolerance(1e-6));  // from 47: in bound
  BOOST_TEST(v.detection_from_faults_p99_s == 7.8, boost::test_tools::tolerance(1e-6));
  BOOST_TEST(v.degraded_outside_faults == 0u);
  BOOST_REQUIRE(v.failures.size() == 1u);
  BOOST_TEST(v.failures[0].find("from the death") != std::string::npos, v.failures[0]);
}

BOOST_AUTO_TEST_CASE(the_collector_is_degraded_only_by_the_injected_faults) {
  RunObservations run = baseRun();
  // The runner's first start: warm-up until one interval and its jitter after it.
  run.injected.push_back({at(-10), at(0), {"runner: first start of the collector, enrollment"}});
  run.degraded.push_back({at(-9), at(2), {"warm_up"}});
  // A fault, and the degradation it caused, noticed late and recovered from.
  run.injected.push_back({at(30), at(40), {"injected: cpu_starve_start"}});
  run.degraded.push_back({at(33), at(46), {"tick_late", "ingest_lag"}});
  Verdict v = judge(run);
  BOOST_TEST(v.passed(), firstFailure(v));

  // Degraded with no fault, or longer than a fault and its recovery explain: a failure that
  // says when and why.
  run.degraded.push_back({at(70), at(75), {"mass_suspect"}});
  run.degraded.back().reasons.push_back("shed_requests");
  v = judge(run);
  BOOST_TEST(v.degraded_outside_faults == 1u);
  BOOST_REQUIRE(!v.failures.empty());
  BOOST_TEST(v.failures[0] ==
             "collector degraded outside the injected faults, +70.0 s to +75.0 s "
             "(mass_suspect, shed_requests)");
  run.degraded.pop_back();
  run.degraded.push_back({at(50), at(60), {"tick_late"}});  // 40 + 4 + 2.2 < 60
  v = judge(run);
  BOOST_TEST(v.degraded_outside_faults == 1u);
}

BOOST_AUTO_TEST_CASE(a_cut_off_site_needs_a_site_alert_and_only_that_site) {
  RunObservations run = baseRun();
  for (uint32_t i = 0; i < 3; ++i) {
    TruthEvent e;
    e.agent = i;
    e.kind = TruthEvent::Kind::kPartitioned;
    e.at = at(30);
    run.truth.push_back(e);
    e.kind = TruthEvent::Kind::kPartitionOver;
    e.at = at(60);
    run.truth.push_back(e);
  }
  Verdict v = judge(run);
  BOOST_TEST(v.expected_site_alerts == 1u);
  BOOST_TEST(v.missed_site_alerts == 1u);

  SeenAlert site;
  site.id = 7;
  site.kind = "site_unreachable";
  site.state = "resolved";
  site.site_id = 10;
  site.opened_at = at(40);
  alert(run, site);
  v = judge(run);
  BOOST_TEST(v.missed_site_alerts == 0u);
  BOOST_TEST(v.passed());

  site.id = 8;
  site.site_id = 11;  // site-1 was never cut off
  alert(run, site);
  v = judge(run);
  BOOST_TEST(v.false_site_alerts == 1u);
  BOOST_TEST(!v.passed());
}

BOOST_AUTO_TEST_CASE(an_alert_the_webhooks_never_delivered_is_lost) {
  RunObservations run = baseRun();
  die(run, 1, 40);
  run.api_alerts.push_back(offline(1, "ag_b", 44));
  const Verdict v = judge(run);
  BOOST_TEST(v.alerts_lost == 1u);
  BOOST_TEST(!v.passed());
}

BOOST_AUTO_TEST_CASE(a_wrong_final_status_and_memory_over_the_bound_fail) {
  RunObservations run = baseRun();
  run.final_status["ag_c"] = "SUSPECT";
  BOOST_TEST(judge(run).wrong_status_at_end == 1u);
  run = baseRun();
  run.rss_bound_bytes = 100 << 20;
  run.peak_rss_bytes = 101 << 20;
  BOOST_TEST(!judge(run).passed());
}

BOOST_AUTO_TEST_CASE(scenario_files_are_checked) {
  auto ok = parseScenario(R"({"name": "x", "fleet": {"agents": 10, "sites": 2},
      "duration_s": 100, "timeline": [
        {"at_s": 50, "action": "collector_thaw"}, {"at_s": 20, "action": "collector_freeze"}]})");
  BOOST_REQUIRE(ok.ok());
  BOOST_TEST(ok->timeline.front().action == "collector_freeze");
  BOOST_TEST(!parseScenario(R"({"name": "x", "fleet": {}, "timeline": [
        {"at_s": 1, "action": "reboot_the_moon"}]})")
                  .ok());
  BOOST_TEST(!parseScenario(R"({"name": "x", "fleet": {"agents": 10}, "duration_s": 10,
        "timeline": [{"at_s": 20, "action": "collector_kill"}]})")
                  .ok());
  BOOST_TEST(!parseScenario(R"({"name": "x", "fleet": {"agents": 10}, "timeline": [
        {"at_s": 1, "action": "channel_block", "channel": "smoke", "share": 0.3}]})")
                  .ok());
  BOOST_TEST(!parseScenario("[1, 2]").ok());
}

bool mentions(const Verdict& v, const std::string& text) {
  for (const std::string& f : v.failures) {
    if (f.find(text) != std::string::npos) return true;
  }
  return false;
}

// baseRun() after a collector restart: 60 s intervals, three living agents back.
RunObservations returnedRun() {
  RunObservations run = baseRun();
  run.interval_s = 60;
  run.surge.judged = true;
  run.returns.marked = true;
  run.returns.agents_judged = 3;
  run.returns.back_after_s = {0, 20, 59};
  run.returns.agents_refused = 2;
  run.returns.max_refusals_per_agent = 1;
  return run;
}

BOOST_AUTO_TEST_CASE(a_return_within_one_interval_and_one_refusal_each_passes) {
  const Verdict v = judge(returnedRun());
  BOOST_TEST(v.passed());
  BOOST_TEST(v.back_bound_s == 60.5);
  BOOST_TEST(v.back_max_s == 59);
}

BOOST_AUTO_TEST_CASE(an_agent_refused_twice_late_or_never_back_fails) {
  RunObservations run = returnedRun();
  run.returns.max_refusals_per_agent = 2;
  run.returns.agents_refused_twice = 1;
  run.returns.back_after_s.push_back(75);
  run.returns.agents_not_back = 1;
  const Verdict v = judge(run);
  BOOST_TEST(mentions(v, "1 agents refused more than 1 time(s); the most, 2"));
  BOOST_TEST(mentions(v, "1 agents back later than 60.5 s"));
  BOOST_TEST(mentions(v, "1 living agents never accepted again"));
}

BOOST_AUTO_TEST_CASE(without_surge_bounds_the_return_is_reported_not_judged) {
  RunObservations run = returnedRun();
  run.surge.judged = false;
  run.returns.back_after_s.push_back(300);
  run.returns.max_refusals_per_agent = 7;
  const Verdict v = judge(run);
  BOOST_TEST(v.passed());
  BOOST_TEST(v.back_max_s == 300);
  BOOST_TEST(v.max_refusals_per_agent == 7u);
}

BOOST_AUTO_TEST_CASE(surge_bounds_are_read_from_the_file) {
  auto s = parseScenario(R"({"name": "x", "fleet": {"agents": 10, "sites": 1},
                            "surge": {"max_refusals_per_agent": 2, "back_within_intervals": 1.5},
                            "timeline": []})");
  BOOST_REQUIRE(s.ok());
  BOOST_TEST(s.value().surge.judged);
  BOOST_TEST(s.value().surge.max_refusals_per_agent == 2u);
  BOOST_TEST(s.value().surge.back_within_intervals == 1.5);
  BOOST_TEST(!parseScenario(R"({"name": "x", "fleet": {"agents": 10, "sites": 1},
                               "surge": {"back_within_intervals": 0}, "timeline": []})")
                  .ok());
}

// --- The assertions that came with the cluster scenarios (docs/scenarios.md). ---

void revive(RunObservations& run, uint32_t agent, double s) {
  TruthEvent e;
  e.agent = agent;
  e.kind = TruthEvent::Kind::kRevived;
  e.at = at(s);
  run.truth.push_back(e);
  run.final_status[run.agents[agent].id] = "ONLINE";
}

BOOST_AUTO_TEST_CASE(a_death_alerted_twice_is_a_duplicate_alert) {
  RunObservations run = baseRun();
  die(run, 1, 40);
  alert(run, offline(1, "ag_b", 45));
  BOOST_TEST(judge(run).passed(), firstFailure(judge(run)));
  // The shard's new owner raises another alert for the same death.
  alert(run, offline(2, "ag_b", 58));
  const Verdict v = judge(run);
  BOOST_TEST(v.duplicate_alerts == 1u);
  BOOST_TEST(mentions(v,
                      "duplicate alerts: 2 device_offline alerts for one death of agent ag_b "
                      "(1 at +45.0 s, 2 at +58.0 s)"));
}

BOOST_AUTO_TEST_CASE(an_alert_held_and_released_before_the_one_opened_is_no_duplicate) {
  RunObservations run = baseRun();
  die(run, 1, 40);
  SeenAlert released = offline(1, "ag_b", 42);
  released.state = "released";  // held while the collector was degraded, never notified
  run.api_alerts.push_back(released);
  alert(run, offline(2, "ag_b", 45));
  const Verdict v = judge(run);
  BOOST_TEST(v.duplicate_alerts == 0u);
  BOOST_TEST(v.passed(), firstFailure(v));
}

BOOST_AUTO_TEST_CASE(two_deaths_of_one_agent_are_alerted_once_each) {
  RunObservations run = baseRun();
  die(run, 1, 40);
  alert(run, offline(1, "ag_b", 45));
  revive(run, 1, 50);
  die(run, 1, 60);
  alert(run, offline(2, "ag_b", 65));
  // (The verdict's other assertions take one death per agent, as the runner's deaths are.)
  BOOST_TEST(judge(run).duplicate_alerts == 0u);
}

// One delivery of event `id`, begun at run second `s`, in whole seconds as webhook-timestamp.
WebhookCopy copyOf(const std::string& id, double s) {
  const int64_t ms = toUnixMillis(at(s));
  return {id, "alert.opened", fromUnixMillis(ms / 1000 * 1000)};
}

BOOST_AUTO_TEST_CASE(a_webhook_delivered_twice_fails) {
  RunObservations run = baseRun();
  run.webhook_copies = {copyOf("msg_1", 30), copyOf("msg_2", 31)};
  BOOST_TEST(judge(run).passed());
  run.webhook_copies.push_back(copyOf("msg_1", 62));
  const Verdict v = judge(run);
  BOOST_TEST(v.double_deliveries == 1u);
  BOOST_TEST(v.redeliveries_after_kill == 0u);
  BOOST_TEST(mentions(v, "webhook msg_1 (alert.opened) delivered again"));
}

BOOST_AUTO_TEST_CASE(a_delivery_in_flight_on_a_killed_collector_may_come_again_once) {
  RunObservations run = baseRun();
  run.collector_interruptions = {at(30.5)};
  run.webhook_in_flight_per_collector = 1;
  // msg_1 was being delivered when its collector was killed; it comes again after the claim.
  run.webhook_copies = {copyOf("msg_1", 30.2), copyOf("msg_1", 62)};
  Verdict v = judge(run);
  BOOST_TEST(v.passed(), firstFailure(v));
  BOOST_TEST(v.redeliveries_after_kill == 1u);
  // A second one beside it is more than the killed collector could have had in flight.
  run.webhook_copies.push_back(copyOf("msg_2", 30.4));
  run.webhook_copies.push_back(copyOf("msg_2", 63));
  v = judge(run);
  BOOST_TEST(v.redeliveries_after_kill == 1u);
  BOOST_TEST(v.double_deliveries == 1u);
  // Nor does a kill excuse an event first delivered long before it, or delivered twice before.
  run = baseRun();
  run.collector_interruptions = {at(30.5)};
  run.webhook_copies = {copyOf("msg_1", 5), copyOf("msg_1", 62)};
  BOOST_TEST(judge(run).double_deliveries == 1u);
  run.webhook_copies = {copyOf("msg_1", 20), copyOf("msg_1", 25)};
  BOOST_TEST(judge(run).double_deliveries == 1u);
}

RunObservations clusterRun() {
  RunObservations run = baseRun();
  run.cluster.collectors = 3;
  run.cluster.admin_read_through = 3;
  run.rss_bound_bytes = 100 << 20;
  for (const char* name : {"collector-1", "collector-2", "collector-3"}) {
    run.cluster.usage.push_back({name, 50 << 20, 10, 0.2});
  }
  run.cluster.admin_writes = {{"maintenance window 1 (w0)", true, {}},
                              {"site 9 renamed lab-admin-writes-1", true, {}},
                              {"maintenance window 0 (w2)", false, {"collector-1"}}};
  return run;
}

BOOST_AUTO_TEST_CASE(an_acknowledged_admin_write_missing_on_a_collector_is_lost) {
  RunObservations run = clusterRun();
  Verdict v = judge(run);
  BOOST_TEST(v.passed(), firstFailure(v));
  BOOST_TEST(v.admin_writes_acknowledged == 2u);  // the refused one is not counted, nor lost
  run.cluster.admin_writes[0].missing_on = {"collector-3"};
  v = judge(run);
  BOOST_TEST(v.admin_writes_lost == 1u);
  BOOST_TEST(mentions(v,
                      "admin write lost: maintenance window 1 (w0) was acknowledged, not read "
                      "back on collector-3"));
}

BOOST_AUTO_TEST_CASE(each_collector_of_a_cluster_is_held_to_the_memory_bound) {
  RunObservations run = clusterRun();
  run.cluster.usage[1].peak_rss_bytes = 101 << 20;
  run.peak_rss_bytes = 60 << 20;  // the largest of the others: only collector-2 is over
  const Verdict v = judge(run);
  BOOST_TEST(mentions(v, "collector-2 peak RSS 101 MiB above the bound 100 MiB"));
}

BOOST_AUTO_TEST_CASE(a_cluster_that_does_not_settle_after_a_fault_fails) {
  RunObservations run = clusterRun();
  run.cluster.unsettled = {"db_heal collector-3: not settled in 120 s: shard 7 is not leased"};
  const Verdict v = judge(run);
  BOOST_TEST(mentions(v, "the cluster did not settle after db_heal collector-3"));
}

BOOST_AUTO_TEST_CASE(a_collector_that_exits_by_itself_fails_the_run) {
  RunObservations run = clusterRun();
  run.cluster.unexpected_exits = {"collector-1 exited by itself (signal 6); its log ends:\nfree()"};
  const Verdict v = judge(run);
  BOOST_TEST(mentions(v, "collector-1 exited by itself (signal 6)"));
}

BOOST_AUTO_TEST_CASE(cluster_steps_are_checked) {
  auto ok = parseScenario(R"({"name": "x", "fleet": {"agents": 10, "sites": 2},
      "cluster": {"collectors": 3}, "duration_s": 100, "timeline": [
        {"at_s": 10, "action": "collector_kill", "collector": "busiest"},
        {"at_s": 20, "action": "collector_start", "collector": "busiest"},
        {"at_s": 30, "action": "collector_add"},
        {"at_s": 40, "action": "db_cut", "collector": 4},
        {"at_s": 50, "action": "db_heal", "collector": 4},
        {"at_s": 60, "action": "pg_restart"}]})");
  BOOST_REQUIRE_MESSAGE(ok.ok(), (ok.ok() ? "" : ok.error().message()));
  BOOST_TEST(ok->cluster.collectors == 3u);
  BOOST_TEST(ok->cluster.slots() == 4u);
  BOOST_TEST(ok->timeline.front().collector == kBusiest);
  // Collector 4 before it was added; a cluster's step in a single collector's scenario; a
  // single collector's step in a cluster; a cluster of one.
  BOOST_TEST(!parseScenario(R"({"name": "x", "fleet": {"agents": 10, "sites": 2},
      "cluster": {"collectors": 3}, "timeline": [{"at_s": 1, "action": "db_cut", "collector": 4}]})")
                  .ok());
  BOOST_TEST(!parseScenario(R"({"name": "x", "fleet": {"agents": 10, "sites": 2},
      "timeline": [{"at_s": 1, "action": "pg_restart"}]})")
                  .ok());
  BOOST_TEST(!parseScenario(R"({"name": "x", "fleet": {"agents": 10, "sites": 2},
      "cluster": {"collectors": 3}, "timeline": [{"at_s": 1, "action": "store_full_start"}]})")
                  .ok());
  BOOST_TEST(!parseScenario(R"({"name": "x", "fleet": {"agents": 10, "sites": 2},
      "cluster": {"collectors": 1}, "timeline": []})")
                  .ok());
}

// --- The availability report against the truth (docs/scenarios.md). ---

// baseRun() with its availability report read: nobody down, the collector never degraded.
RunObservations reportedRun() {
  RunObservations run = baseRun();
  run.availability.asked = true;
  run.availability.requests = 1;
  run.availability.from = kStart;
  run.availability.measured_to = at(120);
  for (const RunAgent& a : run.agents) run.availability.agents[a.id].window_to = at(120);
  return run;
}

// ag_b dies at 50, 70 s before the window's end; the detection bound is 6 s (three intervals
// of 2 s, no tick known).
RunObservations deadAgentReported(double down_s, double degraded_s, uint32_t incidents) {
  RunObservations run = reportedRun();
  die(run, 1, 50);
  alert(run, offline(1, "ag_b", 55));
  ReportedAvailability& a = run.availability.agents["ag_b"];
  a.down_s = down_s;
  a.degraded_s = degraded_s;
  a.incidents = incidents;
  return run;
}

BOOST_AUTO_TEST_CASE(an_availability_report_true_to_the_run_passes) {
  RunObservations run = deadAgentReported(68, 0, 1);  // overdue at 52
  // A freeze from 30 to 40, reported apart from the last on-time tick to its recovery's end.
  run.collector_down.push_back({at(30), at(40), {"frozen"}});
  run.injected.push_back({at(30), at(40), {"injected: collector_freeze"}});
  run.availability.collector_degraded.push_back({at(29.5), at(42), {"tick_late"}});
  run.availability.agents["ag_a"].down_s = 1.0;  // the rounding
  const Verdict v = judge(run);
  BOOST_TEST(v.passed(), firstFailure(v));
  BOOST_TEST(v.availability_degraded_s == 12.5, boost::test_tools::tolerance(1e-6));
  BOOST_TEST(v.living_agents_judged == 3u);
  BOOST_TEST(v.living_down_max_s == 1.0);
  BOOST_TEST(v.dead_agents_judged == 1u);
  BOOST_TEST(v.dead_down_max_error_s == 2.0, boost::test_tools::tolerance(1e-6));
  const std::string table = reportTable(run, v);
  BOOST_TEST(table.find("| availability report: collector degraded s | 12.5 (1 spans)") !=
                 std::string::npos,
             table);
  BOOST_TEST(
      table.find("| downtime of living agents (max) s  | 1.0 (3 agents)") != std::string::npos,
      table);
  BOOST_TEST(
      table.find(
          "| downtime of dead agents vs truth (max error) s | 2.0 (-2.0 to -2.0, 1 agents)") !=
          std::string::npos,
      table);
  BOOST_TEST(reportJson(run, v).find(R"("dead_down_max_error_s":2)") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(downtime_for_a_living_agent_fails) {
  RunObservations run = reportedRun();
  run.availability.agents["ag_c"].down_s = 6.5;  // the collector's freeze, counted as ag_c's
  run.availability.agents["ag_c"].incidents = 1;
  const Verdict v = judge(run);
  BOOST_TEST(v.living_agents_down == 1u);
  BOOST_TEST(v.living_down_max_s == 6.5);
  BOOST_TEST(mentions(v,
                      "downtime for a living agent: agent ag_c never died, the availability "
                      "report gives it 6.5 s down in 1 incident(s)"));
}

BOOST_AUTO_TEST_CASE(a_cut_off_agent_is_down_for_the_report_and_not_judged) {
  RunObservations run = reportedRun();
  for (TruthEvent::Kind kind : {TruthEvent::Kind::kPartitioned, TruthEvent::Kind::kPartitionOver}) {
    TruthEvent e;
    e.agent = 3;
    e.kind = kind;
    e.at = at(kind == TruthEvent::Kind::kPartitioned ? 30 : 60);
    run.truth.push_back(e);
  }
  SeenAlert site;
  site.id = 7;
  site.kind = "site_unreachable";
  site.state = "resolved";
  site.site_id = 11;
  site.opened_at = at(40);
  alert(run, site);
  run.availability.agents["ag_d"].down_s = 25;  // UNREACHABLE
  const Verdict v = judge(run);
  BOOST_TEST(v.passed(), firstFailure(v));
  BOOST_TEST(v.living_agents_judged == 3u);
}

BOOST_AUTO_TEST_CASE(the_collectors_own_outage_not_reported_apart_fails) {
  RunObservations run = reportedRun();
  run.collector_down.push_back({at(30), at(40), {"frozen"}});
  run.injected.push_back({at(30), at(40), {"injected: collector_freeze"}});
  // Covered but for the rounding at each end.
  run.availability.collector_degraded = {{at(30.8), at(39.3), {"tick_late"}}};
  Verdict v = judge(run);
  BOOST_TEST(v.passed(), firstFailure(v));
  // Two spans that meet cover it as one.
  run.availability.collector_degraded = {{at(35), at(41), {"warm_up"}},
                                         {at(29), at(35), {"tick_late"}}};
  v = judge(run);
  BOOST_TEST(v.passed(), firstFailure(v));
  // A span that ends before the collector's outage did: the rest would count as the agents'.
  run.availability.collector_degraded = {{at(29), at(36), {"tick_late"}}};
  v = judge(run);
  BOOST_TEST(v.outages_not_reported_apart == 1u);
  BOOST_TEST(mentions(v,
                      "collector's own outage not reported apart: the runner's +30.0 s to +40.0 s "
                      "(frozen) is not within the availability report's collector_degraded spans "
                      "(overlapping: +29.0 s to +36.0 s (tick_late))"));
  // Or none at all.
  run.availability.collector_degraded.clear();
  v = judge(run);
  BOOST_TEST(mentions(v, "collector_degraded spans (none overlaps it)"));
}

BOOST_AUTO_TEST_CASE(a_dead_agents_downtime_off_the_truth_fails) {
  BOOST_TEST(judge(deadAgentReported(71, 0, 1)).passed());   // 70 s and 1 s of rounding
  BOOST_TEST(judge(deadAgentReported(64, 0, 1)).passed());   // 70 s less 6 s of detection
  BOOST_TEST(judge(deadAgentReported(54, 10, 1)).passed());  // and less its degraded time
  Verdict v = judge(deadAgentReported(72, 0, 1));
  BOOST_TEST(v.dead_agents_wrong == 1u);
  BOOST_TEST(v.dead_down_max_error_s == 2.0, boost::test_tools::tolerance(1e-6));
  BOOST_TEST(v.dead_down_error_max_s == 2.0, boost::test_tools::tolerance(1e-6));
  BOOST_TEST(mentions(v,
                      "downtime of a dead agent: agent ag_b died at +50.0 s, 70.0 s before its "
                      "window's end; the availability report gives 72.0 s down, above the 71.0 s "
                      "at most (the 70.0 s and 1 s of rounding)"));
  v = judge(deadAgentReported(53, 10, 1));
  BOOST_TEST(mentions(v,
                      "the availability report gives 53.0 s down, below the 54.0 s at least (the "
                      "70.0 s less 6.0 s of detection and its 10.0 s of collector_degraded)"));
  v = judge(deadAgentReported(68, 0, 0));
  BOOST_TEST(mentions(v, "the availability report gives it no incident"));
}

BOOST_AUTO_TEST_CASE(an_availability_report_unread_or_without_an_agent_fails) {
  RunObservations run = reportedRun();
  run.availability.error = "GET /api/v1/reports/availability?tenant_id=1: 404";
  BOOST_TEST(
      mentions(judge(run), "availability report not read: GET /api/v1/reports/availability"));
  run = reportedRun();
  run.availability.agents.erase("ag_d");
  BOOST_TEST(mentions(judge(run), "agent ag_d missing from the availability report"));
}

BOOST_AUTO_TEST_CASE(the_availability_report_is_read_as_the_api_writes_it) {
  const std::string body = R"({
    "tenant": {"id": 1, "name": "Acme"}, "site": null, "agent_id": null, "time_zone": "UTC",
    "period": {"from": "2026-03-01T00:00:00.000Z", "to": "2026-03-01T01:00:00.000Z",
               "from_local": "2026-03-01T00:00:00+00:00", "to_local": "2026-03-01T01:00:00+00:00",
               "seconds": 3600, "measured_to": "2026-03-01T00:30:00.000Z"},
    "collector_degraded": [
      {"from": "2026-03-01T00:10:00.000Z", "to": "2026-03-01T00:11:35.200Z", "seconds": 95.2,
       "reasons": ["tick_late"]},
      {"from": "2026-03-01T00:11:35.2Z", "to": "2026-03-01T00:12:00Z", "seconds": 24.8,
       "reasons": ["warm_up", "tick_late"]}],
    "totals": {"agents": 2, "online_seconds": 3000, "down_seconds": 312.5,
               "maintenance_seconds": 0, "shutdown_seconds": 0,
               "collector_degraded_seconds": 240, "unmonitored_seconds": 0,
               "availability": 0.9, "incidents": 1},
    "agents": [
      {"agent_id": "ag_a", "hostname": "a", "agent_class": "server", "site_id": 3,
       "site_name": "HQ", "retired": false,
       "window": {"from": "2026-03-01T00:00:00.000Z", "to": "2026-03-01T00:30:00.000Z"},
       "online_seconds": 1367.5, "down_seconds": 312.5, "maintenance_seconds": 0,
       "shutdown_seconds": 0, "collector_degraded_seconds": 120, "unmonitored_seconds": 0,
       "availability": 0.81,
       "incidents": [{"start": "2026-03-01T00:24:47.500Z", "end": null, "down_seconds": 312.5,
                      "status": "OFFLINE", "reason": "confirmed_silent", "cause": "silent",
                      "diary_cause": ""}]},
      {"agent_id": "ag_b", "hostname": "b", "agent_class": "workstation", "site_id": 3,
       "site_name": "HQ", "retired": true,
       "window": {"from": "2026-03-01T00:00:00.000Z", "to": "2026-03-01T00:20:00.000Z"},
       "online_seconds": 1080, "down_seconds": 0, "maintenance_seconds": 0,
       "shutdown_seconds": 0, "collector_degraded_seconds": 120, "unmonitored_seconds": 0,
       "availability": 1.0, "incidents": []}]})";
  AvailabilityObservations r;
  const Status read = addAvailabilityReport(body, r);
  BOOST_REQUIRE_MESSAGE(read.ok(), read.message());
  const WallTime t0 = *parseCollectorTime("2026-03-01T00:00:00.000Z");
  auto at_s = [&](double s) {
    return t0 + std::chrono::duration_cast<WallTime::duration>(std::chrono::duration<double>(s));
  };
  BOOST_TEST((r.measured_to == at_s(1800)));
  BOOST_REQUIRE(r.collector_degraded.size() == 1u);  // the two meet: one span
  BOOST_TEST((r.collector_degraded[0].from == at_s(600)));
  BOOST_TEST((r.collector_degraded[0].to == at_s(720)));
  BOOST_TEST((r.collector_degraded[0].reasons == std::vector<std::string>{"tick_late", "warm_up"}));
  BOOST_REQUIRE(r.agents.size() == 2u);
  BOOST_TEST(r.agents["ag_a"].down_s == 312.5);
  BOOST_TEST(r.agents["ag_a"].degraded_s == 120);
  BOOST_TEST(r.agents["ag_a"].incidents == 1u);
  BOOST_TEST((r.agents["ag_a"].window_to == at_s(1800)));
  BOOST_TEST((r.agents["ag_b"].window_to == at_s(1200)));  // retired
  BOOST_TEST(r.agents["ag_b"].incidents == 0u);
  BOOST_TEST(
      !addAvailabilityReport(R"({"v": 1, "error": "invalid_field", "message": "x"})", r).ok());
}

}  // namespace
}  // namespace vigil::fleetsim
