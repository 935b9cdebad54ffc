#pragma once

// What a scenario run observed, the verdict on it (docs/scenarios.md, "What every scenario
// asserts") and the report: one JSON document and a readable table.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.h"
#include "tools/fleetsim/office_verdict.h"
#include "tools/fleetsim/scenario.h"
#include "tools/fleetsim/sim_fleet.h"

namespace vigil::fleetsim {

// An alert as the collector reported it (webhook or API).
struct SeenAlert {
  int64_t id = 0;
  std::string kind;  // device_offline, site_unreachable, flapping
  std::string state;
  std::string agent_id;  // device and flapping alerts
  int64_t site_id = 0;   // site alerts
  WallTime opened_at;
  std::optional<WallTime> closed_at;  // the API's closed_at; unset while open (and in webhooks
                                      // of alert.opened)
  std::optional<WallTime> held_since;
};

struct DegradedPeriod {
  WallTime from;
  WallTime to;  // the end of the run if it never recovered
  std::vector<std::string> reasons;
};

// An agent of the run, simulated or real.
struct RunAgent {
  std::string id;
  std::string site_label;
  bool real = false;
};

// One delivery of a webhook event as the receiver got it (its signature checked).
struct WebhookCopy {
  std::string id;  // webhook-id: the same for every delivery of one event
  std::string type;
  // webhook-timestamp: when the sending collector began the attempt, in whole seconds.
  WallTime attempt_at;
};

// A collector as the runner's sampler saw it over all its lives.
struct CollectorUsage {
  std::string name;
  uint64_t peak_rss_bytes = 0;
  double cpu_seconds = 0;
  double peak_cpu_share = 0;  // of one core, over a sampling period
};

// An admin write the runner made through HAProxy while the faults went on, and what reading
// it back through each collector directly at the end found.
struct AdminWrite {
  std::string what;                     // "maintenance window 12", "site 7 renamed lab-writes-3"
  bool acknowledged = false;            // answered 2xx: it must not be lost
  std::vector<std::string> missing_on;  // collectors that did not read it back
};

// PostgreSQL's own counters of the database (pg_stat_database), over a period.
struct DatabaseCounters {
  uint64_t commits = 0;  // xact_commit
  uint64_t inserted = 0;
  uint64_t updated = 0;
  uint64_t deleted = 0;
};

// What a run against a cluster of collectors observed besides the rest.
struct ClusterObservations {
  uint32_t collectors = 0;            // at the start; 0: one collector, not a cluster
  std::vector<CollectorUsage> usage;  // per collector
  std::vector<AdminWrite> admin_writes;
  uint32_t admin_read_through = 0;  // collectors every acknowledged write was read back through
  // Steps after which the cluster did not settle (every shard with its preferred collector,
  // loaded) within the bound, each with what was missing.
  std::vector<std::string> unsettled;
  // Collectors that exited without the runner's doing (a crash), with their logs' last lines.
  std::vector<std::string> unexpected_exits;
  DatabaseCounters database;  // from the fleet's start to the end of the read-back
  double database_seconds = 0;
  double database_cpu_seconds = 0;      // PostgreSQL's processes over the same period
  std::vector<std::string> front_door;  // HAProxy's and the beacon forwarder's counters
};

// An agent as the collector's availability report (GET /api/v1/reports/availability) gives it.
struct ReportedAvailability {
  double down_s = 0;
  double degraded_s = 0;  // its collector_degraded_seconds
  uint32_t incidents = 0;
  WallTime window_to;  // the end of its window: the period's measured end, or its retirement
};

// The collector's availability report for the run's tenant over the fleet's run, read at the
// end (a single collector's run): one request, or one per site for more agents than one report
// may hold.
struct AvailabilityObservations {
  bool asked = false;  // judged only then
  std::string error;   // why it could not be read whole: a failure
  uint32_t requests = 0;
  WallTime from;
  WallTime measured_to;
  std::vector<DegradedPeriod> collector_degraded;      // its spans, united, with their reasons
  std::map<std::string, ReportedAvailability> agents;  // by agent id
};

// Everything the verdict needs.
struct RunObservations {
  std::string scenario;
  std::string replays;
  uint32_t simulated_agents = 0;
  uint32_t real_agents = 0;    // on loopback, in site-0
  uint32_t office_agents = 0;  // in the offices' network namespaces
  double interval_s = 0;       // the run's heartbeat interval (scaled)
  // Detection is judged against this span plus two ticks; 0: three heartbeat intervals.
  double detection_span_s = 0;
  std::string detection_span_text;  // "3 beacon intervals"
  double tick_s = 0;                // the presence engine's tick (verdicts come at the tick after a
                                    // deadline); 0: not known, no allowance
  double scale = 1;                 // run seconds per real-world second
  double wall_seconds = 0;          // how long the run took
  WallTime fleet_started;
  WallTime timeline_end;    // deaths after it are not judged
  WallTime observed_until;  // alerts were read up to here
  std::vector<RunAgent> agents;
  std::map<std::string, int64_t> site_ids;  // label -> collector site id
  std::vector<TruthEvent> truth;            // agent = index into `agents`
  std::vector<SeenAlert> webhook_alerts;    // alert.opened as delivered
  std::vector<SeenAlert> api_alerts;        // every alert the API lists at the end
  std::vector<WebhookCopy> webhook_copies;  // every delivery of every event
  // The runner's SIGKILLs and SIGSTOPs of a collector and its cuts from the database: a
  // delivery in flight on it may come again (at least once: its claim runs out while the
  // collector cannot record the outcome, and another collector sends it; docs/webhooks.md).
  std::vector<WallTime> collector_interruptions;
  // Deliveries a collector may have in flight to the run's one receiver at once
  // (webhooks.maxInFlightPerDestination, at most webhooks.workers), each begun at most
  // webhooks.attemptTimeoutSeconds before it ends.
  uint32_t webhook_in_flight_per_collector = 1;
  double webhook_attempt_timeout_s = 15;
  std::vector<DegradedPeriod> degraded;
  // When the collector could not work at all (killed, restarting, stopped by SIGSTOP), as the
  // runner saw it: a death there is judged from the end of the window, like a degraded period.
  std::vector<DegradedPeriod> collector_down;
  // What the runner did that may degrade the collector, as it did it: each fault of the
  // timeline from its start to its end, the first start of the collector with the setup that
  // follows (enrollment) until the fleet runs, and a start after the timeline until it
  // answered. reasons[0] names it. The collector may be degraded only there (and for the
  // recovery after them).
  std::vector<DegradedPeriod> injected;
  std::map<std::string, std::string> final_status;  // agent id -> status
  FleetStats fleet;
  ReturnStats returns;               // how the fleet came back after the collector's last return
  SurgeBounds surge;                 // the scenario's bounds on that return (judged if set)
  uint64_t shed_requests = 0;        // by the collector, all classes, all its lives
  uint64_t refused_connections = 0;  // counted by the collector
  uint64_t peak_rss_bytes = 0;
  double cpu_seconds = 0;
  double peak_cpu_share = 0;  // of one core, over a sampling period
  uint64_t rss_bound_bytes = 0;
  bool settings_unchanged = true;
  std::string settings_note;
  uint64_t outbox_pending_at_end = 0;
  std::vector<std::string> notes;  // what the runner saw along the way
  OfficeRun offices;               // the offices' faults, judged round by round
  AvailabilityObservations availability;
  ClusterObservations cluster;
};

struct Verdict {
  uint64_t false_offline_alerts = 0;
  uint64_t false_site_alerts = 0;
  uint64_t true_failures = 0;
  uint64_t missed_failures = 0;
  uint64_t expected_site_alerts = 0;
  uint64_t missed_site_alerts = 0;
  uint64_t wrong_status_at_end = 0;  // alive but not ONLINE, or dead but ONLINE
  std::vector<double> detection_s;   // per detected failure
  double detection_p50_s = 0;
  double detection_p99_s = 0;
  double detection_max_s = 0;
  double detection_bound_s = 0;  // three intervals and two ticks
  // From the death itself, degraded periods and downtime included: what an admin waited.
  double detection_from_death_p99_s = 0;
  double detection_from_death_max_s = 0;
  // From the death, or from the end (and recovery) of an injected fault that overlaps the
  // wait: like detection_s, but blind to what the collector said of its own health.
  double detection_from_faults_p99_s = 0;
  uint64_t degraded_outside_faults = 0;  // degraded periods no injected fault explains
  double ingest_p50_ms = 0;
  double ingest_p99_ms = 0;
  double peak_ingest_lag_ms = 0;
  double server_p99_ms = 0;
  uint64_t alerts_lost = 0;  // notified by one channel (API / webhook) and not the other
  // The collector's return (when the timeline has one): refusals per agent, and how long the
  // living agents took to be accepted again.
  uint32_t max_refusals_per_agent = 0;
  uint64_t agents_refused_twice = 0;
  double back_p50_s = 0;
  double back_p99_s = 0;
  double back_max_s = 0;
  double back_bound_s = 0;  // surge.back_within_intervals heartbeat intervals and 0.5 s for the
                            // request; 0: not judged
  uint64_t agents_not_back = 0;
  // Alerts opened for a death that already had one (one device_offline alert per agent and
  // death at most).
  uint64_t duplicate_alerts = 0;
  // Deliveries of an event that had been delivered before: those a SIGKILL allows (the killed
  // collector's attempt in flight, sent again once its claim ran out), and the others.
  uint64_t redeliveries_after_kill = 0;
  uint64_t double_deliveries = 0;
  uint64_t admin_writes_acknowledged = 0;
  uint64_t admin_writes_lost = 0;  // acknowledged, and missing on at least one collector
  // The availability report against the truth: the collector's own degraded time, the downtime
  // it gives living agents (never dead, never cut off), and for each agent dead to the end
  // |down_s - (end of its window - death)|.
  double availability_degraded_s = 0;  // the report's collector_degraded spans, in all
  uint64_t living_agents_judged = 0;
  double living_down_max_s = 0;
  uint64_t living_agents_down = 0;  // with more than 1 s of downtime
  uint64_t dead_agents_judged = 0;
  double dead_down_max_error_s = 0;
  double dead_down_error_min_s = 0;  // down_s - truth: below 0 the report gives less, above more
  double dead_down_error_max_s = 0;
  uint64_t dead_agents_wrong = 0;            // downtime out of bounds or no incident
  uint64_t outages_not_reported_apart = 0;   // the collector's, outside its degraded spans
  std::vector<std::string> failures;         // one line per assertion that did not hold
  std::vector<std::string> office_timeline;  // the offices' rounds and their alerts
  bool passed() const { return failures.empty(); }
};

Verdict judge(const RunObservations& run);

// The report as one JSON document.
std::string reportJson(const RunObservations& run, const Verdict& verdict);
// The report as a table for a terminal or a Markdown file.
std::string reportTable(const RunObservations& run, const Verdict& verdict);

double percentile(std::vector<double> values, double p);

// "+12.0 s to +40.5 s (warm_up, tick_late)": seconds from the fleet's start.
std::string periodText(const RunObservations& run, const DegradedPeriod& d);
// `periods` as their union: sorted, overlapping or touching ones merged with their reasons.
std::vector<DegradedPeriod> unite(std::vector<DegradedPeriod> periods);

}  // namespace vigil::fleetsim
