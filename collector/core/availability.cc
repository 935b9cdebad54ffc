#include "collector/core/availability.h"

#include <algorithm>
#include <string_view>
#include <utility>

namespace vigil::collector {
namespace {

enum class TimeClass { kOnline, kDown, kMaintenance, kShutdown, kUnmonitored };

bool isDiaryMarker(const StatusChangeRecord& change) {
  return std::string_view(change.reason).rfind("outage_diary", 0) == 0;
}

bool isDownStatus(const std::string& status) {
  return status == "OFFLINE" || status == "UNREACHABLE";
}

// The class of a status other than SUSPECT.
TimeClass classOf(const std::string& status) {
  if (status == "ONLINE") return TimeClass::kOnline;
  if (isDownStatus(status)) return TimeClass::kDown;
  if (status == "MAINTENANCE") return TimeClass::kMaintenance;
  if (status == "SHUTDOWN") return TimeClass::kShutdown;
  return TimeClass::kUnmonitored;
}

int64_t overlap(const TimeSpan& a, const TimeSpan& b) {
  return TimeSpan{std::max(a.start_ms, b.start_ms), std::min(a.end_ms, b.end_ms)}.length();
}

// Time of `span` inside the (sorted, disjoint) `degraded` spans.
int64_t degradedWithin(const TimeSpan& span, const std::vector<TimeSpan>& degraded) {
  int64_t total = 0;
  auto it = std::upper_bound(degraded.begin(), degraded.end(), span.start_ms,
                             [](int64_t at, const TimeSpan& d) { return at < d.end_ms; });
  for (; it != degraded.end() && it->start_ms < span.end_ms; ++it) total += overlap(span, *it);
  return total;
}

// One stretch of the window under one status.
struct Segment {
  TimeSpan span;
  TimeClass klass = TimeClass::kUnmonitored;
  size_t change = 0;  // index of the change that began it; npos: no status yet
};

constexpr size_t kNoChange = static_cast<size_t>(-1);

}  // namespace

TimeSpan localMonth(const TimeZone& zone, int year, int month) {
  // daysFromCivil carries month 13 into January of the next year.
  return TimeSpan{zone.startOfLocalDay(year, month, 1) * 1000,
                  zone.startOfLocalDay(year, month + 1, 1) * 1000};
}

TimeSpan localDays(const TimeZone& zone, const CivilDate& first, const CivilDate& last) {
  return TimeSpan{zone.startOfLocalDay(first.year, first.month, first.day) * 1000,
                  zone.startOfLocalDay(last.year, last.month, last.day + 1) * 1000};
}

std::vector<TimeSpan> collectorDegradedSpans(std::vector<HealthRecord> health, int64_t until_ms) {
  std::stable_sort(health.begin(), health.end(), [](const HealthRecord& a, const HealthRecord& b) {
    return a.node != b.node ? a.node < b.node : a.id < b.id;
  });
  std::vector<TimeSpan> spans;
  std::optional<TimeSpan> open;
  const std::string* node = nullptr;
  auto close = [&](int64_t at) {
    if (!open) return;
    open->end_ms = std::max(open->start_ms, at);
    if (open->length() > 0) spans.push_back(*open);
    open.reset();
  };
  std::optional<int64_t> previous_at;  // the node's record before, when it was surely running
  for (const HealthRecord& h : health) {
    if (node != nullptr && *node != h.node) {
      close(until_ms);
      previous_at.reset();
    }
    node = &h.node;
    if (h.degraded) {
      int64_t from = std::min(h.at_ms, h.blind_from_ms.value_or(h.at_ms));
      if (previous_at) from = std::max(from, std::min(*previous_at, h.at_ms));
      if (!open) {
        open = TimeSpan{from, 0};
      } else {
        open->start_ms = std::min(open->start_ms, from);
      }
    } else {
      close(h.at_ms);
    }
    previous_at = h.at_ms;
  }
  close(until_ms);
  std::sort(spans.begin(), spans.end(),
            [](const TimeSpan& a, const TimeSpan& b) { return a.start_ms < b.start_ms; });
  std::vector<TimeSpan> merged;
  for (const TimeSpan& s : spans) {
    if (!merged.empty() && s.start_ms <= merged.back().end_ms) {
      merged.back().end_ms = std::max(merged.back().end_ms, s.end_ms);
    } else {
      merged.push_back(s);
    }
  }
  return merged;
}

std::optional<double> AgentAvailability::availability() const {
  const int64_t judged = online_ms + down_ms;
  if (judged <= 0) return std::nullopt;
  return static_cast<double>(online_ms) / static_cast<double>(judged);
}

AgentAvailability computeAgentAvailability(std::vector<StatusChangeRecord> changes,
                                           const std::vector<TimeSpan>& degraded,
                                           const std::vector<OutageReport>& diary,
                                           const TimeSpan& window) {
  AgentAvailability out;
  out.window = window;
  if (window.length() == 0) return out;
  changes.erase(std::remove_if(changes.begin(), changes.end(), isDiaryMarker), changes.end());
  auto by_time = [](const StatusChangeRecord& a, const StatusChangeRecord& b) {
    return a.at_ms != b.at_ms ? a.at_ms < b.at_ms : a.id < b.id;
  };
  std::stable_sort(changes.begin(), changes.end(), by_time);
  // The store may give one change twice (the first after the window is also the first that
  // is not SUSPECT).
  changes.erase(std::unique(changes.begin(), changes.end(),
                            [](const StatusChangeRecord& a, const StatusChangeRecord& b) {
                              return a.id == b.id && a.at_ms == b.at_ms;
                            }),
                changes.end());
  // A change from ONLINE into SUSPECT, OFFLINE or UNREACHABLE says when the agent's next
  // evidence was due: the engine waits for evidence to be later than its history allows (and
  // after the collector's own restart or freeze longer still), so the outage began before the
  // change. The ONLINE time from then takes the change's status.
  std::vector<StatusChangeRecord> timeline;
  timeline.reserve(changes.size());
  for (size_t i = 0; i < changes.size(); ++i) {
    const StatusChangeRecord& c = changes[i];
    if (i > 0 && c.overdue_from_ms && changes[i - 1].to_status == "ONLINE" &&
        (c.to_status == "SUSPECT" || isDownStatus(c.to_status))) {
      const int64_t missed = std::max(*c.overdue_from_ms, changes[i - 1].at_ms);
      if (missed < c.at_ms) {
        // Between the ONLINE change and this one, whatever their ids.
        timeline.push_back(c);
        timeline.back().at_ms = missed;
      }
    }
    timeline.push_back(c);
  }
  changes.swap(timeline);

  // The class of the time each change began, SUSPECT resolved by what ended it: a pass from
  // the last change back.
  std::vector<TimeClass> classes(changes.size(), TimeClass::kUnmonitored);
  TimeClass suspect_ends_as = TimeClass::kOnline;  // nothing follows yet: never confirmed
  for (size_t i = changes.size(); i-- > 0;) {
    const std::string& status = changes[i].to_status;
    if (status == "SUSPECT") {
      classes[i] = suspect_ends_as;
    } else {
      classes[i] = classOf(status);
      suspect_ends_as = isDownStatus(status) ? TimeClass::kDown : TimeClass::kOnline;
    }
  }
  auto classAt = [&](size_t i) { return classes[i]; };

  // The window cut at each change inside it.
  std::vector<Segment> segments;
  size_t current = kNoChange;
  size_t next = 0;
  while (next < changes.size() && changes[next].at_ms <= window.start_ms) current = next++;
  int64_t at = window.start_ms;
  auto push = [&](int64_t end) {
    if (end <= at) return;
    segments.push_back(Segment{TimeSpan{at, end},
                               current == kNoChange ? TimeClass::kUnmonitored : classAt(current),
                               current});
    at = end;
  };
  for (; next < changes.size() && changes[next].at_ms < window.end_ms; ++next) {
    push(changes[next].at_ms);
    current = next;
  }
  push(window.end_ms);

  for (const Segment& s : segments) {
    const int64_t blind = degradedWithin(s.span, degraded);
    out.degraded_ms += blind;
    const int64_t judged = s.span.length() - blind;
    switch (s.klass) {
      case TimeClass::kOnline:
        out.online_ms += judged;
        break;
      case TimeClass::kDown:
        out.down_ms += judged;
        break;
      case TimeClass::kMaintenance:
        out.maintenance_ms += judged;
        break;
      case TimeClass::kShutdown:
        out.shutdown_ms += judged;
        break;
      case TimeClass::kUnmonitored:
        out.unmonitored_ms += judged;
        break;
    }
  }

  // Incidents: runs of down segments, each widened to the changes that began and ended it.
  for (size_t i = 0; i < segments.size(); ++i) {
    if (segments[i].klass != TimeClass::kDown) continue;
    size_t last = i;
    while (last + 1 < segments.size() && segments[last + 1].klass == TimeClass::kDown) ++last;
    DowntimeIncident incident;
    size_t first_change = segments[i].change;
    while (first_change > 0 && classAt(first_change - 1) == TimeClass::kDown) --first_change;
    incident.start_ms = changes[first_change].at_ms;
    size_t after = segments[last].change + 1;
    while (after < changes.size() && classAt(after) == TimeClass::kDown) ++after;
    if (after < changes.size()) incident.end_ms = changes[after].at_ms;
    for (size_t c = first_change; c < after; ++c) {
      if (isDownStatus(changes[c].to_status)) {
        incident.status = changes[c].to_status;
        incident.reason = changes[c].reason;
        break;
      }
    }
    for (size_t s = i; s <= last; ++s) {
      incident.down_ms += segments[s].span.length() - degradedWithin(segments[s].span, degraded);
    }
    const TimeSpan whole{incident.start_ms, incident.end_ms.value_or(INT64_MAX)};
    const OutageReport* earliest = nullptr;
    for (const OutageReport& report : diary) {
      if (overlap(whole, TimeSpan{report.from_ms, report.to_ms}) == 0) continue;
      if (earliest == nullptr || report.from_ms < earliest->from_ms) earliest = &report;
    }
    if (earliest != nullptr) incident.diary_cause = earliest->cause;
    out.incidents.push_back(std::move(incident));
    i = last;
  }
  return out;
}

}  // namespace vigil::collector
