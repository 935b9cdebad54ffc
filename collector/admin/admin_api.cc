#include "collector/admin/admin_api.h"

#include <Poco/Base64Decoder.h>
#include <Poco/Base64Encoder.h>
#include <Poco/DateTime.h>
#include <Poco/DateTimeFormat.h>
#include <Poco/DateTimeParser.h>
#include <Poco/Exception.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <sstream>

#include "common/protocol.h"
#include "common/text.h"

namespace vigil::collector {
namespace {

namespace errors = protocol::errors;

constexpr char kCursorPrefix[] = "c1:";
constexpr size_t kMaxCursorBytes = 512;

// Splits "/a/{b}/c" into {"a", "{b}", "c"}; an empty path gives {}.
std::vector<std::string> splitPath(const std::string& path) {
  std::vector<std::string> segments;
  size_t start = 0;
  while (start < path.size()) {
    if (path[start] == '/') {
      ++start;
      continue;
    }
    size_t end = path.find('/', start);
    if (end == std::string::npos) end = path.size();
    segments.push_back(path.substr(start, end - start));
    start = end;
  }
  return segments;
}

bool isParameter(const std::string& segment) {
  return segment.size() > 2 && segment.front() == '{' && segment.back() == '}';
}

bool hasControlCharacter(const std::string& s) {
  return std::any_of(s.begin(), s.end(),
                     [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; });
}

}  // namespace

std::optional<std::string> AdminRequest::queryParam(const std::string& name) const {
  std::optional<std::string> value;
  for (const auto& [key, v] : query) {
    if (key == name) value = v;
  }
  return value;
}

const std::string& AdminRequest::pathParam(const std::string& name) const {
  static const std::string kEmpty;
  auto it = path_params.find(name);
  return it == path_params.end() ? kEmpty : it->second;
}

ApiError badRequest(const std::string& code, const std::string& message) {
  return ApiError{400, code, message, std::nullopt};
}

ApiError invalidField(const std::string& field, const std::string& message) {
  return ApiError{400, errors::kInvalidField, field + ": " + message, std::nullopt};
}

ApiError notFound(const std::string& what) {
  return ApiError{404, errors::kNotFound, "no such " + what, std::nullopt};
}

ApiError forbidden(const std::string& message) {
  return ApiError{403, errors::kForbidden, message, std::nullopt};
}

ApiError conflict(const std::string& message) {
  return ApiError{409, errors::kConflict, message, std::nullopt};
}

ApiResult<int64_t> parseIdParam(const AdminRequest& request, const std::string& name,
                                const std::string& what) {
  std::optional<int64_t> id = parsePositiveId(request.pathParam(name));
  if (!id) return notFound(what);
  return *id;
}

ApiResult<size_t> parseLimit(const AdminRequest& request) {
  std::optional<std::string> text = request.queryParam("limit");
  if (!text) return kDefaultPageSize;
  std::optional<int64_t> value = parsePositiveId(*text);
  if (!value) return invalidField("limit", "must be an integer from 1 to 1000");
  return std::min(static_cast<size_t>(*value), kMaxPageSize);
}

std::string encodeCursor(const std::string& key) {
  std::ostringstream encoded;
  Poco::Base64Encoder encoder(encoded, Poco::BASE64_URL_ENCODING | Poco::BASE64_NO_PADDING);
  encoder.rdbuf()->setLineLength(0);
  encoder << kCursorPrefix << key;
  encoder.close();
  return encoded.str();
}

ApiResult<std::optional<std::string>> cursorKey(const AdminRequest& request) {
  std::optional<std::string> cursor = request.queryParam("cursor");
  if (!cursor) return std::optional<std::string>();
  const ApiError bad = badRequest(errors::kInvalidCursor,
                                  "cursor: not a cursor of this listing; use next_cursor as given");
  if (cursor->empty() || cursor->size() > kMaxCursorBytes) return bad;
  for (char c : *cursor) {
    const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '_';
    if (!ok) return bad;
  }
  std::string decoded;
  try {
    std::istringstream in(*cursor);
    Poco::Base64Decoder decoder(in, Poco::BASE64_URL_ENCODING | Poco::BASE64_NO_PADDING);
    decoded.assign(std::istreambuf_iterator<char>(decoder), std::istreambuf_iterator<char>());
  } catch (const Poco::Exception&) {
    return bad;
  }
  const std::string prefix(kCursorPrefix);
  if (decoded.compare(0, prefix.size(), prefix) != 0 || decoded.size() == prefix.size() ||
      hasControlCharacter(decoded)) {
    return bad;
  }
  return std::optional<std::string>(decoded.substr(prefix.size()));
}

ApiResult<int64_t> cursorId(const AdminRequest& request, int64_t if_absent) {
  auto key = cursorKey(request);
  if (!key.ok()) return key.error();
  if (!key.value()) return if_absent;
  std::optional<int64_t> id = parsePositiveId(*key.value());
  if (!id) {
    return badRequest(errors::kInvalidCursor,
                      "cursor: not a cursor of this listing; use next_cursor as given");
  }
  return *id;
}

ApiResult<int64_t> parseRfc3339(const std::string& text, const std::string& field) {
  const ApiError bad =
      invalidField(field, "must be an RFC 3339 date-time, e.g. 2026-11-23T08:00:00Z");
  // Poco's ISO 8601 parser is lenient about what follows; insist on the RFC 3339 shape:
  // YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM|-HH:MM).
  if (text.size() < 20 || text.size() > 40) return bad;
  static const char kShape[] = "dddd-dd-ddTdd:dd:dd";
  for (size_t i = 0; i < sizeof(kShape) - 1; ++i) {
    const char want = kShape[i];
    const char c = text[i];
    if (want == 'd' ? (c < '0' || c > '9') : (c != want && !(want == 'T' && c == 't'))) {
      return bad;
    }
  }
  size_t i = sizeof(kShape) - 1;
  if (text[i] == '.') {
    size_t digits = 0;
    for (++i; i < text.size() && text[i] >= '0' && text[i] <= '9'; ++i) ++digits;
    if (digits == 0 || digits > 9) return bad;
  }
  const std::string zone = text.substr(i);
  const bool utc = zone == "Z" || zone == "z";
  const bool offset = zone.size() == 6 && (zone[0] == '+' || zone[0] == '-') &&
                      std::isdigit(static_cast<unsigned char>(zone[1])) &&
                      std::isdigit(static_cast<unsigned char>(zone[2])) && zone[3] == ':' &&
                      std::isdigit(static_cast<unsigned char>(zone[4])) &&
                      std::isdigit(static_cast<unsigned char>(zone[5]));
  if (!utc && !offset) return bad;
  int tz = 0;
  Poco::DateTime parsed;
  try {
    std::string normalised = text;
    normalised[10] = 'T';
    if (utc) normalised.back() = 'Z';
    if (!Poco::DateTimeParser::tryParse(Poco::DateTimeFormat::ISO8601_FRAC_FORMAT, normalised,
                                        parsed, tz)) {
      return bad;
    }
  } catch (const Poco::Exception&) {
    return bad;
  }
  // Poco accepts out-of-range fields by normalising them; reject them instead.
  auto number = [&](size_t pos, size_t len) { return std::stoi(text.substr(pos, len)); };
  const int month = number(5, 2), day = number(8, 2), hour = number(11, 2), minute = number(14, 2),
            second = number(17, 2);
  if (month < 1 || month > 12 || day < 1 ||
      day > Poco::DateTime::daysOfMonth(number(0, 4), month) || hour > 23 || minute > 59 ||
      second > 59 || number(0, 4) < 1970) {
    return bad;
  }
  parsed.makeUTC(tz);
  return parsed.timestamp().epochMicroseconds() / 1000;
}

ApiResult<std::optional<int64_t>> timeParam(const AdminRequest& request, const std::string& name) {
  std::optional<std::string> text = request.queryParam(name);
  if (!text) return std::optional<int64_t>();
  auto parsed = parseRfc3339(*text, name);
  if (!parsed.ok()) return parsed.error();
  return std::optional<int64_t>(parsed.value());
}

ApiResult<std::optional<std::string>> agentIdQueryParam(const AdminRequest& request) {
  std::optional<std::string> agent = request.queryParam("agent_id");
  if (agent && (agent->empty() || agent->size() > 128)) {
    return invalidField("agent_id", "is not an id");
  }
  return agent;
}

ApiResult<std::optional<int64_t>> idQueryParam(const AdminRequest& request,
                                               const std::string& name) {
  std::optional<std::string> text = request.queryParam(name);
  if (!text) return std::optional<int64_t>();
  std::optional<int64_t> id = parsePositiveId(*text);
  if (!id) return invalidField(name, "must be a positive integer id");
  return std::optional<int64_t>(*id);
}

// --- JsonBody ------------------------------------------------------------------------------

ApiResult<JsonBody> JsonBody::parse(const std::string& body) {
  if (body.empty()) return JsonBody(json::JsonPtr(cJSON_CreateObject()));
  if (std::optional<std::string> fault = json::textFault(body)) {
    return badRequest(errors::kInvalidText, "the body " + *fault);
  }
  json::JsonPtr root = json::parse(body);
  if (!root || !cJSON_IsObject(root.get())) {
    return badRequest(errors::kMalformedJson, "the body must be one JSON object");
  }
  return JsonBody(std::move(root));
}

const cJSON* JsonBody::member(const char* name) const {
  return cJSON_GetObjectItemCaseSensitive(root_.get(), name);
}

bool JsonBody::has(const char* name) const { return member(name) != nullptr; }

ApiResult<std::optional<std::string>> JsonBody::optionalString(const char* name, size_t max_length,
                                                               bool allow_empty) const {
  const cJSON* item = member(name);
  if (item == nullptr || cJSON_IsNull(item)) return std::optional<std::string>();
  if (!cJSON_IsString(item) || item->valuestring == nullptr) {
    return invalidField(name, "must be a string");
  }
  std::string value(item->valuestring);
  if (value.size() != std::char_traits<char>::length(item->valuestring) ||
      hasControlCharacter(value)) {
    return invalidField(name, "must not contain control characters");
  }
  if ((!allow_empty && value.empty()) || value.size() > max_length) {
    return invalidField(name, "must be " + std::string(allow_empty ? "0" : "1") + " to " +
                                  std::to_string(max_length) + " bytes long");
  }
  return std::optional<std::string>(std::move(value));
}

ApiResult<std::string> JsonBody::requiredString(const char* name, size_t max_length) const {
  if (member(name) == nullptr || cJSON_IsNull(member(name))) {
    return ApiError{400, errors::kMissingField, std::string(name) + ": is required", std::nullopt};
  }
  auto value = optionalString(name, max_length);
  if (!value.ok()) return value.error();
  return *value.value();
}

ApiResult<std::optional<int64_t>> JsonBody::optionalInteger(const char* name, int64_t min,
                                                            int64_t max) const {
  const cJSON* item = member(name);
  if (item == nullptr || cJSON_IsNull(item)) return std::optional<int64_t>();
  const std::string range =
      "must be an integer from " + std::to_string(min) + " to " + std::to_string(max);
  if (!cJSON_IsNumber(item)) return invalidField(name, range);
  const double v = item->valuedouble;
  // 2^63 and above do not fit an int64 (INT64_MAX as a double rounds up to 2^63).
  constexpr double kTwoTo63 = 9223372036854775808.0;
  if (!std::isfinite(v) || v != std::floor(v) || v < static_cast<double>(min) ||
      v > static_cast<double>(max) || v >= kTwoTo63) {
    return invalidField(name, range);
  }
  return std::optional<int64_t>(static_cast<int64_t>(v));
}

ApiResult<std::optional<bool>> JsonBody::optionalBool(const char* name) const {
  const cJSON* item = member(name);
  if (item == nullptr || cJSON_IsNull(item)) return std::optional<bool>();
  if (!cJSON_IsBool(item)) return invalidField(name, "must be true or false");
  return std::optional<bool>(cJSON_IsTrue(item) != 0);
}

ApiResult<std::optional<int64_t>> JsonBody::optionalTime(const char* name) const {
  auto text = optionalString(name, 64);
  if (!text.ok()) return text.error();
  if (!text.value()) return std::optional<int64_t>();
  auto parsed = parseRfc3339(*text.value(), name);
  if (!parsed.ok()) return parsed.error();
  return std::optional<int64_t>(parsed.value());
}

ApiResult<std::optional<std::vector<std::string>>> JsonBody::optionalStringArray(
    const char* name, size_t max_items, size_t max_length) const {
  const cJSON* item = member(name);
  if (item == nullptr || cJSON_IsNull(item)) return std::optional<std::vector<std::string>>();
  if (!cJSON_IsArray(item)) return invalidField(name, "must be an array of strings");
  std::vector<std::string> values;
  for (const cJSON* e = item->child; e != nullptr; e = e->next) {
    if (values.size() == max_items) {
      return invalidField(name, "has more than " + std::to_string(max_items) + " items");
    }
    if (!cJSON_IsString(e) || e->valuestring == nullptr) {
      return invalidField(name, "must be an array of strings");
    }
    std::string value(e->valuestring);
    if (value.empty() || value.size() > max_length || hasControlCharacter(value)) {
      return invalidField(name, "items must be 1 to " + std::to_string(max_length) +
                                    " bytes without control characters");
    }
    values.push_back(std::move(value));
  }
  return std::optional<std::vector<std::string>>(std::move(values));
}

ApiResult<std::optional<std::vector<int64_t>>> JsonBody::optionalIdArray(const char* name,
                                                                         size_t max_items) const {
  const cJSON* item = member(name);
  if (item == nullptr || cJSON_IsNull(item)) return std::optional<std::vector<int64_t>>();
  if (!cJSON_IsArray(item)) return invalidField(name, "must be an array of ids");
  std::vector<int64_t> ids;
  for (const cJSON* e = item->child; e != nullptr; e = e->next) {
    if (ids.size() == max_items) {
      return invalidField(name, "has more than " + std::to_string(max_items) + " items");
    }
    const bool whole = cJSON_IsNumber(e) && std::isfinite(e->valuedouble) &&
                       e->valuedouble == std::floor(e->valuedouble) && e->valuedouble >= 1 &&
                       e->valuedouble <= 1e15;
    if (!whole) return invalidField(name, "items must be positive integer ids");
    ids.push_back(static_cast<int64_t>(e->valuedouble));
  }
  std::sort(ids.begin(), ids.end());
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  return std::optional<std::vector<int64_t>>(std::move(ids));
}

ApiResult<bool> JsonBody::checkOnly(const std::set<std::string>& known) const {
  for (const cJSON* item = root_->child; item != nullptr; item = item->next) {
    const std::string name = item->string == nullptr ? "" : item->string;
    if (known.count(name) == 0) {
      return invalidField(name.empty() ? "(unnamed)" : name.substr(0, 64),
                          "is not a field of this request");
    }
  }
  return true;
}

// --- JSON answers --------------------------------------------------------------------------

namespace out {

void string(cJSON* obj, const char* name, const std::string& value) {
  json::addText(obj, name, value);
}
void integer(cJSON* obj, const char* name, int64_t value) { json::addInteger(obj, name, value); }
void boolean(cJSON* obj, const char* name, bool value) { cJSON_AddBoolToObject(obj, name, value); }
void optionalString(cJSON* obj, const char* name, const std::optional<std::string>& value) {
  if (value) {
    string(obj, name, *value);
  } else {
    cJSON_AddNullToObject(obj, name);
  }
}
void optionalInteger(cJSON* obj, const char* name, const std::optional<int64_t>& value) {
  if (value) {
    integer(obj, name, *value);
  } else {
    cJSON_AddNullToObject(obj, name);
  }
}
void time(cJSON* obj, const char* name, int64_t unix_ms) {
  string(obj, name, formatRfc3339Utc(unix_ms));
}
void optionalTime(cJSON* obj, const char* name, const std::optional<int64_t>& unix_ms) {
  if (unix_ms) {
    time(obj, name, *unix_ms);
  } else {
    cJSON_AddNullToObject(obj, name);
  }
}

void commaList(cJSON* obj, const char* name, const std::string& comma_separated) {
  cJSON* arr = cJSON_AddArrayToObject(obj, name);
  size_t start = 0;
  while (start < comma_separated.size()) {
    size_t end = comma_separated.find(',', start);
    if (end == std::string::npos) end = comma_separated.size();
    if (end > start) {
      const std::string item = comma_separated.substr(start, end - start);
      cJSON_AddItemToArray(arr, cJSON_CreateString(item.c_str()));
    }
    start = end + 1;
  }
}

std::string page(cJSON* items, const std::optional<std::string>& next_cursor) {
  json::JsonPtr root(cJSON_CreateObject());
  cJSON_AddItemToObject(root.get(), "items", items);
  optionalString(root.get(), "next_cursor", next_cursor);
  return json::print(root.get());
}

AdminAnswer answer(const json::JsonPtr& root, int http_status) {
  return AdminAnswer{http_status, json::print(root.get())};
}

}  // namespace out

// --- Routes --------------------------------------------------------------------------------

std::optional<ApiError> checkAccess(const RouteAccess& access, const AdminPrincipal& principal,
                                    const std::map<std::string, std::string>& path_params) {
  if (roleCovers(principal.role, access.role)) return std::nullopt;
  if (!access.or_self.empty()) {
    auto named = path_params.find(access.or_self);
    if (named != path_params.end() && principal.token_id > 0 &&
        parsePositiveId(named->second) == principal.token_id) {
      return std::nullopt;
    }
  }
  return forbidden(std::string("this operation needs an admin token of role ") +
                   adminRoleName(access.role) +
                   (access.or_self.empty() ? "" : " (or the token itself)") +
                   "; this token's role is " + adminRoleName(principal.role));
}

void AdminRouteTable::add(const std::string& method, const std::string& path_template,
                          RouteAccess access, AdminRouteHandler handler) {
  routes_.push_back(Route{method, path_template, splitPath(path_template), std::move(access),
                          std::move(handler)});
}

std::optional<RouteAccess> AdminRouteTable::accessOf(const std::string& method,
                                                     const std::string& path_template) const {
  for (const Route& r : routes_) {
    if (r.method == method && r.path_template == path_template) return r.access;
  }
  return std::nullopt;
}

std::optional<AdminRouteTable::Match> AdminRouteTable::match(const std::string& method,
                                                             const std::string& path,
                                                             std::string* allow) const {
  if (allow != nullptr) allow->clear();
  const std::vector<std::string> segments = splitPath(path);
  for (const Route& route : routes_) {
    if (route.segments.size() != segments.size()) continue;
    std::map<std::string, std::string> params;
    bool matched = true;
    for (size_t i = 0; i < segments.size() && matched; ++i) {
      const std::string& want = route.segments[i];
      if (isParameter(want)) {
        params[want.substr(1, want.size() - 2)] = segments[i];
      } else {
        matched = want == segments[i];
      }
    }
    if (!matched) continue;
    if (route.method == method) {
      return Match{&route.handler, route.path_template, params, route.access};
    }
    if (allow != nullptr && allow->find(route.method) == std::string::npos) {
      if (!allow->empty()) *allow += ", ";
      *allow += route.method;
    }
  }
  return std::nullopt;
}

std::vector<std::pair<std::string, std::string>> AdminRouteTable::routes() const {
  std::vector<std::pair<std::string, std::string>> out;
  out.reserve(routes_.size());
  for (const Route& r : routes_) out.emplace_back(r.method, r.path_template);
  return out;
}

}  // namespace vigil::collector
