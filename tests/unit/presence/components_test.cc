#define BOOST_TEST_MODULE presence_components
#include <boost/test/unit_test.hpp>
#include <chrono>
#include <set>
#include <string>

#include "collector/presence/channel_monitor.h"
#include "collector/presence/degradation_detector.h"
#include "collector/presence/engine_time.h"
#include "collector/presence/flap_detector.h"
#include "collector/presence/maintenance.h"
#include "collector/presence/mass_suspect_monitor.h"
#include "collector/presence/presence_types.h"
#include "collector/presence/site_tracker.h"

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
  BOOST_TEST(std::string(statusName(Status::kUnreachable)) == "UNREACHABLE");
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
  std::vector<ArrivalStats> heartbeat(100);
  std::vector<ArrivalStats> beacon(100);
  auto window = [&](int index, size_t beacons, size_t heartbeats) {
    for (size_t i = 0; i < heartbeats; ++i) monitor.onArrival(0, heartbeat[i]);
    for (size_t i = 0; i < beacons; ++i) monitor.onArrival(1, beacon[i]);
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

BOOST_AUTO_TEST_CASE(channel_collapse_ends_after_its_maximum_and_the_new_level_is_the_baseline) {
  PresenceConfig config;
  ChannelMonitor monitor(config, 0);
  std::vector<ArrivalStats> heartbeat(100);
  std::vector<ArrivalStats> beacon(100);
  auto window = [&](int index, size_t beacons, size_t heartbeats) {
    for (size_t i = 0; i < heartbeats; ++i) monitor.onArrival(0, heartbeat[i]);
    for (size_t i = 0; i < beacons; ++i) monitor.onArrival(1, beacon[i]);
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

// The collector frozen for 90 s (the incident lab's collector-sigstop scenario): the window
// in progress at the freeze and the one in progress at the thaw are counted only in part, and
// a part of a 60 s window hears every beaconing agent (15 s) but only some heartbeats (60 s).
// That is no heartbeat collapse; the same counts without the stall are one.
BOOST_AUTO_TEST_CASE(windows_counted_in_part_around_a_stall_start_no_collapse) {
  PresenceConfig config;
  const Ticks w = ticksOf(config.channel_window);
  for (const bool stall_reported : {true, false}) {
    ChannelMonitor monitor(config, 0);
    std::vector<ArrivalStats> heartbeat(100);
    std::vector<ArrivalStats> beacon(100);
    auto count = [&](size_t beacons, size_t heartbeats) {
      for (size_t i = 0; i < heartbeats; ++i) monitor.onArrival(0, heartbeat[i]);
      for (size_t i = 0; i < beacons; ++i) monitor.onArrival(1, beacon[i]);
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

BOOST_AUTO_TEST_CASE(mass_suspect_compares_against_the_baseline_and_leaves_out_one_site) {
  PresenceConfig config;
  MassSuspectMonitor monitor(config, 0);
  const uint64_t fleet = 1000;
  // 20 suspects a window, steady: the baseline rises to about 20 and nothing triggers.
  for (int w = 0; w < 40; ++w) {
    for (int i = 0; i < 20; ++i) {
      BOOST_TEST_REQUIRE(!monitor.onSuspect(0, false, fleet, ticksOf(60s) * w + i));
    }
  }
  monitor.roll(0, fleet, ticksOf(60s) * 40);
  BOOST_TEST(monitor.baseline() > 15.0);
  // 99 from one minority site: a partition candidate, not a mass suspect.
  const Ticks t = ticksOf(60s) * 40;
  for (int i = 0; i < 99; ++i) BOOST_TEST_REQUIRE(!monitor.onSuspect(7, true, fleet, t));
  // Spread over the fleet, more than 5 x baseline: a mass suspect.
  bool started = false;
  for (int i = 0; i < 120 && !started; ++i) started = monitor.onSuspect(0, false, fleet, t);
  BOOST_TEST(started);
  BOOST_TEST(monitor.active());
  BOOST_TEST(!monitor.roll(500, fleet, t + ticksOf(30s)));  // too early, still many suspects
  BOOST_TEST(monitor.roll(10, fleet, t + ticksOf(61s)));
  BOOST_TEST(!monitor.active());
}

BOOST_AUTO_TEST_CASE(site_tracker_sees_a_partition_only_while_the_rest_is_quiet) {
  PresenceConfig config;
  SiteTracker sites(config);
  for (AgentHandle a = 0; a < 10; ++a) sites.add(1, a);
  for (AgentHandle a = 10; a < 40; ++a) sites.add(2, a);
  for (int i = 0; i < 10; ++i) sites.onStatusChange(1, Status::kUnknown, Status::kOnline);
  for (int i = 0; i < 30; ++i) sites.onStatusChange(2, Status::kUnknown, Status::kOnline);
  for (int i = 0; i < 7; ++i) sites.onStatusChange(1, Status::kOnline, Status::kSuspect);
  BOOST_TEST(!sites.looksPartitioned(1, 0.8));
  BOOST_TEST(sites.looksPartitioned(1, 0.4));
  sites.onStatusChange(1, Status::kOnline, Status::kSuspect);
  BOOST_TEST(sites.looksPartitioned(1, 0.8));
  for (int i = 0; i < 2; ++i) sites.onStatusChange(2, Status::kOnline, Status::kSuspect);
  BOOST_TEST(!sites.looksPartitioned(1, 0.8));  // 2 of 30 elsewhere: the fleet is not quiet
  BOOST_TEST(sites.isMinority(1));
  BOOST_TEST(!sites.isMinority(2));
}
