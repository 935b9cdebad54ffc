#pragma once

// A tenant's business hours (docs/notifications.md, "Business hours"): a time zone, weekly
// opening intervals and holidays. Outside them a workstation's alerts wait for the next
// opening (and are dropped if the alert ends before it); servers and sites are told at once.
//
// The JSON form, as the admin API takes it and the store keeps it:
//   {"time_zone": "Europe/Berlin",
//    "weekly": [{"day": "mon", "open": "08:00", "close": "18:00"}, ...],
//    "holidays": ["2026-12-24", "2026-12-25"]}
// Days are mon..sun; times HH:MM in the zone's local time, close after open, "24:00" the end
// of the day; intervals of one day may not overlap; at most 28 intervals and 400 holidays.
// A holiday closes its whole local day.
//
// Local times that a DST change skips or repeats are taken as TimeZone::resolve does: an
// opening at 02:30 on a spring-forward night opens at 03:30; one in a repeated hour at its
// first occurrence.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "common/time_zone.h"

namespace vigil::collector {

class BusinessHours {
 public:
  struct Interval {
    int weekday = 1;       // 0 Sunday .. 6 Saturday (weekdayFromDays)
    int open_minute = 0;   // minutes after local midnight
    int close_minute = 0;  // after open_minute, at most 1440
  };

  // Parses and checks the JSON form; `zoneinfo_dir` is where the time zone is read
  // (TimeZone::load). kInvalidArgument naming the member ("weekly[2].close: ..."), kNotFound
  // for an unknown time zone.
  static Result<BusinessHours> fromJson(const std::string& text,
                                        const std::string& zoneinfo_dir = "/usr/share/zoneinfo");

  // Whether the hours are open at `unix_ms`.
  bool isOpenAt(int64_t unix_ms) const;
  // The first instant at or after `unix_ms` at which the hours are open: `unix_ms` itself if
  // open then; nullopt if no opening comes within 400 days (no weekly interval, or holidays
  // cover them all).
  std::optional<int64_t> nextOpening(int64_t unix_ms) const;

  // The canonical JSON form (days in week order from Monday, sorted intervals and holidays).
  std::string toJson() const;

  const TimeZone& timeZone() const { return zone_; }

 private:
  explicit BusinessHours(TimeZone zone) : zone_(std::move(zone)) {}
  bool isHoliday(int64_t local_days) const;

  TimeZone zone_;
  std::vector<Interval> intervals_;  // sorted by weekday, then opening
  std::vector<int64_t> holidays_;    // local dates as days from 1970-01-01, sorted
};

}  // namespace vigil::collector
