#pragma once

// The availability report's arithmetic (docs/reports.md): how an agent's time in a period
// divides among ONLINE, down, maintenance, announced shutdown, the collector's own degraded
// time and time nobody could tell, computed from the status history the presence engine wrote
// and the collector's health history. Pure functions over records; no store, no clock.
//
// The rules, per instant of an agent's window:
// - Inside a span in which the collector was degraded (collectorDegradedSpans) the instant is
//   the collector's (kDegraded), whatever the status said: verdicts were held, and the
//   collector's own outage is not the customer's downtime.
// - Otherwise by the status in effect (the latest change at or before the instant; changes in
//   (at_ms, id) order; the outage diary's markers, reasons "outage_diary_*", are not status):
//   ONLINE online; OFFLINE and UNREACHABLE down; MAINTENANCE maintenance; SHUTDOWN shutdown;
//   UNKNOWN, any other name and no status yet unmonitored. SUSPECT takes the class of how it
//   ended: down if the next status other than SUSPECT is OFFLINE or UNREACHABLE, online
//   otherwise (a late heartbeat, never confirmed; also when nothing follows yet).
// - An outage began when the agent's next evidence was due (its first missed heartbeat): a
//   change from ONLINE into SUSPECT, OFFLINE or UNREACHABLE that records that time
//   (overdue_from_ms) extends its status back over the ONLINE time after it. The engine says
//   SUSPECT only once evidence is later than the agent's history allows, and after the
//   collector's own restart or freeze later still.
// - Availability is online / (online + down): maintenance, announced shutdown, the
//   collector's degraded time and unmonitored time are reported beside it and are not in the
//   denominator.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "collector/core/records.h"
#include "common/time_zone.h"

namespace vigil::collector {

// [start_ms, end_ms) in Unix milliseconds.
struct TimeSpan {
  int64_t start_ms = 0;
  int64_t end_ms = 0;

  int64_t length() const { return end_ms > start_ms ? end_ms - start_ms : 0; }
};

// The local calendar month `year`-`month` (1-12) in `zone`: from the first instant of its first
// day to the first instant of the next month's first day, so a month with a DST change is an
// hour shorter or longer than its days times 24 hours.
TimeSpan localMonth(const TimeZone& zone, int year, int month);

// The local dates `first` to `last`, both included, in `zone`.
TimeSpan localDays(const TimeZone& zone, const CivilDate& first, const CivilDate& last);

// The spans in which the collector could not judge: for each node, each run of degraded
// health records from the first one (from its blind_from_ms when earlier: a freeze or a
// restart found after the fact; never before the node's record before it, when it surely
// ran) to the node's next healthy record, or to `until_ms` if none follows; united over the
// nodes of a cluster, sorted, disjoint and non-empty. `health` in any
// order; records of one node are taken in id order (the order they were written).
std::vector<TimeSpan> collectorDegradedSpans(std::vector<HealthRecord> health, int64_t until_ms);

// One downtime incident: a run of down time (OFFLINE, UNREACHABLE and the SUSPECT before
// them) that meets the window.
struct DowntimeIncident {
  // When the agent was first overdue (or went down); before the window's start if the
  // incident began before it (as far as the history given reaches).
  int64_t start_ms = 0;
  // When it came back (its next status that is not down); unset if it had not by the last
  // change given.
  std::optional<int64_t> end_ms;
  // Down time inside the window, the collector's degraded time excluded.
  int64_t down_ms = 0;
  // The verdict: the first OFFLINE or UNREACHABLE of the run and its reason
  // ("confirmed_silent", "site_partitioned", "shutdown_too_long", ...); empty while it is only
  // SUSPECT (a window ending before the verdict).
  std::string status;
  std::string reason;
  // The cause the agent's outage diary gives for a report overlapping the incident (the
  // endpoint ran but could not reach the collector: "dns", "connect", ...); empty if none.
  std::string diary_cause;
};

struct AgentAvailability {
  TimeSpan window;
  int64_t online_ms = 0;
  int64_t down_ms = 0;
  int64_t maintenance_ms = 0;
  int64_t shutdown_ms = 0;
  int64_t degraded_ms = 0;
  int64_t unmonitored_ms = 0;
  std::vector<DowntimeIncident> incidents;  // by start

  // online / (online + down); nullopt when both are zero.
  std::optional<double> availability() const;
};

// The agent's time in `window` by the rules above. `changes`: its status changes, in any
// order: those inside the window, the latest one before it (the status at its start) and
// those after it that end a SUSPECT or an incident (the store gives the first change after
// the window). `degraded`: collectorDegradedSpans. `diary`: the agent's outage reports.
AgentAvailability computeAgentAvailability(std::vector<StatusChangeRecord> changes,
                                           const std::vector<TimeSpan>& degraded,
                                           const std::vector<OutageReport>& diary,
                                           const TimeSpan& window);

}  // namespace vigil::collector
