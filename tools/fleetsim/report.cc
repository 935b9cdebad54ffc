#include "tools/fleetsim/report.h"

#include <cjson/cJSON.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <set>
#include <sstream>
#include <unordered_map>

#include "common/json.h"
#include "common/time_format.h"
#include "tools/fleetsim/cluster_verdict.h"

namespace vigil::fleetsim {
namespace {

double secondsBetween(WallTime from, WallTime to) {
  return std::chrono::duration<double>(to - from).count();
}

struct Window {
  WallTime from;
  WallTime to;
};

// Per agent: when it was dead, and when it was cut off from the collector, from the truth.
struct AgentHistory {
  std::vector<Window> dead;
  std::vector<Window> partitioned;
};

std::vector<AgentHistory> histories(const RunObservations& run) {
  std::vector<AgentHistory> h(run.agents.size());
  const WallTime open_end = WallTime::max();
  for (const TruthEvent& e : run.truth) {
    if (e.agent >= h.size()) continue;
    AgentHistory& a = h[e.agent];
    switch (e.kind) {
      case TruthEvent::Kind::kDied:
        a.dead.push_back({e.at, open_end});
        break;
      case TruthEvent::Kind::kRevived:
        if (!a.dead.empty() && a.dead.back().to == open_end) a.dead.back().to = e.at;
        break;
      case TruthEvent::Kind::kPartitioned:
        a.partitioned.push_back({e.at, open_end});
        break;
      case TruthEvent::Kind::kPartitionOver:
        if (!a.partitioned.empty() && a.partitioned.back().to == open_end) {
          a.partitioned.back().to = e.at;
        }
        break;
      default:
        break;  // paused agents and lost channels are alive
    }
  }
  return h;
}

const Window* covering(const std::vector<Window>& windows, WallTime t) {
  for (const Window& w : windows) {
    if (w.from <= t && t < w.to) return &w;
  }
  return nullptr;
}

std::string fmt(double v, int decimals = 1) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

// "+1.0", "-2.4", "0.0".
std::string signedFmt(double v) { return (std::round(v * 10) > 0 ? "+" : "") + fmt(v); }

// PostgreSQL's work over the run: commits a second, and rows written (inserted, updated,
// deleted) per 1,000 agents and minute.
struct DatabaseRates {
  double commits_per_s = 0;
  double rows_per_1000_agents_min = 0;
};

DatabaseRates databaseRates(const RunObservations& run) {
  DatabaseRates r;
  const ClusterObservations& c = run.cluster;
  const double agents = static_cast<double>(run.simulated_agents + run.real_agents);
  if (c.database_seconds <= 0 || agents <= 0) return r;
  const double rows =
      static_cast<double>(c.database.inserted + c.database.updated + c.database.deleted);
  r.commits_per_s = static_cast<double>(c.database.commits) / c.database_seconds;
  r.rows_per_1000_agents_min = rows / (agents / 1000.0) / (c.database_seconds / 60.0);
  return r;
}

}  // namespace

double percentile(std::vector<double> values, double p) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  const size_t rank = static_cast<size_t>(std::ceil(p * static_cast<double>(values.size())));
  return values[std::min(values.size() - 1, rank == 0 ? 0 : rank - 1)];
}

std::string periodText(const RunObservations& run, const DegradedPeriod& d) {
  std::string reasons;
  for (const std::string& r : d.reasons) reasons += (reasons.empty() ? "" : ", ") + r;
  auto since_start = [&](WallTime t) {
    const double s = secondsBetween(run.fleet_started, t);
    return (s < 0 ? "" : "+") + fmt(s) + " s";
  };
  return since_start(d.from) + " to " + since_start(d.to) + " (" +
         (reasons.empty() ? std::string("no reason given") : reasons) + ")";
}

std::vector<DegradedPeriod> unite(std::vector<DegradedPeriod> periods) {
  std::sort(periods.begin(), periods.end(),
            [](const DegradedPeriod& a, const DegradedPeriod& b) { return a.from < b.from; });
  std::vector<DegradedPeriod> out;
  for (DegradedPeriod& p : periods) {
    if (out.empty() || p.from > out.back().to) {
      out.push_back(std::move(p));
      continue;
    }
    DegradedPeriod& last = out.back();
    last.to = std::max(last.to, p.to);
    for (std::string& r : p.reasons) {
      if (std::find(last.reasons.begin(), last.reasons.end(), r) == last.reasons.end()) {
        last.reasons.push_back(std::move(r));
      }
    }
  }
  return out;
}

namespace {

// The collector's return (a restart in the timeline): refusals per agent over the run, and the
// time each living agent took to be accepted again; against the scenario's surge bounds.
void judgeReturn(const RunObservations& run, Verdict& v) {
  const ReturnStats& r = run.returns;
  v.max_refusals_per_agent = r.max_refusals_per_agent;
  v.agents_refused_twice = r.agents_refused_twice;
  v.agents_not_back = r.agents_not_back;
  if (!r.marked) return;
  v.back_p50_s = percentile(r.back_after_s, 0.50);
  v.back_p99_s = percentile(r.back_after_s, 0.99);
  v.back_max_s =
      r.back_after_s.empty() ? 0 : *std::max_element(r.back_after_s.begin(), r.back_after_s.end());
  if (!run.surge.judged) return;
  // An agent's backoff is capped at its interval; the allowance is its request's own time.
  constexpr double kRequestAllowanceS = 0.5;
  v.back_bound_s = run.surge.back_within_intervals * run.interval_s + kRequestAllowanceS;
  if (r.max_refusals_per_agent > run.surge.max_refusals_per_agent) {
    v.failures.push_back(
        std::to_string(run.surge.max_refusals_per_agent == 1 ? r.agents_refused_twice
                                                             : r.agents_refused) +
        " agents refused more than " + std::to_string(run.surge.max_refusals_per_agent) +
        " time(s); the most, " + std::to_string(r.max_refusals_per_agent));
  }
  if (r.agents_not_back > 0) {
    v.failures.push_back(std::to_string(r.agents_not_back) +
                         " living agents never accepted again after the collector's return");
  }
  if (v.back_max_s > v.back_bound_s) {
    const auto late = std::count_if(r.back_after_s.begin(), r.back_after_s.end(),
                                    [&](double s) { return s > v.back_bound_s; });
    v.failures.push_back(std::to_string(late) + " agents back later than " + fmt(v.back_bound_s) +
                         " s after the collector's return (the last after " + fmt(v.back_max_s) +
                         " s)");
  }
}

// At most one device_offline alert per agent and death: a death is alerted once, and a
// collector that takes an agent's shard over keeps the alert it finds open.
void judgeDuplicateAlerts(const RunObservations& run, const std::vector<AgentHistory>& history,
                          const std::unordered_map<std::string, uint32_t>& index, Verdict& v) {
  // Notified alerts: delivered as alert.opened, or listed open or resolved. An alert held
  // while the collector was degraded and released (dropped) was never opened.
  std::map<uint32_t, std::map<int64_t, WallTime>> opened;  // agent -> alert id -> opened at
  for (const auto* alerts : {&run.webhook_alerts, &run.api_alerts}) {
    for (const SeenAlert& a : *alerts) {
      auto it = index.find(a.agent_id);
      const bool notified =
          alerts == &run.webhook_alerts || a.state == "open" || a.state == "resolved";
      if (a.kind == "device_offline" && notified && it != index.end()) {
        opened[it->second][a.id] = a.opened_at;
      }
    }
  }
  uint64_t deaths_alerted_twice = 0;
  for (const auto& [agent, alerts] : opened) {
    for (const Window& death : history[agent].dead) {
      const auto n =
          static_cast<uint64_t>(std::count_if(alerts.begin(), alerts.end(), [&](const auto& a) {
            return death.from <= a.second && a.second < death.to;
          }));
      if (n <= 1) continue;
      v.duplicate_alerts += n - 1;
      if (++deaths_alerted_twice <= 5) {
        std::string which;
        for (const auto& [id, at] : alerts) {
          if (death.from <= at && at < death.to) {
            which += (which.empty() ? "" : ", ") + std::to_string(id) + " at +" +
                     fmt(secondsBetween(run.fleet_started, at)) + " s";
          }
        }
        v.failures.push_back("duplicate alerts: " + std::to_string(n) +
                             " device_offline alerts for one death of agent " +
                             run.agents[agent].id + " (" + which + ")");
      }
    }
  }
  if (deaths_alerted_twice > 5) {
    v.failures.push_back(std::to_string(v.duplicate_alerts) + " duplicate alerts in all");
  }
}

// The collector's availability report against the truth (a single collector's run): its own
// outages (the runner's kills, freezes and restarts) reported apart as collector_degraded and
// never as the customer's downtime; no downtime for a living agent; a dead agent's downtime
// that of its death, less at most the detection and the collector's degraded time.
void judgeAvailability(const RunObservations& run, const std::vector<AgentHistory>& history,
                       Verdict& v) {
  const AvailabilityObservations& report = run.availability;
  if (!report.asked) return;
  if (!report.error.empty()) {
    v.failures.push_back("availability report not read: " + report.error);
    return;
  }
  constexpr double kRoundingS = 1;  // the clocks' and the report's rounding
  const auto rounding = std::chrono::seconds(1);
  const std::vector<DegradedPeriod> reported = unite(report.collector_degraded);
  for (const DegradedPeriod& d : reported)
    v.availability_degraded_s += secondsBetween(d.from, d.to);

  // Each of the collector's outages the runner caused, shortened by the rounding at each end,
  // lies within one span of the union of the report's collector_degraded spans.
  for (const DegradedPeriod& outage : run.collector_down) {
    const WallTime from = outage.from + rounding;
    const WallTime to = outage.to - rounding;
    if (to <= from) continue;  // shorter than the rounding
    const bool inside = std::any_of(reported.begin(), reported.end(), [&](const DegradedPeriod& d) {
      return d.from <= from && to <= d.to;
    });
    if (inside) continue;
    ++v.outages_not_reported_apart;
    std::string overlapping;
    for (const DegradedPeriod& d : reported) {
      if (d.from < outage.to && outage.from < d.to) {
        overlapping += (overlapping.empty() ? "" : "; ") + periodText(run, d);
      }
    }
    v.failures.push_back(
        "collector's own outage not reported apart: the runner's " + periodText(run, outage) +
        " is not within the availability report's collector_degraded spans (" +
        (overlapping.empty() ? std::string("none overlaps it") : "overlapping: " + overlapping) +
        ")");
  }

  uint64_t missing = 0;
  for (uint32_t i = 0; i < run.agents.size(); ++i) {
    const AgentHistory& h = history[i];
    // A cut-off agent is down for the collector (UNREACHABLE), as the report says: it is judged
    // by neither rule; nor is one that died and came back.
    if (!h.partitioned.empty()) continue;
    const bool living = h.dead.empty();
    const bool dead_to_the_end =
        h.dead.size() == 1 && h.dead[0].to == WallTime::max() && h.dead[0].from <= run.timeline_end;
    if (!living && !dead_to_the_end) continue;
    const std::string& id = run.agents[i].id;
    auto it = report.agents.find(id);
    if (it == report.agents.end()) {
      if (++missing <= 5)
        v.failures.push_back("agent " + id + " missing from the availability report");
      continue;
    }
    const ReportedAvailability& a = it->second;
    if (living) {
      ++v.living_agents_judged;
      v.living_down_max_s = std::max(v.living_down_max_s, a.down_s);
      if (a.down_s > kRoundingS && ++v.living_agents_down <= 5) {
        v.failures.push_back("downtime for a living agent: agent " + id +
                             " never died, the availability report gives it " + fmt(a.down_s) +
                             " s down in " + std::to_string(a.incidents) + " incident(s)");
      }
      continue;
    }
    ++v.dead_agents_judged;
    const WallTime died = h.dead[0].from;
    const double truth_s = secondsBetween(died, a.window_to);
    const double error_s = a.down_s - truth_s;
    v.dead_down_max_error_s = std::max(v.dead_down_max_error_s, std::abs(error_s));
    v.dead_down_error_min_s =
        v.dead_agents_judged == 1 ? error_s : std::min(v.dead_down_error_min_s, error_s);
    v.dead_down_error_max_s =
        v.dead_agents_judged == 1 ? error_s : std::max(v.dead_down_error_max_s, error_s);
    const double most = truth_s + kRoundingS;
    const double least = truth_s - v.detection_bound_s - a.degraded_s;
    std::string wrong;
    if (a.down_s > most) {
      wrong = fmt(a.down_s) + " s down, above the " + fmt(most) + " s at most (the " +
              fmt(truth_s) + " s and 1 s of rounding)";
    } else if (a.down_s < least) {
      wrong = fmt(a.down_s) + " s down, below the " + fmt(least) + " s at least (the " +
              fmt(truth_s) + " s less " + fmt(v.detection_bound_s) + " s of detection and its " +
              fmt(a.degraded_s) + " s of collector_degraded)";
    } else if (a.incidents == 0) {
      wrong = "it no incident";
    }
    if (wrong.empty()) continue;
    if (++v.dead_agents_wrong <= 5) {
      v.failures.push_back("downtime of a dead agent: agent " + id + " died at +" +
                           fmt(secondsBetween(run.fleet_started, died)) + " s, " + fmt(truth_s) +
                           " s before its window's end; the availability report gives " + wrong);
    }
  }
  if (missing > 5) {
    v.failures.push_back(std::to_string(missing) + " agents missing from the availability report");
  }
  if (v.living_agents_down > 5) {
    v.failures.push_back(std::to_string(v.living_agents_down) +
                         " living agents with downtime in the availability report in all");
  }
  if (v.dead_agents_wrong > 5) {
    v.failures.push_back(std::to_string(v.dead_agents_wrong) +
                         " dead agents with a wrong downtime in the availability report in all");
  }
}

}  // namespace

Verdict judge(const RunObservations& run) {
  Verdict v;
  const std::vector<AgentHistory> history = histories(run);
  std::unordered_map<std::string, uint32_t> index;
  for (uint32_t i = 0; i < run.agents.size(); ++i) index[run.agents[i].id] = i;
  std::map<int64_t, std::string> site_label;
  for (const auto& [label, id] : run.site_ids) site_label[id] = label;
  // Three intervals (docs/presence.md), and the ticks the verdict waits for (it is taken at
  // the first tick after a deadline).
  v.detection_bound_s =
      (run.detection_span_s > 0 ? run.detection_span_s : 3 * run.interval_s) + 2 * run.tick_s;

  // The moment the collector could know: after the death, after any degraded period that
  // overlaps the wait, after the agent's own partition.
  // After a fault, the collector may stay degraded for its recovery period (one interval and
  // its jitter; docs/presence.md) and judge at its next ticks. A reason judged from late
  // agents (a mass suspect) may also begin up to two intervals (the lateness ceiling) after
  // the fault that caused it.
  const auto recovery = std::chrono::duration_cast<WallTime::duration>(
      std::chrono::duration<double>(1.1 * run.interval_s + 2 * run.tick_s));
  const auto late_reason = std::chrono::duration_cast<WallTime::duration>(
      std::chrono::duration<double>(2 * run.interval_s));

  // Like knowableFrom below, with the injected faults and their recovery in place of the
  // collector's own account of its health.
  auto knowableFromFaults = [&](uint32_t agent, WallTime died, WallTime opened) {
    WallTime t0 = died;
    for (const Window& p : history[agent].partitioned) {
      if (p.from <= t0 && t0 < p.to) t0 = std::min(p.to, opened);
    }
    for (const DegradedPeriod& f : run.injected) {
      if (f.from <= opened && f.to + recovery >= t0)
        t0 = std::max(t0, std::min(f.to + recovery, opened));
    }
    return t0;
  };

  auto knowableFrom = [&](uint32_t agent, WallTime died, WallTime opened) {
    WallTime t0 = died;
    for (const Window& p : history[agent].partitioned) {
      if (p.from <= t0 && t0 < p.to) t0 = std::min(p.to, opened);
    }
    for (const auto* periods : {&run.collector_down, &run.degraded}) {
      for (const DegradedPeriod& d : *periods) {
        if (d.from <= opened && d.to >= t0) t0 = std::max(t0, std::min(d.to, opened));
      }
    }
    return t0;
  };

  std::map<uint32_t, WallTime> first_offline_alert;
  std::vector<double> from_death;
  std::vector<double> from_faults;
  for (const SeenAlert& a : run.webhook_alerts) {
    if (a.kind == "device_offline") {
      auto it = index.find(a.agent_id);
      if (it == index.end()) {
        ++v.false_offline_alerts;
        v.failures.push_back("offline alert " + std::to_string(a.id) +
                             " for an agent not in the run");
        continue;
      }
      if (!covering(history[it->second].dead, a.opened_at)) {
        if (++v.false_offline_alerts <= 5)
          v.failures.push_back("false offline alert " + std::to_string(a.id) + ": agent " +
                               a.agent_id + " was alive at " +
                               formatRfc3339Utc(toUnixMillis(a.opened_at)));
        continue;
      }
      auto [pos, inserted] = first_offline_alert.emplace(it->second, a.opened_at);
      if (!inserted) pos->second = std::min(pos->second, a.opened_at);
    } else if (a.kind == "site_unreachable") {
      auto label = site_label.find(a.site_id);
      bool cut_off = false;
      if (label != site_label.end()) {
        for (uint32_t i = 0; i < run.agents.size(); ++i) {
          if (run.agents[i].site_label == label->second &&
              covering(history[i].partitioned, a.opened_at)) {
            cut_off = true;
            break;
          }
        }
      }
      if (!cut_off) {
        ++v.false_site_alerts;
        v.failures.push_back("site alert " + std::to_string(a.id) + " for site " +
                             std::to_string(a.site_id) + " that was not cut off");
      }
    }
  }

  // Every death before the end of the timeline must have been alerted.
  for (uint32_t i = 0; i < run.agents.size(); ++i) {
    for (const Window& d : history[i].dead) {
      if (d.from > run.timeline_end) continue;
      ++v.true_failures;
      auto alert = first_offline_alert.find(i);
      if (alert == first_offline_alert.end() || alert->second < d.from) {
        ++v.missed_failures;
        v.failures.push_back("missed failure: agent " + run.agents[i].id + " died at " +
                             formatRfc3339Utc(toUnixMillis(d.from)) + ", no offline alert");
        continue;
      }
      v.detection_s.push_back(
          std::max(0.0, secondsBetween(knowableFrom(i, d.from, alert->second), alert->second)));
      from_death.push_back(std::max(0.0, secondsBetween(d.from, alert->second)));
      from_faults.push_back(std::max(
          0.0, secondsBetween(knowableFromFaults(i, d.from, alert->second), alert->second)));
    }
  }
  v.detection_p50_s = percentile(v.detection_s, 0.50);
  v.detection_p99_s = percentile(v.detection_s, 0.99);
  v.detection_max_s =
      v.detection_s.empty() ? 0 : *std::max_element(v.detection_s.begin(), v.detection_s.end());
  v.detection_from_death_p99_s = percentile(from_death, 0.99);
  v.detection_from_death_max_s =
      from_death.empty() ? 0 : *std::max_element(from_death.begin(), from_death.end());
  if (v.detection_p99_s > v.detection_bound_s) {
    v.failures.push_back("detection latency p99 " + fmt(v.detection_p99_s) + " s above " +
                         fmt(v.detection_bound_s) + " s (" +
                         (run.detection_span_text.empty() ? std::string("three intervals")
                                                          : run.detection_span_text) +
                         ")");
  }
  v.detection_from_faults_p99_s = percentile(from_faults, 0.99);
  if (v.detection_from_faults_p99_s > v.detection_bound_s) {
    v.failures.push_back(
        "detection latency from the death (injected faults and their recovery "
        "excepted) p99 " +
        fmt(v.detection_from_faults_p99_s) + " s above " + fmt(v.detection_bound_s) + " s (" +
        (run.detection_span_text.empty() ? std::string("three intervals")
                                         : run.detection_span_text) +
        ")");
  }

  // The collector is degraded only where the runner made it so: each degraded period begins
  // within an injected fault (or the time its effect takes to show) and ends within its
  // recovery. Faults that overlap or follow each other closely count as one.
  std::vector<DegradedPeriod> explained = run.injected;
  std::sort(explained.begin(), explained.end(),
            [](const DegradedPeriod& a, const DegradedPeriod& b) { return a.from < b.from; });
  std::vector<Window> allowed;
  for (const DegradedPeriod& f : explained) {
    const WallTime until = f.to + late_reason + recovery;
    if (!allowed.empty() && f.from <= allowed.back().to) {
      allowed.back().to = std::max(allowed.back().to, until);
    } else {
      allowed.push_back({f.from - std::chrono::seconds(1), until});  // 1 s: clocks' rounding
    }
  }
  for (const DegradedPeriod& d : run.degraded) {
    const bool within = std::any_of(allowed.begin(), allowed.end(), [&](const Window& w) {
      return w.from <= d.from && d.to <= w.to;
    });
    if (within) continue;
    if (++v.degraded_outside_faults <= 5) {
      v.failures.push_back("collector degraded outside the injected faults, " + periodText(run, d));
    }
  }
  if (v.degraded_outside_faults > 5) {
    v.failures.push_back(std::to_string(v.degraded_outside_faults) +
                         " degraded periods outside the injected faults in all");
  }

  judgeDuplicateAlerts(run, history, index, v);
  judgeAvailability(run, history, v);

  // Every partitioned site must have had a site alert.
  std::set<std::string> partitioned_sites;
  for (const TruthEvent& e : run.truth) {
    if (e.kind == TruthEvent::Kind::kPartitioned && e.agent < run.agents.size()) {
      partitioned_sites.insert(run.agents[e.agent].site_label);
    }
  }
  for (const std::string& label : partitioned_sites) {
    ++v.expected_site_alerts;
    auto id = run.site_ids.find(label);
    const bool alerted =
        id != run.site_ids.end() &&
        std::any_of(run.webhook_alerts.begin(), run.webhook_alerts.end(), [&](const SeenAlert& a) {
          return a.kind == "site_unreachable" && a.site_id == id->second;
        });
    if (!alerted) {
      ++v.missed_site_alerts;
      v.failures.push_back("missed failure: site " + label + " was cut off, no site alert");
    }
  }

  // The status each agent ends with.
  for (uint32_t i = 0; i < run.agents.size(); ++i) {
    auto s = run.final_status.find(run.agents[i].id);
    const std::string status = s == run.final_status.end() ? "MISSING" : s->second;
    const bool dead = covering(history[i].dead, run.observed_until) != nullptr;
    const bool right = dead ? status == "OFFLINE" : status == "ONLINE";
    if (!right) {
      ++v.wrong_status_at_end;
      if (v.wrong_status_at_end <= 5) {
        v.failures.push_back("agent " + run.agents[i].id + " ends " + status + " but is " +
                             (dead ? "dead" : "alive"));
      }
    }
  }

  // Nothing lost: the alerts the API shows notified are the ones the webhooks delivered.
  std::set<int64_t> delivered;
  for (const SeenAlert& a : run.webhook_alerts) delivered.insert(a.id);
  std::set<int64_t> notified;
  for (const SeenAlert& a : run.api_alerts) {
    if (a.state == "open" || a.state == "resolved") notified.insert(a.id);
  }
  for (int64_t id : notified) {
    if (!delivered.count(id)) ++v.alerts_lost;
  }
  for (int64_t id : delivered) {
    if (!notified.count(id)) ++v.alerts_lost;
  }
  if (v.alerts_lost > 0) {
    v.failures.push_back(std::to_string(v.alerts_lost) +
                         " alerts differ between the API and the delivered webhooks");
  }
  if (run.outbox_pending_at_end > 0) {
    v.failures.push_back(std::to_string(run.outbox_pending_at_end) +
                         " webhook deliveries still pending at the end");
  }
  if (!run.settings_unchanged) v.failures.push_back("settings changed: " + run.settings_note);
  if (run.rss_bound_bytes > 0 && run.peak_rss_bytes > run.rss_bound_bytes) {
    v.failures.push_back("collector peak RSS " + std::to_string(run.peak_rss_bytes >> 20) +
                         " MiB above the bound " + std::to_string(run.rss_bound_bytes >> 20) +
                         " MiB");
  }
  if (run.fleet.overloaded_without_retry_after > 0) {
    v.failures.push_back(std::to_string(run.fleet.overloaded_without_retry_after) +
                         " overload answers without Retry-After");
  }
  if (v.wrong_status_at_end > 0) {
    v.failures.push_back(std::to_string(v.wrong_status_at_end) + " agents end with a wrong status");
  }
  if (v.false_offline_alerts > 5) {
    v.failures.push_back(std::to_string(v.false_offline_alerts) + " false offline alerts in all");
  }
  judgeReturn(run, v);
  judgeWebhookCopies(run, v);
  if (run.cluster.collectors > 0) judgeCluster(run, v);
  v.ingest_p50_ms = percentile(run.fleet.ingest_ms, 0.50);
  v.ingest_p99_ms = percentile(run.fleet.ingest_ms, 0.99);
  v.peak_ingest_lag_ms =
      run.fleet.ingest_ms.empty()
          ? 0
          : *std::max_element(run.fleet.ingest_ms.begin(), run.fleet.ingest_ms.end());
  v.server_p99_ms = percentile(run.fleet.server_ms, 0.99);
  if (!run.offices.empty()) {
    OfficeVerdict offices =
        judgeOffices(run.offices, run.api_alerts, run.fleet_started, run.interval_s, run.tick_s);
    v.failures.insert(v.failures.end(), offices.failures.begin(), offices.failures.end());
    v.office_timeline = std::move(offices.timeline);
  }
  return v;
}

namespace {

void addClusterJson(cJSON* r, const RunObservations& run, const Verdict& v) {
  const ClusterObservations& c = run.cluster;
  cJSON* cluster = cJSON_AddObjectToObject(r, "cluster");
  json::addInteger(cluster, "collectors", c.collectors);
  cJSON* usage = cJSON_AddArrayToObject(cluster, "usage");
  for (const CollectorUsage& u : c.usage) {
    cJSON* item = cJSON_CreateObject();
    cJSON_AddStringToObject(item, "name", u.name.c_str());
    json::addInteger(item, "peak_rss_bytes", static_cast<int64_t>(u.peak_rss_bytes));
    cJSON_AddNumberToObject(item, "cpu_seconds", u.cpu_seconds);
    cJSON_AddNumberToObject(item, "peak_cpu_share", u.peak_cpu_share);
    cJSON_AddItemToArray(usage, item);
  }
  json::addInteger(cluster, "admin_writes", static_cast<int64_t>(c.admin_writes.size()));
  json::addInteger(cluster, "admin_writes_acknowledged",
                   static_cast<int64_t>(v.admin_writes_acknowledged));
  json::addInteger(cluster, "admin_writes_lost", static_cast<int64_t>(v.admin_writes_lost));
  json::addInteger(cluster, "admin_read_through", c.admin_read_through);
  cJSON* db = cJSON_AddObjectToObject(cluster, "postgresql");
  json::addInteger(db, "commits", static_cast<int64_t>(c.database.commits));
  json::addInteger(db, "rows_inserted", static_cast<int64_t>(c.database.inserted));
  json::addInteger(db, "rows_updated", static_cast<int64_t>(c.database.updated));
  json::addInteger(db, "rows_deleted", static_cast<int64_t>(c.database.deleted));
  cJSON_AddNumberToObject(db, "seconds", c.database_seconds);
  cJSON_AddNumberToObject(db, "cpu_seconds", c.database_cpu_seconds);
  const DatabaseRates rates = databaseRates(run);
  cJSON_AddNumberToObject(db, "commits_per_s", rates.commits_per_s);
  cJSON_AddNumberToObject(db, "rows_written_per_1000_agents_per_min",
                          rates.rows_per_1000_agents_min);
  cJSON* exits = cJSON_AddArrayToObject(cluster, "unexpected_exits");
  for (const auto& e : c.unexpected_exits)
    cJSON_AddItemToArray(exits, cJSON_CreateString(e.c_str()));
  cJSON* unsettled = cJSON_AddArrayToObject(cluster, "unsettled");
  for (const auto& u : c.unsettled) cJSON_AddItemToArray(unsettled, cJSON_CreateString(u.c_str()));
  cJSON* front = cJSON_AddArrayToObject(cluster, "front_door");
  for (const auto& f : c.front_door) cJSON_AddItemToArray(front, cJSON_CreateString(f.c_str()));
}

}  // namespace

std::string reportJson(const RunObservations& run, const Verdict& v) {
  json::JsonPtr root(cJSON_CreateObject());
  cJSON* r = root.get();
  cJSON_AddStringToObject(r, "scenario", run.scenario.c_str());
  cJSON_AddStringToObject(r, "replays", run.replays.c_str());
  cJSON_AddBoolToObject(r, "passed", v.passed() ? 1 : 0);
  json::addInteger(r, "simulated_agents", run.simulated_agents);
  json::addInteger(r, "real_agents", run.real_agents);
  json::addInteger(r, "office_agents", run.office_agents);
  cJSON_AddNumberToObject(r, "interval_s", run.interval_s);
  cJSON_AddNumberToObject(r, "time_scale", run.scale);
  cJSON_AddNumberToObject(r, "run_seconds", run.wall_seconds);
  json::addInteger(r, "false_offline_alerts", static_cast<int64_t>(v.false_offline_alerts));
  json::addInteger(r, "false_site_alerts", static_cast<int64_t>(v.false_site_alerts));
  json::addInteger(r, "true_failures", static_cast<int64_t>(v.true_failures));
  json::addInteger(r, "missed_failures", static_cast<int64_t>(v.missed_failures));
  json::addInteger(r, "site_failures", static_cast<int64_t>(v.expected_site_alerts));
  json::addInteger(r, "missed_site_failures", static_cast<int64_t>(v.missed_site_alerts));
  cJSON_AddNumberToObject(r, "detection_p50_s", v.detection_p50_s);
  cJSON_AddNumberToObject(r, "detection_p99_s", v.detection_p99_s);
  cJSON_AddNumberToObject(r, "detection_max_s", v.detection_max_s);
  cJSON_AddNumberToObject(r, "detection_bound_s", v.detection_bound_s);
  cJSON_AddNumberToObject(r, "detection_from_death_p99_s", v.detection_from_death_p99_s);
  cJSON_AddNumberToObject(r, "detection_from_death_max_s", v.detection_from_death_max_s);
  cJSON_AddNumberToObject(r, "detection_from_faults_p99_s", v.detection_from_faults_p99_s);
  cJSON_AddNumberToObject(r, "ingest_p50_ms", v.ingest_p50_ms);
  cJSON_AddNumberToObject(r, "ingest_p99_ms", v.ingest_p99_ms);
  cJSON_AddNumberToObject(r, "peak_ingest_lag_ms", v.peak_ingest_lag_ms);
  cJSON_AddNumberToObject(r, "server_p99_ms", v.server_p99_ms);
  json::addInteger(r, "heartbeats_sent", static_cast<int64_t>(run.fleet.heartbeats_sent));
  json::addInteger(r, "heartbeats_accepted", static_cast<int64_t>(run.fleet.heartbeats_accepted));
  json::addInteger(r, "overloaded_answers", static_cast<int64_t>(run.fleet.overloaded));
  json::addInteger(r, "transport_errors", static_cast<int64_t>(run.fleet.transport_errors));
  json::addInteger(r, "connections_opened", static_cast<int64_t>(run.fleet.connections_opened));
  json::addInteger(r, "beacons_sent", static_cast<int64_t>(run.fleet.beacons_sent));
  json::addInteger(r, "beacon_acks", static_cast<int64_t>(run.fleet.beacon_acks));
  json::addInteger(r, "fallback_heartbeats", static_cast<int64_t>(run.fleet.fallback_beats));
  json::addInteger(r, "shed_requests", static_cast<int64_t>(run.shed_requests));
  json::addInteger(r, "refused_connections", static_cast<int64_t>(run.refused_connections));
  json::addInteger(r, "collector_peak_rss_bytes", static_cast<int64_t>(run.peak_rss_bytes));
  json::addInteger(r, "collector_rss_bound_bytes", static_cast<int64_t>(run.rss_bound_bytes));
  cJSON_AddNumberToObject(r, "collector_cpu_seconds", run.cpu_seconds);
  cJSON_AddNumberToObject(r, "collector_peak_cpu_share", run.peak_cpu_share);
  json::addInteger(r, "degraded_periods", static_cast<int64_t>(run.degraded.size()));
  json::addInteger(r, "collector_down_periods", static_cast<int64_t>(run.collector_down.size()));
  json::addInteger(r, "degraded_outside_faults", static_cast<int64_t>(v.degraded_outside_faults));
  cJSON* periods = cJSON_AddArrayToObject(r, "degraded");
  for (const DegradedPeriod& d : run.degraded) {
    cJSON_AddItemToArray(periods, cJSON_CreateString(periodText(run, d).c_str()));
  }
  cJSON* faults = cJSON_AddArrayToObject(r, "injected");
  for (const DegradedPeriod& f : run.injected) {
    cJSON_AddItemToArray(faults, cJSON_CreateString(periodText(run, f).c_str()));
  }
  json::addInteger(r, "wrong_status_at_end", static_cast<int64_t>(v.wrong_status_at_end));
  json::addInteger(r, "alerts_lost", static_cast<int64_t>(v.alerts_lost));
  json::addInteger(r, "max_refusals_per_agent", v.max_refusals_per_agent);
  json::addInteger(r, "agents_refused_twice", static_cast<int64_t>(v.agents_refused_twice));
  if (run.returns.marked) {
    cJSON_AddNumberToObject(r, "first_accept_after_start_s", run.returns.first_accept_after_s);
    cJSON_AddNumberToObject(r, "back_p50_s", v.back_p50_s);
    cJSON_AddNumberToObject(r, "back_p99_s", v.back_p99_s);
    cJSON_AddNumberToObject(r, "back_max_s", v.back_max_s);
    cJSON_AddNumberToObject(r, "back_bound_s", v.back_bound_s);
    json::addInteger(r, "agents_not_back", static_cast<int64_t>(v.agents_not_back));
  }
  if (run.availability.asked) {
    const AvailabilityObservations& a = run.availability;
    cJSON* report = cJSON_AddObjectToObject(r, "availability_report");
    cJSON_AddBoolToObject(report, "read", a.error.empty() ? 1 : 0);
    json::addInteger(report, "requests", a.requests);
    cJSON_AddNumberToObject(report, "collector_degraded_s", v.availability_degraded_s);
    cJSON* spans = cJSON_AddArrayToObject(report, "collector_degraded");
    for (const DegradedPeriod& d : unite(a.collector_degraded)) {
      cJSON_AddItemToArray(spans, cJSON_CreateString(periodText(run, d).c_str()));
    }
    json::addInteger(report, "living_agents", static_cast<int64_t>(v.living_agents_judged));
    cJSON_AddNumberToObject(report, "living_down_max_s", v.living_down_max_s);
    json::addInteger(report, "dead_agents", static_cast<int64_t>(v.dead_agents_judged));
    cJSON_AddNumberToObject(report, "dead_down_max_error_s", v.dead_down_max_error_s);
    cJSON_AddNumberToObject(report, "dead_down_error_min_s", v.dead_down_error_min_s);
    cJSON_AddNumberToObject(report, "dead_down_error_max_s", v.dead_down_error_max_s);
    json::addInteger(report, "outages_not_reported_apart",
                     static_cast<int64_t>(v.outages_not_reported_apart));
  }
  json::addInteger(r, "duplicate_alerts", static_cast<int64_t>(v.duplicate_alerts));
  json::addInteger(r, "webhook_deliveries", static_cast<int64_t>(run.webhook_copies.size()));
  json::addInteger(r, "webhook_redeliveries_after_kill",
                   static_cast<int64_t>(v.redeliveries_after_kill));
  json::addInteger(r, "webhook_double_deliveries", static_cast<int64_t>(v.double_deliveries));
  if (run.cluster.collectors > 0) addClusterJson(r, run, v);
  cJSON* failures = cJSON_AddArrayToObject(r, "failures");
  for (const auto& f : v.failures) cJSON_AddItemToArray(failures, cJSON_CreateString(f.c_str()));
  cJSON* rounds = cJSON_AddArrayToObject(r, "office_timeline");
  for (const auto& line : v.office_timeline) {
    cJSON_AddItemToArray(rounds, cJSON_CreateString(line.c_str()));
  }
  cJSON* notes = cJSON_AddArrayToObject(r, "notes");
  for (const auto& n : run.notes) cJSON_AddItemToArray(notes, cJSON_CreateString(n.c_str()));
  return json::print(r);
}

std::string reportTable(const RunObservations& run, const Verdict& v) {
  std::ostringstream t;
  t << "scenario " << run.scenario << ": " << (v.passed() ? "PASSED" : "FAILED") << "\n";
  t << "  " << run.replays << "\n";
  auto row = [&](const std::string& name, const std::string& value) {
    char buf[160];
    std::snprintf(buf, sizeof buf, "| %-34s | %-30s |\n", name.c_str(), value.c_str());
    t << buf;
  };
  row("metric", "value");
  t << "|------------------------------------|--------------------------------|\n";
  row("agents (sim. + real + offices)", std::to_string(run.simulated_agents) + " + " +
                                            std::to_string(run.real_agents) + " + " +
                                            std::to_string(run.office_agents));
  row("heartbeat interval / time scale", fmt(run.interval_s, 0) + " s / " + fmt(run.scale, 4));
  row("run time", fmt(run.wall_seconds, 0) + " s");
  row("false offline alerts", std::to_string(v.false_offline_alerts));
  row("false site alerts", std::to_string(v.false_site_alerts));
  row("true failures (missed)",
      std::to_string(v.true_failures) + " (" + std::to_string(v.missed_failures) + ")");
  row("site failures (missed)",
      std::to_string(v.expected_site_alerts) + " (" + std::to_string(v.missed_site_alerts) + ")");
  row("detection p50 / p99 / max", fmt(v.detection_p50_s) + " / " + fmt(v.detection_p99_s) + " / " +
                                       fmt(v.detection_max_s) + " s");
  row(run.detection_span_text.empty()
          ? "detection bound (3 int. + 2 ticks)"
          : "detection bound (" + run.detection_span_text + " + 2 ticks)",
      fmt(v.detection_bound_s) + " s");
  row("from the death, p99 / max",
      fmt(v.detection_from_death_p99_s) + " / " + fmt(v.detection_from_death_max_s) + " s");
  row("from the death, faults excepted p99", fmt(v.detection_from_faults_p99_s) + " s");
  row("heartbeats sent / accepted", std::to_string(run.fleet.heartbeats_sent) + " / " +
                                        std::to_string(run.fleet.heartbeats_accepted));
  row("ingest p50 / p99 / peak lag", fmt(v.ingest_p50_ms) + " / " + fmt(v.ingest_p99_ms) + " / " +
                                         fmt(v.peak_ingest_lag_ms, 0) + " ms");
  row("shed requests / 503s seen",
      std::to_string(run.shed_requests) + " / " + std::to_string(run.fleet.overloaded));
  row("refused connections / transport err",
      std::to_string(run.refused_connections) + " / " + std::to_string(run.fleet.transport_errors));
  row("new connections (TCP/TLS)", std::to_string(run.fleet.connections_opened));
  row("beacons sent / acked / fallback beats", std::to_string(run.fleet.beacons_sent) + " / " +
                                                   std::to_string(run.fleet.beacon_acks) + " / " +
                                                   std::to_string(run.fleet.fallback_beats));
  row("degraded periods / collector down",
      std::to_string(run.degraded.size()) + " / " + std::to_string(run.collector_down.size()));
  row("collector peak RSS (bound)", std::to_string(run.peak_rss_bytes >> 20) + " MiB (" +
                                        std::to_string(run.rss_bound_bytes >> 20) + " MiB)");
  row("collector CPU (peak share)",
      fmt(run.cpu_seconds) + " s (" + fmt(100 * run.peak_cpu_share, 0) + " % of a core)");
  row("most 503s to one agent (refused 2+)", std::to_string(v.max_refusals_per_agent) + " (" +
                                                 std::to_string(v.agents_refused_twice) + ")");
  if (run.returns.marked) {
    row("collector start to its first accept", fmt(run.returns.first_accept_after_s) + " s");
    row("back after return p50 / p99 / max",
        fmt(v.back_p50_s) + " / " + fmt(v.back_p99_s) + " / " + fmt(v.back_max_s) + " s");
    row("not back (bound)", std::to_string(v.agents_not_back) + " (" +
                                (v.back_bound_s > 0 ? fmt(v.back_bound_s) + " s" : "not judged") +
                                ")");
  }
  row("wrong status at end", std::to_string(v.wrong_status_at_end));
  row("alerts lost / outbox pending",
      std::to_string(v.alerts_lost) + " / " + std::to_string(run.outbox_pending_at_end));
  if (run.availability.asked) {
    const AvailabilityObservations& a = run.availability;
    const std::string unread = "not read";
    row("availability report: collector degraded s",
        a.error.empty() ? fmt(v.availability_degraded_s) + " (" +
                              std::to_string(unite(a.collector_degraded).size()) + " spans)"
                        : unread);
    row("downtime of living agents (max) s",
        a.error.empty()
            ? fmt(v.living_down_max_s) + " (" + std::to_string(v.living_agents_judged) + " agents)"
            : unread);
    row("downtime of dead agents vs truth (max error) s",
        a.error.empty() ? fmt(v.dead_down_max_error_s) + " (" + signedFmt(v.dead_down_error_min_s) +
                              " to " + signedFmt(v.dead_down_error_max_s) + ", " +
                              std::to_string(v.dead_agents_judged) + " agents)"
                        : unread);
  }
  row("duplicate alerts", std::to_string(v.duplicate_alerts));
  row("webhook deliveries / after a kill or stall", std::to_string(run.webhook_copies.size()) +
                                                        " / " +
                                                        std::to_string(v.redeliveries_after_kill));
  row("webhooks delivered twice otherwise", std::to_string(v.double_deliveries));
  if (run.cluster.collectors > 0) {
    const ClusterObservations& c = run.cluster;
    row("admin writes: made / ack. / lost", std::to_string(c.admin_writes.size()) + " / " +
                                                std::to_string(v.admin_writes_acknowledged) +
                                                " / " + std::to_string(v.admin_writes_lost));
    row("admin writes read back through",
        std::to_string(c.admin_read_through) + " collectors each");
    for (const CollectorUsage& u : c.usage) {
      row(u.name + " peak RSS, CPU (peak)", std::to_string(u.peak_rss_bytes >> 20) + " MiB, " +
                                                fmt(u.cpu_seconds) + " s (" +
                                                fmt(100 * u.peak_cpu_share, 0) + " %)");
    }
    const DatabaseRates rates = databaseRates(run);
    row("PostgreSQL commits / rows written",
        std::to_string(c.database.commits) + " / " +
            std::to_string(c.database.inserted + c.database.updated + c.database.deleted));
    row("PostgreSQL commits per second", fmt(rates.commits_per_s));
    row("PostgreSQL CPU (share of a core)",
        fmt(c.database_cpu_seconds) + " s (" +
            fmt(c.database_seconds > 0 ? 100 * c.database_cpu_seconds / c.database_seconds : 0, 0) +
            " %)");
    row("PG rows written /1,000 agents/min", fmt(rates.rows_per_1000_agents_min));
  }
  for (const std::string& line : run.cluster.front_door) t << "  " << line << "\n";
  for (const DegradedPeriod& f : run.injected) t << "  injected " << periodText(run, f) << "\n";
  for (const DegradedPeriod& d : run.degraded) t << "  degraded " << periodText(run, d) << "\n";
  for (const DegradedPeriod& d : unite(run.availability.collector_degraded)) {
    t << "  availability report: collector degraded " << periodText(run, d) << "\n";
  }
  if (!v.office_timeline.empty()) t << "offices (seconds from the fleet's start):\n";
  for (const auto& line : v.office_timeline) t << "  " << line << "\n";
  for (const auto& f : v.failures) t << "  FAIL: " << f << "\n";
  for (const auto& n : run.notes) t << "  note: " << n << "\n";
  return t.str();
}

}  // namespace vigil::fleetsim
