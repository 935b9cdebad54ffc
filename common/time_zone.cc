#include "common/time_zone.h"

#include <algorithm>
#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <optional>
#include <system_error>
#include <utility>
#include <vector>

namespace vigil {
namespace {

constexpr int64_t kSecondsPerDay = 86'400;
constexpr int64_t kDaysPer400Years = 146'097;
// Days from 0000-03-01 to 1970-01-01: the civil arithmetic counts years from March, so that
// each year ends with its leap day.
constexpr int64_t kDaysFrom0000March1To1970 = 719'468;
// Days before each month in a year that starts in March (March, April ... February).
constexpr std::array<int, 12> kDaysBeforeMonthFromMarch = {0,   31,  61,  92,  122, 153,
                                                           184, 214, 245, 275, 306, 337};
// civilFromDays is exact this far from 1970 (years fit an int with room to spare).
constexpr int64_t kCivilDaysLimit = 100'000'000'000;

// RFC 8536's range for a local time type's UT offset: -24:59:59 to +25:59:59. Together with
// the POSIX TZ string's hours (at most 24) it bounds every offset this file computes with.
constexpr int32_t kMinUtcOffset = -89'999;
constexpr int32_t kMaxUtcOffset = 93'599;
// resolve() looks at the instants this far either side of the local time read as UTC: more
// than any offset, so the answer is always inside.
constexpr int64_t kResolveWindowSeconds = int64_t{30} * 3600;

int64_t floorDiv(int64_t a, int64_t b) {
  const int64_t quotient = a / b;
  return (a % b != 0 && (a < 0) != (b < 0)) ? quotient - 1 : quotient;
}

int64_t clampToSpan(int64_t seconds) {
  return std::clamp(seconds, -kTimeZoneSpanSeconds, kTimeZoneSpanSeconds);
}

bool isLeapYear(int64_t year) { return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0; }

// One local time regime: a TZif local time type, or one half of a POSIX TZ string.
struct LocalTimeType {
  int32_t utc_offset = 0;
  bool is_dst = false;
  std::string abbreviation;
};

// The day, in any year, on which a POSIX TZ rule changes the clocks.
struct RuleDay {
  enum class Form {
    kJulianWithoutLeapDay,  // Jn: day n of 1-365, February 29 never counted
    kDayOfYear,             // n: day n of 0-365 (0-based), February 29 counted
    kMonthWeekDay,          // Mm.w.d: weekday d (0 Sunday) of week w (1-5, 5 the last) of month m
  };
  Form form = Form::kMonthWeekDay;
  int day_of_year = 0;
  int month = 1;
  int week = 1;
  int weekday = 0;

  // The day (since 1970-01-01) this rule means in `year`.
  int64_t dayIn(int year) const {
    const int64_t january_first = daysFromCivil(year, 1, 1);
    switch (form) {
      case Form::kJulianWithoutLeapDay:
        return january_first + day_of_year - 1 + (day_of_year >= 60 && isLeapYear(year) ? 1 : 0);
      case Form::kDayOfYear:
        return january_first + day_of_year;
      case Form::kMonthWeekDay:
        break;
    }
    const int64_t first_of_month = daysFromCivil(year, month, 1);
    const int64_t first_match =
        first_of_month + (weekday - weekdayFromDays(first_of_month) + 7) % 7;
    int64_t day = first_match + 7 * int64_t{week - 1};
    // Week 5 is the last such weekday, which may be in week 4.
    while (day >= daysFromCivil(year, month + 1, 1)) day -= 7;
    return day;
  }
};

// A TZif footer: a POSIX TZ string, the zone's rule for every instant after its last
// transition. Without `daylight`, standard time all year.
struct PosixTimeZone {
  struct Daylight {
    LocalTimeType type;
    RuleDay start_day;       // daylight time starts on this day...
    int32_t start_time = 0;  // ...this long after its midnight in standard time (may be < 0)
    RuleDay end_day;         // and ends on this day...
    int32_t end_time = 0;    // ...this long after its midnight in daylight time
  };
  LocalTimeType standard;
  std::optional<Daylight> daylight;

  int64_t daylightStartsAt(int year) const {
    return daylight->start_day.dayIn(year) * kSecondsPerDay + daylight->start_time -
           standard.utc_offset;
  }
  int64_t daylightEndsAt(int year) const {
    return daylight->end_day.dayIn(year) * kSecondsPerDay + daylight->end_time -
           daylight->type.utc_offset;
  }

  // The type in effect at `t`: that of the latest change at or before t. A change's day is at
  // most 8 days from the year it belongs to, so the years from two before t's to one after
  // hold that change. Where a start and an end fall on one instant (a rule that keeps
  // daylight time all year, "0/0,J365/25"), daylight time wins.
  const LocalTimeType& typeAt(int64_t t) const {
    if (!daylight) return standard;
    const int year = civilFromDays(floorDiv(t, kSecondsPerDay)).year;
    std::optional<std::pair<int64_t, bool>> latest;  // (instant, daylight?)
    for (int y = year - 2; y <= year + 1; ++y) {
      for (const auto& change :
           {std::pair(daylightStartsAt(y), true), std::pair(daylightEndsAt(y), false)}) {
        if (change.first <= t && (!latest || change > *latest)) latest = change;
      }
    }
    return latest && latest->second ? daylight->type : standard;
  }

  // Appends the instants in (lo, hi) at which this rule changes the clocks.
  void addChangesWithin(int64_t lo, int64_t hi, std::vector<int64_t>& changes) const {
    if (!daylight) return;
    const int first_year = civilFromDays(floorDiv(lo, kSecondsPerDay)).year - 2;
    const int last_year = civilFromDays(floorDiv(hi, kSecondsPerDay)).year + 1;
    for (int y = first_year; y <= last_year; ++y) {
      for (int64_t at : {daylightStartsAt(y), daylightEndsAt(y)}) {
        if (lo < at && at < hi) changes.push_back(at);
      }
    }
  }
};

// Parses a POSIX TZ string as TZif footers write it (RFC 8536 3.3, with its version 3
// extensions: rule times from -167 to 167 hours). Daylight time without rules (whose meaning
// POSIX leaves to the implementation) is refused; tzdata always writes them.
class PosixTimeZoneParser {
 public:
  explicit PosixTimeZoneParser(std::string_view text) : text_(text) {}

  std::optional<PosixTimeZone> parse() {
    PosixTimeZone zone;
    auto standard_name = abbreviation();
    auto standard_offset = standard_name ? utcOffset() : std::nullopt;
    if (!standard_offset) return std::nullopt;
    zone.standard = {*standard_offset, false, std::move(*standard_name)};
    if (atEnd()) return zone;

    PosixTimeZone::Daylight daylight;
    auto daylight_name = abbreviation();
    if (!daylight_name) return std::nullopt;
    int32_t daylight_offset = *standard_offset + 3600;
    if (!atEnd() && peek() != ',') {
      auto offset = utcOffset();
      if (!offset) return std::nullopt;
      daylight_offset = *offset;
    }
    daylight.type = {daylight_offset, true, std::move(*daylight_name)};
    if (!consume(',') || !ruleChange(daylight.start_day, daylight.start_time) || !consume(',') ||
        !ruleChange(daylight.end_day, daylight.end_time) || !atEnd()) {
      return std::nullopt;
    }
    zone.daylight = std::move(daylight);
    return zone;
  }

 private:
  bool atEnd() const { return pos_ == text_.size(); }
  char peek() const { return text_[pos_]; }  // REQUIRES: !atEnd()
  bool consume(char c) {
    if (atEnd() || peek() != c) return false;
    ++pos_;
    return true;
  }
  static bool isDigit(char c) { return c >= '0' && c <= '9'; }
  static bool isAlpha(char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'); }

  // "CET", or quoted "<+0530>" (letters, digits, '+' and '-'); at least 3 characters.
  std::optional<std::string> abbreviation() {
    const bool quoted = consume('<');
    const size_t start = pos_;
    while (!atEnd() &&
           (isAlpha(peek()) || (quoted && (isDigit(peek()) || peek() == '+' || peek() == '-')))) {
      ++pos_;
    }
    std::string name(text_.substr(start, pos_ - start));
    if (name.size() < 3 || (quoted && !consume('>'))) return std::nullopt;
    return name;
  }

  // 1 to `max_digits` decimal digits, at most `max_value`.
  std::optional<int32_t> number(int max_digits, int32_t max_value) {
    int32_t value = 0;
    int digits = 0;
    while (!atEnd() && isDigit(peek()) && digits < max_digits) {
      value = value * 10 + (peek() - '0');
      ++pos_;
      ++digits;
    }
    if (digits == 0 || value > max_value || (!atEnd() && isDigit(peek()))) return std::nullopt;
    return value;
  }

  // [+|-]h[:mm[:ss]] in seconds, hours at most `max_hours`.
  std::optional<int32_t> signedDuration(int max_hour_digits, int32_t max_hours) {
    int32_t sign = 1;
    if (consume('-')) {
      sign = -1;
    } else {
      consume('+');
    }
    auto hours = number(max_hour_digits, max_hours);
    if (!hours) return std::nullopt;
    int32_t seconds = *hours * 3600;
    if (consume(':')) {
      auto minutes = number(2, 59);
      if (!minutes) return std::nullopt;
      seconds += *minutes * 60;
      if (consume(':')) {
        auto secs = number(2, 59);
        if (!secs) return std::nullopt;
        seconds += *secs;
      }
    }
    return sign * seconds;
  }

  // A POSIX offset is west of UTC ("EST5"); a UTC offset is east of it (-18000).
  std::optional<int32_t> utcOffset() {
    auto west = signedDuration(2, 24);
    if (!west) return std::nullopt;
    return -*west;
  }

  // date[/time]: Jn, n or Mm.w.d; the time defaults to 02:00.
  bool ruleChange(RuleDay& day, int32_t& time) {
    if (consume('J')) {
      auto n = number(3, 365);
      if (!n || *n < 1) return false;
      day.form = RuleDay::Form::kJulianWithoutLeapDay;
      day.day_of_year = *n;
    } else if (consume('M')) {
      auto month = number(2, 12);
      auto week = month && consume('.') ? number(1, 5) : std::nullopt;
      auto weekday = week && consume('.') ? number(1, 6) : std::nullopt;
      if (!weekday || *month < 1 || *week < 1) return false;
      day.form = RuleDay::Form::kMonthWeekDay;
      day.month = *month;
      day.week = *week;
      day.weekday = *weekday;
    } else {
      auto n = number(3, 365);
      if (!n) return false;
      day.form = RuleDay::Form::kDayOfYear;
      day.day_of_year = *n;
    }
    time = 2 * 3600;
    if (consume('/')) {
      auto at = signedDuration(3, 167);
      if (!at) return false;
      time = *at;
    }
    return true;
  }

  std::string_view text_;
  size_t pos_ = 0;
};

// The counts of a TZif header (RFC 8536 3.1).
struct TzifHeader {
  char version = 0;  // '\0' for version 1, else '2', '3' or '4'
  // Records in the data block that are skipped: UT and standard time indicators (none or one
  // per type) and leap seconds...
  uint32_t isut_count = 0;
  uint32_t isstd_count = 0;
  uint32_t leap_count = 0;
  // ...and those read: transitions, local time types, bytes of abbreviations.
  uint32_t time_count = 0;
  uint32_t type_count = 0;
  uint32_t char_count = 0;

  // The size of the data block that follows, with `time_bytes` (4 or 8) per transition time.
  uint64_t dataBytes(uint64_t time_bytes) const {
    return uint64_t{time_count} * (time_bytes + 1) + uint64_t{type_count} * 6 + char_count +
           uint64_t{leap_count} * (time_bytes + 4) + isstd_count + isut_count;
  }
};
constexpr size_t kTzifHeaderBytes = 44;

uint32_t bigEndian32(std::string_view bytes, size_t at) {
  uint32_t value = 0;
  for (size_t i = 0; i < 4; ++i) value = value << 8 | static_cast<unsigned char>(bytes[at + i]);
  return value;
}

int64_t bigEndian64(std::string_view bytes, size_t at) {
  uint64_t value = 0;
  for (size_t i = 0; i < 8; ++i) value = value << 8 | static_cast<unsigned char>(bytes[at + i]);
  return static_cast<int64_t>(value);
}

// Reads a TZif file front to back; every read is checked against the bytes left.
class TzifReader {
 public:
  explicit TzifReader(std::string_view bytes) : bytes_(bytes) {}

  bool has(uint64_t n) const { return n <= bytes_.size() - pos_; }
  bool atEnd() const { return pos_ == bytes_.size(); }
  // The next n bytes. REQUIRES: has(n).
  std::string_view take(uint64_t n) {
    const std::string_view taken = bytes_.substr(pos_, static_cast<size_t>(n));
    pos_ += static_cast<size_t>(n);
    return taken;
  }

  std::optional<TzifHeader> header() {
    if (!has(kTzifHeaderBytes)) return std::nullopt;
    const std::string_view raw = take(kTzifHeaderBytes);
    TzifHeader h;
    h.version = raw[4];
    if (raw.substr(0, 4) != "TZif" ||
        (h.version != '\0' && h.version != '2' && h.version != '3' && h.version != '4')) {
      return std::nullopt;
    }
    // 15 unused bytes, then the six counts.
    h.isut_count = bigEndian32(raw, 20);
    h.isstd_count = bigEndian32(raw, 24);
    h.leap_count = bigEndian32(raw, 28);
    h.time_count = bigEndian32(raw, 32);
    h.type_count = bigEndian32(raw, 36);
    h.char_count = bigEndian32(raw, 40);
    return h;
  }

  // The footer after the version 2+ data block: "\n" TZ string "\n"; the string may be empty.
  std::optional<std::string_view> footer() {
    if (!has(1) || take(1) != "\n") return std::nullopt;
    const size_t end = bytes_.find('\n', pos_);
    if (end == std::string_view::npos) return std::nullopt;
    const std::string_view text = take(end - pos_);
    take(1);
    return text;
  }

 private:
  std::string_view bytes_;
  size_t pos_ = 0;
};

// What TimeZone::resolve() finds, and for a skipped local time also the instant its gap
// ended, when the local time after the gap began.
struct Resolved {
  LocalResolution resolution;
  int64_t gap_end = 0;
};

}  // namespace

struct TimeZone::Rules {
  std::string name;
  std::vector<int64_t> transition_times;  // strictly ascending
  std::vector<uint8_t> transition_types;  // for each transition, its index in `types`
  std::vector<LocalTimeType> types;       // never empty; types[0] applies before transitions
  std::optional<PosixTimeZone> footer;    // for instants from the last transition on

  const LocalTimeType& typeAt(int64_t t) const {
    const auto after = std::upper_bound(transition_times.begin(), transition_times.end(), t);
    if (after == transition_times.end() && footer) return footer->typeAt(t);
    if (after == transition_times.begin()) return types[0];
    return types[transition_types[static_cast<size_t>(after - transition_times.begin() - 1)]];
  }

  // The instants in (lo, hi) at which typeAt() may change, ascending.
  std::vector<int64_t> changesWithin(int64_t lo, int64_t hi) const {
    std::vector<int64_t> changes(
        std::upper_bound(transition_times.begin(), transition_times.end(), lo),
        std::lower_bound(transition_times.begin(), transition_times.end(), hi));
    if (footer) {
      const int64_t footer_from = transition_times.empty() ? lo : transition_times.back();
      footer->addChangesWithin(std::max(lo, footer_from), hi, changes);
    }
    std::sort(changes.begin(), changes.end());
    changes.erase(std::unique(changes.begin(), changes.end()), changes.end());
    return changes;
  }

  // The instants t at which t + offset(t) == local. In a window wider than any offset, local
  // time runs through pieces between the zone's changes; in a piece with offset o the one
  // candidate is local - o. No candidate means a gap, which ends where the first piece whose
  // local time starts beyond `local` begins.
  Resolved resolve(int64_t local) const {
    const int64_t lo = local - kResolveWindowSeconds;
    const int64_t hi = local + kResolveWindowSeconds;
    std::vector<int64_t> starts = changesWithin(lo, hi);
    starts.insert(starts.begin(), lo);
    std::vector<int32_t> offsets;
    offsets.reserve(starts.size());
    for (int64_t start : starts) offsets.push_back(typeAt(start).utc_offset);

    std::optional<int64_t> earliest;
    int64_t latest = 0;
    for (size_t i = 0; i < starts.size(); ++i) {
      const int64_t end = i + 1 < starts.size() ? starts[i + 1] : hi;
      const int64_t candidate = local - offsets[i];
      if (starts[i] <= candidate && candidate < end) {
        if (!earliest) earliest = candidate;
        latest = candidate;
      }
    }
    if (earliest) {
      const auto kind = *earliest == latest ? LocalTimeKind::kUnique : LocalTimeKind::kRepeated;
      return {{kind, *earliest, latest}, 0};
    }
    // The first piece starts before `local` (lo + any offset < local), so the gap follows it
    // or a later piece; the last piece, which reaches beyond `local`, is the fallback.
    size_t after_gap = starts.size() - 1;
    for (size_t i = 1; i < starts.size(); ++i) {
      if (starts[i] + offsets[i] > local) {
        after_gap = i;
        break;
      }
    }
    const int64_t shifted = local - offsets[after_gap == 0 ? 0 : after_gap - 1];
    return {{LocalTimeKind::kSkipped, shifted, shifted}, starts[after_gap]};
  }

  // Reads one TZif data block (RFC 8536 3.2) with `time_bytes`-byte transition times, checking
  // every count and index. Leap-second records and the standard/UT indicators are skipped.
  Status parseDataBlock(const TzifHeader& h, std::string_view block, size_t time_bytes) {
    if (h.type_count == 0 || h.char_count == 0) {
      return Status::invalidArgument("no local time types");
    }
    if ((h.isut_count != 0 && h.isut_count != h.type_count) ||
        (h.isstd_count != 0 && h.isstd_count != h.type_count)) {
      return Status::invalidArgument("indicator counts differ from the type count");
    }
    TzifReader reader(block);
    const std::string_view times = reader.take(uint64_t{h.time_count} * time_bytes);
    const std::string_view indices = reader.take(h.time_count);
    const std::string_view type_records = reader.take(uint64_t{h.type_count} * 6);
    const std::string_view chars = reader.take(h.char_count);

    transition_times.reserve(h.time_count);
    transition_types.reserve(h.time_count);
    for (size_t i = 0; i < h.time_count; ++i) {
      const int64_t at = time_bytes == 8 ? bigEndian64(times, i * 8)
                                         : int64_t{static_cast<int32_t>(bigEndian32(times, i * 4))};
      if (!transition_times.empty() && at <= transition_times.back()) {
        return Status::invalidArgument("transition times out of order");
      }
      const auto type = static_cast<unsigned char>(indices[i]);
      if (type >= h.type_count) return Status::invalidArgument("transition type out of range");
      transition_times.push_back(at);
      transition_types.push_back(type);
    }
    types.reserve(h.type_count);
    for (size_t i = 0; i < h.type_count; ++i) {
      const auto utc_offset = static_cast<int32_t>(bigEndian32(type_records, i * 6));
      const auto is_dst = static_cast<unsigned char>(type_records[i * 6 + 4]);
      const auto abbreviation_at = static_cast<unsigned char>(type_records[i * 6 + 5]);
      if (utc_offset < kMinUtcOffset || utc_offset > kMaxUtcOffset) {
        return Status::invalidArgument("UT offset out of range");
      }
      if (is_dst > 1) return Status::invalidArgument("DST flag neither 0 nor 1");
      const size_t end = abbreviation_at < chars.size() ? chars.find('\0', abbreviation_at)
                                                        : std::string_view::npos;
      if (end == std::string_view::npos) {
        return Status::invalidArgument("abbreviation outside the characters");
      }
      types.push_back({utc_offset, is_dst == 1,
                       std::string(chars.substr(abbreviation_at, end - abbreviation_at))});
    }
    return Status::okStatus();
  }
};

bool operator==(const CivilDate& a, const CivilDate& b) {
  return a.year == b.year && a.month == b.month && a.day == b.day;
}

bool operator==(const CivilDateTime& a, const CivilDateTime& b) {
  return a.year == b.year && a.month == b.month && a.day == b.day && a.hour == b.hour &&
         a.minute == b.minute && a.second == b.second;
}

int64_t daysFromCivil(int year, int month, int day) {
  // Months beyond 1-12 carry into the year; then January and February count as months 10
  // and 11 of the year before, which starts in March.
  const int64_t months_since_year_0 = int64_t{year} * 12 + int64_t{month} - 1;
  int64_t march_year = floorDiv(months_since_year_0, 12);
  const auto month_of_year = static_cast<int>(months_since_year_0 - march_year * 12);
  const int month_from_march = month_of_year >= 2 ? month_of_year - 2 : month_of_year + 10;
  if (month_of_year < 2) --march_year;
  const int64_t cycles = floorDiv(march_year, 400);
  const int64_t year_of_cycle = march_year - cycles * 400;
  const int64_t days_before_year = year_of_cycle * 365 + year_of_cycle / 4 - year_of_cycle / 100;
  return cycles * kDaysPer400Years + days_before_year +
         kDaysBeforeMonthFromMarch[static_cast<size_t>(month_from_march)] + int64_t{day} - 1 -
         kDaysFrom0000March1To1970;
}

CivilDate civilFromDays(int64_t days) {
  const int64_t since_0000_march_1 =
      std::clamp(days, -kCivilDaysLimit, kCivilDaysLimit) + kDaysFrom0000March1To1970;
  const int64_t cycles = floorDiv(since_0000_march_1, kDaysPer400Years);
  int64_t day = since_0000_march_1 - cycles * kDaysPer400Years;  // 0 to 146096
  // A cycle is 3 centuries of 36524 days and one of 36525; a century 24 groups of four years
  // of 1461 days and one of 1460 (1461 in the long century); a group 3 years of 365 days and
  // one of 366. Leap days end their year, so each last, longer part takes the remainder.
  const int64_t centuries = std::min<int64_t>(day / 36'524, 3);
  day -= centuries * 36'524;
  const int64_t groups = std::min<int64_t>(day / 1'461, 24);
  day -= groups * 1'461;
  const int64_t years = std::min<int64_t>(day / 365, 3);
  day -= years * 365;  // day of the year that starts in March, 0 to 365
  size_t month_from_march = kDaysBeforeMonthFromMarch.size() - 1;
  while (kDaysBeforeMonthFromMarch[month_from_march] > day) --month_from_march;
  const int64_t march_year = cycles * 400 + centuries * 100 + groups * 4 + years;
  const bool next_calendar_year = month_from_march >= 10;  // January or February
  return {static_cast<int>(march_year + (next_calendar_year ? 1 : 0)),
          static_cast<int>(next_calendar_year ? month_from_march - 9 : month_from_march + 3),
          static_cast<int>(day - kDaysBeforeMonthFromMarch[month_from_march] + 1)};
}

int weekdayFromDays(int64_t days) {
  // 1970-01-01 was a Thursday (4).
  return static_cast<int>((days % 7 + 7 + 4) % 7);
}

std::optional<CivilDate> parseCivilDate(std::string_view text) {
  if (text.size() != 10) return std::nullopt;
  int fields[3] = {0, 0, 0};
  for (size_t i = 0, field = 0; i < text.size(); ++i) {
    if (i == 4 || i == 7) {
      if (text[i] != '-') return std::nullopt;
      ++field;
    } else if (text[i] >= '0' && text[i] <= '9') {
      fields[field] = fields[field] * 10 + (text[i] - '0');
    } else {
      return std::nullopt;
    }
  }
  const CivilDate date{fields[0], fields[1], fields[2]};
  if (date.month < 1 || date.month > 12 || date.day < 1) return std::nullopt;
  if (!(civilFromDays(daysFromCivil(date.year, date.month, date.day)) == date)) {
    return std::nullopt;
  }
  return date;
}

std::string formatCivilDate(const CivilDate& date) {
  char text[16];
  std::snprintf(text, sizeof text, "%04d-%02d-%02d", date.year, date.month, date.day);
  return text;
}

bool isWellFormedTimeZoneName(std::string_view name) {
  constexpr size_t kMaxNameBytes = 64;
  if (name.empty() || name.size() > kMaxNameBytes) return false;
  size_t component_bytes = 0;
  for (char c : name) {
    if (c == '/') {
      if (component_bytes == 0) return false;
      component_bytes = 0;
      continue;
    }
    const bool allowed = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                         (c >= '0' && c <= '9') || c == '_' || c == '+' || c == '-';
    if (!allowed) return false;
    ++component_bytes;
  }
  return component_bytes > 0;
}

TimeZone::TimeZone(std::shared_ptr<const Rules> rules) : rules_(std::move(rules)) {}

TimeZone TimeZone::utc() {
  static const TimeZone utc_zone([] {
    auto rules = std::make_shared<Rules>();
    rules->name = "UTC";
    rules->types.push_back({0, false, "UTC"});
    return rules;
  }());
  return utc_zone;
}

Result<TimeZone> TimeZone::load(const std::string& name, const std::string& zoneinfo_dir) {
  if (!isWellFormedTimeZoneName(name)) {
    return Status::invalidArgument(
        "a time zone name is 1 to 64 characters: components of A-Z a-z 0-9 _ + - separated by "
        "single '/', such as Europe/Berlin");
  }
  if (name == "UTC" || name == "Etc/UTC") {
    auto rules = std::make_shared<Rules>(*utc().rules_);
    rules->name = name;
    return TimeZone(std::move(rules));
  }
  // "localtime" is the host's zone, not an IANA name; right/ zones count leap seconds.
  if (name == "localtime" || name.rfind("right/", 0) == 0) {
    return Status::notFound("no time zone named " + name);
  }
  std::error_code error;
  const std::filesystem::path dir(zoneinfo_dir);
  if (!std::filesystem::is_directory(dir, error)) {
    return Status::failedPrecondition("no time zone database in " + zoneinfo_dir +
                                      " (install the tzdata package)");
  }
  const std::filesystem::path path = dir / name;
  if (!std::filesystem::is_regular_file(path, error)) {
    return Status::notFound("no time zone named " + name + " in " + zoneinfo_dir);
  }
  std::ifstream in(path, std::ios::binary);
  std::string bytes(kMaxTzifFileBytes + 1, '\0');
  in.read(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (in.bad() || (!in && !in.eof())) {
    return Status::ioError("cannot read " + path.string());
  }
  bytes.resize(static_cast<size_t>(in.gcount()));
  if (bytes.size() > kMaxTzifFileBytes) {
    return Status::invalidArgument(path.string() + " is larger than a time zone file can be");
  }
  if (bytes.compare(0, 4, "TZif") != 0) {
    return Status::notFound("no time zone named " + name + " (" + path.string() +
                            " is not a TZif file)");
  }
  return fromTzif(name, bytes);
}

Result<TimeZone> TimeZone::fromTzif(const std::string& name, std::string_view bytes) {
  auto malformed = [&name](const std::string& why) {
    return Status::invalidArgument("malformed TZif data for time zone " + name + ": " + why);
  };
  auto rules = std::make_shared<Rules>();
  rules->name = name;
  TzifReader reader(bytes);
  const std::optional<TzifHeader> first = reader.header();
  if (!first) return malformed("no TZif header");

  TzifHeader used = *first;
  size_t time_bytes = 4;
  if (first->version != '\0') {
    // Version 2 on: skip the 32-bit block (its content need not be complete) for the 64-bit
    // one after a second header.
    if (!reader.has(first->dataBytes(4))) return malformed("truncated version 1 data");
    reader.take(first->dataBytes(4));
    const std::optional<TzifHeader> second = reader.header();
    if (!second || second->version != first->version) return malformed("no version 2+ header");
    used = *second;
    time_bytes = 8;
  }
  if (!reader.has(used.dataBytes(time_bytes))) return malformed("truncated data");
  if (Status s = rules->parseDataBlock(used, reader.take(used.dataBytes(time_bytes)), time_bytes);
      !s.ok()) {
    return malformed(s.message());
  }
  if (time_bytes == 8) {
    const std::optional<std::string_view> footer = reader.footer();
    if (!footer) return malformed("no footer");
    if (!footer->empty()) {
      rules->footer = PosixTimeZoneParser(*footer).parse();
      if (!rules->footer) return malformed("bad TZ string in the footer");
    }
  }
  if (!reader.atEnd()) return malformed("bytes after the end");
  return TimeZone(std::move(rules));
}

const std::string& TimeZone::name() const { return rules_->name; }

int32_t TimeZone::offsetSecondsAt(int64_t utc_seconds) const {
  return rules_->typeAt(clampToSpan(utc_seconds)).utc_offset;
}

bool TimeZone::isDstAt(int64_t utc_seconds) const {
  return rules_->typeAt(clampToSpan(utc_seconds)).is_dst;
}

std::string TimeZone::abbreviationAt(int64_t utc_seconds) const {
  return rules_->typeAt(clampToSpan(utc_seconds)).abbreviation;
}

CivilDateTime TimeZone::toLocal(int64_t utc_seconds) const {
  const int64_t t = clampToSpan(utc_seconds);
  const int64_t local = t + rules_->typeAt(t).utc_offset;
  const int64_t days = floorDiv(local, kSecondsPerDay);
  const auto second_of_day = static_cast<int>(local - days * kSecondsPerDay);
  const CivilDate date = civilFromDays(days);
  const int hour = second_of_day / 3600;
  const int minute = second_of_day / 60 % 60;
  return {date.year, date.month, date.day, hour, minute, second_of_day % 60};
}

LocalResolution TimeZone::resolve(const CivilDateTime& local) const {
  const int64_t seconds = daysFromCivil(local.year, local.month, local.day) * kSecondsPerDay +
                          int64_t{local.hour} * 3600 + int64_t{local.minute} * 60 + local.second;
  return rules_->resolve(clampToSpan(seconds)).resolution;
}

int64_t TimeZone::startOfLocalDay(int year, int month, int day) const {
  const Resolved midnight =
      rules_->resolve(clampToSpan(daysFromCivil(year, month, day) * kSecondsPerDay));
  // Midnight skipped: the date begins when its gap ends.
  return midnight.resolution.kind == LocalTimeKind::kSkipped ? midnight.gap_end
                                                             : midnight.resolution.utc_seconds;
}

}  // namespace vigil
