#define BOOST_TEST_MODULE collector_availability
// The availability report's arithmetic (collector/core/availability.h): the time classes, the
// SUSPECT rule, incidents, the collector's degraded spans; a property test against a plain
// instant-by-instant reading of random histories; and local months and days across the DST
// changes of Europe/Berlin and America/New_York (the system's tzdata).
#include "collector/core/availability.h"

#include <algorithm>
#include <boost/test/unit_test.hpp>
#include <cstdio>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "common/time_format.h"

using vigil::CivilDate;
using vigil::TimeZone;
using vigil::collector::AgentAvailability;
using vigil::collector::collectorDegradedSpans;
using vigil::collector::computeAgentAvailability;
using vigil::collector::HealthRecord;
using vigil::collector::localDays;
using vigil::collector::localMonth;
using vigil::collector::OutageReport;
using vigil::collector::StatusChangeRecord;
using vigil::collector::TimeSpan;

namespace {

constexpr int64_t kMinute = 60'000;
constexpr int64_t kHour = 60 * kMinute;

// Unix ms of "YYYY-MM-DDTHH:MM:SSZ".
int64_t at(const std::string& rfc3339) {
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, s = 0;
  BOOST_REQUIRE_MESSAGE(
      std::sscanf(rfc3339.c_str(), "%d-%d-%dT%d:%d:%dZ", &y, &mo, &d, &h, &mi, &s) == 6, rfc3339);
  return ((vigil::daysFromCivil(y, mo, d) * 24 + h) * 60 + mi) * 60'000 + s * 1000;
}

int64_t next_id = 1;

StatusChangeRecord change(int64_t when, const std::string& to, const std::string& reason = "") {
  StatusChangeRecord c;
  c.agent_id = "ag";
  c.at_ms = when;
  c.to_status = to;
  c.reason = reason;
  c.id = next_id++;
  return c;
}

HealthRecord health(int64_t when, bool degraded, const std::string& node = "",
                    std::optional<int64_t> blind_from = std::nullopt,
                    const std::string& reasons = "") {
  HealthRecord h;
  h.at_ms = when;
  h.degraded = degraded;
  h.node = node;
  h.blind_from_ms = blind_from;
  h.reasons = reasons;
  h.id = next_id++;
  return h;
}

TimeZone zone(const std::string& name) {
  auto z = TimeZone::load(name);
  BOOST_REQUIRE_MESSAGE(z.ok(), name + ": " + (z.ok() ? "" : z.error().toString()));
  return z.value();
}

}  // namespace

BOOST_AUTO_TEST_CASE(an_outage_during_a_collector_freeze_counts_the_freeze_apart) {
  // docs/reports.md's example: down 10 minutes, two of them while the collector was frozen.
  const int64_t t0 = at("2026-03-10T09:00:00Z");
  std::vector<StatusChangeRecord> history = {
      change(at("2026-03-09T12:00:00Z"), "ONLINE", "fresh_evidence"),
      change(t0, "SUSPECT", "heartbeat_late"),
      change(t0 + 3 * kMinute, "OFFLINE", "confirmed_silent"),
      change(t0 + 10 * kMinute, "ONLINE", "fresh_evidence"),
  };
  const std::vector<TimeSpan> frozen = {{t0 + 4 * kMinute, t0 + 6 * kMinute}};
  const TimeSpan day{at("2026-03-10T00:00:00Z"), at("2026-03-11T00:00:00Z")};
  AgentAvailability a = computeAgentAvailability(history, frozen, {}, day);
  BOOST_TEST(a.down_ms == 8 * kMinute);
  BOOST_TEST(a.degraded_ms == 2 * kMinute);
  BOOST_TEST(a.online_ms == day.length() - 10 * kMinute);
  BOOST_TEST(a.unmonitored_ms == 0);
  BOOST_REQUIRE(a.incidents.size() == 1u);
  BOOST_TEST(a.incidents[0].start_ms == t0);
  BOOST_TEST(*a.incidents[0].end_ms == t0 + 10 * kMinute);
  BOOST_TEST(a.incidents[0].down_ms == 8 * kMinute);
  BOOST_TEST(a.incidents[0].status == "OFFLINE");
  BOOST_TEST(a.incidents[0].reason == "confirmed_silent");
  BOOST_TEST(*a.availability() ==
                 static_cast<double>(a.online_ms) / static_cast<double>(a.online_ms + a.down_ms),
             boost::test_tools::tolerance(1e-12));
}

BOOST_AUTO_TEST_CASE(downtime_counts_from_the_first_missed_heartbeat) {
  // The agent died after its heartbeat of 10:00:00; the next was due at 10:00:05. The collector
  // froze from 10:00:10 to 10:01:00 and, recovered at 10:01:05, waited for new evidence before
  // it said SUSPECT at 10:01:30. The agent came back at 10:05.
  const int64_t t0 = at("2026-08-01T10:00:00Z");
  StatusChangeRecord suspect = change(t0 + 90'000, "SUSPECT", "heartbeat_late");
  suspect.overdue_from_ms = t0 + 5'000;
  StatusChangeRecord offline = change(t0 + 95'000, "OFFLINE", "confirmed_silent");
  offline.overdue_from_ms = t0 + 5'000;
  const TimeSpan window{t0 - kHour, t0 + kHour};
  AgentAvailability a = computeAgentAvailability(
      {change(t0 - 2 * kHour, "ONLINE"), suspect, offline, change(t0 + 5 * kMinute, "ONLINE")},
      {{t0 + 10'000, t0 + 65'000}}, {}, window);
  BOOST_TEST(a.degraded_ms == 55'000);
  BOOST_TEST(a.down_ms == 5 * kMinute - 5'000 - 55'000);
  BOOST_REQUIRE(a.incidents.size() == 1u);
  BOOST_TEST(a.incidents[0].start_ms == t0 + 5'000);
  BOOST_TEST(a.incidents[0].reason == "confirmed_silent");
  // A late heartbeat that arrived after all: no downtime, whatever the evidence said.
  StatusChangeRecord late = change(t0 + 90'000, "SUSPECT", "heartbeat_late");
  late.overdue_from_ms = t0;
  AgentAvailability b = computeAgentAvailability(
      {change(t0 - 2 * kHour, "ONLINE"), late, change(t0 + 100'000, "ONLINE")}, {}, {}, window);
  BOOST_TEST(b.down_ms == 0);
  BOOST_TEST(b.online_ms == window.length());
}

BOOST_AUTO_TEST_CASE(suspect_counts_as_how_it_ended) {
  const int64_t t0 = at("2026-05-01T10:00:00Z");
  const TimeSpan window{t0, t0 + 4 * kHour};
  // Late, then back: online all along.
  AgentAvailability late = computeAgentAvailability(
      {change(t0, "ONLINE"), change(t0 + kHour, "SUSPECT"), change(t0 + kHour + kMinute, "ONLINE")},
      {}, {}, window);
  BOOST_TEST(late.online_ms == window.length());
  BOOST_TEST(late.incidents.empty());
  // Late, a reason change while late, then UNREACHABLE: down from the first SUSPECT.
  AgentAvailability cut = computeAgentAvailability(
      {change(t0, "ONLINE"), change(t0 + kHour, "SUSPECT", "heartbeat_late"),
       change(t0 + kHour + kMinute, "SUSPECT", "held_degraded"),
       change(t0 + kHour + 2 * kMinute, "UNREACHABLE", "site_partitioned"),
       change(t0 + 2 * kHour, "ONLINE")},
      {}, {}, window);
  BOOST_TEST(cut.down_ms == kHour);
  BOOST_REQUIRE(cut.incidents.size() == 1u);
  BOOST_TEST(cut.incidents[0].reason == "site_partitioned");
  // Late at the window's end, confirmed after it: down, the verdict from after the window.
  AgentAvailability ending =
      computeAgentAvailability({change(t0, "ONLINE"), change(window.end_ms - kMinute, "SUSPECT"),
                                change(window.end_ms + kMinute, "OFFLINE", "confirmed_silent")},
                               {}, {}, window);
  BOOST_TEST(ending.down_ms == kMinute);
  BOOST_REQUIRE(ending.incidents.size() == 1u);
  BOOST_TEST(ending.incidents[0].status == "OFFLINE");
  BOOST_TEST(!ending.incidents[0].end_ms.has_value());
  // Late at the window's end with nothing after: never confirmed, online.
  AgentAvailability open = computeAgentAvailability(
      {change(t0, "ONLINE"), change(window.end_ms - kMinute, "SUSPECT")}, {}, {}, window);
  BOOST_TEST(open.online_ms == window.length());
}

BOOST_AUTO_TEST_CASE(other_classes_and_what_is_not_status) {
  const int64_t t0 = at("2026-05-01T00:00:00Z");
  const TimeSpan window{t0, t0 + 10 * kHour};
  std::vector<StatusChangeRecord> history = {
      change(t0 + kHour, "UNKNOWN", "no_evidence_yet"),  // nothing before: unmonitored too
      change(t0 + 2 * kHour, "ONLINE"),
      change(t0 + 3 * kHour, "MAINTENANCE", "in_maintenance"),
      change(t0 + 4 * kHour, "ONLINE"),
      change(t0 + 5 * kHour, "SHUTDOWN", "announced_shutdown"),
      change(t0 + 7 * kHour, "ONLINE"),
  };
  // The outage diary's markers say ONLINE after the fact; they are not status.
  StatusChangeRecord marker = change(t0 + 6 * kHour, "ONLINE", "outage_diary_start");
  marker.from_status = "ONLINE";
  history.push_back(marker);
  AgentAvailability a = computeAgentAvailability(history, {}, {}, window);
  BOOST_TEST(a.unmonitored_ms == 2 * kHour);
  BOOST_TEST(a.maintenance_ms == kHour);
  BOOST_TEST(a.shutdown_ms == 2 * kHour);
  BOOST_TEST(a.online_ms == 5 * kHour);
  BOOST_TEST(a.down_ms == 0);
  BOOST_TEST(*a.availability() == 1.0);
  // Nothing judged at all: no availability rather than 0 or 100 %.
  AgentAvailability none = computeAgentAvailability({}, {}, {}, window);
  BOOST_TEST(none.unmonitored_ms == window.length());
  BOOST_TEST(!none.availability().has_value());
}

BOOST_AUTO_TEST_CASE(an_incident_across_the_window_keeps_its_real_ends_and_diary_cause) {
  const int64_t t0 = at("2026-06-01T00:00:00Z");
  const TimeSpan window{t0, t0 + 24 * kHour};
  std::vector<StatusChangeRecord> history = {
      change(t0 - 2 * kHour, "OFFLINE", "confirmed_silent"),  // the latest before the window
      change(t0 + kHour, "ONLINE"), change(t0 + 20 * kHour, "OFFLINE", "shutdown_too_long"),
      change(t0 + 30 * kHour, "ONLINE"),  // after the window: its end
  };
  std::vector<OutageReport> diary = {
      {"ag", t0 + 20 * kHour - kMinute, t0 + 21 * kHour, "connect", t0 + 30 * kHour}};
  AgentAvailability a = computeAgentAvailability(history, {}, diary, window);
  BOOST_REQUIRE(a.incidents.size() == 2u);
  BOOST_TEST(a.incidents[0].start_ms == t0 - 2 * kHour);
  BOOST_TEST(*a.incidents[0].end_ms == t0 + kHour);
  BOOST_TEST(a.incidents[0].down_ms == kHour);
  BOOST_TEST(a.incidents[0].diary_cause == "");
  BOOST_TEST(a.incidents[1].start_ms == t0 + 20 * kHour);
  BOOST_TEST(*a.incidents[1].end_ms == t0 + 30 * kHour);
  BOOST_TEST(a.incidents[1].down_ms == 4 * kHour);
  BOOST_TEST(a.incidents[1].reason == "shutdown_too_long");
  BOOST_TEST(a.incidents[1].diary_cause == "connect");
  BOOST_TEST(a.down_ms == 5 * kHour);
}

BOOST_AUTO_TEST_CASE(degraded_spans_per_node_from_blind_from_united) {
  const int64_t t0 = at("2026-07-01T00:00:00Z");
  std::vector<HealthRecord> records = {
      // A restart: blind from the last sign of life, degraded through warm-up.
      health(t0 + 10 * kMinute, true, "", t0 + 2 * kMinute, "warm_up"),
      health(t0 + 12 * kMinute, false),
      // A freeze found at its end, then more reasons while still degraded.
      health(t0 + 30 * kMinute, true, "", t0 + 28 * kMinute, "tick_late"),
      health(t0 + 31 * kMinute, true, "", std::nullopt, "tick_late,ingest_lag"),
      health(t0 + 33 * kMinute, false),
      // Two collectors of a cluster: b's span overlaps a's and extends it.
      health(t0 + 40 * kMinute, true, "a"),
      health(t0 + 42 * kMinute, true, "b"),
      health(t0 + 44 * kMinute, false, "a"),
      health(t0 + 46 * kMinute, false, "b"),
      // Degraded at the end: open until `until`.
      health(t0 + 50 * kMinute, true, "a"),
  };
  std::vector<TimeSpan> spans = collectorDegradedSpans(records, t0 + 55 * kMinute);
  BOOST_REQUIRE(spans.size() == 4u);
  BOOST_TEST(spans[0].start_ms == t0 + 2 * kMinute);
  BOOST_TEST(spans[0].end_ms == t0 + 12 * kMinute);
  BOOST_TEST(spans[1].start_ms == t0 + 28 * kMinute);
  BOOST_TEST(spans[1].end_ms == t0 + 33 * kMinute);
  BOOST_TEST(spans[2].start_ms == t0 + 40 * kMinute);
  BOOST_TEST(spans[2].end_ms == t0 + 46 * kMinute);
  BOOST_TEST(spans[3].start_ms == t0 + 50 * kMinute);
  BOOST_TEST(spans[3].end_ms == t0 + 55 * kMinute);
}

// The property: for random histories, every figure equals what a plain reading of the raw
// transitions gives instant by instant (here: each second, every time a whole second).
BOOST_AUTO_TEST_CASE(figures_equal_an_instant_by_instant_reading_of_random_histories) {
  std::mt19937_64 random(20261207);
  const std::vector<std::string> statuses = {"ONLINE",      "SUSPECT",     "OFFLINE", "SHUTDOWN",
                                             "UNREACHABLE", "MAINTENANCE", "UNKNOWN"};
  const int64_t base = at("2026-10-01T00:00:00Z");
  for (int round = 0; round < 300; ++round) {
    const int64_t span_s = 600;
    std::uniform_int_distribution<int64_t> second(-100, span_s + 100);
    std::vector<StatusChangeRecord> history;
    const int changes = static_cast<int>(random() % 25);
    for (int i = 0; i < changes; ++i) {
      history.push_back(change(base + second(random) * 1000, statuses[random() % statuses.size()]));
      const std::string& to = history.back().to_status;
      if ((to == "SUSPECT" || to == "OFFLINE" || to == "UNREACHABLE") && random() % 2 == 0) {
        history.back().overdue_from_ms =
            history.back().at_ms - static_cast<int64_t>(random() % 200) * 1000;
      }
    }
    std::vector<HealthRecord> records;
    std::set<int64_t> health_times;  // distinct: the order of a node's records is their time's
    const int health_changes = static_cast<int>(random() % 8);
    for (int i = 0; i < health_changes; ++i) {
      const bool degraded = random() % 2 == 0;
      std::optional<int64_t> blind;
      if (degraded && random() % 3 == 0) blind = base + second(random) * 1000;
      const int64_t when = base + second(random) * 1000;
      if (!health_times.insert(when).second) continue;
      records.push_back(health(when, degraded, "", blind));
    }
    // Health records are written in time order; ids follow.
    std::sort(records.begin(), records.end(),
              [](const HealthRecord& a, const HealthRecord& b) { return a.at_ms < b.at_ms; });
    for (size_t i = 0; i < records.size(); ++i) records[i].id = static_cast<int64_t>(i + 1);
    const TimeSpan window{base, base + span_s * 1000};
    const std::vector<TimeSpan> degraded = collectorDegradedSpans(records, window.end_ms);
    const AgentAvailability report = computeAgentAvailability(history, degraded, {}, window);

    // The reading: changes by (at, id); the status at t is the last change at or before t.
    std::vector<StatusChangeRecord> sorted = history;
    std::sort(sorted.begin(), sorted.end(), [](const auto& a, const auto& b) {
      return a.at_ms != b.at_ms ? a.at_ms < b.at_ms : a.id < b.id;
    });
    auto blindAt = [&](int64_t t) {
      // Degraded at t: the latest health record at or before t says degraded, or the first
      // record after t is degraded and its blind_from reaches back over t.
      const HealthRecord* latest = nullptr;
      for (const HealthRecord& h : records) {
        if (h.at_ms <= t) latest = &h;
      }
      if (latest != nullptr && latest->degraded) return true;
      for (const HealthRecord& h : records) {
        if (h.at_ms <= t) continue;
        // The first after t: blind over t if it reaches back (a later one would have to reach
        // back over this one, which ran).
        return h.degraded && h.blind_from_ms && *h.blind_from_ms <= t;
      }
      return false;
    };
    int64_t online = 0, down = 0, maintenance = 0, shutdown = 0, blind = 0, unmonitored = 0;
    for (int64_t s = 0; s < span_s; ++s) {
      const int64_t t = base + s * 1000;
      if (blindAt(t)) {
        ++blind;
        continue;
      }
      int current = -1;
      for (size_t i = 0; i < sorted.size(); ++i) {
        if (sorted[i].at_ms <= t) current = static_cast<int>(i);
      }
      std::string status = current < 0 ? "" : sorted[current].to_status;
      // ONLINE, but the next change (into SUSPECT, OFFLINE or UNREACHABLE) says the agent's
      // next evidence was due at or before t: that change's status.
      if (status == "ONLINE" && current + 1 < static_cast<int>(sorted.size())) {
        const StatusChangeRecord& next = sorted[current + 1];
        if ((next.to_status == "SUSPECT" || next.to_status == "OFFLINE" ||
             next.to_status == "UNREACHABLE") &&
            next.overdue_from_ms && *next.overdue_from_ms <= t) {
          status = next.to_status;
          current = current + 1;
        }
      }
      if (status == "SUSPECT") {
        std::string ended = "ONLINE";
        for (size_t j = current + 1; j < sorted.size(); ++j) {
          if (sorted[j].to_status != "SUSPECT") {
            ended = sorted[j].to_status;
            break;
          }
        }
        status = ended == "OFFLINE" || ended == "UNREACHABLE" ? "OFFLINE" : "ONLINE";
      }
      if (status == "ONLINE") {
        ++online;
      } else if (status == "OFFLINE" || status == "UNREACHABLE") {
        ++down;
      } else if (status == "MAINTENANCE") {
        ++maintenance;
      } else if (status == "SHUTDOWN") {
        ++shutdown;
      } else {
        ++unmonitored;
      }
    }
    BOOST_TEST_CONTEXT("round " << round) {
      BOOST_TEST(report.online_ms == online * 1000);
      BOOST_TEST(report.down_ms == down * 1000);
      BOOST_TEST(report.maintenance_ms == maintenance * 1000);
      BOOST_TEST(report.shutdown_ms == shutdown * 1000);
      BOOST_TEST(report.degraded_ms == blind * 1000);
      BOOST_TEST(report.unmonitored_ms == unmonitored * 1000);
      int64_t incident_down = 0;
      for (const auto& incident : report.incidents) incident_down += incident.down_ms;
      BOOST_TEST(incident_down == report.down_ms);
    }
  }
}

BOOST_AUTO_TEST_CASE(local_months_and_days_across_dst_changes) {
  const TimeZone berlin = zone("Europe/Berlin");
  const TimeZone new_york = zone("America/New_York");
  // Berlin springs forward on 2026-03-29 and falls back on 2026-10-25.
  const TimeSpan march = localMonth(berlin, 2026, 3);
  BOOST_TEST(march.start_ms == at("2026-02-28T23:00:00Z"));
  BOOST_TEST(march.end_ms == at("2026-03-31T22:00:00Z"));
  BOOST_TEST(march.length() == (31 * 24 - 1) * kHour);
  BOOST_TEST(localMonth(berlin, 2026, 10).length() == (31 * 24 + 1) * kHour);
  BOOST_TEST(localMonth(berlin, 2026, 12).end_ms == at("2026-12-31T23:00:00Z"));
  // New York springs forward on 2026-03-08 and falls back on 2026-11-01.
  BOOST_TEST(localMonth(new_york, 2026, 3).length() == (31 * 24 - 1) * kHour);
  const TimeSpan november = localMonth(new_york, 2026, 11);
  BOOST_TEST(november.start_ms == at("2026-11-01T04:00:00Z"));
  BOOST_TEST(november.length() == (30 * 24 + 1) * kHour);
  // The spring-forward day is 23 hours long, the fall-back day 25.
  BOOST_TEST(localDays(berlin, CivilDate{2026, 3, 29}, CivilDate{2026, 3, 29}).length() ==
             23 * kHour);
  BOOST_TEST(localDays(new_york, CivilDate{2026, 11, 1}, CivilDate{2026, 11, 1}).length() ==
             25 * kHour);
  // An outage from 01:30 to 03:30 local time on Berlin's spring-forward night lasted one hour,
  // and is counted as one.
  const TimeSpan night = localDays(berlin, CivilDate{2026, 3, 29}, CivilDate{2026, 3, 29});
  const int64_t down_from = at("2026-03-29T00:30:00Z");  // 01:30 CET
  const int64_t back_at = at("2026-03-29T01:30:00Z");    // 03:30 CEST
  AgentAvailability a = computeAgentAvailability(
      {change(night.start_ms - kHour, "ONLINE"), change(down_from, "OFFLINE", "confirmed_silent"),
       change(back_at, "ONLINE")},
      {}, {}, night);
  BOOST_TEST(a.down_ms == kHour);
  BOOST_TEST(a.online_ms == 22 * kHour);
  // And one across New York's fall-back night, 00:30 EDT to 01:30 EST: two hours.
  const TimeSpan fall = localDays(new_york, CivilDate{2026, 11, 1}, CivilDate{2026, 11, 1});
  AgentAvailability b =
      computeAgentAvailability({change(fall.start_ms - kHour, "ONLINE"),
                                change(at("2026-11-01T04:30:00Z"), "OFFLINE", "confirmed_silent"),
                                change(at("2026-11-01T06:30:00Z"), "ONLINE")},
                               {}, {}, fall);
  BOOST_TEST(b.down_ms == 2 * kHour);
  BOOST_TEST(b.online_ms == 23 * kHour);
}
