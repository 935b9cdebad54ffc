#include "tests/simulation/scenario_verdict.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>

namespace vigil::presence_sim {

namespace {

using collector::presence::DegradationReason;
using collector::presence::statusName;

constexpr size_t kMaxFindings = 10;

double seconds(Duration d) { return std::chrono::duration<double>(d).count(); }

std::string secondsText(Duration d) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.1fs", seconds(d));
  return buffer;
}

// Nearest-rank percentile of sorted samples.
Duration percentile(const std::vector<Duration>& sorted, double p) {
  if (sorted.empty()) return Duration::zero();
  const auto rank = static_cast<size_t>(std::ceil(p * static_cast<double>(sorted.size())));
  return sorted[std::min(sorted.size(), std::max<size_t>(rank, 1)) - 1];
}

void addFinding(ScenarioVerdict& verdict, std::string finding) {
  if (verdict.findings.size() < kMaxFindings) verdict.findings.push_back(std::move(finding));
}

// When the latency clock of a death starts: the death itself, or the end of a fault window
// that its detection (death + `bound`) overlaps.
SimTime latencyBaseline(const Fleet& fleet, uint32_t agent, Duration bound) {
  const SimTime died = fleet.dies_at[agent];
  SimTime baseline = died;
  for (const FaultWindow& window : fleet.fault_windows) {
    if (window.site && *window.site != fleet.site[agent]) continue;
    if (died < window.to && died + bound > window.from) baseline = std::max(baseline, window.to);
  }
  return baseline;
}

}  // namespace

ScenarioVerdict judge(const SimulationRun& run, const PresenceConfig& config) {
  const Fleet& fleet = run.fleet;
  const Duration bound = 3 * config.heartbeat_interval;
  ScenarioVerdict verdict;
  verdict.agents = fleet.agentCount();

  std::vector<SimTime> first_alert(fleet.agentCount(), kNever);
  std::optional<SimTime> partition_alert_at;
  for (const AlertRecord& alert : run.alerts) {
    if (alert.action == AlertAction::kHeld) ++verdict.held;
    if (alert.action == AlertAction::kReleased) ++verdict.released;
    if (alert.kind == AlertKind::kSiteUnreachable && alert.action == AlertAction::kResolved &&
        alert.site && fleet.partitioned_site && *alert.site == *fleet.partitioned_site) {
      verdict.partition_site_alert_resolved = true;
    }
    if (alert.action != AlertAction::kOpened) continue;
    switch (alert.kind) {
      case AlertKind::kDeviceOffline: {
        ++verdict.device_alerts;
        if (alert.agent == kNoAgent || fleet.aliveAt(alert.agent, alert.at)) {
          ++verdict.false_alerts;
          addFinding(verdict, "false offline alert: agent " + std::to_string(alert.agent) + " at " +
                                  secondsText(alert.at) + " (" + alert.note + ")");
        } else if (first_alert[alert.agent] == kNever) {
          first_alert[alert.agent] = alert.at;
        } else {
          ++verdict.duplicate_alerts;
        }
        break;
      }
      case AlertKind::kSiteUnreachable:
        ++verdict.site_alerts;
        if (alert.site && fleet.partitioned_site && *alert.site == *fleet.partitioned_site) {
          ++verdict.partition_site_alerts;
          if (!partition_alert_at) partition_alert_at = alert.at;
        } else {
          addFinding(verdict, "site alert for site " +
                                  (alert.site ? std::to_string(*alert.site) : std::string("?")) +
                                  " at " + secondsText(alert.at) + " (" + alert.note + ")");
        }
        break;
      case AlertKind::kFlapping:
        ++verdict.flapping_alerts;
        break;
    }
  }

  std::vector<Duration> latencies;
  std::vector<Duration> from_death;
  const FaultPlan& plan = run.plan;
  for (uint32_t a = 0; a < fleet.agentCount(); ++a) {
    const SimTime died = fleet.dies_at[a];
    if (died == kNever) {
      if (run.final_status[a] != AgentStatus::kOnline) {
        ++verdict.alive_not_online_at_end;
        addFinding(verdict,
                   "live agent " + std::to_string(a) + " ended " + statusName(run.final_status[a]));
      }
      continue;
    }
    ++verdict.true_failures;
    if (first_alert[a] == kNever) {
      const bool in_partition =
          fleet.partitioned_site && fleet.site[a] == *fleet.partitioned_site &&
          died < plan.starts_at + plan.length && died + bound > plan.starts_at;
      if (in_partition && partition_alert_at) {
        ++verdict.covered_by_site_alert;
      } else {
        ++verdict.missed;
        addFinding(verdict, "missed failure: agent " + std::to_string(a) + " died at " +
                                secondsText(died) + ", status at end " +
                                statusName(run.final_status[a]));
      }
      continue;
    }
    const SimTime baseline = latencyBaseline(fleet, a, bound);
    latencies.push_back(std::max(Duration::zero(), first_alert[a] - baseline));
    from_death.push_back(first_alert[a] - died);
  }
  std::sort(latencies.begin(), latencies.end());
  std::sort(from_death.begin(), from_death.end());
  verdict.latency_from_death_p99 = percentile(from_death, 0.99);
  verdict.latency_from_death_max = from_death.empty() ? Duration::zero() : from_death.back();
  if (plan.kind != FaultKind::kNone) {
    const FaultWindow window = faultWindowOf(plan, fleet);
    for (const HealthRecord& record : run.health) {
      if (record.degraded && record.at >= window.from &&
          record.at <= window.to + std::chrono::minutes(2)) {
        verdict.reasons_during_fault |= record.reasons_mask;
      }
    }
  }
  verdict.latency_samples = latencies.size();
  verdict.latency_p50 = percentile(latencies, 0.50);
  verdict.latency_p99 = percentile(latencies, 0.99);
  verdict.latency_max = latencies.empty() ? Duration::zero() : latencies.back();
  return verdict;
}

std::string formatVerdict(const std::string& scenario, const SimulationRun& run,
                          const ScenarioVerdict& v) {
  std::ostringstream out;
  const FaultPlan& plan = run.plan;
  out << "\n=== " << scenario << ": " << faultKindName(plan.kind);
  if (plan.kind != FaultKind::kNone) {
    out << " at " << secondsText(plan.starts_at) << " for " << secondsText(plan.length);
  }
  if (run.fleet.partitioned_site) {
    out << " (site " << *run.fleet.partitioned_site << ", "
        << run.fleet.site_agents[*run.fleet.partitioned_site] << " agents)";
  }
  char line[1024];
  std::snprintf(line, sizeof line,
                "\n%u agents in %zu sites, %.1f h simulated, seed %llu, %llu observations, "
                "%llu ticks, %.1f s real, engine %.1f MB\n",
                v.agents, run.fleet.site_agents.size(),
                std::chrono::duration<double, std::ratio<3600>>(run.params.duration).count(),
                static_cast<unsigned long long>(run.params.seed),
                static_cast<unsigned long long>(run.observations),
                static_cast<unsigned long long>(run.ticks), run.real_seconds,
                static_cast<double>(run.engine_memory_bytes) / 1e6);
  out << line;
  std::snprintf(line, sizeof line,
                "| %7s | %13s | %6s | %12s | %6s | %11s | %11s | %11s |\n"
                "| %7u | %13u | %6u | %12u | %6u | %11s | %11s | %11s |\n",
                "agents", "true failures", "alerts", "false alerts", "missed", "latency p50",
                "latency p99", "latency max", v.agents, v.true_failures, v.device_alerts,
                v.false_alerts, v.missed, secondsText(v.latency_p50).c_str(),
                secondsText(v.latency_p99).c_str(), secondsText(v.latency_max).c_str());
  out << line;
  std::snprintf(
      line, sizeof line,
      "latency from death p99 %s max %s; held %u, released %u, duplicate alerts %u, "
      "site alerts %u (partitioned site %u%s), deaths covered by the site alert %u, "
      "flapping alerts %u, false OFFLINE transitions %llu, live agents not ONLINE at "
      "end %u, collector at end %s, reasons during the fault %s\n",
      secondsText(v.latency_from_death_p99).c_str(), secondsText(v.latency_from_death_max).c_str(),
      v.held, v.released, v.duplicate_alerts, v.site_alerts, v.partition_site_alerts,
      v.partition_site_alert_resolved ? ", resolved" : "", v.covered_by_site_alert,
      v.flapping_alerts, static_cast<unsigned long long>(run.false_offline_transitions),
      v.alive_not_online_at_end,
      run.degraded_at_end ? ("DEGRADED " + reasonsText(run.reasons_at_end)).c_str() : "healthy",
      reasonsText(v.reasons_during_fault).c_str());
  out << line;

  // Degraded periods, merged over reason changes.
  out << "degraded:";
  size_t shown = 0;
  size_t periods = 0;
  std::optional<SimTime> since;
  uint32_t mask = 0;
  auto show = [&](SimTime until, bool open) {
    ++periods;
    if (shown >= 8) return;
    ++shown;
    out << " [" << secondsText(*since) << ".." << (open ? std::string("end") : secondsText(until))
        << " " << reasonsText(mask) << "]";
  };
  for (const HealthRecord& record : run.health) {
    if (record.degraded) {
      if (!since) since = record.at;
      mask |= record.reasons_mask;
    } else if (since) {
      show(record.at, false);
      since.reset();
      mask = 0;
    }
  }
  if (since) show(run.params.duration, true);
  if (periods > shown) out << " ... " << periods << " periods in all";
  if (periods == 0) out << " never";
  out << "\n";
  for (const std::string& finding : v.findings) out << "  " << finding << "\n";
  return out.str();
}

}  // namespace vigil::presence_sim
