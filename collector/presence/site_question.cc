#include "collector/presence/site_question.h"

#include <algorithm>
#include <cmath>

namespace vigil::collector::presence {
namespace {

bool expected(Status status) {
  return status == Status::kOnline || status == Status::kSuspect || status == Status::kUnreachable;
}

}  // namespace

Ticks overdueAt(const AgentRecord& rec, double allowance) {
  Ticks at = kNever;
  for (const ArrivalStats& stats : rec.direct) {
    if (stats.last == kNever) continue;
    const auto interval =
        static_cast<double>(ticksOf(std::chrono::milliseconds(stats.interval_ms)));
    at = std::max(at, stats.last + static_cast<Ticks>(allowance * interval));
  }
  return at;
}

SiteAnswer askSite(const SiteState& site, const AgentTable& agents, AgentHandle agent, Ticks now,
                   const SiteQuestionRules& rules, std::vector<Ticks>& scratch) {
  SiteAnswer answer;
  answer.expected = static_cast<uint32_t>(expectedAgents(site.by_status));
  if (answer.expected == 0 || answer.expected < rules.min_agents) return answer;
  const Ticks silent_from = overdueAt(agents[agent], rules.allowance);
  scratch.clear();
  for (AgentHandle member : site.members) {
    const AgentRecord& rec = agents[member];
    if (!expected(rec.status)) continue;
    const Ticks last = rec.latestDirect();
    if (member != agent && last != kNever && last > silent_from) continue;  // heard
    const Ticks overdue = overdueAt(rec, rules.allowance);
    if (member == agent || rec.status != Status::kOnline || overdue == kNever || now > overdue) {
      ++answer.silent;
      answer.dark_since = std::max(answer.dark_since, last);
    } else {
      scratch.push_back(overdue);
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
  // The earliest instant at which enough undecided members could all be overdue.
  std::nth_element(scratch.begin(), scratch.begin() + static_cast<ptrdiff_t>(missing - 1),
                   scratch.end());
  answer.kind = SiteAnswer::Kind::kWait;
  answer.ask_again_at = scratch[missing - 1] + 1;
  return answer;
}

}  // namespace vigil::collector::presence
