#define BOOST_TEST_MODULE common_time_zone
#include "common/time_zone.h"

#include <time.h>  // localtime_r, tzset: the reference the property test compares with

#include <algorithm>
#include <atomic>
#include <boost/test/unit_test.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <random>
#include <string>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

using vigil::CivilDate;
using vigil::CivilDateTime;
using vigil::daysFromCivil;
using vigil::LocalTimeKind;
using vigil::StatusCode;
using vigil::TimeZone;

namespace {

const std::string kZoneinfo = "/usr/share/zoneinfo";

// These tests read the system's tz database: without it they fail, saying what to install.
void requireTzdata() {
  BOOST_REQUIRE_MESSAGE(std::filesystem::is_directory(kZoneinfo),
                        kZoneinfo << " is missing: install the tzdata package "
                                     "(scripts/install-deps.sh)");
}

// The error of `r`, for a message (Boost.Test builds messages also when the check passes).
std::string failure(const vigil::Result<TimeZone>& r) {
  return r.ok() ? std::string() : r.error().toString();
}

TimeZone zone(const std::string& name) {
  requireTzdata();
  auto loaded = TimeZone::load(name);
  BOOST_REQUIRE_MESSAGE(loaded.ok(), name << ": " << failure(loaded));
  return loaded.value();
}

std::string zoneFileBytes(const std::string& name) {
  requireTzdata();
  std::ifstream in(kZoneinfo + "/" + name, std::ios::binary);
  BOOST_REQUIRE_MESSAGE(in, "cannot read " << kZoneinfo << "/" << name);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// Seconds since 1970 of a UTC date and time.
int64_t utc(int year, int month, int day, int hour, int minute = 0, int second = 0) {
  return daysFromCivil(year, month, day) * 86'400 + int64_t{hour} * 3600 + int64_t{minute} * 60 +
         second;
}

CivilDateTime civil(int year, int month, int day, int hour, int minute = 0, int second = 0) {
  return {year, month, day, hour, minute, second};
}

std::string text(const CivilDateTime& c) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02d %02d:%02d:%02d", c.year, c.month, c.day, c.hour,
                c.minute, c.second);
  return buf;
}

// Checks the local time just before and at a transition at `at`.
void checkTransition(const TimeZone& z, int64_t at, int32_t offset_before, int32_t offset_after,
                     const std::string& abbreviation_before,
                     const std::string& abbreviation_after) {
  BOOST_TEST_CONTEXT(z.name() << " at " << at) {
    BOOST_TEST(z.offsetSecondsAt(at - 1) == offset_before);
    BOOST_TEST(z.offsetSecondsAt(at) == offset_after);
    BOOST_TEST(z.abbreviationAt(at - 1) == abbreviation_before);
    BOOST_TEST(z.abbreviationAt(at) == abbreviation_after);
    BOOST_TEST(z.isDstAt(at) == (offset_after > offset_before));
  }
}

void appendBigEndian32(std::string& out, uint32_t value) {
  for (int shift = 24; shift >= 0; shift -= 8) out += static_cast<char>(value >> shift & 0xff);
}

// A version 2 TZif file with no transitions, one local time type, and `footer`.
std::string tzifWithFooter(const std::string& footer, int32_t utc_offset = 0,
                           const std::string& abbreviation = "LMT") {
  const std::string chars = abbreviation + '\0';
  std::string header = std::string("TZif2") + std::string(15, '\0');
  for (uint32_t count : {0u, 0u, 0u, 0u, 1u, static_cast<uint32_t>(chars.size())}) {
    appendBigEndian32(header, count);
  }
  std::string block;
  appendBigEndian32(block, static_cast<uint32_t>(utc_offset));
  block += '\0';  // not DST
  block += '\0';  // abbreviation at 0
  block += chars;
  return header + block + header + block + "\n" + footer + "\n";
}

// Where the parts of a TZif file are (RFC 8536), to corrupt them one at a time.
class TzifLayout {
 public:
  explicit TzifLayout(std::string bytes) : bytes_(std::move(bytes)) {}

  // The version 2+ header, its counts, and where its data block's parts start: transition
  // times, their type indices, the local time types, the abbreviations; then the footer.
  size_t v2Header() const { return 44 + dataBytes(0, 4); }
  uint32_t timeCount() const { return count(v2Header(), 3); }
  uint32_t typeCount() const { return count(v2Header(), 4); }
  uint32_t charCount() const { return count(v2Header(), 5); }
  size_t times() const { return v2Header() + 44; }
  size_t indices() const { return times() + size_t{8} * timeCount(); }
  size_t types() const { return indices() + timeCount(); }
  size_t chars() const { return types() + size_t{6} * typeCount(); }
  size_t footer() const { return times() + dataBytes(v2Header(), 8); }

 private:
  // Count `i` (isut, isstd, leap, time, type, char) of the header at `header`.
  uint32_t count(size_t header, size_t i) const {
    uint32_t value = 0;
    for (size_t b = 0; b < 4; ++b) {
      value = value << 8 | static_cast<unsigned char>(bytes_.at(header + 20 + 4 * i + b));
    }
    return value;
  }
  size_t dataBytes(size_t header, size_t time_bytes) const {
    return count(header, 3) * (time_bytes + 1) + count(header, 4) * size_t{6} + count(header, 5) +
           count(header, 2) * (time_bytes + 4) + count(header, 1) + count(header, 0);
  }

  std::string bytes_;
};

}  // namespace

BOOST_AUTO_TEST_CASE(civil_days_round_trip_and_follow_the_gregorian_calendar) {
  BOOST_TEST(daysFromCivil(1970, 1, 1) == 0);
  BOOST_TEST(daysFromCivil(2000, 3, 1) == 11'017);
  BOOST_TEST(daysFromCivil(1969, 12, 31) == -1);
  BOOST_TEST(daysFromCivil(0, 3, 1) == -719'468);
  BOOST_TEST(vigil::weekdayFromDays(0) == 4);  // Thursday
  BOOST_TEST(vigil::weekdayFromDays(daysFromCivil(2026, 3, 29)) == 0);
  BOOST_TEST(vigil::weekdayFromDays(-1) == 3);
  // Out-of-range fields carry over.
  BOOST_TEST(daysFromCivil(2026, 13, 1) == daysFromCivil(2027, 1, 1));
  BOOST_TEST(daysFromCivil(2026, 3, 0) == daysFromCivil(2026, 2, 28));
  BOOST_TEST(daysFromCivil(2024, 0, 31) == daysFromCivil(2023, 12, 31));
  BOOST_TEST(daysFromCivil(2024, 1, 1 + 366) == daysFromCivil(2025, 1, 1));

  // Day by day from 1600 to 2500 (and across year 0): each day follows the one before by the
  // calendar's own rules, and converts back.
  for (int64_t start : {daysFromCivil(1600, 1, 1), daysFromCivil(-2, 1, 1)}) {
    CivilDate previous = vigil::civilFromDays(start);
    BOOST_REQUIRE(daysFromCivil(previous.year, previous.month, previous.day) == start);
    for (int64_t days = start + 1; days < start + 330'000; ++days) {
      const CivilDate date = vigil::civilFromDays(days);
      const bool leap =
          (previous.year % 4 == 0 && previous.year % 100 != 0) || previous.year % 400 == 0;
      const int month_days[] = {31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
      CivilDate expected = previous;
      if (++expected.day > month_days[previous.month - 1]) {
        expected.day = 1;
        if (++expected.month > 12) {
          expected.month = 1;
          ++expected.year;
        }
      }
      if (!(date == expected) || daysFromCivil(date.year, date.month, date.day) != days) {
        BOOST_FAIL("day " << days << " is " << date.year << "-" << date.month << "-" << date.day);
      }
      previous = date;
    }
  }
}

BOOST_AUTO_TEST_CASE(extreme_inputs_are_taken_as_far_as_the_span_and_never_undefined) {
  constexpr int kIntMax = std::numeric_limits<int>::max();
  constexpr int kIntMin = std::numeric_limits<int>::min();
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  constexpr int64_t kMin = std::numeric_limits<int64_t>::min();
  BOOST_TEST(daysFromCivil(kIntMax, kIntMax, kIntMax) > 0);
  BOOST_TEST(daysFromCivil(kIntMin, kIntMin, kIntMin) < 0);
  for (int64_t days : {kMin, kMin + 1, int64_t{-1}, int64_t{0}, kMax}) {
    const int weekday = vigil::weekdayFromDays(days);
    BOOST_TEST((weekday >= 0 && weekday <= 6));
  }
  BOOST_TEST(vigil::civilFromDays(kMax).year > 200'000'000);
  BOOST_TEST(vigil::civilFromDays(kMin).year < -200'000'000);
  const TimeZone berlin = zone("Europe/Berlin");
  for (int64_t t : {kMin, kMax}) {
    BOOST_TEST(
        berlin.offsetSecondsAt(t) ==
        berlin.offsetSecondsAt(t < 0 ? -vigil::kTimeZoneSpanSeconds : vigil::kTimeZoneSpanSeconds));
    BOOST_TEST(
        text(berlin.toLocal(t)) ==
        text(berlin.toLocal(t < 0 ? -vigil::kTimeZoneSpanSeconds : vigil::kTimeZoneSpanSeconds)));
  }
  BOOST_TEST(berlin.resolve({kIntMax, kIntMax, kIntMax, kIntMax, kIntMax, kIntMax}).utc_seconds >
             0);
  BOOST_TEST(berlin.startOfLocalDay(kIntMin, kIntMin, kIntMin) < 0);
  // Far but within the span the footer still applies: 300,000 years on, July is summer time.
  BOOST_TEST(berlin.offsetSecondsAt(utc(300'000, 7, 1, 12)) == 7200);
}

BOOST_AUTO_TEST_CASE(utc_is_built_in_and_needs_no_database) {
  const TimeZone z = TimeZone::utc();
  BOOST_TEST(z.name() == "UTC");
  BOOST_TEST(z.offsetSecondsAt(utc(2026, 7, 1, 12)) == 0);
  BOOST_TEST(z.abbreviationAt(0) == "UTC");
  BOOST_TEST(!z.isDstAt(0));
  BOOST_TEST(text(z.toLocal(utc(2026, 3, 29, 1, 2, 3))) == "2026-03-29 01:02:03");
  for (const std::string name : {"UTC", "Etc/UTC"}) {
    auto loaded = TimeZone::load(name, "/nonexistent/zoneinfo");
    BOOST_REQUIRE(loaded.ok());
    BOOST_TEST(loaded->name() == name);
    BOOST_TEST(loaded->offsetSecondsAt(utc(2040, 1, 1, 0)) == 0);
  }
  const auto r = z.resolve(civil(2026, 3, 29, 2, 30));
  BOOST_TEST((r.kind == LocalTimeKind::kUnique));
  BOOST_TEST(r.utc_seconds == utc(2026, 3, 29, 2, 30));
}

BOOST_AUTO_TEST_CASE(berlin_changes_at_01_00_utc_on_the_last_sundays_of_march_and_october) {
  const TimeZone berlin = zone("Europe/Berlin");
  BOOST_TEST(berlin.name() == "Europe/Berlin");
  checkTransition(berlin, utc(2026, 3, 29, 1), 3600, 7200, "CET", "CEST");
  checkTransition(berlin, utc(2026, 10, 25, 1), 7200, 3600, "CEST", "CET");
  BOOST_TEST(text(berlin.toLocal(utc(2026, 3, 29, 1) - 1)) == "2026-03-29 01:59:59");
  BOOST_TEST(text(berlin.toLocal(utc(2026, 3, 29, 1))) == "2026-03-29 03:00:00");
  BOOST_TEST(text(berlin.toLocal(utc(2026, 10, 25, 1) - 1)) == "2026-10-25 02:59:59");
  BOOST_TEST(text(berlin.toLocal(utc(2026, 10, 25, 1))) == "2026-10-25 02:00:00");
}

BOOST_AUTO_TEST_CASE(new_york_changes_on_the_second_sunday_of_march_and_first_of_november) {
  const TimeZone new_york = zone("America/New_York");
  checkTransition(new_york, utc(2026, 3, 8, 7), -18'000, -14'400, "EST", "EDT");
  checkTransition(new_york, utc(2026, 11, 1, 6), -14'400, -18'000, "EDT", "EST");
}

BOOST_AUTO_TEST_CASE(sydney_has_daylight_time_in_the_southern_summer) {
  const TimeZone sydney = zone("Australia/Sydney");
  checkTransition(sydney, utc(2026, 4, 4, 16), 39'600, 36'000, "AEDT", "AEST");
  checkTransition(sydney, utc(2026, 10, 3, 16), 36'000, 39'600, "AEST", "AEDT");
  BOOST_TEST(sydney.isDstAt(utc(2026, 1, 15, 0)));
  BOOST_TEST(!sydney.isDstAt(utc(2026, 7, 15, 0)));
}

BOOST_AUTO_TEST_CASE(kolkata_is_five_and_a_half_hours_ahead_all_year) {
  const TimeZone kolkata = zone("Asia/Kolkata");
  for (int64_t t :
       {utc(1990, 1, 1, 0), utc(2026, 3, 29, 1), utc(2026, 7, 1, 12), utc(2044, 12, 31, 23)}) {
    BOOST_TEST(kolkata.offsetSecondsAt(t) == 19'800);
    BOOST_TEST(!kolkata.isDstAt(t));
    BOOST_TEST(kolkata.abbreviationAt(t) == "IST");
  }
  BOOST_TEST(text(kolkata.toLocal(utc(2026, 1, 1, 20))) == "2026-01-02 01:30:00");
}

BOOST_AUTO_TEST_CASE(chatham_is_twelve_or_thirteen_hours_and_three_quarters_ahead) {
  const TimeZone chatham = zone("Pacific/Chatham");
  checkTransition(chatham, utc(2026, 4, 4, 14), 49'500, 45'900, "+1345", "+1245");
  checkTransition(chatham, utc(2026, 9, 26, 14), 45'900, 49'500, "+1245", "+1345");
  BOOST_TEST(text(chatham.toLocal(utc(2026, 9, 26, 14))) == "2026-09-27 03:45:00");
}

BOOST_AUTO_TEST_CASE(sao_paulo_has_had_no_daylight_time_since_2019) {
  const TimeZone sao_paulo = zone("America/Sao_Paulo");
  BOOST_TEST(sao_paulo.offsetSecondsAt(utc(2018, 1, 15, 12)) == -7200);
  BOOST_TEST(sao_paulo.isDstAt(utc(2018, 1, 15, 12)));
  for (int year = 2020; year <= 2045; ++year) {
    for (int month : {1, 4, 7, 10, 12}) {
      BOOST_TEST(sao_paulo.offsetSecondsAt(utc(year, month, 15, 12)) == -10'800);
      BOOST_TEST(!sao_paulo.isDstAt(utc(year, month, 15, 12)));
    }
  }
}

BOOST_AUTO_TEST_CASE(dates_after_2037_follow_the_footer_rule) {
  // The last Sundays of March and October 2040 are the 25th and the 28th; the second Sunday
  // of March 2040 is the 11th.
  checkTransition(zone("Europe/Berlin"), utc(2040, 3, 25, 1), 3600, 7200, "CET", "CEST");
  checkTransition(zone("Europe/Berlin"), utc(2040, 10, 28, 1), 7200, 3600, "CEST", "CET");
  checkTransition(zone("America/New_York"), utc(2040, 3, 11, 7), -18'000, -14'400, "EST", "EDT");
  checkTransition(zone("Australia/Sydney"), utc(2045, 4, 1, 16), 39'600, 36'000, "AEDT", "AEST");
}

BOOST_AUTO_TEST_CASE(a_skipped_local_time_shifts_forward_and_a_repeated_one_has_two_instants) {
  const TimeZone berlin = zone("Europe/Berlin");
  const auto skipped = berlin.resolve(civil(2026, 3, 29, 2, 30));
  BOOST_TEST((skipped.kind == LocalTimeKind::kSkipped));
  BOOST_TEST(skipped.utc_seconds == utc(2026, 3, 29, 1, 30));  // 03:30 CEST
  BOOST_TEST(skipped.later_utc_seconds == skipped.utc_seconds);
  BOOST_TEST(text(berlin.toLocal(skipped.utc_seconds)) == "2026-03-29 03:30:00");

  const auto repeated = berlin.resolve(civil(2026, 10, 25, 2, 30));
  BOOST_TEST((repeated.kind == LocalTimeKind::kRepeated));
  BOOST_TEST(repeated.utc_seconds == utc(2026, 10, 25, 0, 30));        // 02:30 CEST
  BOOST_TEST(repeated.later_utc_seconds == utc(2026, 10, 25, 1, 30));  // 02:30 CET

  const auto unique = berlin.resolve(civil(2026, 6, 1, 12));
  BOOST_TEST((unique.kind == LocalTimeKind::kUnique));
  BOOST_TEST(unique.utc_seconds == utc(2026, 6, 1, 10));
  // The edges: 02:00 is skipped, 03:00 is not; 02:00 in October is repeated, 03:00 is not.
  BOOST_TEST((berlin.resolve(civil(2026, 3, 29, 2)).kind == LocalTimeKind::kSkipped));
  BOOST_TEST((berlin.resolve(civil(2026, 3, 29, 3)).kind == LocalTimeKind::kUnique));
  BOOST_TEST(berlin.resolve(civil(2026, 3, 29, 3)).utc_seconds == utc(2026, 3, 29, 1));
  BOOST_TEST((berlin.resolve(civil(2026, 10, 25, 2)).kind == LocalTimeKind::kRepeated));
  BOOST_TEST((berlin.resolve(civil(2026, 10, 25, 3)).kind == LocalTimeKind::kUnique));
  // After 2037, from the footer rule.
  BOOST_TEST((berlin.resolve(civil(2040, 3, 25, 2, 30)).kind == LocalTimeKind::kSkipped));
  BOOST_TEST((berlin.resolve(civil(2040, 10, 28, 2, 30)).kind == LocalTimeKind::kRepeated));
  // Out-of-range fields carry over: 24:00 is the next day's midnight.
  BOOST_TEST(berlin.resolve(civil(2026, 6, 1, 24)).utc_seconds == utc(2026, 6, 1, 22));
}

BOOST_AUTO_TEST_CASE(local_days_have_23_or_25_hours_on_dst_days) {
  const TimeZone berlin = zone("Europe/Berlin");
  BOOST_TEST(berlin.startOfLocalDay(2026, 3, 29) == utc(2026, 3, 28, 23));
  BOOST_TEST(berlin.startOfLocalDay(2026, 3, 30) - berlin.startOfLocalDay(2026, 3, 29) ==
             23 * 3600);
  BOOST_TEST(berlin.startOfLocalDay(2026, 10, 25) == utc(2026, 10, 24, 22));
  BOOST_TEST(berlin.startOfLocalDay(2026, 10, 26) - berlin.startOfLocalDay(2026, 10, 25) ==
             25 * 3600);
  BOOST_TEST(berlin.startOfLocalDay(2026, 6, 2) - berlin.startOfLocalDay(2026, 6, 1) == 86'400);
}

BOOST_AUTO_TEST_CASE(a_day_whose_midnight_is_skipped_starts_when_the_clocks_jump) {
  // America/Santiago starts daylight time on the first Sunday of September at 24:00 of the
  // Saturday, Asia/Beirut on the last Sunday of March at 00:00: local midnight never happens.
  const TimeZone santiago = zone("America/Santiago");
  BOOST_TEST((santiago.resolve(civil(2026, 9, 6, 0)).kind == LocalTimeKind::kSkipped));
  BOOST_TEST(santiago.startOfLocalDay(2026, 9, 6) == utc(2026, 9, 6, 4));  // 01:00 -03
  BOOST_TEST(text(santiago.toLocal(santiago.startOfLocalDay(2026, 9, 6))) == "2026-09-06 01:00:00");
  BOOST_TEST(santiago.startOfLocalDay(2026, 9, 7) - santiago.startOfLocalDay(2026, 9, 6) ==
             23 * 3600);
  // It ends at 24:00 of the first Saturday of April: 23:00-24:00 happens twice, so that
  // Saturday has 25 hours and Sunday starts once.
  BOOST_TEST(santiago.startOfLocalDay(2026, 4, 5) - santiago.startOfLocalDay(2026, 4, 4) ==
             25 * 3600);
  BOOST_TEST(santiago.startOfLocalDay(2026, 4, 5) == utc(2026, 4, 5, 4));

  const TimeZone beirut = zone("Asia/Beirut");
  BOOST_TEST(beirut.startOfLocalDay(2026, 3, 29) == utc(2026, 3, 28, 22));  // 01:00 EEST
  BOOST_TEST(beirut.startOfLocalDay(2026, 3, 30) - beirut.startOfLocalDay(2026, 3, 29) ==
             23 * 3600);
  BOOST_TEST(beirut.startOfLocalDay(2026, 10, 25) - beirut.startOfLocalDay(2026, 10, 24) ==
             25 * 3600);

  // Samoa skipped 2011-12-30 entirely: that date "starts" when the 31st does.
  const TimeZone apia = zone("Pacific/Apia");
  BOOST_TEST(apia.startOfLocalDay(2011, 12, 30) == utc(2011, 12, 30, 10));
  BOOST_TEST(apia.startOfLocalDay(2011, 12, 31) == utc(2011, 12, 30, 10));
}

BOOST_AUTO_TEST_CASE(names_that_are_not_well_formed_are_refused_before_the_file_system) {
  const std::vector<std::string> bad = {
      "../etc/passwd",
      "/etc/localtime",
      "Europe/../../x",
      "a//b",
      std::string(65, 'a'),
      std::string("Europe/Berlin\0x", 15),
      "",
      "Europe/",
      "./Europe/Berlin",
      "Europe/Berlin ",
      "Europe\\Berlin",
      "Europe/Ber.lin",
      "..",
      "Europe/%2e%2e",
      "Europe/Berlin\n",
  };
  const std::string refused_message = TimeZone::load("..").error().message();
  for (const std::string& name : bad) {
    BOOST_TEST_CONTEXT("name of " << name.size() << " bytes") {
      BOOST_TEST(!vigil::isWellFormedTimeZoneName(name));
      // A directory that does not exist: the name is refused before it is looked at.
      auto loaded = TimeZone::load(name, "/nonexistent/zoneinfo");
      BOOST_REQUIRE(!loaded.ok());
      BOOST_TEST((loaded.error().code() == StatusCode::kInvalidArgument));
      // The message never repeats the name (which may hold anything): it is always the same.
      BOOST_TEST(loaded.error().message() == refused_message);
    }
  }
  BOOST_TEST(vigil::isWellFormedTimeZoneName(std::string(64, 'a')));
  BOOST_TEST(vigil::isWellFormedTimeZoneName("America/Argentina/Buenos_Aires"));
  BOOST_TEST(vigil::isWellFormedTimeZoneName("Etc/GMT+5"));
  BOOST_TEST(vigil::isWellFormedTimeZoneName("America/Port-au-Prince"));
}

BOOST_AUTO_TEST_CASE(names_without_a_zone_are_not_found) {
  requireTzdata();
  const std::vector<std::string> unknown = {"Mars/Olympus_Mons", "Europe",
                                            "localtime",         "right/Europe/Berlin",
                                            "leapseconds",       std::string(64, 'a')};
  for (const std::string& name : unknown) {
    auto loaded = TimeZone::load(name);
    BOOST_REQUIRE_MESSAGE(!loaded.ok(), name);
    BOOST_TEST((loaded.error().code() == StatusCode::kNotFound), name);
  }
  auto no_database = TimeZone::load("Europe/Berlin", "/nonexistent/zoneinfo");
  BOOST_REQUIRE(!no_database.ok());
  BOOST_TEST((no_database.error().code() == StatusCode::kFailedPrecondition));
  BOOST_TEST(no_database.error().message().find("tzdata") != std::string::npos);
  // Other zone names in the database load; Etc/GMT+5 is five hours behind (POSIX's sign).
  BOOST_TEST(zone("Etc/GMT+5").offsetSecondsAt(0) == -18'000);
}

BOOST_AUTO_TEST_CASE(truncated_tzif_bytes_are_refused) {
  const std::string bytes = zoneFileBytes("Europe/Berlin");
  BOOST_REQUIRE(TimeZone::fromTzif("Europe/Berlin", bytes).ok());
  for (size_t size = 0; size < bytes.size(); ++size) {
    auto parsed = TimeZone::fromTzif("cut", std::string_view(bytes).substr(0, size));
    if (parsed.ok()) BOOST_FAIL("accepted the first " << size << " bytes");
    BOOST_TEST((parsed.error().code() == StatusCode::kInvalidArgument));
  }
  BOOST_TEST(!TimeZone::fromTzif("longer", bytes + '\n').ok());
}

BOOST_AUTO_TEST_CASE(corrupted_tzif_bytes_are_refused) {
  const std::string bytes = zoneFileBytes("Europe/Berlin");
  const TzifLayout at(bytes);
  BOOST_REQUIRE(at.timeCount() > 2 && at.typeCount() > 1);
  BOOST_REQUIRE(bytes.compare(at.footer(), 6, "\nCET-1") == 0);
  auto corrupt = [&bytes](size_t offset, const std::string& replacement) {
    std::string changed = bytes;
    changed.replace(offset, replacement.size(), replacement);
    return changed;
  };
  auto big_endian = [](uint32_t value) {
    std::string out;
    appendBigEndian32(out, value);
    return out;
  };
  const std::vector<std::pair<std::string, std::string>> corrupted = {
      {"magic", corrupt(0, "TZiF")},
      {"version", corrupt(4, "9")},
      {"second header's version", corrupt(at.v2Header() + 4, bytes[4] == '2' ? "3" : "2")},
      {"second magic", corrupt(at.v2Header(), "XXXX")},
      {"transition count", corrupt(at.v2Header() + 32, big_endian(0xffffffff))},
      {"type count", corrupt(at.v2Header() + 36, big_endian(0))},
      {"indicator count", corrupt(at.v2Header() + 24, big_endian(1))},
      {"times out of order", corrupt(at.times() + 8, bytes.substr(at.times(), 8))},
      {"type index", corrupt(at.indices() + 1, std::string(1, static_cast<char>(at.typeCount())))},
      {"DST flag", corrupt(at.types() + 4, std::string(1, '\2'))},
      {"abbreviation index",
       corrupt(at.types() + 5, std::string(1, static_cast<char>(at.charCount())))},
      {"unterminated abbreviation", corrupt(at.chars() + at.charCount() - 1, "X")},
      {"UT offset", corrupt(at.types(), big_endian(100'000))},
      {"footer start", corrupt(at.footer(), "X")},
      {"footer rule", corrupt(at.footer() + 1, "CET-1CEST,M3.5.0,M10.5.9/3")},
      {"footer end", bytes.substr(0, bytes.size() - 1) + "X"},
  };
  for (const auto& [what, changed] : corrupted) {
    BOOST_TEST_CONTEXT(what) {
      BOOST_TEST(changed.size() == bytes.size());
      auto parsed = TimeZone::fromTzif("corrupt", changed);
      BOOST_REQUIRE(!parsed.ok());
      BOOST_TEST((parsed.error().code() == StatusCode::kInvalidArgument));
      BOOST_TEST(parsed.error().message().find("malformed") != std::string::npos);
    }
  }
}

BOOST_AUTO_TEST_CASE(random_damage_never_crashes_and_what_parses_answers) {
  // Under the sanitizer builds this is a small fuzz run; here it shows nothing throws.
  std::mt19937_64 random(20260329);
  for (const std::string name : {"Europe/Berlin", "Asia/Kolkata", "America/Santiago"}) {
    const std::string bytes = zoneFileBytes(name);
    for (int round = 0; round < 3000; ++round) {
      std::string changed = bytes;
      const int changes = 1 + static_cast<int>(random() % 4);
      for (int i = 0; i < changes; ++i) {
        changed[random() % changed.size()] = static_cast<char>(random());
      }
      auto parsed = TimeZone::fromTzif(name, changed);
      if (!parsed.ok()) continue;
      for (int64_t t :
           {int64_t{-4'000'000'000}, int64_t{0}, utc(2026, 3, 29, 1), utc(2040, 1, 1, 0)}) {
        const int32_t offset = parsed->offsetSecondsAt(t);
        BOOST_TEST((offset >= -89'999 && offset <= 93'599));
        const auto r = parsed->resolve(parsed->toLocal(t));
        BOOST_TEST(r.utc_seconds <= r.later_utc_seconds);
        (void)parsed->startOfLocalDay(2026, 3, 29);
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(version_1_data_is_read_without_a_footer) {
  const std::string bytes = zoneFileBytes("Europe/Berlin");
  const TzifLayout at(bytes);
  std::string v1 = bytes.substr(0, at.v2Header());
  v1[4] = '\0';
  auto parsed = TimeZone::fromTzif("Europe/Berlin (v1)", v1);
  BOOST_REQUIRE_MESSAGE(parsed.ok(), failure(parsed));
  const TimeZone berlin = zone("Europe/Berlin");
  for (int64_t t = utc(1980, 1, 1, 0); t < utc(2037, 1, 1, 0); t += 86'400 * 7 + 3607) {
    BOOST_TEST(parsed->offsetSecondsAt(t) == berlin.offsetSecondsAt(t));
  }
  // Without a footer the last transition's type (October 2037: CET) stays.
  BOOST_TEST(parsed->offsetSecondsAt(utc(2040, 7, 1, 0)) == 3600);
}

BOOST_AUTO_TEST_CASE(footer_tz_strings_are_parsed_and_applied) {
  auto from_footer = [](const std::string& footer) {
    auto parsed = TimeZone::fromTzif(footer, tzifWithFooter(footer));
    BOOST_REQUIRE_MESSAGE(parsed.ok(), footer << ": " << failure(parsed));
    return parsed.value();
  };
  const TimeZone india = from_footer("<+0530>-5:30");
  BOOST_TEST(india.offsetSecondsAt(utc(2030, 6, 1, 0)) == 19'800);
  BOOST_TEST(india.abbreviationAt(0) == "+0530");
  // With no transitions the footer applies at all times.
  const TimeZone sydney_rule = from_footer("AEST-10AEDT,M10.1.0,M4.1.0/3");
  checkTransition(sydney_rule, utc(2026, 4, 4, 16), 39'600, 36'000, "AEDT", "AEST");
  checkTransition(sydney_rule, utc(2026, 10, 3, 16), 36'000, 39'600, "AEST", "AEDT");
  // Version 3's extensions: negative times (Greenland) and times past 24:00 (all year DST).
  const TimeZone nuuk_rule = from_footer("<-02>2<-01>,M3.5.0/-1,M10.5.0/0");
  checkTransition(nuuk_rule, utc(2026, 3, 29, 1), -7200, -3600, "-02", "-01");
  // Daylight time all year (RFC 8536 3.3.1): each year's end, December 31 at 25:00, is the
  // next one's start, also across a leap year's end.
  const TimeZone always_daylight = from_footer("EST5EDT,0/0,J365/25");
  for (int64_t t = utc(1996, 12, 30, 0); t < utc(1997, 1, 3, 0); t += 600) {
    BOOST_TEST(always_daylight.offsetSecondsAt(t) == -14'400);
    BOOST_TEST(
        (always_daylight.resolve(always_daylight.toLocal(t)).kind == LocalTimeKind::kUnique));
  }
  BOOST_TEST(always_daylight.offsetSecondsAt(utc(2026, 7, 1, 0)) == -14'400);
  // Jn never counts February 29; n does (0-based).
  const TimeZone julian = from_footer("XST3XDT,J60/0,300/0");
  BOOST_TEST(text(julian.toLocal(utc(2028, 3, 1, 3))) == "2028-03-01 01:00:00");  // J60 = Mar 1
  BOOST_TEST(julian.offsetSecondsAt(utc(2028, 3, 1, 3) - 1) == -10'800);
  BOOST_TEST(julian.offsetSecondsAt(utc(2028, 10, 27, 1) - 1) == -7200);  // day 300 = Oct 27
  BOOST_TEST(julian.offsetSecondsAt(utc(2028, 10, 27, 2)) == -10'800);
}

BOOST_AUTO_TEST_CASE(bad_footer_tz_strings_are_refused) {
  for (const std::string footer :
       {"CET-1CEST", "CE-1", "<+05>", "CET", "CET-25", "CET-1CEST,M13.5.0,M10.5.0",
        "CET-1CEST,M3.6.0,M10.5.0", "CET-1CEST,M3.5.7,M10.5.0", "CET-1CEST,J0,J365",
        "CET-1CEST,M3.5.0/168,M10.5.0", "CET-1CEST,M3.5.0,M10.5.0/3x", "CET-1CEST,M3.5.0",
        "<+0530-5:30", "CET-1:60", "CET-001", "CET-1CEST,366,0", "CET-1 CEST"}) {
    BOOST_TEST(!TimeZone::fromTzif("bad", tzifWithFooter(footer)).ok(), footer);
  }
}

namespace {

// Compares a TimeZone with glibc's localtime_r under TZ=`tz` (":Europe/Berlin" reads the same
// zone file; a POSIX TZ string is glibc's own reading of it). Single-threaded: TZ is process
// state. Counts what it compared.
class GlibcComparison {
 public:
  explicit GlibcComparison(uint64_t seed) : random_(seed) {}
  ~GlibcComparison() {
    unsetenv("TZ");
    tzset();
  }

  // `samples` random instants from 1970 to 2045, then, between neighbours where glibc's local
  // time regime (offset, DST, abbreviation) differs, the instant of the change found by
  // bisection and the second before it. At each: the offset, DST flag, abbreviation and local
  // time, and that resolve() gives the instant back.
  void compare(const TimeZone& zone, const std::string& tz, int samples) {
    BOOST_REQUIRE(setenv("TZ", tz.c_str(), 1) == 0);
    tzset();
    const int64_t until = utc(2046, 1, 1, 0);
    std::vector<int64_t> instants(static_cast<size_t>(samples));
    for (int64_t& t : instants) t = static_cast<int64_t>(random_() % static_cast<uint64_t>(until));
    std::sort(instants.begin(), instants.end());
    for (int64_t t : instants) compareAt(zone, tz, t);
    for (size_t i = 1; i < instants.size(); ++i) {
      int64_t before = instants[i - 1];
      int64_t after = instants[i];
      const auto regime_before = regime(before);
      if (regime_before == regime(after)) continue;
      while (after - before > 1) {
        const int64_t middle = before + (after - before) / 2;
        (regime(middle) == regime_before ? before : after) = middle;
      }
      compareAt(zone, tz, before);
      compareAt(zone, tz, after);
      ++changes_;
    }
  }

  long compared() const { return compared_; }
  long changes() const { return changes_; }

 private:
  static struct tm glibcLocal(int64_t t) {
    const time_t at = t;
    struct tm local = {};
    BOOST_REQUIRE(localtime_r(&at, &local) != nullptr);
    return local;
  }

  static std::tuple<long, int, std::string> regime(int64_t t) {
    const struct tm local = glibcLocal(t);
    return {local.tm_gmtoff, local.tm_isdst, local.tm_zone};
  }

  void compareAt(const TimeZone& zone, const std::string& tz, int64_t t) {
    const struct tm expected = glibcLocal(t);
    const CivilDateTime got = zone.toLocal(t);
    const bool same = zone.offsetSecondsAt(t) == expected.tm_gmtoff &&
                      zone.isDstAt(t) == (expected.tm_isdst > 0) &&
                      zone.abbreviationAt(t) == expected.tm_zone &&
                      got.year == expected.tm_year + 1900 && got.month == expected.tm_mon + 1 &&
                      got.day == expected.tm_mday && got.hour == expected.tm_hour &&
                      got.minute == expected.tm_min && got.second == expected.tm_sec;
    const auto back = zone.resolve(got);
    const bool resolves = back.utc_seconds == t || back.later_utc_seconds == t;
    if (!same || !resolves) {
      BOOST_ERROR(tz << " at " << t << ": " << text(got) << " offset " << zone.offsetSecondsAt(t)
                     << " " << zone.abbreviationAt(t) << " dst " << zone.isDstAt(t) << ", glibc "
                     << expected.tm_gmtoff << " " << expected.tm_zone << " dst "
                     << expected.tm_isdst << (resolves ? "" : "; resolve() does not give it back"));
    }
    ++compared_;
  }

  std::mt19937_64 random_;
  long compared_ = 0;
  long changes_ = 0;
};

}  // namespace

BOOST_AUTO_TEST_CASE(zones_agree_with_glibc_at_random_instants_and_at_every_change_found) {
  requireTzdata();
  const std::vector<std::string> zones = {
      "Europe/Berlin",    "America/New_York",    "Australia/Sydney",  "Asia/Kolkata",
      "Pacific/Chatham",  "America/Sao_Paulo",   "America/Santiago",  "Asia/Beirut",
      "Europe/Dublin",    "Australia/Lord_Howe", "Africa/Casablanca", "America/St_Johns",
      "Antarctica/Troll", "Pacific/Apia",        "America/Nuuk",      "Asia/Tehran",
  };
  GlibcComparison glibc(1970);
  for (const std::string& name : zones) glibc.compare(zone(name), ":" + name, 3000);
  BOOST_TEST_MESSAGE("compared " << glibc.compared() << " instants in " << zones.size()
                                 << " zones with glibc, " << 2 * glibc.changes()
                                 << " of them on either side of a change");
  BOOST_TEST(glibc.changes() > 100);
}

BOOST_AUTO_TEST_CASE(footer_rules_agree_with_glibc_reading_the_same_tz_string) {
  // Zones made of nothing but a footer, against glibc's reading of the string itself. Not
  // "EST5EDT,0/0,J365/25" (daylight time all year, RFC 8536 3.3.1): glibc 2.36 computes each
  // year's changes alone, so it has standard time in the 5 hours the previous year's end
  // (December 31, 25:00) reaches into the new one (footer_tz_strings_are_parsed_and_applied).
  const std::vector<std::string> footers = {
      "CET-1CEST,M3.5.0,M10.5.0/3",
      "AEST-10AEDT,M10.1.0,M4.1.0/3",
      "<+1030>-10:30<+11>-11,M10.1.0,M4.1.0",
      "IST-1GMT0,M10.5.0,M3.5.0/1",
      "<-04>4<-03>,M9.1.6/24,M4.1.6/24",
      "<-02>2<-01>,M3.5.0/-1,M10.5.0/0",
      "XST3XDT,J60/0,300/0",
      "EST5EDT,M3.2.0/-30,M11.1.0/100:30:15",
      "<+0530>-5:30",
  };
  GlibcComparison glibc(2026);
  for (const std::string& footer : footers) {
    auto parsed = TimeZone::fromTzif(footer, tzifWithFooter(footer));
    BOOST_REQUIRE_MESSAGE(parsed.ok(), footer << ": " << failure(parsed));
    glibc.compare(parsed.value(), footer, 2000);
  }
  BOOST_TEST_MESSAGE("compared " << glibc.compared() << " instants of " << footers.size()
                                 << " footer rules with glibc");
  BOOST_TEST(glibc.changes() > 100);
}

BOOST_AUTO_TEST_CASE(one_zone_is_shared_by_threads_and_copies) {
  const TimeZone berlin = zone("Europe/Berlin");
  std::vector<int32_t> expected;
  for (int64_t t = utc(2020, 1, 1, 0); t < utc(2030, 1, 1, 0); t += 86'400 + 61) {
    expected.push_back(berlin.offsetSecondsAt(t));
  }
  std::atomic<int> mismatches{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&, copy = berlin] {
      size_t k = 0;
      for (int64_t t = utc(2020, 1, 1, 0); t < utc(2030, 1, 1, 0); t += 86'400 + 61, ++k) {
        if (copy.offsetSecondsAt(t) != expected[k] ||
            berlin.resolve(berlin.toLocal(t)).utc_seconds > t) {
          ++mismatches;
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();
  BOOST_TEST(mismatches.load() == 0);
}

BOOST_AUTO_TEST_CASE(civil_dates_are_read_and_written_as_yyyy_mm_dd) {
  BOOST_TEST(vigil::formatCivilDate(vigil::parseCivilDate("2024-02-29").value()) == "2024-02-29");
  BOOST_TEST(vigil::formatCivilDate(CivilDate{2026, 3, 1}) == "2026-03-01");
  BOOST_TEST(vigil::formatCivilDate(*vigil::parseCivilDate("0999-12-31")) == "0999-12-31");
  for (const char* bad :
       {"2026-02-29", "2026-13-01", "2026-00-10", "2026-01-00", "2026-04-31", "+202-01-01",
        " 202-01-01", "2026/01/01", "2026-1-01", "2026-01-011", "", "abcd-ef-gh"}) {
    BOOST_TEST(!vigil::parseCivilDate(bad).has_value(), bad);
  }
}
