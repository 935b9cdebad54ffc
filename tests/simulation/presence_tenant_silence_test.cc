#define BOOST_TEST_MODULE presence_tenant_silence
#include <boost/test/unit_test.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "tests/simulation/fleet_simulation.h"

// Issue 17, finding 4: one tenant must not be able to hold back another tenant's offline
// alerts, nor make the collector DEGRADED on its own. A tenant admin (its enrollment tokens,
// the tenants its admin token covers) enrolls throw-away agents that report a few times and
// go silent together, or silences its own long-lived fleet, while another tenant's long-lived
// machine really dies shortly before, at the same time or shortly after. That machine's
// device alert must open within the usual bound (three heartbeat intervals), and the
// collector must stay healthy. Deterministic: simulated time, a fixed seed per world.

using namespace std::chrono_literals;
using vigil::Duration;
using vigil::collector::presence::AgentClass;
using vigil::collector::presence::AlertAction;
using vigil::collector::presence::AlertKind;
using vigil::collector::presence::DegradationReason;
using vigil::collector::presence::PresenceConfig;
using vigil::presence_sim::CollectorFault;
using vigil::presence_sim::collectorFaultName;
using vigil::presence_sim::Fleet;
using vigil::presence_sim::FleetParams;
using vigil::presence_sim::kNever;
using vigil::presence_sim::kNoAgent;
using vigil::presence_sim::reasonsText;
using vigil::presence_sim::RouteFault;
using vigil::presence_sim::runFleet;
using vigil::presence_sim::SimTime;
using vigil::presence_sim::SimulationRun;
using vigil::presence_sim::SiteId;
using vigil::presence_sim::TenantId;

namespace {

// The world's timeline: the fleet reports from the start; the throw-aways enroll at
// kEnrollAt, report for a few intervals and fall silent together at kSilentAt; the run goes
// on long enough for a hold of mass_suspect_max_duration (30 min) to show.
constexpr SimTime kEnrollAt = 20min;
constexpr SimTime kSilentAt = 24min;
constexpr Duration kRunFor = 60min;
constexpr uint32_t kSiteSize = 10;

// How the attacker's agents fall silent.
enum class Silence {
  kBothChannels,    // they stop (or are killed): nothing more arrives
  kHeartbeatsOnly,  // their heartbeats stop, their beacons go on (a one-channel "collapse")
};

struct Attack {
  uint32_t fleet_agents = 300;  // long-lived agents of every tenant
  uint32_t tenants = 2;
  // Tenants the attacker's admin token covers: tenants 0 .. attacker_tenants - 1. A scoped
  // token cannot create tenants (docs/api.md), but it may cover several.
  uint32_t attacker_tenants = 1;
  // Agents of the victim's tenant (tenant attacker_tenants), the dying machine included; zero
  // gives it an even share of the fleet.
  uint32_t victim_tenant_agents = 0;
  uint32_t throwaways = 40;
  uint32_t throwaway_sites = 1;
  // The attacker's agents are long-lived (its own fleet, or agents enrolled long before),
  // not throw-aways enrolled for the occasion.
  bool established = false;
  Silence silence = Silence::kBothChannels;
  // The victim dies this long after the attacker's agents fall silent (negative: before).
  Duration victim_offset = 0s;
  uint64_t seed = 1;

  std::string describe() const {
    std::ostringstream out;
    out << fleet_agents << " agents in " << tenants << " tenants, victim's tenant "
        << (victim_tenant_agents == 0 ? std::string("an even share")
                                      : std::to_string(victim_tenant_agents) + " agent(s)")
        << "; " << throwaways << (established ? " long-lived" : " throw-away") << " agents in "
        << throwaway_sites << " site(s) of " << attacker_tenants << " attacker tenant(s)"
        << (silence == Silence::kHeartbeatsOnly ? ", heartbeats only" : "") << "; victim dies at "
        << std::chrono::duration<double>(victim_offset).count() << " s";
    return out.str();
  }
};

struct World {
  Fleet fleet;
  uint32_t victim = 0;
  std::vector<uint32_t> attackers;
  SimTime victim_dies_at{};
};

World buildWorld(const Attack& attack) {
  World world;
  Fleet& fleet = world.fleet;
  const uint32_t victim_tenant = attack.attacker_tenants;
  // Agents per tenant.
  std::vector<uint32_t> per_tenant(attack.tenants, 0);
  uint32_t left = attack.fleet_agents;
  if (attack.victim_tenant_agents > 0) {
    per_tenant[victim_tenant] = attack.victim_tenant_agents;
    left -= attack.victim_tenant_agents;
    for (uint32_t t = 0, others = attack.tenants - 1; t < attack.tenants; ++t) {
      if (t == victim_tenant) continue;
      per_tenant[t] = left / others + (t < left % others ? 1 : 0);
    }
  } else {
    for (uint32_t t = 0; t < attack.tenants; ++t) {
      per_tenant[t] = left / attack.tenants + (t < left % attack.tenants ? 1 : 0);
    }
  }
  auto addAgent = [&](SiteId site, TenantId tenant) {
    fleet.site.push_back(site);
    fleet.tenant.push_back(tenant);
    fleet.agent_class.push_back(AgentClass::kWorkstation);
    fleet.dies_at.push_back(kNever);
    fleet.uses_beacons.push_back(1);
    fleet.enrolls_at.push_back(SimTime::zero());
    return fleet.agentCount() - 1;
  };
  // Offices of kSiteSize per tenant; the victim is its tenant's first agent.
  bool victim_placed = false;
  for (TenantId t = 0; t < attack.tenants; ++t) {
    for (uint32_t placed = 0; placed < per_tenant[t];) {
      const uint32_t size = std::min(kSiteSize, per_tenant[t] - placed);
      const auto site = static_cast<SiteId>(fleet.site_agents.size());
      fleet.site_agents.push_back(size);
      for (uint32_t i = 0; i < size; ++i) {
        const uint32_t a = addAgent(site, t);
        if (t == victim_tenant && !victim_placed) {
          world.victim = a;
          victim_placed = true;
        }
      }
      placed += size;
    }
  }
  // The attacker's agents, in sites of its own, round robin over its tenants.
  std::vector<SiteId> attacker_sites;
  for (uint32_t s = 0; s < attack.throwaway_sites; ++s) {
    attacker_sites.push_back(static_cast<SiteId>(fleet.site_agents.size()));
    fleet.site_agents.push_back(0);
  }
  RouteFault heartbeats_lost;
  heartbeats_lost.from = kSilentAt;
  heartbeats_lost.to = kRunFor + 1h;
  heartbeats_lost.channels = RouteFault::kHeartbeats;
  for (uint32_t i = 0; i < attack.throwaways; ++i) {
    const uint32_t s = i % attack.throwaway_sites;
    const uint32_t a = addAgent(attacker_sites[s], s % attack.attacker_tenants);
    ++fleet.site_agents[attacker_sites[s]];
    if (!attack.established) fleet.enrolls_at[a] = kEnrollAt;
    if (attack.silence == Silence::kBothChannels) fleet.dies_at[a] = kSilentAt;
    world.attackers.push_back(a);
  }
  if (attack.silence == Silence::kHeartbeatsOnly) {
    heartbeats_lost.agents.assign(fleet.agentCount(), 0);
    for (uint32_t a : world.attackers) heartbeats_lost.agents[a] = 1;
    fleet.route_faults.push_back(std::move(heartbeats_lost));
  }
  world.victim_dies_at = kSilentAt + attack.victim_offset;
  fleet.dies_at[world.victim] = world.victim_dies_at;
  return world;
}

double seconds(Duration d) { return std::chrono::duration<double>(d).count(); }

struct Outcome {
  std::optional<Duration> victim_latency;  // death to device alert
  Duration degraded_after_warm_up{};
  uint32_t reasons_after_warm_up = 0;
  uint32_t false_alerts = 0;
  uint32_t attacker_device_alerts = 0;
  uint32_t site_alerts = 0;
  SimulationRun run;
};

Outcome play(const Attack& attack, const PresenceConfig& config = PresenceConfig{}) {
  World world = buildWorld(attack);
  FleetParams params;
  params.agents = world.fleet.agentCount();
  params.duration = kRunFor;
  params.seed = attack.seed;
  Outcome out;
  out.run = runFleet(config, params, world.fleet);
  const SimulationRun& run = out.run;
  std::vector<uint8_t> attacker(run.fleet.agentCount(), 0);
  for (uint32_t a : world.attackers) attacker[a] = 1;
  for (const auto& alert : run.alerts) {
    if (alert.action != AlertAction::kOpened) continue;
    if (alert.kind == AlertKind::kSiteUnreachable) ++out.site_alerts;
    if (alert.kind != AlertKind::kDeviceOffline || alert.agent == kNoAgent) continue;
    if (run.fleet.aliveAt(alert.agent, alert.at)) ++out.false_alerts;
    if (attacker[alert.agent]) ++out.attacker_device_alerts;
    if (alert.agent == world.victim && alert.at >= world.victim_dies_at && !out.victim_latency) {
      out.victim_latency = alert.at - world.victim_dies_at;
    }
  }
  // Degraded time after warm-up, and its reasons.
  const SimTime warm_up = config.warmUp() + config.tick_interval;
  std::optional<SimTime> since;
  for (const auto& h : run.health) {
    if (h.at < warm_up) continue;
    if (h.degraded) {
      out.reasons_after_warm_up |= h.reasons_mask;
      if (!since) since = h.at;
    } else if (since) {
      out.degraded_after_warm_up += h.at - *since;
      since.reset();
    }
  }
  if (since) out.degraded_after_warm_up += kRunFor - *since;
  return out;
}

std::string summary(const Outcome& o) {
  char text[200];
  std::snprintf(
      text, sizeof text,
      "victim alerted after %s, degraded %.0f s (%s), %u false alerts, %u attacker "
      "device alerts, %u site alerts",
      o.victim_latency ? (std::to_string(seconds(*o.victim_latency)) + " s").c_str() : "never",
      seconds(o.degraded_after_warm_up), reasonsText(o.reasons_after_warm_up).c_str(),
      o.false_alerts, o.attacker_device_alerts, o.site_alerts);
  return text;
}

// Detection bound: three heartbeat intervals plus the ticks a verdict waits for.
Duration bound(const PresenceConfig& config) {
  return 3 * config.heartbeat_interval + 2 * config.tick_interval;
}

// The victim alerts within the bound, nobody alive alerts, the collector stays healthy.
void expectUnaffected(const Attack& attack, const Outcome& o,
                      const PresenceConfig& config = PresenceConfig{}) {
  BOOST_TEST_CONTEXT(attack.describe() << ": " << summary(o)) {
    BOOST_TEST(o.victim_latency.has_value());
    if (o.victim_latency) BOOST_TEST(seconds(*o.victim_latency) <= seconds(bound(config)));
    BOOST_TEST(o.false_alerts == 0u);
    BOOST_TEST(o.reasons_after_warm_up == 0u);
  }
}

struct Tally {
  uint32_t runs = 0;
  uint32_t held = 0;  // victim alerted late or never
  uint32_t degraded = 0;
  Duration worst{};
};

void note(Tally& tally, const Attack& attack, const Outcome& o) {
  ++tally.runs;
  const bool late = !o.victim_latency || *o.victim_latency > bound(PresenceConfig{});
  if (late) ++tally.held;
  if (o.reasons_after_warm_up != 0) ++tally.degraded;
  tally.worst = std::max(tally.worst, o.victim_latency.value_or(kRunFor));
  if (late || o.reasons_after_warm_up != 0 || o.false_alerts != 0) {
    std::cout << "  AFFECTED " << attack.describe() << ": " << summary(o) << "\n";
  }
}

void report(const char* what, const Tally& t) {
  std::cout << what << ": " << t.runs << " worlds, victim held in " << t.held
            << ", collector degraded in " << t.degraded << ", worst victim latency "
            << seconds(t.worst) << " s\n"
            << std::flush;
}

const std::vector<Duration> kOffsets = {-60s, -20s, 0s, 20s, 60s};

// More than half of the fleet, once the throw-aways are in.
uint32_t moreThanHalf(uint32_t fleet) { return fleet + 10; }

// The long-lived fleet sizes of a case, up to $VIGIL_SIM_MAX_FLEET when it is set (the
// sanitized run sets it: memory errors show at any size, and its worlds cost ten times more
// there). The smallest size always stays, so a case never runs no world.
std::vector<uint32_t> fleetSizes(std::vector<uint32_t> sizes) {
  const char* cap_text = std::getenv("VIGIL_SIM_MAX_FLEET");
  if (cap_text == nullptr) return sizes;
  const unsigned long cap = std::stoul(cap_text);
  std::vector<uint32_t> kept;
  for (uint32_t size : sizes) {
    if (kept.empty() || size <= cap) kept.push_back(size);
  }
  return kept;
}

}  // namespace

BOOST_AUTO_TEST_CASE(one_tenants_throwaway_agents_never_hold_another_tenants_alert) {
  // Fleets of 30 to 3,000 long-lived agents in 2 or 5 tenants; the victim's tenant an even
  // share, or one machine alone; 40, 400 or more than half of the fleet in throw-aways, in one
  // site or four; the victim dying before, with or after their silence.
  Tally tally;
  uint64_t seed = 1;
  for (uint32_t fleet : fleetSizes({30, 300, 3000})) {
    for (uint32_t tenants : {2u, 5u}) {
      for (uint32_t victim_tenant_agents : {0u, 1u}) {
        for (uint32_t throwaways : {40u, 400u, moreThanHalf(fleet)}) {
          for (uint32_t sites : {1u, 4u}) {
            for (Duration offset : kOffsets) {
              Attack attack;
              attack.fleet_agents = fleet;
              attack.tenants = tenants;
              attack.victim_tenant_agents = victim_tenant_agents;
              attack.throwaways = throwaways;
              attack.throwaway_sites = sites;
              attack.victim_offset = offset;
              attack.seed = seed++;
              const Outcome o = play(attack);
              note(tally, attack, o);
              expectUnaffected(attack, o);
            }
          }
        }
      }
    }
  }
  report("one tenant's throw-aways", tally);
}

BOOST_AUTO_TEST_CASE(throwaways_across_the_tenants_of_one_admin_token_never_hold_another_tenant) {
  // A token scoped to two or three of five tenants spreads its throw-aways over them.
  Tally tally;
  uint64_t seed = 1000;
  for (uint32_t fleet : fleetSizes({30, 300, 3000})) {
    for (uint32_t attacker_tenants : {2u, 3u}) {
      for (uint32_t victim_tenant_agents : {0u, 1u}) {
        for (uint32_t throwaways : {40u, 400u, moreThanHalf(fleet)}) {
          for (Duration offset : kOffsets) {
            Attack attack;
            attack.fleet_agents = fleet;
            attack.tenants = 5;
            attack.attacker_tenants = attacker_tenants;
            attack.victim_tenant_agents = victim_tenant_agents;
            attack.throwaways = throwaways;
            attack.throwaway_sites = 2 * attacker_tenants;
            attack.victim_offset = offset;
            attack.seed = seed++;
            const Outcome o = play(attack);
            note(tally, attack, o);
            expectUnaffected(attack, o);
          }
        }
      }
    }
  }
  report("throw-aways over the tenants of one token", tally);
}

BOOST_AUTO_TEST_CASE(one_tenants_whole_long_lived_fleet_going_dark_does_not_hold_another_tenant) {
  // Not throw-aways: the attacking tenant's own long-lived agents (or agents it enrolled long
  // ago) all fall silent at once, however many they are. Still one tenant.
  Tally tally;
  uint64_t seed = 2000;
  for (uint32_t fleet : fleetSizes({30, 300, 3000})) {
    for (uint32_t tenants : {2u, 5u}) {
      for (uint32_t victim_tenant_agents : {0u, 1u}) {
        for (uint32_t attackers : {40u, moreThanHalf(fleet)}) {
          for (Duration offset : {-20s, 0s, 60s}) {
            Attack attack;
            attack.fleet_agents = fleet;
            attack.tenants = tenants;
            attack.victim_tenant_agents = victim_tenant_agents;
            attack.throwaways = attackers;
            attack.throwaway_sites = 4;
            attack.established = true;
            attack.victim_offset = offset;
            attack.seed = seed++;
            const Outcome o = play(attack);
            note(tally, attack, o);
            expectUnaffected(attack, o);
          }
        }
      }
    }
  }
  report("one tenant's long-lived fleet dark", tally);
}

BOOST_AUTO_TEST_CASE(one_tenants_agents_dropping_one_channel_do_not_collapse_it_for_everyone) {
  // The attacker's agents stay alive but stop their heartbeats, beacons going on (a firewall
  // rule, or agents it controls): to the collector, a heartbeat channel losing a large share
  // of its agents. That is one tenant's doing, not a channel fault of the collector.
  Tally tally;
  uint64_t seed = 3000;
  for (uint32_t fleet : fleetSizes({300, 3000})) {
    for (uint32_t tenants : {2u, 5u}) {
      for (bool established : {false, true}) {
        for (uint32_t attackers : {100u, moreThanHalf(fleet)}) {
          for (Duration offset : {0s, 60s, 150s}) {
            Attack attack;
            attack.fleet_agents = fleet;
            attack.tenants = tenants;
            attack.throwaways = attackers;
            attack.throwaway_sites = 4;
            attack.established = established;
            attack.silence = Silence::kHeartbeatsOnly;
            attack.victim_offset = offset;
            attack.seed = seed++;
            const Outcome o = play(attack);
            note(tally, attack, o);
            expectUnaffected(attack, o);
          }
        }
      }
    }
  }
  report("one tenant's agents dropping heartbeats", tally);
}

BOOST_AUTO_TEST_CASE(forty_throwaways_next_to_a_one_machine_tenant_are_the_attackers_own_business) {
  // The audit's case (issue 17): tenant 0 enrolls 40 throw-aways in one site of a fleet of 30
  // in two tenants, where tenant 1 is one machine, which dies 20 s before they fall silent.
  // Counted by agents and by tenants that looked like the collector going deaf, and the
  // machine's alert was held for minutes. Now the collector stays healthy, the attacker's
  // site gets its site alert (its agents were heard enough to be expected) and none of its
  // throw-aways a device alert, and the machine alerts on time.
  Attack attack;
  attack.fleet_agents = 30;
  attack.tenants = 2;
  attack.victim_tenant_agents = 1;
  attack.throwaways = 40;
  attack.throwaway_sites = 1;
  attack.victim_offset = -20s;
  attack.seed = 4000;
  const Outcome o = play(attack);
  std::cout << attack.describe() << ": " << summary(o) << "\n";
  expectUnaffected(attack, o);
  BOOST_TEST(o.site_alerts == 1u);
  BOOST_TEST(o.attacker_device_alerts == 0u);
}

BOOST_AUTO_TEST_CASE(the_collectors_own_faults_still_hold_every_verdict_after_an_attack) {
  // The attack of one tenant (throw-aways silent together 20 s after another tenant's machine
  // died: its alert is on time), and ten minutes later a fault on the collector's side: a restart
  // (60 s down), a freeze (2 min), a reported ingest stall (3 min), or an outage it cannot
  // see (everything reaches it three intervals late), the last seen as a mass suspect. No
  // live agent of any tenant gets an alert, and the collector ends healthy.
  struct Fault {
    CollectorFault::Kind kind;
    Duration length;
  };
  const std::vector<Fault> faults = {{CollectorFault::Kind::kRestart, 60s},
                                     {CollectorFault::Kind::kFreeze, 2min},
                                     {CollectorFault::Kind::kIngestStall, 3min},
                                     {CollectorFault::Kind::kUpstreamStall, 3min}};
  uint64_t seed = 5000;
  for (uint32_t fleet : fleetSizes({30, 300, 3000})) {
    for (uint32_t tenants : {2u, 3u, 5u}) {
      for (bool young_majority : {false, true}) {
        for (const Fault& fault : faults) {
          Attack attack;
          attack.fleet_agents = fleet;
          attack.tenants = tenants;
          attack.throwaways = young_majority ? moreThanHalf(fleet) : 40;
          // With three or five tenants the victim's is one machine; with two, an even share
          // (one machine next to one big tenant cannot tell from that tenant's silence a
          // fault the collector does not see: presence.md, "What one tenant can and cannot do").
          attack.victim_tenant_agents = tenants > 2 ? 1 : 0;
          attack.throwaway_sites = 1;
          attack.victim_offset = -20s;
          attack.seed = seed++;
          World world = buildWorld(attack);
          world.fleet.collector_faults.push_back(
              CollectorFault{fault.kind, kSilentAt + 10min, fault.length});
          FleetParams params;
          params.agents = world.fleet.agentCount();
          params.duration = kRunFor;
          params.seed = attack.seed;
          const PresenceConfig config;
          const SimulationRun run = runFleet(config, params, world.fleet);
          std::optional<Duration> victim_latency;
          uint32_t false_alerts = 0;
          bool mass_suspect = false;
          for (const auto& a : run.alerts) {
            if (a.kind != AlertKind::kDeviceOffline || a.action != AlertAction::kOpened) continue;
            if (a.agent == kNoAgent) continue;
            if (run.fleet.aliveAt(a.agent, a.at)) ++false_alerts;
            if (a.agent == world.victim && !victim_latency) {
              victim_latency = a.at - world.victim_dies_at;
            }
          }
          for (const auto& h : run.health) {
            mass_suspect |= (h.reasons_mask &
                             (1u << static_cast<unsigned>(DegradationReason::kMassSuspect))) != 0;
          }
          BOOST_TEST_CONTEXT(attack.describe() << "; then " << collectorFaultName(fault.kind)) {
            BOOST_TEST(victim_latency.has_value());
            if (victim_latency) BOOST_TEST(seconds(*victim_latency) <= seconds(bound(config)));
            BOOST_TEST(false_alerts == 0u);
            if (fault.kind == CollectorFault::Kind::kUpstreamStall) BOOST_TEST(mass_suspect);
            BOOST_TEST(!run.degraded_at_end);
          }
        }
      }
    }
  }
}
