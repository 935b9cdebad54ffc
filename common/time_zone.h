#pragma once

// IANA time zones read from the system's compiled tz database (TZif files, RFC 8536; on
// Debian the tzdata package's /usr/share/zoneinfo), for what must be computed in a tenant's
// own time: local days, business hours, reports. C++17 has no time zones, and TZ plus
// localtime_r is process-wide state that one thread cannot change under the others.
//
// Contract:
// - Instants are seconds since 1970-01-01T00:00:00Z in POSIX time (no leap seconds), as
//   everywhere in Vigil. Local ("civil") times are proleptic Gregorian, fields as people
//   write them (month 1-12, day 1-31, hour 0-23).
// - Instants further than kTimeZoneSpanSeconds (about 317,000 years) from 1970 are taken as
//   that far; local times likewise. Within that span every function is exact and total: it
//   never fails, throws or reads outside its data.
// - Which local time applies at an instant: before the zone's first transition, its first
//   local time type (RFC 8536; usually local mean time); from there the file's transitions;
//   after the last one, the file's footer rule (a POSIX TZ string such as
//   "CET-1CEST,M3.5.0,M10.5.0/3"). Files built "slim" list few or no future transitions, so
//   dates years ahead come from that rule; without a footer the last transition's type stays.
// - Leap-second records in a file are skipped. Zones that count leap seconds ("right/...")
//   are refused by load(): their transition times are not POSIX time.
// - A TimeZone is immutable once made: every method is const and may be called from any
//   number of threads at once. Copies share the parsed data, so copying is cheap.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "common/status.h"

namespace vigil {

// How far from 1970, either way, instants and local times are computed exactly.
constexpr int64_t kTimeZoneSpanSeconds = 10'000'000'000'000;

// The largest TZif file load() reads (the largest in Debian 12's tzdata 2025b: under 4 KiB).
constexpr size_t kMaxTzifFileBytes = size_t{256} * 1024;

struct CivilDate {
  int year = 1970;
  int month = 1;  // 1-12
  int day = 1;    // 1-31
};

struct CivilDateTime {
  int year = 1970;
  int month = 1;   // 1-12
  int day = 1;     // 1-31
  int hour = 0;    // 0-23
  int minute = 0;  // 0-59
  int second = 0;  // 0-59
};

bool operator==(const CivilDate& a, const CivilDate& b);
bool operator==(const CivilDateTime& a, const CivilDateTime& b);

// Days from 1970-01-01 to year-month-day (proleptic Gregorian; negative before 1970), for any
// int fields: those out of range carry over as mktime's do (month 13 is January of the next
// year, day 0 the last day of the month before), so a day count can be added to `day`.
int64_t daysFromCivil(int year, int month, int day);

// The date `days` after 1970-01-01 (before it if negative). Exact up to 10^11 days (273
// million years) either way; further is taken as that far.
CivilDate civilFromDays(int64_t days);

// The day of the week of the date `days` after 1970-01-01: 0 Sunday, 1 Monday ... 6 Saturday.
int weekdayFromDays(int64_t days);

// A date as people and APIs write it, "YYYY-MM-DD": exactly ten characters, digits and two
// dashes, a real date (no February 30th). nullopt otherwise.
std::optional<CivilDate> parseCivilDate(std::string_view text);
// "YYYY-MM-DD" (years 0 to 9999 in four digits).
std::string formatCivilDate(const CivilDate& date);

// Whether `name` may name a time zone: 1 to 64 bytes of components made of A-Z a-z 0-9 _ + -,
// separated by single '/' (so no ".", "..", empty component, leading or trailing '/').
bool isWellFormedTimeZoneName(std::string_view name);

// How a local time maps to instants.
enum class LocalTimeKind {
  kUnique,    // it happens once
  kSkipped,   // it never happens: it is in a gap, clocks jumped over it (spring forward)
  kRepeated,  // it happens twice: clocks were set back over it (fall back)
};

struct LocalResolution {
  LocalTimeKind kind = LocalTimeKind::kUnique;
  // The instant to use. kUnique: the only one. kRepeated: the earlier one. kSkipped: the
  // instant the local time would have had with the offset in effect before the gap, so it is
  // shifted forward by the gap's length (02:30 in a 02:00->03:00 gap becomes 03:30), as cron,
  // java.time and most schedulers do; a job set for the skipped time still runs that day.
  int64_t utc_seconds = 0;
  // kRepeated: the later instant. Otherwise equal to utc_seconds.
  int64_t later_utc_seconds = 0;
};

class TimeZone {
 public:
  // The zone `name` from the compiled tz database in `zoneinfo_dir`. Names come from tenant
  // admins and are hostile input: one that is not well formed (isWellFormedTimeZoneName) is
  // invalid_argument, refused before the file system is touched. "UTC" and "Etc/UTC" are
  // built in and work without a database. Errors: failed_precondition if `zoneinfo_dir` is
  // not a directory (tzdata not installed); not_found for a name with no zone ("localtime",
  // a directory, a file that is not TZif, "right/..."); invalid_argument for a file larger
  // than kMaxTzifFileBytes or malformed (fromTzif); io_error if it cannot be read.
  static Result<TimeZone> load(const std::string& name,
                               const std::string& zoneinfo_dir = "/usr/share/zoneinfo");

  // UTC, named "UTC".
  static TimeZone utc();

  // Parses TZif `bytes` (versions 1 to 4; the 64-bit data and the footer of version 2 on).
  // `name` is only what name() returns. Any malformed input (bad magic or version, counts
  // beyond the bytes, indices out of range, transitions out of order, UT offsets outside RFC
  // 8536's -24:59:59 to +25:59:59, a bad footer, bytes after it) is invalid_argument, never a
  // crash.
  static Result<TimeZone> fromTzif(const std::string& name, std::string_view bytes);

  const std::string& name() const;

  // The offset of local time from UTC at `utc_seconds`: +3600 for CET, -18000 for EST.
  int32_t offsetSecondsAt(int64_t utc_seconds) const;
  // Whether daylight saving time is in effect at `utc_seconds` (as the zone file says).
  bool isDstAt(int64_t utc_seconds) const;
  // The abbreviation in use at `utc_seconds`: "CEST", "IST", "+0545" (tzdata writes numeric
  // ones where no abbreviation is in common use).
  std::string abbreviationAt(int64_t utc_seconds) const;

  // The local date and time at `utc_seconds`.
  CivilDateTime toLocal(int64_t utc_seconds) const;

  // The instant(s) at which local time is `local` (see LocalResolution). Fields out of range
  // carry over as in daysFromCivil (24:00 is the next day's 00:00). Should a historical local
  // time happen more than twice, the earliest and the latest instant are given.
  LocalResolution resolve(const CivilDateTime& local) const;

  // The first instant of the local date year-month-day: its midnight, or, where clocks jump
  // over midnight (zones that change at 00:00), the instant of the jump, when the date begins.
  // A date skipped entirely (Pacific/Apia's 2011-12-30) gives the first instant after it.
  int64_t startOfLocalDay(int year, int month, int day) const;

 private:
  struct Rules;
  explicit TimeZone(std::shared_ptr<const Rules> rules);

  std::shared_ptr<const Rules> rules_;
};

}  // namespace vigil
