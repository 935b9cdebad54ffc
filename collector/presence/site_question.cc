#include "collector/presence/site_question.h"

#include <algorithm>
#include <cmath>

namespace vigil::collector::presence {
namespace {

Ticks intervalTicks(const ArrivalStats& stats, double allowance) {
  const auto interval = static_cast<double>(ticksOf(std::chrono::milliseconds(stats.interval_ms)));
  return static_cast<Ticks>(allowance * interval);
}

bool expected(AgentStatus status) {
  return status == AgentStatus::kOnline || status == AgentStatus::kSuspect ||
         status == AgentStatus::kUnreachable;
}

}  // namespace

Ticks fallbackDue(const TrackedAgent& rec, const SiteQuestionRules& rules) {
  const ArrivalStats& beacon = rec.direct[kBeaconChannel];
  if (!rec.beacon_fallback || beacon.last == kNever || beacon.interval_ms == 0) return kNever;
  return rec.latestDirect() + intervalTicks(beacon, rules.allowance) + rules.fallback_grace;
}

Ticks overdueAt(const TrackedAgent& rec, const SiteQuestionRules& rules) {
  Ticks at = kNever;
  for (const ArrivalStats& stats : rec.direct) {
    if (stats.last == kNever) continue;
    at = std::max(at, stats.last + intervalTicks(stats, rules.allowance));
  }
  const Ticks promised = fallbackDue(rec, rules);
  return promised == kNever || at == kNever ? at : std::min(at, promised);
}

// When the agent's next evidence is due at the latest, on the quickest channel it uses.
Ticks nextReportDue(const TrackedAgent& rec, double allowance) {
  Ticks due = kNever;
  for (const ArrivalStats& stats : rec.direct) {
    if (stats.last == kNever) continue;
    const Ticks at = stats.last + intervalTicks(stats, allowance);
    due = due == kNever ? at : std::min(due, at);
  }
  return due;
}

Ticks horizonOf(const TrackedAgent& rec, const SiteQuestionRules& rules) {
  if (fallbackDue(rec, rules) != kNever) {
    // Heard on the beacon, or its fallback, whatever its heartbeat interval.
    const ArrivalStats& beacon = rec.direct[kBeaconChannel];
    return std::max(intervalTicks(beacon, rules.lateness_floor),
                    intervalTicks(beacon, rules.allowance) + rules.reconnect) +
           rules.fallback_grace;
  }
  Ticks horizon = 0;
  for (const ArrivalStats& stats : rec.direct) {
    if (stats.last == kNever) continue;
    horizon = std::max({horizon, intervalTicks(stats, rules.lateness_floor),
                        intervalTicks(stats, rules.allowance) + rules.reconnect});
  }
  return horizon;
}

void noteDirectEvidence(TrackedAgent& rec, Ticks at, const SiteQuestionRules& rules) {
  const Ticks overdue = overdueAt(rec, rules);
  if (rec.heard_since == kNever || overdue == kNever || at > overdue) rec.heard_since = at;
}

SiteAnswer askSite(const SiteState& site, const AgentTable& agents, AgentHandle agent, Ticks now,
                   const SiteQuestionRules& rules, std::vector<Ticks>& scratch) {
  SiteAnswer answer;
  answer.expected = static_cast<uint32_t>(expectedAgents(site.by_status));
  if (answer.expected == 0 || answer.expected < rules.min_agents) return answer;
  const TrackedAgent& silent_one = agents[agent];
  const Ticks silent_from = silent_one.latestDirect();
  const Ticks horizon = horizonOf(silent_one, rules);
  scratch.clear();
  for (AgentHandle member : site.members) {
    const TrackedAgent& rec = agents[member];
    if (!expected(rec.status)) continue;
    const Ticks last = rec.latestDirect();
    // Heard without a break from `since` to its last evidence (not at all if the engine has
    // not heard it since it started: restored evidence says nothing about the gap).
    const Ticks since = rec.heard_since == kNever ? last : std::max(rec.heard_since, silent_from);
    if (member != agent && last != kNever && last - since > horizon) continue;  // heard
    const Ticks overdue = overdueAt(rec, rules);
    if (member == agent || rec.status != AgentStatus::kOnline || overdue == kNever ||
        now > overdue) {
      ++answer.silent;
      answer.dark_since = std::max(answer.dark_since, last);
    } else {
      // It is decided when it is overdue, or, if it keeps reporting, by its first report
      // after it has been heard for a horizon.
      const Ticks heard_at = std::max(since + horizon, nextReportDue(rec, rules.allowance));
      scratch.push_back(std::min(heard_at, overdue));
    }
  }
  const auto needed = static_cast<uint32_t>(
      std::ceil(rules.silent_share * static_cast<double>(answer.expected) - 1e-9));
  if (answer.silent >= needed) {
    answer.kind = SiteAnswer::Kind::kDark;
    return answer;
  }
  const size_t missing = needed - answer.silent;
  if (scratch.size() < missing) return answer;  // alone, whatever the undecided do
  // The answer can change once `missing` undecided members are decided (all silent: dark) or
  // once scratch.size() - missing + 1 of them are (all heard: alone); ask again at the
  // earlier of the two.
  std::sort(scratch.begin(), scratch.end());
  const size_t first = std::min(missing, scratch.size() - missing + 1);
  answer.kind = SiteAnswer::Kind::kWait;
  answer.ask_again_at = std::max(scratch[first - 1], now) + 1;
  return answer;
}

}  // namespace vigil::collector::presence
