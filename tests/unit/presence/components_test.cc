#define BOOST_TEST_MODULE presence_components
#include <boost/test/unit_test.hpp>
#include <chrono>
#include <set>
#include <string>

#include "collector/presence/channel_monitor.h"
#include "collector/presence/degradation_detector.h"
#include "collector/presence/engine_time.h"
#include "collector/presence/flap_detector.h"
#include "collector/presence/fleet_hearing.h"
#include "collector/presence/maintenance.h"
#include "collector/presence/mass_suspect_monitor.h"
#include "collector/presence/presence_types.h"
#include "collector/presence/site_question.h"
#include "collector/presence/site_tracker.h"
#include "collector/presence/tracked_agent.h"

using namespace std::chrono_literals;
using namespace vigil::collector::presence;
using vigil::WallTime;

BOOST_AUTO_TEST_CASE(every_name_is_distinct_and_warm_up_is_one_max_interval_plus_jitter) {
  std::set<std::string> names;
  for (int i = 0; i <= static_cast<int>(Reason::kRetired); ++i) {
    names.insert(reasonName(static_cast<Reason>(i)));
    BOOST_TEST(!reasonText(static_cast<Reason>(i)).empty());
  }
  BOOST_TEST(names.size() == static_cast<size_t>(Reason::kRetired) + 1);
  names.clear();
  for (size_t i = 0; i < kDegradationReasonCount; ++i) {
    names.insert(degradationReasonName(static_cast<DegradationReason>(i)));
  }
  BOOST_TEST(names.size() == kDegradationReasonCount);
  BOOST_TEST(std::string(statusName(AgentStatus::kUnreachable)) == "UNREACHABLE");
  BOOST_TEST(std::string(indicatorName(Indicator::kPeerWitness)) == "peer_witness");
  PresenceConfig config;
  BOOST_TEST((config.warmUp() == vigil::Duration(66s)));
  BOOST_TEST((config.effectiveRecoveryPeriod() == vigil::Duration(66s)));
  config.recovery_period = 10s;
  BOOST_TEST((config.effectiveRecoveryPeriod() == vigil::Duration(10s)));
}

BOOST_AUTO_TEST_CASE(flap_score_decays_by_half_per_half_life_with_hysteresis) {
  PresenceConfig config;
  FlapDetector flaps(config);
  float score = 0;
  Ticks updated = kNever;
  for (int i = 0; i < 7; ++i) flaps.addChange(score, updated, 0);
  BOOST_TEST(score == 7.0f);
  BOOST_TEST(flaps.starts(score));
  const double later = flaps.decayed(score, updated, ticksOf(config.flap_half_life));
  BOOST_TEST(later == 3.5, boost::test_tools::tolerance(1e-6));
  BOOST_TEST(!flaps.starts(later));
  BOOST_TEST(!flaps.ends(later));  // between low and high: no change either way
  BOOST_TEST(flaps.ends(flaps.decayed(score, updated, 2 * ticksOf(config.flap_half_life))));
}

BOOST_AUTO_TEST_CASE(one_off_and_weekly_windows_open_and_close_on_wall_time) {
  const WallTime start = WallTime(std::chrono::hours(24 * 365 * 55));
  MaintenanceWindow once;
  once.starts_at = start;
  once.length = 1h;
  BOOST_TEST(!isWindowOpen(once, start - 1s));
  BOOST_TEST(isWindowOpen(once, start));
  BOOST_TEST(isWindowOpen(once, start + 59min));
  BOOST_TEST(!isWindowOpen(once, start + 1h));
  BOOST_TEST(!isWindowOpen(once, start + std::chrono::hours(24 * 7)));
  MaintenanceWindow weekly = once;
  weekly.weekly = true;
  BOOST_TEST(isWindowOpen(weekly, start + std::chrono::hours(24 * 7) + 30min));
  BOOST_TEST(!isWindowOpen(weekly, start + std::chrono::hours(24 * 7) + 2h));
  BOOST_TEST(!isWindowOpen(weekly, start - std::chrono::hours(24 * 7) + 30min));
}

BOOST_AUTO_TEST_CASE(calendar_reports_closing_windows_and_covers_by_scope) {
  const WallTime start = WallTime(std::chrono::hours(24 * 365 * 55));
  MaintenanceCalendar calendar;
  MaintenanceWindow site;
  site.scope = MaintenanceWindow::Scope::kSite;
  site.target = 3;
  site.starts_at = start;
  site.length = 1h;
  calendar.setWindows({site});
  BOOST_TEST(calendar.update(start));  // replaced
  BOOST_TEST(calendar.covers(100, 3, 0));
  BOOST_TEST(!calendar.covers(3, 4, 3));
  BOOST_TEST(!calendar.update(start + 30min));
  BOOST_TEST(calendar.update(start + 1h));  // closed
  BOOST_TEST(!calendar.covers(100, 3, 0));
  BOOST_TEST(!calendar.anyOpen());
}

BOOST_AUTO_TEST_CASE(degradation_detector_pulses_linger_and_levels_wait_for_their_end) {
  PresenceConfig config;
  config.recovery_period = 10s;
  const WallTime wall = WallTime(std::chrono::hours(1000));
  DegradationDetector detector(config, 0, wall);
  int64_t now_s = 0;
  auto tickTo = [&](int64_t to_s) {  // regular ticks, one a second
    while (now_s < to_s) {
      ++now_s;
      detector.onTick(ticksOf(std::chrono::seconds(now_s)), wall + std::chrono::seconds(now_s));
    }
  };
  BOOST_TEST(detector.mask() == 1u << static_cast<int>(DegradationReason::kWarmUp));
  tickTo(65);
  BOOST_TEST(detector.degraded());
  tickTo(66);
  BOOST_TEST(!detector.degraded());
  now_s = 80;  // 14 s since the last tick: late
  BOOST_TEST(detector.onTick(ticksOf(80s), wall + 80s));
  BOOST_TEST(detector.mask() == 1u << static_cast<int>(DegradationReason::kTickLate));
  tickTo(89);
  BOOST_TEST(detector.degraded());
  tickTo(90);
  BOOST_TEST(!detector.degraded());
  detector.onIngestLag(1min, ticksOf(91s));
  tickTo(200);
  BOOST_TEST(detector.mask() == 1u << static_cast<int>(DegradationReason::kIngestLag));
  detector.onIngestLag(0s, ticksOf(200s));
  tickTo(209);
  BOOST_TEST(detector.degraded());
  tickTo(210);
  BOOST_TEST(!detector.degraded());
}

BOOST_AUTO_TEST_CASE(channel_monitor_needs_a_drop_on_one_channel_while_the_other_holds) {
  PresenceConfig config;
  ChannelMonitor monitor(config, 0);
  std::vector<DirectStats> agents(100);
  auto window = [&](int index, size_t beacons, size_t heartbeats) {
    for (size_t i = 0; i < heartbeats; ++i) monitor.onArrival(0, agents[i], 0);
    for (size_t i = 0; i < beacons; ++i) monitor.onArrival(1, agents[i], 0);
    return monitor.roll(ticksOf(config.channel_window) * (index + 1));
  };
  BOOST_TEST(!window(0, 100, 100));
  BOOST_TEST(!window(1, 100, 100));
  BOOST_TEST(!window(2, 75, 100));  // a 25 % drop is within bounds
  BOOST_TEST(window(3, 50, 100));   // 50 -> collapse (baseline 75 then 50 < 70 % of 75)
  BOOST_TEST(monitor.collapsed(1));
  BOOST_TEST(!monitor.collapsed(0));
  BOOST_TEST(!window(4, 50, 100));  // stays collapsed against its baseline
  BOOST_TEST(window(5, 75, 100));   // back within 30 % of the baseline
  BOOST_TEST(!monitor.anyCollapsed());
  BOOST_TEST(!window(6, 100, 100));
  BOOST_TEST(!window(7, 40, 40));  // both channels drop: not a channel fault
  BOOST_TEST(!monitor.anyCollapsed());
}

BOOST_AUTO_TEST_CASE(channel_collapse_is_seen_among_agents_alive_whatever_else_falls_silent) {
  // 200 agents on both channels. Then a fifth of them fall silent on both (a partitioned site,
  // deaths): that is no channel fault. Then, with those still silent, a third of the rest lose
  // their beacons (Atera's vendor): a beacon collapse, although heartbeats dropped by 20 %
  // too. A rule that wants the other channel to hold within 10 % misses it.
  PresenceConfig config;
  ChannelMonitor monitor(config, 0);
  std::vector<DirectStats> agents(200);
  auto window = [&](int index, size_t from, size_t to, size_t beacons_to) {
    for (size_t i = from; i < to; ++i) monitor.onArrival(0, agents[i], 0);
    for (size_t i = from; i < beacons_to; ++i) monitor.onArrival(1, agents[i], 0);
    return monitor.roll(ticksOf(config.channel_window) * (index + 1));
  };
  BOOST_TEST(!window(0, 0, 200, 200));
  BOOST_TEST(!window(1, 0, 200, 200));
  BOOST_TEST(!window(2, 40, 200, 200));  // 40 silent on both channels
  BOOST_TEST(!monitor.anyCollapsed());
  BOOST_TEST(window(3, 40, 200, 140));  // 60 of the 160 alive lose their beacons
  BOOST_TEST(monitor.collapsed(1));
  BOOST_TEST(!monitor.collapsed(0));
  BOOST_TEST(window(4, 40, 200, 200));  // beacons back
  BOOST_TEST(!monitor.anyCollapsed());
}

BOOST_AUTO_TEST_CASE(channel_collapse_ends_after_its_maximum_and_the_new_level_is_the_baseline) {
  PresenceConfig config;
  ChannelMonitor monitor(config, 0);
  std::vector<DirectStats> agents(100);
  auto window = [&](int index, size_t beacons, size_t heartbeats) {
    for (size_t i = 0; i < heartbeats; ++i) monitor.onArrival(0, agents[i], 0);
    for (size_t i = 0; i < beacons; ++i) monitor.onArrival(1, agents[i], 0);
    return monitor.roll(ticksOf(config.channel_window) * (index + 1));
  };
  BOOST_TEST(!window(0, 100, 100));
  BOOST_TEST(window(1, 50, 100));  // collapses at the end of window 1
  const auto max_windows =
      static_cast<int>(config.channel_collapse_max_duration / config.channel_window);
  BOOST_TEST_REQUIRE(max_windows == 5);  // 5 min of 60 s windows
  for (int i = 2; i < 1 + max_windows; ++i) {
    BOOST_TEST(!window(i, 50, 100));
    BOOST_TEST(monitor.collapsed(1));
  }
  BOOST_TEST(window(1 + max_windows, 50, 100));  // too long: ends
  BOOST_TEST(!monitor.anyCollapsed());
  for (int i = 2 + max_windows; i < 10 + max_windows; ++i) {
    BOOST_TEST(!window(i, 50, 100));  // 50 is the new normal, not a new collapse
  }
  BOOST_TEST(!monitor.anyCollapsed());
}

BOOST_AUTO_TEST_CASE(channel_collapse_must_hold_without_any_one_tenant) {
  // Tenants 1 and 2, 100 agents each on both channels. Tenant 1's agents all stop their
  // heartbeats (beacons go on): the fleet's heartbeat share falls to half, but without tenant
  // 1 nothing changed: its own doing, no collapse. Half of each tenant's agents losing them is
  // a channel fault.
  PresenceConfig config;
  const Ticks w = ticksOf(config.channel_window);
  auto run = [&](size_t lost_of_1, size_t lost_of_2) {
    ChannelMonitor monitor(config, 0);
    std::vector<DirectStats> agents(200);
    auto count = [&](size_t lost1, size_t lost2) {
      for (size_t i = 0; i < 200; ++i) {
        const TenantId tenant = i < 100 ? 1 : 2;
        const size_t index = i % 100;
        const bool lost = index < (tenant == 1 ? lost1 : lost2);
        if (!lost) monitor.onArrival(0, agents[i], tenant);
        monitor.onArrival(1, agents[i], tenant);
      }
    };
    count(0, 0);
    monitor.roll(w);
    count(0, 0);
    monitor.roll(2 * w);
    count(lost_of_1, lost_of_2);
    monitor.roll(3 * w);
    return monitor.collapsed(0);
  };
  BOOST_TEST(!run(100, 0));
  BOOST_TEST(!run(0, 100));
  BOOST_TEST(run(50, 50));
  BOOST_TEST(run(40, 60));
  // One tenant's fleet is its own: its drop is a collapse (channel_monitor_needs_a_drop...).
}

// The collector frozen for 90 s (the incident lab's collector-sigstop scenario): the window
// in progress at the freeze and the one in progress at the thaw are counted only in part, and
// a part of a 60 s window hears every beaconing agent (15 s) but only some heartbeats (60 s).
// That is no heartbeat collapse; the same counts without the stall are one.
BOOST_AUTO_TEST_CASE(windows_counted_in_part_around_a_stall_start_no_collapse) {
  PresenceConfig config;
  const Ticks w = ticksOf(config.channel_window);
  for (const bool stall_reported : {true, false}) {
    ChannelMonitor monitor(config, 0);
    std::vector<DirectStats> agents(100);
    auto count = [&](size_t beacons, size_t heartbeats) {
      for (size_t i = 0; i < heartbeats; ++i) monitor.onArrival(0, agents[i], 0);
      for (size_t i = 0; i < beacons; ++i) monitor.onArrival(1, agents[i], 0);
    };
    count(100, 100);
    BOOST_TEST(!monitor.roll(w));
    count(100, 100);
    BOOST_TEST(!monitor.roll(2 * w));
    count(100, 40);  // window 2: frozen after 20 s of it
    // The thaw, 90 s later, in window 3 (its last 10 s are counted).
    const Ticks thaw = 2 * w + w / 3 + ticksOf(90s);
    if (stall_reported) monitor.onStall(thaw);
    monitor.roll(thaw);
    count(100, 20);
    monitor.roll(4 * w);
    BOOST_TEST(monitor.collapsed(0) == !stall_reported);
    if (!stall_reported) continue;
    count(100, 100);  // complete windows again
    BOOST_TEST(!monitor.roll(5 * w));
    count(100, 100);
    BOOST_TEST(!monitor.roll(6 * w));
    BOOST_TEST(!monitor.anyCollapsed());
    count(100, 50);  // a real heartbeat collapse is still seen
    BOOST_TEST(monitor.roll(7 * w));
    BOOST_TEST(monitor.collapsed(0));
  }
}

namespace {

MassSuspectMonitor::Entry entryOf(SiteId site, TenantId tenant, bool minority = true,
                                  bool several_tenants = true) {
  MassSuspectMonitor::Entry entry;
  entry.site = site;
  entry.tenant = tenant;
  entry.site_is_minority = minority;
  entry.several_tenants = several_tenants;
  return entry;
}

using Change = MassSuspectMonitor::Change;

}  // namespace

BOOST_AUTO_TEST_CASE(mass_suspect_compares_against_the_baseline_and_leaves_out_one_site) {
  PresenceConfig config;
  MassSuspectMonitor monitor(config, 0);
  const uint64_t fleet = 1000;
  // 20 suspects a window, steady, spread over sites and tenants: the baseline rises to about
  // 20 and nothing triggers.
  for (int w = 0; w < 40; ++w) {
    for (uint32_t i = 0; i < 20; ++i) {
      BOOST_TEST_REQUIRE(!monitor.onSuspect(entryOf(i, i), fleet, ticksOf(60s) * w + i));
    }
  }
  monitor.roll(0, fleet, false, ticksOf(60s) * 40);
  BOOST_TEST(monitor.baseline() > 15.0);
  // 99 from one minority site: a partition candidate, not a mass suspect.
  const Ticks t = ticksOf(60s) * 40;
  for (int i = 0; i < 99; ++i) BOOST_TEST_REQUIRE(!monitor.onSuspect(entryOf(7, 7), fleet, t));
  // Spread over the fleet, more than 5 x baseline: a mass suspect.
  bool started = false;
  for (uint32_t i = 0; i < 200 && !started; ++i) {
    started = monitor.onSuspect(entryOf(100 + i, 100 + i % 50), fleet, t);
  }
  BOOST_TEST(started);
  BOOST_TEST(monitor.active());
  BOOST_TEST((monitor.roll(500, fleet, false, t + ticksOf(30s)) == Change::kNone));  // many left
  BOOST_TEST((monitor.roll(10, fleet, false, t + ticksOf(61s)) == Change::kEnded));
  BOOST_TEST(!monitor.active());
}

BOOST_AUTO_TEST_CASE(mass_suspect_leaves_out_the_tenant_with_most_suspects) {
  // One tenant's agents falling silent together, in as many sites as it likes, cannot hold
  // back another tenant's alerts (one tenant's throw-away agents, or its own real outage).
  PresenceConfig config;
  MassSuspectMonitor monitor(config, 0);
  const uint64_t fleet = 1000;
  const Ticks t = ticksOf(60s) * 10;
  for (uint32_t i = 0; i < 400; ++i)
    BOOST_TEST_REQUIRE(!monitor.onSuspect(entryOf(i, 3), fleet, t));
  // Plus a partition of one site of another tenant: still nothing.
  for (int i = 0; i < 30; ++i) BOOST_TEST_REQUIRE(!monitor.onSuspect(entryOf(900, 4), fleet, t));
  // The same surge spread over many tenants is the collector's problem.
  bool started = false;
  for (uint32_t i = 0; i < 100 && !started; ++i) {
    started = monitor.onSuspect(entryOf(1000 + i, 10 + i), fleet, t);
  }
  BOOST_TEST(started);
  // A fleet of one tenant has no other tenant to protect: its own surge counts.
  MassSuspectMonitor single(config, 0);
  started = false;
  for (uint32_t i = 0; i < 100 && !started; ++i) {
    started = single.onSuspect(entryOf(i, 0, true, false), fleet, t);
  }
  BOOST_TEST(started);
}

BOOST_AUTO_TEST_CASE(mass_suspect_starts_when_the_fleet_is_deaf_and_ends_when_it_is_heard) {
  PresenceConfig config;
  MassSuspectMonitor monitor(config, 0);
  const uint64_t fleet = 12;  // far below any surge threshold
  BOOST_TEST((monitor.roll(0, fleet, false, ticksOf(1s)) == Change::kNone));
  BOOST_TEST((monitor.roll(0, fleet, true, ticksOf(2s)) == Change::kStarted));
  BOOST_TEST((monitor.roll(12, fleet, true, ticksOf(3s)) == Change::kNone));
  BOOST_TEST((monitor.roll(12, fleet, false, ticksOf(4s)) == Change::kEnded));
  // A deafness that outlives the maximum duration ends there and does not start again until
  // the fleet was heard once.
  BOOST_TEST((monitor.roll(12, fleet, true, ticksOf(5s)) == Change::kStarted));
  const Ticks late = ticksOf(5s) + ticksOf(config.mass_suspect_max_duration);
  BOOST_TEST((monitor.roll(12, fleet, true, late) == Change::kEnded));
  BOOST_TEST((monitor.roll(12, fleet, true, late + ticksOf(1s)) == Change::kNone));
  BOOST_TEST((monitor.roll(0, fleet, false, late + ticksOf(2s)) == Change::kNone));
  BOOST_TEST((monitor.roll(12, fleet, true, late + ticksOf(3s)) == Change::kStarted));
}

BOOST_AUTO_TEST_CASE(site_tracker_counts_members_by_status_and_knows_minority_sites) {
  SiteTracker sites;
  for (AgentHandle a = 0; a < 10; ++a) sites.add(1, a);
  for (AgentHandle a = 10; a < 40; ++a) sites.add(2, a);
  for (int i = 0; i < 10; ++i) sites.onStatusChange(1, AgentStatus::kUnknown, AgentStatus::kOnline);
  for (int i = 0; i < 7; ++i) sites.onStatusChange(1, AgentStatus::kOnline, AgentStatus::kSuspect);
  BOOST_TEST(sites.site(1).by_status[static_cast<size_t>(AgentStatus::kSuspect)] == 7u);
  BOOST_TEST(sites.fleet()[static_cast<size_t>(AgentStatus::kUnknown)] == 30u);
  BOOST_TEST(expectedAgents(sites.site(1).by_status) == 10u);
  BOOST_TEST(sites.isMinority(1));
  BOOST_TEST(!sites.isMinority(2));
  // Removing a member moves the last one into its slot.
  const auto moved = sites.remove(1, 0, AgentStatus::kSuspect);
  BOOST_TEST_REQUIRE(moved.has_value());
  BOOST_TEST(*moved == 9u);
  BOOST_TEST(sites.fleetSize() == 39u);
}

namespace {

// Moves `count` established agents of `tenant` from one status to another.
void move(FleetHearing& hearing, TenantId tenant, int count, AgentStatus from, AgentStatus to) {
  for (int i = 0; i < count; ++i) hearing.onStatusChange(tenant, from, to, true);
}

// `count` established agents of `tenant`, ONLINE.
void populate(FleetHearing& hearing, TenantId tenant, int count) {
  for (int i = 0; i < count; ++i) hearing.onEstablished(tenant, AgentStatus::kUnknown, true);
  move(hearing, tenant, count, AgentStatus::kUnknown, AgentStatus::kOnline);
}

}  // namespace

BOOST_AUTO_TEST_CASE(one_tenant_however_large_cannot_make_the_collector_deaf) {
  PresenceConfig config;
  FleetHearing hearing(config);
  populate(hearing, 1, 100);
  populate(hearing, 2, 10);
  populate(hearing, 3, 10);
  move(hearing, 1, 100, AgentStatus::kOnline, AgentStatus::kSuspect);
  BOOST_TEST(!hearing.deaf());  // 100 of 120 agents, but one tenant of three
  move(hearing, 2, 6, AgentStatus::kOnline, AgentStatus::kSuspect);
  // Two tenants of three and 106 of 120 agents, but without tenant 1 only 6 agents are silent:
  // its silence cannot turn tenant 2's six into the collector's problem.
  BOOST_TEST(!hearing.deaf());
  // Silence spread over the others too: deaf without any one tenant.
  move(hearing, 3, 8, AgentStatus::kOnline, AgentStatus::kSuspect);
  BOOST_TEST(hearing.deaf());
  BOOST_TEST(hearing.silentOutsideTopTenant() == 14u);
  // Agents accounted for by a site alert are not listened to.
  move(hearing, 1, 100, AgentStatus::kSuspect, AgentStatus::kUnreachable);
  move(hearing, 3, 8, AgentStatus::kSuspect, AgentStatus::kOnline);
  BOOST_TEST(!hearing.deaf());
}

BOOST_AUTO_TEST_CASE(one_tenants_silence_never_speaks_for_another_tenants_single_death) {
  // Issue 17: tenant 1's 40 agents fall silent together while tenant 2's only machine dies.
  // Counted by agents (41 of 41) and by tenants (2 of 2) the fleet looks deaf; without
  // tenant 1 it is one death.
  PresenceConfig config;
  FleetHearing hearing(config);
  populate(hearing, 1, 40);
  populate(hearing, 2, 1);
  move(hearing, 1, 40, AgentStatus::kOnline, AgentStatus::kSuspect);
  move(hearing, 2, 1, AgentStatus::kOnline, AgentStatus::kSuspect);
  BOOST_TEST(!hearing.deaf());
  BOOST_TEST(hearing.silentOutsideTopTenant() == 1u);
  // Judging a dark site of tenant 2 against the rest, tenant 1's silence cannot speak either.
  BOOST_TEST(
      (hearing.judgeRest(FleetHearing::Group{2, 1, 1}) == FleetHearing::Verdict::kNoReference));
}

BOOST_AUTO_TEST_CASE(agents_count_only_once_established) {
  // Agents on probation (enrolled recently, or just back from OFFLINE) count for nothing;
  // once established they count with the status they have, and leave with it.
  PresenceConfig config;
  FleetHearing hearing(config);
  for (int i = 0; i < 30; ++i)
    hearing.onStatusChange(1, AgentStatus::kUnknown, AgentStatus::kOnline, false);
  for (int i = 0; i < 30; ++i)
    hearing.onStatusChange(1, AgentStatus::kOnline, AgentStatus::kSuspect, false);
  BOOST_TEST(hearing.listening() == 0u);
  BOOST_TEST(!hearing.deaf());
  BOOST_TEST(hearing.establishedTenants() == 0u);
  for (int i = 0; i < 12; ++i) hearing.onEstablished(1, AgentStatus::kSuspect, true);
  BOOST_TEST(hearing.establishedAgents() == 12u);
  BOOST_TEST(hearing.silent() == 12u);
  BOOST_TEST(hearing.deaf());  // one tenant: its own fleet, judged as it stands
  for (int i = 0; i < 3; ++i) hearing.onRemove(1, AgentStatus::kSuspect, true);
  BOOST_TEST(hearing.silent() == 9u);
  BOOST_TEST(!hearing.deaf());  // fewer than fleet_silent_min_agents
  hearing.onEstablished(1, AgentStatus::kSuspect, false);
  BOOST_TEST(hearing.establishedAgents() == 8u);
}

BOOST_AUTO_TEST_CASE(many_small_tenants_cannot_make_the_collector_deaf_without_most_agents) {
  PresenceConfig config;
  FleetHearing hearing(config);
  populate(hearing, 0, 1000);
  for (TenantId t = 1; t <= 20; ++t) populate(hearing, t, 5);
  for (TenantId t = 1; t <= 20; ++t)
    move(hearing, t, 5, AgentStatus::kOnline, AgentStatus::kSuspect);
  BOOST_TEST(!hearing.deaf());  // 20 of 21 tenants, 100 of 1,100 agents
}

BOOST_AUTO_TEST_CASE(the_rest_of_a_small_fleet_is_heard_despite_a_cut_site_and_a_death) {
  // Issue 16's fleet: one tenant, three sites of four.
  PresenceConfig config;
  FleetHearing hearing(config);
  populate(hearing, 1, 12);
  move(hearing, 1, 4, AgentStatus::kOnline, AgentStatus::kSuspect);  // the cut site
  move(hearing, 1, 1, AgentStatus::kOnline, AgentStatus::kSuspect);  // an unrelated death
  const FleetHearing::Group site{1, 4, 4};
  BOOST_TEST((hearing.judgeRest(site) == FleetHearing::Verdict::kHeard));
  BOOST_TEST(!hearing.deaf());
  // Everyone silent: the collector's problem, with or without the site.
  move(hearing, 1, 7, AgentStatus::kOnline, AgentStatus::kSuspect);
  BOOST_TEST((hearing.judgeRest(site) == FleetHearing::Verdict::kDeaf));
  BOOST_TEST(hearing.deaf());
  // A fleet that is one site has nothing to compare with.
  FleetHearing alone(config);
  populate(alone, 1, 5);
  move(alone, 1, 5, AgentStatus::kOnline, AgentStatus::kSuspect);
  BOOST_TEST(
      (alone.judgeRest(FleetHearing::Group{1, 5, 5}) == FleetHearing::Verdict::kNoReference));
  BOOST_TEST(!alone.deaf());  // fewer than fleet_silent_min_agents silent
}

BOOST_AUTO_TEST_CASE(a_tenant_judged_without_one_of_its_sites_votes_with_its_other_agents) {
  PresenceConfig config;
  FleetHearing hearing(config);
  populate(hearing, 1, 30);  // the site (10) and 20 more
  populate(hearing, 2, 20);
  move(hearing, 1, 10, AgentStatus::kOnline, AgentStatus::kSuspect);
  move(hearing, 2, 15, AgentStatus::kOnline, AgentStatus::kSuspect);
  move(hearing, 1, 12, AgentStatus::kOnline, AgentStatus::kSuspect);
  // Without the site: tenant 1 has 12 of 20 silent (quiet), tenant 2 15 of 20: deaf, and so
  // without either tenant.
  BOOST_TEST((hearing.judgeRest(FleetHearing::Group{1, 10, 10}) == FleetHearing::Verdict::kDeaf));
  move(hearing, 1, 12, AgentStatus::kSuspect, AgentStatus::kOnline);
  // Now tenant 1's other agents are heard: tenant 2's silence alone does not decide.
  BOOST_TEST((hearing.judgeRest(FleetHearing::Group{1, 10, 10}) == FleetHearing::Verdict::kHeard));
}

namespace {

// A site of agents beating every 10 s, for the site question.
struct SiteFixture {
  AgentTable agents;
  SiteTracker sites;
  SiteId id = 1;

  // An agent last heard at `last`, heard without a break since `heard_since`.
  AgentHandle add(Ticks last, AgentStatus status, Ticks heard_since = 0) {
    const auto handle = static_cast<AgentHandle>(agents.size());
    TrackedAgent& rec = agents.append();
    rec.direct[0].last = last;
    rec.direct[0].interval_ms = 10000;
    rec.heard_since = heard_since;
    rec.status = status;
    rec.site = id;
    rec.site_slot = sites.add(id, handle);
    sites.onStatusChange(id, AgentStatus::kUnknown, status);
    return handle;
  }
  SiteAnswer ask(AgentHandle agent, Ticks now) {
    std::vector<Ticks> scratch;
    return askSite(sites.site(id), agents, agent, now, SiteQuestionRules{}, scratch);
  }
};

Ticks at(vigil::Duration d) { return ticksOf(d); }

}  // namespace

BOOST_AUTO_TEST_CASE(site_question_agent_alone_when_its_site_was_heard_after_it_fell_silent) {
  SiteFixture f;
  // Its horizon is 15 s (the lateness floor, 1.5 intervals): its siblings were heard for
  // longer than that after it fell silent.
  const AgentHandle dead = f.add(at(0s), AgentStatus::kSuspect);
  for (int i = 0; i < 4; ++i) f.add(at(16s + i * 1s), AgentStatus::kOnline);
  BOOST_TEST((f.ask(dead, at(25s)).kind == SiteAnswer::Kind::kAlone));
}

BOOST_AUTO_TEST_CASE(site_question_dark_when_the_site_fell_silent_with_it) {
  SiteFixture f;
  const AgentHandle first = f.add(at(0s), AgentStatus::kSuspect);
  for (int i = 0; i < 3; ++i) f.add(at(9s), AgentStatus::kOnline);  // cut at 9.5 s: overdue at 21 s
  f.add(at(30s), AgentStatus::kOnline);  // one machine on another uplink: 4 of 5 are still dark
  // At 15 s the others are not overdue yet: ask again when enough of them can be.
  const SiteAnswer early = f.ask(first, at(15s));
  BOOST_TEST((early.kind == SiteAnswer::Kind::kWait));
  BOOST_TEST(early.ask_again_at == at(21s) + 1);
  const SiteAnswer later = f.ask(first, at(22s));
  BOOST_TEST((later.kind == SiteAnswer::Kind::kDark));
  BOOST_TEST(later.silent == 4u);
  BOOST_TEST(later.expected == 5u);
  BOOST_TEST(later.dark_since == at(9s));
}

BOOST_AUTO_TEST_CASE(site_question_alone_when_the_undecided_cannot_make_the_site_dark) {
  SiteFixture f;
  const AgentHandle first = f.add(at(0s), AgentStatus::kSuspect);
  f.add(at(9s), AgentStatus::kOnline);                               // undecided
  for (int i = 0; i < 3; ++i) f.add(at(16s), AgentStatus::kOnline);  // heard for 16 s since
  BOOST_TEST((f.ask(first, at(17s)).kind == SiteAnswer::Kind::kAlone));
}

BOOST_AUTO_TEST_CASE(site_question_members_just_back_from_a_cut_do_not_make_it_alone) {
  // The site was cut from 9.5 s to 25 s; the agent last beat at 0 s and is due any moment.
  // Members reporting again since 25 s say the network works now, not that it worked while
  // the agent should have reported: the question waits until they were heard for a horizon.
  SiteFixture f;
  const AgentHandle first = f.add(at(0s), AgentStatus::kSuspect);
  for (int i = 0; i < 4; ++i) f.add(at(29s), AgentStatus::kOnline, at(25s + i * 100ms));
  const SiteAnswer answer = f.ask(first, at(30s));
  BOOST_TEST((answer.kind == SiteAnswer::Kind::kWait));
  // Each is decided by its first report after it was heard for the agent's horizon (15 s,
  // from about 25 s): its next heartbeat, due by 41 s at the latest.
  BOOST_TEST(answer.ask_again_at == at(41s) + 1);
  // Heard for longer than the horizon with the agent still silent: alone.
  SiteFixture later;
  const AgentHandle dead = later.add(at(0s), AgentStatus::kSuspect);
  for (int i = 0; i < 4; ++i) later.add(at(41s), AgentStatus::kOnline, at(25s));
  BOOST_TEST((later.ask(dead, at(42s)).kind == SiteAnswer::Kind::kAlone));
}

BOOST_AUTO_TEST_CASE(site_question_sites_below_the_minimum_are_judged_device_by_device) {
  SiteFixture f;
  const AgentHandle first = f.add(at(0s), AgentStatus::kSuspect);
  f.add(at(0s), AgentStatus::kSuspect);
  BOOST_TEST((f.ask(first, at(60s)).kind == SiteAnswer::Kind::kAlone));
}
