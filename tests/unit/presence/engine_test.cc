#define BOOST_TEST_MODULE presence_engine
#include <boost/test/unit_test.hpp>
#include <chrono>
#include <functional>
#include <string>
#include <tuple>
#include <vector>

#include "collector/presence/presence_engine.h"
#include "tests/unit/presence/presence_harness.h"

using namespace std::chrono_literals;
using namespace vigil::collector::presence;
using vigil::Duration;
using vigil::MonoTime;
using vigil::WallTime;

namespace {

using Path = std::vector<std::tuple<AgentStatus, AgentStatus, Reason>>;

constexpr auto kUnknown = AgentStatus::kUnknown;
constexpr auto kOnline = AgentStatus::kOnline;
constexpr auto kSuspect = AgentStatus::kSuspect;
constexpr auto kOffline = AgentStatus::kOffline;
constexpr auto kShutdown = AgentStatus::kShutdown;

std::vector<AlertAction> deviceActions(const RecordingListener& events, AgentHandle agent) {
  std::vector<AlertAction> out;
  for (const auto& a : events.alertsOf(agent)) {
    if (a.kind == AlertKind::kDeviceOffline) out.push_back(a.action);
  }
  return out;
}

std::string pathText(const Path& path) {
  std::string text;
  for (const auto& [from, to, reason] : path) {
    text += std::string(statusName(from)) + "->" + statusName(to) + "(" + reasonName(reason) + ") ";
  }
  return text;
}

}  // namespace

BOOST_AUTO_TEST_CASE(agent_is_unknown_until_its_first_evidence_then_online) {
  Harness h;
  const AgentHandle a = h.add();
  BOOST_TEST(h.status(a) == kUnknown);
  BOOST_TEST(h.reason(a) == Reason::kNoEvidenceYet);
  h.run(10s);
  h.send(a);
  BOOST_TEST(h.status(a) == kOnline);
  BOOST_TEST(h.reason(a) == Reason::kFreshEvidence);
  BOOST_TEST(h.events.transitions.size() == 1u);
  BOOST_TEST(h.events.transitions[0].from == kUnknown);
}

BOOST_AUTO_TEST_CASE(agent_never_heard_of_stays_unknown_after_warm_up_without_alert) {
  Harness h;
  const AgentHandle a = h.add();
  h.run(30min);
  BOOST_TEST(h.status(a) == kUnknown);
  BOOST_TEST(h.events.transitions.empty());
  BOOST_TEST(h.events.alerts.empty());
}

// Every state transition of one agent, driven by a short script; the agent beats every 60 s
// from the start, past warm-up, before the script runs.
BOOST_AUTO_TEST_CASE(state_transitions_follow_the_evidence) {
  struct Case {
    const char* name;
    AgentClass agent_class;
    std::function<void(Harness&, AgentHandle)> script;
    Path path;
    std::vector<AlertAction> alerts;
  };
  const Path online{{kUnknown, kOnline, Reason::kFreshEvidence}};
  auto plus = [&](Path tail) {
    Path p = online;
    p.insert(p.end(), tail.begin(), tail.end());
    return p;
  };
  const std::vector<Case> cases = {
      {"silent agent becomes suspect then offline with an alert",
       AgentClass::kWorkstation,
       [](Harness& h, AgentHandle a) {
         h.stop(a);
         h.run(5min);
       },
       plus({{kOnline, kSuspect, Reason::kHeartbeatLate},
             {kSuspect, kOffline, Reason::kConfirmedSilent}}),
       {AlertAction::kOpened}},
      {"suspect agent heard again is online without alert",
       AgentClass::kWorkstation,
       [](Harness& h, AgentHandle a) {
         h.stop(a);
         h.run(100s);  // last beat at 60 s: late after 150 s, SUSPECT at 151 s
         h.send(a);
       },
       plus({{kOnline, kSuspect, Reason::kHeartbeatLate},
             {kSuspect, kOnline, Reason::kFreshEvidence}}),
       {}},
      {"offline agent heard again is online and its alert resolved",
       AgentClass::kWorkstation,
       [](Harness& h, AgentHandle a) {
         h.stop(a);
         h.run(5min);
         h.send(a);
       },
       plus({{kOnline, kSuspect, Reason::kHeartbeatLate},
             {kSuspect, kOffline, Reason::kConfirmedSilent},
             {kOffline, kOnline, Reason::kFreshEvidence}}),
       {AlertAction::kOpened, AlertAction::kResolved}},
      {"workstation announcing shutdown is shut down without alert",
       AgentClass::kWorkstation,
       [](Harness& h, AgentHandle a) {
         h.stop(a);
         h.send(a, Indicator::kShutdownNotice);
         h.run(2h);
       },
       plus({{kOnline, kShutdown, Reason::kAnnouncedShutdown}}),
       {}},
      {"server shut down longer than its grace alerts",
       AgentClass::kServer,
       [](Harness& h, AgentHandle a) {
         h.stop(a);
         h.send(a, Indicator::kShutdownNotice);
         h.run(16min);
       },
       plus({{kOnline, kShutdown, Reason::kAnnouncedShutdown},
             {kShutdown, kOffline, Reason::kShutdownTooLong}}),
       {AlertAction::kOpened}},
      {"server back within its grace is online without alert",
       AgentClass::kServer,
       [](Harness& h, AgentHandle a) {
         h.stop(a);
         h.send(a, Indicator::kShutdownNotice);
         h.run(10min);
         h.send(a);
         h.run(10s);
       },
       plus({{kOnline, kShutdown, Reason::kAnnouncedShutdown},
             {kShutdown, kOnline, Reason::kFreshEvidence}}),
       {}},
      {"beacon alone keeps an agent online when heartbeats stop",
       AgentClass::kWorkstation,
       [](Harness& h, AgentHandle a) {
         h.keepAlive(a, Indicator::kBeacon, 15s);
         h.run(20s);
         h.stop(a, Indicator::kHeartbeat);
         h.run(10min);
       },
       online,
       {}},
  };
  for (const auto& c : cases) {
    BOOST_TEST_CONTEXT(c.name) {
      Harness h;
      const AgentHandle a = h.add(AgentSpec{0, 0, c.agent_class, {}});
      h.keepAlive(a);
      h.run(70s);
      c.script(h, a);
      const Path path = h.events.pathOf(a);
      BOOST_TEST((path == c.path), pathText(path));
      BOOST_TEST((deviceActions(h.events, a) == c.alerts));
    }
  }
}

BOOST_AUTO_TEST_CASE(evidence_exactly_at_the_deadline_is_on_time) {
  Harness h;
  const AgentHandle a = h.add();
  h.passWarmUp();
  h.send(a);
  const MonoTime deadline = h.heartbeatLateAfter(a);
  BOOST_TEST((deadline - h.clock.monotonicNow() == Duration(90s)));
  h.runUntil(deadline);  // the last tick runs exactly at the deadline
  BOOST_TEST(h.status(a) == kOnline);
  h.send(a);  // exactly at the deadline
  h.run(1s);
  BOOST_TEST(h.status(a) == kOnline);
  BOOST_TEST(h.events.countTransitionsTo(kSuspect) == 0u);
}

BOOST_AUTO_TEST_CASE(evidence_one_millisecond_after_the_deadline_is_late) {
  Harness h;
  const AgentHandle a = h.add();
  h.passWarmUp();
  h.send(a);
  const MonoTime deadline = h.heartbeatLateAfter(a);
  h.runUntil(deadline + 1ms);
  BOOST_TEST(h.status(a) == kSuspect);
  BOOST_TEST(h.reason(a) == Reason::kHeartbeatLate);
}

BOOST_AUTO_TEST_CASE(evidence_in_the_last_millisecond_of_the_confirmation_window_prevents_offline) {
  Harness h;
  const AgentHandle a = h.add();
  h.passWarmUp();
  h.send(a);
  const MonoTime suspect_at = h.heartbeatLateAfter(a) + 1ms;
  h.runUntil(suspect_at);
  BOOST_TEST_REQUIRE(h.status(a) == kSuspect);
  h.runUntil(suspect_at + h.config().confirmation_window - 1ms);
  BOOST_TEST(h.status(a) == kSuspect);
  h.send(a);
  BOOST_TEST(h.status(a) == kOnline);
  h.run(80s);  // shorter than the next deadline
  BOOST_TEST(h.events.countTransitionsTo(kOffline) == 0u);
  BOOST_TEST(h.events.alerts.empty());
}

BOOST_AUTO_TEST_CASE(offline_is_reached_only_after_the_whole_confirmation_window) {
  Harness h;
  const AgentHandle a = h.add();
  h.passWarmUp();
  h.send(a);
  const MonoTime suspect_at = h.heartbeatLateAfter(a) + 1ms;
  h.runUntil(suspect_at);
  BOOST_TEST_REQUIRE(h.status(a) == kSuspect);
  h.runUntil(suspect_at + h.config().confirmation_window);  // exactly the end: not yet
  BOOST_TEST(h.status(a) == kSuspect);
  BOOST_TEST(h.events.alerts.empty());
  h.run(1ms);
  BOOST_TEST(h.status(a) == kOffline);
  BOOST_TEST(h.reason(a) == Reason::kConfirmedSilent);
  BOOST_TEST(h.events.countAlerts(AlertKind::kDeviceOffline, AlertAction::kOpened, a) == 1u);
  BOOST_TEST(h.engine.agentView(a).alert_open);
}

namespace {

// An agent SUSPECT at `suspect_at` (returned), after warm-up.
MonoTime makeSuspect(Harness& h, AgentHandle a) {
  h.passWarmUp();
  h.send(a);
  const MonoTime suspect_at = h.heartbeatLateAfter(a) + 1ms;
  h.runUntil(suspect_at);
  BOOST_TEST_REQUIRE(h.status(a) == kSuspect);
  return suspect_at;
}

void failStore(Harness& h) {
  for (uint32_t i = 0; i < h.config().store_failures_bound; ++i) h.engine.reportStoreWrite(false);
}

}  // namespace

BOOST_AUTO_TEST_CASE(degradation_inside_the_window_holds_and_a_heard_agent_is_released) {
  Harness h;
  const AgentHandle a = h.add();
  const MonoTime s = makeSuspect(h, a);
  h.runUntil(s + 30s);
  failStore(h);
  BOOST_TEST_REQUIRE(h.engine.health().degraded);
  h.runUntil(s + 62s);
  BOOST_TEST(h.status(a) == kSuspect);
  BOOST_TEST(h.reason(a) == Reason::kHeldDegraded);
  BOOST_TEST(h.engine.agentView(a).held);
  BOOST_TEST(h.engine.health().held_alerts == 1u);
  BOOST_TEST(h.events.countAlerts(AlertKind::kDeviceOffline, AlertAction::kHeld, a) == 1u);
  h.run(30s);
  h.engine.reportStoreWrite(true);
  h.run(20s);
  h.send(a);  // heard while still degraded
  BOOST_TEST(h.status(a) == kOnline);
  BOOST_TEST(!h.engine.agentView(a).held);
  h.keepAlive(a);
  h.run(5min);
  BOOST_TEST(h.events.countAlerts(AlertKind::kDeviceOffline, AlertAction::kReleased, a) == 1u);
  BOOST_TEST(h.events.countAlerts(AlertKind::kDeviceOffline, AlertAction::kOpened, a) == 0u);
  BOOST_TEST(h.engine.health().held_alerts == 0u);
}

BOOST_AUTO_TEST_CASE(held_agent_still_silent_after_recovery_alerts_with_held_since_and_reasons) {
  Harness h;
  const AgentHandle a = h.add();
  const MonoTime s = makeSuspect(h, a);
  h.runUntil(s + 30s);
  failStore(h);
  h.runUntil(s + 90s);
  BOOST_TEST_REQUIRE(h.engine.agentView(a).held);
  h.engine.reportStoreWrite(true);
  // DEGRADED lingers one recovery period after the cause ended.
  h.runUntil(s + 90s + h.config().effectiveRecoveryPeriod() - 1ms);
  BOOST_TEST(h.engine.health().degraded);
  h.run(1ms);
  BOOST_TEST_REQUIRE(!h.engine.health().degraded);
  const MonoTime recovered = h.clock.monotonicNow();
  h.runUntil(recovered + h.config().confirmation_window);
  BOOST_TEST(h.status(a) == kSuspect);  // a full window after recovery, not sooner
  h.run(1s);
  BOOST_TEST(h.status(a) == kOffline);
  BOOST_TEST(h.reason(a) == Reason::kConfirmedAfterHold);
  const auto alerts = h.events.alertsOf(a);
  BOOST_TEST_REQUIRE(alerts.size() == 2u);
  BOOST_TEST((alerts[0].action == AlertAction::kHeld));
  BOOST_TEST((alerts[1].action == AlertAction::kOpened));
  BOOST_TEST_REQUIRE(alerts[1].held_since.has_value());
  BOOST_TEST((*alerts[1].held_since == alerts[0].at));
  BOOST_TEST((alerts[1].held_for_mask & bitOf(DegradationReason::kStoreWriteFailures)) != 0u);
  BOOST_TEST(alerts[1].note.find("held") != std::string::npos);
  BOOST_TEST(alerts[1].note.find("store_write_failures") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(degradation_that_ends_inside_the_window_restarts_it_from_recovery) {
  PresenceConfig config = fixedLatenessConfig();
  config.recovery_period = 10s;
  Harness h(config);
  const AgentHandle a = h.add();
  const MonoTime s = makeSuspect(h, a);
  h.runUntil(s + 10s);
  failStore(h);
  h.runUntil(s + 15s);
  h.engine.reportStoreWrite(true);
  h.runUntil(s + 26s);  // recovered at s + 25 s
  BOOST_TEST_REQUIRE(!h.engine.health().degraded);
  h.runUntil(s + 80s);  // the original window ended at s + 60 s
  BOOST_TEST(h.status(a) == kSuspect);
  BOOST_TEST(h.engine.agentView(a).held);
  BOOST_TEST(h.events.countAlerts(AlertKind::kDeviceOffline, AlertAction::kOpened, a) == 0u);
  h.runUntil(s + 87s);
  BOOST_TEST(h.status(a) == kOffline);
  BOOST_TEST(h.reason(a) == Reason::kConfirmedAfterHold);
  BOOST_TEST(h.events.countAlerts(AlertKind::kDeviceOffline, AlertAction::kOpened, a) == 1u);
}

BOOST_AUTO_TEST_CASE(no_offline_verdict_during_warm_up) {
  Harness h;
  const AgentHandle a = h.add();
  h.send(a);
  h.run(h.config().warmUp());  // silent since 0: late at 90 s, but warm-up ends at 66 s
  BOOST_TEST(h.events.countTransitionsTo(kOffline) == 0u);
  h.run(10min);
  BOOST_TEST(h.status(a) == kOffline);
  BOOST_TEST(h.events.countAlerts(AlertKind::kDeviceOffline, AlertAction::kOpened, a) == 1u);
}

BOOST_AUTO_TEST_CASE(collector_slowing_an_agent_down_does_not_make_it_suspect) {
  Harness h;
  const AgentHandle slowed = h.add();
  const AgentHandle control = h.add();
  h.keepAlive(slowed);
  h.keepAlive(control);
  h.run(5min);
  // The collector answers the slowed agent's next heartbeat with next_interval 300 s.
  h.stop(slowed);
  h.send(slowed, Indicator::kHeartbeat, 300s);
  h.keepAlive(slowed, Indicator::kHeartbeat, 300s, h.clock.monotonicNow() + 300s);
  h.stop(control);
  h.send(control);
  h.run(30min);
  BOOST_TEST(h.status(slowed) == kOnline);
  BOOST_TEST(h.events.pathOf(slowed).size() == 1u);
  BOOST_TEST(h.status(control) == kOffline);  // the same silence at 60 s is an outage
}

BOOST_AUTO_TEST_CASE(collector_speeding_an_agent_up_moves_its_deadline_closer) {
  Harness h;
  const AgentHandle a = h.add();
  h.passWarmUp();
  h.send(a, Indicator::kHeartbeat, 300s);
  BOOST_TEST((h.heartbeatLateAfter(a) - h.clock.monotonicNow() == Duration(450s)));
  h.send(a, Indicator::kHeartbeat, 60s);
  BOOST_TEST((h.heartbeatLateAfter(a) - h.clock.monotonicNow() == Duration(90s)));
}

BOOST_AUTO_TEST_CASE(wall_clock_steps_degrade_without_making_anyone_late) {
  for (const auto step :
       {std::chrono::system_clock::duration(1h), std::chrono::system_clock::duration(-2h)}) {
    Harness h;
    std::vector<AgentHandle> agents;
    for (int i = 0; i < 20; ++i) {
      agents.push_back(h.add());
      h.keepAlive(agents.back(), Indicator::kHeartbeat, 60s,
                  h.clock.monotonicNow() + std::chrono::seconds(i * 3));
    }
    h.run(5min);
    h.clock.jumpWall(step);
    h.run(1s);
    BOOST_TEST((h.engine.health().reasons_mask & bitOf(DegradationReason::kClockJump)) != 0u);
    h.run(10min);
    BOOST_TEST(!h.engine.health().degraded);
    BOOST_TEST(h.events.countTransitionsTo(kSuspect) == 0u);
    for (auto a : agents) BOOST_TEST(h.status(a) == kOnline);
  }
}

BOOST_AUTO_TEST_CASE(restart_restores_evidence_but_judges_only_after_warm_up) {
  Harness h;
  const WallTime start = h.clock.wallNow();
  auto restored = [&](Duration heartbeat_ago, AgentStatus status) {
    RestoredState r;
    r.last_seen[static_cast<size_t>(Indicator::kHeartbeat)] =
        start - std::chrono::duration_cast<WallTime::duration>(heartbeat_ago);
    r.status = status;
    return r;
  };
  // Each in a site of its own: judged alone (with siblings, a verdict after a restart also
  // waits until they were heard again for a while: site_question.h).
  const AgentHandle alive = h.add({1, 0, {}, {}}, restored(30s, kOnline));
  const AgentHandle dead = h.add({2, 0, {}, {}}, restored(10min, kOnline));
  const AgentHandle was_offline = h.add({3, 0, {}, {}}, restored(2h, kOffline));
  RestoredState asleep = restored(6min, kShutdown);
  asleep.last_seen[static_cast<size_t>(Indicator::kShutdownNotice)] = start - 5min;
  const AgentHandle sleeper = h.add({4, 0, {}, {}}, asleep);
  const AgentHandle blank = h.add({5, 0, {}, {}}, RestoredState{});

  h.run(20s);
  h.send(alive);
  h.keepAlive(alive, Indicator::kHeartbeat, 60s, h.clock.monotonicNow() + 60s);
  h.run(h.config().warmUp() - 20s);  // to the end of warm-up
  for (auto a : {dead, was_offline, sleeper, blank}) BOOST_TEST(h.status(a) == kUnknown);
  BOOST_TEST(h.status(alive) == kOnline);
  BOOST_TEST(h.events.alerts.empty());
  BOOST_TEST(h.events.transitions.size() == 1u);  // alive: UNKNOWN -> ONLINE

  h.run(1s);  // first tick after warm-up
  BOOST_TEST(h.status(dead) == kSuspect);
  // Judged and alerted before the restart, and still silent: no doubt to confirm again.
  BOOST_TEST(h.status(was_offline) == kOffline);
  BOOST_TEST(h.status(sleeper) == kShutdown);
  BOOST_TEST(h.status(blank) == kUnknown);
  for (const auto& t : h.events.transitions) {
    if (t.to == kSuspect) BOOST_TEST((t.at >= start + h.config().warmUp()));
  }
  h.run(h.config().confirmation_window);
  BOOST_TEST(h.status(dead) == kSuspect);  // the window started after warm-up, not before
  h.run(1s);
  BOOST_TEST(h.status(dead) == kOffline);
  BOOST_TEST(h.status(was_offline) == kOffline);
  BOOST_TEST(h.events.countAlerts(AlertKind::kDeviceOffline, AlertAction::kOpened, dead) == 1u);
  // Its alert was raised before the restart: not again.
  BOOST_TEST(h.events.countAlerts(AlertKind::kDeviceOffline, AlertAction::kOpened, was_offline) ==
             0u);
  BOOST_TEST(h.engine.agentView(was_offline).alert_open);
  h.send(was_offline);
  BOOST_TEST(h.events.countAlerts(AlertKind::kDeviceOffline, AlertAction::kResolved, was_offline) ==
             1u);
  BOOST_TEST(h.events.countAlerts(AlertKind::kDeviceOffline, AlertAction::kOpened, sleeper) == 0u);
  BOOST_TEST(h.status(alive) == kOnline);
}

BOOST_AUTO_TEST_CASE(peer_witness_postpones_offline_only_for_its_bound) {
  Harness h;
  const AgentHandle a = h.add();
  const AgentHandle peer = h.add();
  h.keepAlive(peer);
  h.keepAlive(a, Indicator::kPeerWitness, 30s);
  const MonoTime s = makeSuspect(h, a);
  BOOST_TEST(h.reason(a) == Reason::kWitnessedOnly);
  const Duration bound = h.config().confirmation_window + h.config().witness_max_postpone;
  h.runUntil(s + bound);
  BOOST_TEST(h.status(a) == kSuspect);
  h.run(2s);
  BOOST_TEST(h.status(a) == kOffline);
  BOOST_TEST(h.reason(a) == Reason::kWitnessExpired);
  BOOST_TEST(h.events.countAlerts(AlertKind::kDeviceOffline, AlertAction::kOpened, a) == 1u);
}

BOOST_AUTO_TEST_CASE(witness_that_falls_silent_ends_the_postponement_early) {
  Harness h;
  const AgentHandle a = h.add();
  h.keepAlive(a, Indicator::kPeerWitness, 30s);
  const MonoTime s = makeSuspect(h, a);
  h.runUntil(s + 100s);
  h.stop(a, Indicator::kPeerWitness);
  h.runUntil(s + 5min);
  BOOST_TEST(h.status(a) == kOffline);
  BOOST_TEST(h.reason(a) == Reason::kConfirmedSilent);
}

BOOST_AUTO_TEST_CASE(beacon_in_flight_right_after_a_shutdown_notice_does_not_cancel_it) {
  Harness h;
  const AgentHandle a = h.add();
  h.passWarmUp();
  h.send(a);
  h.send(a, Indicator::kShutdownNotice);
  h.clock.advance(500ms);
  h.send(a, Indicator::kBeacon, 15s);
  BOOST_TEST(h.status(a) == kShutdown);
  h.run(10s);
  h.send(a, Indicator::kBeacon, 15s);
  BOOST_TEST(h.status(a) == kOnline);
}

BOOST_AUTO_TEST_CASE(diary_is_forwarded_and_is_not_evidence_of_life) {
  Harness h;
  const AgentHandle a = h.add();
  h.passWarmUp();
  Observation o;
  o.agent = a;
  o.indicator = Indicator::kDiary;
  o.received_at = h.clock.monotonicNow();
  o.diary_from = h.clock.wallNow() - 10min;
  o.diary_to = h.clock.wallNow() - 1min;
  h.engine.observe(o);
  BOOST_TEST_REQUIRE(h.events.diaries.size() == 1u);
  BOOST_TEST((h.events.diaries[0].from == *o.diary_from));
  BOOST_TEST(h.status(a) == kUnknown);
  BOOST_TEST(h.engine.agentView(a)
                 .indicators[static_cast<size_t>(Indicator::kDiary)]
                 .last_seen.has_value());
}

BOOST_AUTO_TEST_CASE(removing_an_agent_resolves_its_alert_and_silences_it) {
  Harness h;
  const AgentHandle a = h.add();
  h.passWarmUp();
  h.send(a);
  h.run(4min);
  BOOST_TEST_REQUIRE(h.engine.agentView(a).alert_open);
  h.engine.removeAgent(a);
  const auto alerts = h.events.alertsOf(a);
  BOOST_TEST((alerts.back().action == AlertAction::kResolved));
  BOOST_TEST(alerts.back().note.find("retired") != std::string::npos);
  const size_t events = h.events.transitions.size() + h.events.alerts.size();
  h.send(a);
  h.run(10min);
  BOOST_TEST(h.events.transitions.size() + h.events.alerts.size() == events);
  BOOST_TEST(h.engine.agentCount() == 0u);
  BOOST_TEST(h.engine.agentView(a).reason == Reason::kRetired);
}

BOOST_AUTO_TEST_CASE(views_show_evidence_and_late_after_per_indicator) {
  Harness h;
  const AgentHandle a = h.add(AgentSpec{7, 3, AgentClass::kServer, {}});
  h.send(a);
  h.send(a, Indicator::kBeacon, 15s);
  const AgentView view = h.engine.agentView(a);
  const auto& hb = view.indicators[static_cast<size_t>(Indicator::kHeartbeat)];
  const auto& beacon = view.indicators[static_cast<size_t>(Indicator::kBeacon)];
  BOOST_TEST((hb.last_seen == h.clock.wallNow()));
  BOOST_TEST((hb.expected_interval == Duration(60s)));
  BOOST_TEST((*hb.late_after - *hb.last_seen == std::chrono::system_clock::duration(90s)));
  BOOST_TEST((beacon.expected_interval == Duration(15s)));
  BOOST_TEST(view.site == 7u);
  BOOST_TEST(view.tenant == 3u);
  BOOST_TEST((view.agent_class == AgentClass::kServer));
  BOOST_TEST(h.engine.health().agents_by_status[static_cast<size_t>(kOnline)] == 1u);
}

BOOST_AUTO_TEST_CASE(memory_per_tracked_agent_is_at_most_300_bytes) {
  Harness h;
  constexpr size_t kAgents = 100000;
  for (size_t i = 0; i < kAgents; ++i) {
    const AgentHandle a = h.add(AgentSpec{static_cast<SiteId>(i % 1000), 0, {}, {}});
    h.send(a);
    h.send(a, Indicator::kBeacon, 15s);
  }
  h.run(2s);
  const double per_agent = static_cast<double>(h.engine.memoryBytes()) / kAgents;
  BOOST_TEST_MESSAGE("presence engine bytes per agent: " << per_agent);
  BOOST_TEST(per_agent <= 300.0);
}

BOOST_AUTO_TEST_CASE(an_old_peer_sighting_is_not_ingest_lag_but_old_direct_evidence_is) {
  Harness h;
  const AgentHandle a = h.add();
  const AgentHandle peer = h.add();
  h.passWarmUp();
  BOOST_TEST_REQUIRE(!h.engine.health().degraded);
  // The peer heard `a` a minute ago; the sighting reaches the collector with its next beat.
  Observation o;
  o.agent = a;
  o.indicator = Indicator::kPeerWitness;
  o.received_at = h.clock.monotonicNow() - 60s;
  o.expected_interval = 60s;
  o.witness = peer;
  h.engine.observe(o);
  BOOST_TEST(!h.engine.health().degraded);
  const AgentView view = h.engine.agentView(a);
  const IndicatorView& witness = view.indicators[static_cast<size_t>(Indicator::kPeerWitness)];
  BOOST_TEST_REQUIRE(witness.last_seen.has_value());
  BOOST_TEST((*witness.last_seen == h.clock.wallNow() - 60s));
  // A heartbeat handed over a minute after it arrived is a sign of ingest lag.
  o.indicator = Indicator::kHeartbeat;
  o.witness.reset();
  h.engine.observe(o);
  BOOST_TEST(h.engine.health().degraded);
  BOOST_TEST(h.events.everDegradedWith(DegradationReason::kIngestLag));
}
