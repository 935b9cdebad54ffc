// Fuzz target: the admin API's parsers of untrusted input (collector/admin/admin_api.h): request
// bodies (JsonBody::parse and every typed getter), RFC 3339 times, pagination (limit, cursor)
// and id parameters. The first input byte picks the parser; the rest is its input:
//   0: a JSON body, read through every getter on a fixed set of member names;
//   1: an RFC 3339 date-time;
//   2: query parameters, one per line: limit, cursor, then a value for the id and time filters;
//   3: a path id;
//   4 (first byte 4 modulo 8): an availability report's period (report_service.h), lines month,
//      from, to, in UTC, Europe/Berlin or America/New_York by the line count.
// Invariants: no crash; every refusal is a 4xx with the documented code; every accepted value
// keeps its contract (lengths, ranges, UTF-8 without control characters, ascending unique
// ids), and only a body of clean text (json::textFault) is accepted; accepted
// times and cursors survive a round trip through their formatter.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "collector/admin/admin_api.h"
#include "collector/admin/report_service.h"
#include "common/json.h"
#include "common/protocol.h"

namespace {

using namespace vigil;
using namespace vigil::collector;

namespace errors = protocol::errors;

void check(bool condition) {
  if (!condition) std::abort();
}

template <typename T>
void checkRefusal(const ApiResult<T>& result, int status, const char* code) {
  if (result.ok()) return;
  check(result.error().http_status == status);
  check(result.error().code == code);
  check(!result.error().message.empty());
}

bool hasControlCharacter(const std::string& s) {
  for (char c : s) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) return true;
  }
  return false;
}

void checkString(const std::string& value, size_t max_length, bool allow_empty) {
  check(value.size() <= max_length);
  check(allow_empty || !value.empty());
  check(!hasControlCharacter(value));
  check(json::isUtf8(value));
}

const char* const kMembers[] = {"name",     "note",    "tenant_ids", "events", "expires_at",
                                "max_uses", "enabled", "url",        "a",      ""};

void fuzzBody(const std::string& text) {
  auto body = JsonBody::parse(text);
  const bool clean_text = !json::textFault(text).has_value();
  checkRefusal(body, 400, clean_text ? errors::kMalformedJson : errors::kInvalidText);
  if (!body.ok()) return;
  check(clean_text);
  const JsonBody& b = body.value();
  for (const char* name : kMembers) {
    const bool present = b.has(name);

    auto s = b.optionalString(name, 16);
    checkRefusal(s, 400, errors::kInvalidField);
    if (s.ok() && s.value()) checkString(*s.value(), 16, false);
    auto e = b.optionalString(name, 256, true);
    checkRefusal(e, 400, errors::kInvalidField);
    if (e.ok() && e.value()) checkString(*e.value(), 256, true);

    auto r = b.requiredString(name, 256);
    if (!r.ok() && r.error().code == errors::kMissingField) {
      check(r.error().http_status == 400);
    } else {
      checkRefusal(r, 400, errors::kInvalidField);
      check(present);
    }
    if (r.ok()) checkString(r.value(), 256, false);

    for (const auto& [min, max] : std::vector<std::pair<int64_t, int64_t>>{
             {1, 1000},
             {60, 2'678'400},
             {-json::kMaxExactInteger, json::kMaxExactInteger},
             {std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::max()}}) {
      auto i = b.optionalInteger(name, min, max);
      checkRefusal(i, 400, errors::kInvalidField);
      if (i.ok() && i.value()) check(*i.value() >= min && *i.value() <= max);
    }

    auto flag = b.optionalBool(name);
    checkRefusal(flag, 400, errors::kInvalidField);

    auto t = b.optionalTime(name);
    checkRefusal(t, 400, errors::kInvalidField);

    auto strings = b.optionalStringArray(name, 8, 32);
    checkRefusal(strings, 400, errors::kInvalidField);
    if (strings.ok() && strings.value()) {
      check(strings.value()->size() <= 8);
      for (const std::string& item : *strings.value()) checkString(item, 32, false);
    }

    auto ids = b.optionalIdArray(name, 16);
    checkRefusal(ids, 400, errors::kInvalidField);
    if (ids.ok() && ids.value()) {
      const std::vector<int64_t>& v = *ids.value();
      check(v.size() <= 16);
      for (size_t k = 0; k < v.size(); ++k) {
        check(v[k] >= 1);
        if (k > 0) check(v[k - 1] < v[k]);
      }
    }

    // Absent (or null) is never an error for an optional getter.
    if (!present) check(s.ok() && !s.value() && flag.ok() && !flag.value());
  }
  auto only = b.checkOnly({"name", "note", "expires_at"});
  checkRefusal(only, 400, errors::kInvalidField);
}

void fuzzTime(const std::string& text) {
  auto parsed = parseRfc3339(text, "at");
  checkRefusal(parsed, 400, errors::kInvalidField);
  if (!parsed.ok() || parsed.value() < 0) return;
  const std::string formatted = formatRfc3339Utc(parsed.value());
  auto again = parseRfc3339(formatted, "at");
  check(again.ok() && again.value() == parsed.value());
}

AdminRequest requestWithQuery(std::vector<std::pair<std::string, std::string>> query) {
  AdminRequest request;
  request.method = "GET";
  request.route = "/api/v1/alerts";
  request.query = std::move(query);
  return request;
}

void fuzzQuery(const std::string& text) {
  std::vector<std::string> lines;
  size_t start = 0;
  while (start <= text.size() && lines.size() < 3) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    lines.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  lines.resize(3);
  // An earlier value of each parameter is overridden by the later one.
  AdminRequest request = requestWithQuery({{"limit", "0"},
                                           {"cursor", "!"},
                                           {"limit", lines[0]},
                                           {"cursor", lines[1]},
                                           {"tenant_id", lines[2]},
                                           {"opened_from", lines[2]}});
  check(request.queryParam("limit") == lines[0]);

  auto limit = parseLimit(request);
  checkRefusal(limit, 400, errors::kInvalidField);
  if (limit.ok()) check(limit.value() >= 1 && limit.value() <= kMaxPageSize);

  auto key = cursorKey(request);
  checkRefusal(key, 400, errors::kInvalidCursor);
  if (key.ok()) {
    check(key.value().has_value());
    AdminRequest again = requestWithQuery({{"cursor", encodeCursor(*key.value())}});
    auto round_trip = cursorKey(again);
    check(round_trip.ok() && round_trip.value() == key.value());
  }
  auto id = cursorId(request, 0);
  checkRefusal(id, 400, errors::kInvalidCursor);
  if (id.ok()) check(id.value() >= 1 && key.ok());

  auto filter = idQueryParam(request, "tenant_id");
  checkRefusal(filter, 400, errors::kInvalidField);
  if (filter.ok()) check(filter.value() && *filter.value() >= 1);
  auto from = timeParam(request, "opened_from");
  checkRefusal(from, 400, errors::kInvalidField);
  if (from.ok()) check(from.value().has_value());

  // No parameter given: the defaults.
  AdminRequest empty = requestWithQuery({});
  check(parseLimit(empty).ok() && parseLimit(empty).value() == kDefaultPageSize);
  check(cursorKey(empty).ok() && !cursorKey(empty).value());
  check(cursorId(empty, 7).ok() && cursorId(empty, 7).value() == 7);
}

void fuzzId(const std::string& text) {
  AdminRequest request;
  request.method = "GET";
  request.route = "/api/v1/tenants/{tenant_id}";
  request.path_params["tenant_id"] = text;
  auto id = parseIdParam(request, "tenant_id", "tenant");
  checkRefusal(id, 404, errors::kNotFound);
  if (!id.ok()) return;
  check(id.value() >= 1);
  check(!text.empty() && text.size() <= 18);
  for (char c : text) check(c >= '0' && c <= '9');
}

void fuzzPeriod(const std::string& text) {
  std::vector<std::string> lines;
  for (size_t start = 0; start <= text.size() && lines.size() < 4;) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    lines.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  // Zones from the system's tzdata, loaded once; UTC if it is missing.
  static const std::vector<TimeZone> kZones = [] {
    std::vector<TimeZone> zones{TimeZone::utc()};
    for (const char* name : {"Europe/Berlin", "America/New_York"}) {
      auto zone = TimeZone::load(name);
      zones.push_back(zone.ok() ? zone.value() : TimeZone::utc());
    }
    return zones;
  }();
  std::vector<std::pair<std::string, std::string>> query;
  const char* names[] = {"month", "from", "to"};
  for (size_t i = 0; i < lines.size() && i < 3; ++i) {
    if (!lines[i].empty()) query.emplace_back(names[i], lines[i]);
  }
  AdminRequest request = requestWithQuery(query);
  auto period = parseReportPeriod(request, kZones[lines.size() % kZones.size()]);
  checkRefusal(period, 400, errors::kInvalidField);
  if (!period.ok()) return;
  const int64_t length = period.value().span.end_ms - period.value().span.start_ms;
  check(length > 0);
  check(length <= kMaxReportDays * 86'400'000 + 3'600'000);
  check(!period.value().label.empty());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string input(reinterpret_cast<const char*>(data + 1), size - 1);
  if (data[0] % 8 == 4) {
    fuzzPeriod(input);
    return 0;
  }
  switch (data[0] % 4) {
    case 0:
      fuzzBody(input);
      break;
    case 1:
      fuzzTime(input);
      break;
    case 2:
      fuzzQuery(input);
      break;
    default:
      fuzzId(input);
      break;
  }
  return 0;
}
