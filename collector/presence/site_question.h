#pragma once

// The site question, asked when a SUSPECT agent's confirmation window ends: did the agent fall
// silent alone (its device verdict follows), or together with its site (the site is dark: a
// partition, one site alert), or can the site not tell yet (ask again later)?
//
// The agent A went silent after its last evidence; had its network been up for longer than
// A's horizon since then, A would have been heard: within one interval with jitter, plus the
// time an attempt that began while the network was down may hang before the agent retries
// (its connect timeout), and never sooner than its lateness floor (which leaves a margin for
// evidence that reached the collector a little late). Each other member of the site that the
// collector expects to hear (ONLINE, SUSPECT, UNREACHABLE) is
//   - heard, if the collector heard it without a break (noteDirectEvidence) for longer than
//     A's horizon after A's last evidence: the site's network worked while A should have
//     reported, so A's silence is its own;
//   - silent, if it is overdue now (every channel quiet for longer than its interval plus
//     jitter plus a margin), or SUSPECT or UNREACHABLE, and not heard as above;
//   - undecided otherwise: it is reporting but only just came back (a site that has just
//     healed: A may come back too), or its last evidence is recent; it becomes heard or
//     silent within one horizon.
// The site is dark when at least site_silent_share of its expected agents are silent; the
// agent is alone when even with every undecided member silent the share cannot be reached.
// Otherwise the answer waits until enough undecided members could have been decided. Other
// sites and tenants play no part: nothing elsewhere in the fleet can turn a dark site into
// device alerts.
//
// Cost: one pass over the site's members per question.

#include <cstdint>
#include <vector>

#include "collector/presence/engine_time.h"
#include "collector/presence/site_tracker.h"
#include "collector/presence/tracked_agent.h"

namespace vigil::collector::presence {

struct SiteQuestionRules;
// When the agent counts as silent: every direct channel it used quiet for longer than
// `rules.allowance` x its interval, or, for an agent that follows the beacon fallback,
// fallbackDue() if that is sooner. kNever if it never used a direct channel.
Ticks overdueAt(const TrackedAgent& rec, const SiteQuestionRules& rules);
// An agent that follows the beacon fallback (TrackedAgent::beacon_fallback) and beacons
// promises evidence on one channel or the other within `rules.allowance` x its beacon interval
// plus `rules.fallback_grace` of its latest direct evidence (docs/presence.md, "Long heartbeat
// intervals and the beacon fallback"): the end of that promise. kNever for any other agent.
Ticks fallbackDue(const TrackedAgent& rec, const SiteQuestionRules& rules);
// How long the agent's network must work for the agent to be heard (its horizon): its longest
// interval times the lateness floor, and at least that interval with jitter and margin plus
// the time an agent's attempt may hang before it retries; for an agent that follows the beacon
// fallback, the same of its beacon interval plus the fallback's grace. Zero if it never used a
// direct channel.
Ticks horizonOf(const TrackedAgent& rec, const SiteQuestionRules& rules);
// Records direct evidence at `at` in the agent's unbroken run: the run breaks when the
// evidence comes after the agent was overdue (overdueAt: a lost channel alone breaks nothing
// while another one flows). Call before the evidence is recorded in `rec.direct`.
void noteDirectEvidence(TrackedAgent& rec, Ticks at, const SiteQuestionRules& rules);

struct SiteAnswer {
  enum class Kind : uint8_t {
    kAlone,  // the agent fell silent alone (or its site is too small to tell)
    kDark,   // the site fell silent with it
    kWait,   // undecided: ask again at `ask_again_at`
  };
  Kind kind = Kind::kAlone;
  Ticks ask_again_at = kNever;
  uint32_t silent = 0;    // silent members (the agent included)
  uint32_t expected = 0;  // members the collector expects to hear
  // kDark: the newest evidence from any silent member, the latest the site can have gone dark.
  Ticks dark_since = kNever;
};

struct SiteQuestionRules {
  uint32_t min_agents = 3;      // site_min_agents
  double silent_share = 0.8;    // site_silent_share
  double allowance = 1.2;       // overdue after this many intervals (1 + jitter + margin)
  double lateness_floor = 1.5;  // lateness_floor: no agent is late sooner
  Ticks reconnect = 0;          // agent_reconnect_time
  Ticks fallback_grace = 0;     // beacon_fallback_grace
};

// Asks the site question for `agent` (SUSPECT, a member of `site`) at `now`. `scratch` is
// reused storage.
SiteAnswer askSite(const SiteState& site, const AgentTable& agents, AgentHandle agent, Ticks now,
                   const SiteQuestionRules& rules, std::vector<Ticks>& scratch);

}  // namespace vigil::collector::presence
