#include "tests/simulation/exploration.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <optional>
#include <sstream>
#include <utility>

#include "tests/simulation/sim_random.h"

namespace vigil::presence_sim {
namespace {

using namespace std::chrono_literals;
using collector::presence::DegradationReason;
using collector::presence::statusName;

// --- The world -------------------------------------------------------------------------------

// Largest share of the fleet in cut sites, over the whole run.
constexpr double kMaxCutShare = 0.35;
// Largest share of a site's agents that may die over a run.
constexpr double kMaxDeadShareOfSite = 1.0 / 3.0;
// Largest share of the fleet silent together (cut, or dead within a few intervals): more is
// the collector's own problem by design (mass suspect), whatever the truth.
constexpr double kMaxSilentShare = 0.4;

Duration times(Duration d, double factor) {
  return Duration(static_cast<Duration::rep>(static_cast<double>(d.count()) * factor));
}

bool overlaps(SimTime a_from, SimTime a_to, SimTime b_from, SimTime b_to) {
  return a_from < b_to && b_from < a_to;
}

// Log-uniform in [lo, hi].
double logUniform(SimRandom& random, double lo, double hi) {
  return std::exp(random.uniform(std::log(lo), std::log(hi)));
}

// Builds sites and tenants for `agents` agents; returns a one-line description.
std::string buildSites(uint32_t agents, SimRandom& random, Fleet& fleet, uint32_t& tenants) {
  std::vector<uint32_t> sizes;
  std::string shape;
  const double pick = random.uniform01();
  if (pick < 0.45) {
    shape = "offices of 5-20 (one in ten alone)";
    for (uint32_t placed = 0; placed < agents;) {
      const uint32_t size = random.chance(0.1) ? 1 : 5 + static_cast<uint32_t>(random.below(16));
      sizes.push_back(std::min(size, agents - placed));
      placed += sizes.back();
    }
  } else if (pick < 0.85) {
    shape = "sites of 1-200";
    for (uint32_t placed = 0; placed < agents;) {
      const auto size = static_cast<uint32_t>(std::lround(logUniform(random, 1, 200)));
      sizes.push_back(std::min(size, agents - placed));
      placed += sizes.back();
    }
  } else {
    const uint32_t count = 2 + static_cast<uint32_t>(random.below(4));
    shape = std::to_string(count) + " large sites";
    for (uint32_t s = 0; s < count; ++s) sizes.push_back(agents / count + (s < agents % count));
  }
  // Tenants: one for the whole fleet, or groups of consecutive sites.
  const bool single_tenant = random.chance(0.25);
  const double sites_per_tenant = logUniform(random, 1, 50);
  tenants = 0;
  uint32_t left_in_tenant = 0;
  for (uint32_t s = 0; s < sizes.size(); ++s) {
    if (sizes[s] == 0) continue;
    if (left_in_tenant == 0) {
      ++tenants;
      left_in_tenant = single_tenant ? UINT32_MAX
                                     : 1 + static_cast<uint32_t>(random.below(
                                               static_cast<uint64_t>(std::ceil(sites_per_tenant))));
    }
    --left_in_tenant;
    const auto site = static_cast<SiteId>(fleet.site_agents.size());
    fleet.site_agents.push_back(sizes[s]);
    for (uint32_t i = 0; i < sizes[s]; ++i) {
      fleet.site.push_back(site);
      fleet.tenant.push_back(tenants - 1);
      fleet.agent_class.push_back(random.chance(0.2) ? AgentClass::kServer
                                                     : AgentClass::kWorkstation);
    }
  }
  shape += single_tenant ? ", one tenant" : ", " + std::to_string(tenants) + " tenants";
  return shape;
}

// Deaths, respecting each site's share of the dead.
class Reaper {
 public:
  Reaper(Fleet& fleet, SimRandom& random, Duration interval)
      : fleet_(fleet), random_(random), interval_(interval) {
    members_.resize(fleet.site_agents.size());
    for (uint32_t a = 0; a < fleet.agentCount(); ++a) members_[fleet.site[a]].push_back(a);
    dead_in_site_.assign(fleet.site_agents.size(), 0);
    cut_starts_.resize(fleet.site_agents.size());
  }
  // The site is cut from `from` until `to`.
  void noteCut(SiteId site, SimTime from, SimTime to) {
    cut_starts_[site].push_back(from);
    cuts_.push_back({site, from, to});
  }

  // Kills `agent` at `at` if its site can lose one more and keeps site_min_agents live agents
  // at the start of each of its cuts; returns whether it did.
  bool kill(uint32_t agent, SimTime at) {
    if (fleet_.dies_at[agent] != kNever) return false;
    const SiteId site = fleet_.site[agent];
    const uint32_t size = fleet_.site_agents[site];
    const auto cap = size < 3 ? size : static_cast<uint32_t>(size * kMaxDeadShareOfSite);
    if (dead_in_site_[site] + 1 > cap) return false;
    for (SimTime cut_from : cut_starts_[site]) {
      if (at <= cut_from && aliveAt(site, cut_from) <= 3) return false;
    }
    if (silentAround(at) + 1 > kMaxSilentShare * fleet_.agentCount()) return false;
    ++dead_in_site_[site];
    fleet_.dies_at[agent] = at;
    return true;
  }
  // Kills one random agent outside `except` at `at`, if one can die.
  void killAnyone(SimTime at, std::optional<SiteId> except = std::nullopt) {
    for (int attempt = 0; attempt < 50; ++attempt) {
      const auto agent = static_cast<uint32_t>(random_.below(fleet_.agentCount()));
      if (except && fleet_.site[agent] == *except) continue;
      if (kill(agent, at)) return;
    }
  }
  // Kills one random member of `site` at `at`, if one can die.
  void killIn(SiteId site, SimTime at) {
    const auto& members = members_[site];
    for (int attempt = 0; attempt < 20; ++attempt) {
      if (kill(members[random_.below(members.size())], at)) return;
    }
  }
  // Agents silent within three intervals of `at`: in a cut site, or dead meanwhile.
  uint32_t silentAround(SimTime at) const {
    const SimTime from = at - 3 * interval_;
    const SimTime to = at + 3 * interval_;
    uint32_t silent = 0;
    for (const Cut& cut : cuts_) {
      if (cut.from < to && from < cut.to) silent += fleet_.site_agents[cut.site];
    }
    for (SimTime dies_at : fleet_.dies_at) {
      if (dies_at != kNever && dies_at >= from && dies_at < to) ++silent;
    }
    return silent;
  }
  uint32_t aliveAt(SiteId site, SimTime t) const {
    uint32_t alive = 0;
    for (uint32_t a : members_[site]) alive += fleet_.aliveAt(a, t) ? 1 : 0;
    return alive;
  }

 private:
  Fleet& fleet_;
  SimRandom& random_;
  std::vector<std::vector<uint32_t>> members_;
  std::vector<uint32_t> dead_in_site_;
  struct Cut {
    SiteId site;
    SimTime from;
    SimTime to;
  };

  Duration interval_;
  std::vector<std::vector<SimTime>> cut_starts_;  // per site
  std::vector<Cut> cuts_;
};

void addCuts(const Duration interval, SimTime from, SimTime to, SimRandom& random, Reaper& reaper,
             Fleet& fleet) {
  const uint32_t n = fleet.agentCount();
  std::vector<SiteId> eligible;
  for (SiteId s = 0; s < fleet.site_agents.size(); ++s) {
    if (fleet.site_agents[s] >= 3) eligible.push_back(s);
  }
  if (eligible.empty() || random.chance(0.15)) return;
  const int wanted = 1 + static_cast<int>(random.below(4));
  std::vector<uint8_t> used(fleet.site_agents.size(), 0);
  uint64_t cut_agents = 0;
  std::optional<RouteFault> previous;
  for (int c = 0; c < wanted; ++c) {
    RouteFault cut;
    const Duration length = times(interval, logUniform(random, 0.3, 20));
    if (previous && random.chance(0.35)) {
      // The same site again after it healed (the black-box run's rounds).
      cut.site = previous->site;
      cut.from = previous->to + times(interval, random.uniform(0.1, 5));
    } else {
      const SiteId site = eligible[random.below(eligible.size())];
      if (!used[site] && static_cast<double>(cut_agents + fleet.site_agents[site]) >
                             kMaxCutShare * static_cast<double>(n))
        continue;
      cut.site = site;
      // Often at about the same time as the previous cut: several sites going dark at once.
      cut.from = previous && random.chance(0.5)
                     ? previous->from + times(interval, random.uniform(-1, 1))
                     : random.between(from, to);
    }
    cut.from = std::clamp(cut.from, from, to);
    cut.to = std::min(cut.from + length, to + 2 * interval);
    if (reaper.aliveAt(*cut.site, cut.from) < 3) continue;
    if (reaper.silentAround(cut.from) + fleet.site_agents[*cut.site] > kMaxSilentShare * n) {
      continue;
    }
    const bool overlapping = std::any_of(
        fleet.route_faults.begin(), fleet.route_faults.end(), [&](const RouteFault& other) {
          return other.site == cut.site &&
                 overlaps(cut.from, cut.to + interval, other.from, other.to + interval);
        });
    if (overlapping) continue;
    if (!used[*cut.site]) {
      used[*cut.site] = 1;
      cut_agents += fleet.site_agents[*cut.site];
    }
    reaper.noteCut(*cut.site, cut.from, cut.to);
    // Unrelated agents elsewhere die at the instant of the cut (issue 16's finding).
    if (random.chance(0.7)) {
      const int deaths = 1 + static_cast<int>(random.below(3));
      for (int d = 0; d < deaths; ++d) {
        reaper.killAnyone(cut.from + random.between(0s, 4s) - 2s, cut.site);
      }
    }
    // A machine of the cut site dies while it is cut.
    if (random.chance(0.3) && reaper.aliveAt(*cut.site, cut.from) >= 4) {
      reaper.killIn(*cut.site,
                    cut.from + random.between(0s, std::max<Duration>(cut.to - cut.from, 1s)));
    }
    fleet.route_faults.push_back(cut);
    previous = cut;
  }
}

void addChannelFault(const Duration interval, SimTime from, SimTime to, SimRandom& random,
                     Fleet& fleet) {
  if (!random.chance(0.35)) return;
  const uint32_t n = fleet.agentCount();
  RouteFault fault;
  fault.from = random.between(from, to);
  fault.agents.assign(n, 0);
  const double share = random.uniform(0.05, 1.0);
  if (random.chance(0.6)) {
    // Beacons lost for a share of the fleet: their heartbeats still reach the collector.
    fault.channels = RouteFault::kBeacons;
    fault.to = std::min(fault.from + times(interval, random.uniform(1, 20)), to + 2 * interval);
    for (uint32_t a = 0; a < n; ++a) fault.agents[a] = random.chance(share);
  } else {
    // Heartbeats lost (a broken proxy) for a share of the agents that also send beacons.
    fault.channels = RouteFault::kHeartbeats;
    fault.to = std::min(fault.from + times(interval, random.uniform(1, 10)), to + 2 * interval);
    for (uint32_t a = 0; a < n; ++a) {
      fault.agents[a] = fleet.uses_beacons[a] && random.chance(share);
    }
  }
  fleet.route_faults.push_back(std::move(fault));
}

// Agents left once the largest tenant is left out (the whole fleet if it is one tenant): the
// collector reads its own invisible faults only from silence no single tenant could make.
uint32_t agentsOutsideLargestTenant(const Fleet& fleet) {
  std::map<TenantId, uint32_t> per_tenant;
  for (TenantId t : fleet.tenant) ++per_tenant[t];
  if (per_tenant.size() < 2) return fleet.agentCount();
  uint32_t largest = 0;
  for (const auto& [tenant, agents] : per_tenant) largest = std::max(largest, agents);
  return fleet.agentCount() - largest;
}

void addCollectorFaults(const Duration interval, SimTime from, SimTime to, SimRandom& random,
                        Fleet& fleet) {
  // Below this, a silence of the fleet could be one tenant's doing: see the upstream stall.
  constexpr uint32_t kTellingAgents = 20;
  const bool can_tell = agentsOutsideLargestTenant(fleet) >= kTellingAgents;
  const double pick = random.uniform01();
  const int count = pick < 0.45 ? 0 : pick < 0.9 ? 1 : 2;
  SimTime earliest = from;
  for (int i = 0; i < count && earliest < to; ++i) {
    CollectorFault fault;
    const double kind = random.uniform01();
    if (kind < 0.3) {
      fault.kind = CollectorFault::Kind::kRestart;
      fault.length = random.between(5s, std::max<Duration>(2 * interval, 10s));
    } else if (kind < 0.6 || fleet.agentCount() < 20) {
      fault.kind = CollectorFault::Kind::kFreeze;
      fault.length = random.between(6s, std::max<Duration>(3 * interval, 12s));
    } else if (kind < 0.8 || !can_tell) {
      fault.kind = CollectorFault::Kind::kIngestStall;
      fault.length = random.between(10s, std::max<Duration>(3 * interval, 20s));
    } else {
      // Everything reaches the collector late and it cannot tell: only a fleet large enough
      // to be seen falling silent together can tell it, and, since no tenant may make the
      // collector deaf (issue 17), large enough without any one tenant.
      fault.kind = CollectorFault::Kind::kUpstreamStall;
      fault.length = random.between(10s, std::max<Duration>(3 * interval, 20s));
    }
    fault.from = random.between(earliest, to);
    fleet.collector_faults.push_back(fault);
    earliest = fault.from + fault.length + 5 * interval;
  }
}

// --- The verdict -----------------------------------------------------------------------------

std::string at(SimTime t) {
  char text[32];
  std::snprintf(text, sizeof text, "%.1fs", std::chrono::duration<double>(t).count());
  return text;
}

struct Period {
  SimTime from;
  SimTime to;
  uint32_t mask;  // reasons seen during it
};

// Degraded periods from the health records (the last one open until `end`).
std::vector<Period> degradedPeriods(const SimulationRun& run, SimTime end) {
  std::vector<Period> periods;
  std::optional<Period> open;
  for (const HealthRecord& record : run.health) {
    if (record.degraded) {
      if (!open) open = Period{record.at, end, 0};
      open->mask |= record.reasons_mask;
    } else if (open) {
      open->to = record.at;
      periods.push_back(*open);
      open.reset();
    }
  }
  if (open) periods.push_back(*open);
  return periods;
}

constexpr uint32_t kMassSuspectOnly = 1u << static_cast<uint32_t>(DegradationReason::kMassSuspect);

// Site cuts of the world, in order.
std::vector<const RouteFault*> cutsOf(const Fleet& fleet) {
  std::vector<const RouteFault*> cuts;
  for (const RouteFault& fault : fleet.route_faults) {
    if (fault.site) cuts.push_back(&fault);
  }
  std::sort(cuts.begin(), cuts.end(),
            [](const RouteFault* a, const RouteFault* b) { return a->from < b->from; });
  return cuts;
}

class Judge {
 public:
  Judge(const ExplorationCase& world, const SimulationRun& run)
      : world_(world),
        run_(run),
        fleet_(run.fleet),
        interval_(world.config.heartbeat_interval),
        bound_(3 * world.config.heartbeat_interval + 2 * world.config.tick_interval),
        end_(world.params.duration),
        periods_(degradedPeriods(run, end_)),
        cuts_(cutsOf(fleet_)) {}

  ExplorationVerdict judge() {
    verdict_.cuts = static_cast<uint32_t>(cuts_.size());
    for (const Period& p : periods_) {
      if (p.from > world_.config.warmUp()) verdict_.degraded_time += p.to - p.from;
    }
    checkDeviceAlerts();
    checkDeaths();
    checkSiteAlerts();
    checkEnd();
    return std::move(verdict_);
  }

 private:
  void violation(std::string text) {
    if (verdict_.violations.size() < 20) verdict_.violations.push_back(std::move(text));
  }

  void checkDeviceAlerts() {
    for (const AlertRecord& alert : run_.alerts) {
      if (alert.action == AlertAction::kHeld) ++verdict_.held;
      if (alert.kind != AlertKind::kDeviceOffline || alert.action != AlertAction::kOpened) continue;
      ++verdict_.device_alerts;
      if (alert.agent == kNoAgent || fleet_.aliveAt(alert.agent, alert.at)) {
        ++verdict_.false_alerts;
        violation("false device alert for live agent " + std::to_string(alert.agent) + " (site " +
                  (alert.agent == kNoAgent ? std::string("?")
                                           : std::to_string(fleet_.site[alert.agent])) +
                  ") at " + at(alert.at) + ": " + alert.note);
      }
    }
  }

  // When the latency clock of agent `a`'s death starts: the death (or the arrival of the last
  // thing it sent, if that came later), pushed past every degradation of the collector and
  // every cut of its site that its detection overlaps.
  SimTime latencyBaseline(uint32_t agent) const {
    SimTime base = std::max(fleet_.dies_at[agent], run_.last_received[agent]);
    for (bool moved = true; moved;) {
      moved = false;
      for (const Period& p : periods_) {
        if (overlaps(base, base + bound_, p.from, p.to) && p.to > base) {
          base = p.to;
          moved = true;
        }
      }
      for (const CollectorFault& f : fleet_.collector_faults) {
        const SimTime to = f.from + f.length;
        if (overlaps(base, base + bound_, f.from, to) && to > base) {
          base = to;
          moved = true;
        }
      }
      for (const RouteFault* cut : cuts_) {
        if (*cut->site != fleet_.site[agent]) continue;
        const SimTime healed = cut->to + interval_;  // one interval to reconnect
        if (overlaps(base, base + bound_, cut->from, healed) && healed > base) {
          base = healed;
          moved = true;
        }
      }
    }
    return base;
  }

  void checkDeaths() {
    std::vector<std::vector<SimTime>> opened(fleet_.agentCount());
    for (const AlertRecord& alert : run_.alerts) {
      if (alert.kind == AlertKind::kDeviceOffline && alert.action == AlertAction::kOpened &&
          alert.agent != kNoAgent) {
        opened[alert.agent].push_back(alert.at);
      }
    }
    for (uint32_t a = 0; a < fleet_.agentCount(); ++a) {
      const SimTime died = fleet_.dies_at[a];
      if (died == kNever) continue;
      ++verdict_.deaths;
      std::vector<SimTime> after;
      for (SimTime t : opened[a]) {
        if (t >= died) after.push_back(t);
      }
      const SimTime base = latencyBaseline(a);
      if (after.empty()) {
        violation("death not alerted: agent " + std::to_string(a) + " (site " +
                  std::to_string(fleet_.site[a]) + ") died at " + at(died) + ", ended " +
                  statusName(run_.final_status[a]));
        continue;
      }
      // One more after a collector restart is allowed (the engine forgets); otherwise one.
      if (after.size() > 1 + fleet_.collector_faults.size()) {
        violation("agent " + std::to_string(a) + " alerted " + std::to_string(after.size()) +
                  " times after its death at " + at(died));
      }
      verdict_.worst_latency = std::max(verdict_.worst_latency, after.front() - base);
      if (after.front() > base + bound_) {
        violation("late alert: agent " + std::to_string(a) + " (site " +
                  std::to_string(fleet_.site[a]) + ") died at " + at(died) + ", latency baseline " +
                  at(base) + ", alerted at " + at(after.front()) + " (bound " + at(bound_) + ")");
      }
    }
  }

  // The collector was healthy, or degraded by a mass suspect only, throughout [from, to).
  bool judgingSites(SimTime from, SimTime to) const {
    for (const Period& p : periods_) {
      if (overlaps(from, to, p.from, p.to) && (p.mask & ~kMassSuspectOnly) != 0) return false;
    }
    for (const CollectorFault& f : fleet_.collector_faults) {
      if (overlaps(from, to, f.from, f.from + f.length)) return false;
    }
    return true;
  }

  // Engine lifetimes: a restart forgets open site alerts.
  size_t lifetimeOf(SimTime t) const {
    size_t life = 0;
    for (const CollectorFault& f : fleet_.collector_faults) {
      if (f.kind == CollectorFault::Kind::kRestart && f.from <= t) ++life;
    }
    return life;
  }

  void checkSiteAlerts() {
    // (cut, engine lifetime) -> site alerts opened.
    std::map<std::pair<const RouteFault*, size_t>, int> per_cut;
    for (const AlertRecord& alert : run_.alerts) {
      if (alert.kind != AlertKind::kSiteUnreachable || alert.action != AlertAction::kOpened) {
        continue;
      }
      ++verdict_.site_alerts;
      const RouteFault* match = nullptr;
      for (const RouteFault* cut : cuts_) {
        if (!alert.site || *cut->site != *alert.site) continue;
        SimTime latest = cut->to + times(interval_, 1.25);
        for (const CollectorFault& f : fleet_.collector_faults) {
          if (overlaps(cut->to, latest, f.from, f.from + f.length)) {
            latest = std::max(latest, f.from + f.length + times(interval_, 1.25));
          }
        }
        if (alert.at >= cut->from && alert.at <= latest) match = cut;
      }
      if (match == nullptr) {
        violation("site alert for site " +
                  (alert.site ? std::to_string(*alert.site) : std::string("?")) +
                  " that was not cut, at " + at(alert.at) + ": " + alert.note);
        continue;
      }
      if (++per_cut[{match, lifetimeOf(alert.at)}] > 1) {
        violation("second site alert for one cut of site " + std::to_string(*match->site) + " at " +
                  at(alert.at));
      }
    }
    const Duration needed = 4 * interval_;
    for (const RouteFault* cut : cuts_) {
      bool required = false;
      for (SimTime t = cut->from; t + needed <= cut->to && !required;
           t += world_.config.tick_interval) {
        required = judgingSites(t, t + needed);
      }
      if (!required) continue;
      ++verdict_.cuts_requiring_alert;
      bool alerted = false;
      for (const auto& [key, count] : per_cut) alerted = alerted || (key.first == cut && count > 0);
      if (!alerted) {
        violation("no site alert for site " + std::to_string(*cut->site) + " cut " + at(cut->from) +
                  ".." + at(cut->to));
      }
    }
  }

  void checkEnd() {
    for (uint32_t a = 0; a < fleet_.agentCount(); ++a) {
      if (fleet_.dies_at[a] != kNever) continue;
      if (run_.final_status[a] != AgentStatus::kOnline) {
        violation("live agent " + std::to_string(a) + " ended " + statusName(run_.final_status[a]));
      }
    }
    std::map<SiteId, int> open;
    for (const AlertRecord& alert : run_.alerts) {
      if (alert.kind != AlertKind::kSiteUnreachable || !alert.site) continue;
      if (alert.action == AlertAction::kOpened) ++open[*alert.site];
      if (alert.action == AlertAction::kResolved) --open[*alert.site];
    }
    for (const auto& [site, count] : open) {
      if (count > static_cast<int>(lifetimeOf(end_))) {
        violation("site alert for site " + std::to_string(site) + " still open at the end");
      }
    }
    if (run_.degraded_at_end) {
      violation("collector DEGRADED at the end (" + reasonsText(run_.reasons_at_end) + ")");
    }
  }

  const ExplorationCase& world_;
  const SimulationRun& run_;
  const Fleet& fleet_;
  const Duration interval_;
  const Duration bound_;
  const SimTime end_;
  const std::vector<Period> periods_;
  const std::vector<const RouteFault*> cuts_;
  ExplorationVerdict verdict_;
};

}  // namespace

ExplorationCase generateCase(uint64_t seed) {
  SimRandom random(seed * 0x9E37'79B9'7F4A'7C15ULL + 0x51ED);
  ExplorationCase world;
  world.seed = seed;
  // Heartbeats every 60 s (the default) or every 10 s (issue 16's black-box run), beacons at
  // a quarter or half of that, a confirmation window of one interval; the rest default.
  const bool fast = random.chance(0.5);
  const Duration interval = fast ? Duration(10s) : Duration(60s);
  world.config.heartbeat_interval = interval;
  world.config.max_heartbeat_interval = interval;
  world.config.confirmation_window = interval;
  world.params.beacon_interval = fast ? Duration(5s) : Duration(15s);
  world.params.seed = seed;
  world.params.duration = 60 * interval;

  Fleet& fleet = world.fleet;
  const auto agents =
      static_cast<uint32_t>(std::clamp<long>(std::lround(logUniform(random, 5, 10000)), 5, 10000));
  world.shape = buildSites(agents, random, fleet, world.tenants);
  const uint32_t n = fleet.agentCount();
  fleet.dies_at.assign(n, kNever);
  const double heartbeat_only = random.chance(0.5) ? 0.0 : random.uniform(0.0, 0.5);
  fleet.uses_beacons.assign(n, 1);
  for (uint32_t a = 0; a < n; ++a) fleet.uses_beacons[a] = !random.chance(heartbeat_only);
  if (heartbeat_only > 0) {
    char share[64];
    std::snprintf(share, sizeof share, ", %.0f %% on heartbeats only", 100 * heartbeat_only);
    world.shape += share;
  }

  // Events fall between 12 intervals in (warm-up, detectors settled) and 45 in; the last 15
  // intervals let everything settle and be judged.
  const SimTime events_from = 12 * interval;
  const SimTime events_to = 45 * interval;
  Reaper reaper(fleet, random, interval);
  const double death_share = random.uniform(0.0, 0.03);
  const auto background = static_cast<uint32_t>(std::lround(death_share * n));
  for (uint32_t i = 0; i < background; ++i) {
    reaper.killAnyone(random.between(events_from - 2 * interval, events_to));
  }
  addCuts(interval, events_from, events_to, random, reaper, fleet);
  addChannelFault(interval, events_from, events_to, random, fleet);
  addCollectorFaults(interval, events_from, events_to, random, fleet);
  fleet.fault_windows.push_back(
      FaultWindow{SimTime::zero(), world.config.warmUp(), std::nullopt, "warm-up"});
  return world;
}

ExplorationVerdict checkInvariants(const ExplorationCase& world, const SimulationRun& run) {
  return Judge(world, run).judge();
}

std::string describeRun(const ExplorationCase& world, const SimulationRun& run,
                        const ExplorationVerdict& verdict) {
  const Fleet& fleet = run.fleet;
  std::ostringstream out;
  out << "seed " << world.seed << ": " << fleet.agentCount() << " agents in "
      << fleet.site_agents.size() << " sites (" << world.shape << "), heartbeat every "
      << at(world.config.heartbeat_interval) << ", beacons every "
      << at(world.params.beacon_interval) << ", confirmation "
      << at(world.config.confirmation_window) << ", " << at(world.params.duration)
      << " simulated\n";
  out << "  replay: presence_exploration_test --run_test=regression_seeds -- --seed=" << world.seed
      << "\n";
  // The timeline: every event of the world and every alert and health change, in order.
  std::multimap<SimTime, std::string> lines;
  std::vector<TenantId> tenant_of_site(fleet.site_agents.size(), 0);
  for (uint32_t a = 0; a < fleet.agentCount(); ++a) tenant_of_site[fleet.site[a]] = fleet.tenant[a];
  for (const RouteFault* cut : cutsOf(fleet)) {
    lines.emplace(cut->from, "site " + std::to_string(*cut->site) + " (" +
                                 std::to_string(fleet.site_agents[*cut->site]) +
                                 " agents, tenant " + std::to_string(tenant_of_site[*cut->site]) +
                                 ") cut until " + at(cut->to));
  }
  for (const RouteFault& fault : fleet.route_faults) {
    if (fault.site) continue;
    const auto count = std::count(fault.agents.begin(), fault.agents.end(), 1);
    lines.emplace(fault.from,
                  std::string(fault.channels == RouteFault::kBeacons ? "beacons" : "heartbeats") +
                      " lost for " + std::to_string(count) + " agents until " + at(fault.to));
  }
  for (const CollectorFault& fault : fleet.collector_faults) {
    lines.emplace(fault.from, std::string(collectorFaultName(fault.kind)) + " until " +
                                  at(fault.from + fault.length));
  }
  for (uint32_t a = 0; a < fleet.agentCount(); ++a) {
    if (fleet.dies_at[a] == kNever) continue;
    lines.emplace(fleet.dies_at[a], "agent " + std::to_string(a) + " (site " +
                                        std::to_string(fleet.site[a]) + ") dies");
  }
  for (const AlertRecord& alert : run.alerts) {
    if (alert.kind == AlertKind::kFlapping) continue;
    const char* action = alert.action == AlertAction::kOpened     ? "opened"
                         : alert.action == AlertAction::kResolved ? "resolved"
                         : alert.action == AlertAction::kHeld     ? "held"
                                                                  : "released";
    if (alert.kind == AlertKind::kSiteUnreachable) {
      lines.emplace(alert.at, "  site alert " + std::string(action) + " for site " +
                                  std::to_string(alert.site.value_or(0)) + ": " + alert.note);
    } else if (alert.action == AlertAction::kOpened || alert.action == AlertAction::kResolved) {
      lines.emplace(alert.at, "  device alert " + std::string(action) + " for agent " +
                                  std::to_string(alert.agent) + " (site " +
                                  std::to_string(alert.site.value_or(0)) + ")");
    }
  }
  for (const HealthRecord& record : run.health) {
    lines.emplace(record.at, record.degraded
                                 ? "  collector DEGRADED: " + reasonsText(record.reasons_mask)
                                 : std::string("  collector healthy"));
  }
  size_t shown = 0;
  for (const auto& [t, line] : lines) {
    if (++shown > 400) {
      out << "  ... " << lines.size() - 400 << " more\n";
      break;
    }
    out << "  " << at(t) << "  " << line << "\n";
  }
  for (const std::string& v : verdict.violations) out << "  VIOLATION: " << v << "\n";
  return out.str();
}

}  // namespace vigil::presence_sim
