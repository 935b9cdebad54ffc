#include "collector/presence/site_question.h"

#include <algorithm>
#include <cmath>

namespace vigil::collector::presence {
namespace {

Ticks intervalTicks(const ArrivalStats& stats, double allowance) {
  const auto interval = static_cast<double>(ticksOf(std::chrono::milliseconds(stats.interval_ms)));
  return static_cast<Ticks>(allowance * interval);
}

bool expected(Status status) {
  return status == Status::kOnline || status == Status::kSuspect || status == Status::kUnreachable;
}

}  // namespace

Ticks overdueAt(const AgentRecord& rec, double allowance) {
  Ticks at = kNever;
  for (const ArrivalStats& stats : rec.direct) {
    if (stats.last == kNever) continue;
    at = std::max(at, stats.last + intervalTicks(stats, allowance));
  }
  return at;
}

Ticks horizonOf(const AgentRecord& rec, double allowance) {
  Ticks horizon = 0;
  for (const ArrivalStats& stats : rec.direct) {
    if (stats.last != kNever) horizon = std::max(horizon, intervalTicks(stats, allowance));
  }
  return horizon;
}

void noteDirectEvidence(AgentRecord& rec, Ticks at, double allowance) {
  const Ticks overdue = overdueAt(rec, allowance);
  if (overdue == kNever || at > overdue || rec.heard_since == kNever) rec.heard_since = at;
}

SiteAnswer askSite(const SiteState& site, const AgentTable& agents, AgentHandle agent, Ticks now,
                   const SiteQuestionRules& rules, std::vector<Ticks>& scratch) {
  SiteAnswer answer;
  answer.expected = static_cast<uint32_t>(expectedAgents(site.by_status));
  if (answer.expected == 0 || answer.expected < rules.min_agents) return answer;
  const AgentRecord& silent_one = agents[agent];
  const Ticks silent_from = silent_one.latestDirect();
  const Ticks horizon = horizonOf(silent_one, rules.allowance);
  scratch.clear();
  for (AgentHandle member : site.members) {
    const AgentRecord& rec = agents[member];
    if (!expected(rec.status)) continue;
    const Ticks last = rec.latestDirect();
    // Heard without a break from `since` to its last evidence.
    const Ticks since = std::max(rec.heard_since, silent_from);
    if (member != agent && last != kNever && last - since > horizon) continue;  // heard
    const Ticks overdue = overdueAt(rec, rules.allowance);
    if (member == agent || rec.status != Status::kOnline || overdue == kNever || now > overdue) {
      ++answer.silent;
      answer.dark_since = std::max(answer.dark_since, last);
    } else {
      // It is decided when it is overdue, or, if it keeps reporting, once it has been heard
      // for a horizon.
      scratch.push_back(since + horizon > now ? std::min(since + horizon, overdue) : overdue);
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
  // The earliest instant at which enough undecided members could all have been decided.
  std::nth_element(scratch.begin(), scratch.begin() + static_cast<ptrdiff_t>(missing - 1),
                   scratch.end());
  answer.kind = SiteAnswer::Kind::kWait;
  answer.ask_again_at = std::max(scratch[missing - 1], now) + 1;
  return answer;
}

}  // namespace vigil::collector::presence
