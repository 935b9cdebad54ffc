#define BOOST_TEST_MODULE collector_business_hours
// A tenant's business hours (collector/core/business_hours.h): open or closed at an instant,
// the next opening, holidays, and the DST changes of two zones (Europe/Berlin springs forward
// over an opening; America/New_York falls back over one), against the system's tzdata.
#include "collector/core/business_hours.h"

#include <boost/test/unit_test.hpp>
#include <cstdio>
#include <string>
#include <vector>

#include "common/time_format.h"

using vigil::collector::BusinessHours;

namespace {

// Unix ms of "YYYY-MM-DDTHH:MM:SSZ".
int64_t at(const std::string& rfc3339) {
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, s = 0;
  BOOST_REQUIRE_MESSAGE(
      std::sscanf(rfc3339.c_str(), "%d-%d-%dT%d:%d:%dZ", &y, &mo, &d, &h, &mi, &s) == 6, rfc3339);
  return ((vigil::daysFromCivil(y, mo, d) * 24 + h) * 60 + mi) * 60'000 + s * 1000;
}

std::string utc(int64_t unix_ms) { return vigil::formatRfc3339Utc(unix_ms); }

BusinessHours hours(const std::string& json) {
  auto parsed = BusinessHours::fromJson(json);
  BOOST_REQUIRE_MESSAGE(parsed.ok(), (parsed.ok() ? "" : parsed.error().toString()));
  return parsed.value();
}

const char kBerlinOffice[] = R"({"time_zone": "Europe/Berlin", "weekly": [)"
                             R"({"day": "mon", "open": "08:00", "close": "18:00"},)"
                             R"({"day": "tue", "open": "08:00", "close": "18:00"},)"
                             R"({"day": "wed", "open": "08:00", "close": "18:00"},)"
                             R"({"day": "thu", "open": "08:00", "close": "18:00"},)"
                             R"({"day": "fri", "open": "08:00", "close": "12:00"},)"
                             R"({"day": "fri", "open": "13:00", "close": "17:00"}],)"
                             R"( "holidays": ["2026-12-25", "2026-12-24"]})";

}  // namespace

BOOST_AUTO_TEST_CASE(an_office_week_in_berlin_opens_and_closes_in_local_time) {
  const BusinessHours office = hours(kBerlinOffice);
  // Monday 2026-12-07, CET (UTC+1).
  BOOST_TEST(!office.isOpenAt(at("2026-12-07T06:59:59Z")));  // 07:59:59 local
  BOOST_TEST(office.isOpenAt(at("2026-12-07T07:00:00Z")));   // 08:00
  BOOST_TEST(office.isOpenAt(at("2026-12-07T16:59:59Z")));   // 17:59:59
  BOOST_TEST(!office.isOpenAt(at("2026-12-07T17:00:00Z")));  // 18:00: closed
  BOOST_TEST(utc(*office.nextOpening(at("2026-12-07T17:00:00Z"))) == "2026-12-08T07:00:00.000Z");
  // Open now: the instant itself.
  BOOST_TEST(*office.nextOpening(at("2026-12-08T10:00:00Z")) == at("2026-12-08T10:00:00Z"));
  // Friday's lunch break, then Friday evening to Monday morning.
  BOOST_TEST(!office.isOpenAt(at("2026-12-11T11:30:00Z")));  // 12:30 local
  BOOST_TEST(utc(*office.nextOpening(at("2026-12-11T11:30:00Z"))) == "2026-12-11T12:00:00.000Z");
  BOOST_TEST(utc(*office.nextOpening(at("2026-12-11T16:00:00Z"))) == "2026-12-14T07:00:00.000Z");
}

BOOST_AUTO_TEST_CASE(holidays_close_their_whole_local_day) {
  const BusinessHours office = hours(kBerlinOffice);
  // Thursday 24th and Friday 25th are holidays: from Wednesday evening to Monday the 28th.
  BOOST_TEST(!office.isOpenAt(at("2026-12-24T09:00:00Z")));
  BOOST_TEST(utc(*office.nextOpening(at("2026-12-23T17:30:00Z"))) == "2026-12-28T07:00:00.000Z");
  // 23:30 UTC on the 23rd is already the 24th in Berlin.
  BOOST_TEST(utc(*office.nextOpening(at("2026-12-23T23:30:00Z"))) == "2026-12-28T07:00:00.000Z");
}

BOOST_AUTO_TEST_CASE(an_opening_skipped_by_spring_forward_opens_after_the_gap) {
  // Europe/Berlin, Sunday 2027-03-28: 02:00 CET becomes 03:00 CEST. An opening at 02:30 does
  // not happen that night; it opens at 03:30 CEST (01:30 UTC), the length of the gap later.
  const BusinessHours night = hours(
      R"({"time_zone": "Europe/Berlin", "weekly": [{"day": "sun", "open": "02:30", "close": "05:00"}]})");
  BOOST_TEST(utc(*night.nextOpening(at("2027-03-27T22:00:00Z"))) == "2027-03-28T01:30:00.000Z");
  BOOST_TEST(night.isOpenAt(at("2027-03-28T01:45:00Z")));   // 03:45 CEST
  BOOST_TEST(!night.isOpenAt(at("2027-03-28T03:00:00Z")));  // 05:00 CEST: closed
  // A week earlier, without a gap: 02:30 CET is 01:30 UTC as well.
  BOOST_TEST(utc(*night.nextOpening(at("2027-03-20T22:00:00Z"))) == "2027-03-21T01:30:00.000Z");
  // A week later, in CEST: 00:30 UTC.
  BOOST_TEST(utc(*night.nextOpening(at("2027-03-30T00:00:00Z"))) == "2027-04-04T00:30:00.000Z");
}

BOOST_AUTO_TEST_CASE(an_opening_repeated_by_fall_back_opens_at_its_first_occurrence) {
  // America/New_York, Sunday 2026-11-01: 02:00 EDT becomes 01:00 EST; 01:30 happens twice.
  const BusinessHours early = hours(
      R"({"time_zone": "America/New_York", "weekly": [{"day": "sun", "open": "01:30", "close": "03:00"}]})");
  BOOST_TEST(utc(*early.nextOpening(at("2026-11-01T04:00:00Z"))) == "2026-11-01T05:30:00.000Z");
  // Between the two 01:30s (01:45 EDT = 05:45Z, then 01:15 EST = 06:15Z) it stays open.
  BOOST_TEST(early.isOpenAt(at("2026-11-01T05:45:00Z")));
  BOOST_TEST(!early.isOpenAt(at("2026-11-01T06:15:00Z")));  // 01:15 EST: before the opening
  BOOST_TEST(early.isOpenAt(at("2026-11-01T06:45:00Z")));   // 01:45 EST
  BOOST_TEST(!early.isOpenAt(at("2026-11-01T08:00:00Z")));  // 03:00 EST
}

BOOST_AUTO_TEST_CASE(a_day_may_close_at_midnight_and_hours_with_no_opening_never_open) {
  const BusinessHours late = hours(
      R"({"time_zone": "UTC", "weekly": [{"day": "sat", "open": "20:00", "close": "24:00"}]})");
  BOOST_TEST(late.isOpenAt(at("2026-12-12T23:59:59Z")));
  BOOST_TEST(!late.isOpenAt(at("2026-12-13T00:00:00Z")));
  const BusinessHours never = hours(R"({"time_zone": "UTC", "weekly": []})");
  BOOST_TEST(!never.nextOpening(at("2026-12-12T00:00:00Z")).has_value());
}

BOOST_AUTO_TEST_CASE(the_canonical_form_sorts_days_from_monday) {
  const BusinessHours office = hours(kBerlinOffice);
  BOOST_TEST(office.toJson() == R"({"time_zone":"Europe/Berlin","weekly":[)"
                                R"({"day":"mon","open":"08:00","close":"18:00"},)"
                                R"({"day":"tue","open":"08:00","close":"18:00"},)"
                                R"({"day":"wed","open":"08:00","close":"18:00"},)"
                                R"({"day":"thu","open":"08:00","close":"18:00"},)"
                                R"({"day":"fri","open":"08:00","close":"12:00"},)"
                                R"({"day":"fri","open":"13:00","close":"17:00"}],)"
                                R"("holidays":["2026-12-24","2026-12-25"]})");
  // Round trip.
  BOOST_TEST(hours(office.toJson()).toJson() == office.toJson());
}

BOOST_AUTO_TEST_CASE(bad_hours_are_refused_naming_the_member) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {R"([])", "business_hours: must be an object"},
      {R"({"weekly": []})", "time_zone: is required (an IANA name)"},
      {R"({"time_zone": "../../etc/passwd", "weekly": []})",
       "time_zone: is not an IANA time zone name (e.g. Europe/Berlin)"},
      {R"({"time_zone": "UTC"})", "weekly: is required (an array of intervals)"},
      {R"({"time_zone": "UTC", "weekly": [{"day": "monday", "open": "08:00", "close": "09:00"}]})",
       "weekly[0].day: must be one of mon..sun"},
      {R"({"time_zone": "UTC", "weekly": [{"day": "mon", "open": "8:00", "close": "09:00"}]})",
       "weekly[0].open: must be HH:MM, 00:00 to 23:59"},
      {R"({"time_zone": "UTC", "weekly": [{"day": "mon", "open": "09:00", "close": "08:00"}]})",
       "weekly[0].close: must be after open (an interval ends on its own day)"},
      {R"({"time_zone": "UTC", "weekly": [{"day": "mon", "open": "08:00", "close": "12:00"},)"
       R"({"day": "mon", "open": "11:00", "close": "13:00"}]})",
       "weekly: intervals of mon overlap"},
      {R"({"time_zone": "UTC", "weekly": [], "holidays": ["2026-02-30"]})",
       "holidays[0]: must be a date YYYY-MM-DD"},
      {R"({"time_zone": "UTC", "weekly": [], "timezone": "UTC"})",
       "timezone: is not a member of business hours"},
  };
  for (const auto& [text, message] : cases) {
    auto parsed = BusinessHours::fromJson(text);
    BOOST_REQUIRE_MESSAGE(!parsed.ok(), text);
    BOOST_TEST(parsed.error().message() == message, text);
  }
  auto unknown = BusinessHours::fromJson(R"({"time_zone": "Mars/Olympus_Mons", "weekly": []})");
  BOOST_REQUIRE(!unknown.ok());
  BOOST_TEST((unknown.error().code() == vigil::StatusCode::kNotFound));
}
