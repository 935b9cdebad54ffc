#include "collector/core/business_hours.h"

#include <cjson/cJSON.h>

#include <algorithm>
#include <array>
#include <cstdio>

#include "common/json.h"

namespace vigil::collector {
namespace {

constexpr size_t kMaxIntervals = 28;
constexpr size_t kMaxHolidays = 400;
constexpr int kDaysSearched = 400;
constexpr int kMinutesPerDay = 1440;

// Indexed by weekdayFromDays: 0 Sunday.
constexpr std::array<const char*, 7> kDayNames = {"sun", "mon", "tue", "wed", "thu", "fri", "sat"};

int64_t floorDiv(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

// "HH:MM" -> minutes after midnight; "24:00" only if `end_of_day` allowed. -1 if malformed.
int minutesOf(const std::string& text, bool end_of_day) {
  if (text.size() != 5 || text[2] != ':') return -1;
  for (size_t i : {0, 1, 3, 4}) {
    if (text[i] < '0' || text[i] > '9') return -1;
  }
  const int hour = (text[0] - '0') * 10 + (text[1] - '0');
  const int minute = (text[3] - '0') * 10 + (text[4] - '0');
  if (minute > 59) return -1;
  if (hour == 24 && minute == 0 && end_of_day) return kMinutesPerDay;
  if (hour > 23) return -1;
  return hour * 60 + minute;
}

std::string hhmm(int minutes) {
  char text[8];
  std::snprintf(text, sizeof text, "%02d:%02d", minutes / 60, minutes % 60);
  return text;
}

// "YYYY-MM-DD" -> days from 1970-01-01; nullopt if malformed or not a real date.
std::optional<int64_t> dateOf(const std::string& text) {
  const std::optional<CivilDate> date = parseCivilDate(text);
  if (!date) return std::nullopt;
  return daysFromCivil(date->year, date->month, date->day);
}

Status invalid(const std::string& member, const std::string& message) {
  return Status::invalidArgument(member + ": " + message);
}

}  // namespace

Result<BusinessHours> BusinessHours::fromJson(const std::string& text,
                                              const std::string& zoneinfo_dir) {
  json::JsonPtr root = json::parse(text);
  if (!root || !cJSON_IsObject(root.get())) return invalid("business_hours", "must be an object");
  for (const cJSON* member = root->child; member != nullptr; member = member->next) {
    const std::string name = member->string != nullptr ? member->string : "";
    if (name != "time_zone" && name != "weekly" && name != "holidays") {
      return invalid(name.substr(0, 64), "is not a member of business hours");
    }
  }
  const cJSON* zone_item = cJSON_GetObjectItemCaseSensitive(root.get(), "time_zone");
  if (!cJSON_IsString(zone_item)) return invalid("time_zone", "is required (an IANA name)");
  const std::string zone_name = zone_item->valuestring;
  if (!isWellFormedTimeZoneName(zone_name)) {
    return invalid("time_zone", "is not an IANA time zone name (e.g. Europe/Berlin)");
  }
  auto zone = TimeZone::load(zone_name, zoneinfo_dir);
  if (!zone.ok()) {
    if (zone.error().code() == StatusCode::kNotFound) {
      return Status::notFound("time_zone: no time zone " + zone_name);
    }
    return Status(zone.error().code(), "time_zone: " + zone.error().message());
  }
  BusinessHours hours(std::move(zone.value()));

  const cJSON* weekly = cJSON_GetObjectItemCaseSensitive(root.get(), "weekly");
  if (!cJSON_IsArray(weekly)) return invalid("weekly", "is required (an array of intervals)");
  if (static_cast<size_t>(cJSON_GetArraySize(weekly)) > kMaxIntervals) {
    return invalid("weekly", "has more than " + std::to_string(kMaxIntervals) + " intervals");
  }
  int index = 0;
  for (const cJSON* item = weekly->child; item != nullptr; item = item->next, ++index) {
    const std::string at = "weekly[" + std::to_string(index) + "]";
    if (!cJSON_IsObject(item)) return invalid(at, "must be an object {day, open, close}");
    const cJSON* day = cJSON_GetObjectItemCaseSensitive(item, "day");
    const cJSON* open = cJSON_GetObjectItemCaseSensitive(item, "open");
    const cJSON* close = cJSON_GetObjectItemCaseSensitive(item, "close");
    if (cJSON_GetArraySize(item) != 3 || !cJSON_IsString(day) || !cJSON_IsString(open) ||
        !cJSON_IsString(close)) {
      return invalid(at, "must be exactly {day, open, close}, all strings");
    }
    Interval interval;
    const auto named = std::find_if(kDayNames.begin(), kDayNames.end(), [&](const char* n) {
      return std::string(n) == day->valuestring;
    });
    if (named == kDayNames.end()) return invalid(at + ".day", "must be one of mon..sun");
    interval.weekday = static_cast<int>(named - kDayNames.begin());
    interval.open_minute = minutesOf(open->valuestring, false);
    interval.close_minute = minutesOf(close->valuestring, true);
    if (interval.open_minute < 0) return invalid(at + ".open", "must be HH:MM, 00:00 to 23:59");
    if (interval.close_minute < 0) return invalid(at + ".close", "must be HH:MM, up to 24:00");
    if (interval.close_minute <= interval.open_minute) {
      return invalid(at + ".close", "must be after open (an interval ends on its own day)");
    }
    hours.intervals_.push_back(interval);
  }
  std::sort(hours.intervals_.begin(), hours.intervals_.end(),
            [](const Interval& a, const Interval& b) {
              return a.weekday != b.weekday ? a.weekday < b.weekday : a.open_minute < b.open_minute;
            });
  for (size_t i = 1; i < hours.intervals_.size(); ++i) {
    const Interval& before = hours.intervals_[i - 1];
    const Interval& after = hours.intervals_[i];
    if (before.weekday == after.weekday && after.open_minute < before.close_minute) {
      return invalid("weekly",
                     std::string("intervals of ") + kDayNames[after.weekday] + " overlap");
    }
  }

  const cJSON* holidays = cJSON_GetObjectItemCaseSensitive(root.get(), "holidays");
  if (holidays != nullptr) {
    if (!cJSON_IsArray(holidays)) return invalid("holidays", "must be an array of dates");
    if (static_cast<size_t>(cJSON_GetArraySize(holidays)) > kMaxHolidays) {
      return invalid("holidays", "has more than " + std::to_string(kMaxHolidays) + " dates");
    }
    index = 0;
    for (const cJSON* item = holidays->child; item != nullptr; item = item->next, ++index) {
      const std::optional<int64_t> date =
          cJSON_IsString(item) ? dateOf(item->valuestring) : std::nullopt;
      if (!date) {
        return invalid("holidays[" + std::to_string(index) + "]", "must be a date YYYY-MM-DD");
      }
      hours.holidays_.push_back(*date);
    }
    std::sort(hours.holidays_.begin(), hours.holidays_.end());
    hours.holidays_.erase(std::unique(hours.holidays_.begin(), hours.holidays_.end()),
                          hours.holidays_.end());
  }
  return hours;
}

bool BusinessHours::isHoliday(int64_t local_days) const {
  return std::binary_search(holidays_.begin(), holidays_.end(), local_days);
}

bool BusinessHours::isOpenAt(int64_t unix_ms) const {
  const CivilDateTime local = zone_.toLocal(floorDiv(unix_ms, 1000));
  const int64_t days = daysFromCivil(local.year, local.month, local.day);
  if (isHoliday(days)) return false;
  const int weekday = weekdayFromDays(days);
  const int minute = local.hour * 60 + local.minute;
  for (const Interval& i : intervals_) {
    if (i.weekday == weekday && i.open_minute <= minute && minute < i.close_minute) return true;
  }
  return false;
}

std::optional<int64_t> BusinessHours::nextOpening(int64_t unix_ms) const {
  if (isOpenAt(unix_ms)) return unix_ms;
  const CivilDateTime now = zone_.toLocal(floorDiv(unix_ms, 1000));
  const int64_t today = daysFromCivil(now.year, now.month, now.day);
  for (int64_t days = today; days <= today + kDaysSearched; ++days) {
    if (isHoliday(days)) continue;
    const int weekday = weekdayFromDays(days);
    const CivilDate date = civilFromDays(days);
    for (const Interval& i : intervals_) {
      if (i.weekday != weekday) continue;
      CivilDateTime opening{date.year,          date.month,         date.day,
                            i.open_minute / 60, i.open_minute % 60, 0};
      const int64_t at_ms = zone_.resolve(opening).utc_seconds * 1000;
      if (at_ms >= unix_ms) return at_ms;
    }
  }
  return std::nullopt;
}

std::string BusinessHours::toJson() const {
  json::JsonPtr root(cJSON_CreateObject());
  cJSON_AddStringToObject(root.get(), "time_zone", zone_.name().c_str());
  cJSON* weekly = cJSON_AddArrayToObject(root.get(), "weekly");
  // Monday first, as people read a week.
  for (int offset = 1; offset <= 7; ++offset) {
    const int weekday = offset % 7;
    for (const Interval& i : intervals_) {
      if (i.weekday != weekday) continue;
      cJSON* item = cJSON_CreateObject();
      cJSON_AddStringToObject(item, "day", kDayNames[weekday]);
      cJSON_AddStringToObject(item, "open", hhmm(i.open_minute).c_str());
      cJSON_AddStringToObject(item, "close", hhmm(i.close_minute).c_str());
      cJSON_AddItemToArray(weekly, item);
    }
  }
  cJSON* holidays = cJSON_AddArrayToObject(root.get(), "holidays");
  for (int64_t days : holidays_) {
    cJSON_AddItemToArray(holidays,
                         cJSON_CreateString(formatCivilDate(civilFromDays(days)).c_str()));
  }
  return json::print(root.get());
}

}  // namespace vigil::collector
