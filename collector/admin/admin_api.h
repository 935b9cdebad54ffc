#pragma once

// The admin API's seam between HTTP and the services behind /api/v1 (docs/api.md).
//
// A route is a method, a path template ("/api/v1/tenants/{tenant_id}/sites") and a function
// from AdminRequest to an AdminAnswer or an ApiError. Services see neither Poco::Net nor the
// socket: the HTTP edge (handlers.cc) authenticates the bearer token into an AdminPrincipal,
// reads the body under the protocol's size rules, and writes the answer or the error.
//
// Every parser here takes untrusted input and answers a 4xx ApiError naming the offending
// field or parameter; none throws. Scope rule of every service: an object of a tenant outside
// the principal's scope is answered exactly like an unknown id (404 not_found), so a token
// cannot learn that another tenant's objects exist.

#include <cjson/cJSON.h>

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "collector/core/api_error.h"
#include "collector/store/store.h"
#include "common/json.h"
#include "common/time_format.h"

namespace vigil::collector {

// Who is calling: the admin token that authenticated the request.
struct AdminPrincipal {
  int64_t token_id = 0;
  std::string token_name;
  TenantScope scope;
  AdminRole role = AdminRole::kReadOnly;
  std::optional<int64_t> expires_at_ms;  // the token's; unset: it does not expire
};

struct AdminRequest {
  AdminPrincipal principal;
  std::string method;
  std::string route;  // the matched path template
  std::map<std::string, std::string> path_params;
  std::vector<std::pair<std::string, std::string>> query;
  std::string body;  // the JSON body of POST/PATCH, already size-checked; empty otherwise
  int64_t now_ms = 0;

  // The last value of query parameter `name`, if present.
  std::optional<std::string> queryParam(const std::string& name) const;
  // Path parameter `name` ("" if the route has none by that name).
  const std::string& pathParam(const std::string& name) const;
};

struct AdminAnswer {
  AdminAnswer() = default;
  AdminAnswer(int status, std::string json) : http_status(status), body(std::move(json)) {}
  AdminAnswer(int status, std::string document, std::string type)
      : http_status(status), body(std::move(document)), content_type(std::move(type)) {}

  int http_status = 200;
  std::string body;  // JSON (unless content_type says otherwise); empty for 204
  // A document that is not JSON (a CSV or HTML report): its media type, and the file name a
  // browser saves it under (Content-Disposition). Empty: JSON.
  std::string content_type;
  std::string file_name;
};

using AdminRouteHandler = std::function<ApiResult<AdminAnswer>(const AdminRequest&)>;

// --- Errors (one constructor per kind, so every service words them alike) ------------------

ApiError badRequest(const std::string& code, const std::string& message);
ApiError invalidField(const std::string& field, const std::string& message);
ApiError notFound(const std::string& what);  // "no such tenant"
ApiError forbidden(const std::string& message);
ApiError conflict(const std::string& message);

// --- Parameters ----------------------------------------------------------------------------

// A path id: a positive decimal of at most 18 digits. Anything else cannot name an object:
// 404 not_found "no such <what>".
ApiResult<int64_t> parseIdParam(const AdminRequest& request, const std::string& name,
                                const std::string& what);

// Page size from `limit`: 1..kMaxPageSize (larger is clamped), default kDefaultPageSize.
constexpr size_t kDefaultPageSize = 100;
constexpr size_t kMaxPageSize = 1000;
ApiResult<size_t> parseLimit(const AdminRequest& request);

// Cursors are opaque to clients: base64url of "c1:" + the last key of the previous page.
std::string encodeCursor(const std::string& key);
// The key inside `cursor` query parameter (nullopt: none given), or 400 invalid_cursor.
ApiResult<std::optional<std::string>> cursorKey(const AdminRequest& request);
// The same for numeric keys (ids).
ApiResult<int64_t> cursorId(const AdminRequest& request, int64_t if_absent);

// An RFC 3339 date-time ("2026-11-23T08:00:00Z", "...+01:00", fractions allowed) as Unix
// milliseconds, or 400 invalid_field naming `field`.
ApiResult<int64_t> parseRfc3339(const std::string& text, const std::string& field);
// An optional query parameter holding an RFC 3339 time.
ApiResult<std::optional<int64_t>> timeParam(const AdminRequest& request, const std::string& name);
// An optional query parameter `agent_id` (1..128 bytes; 400 invalid_field otherwise).
ApiResult<std::optional<std::string>> agentIdQueryParam(const AdminRequest& request);
// An optional query parameter holding a positive id (400 invalid_field otherwise).
ApiResult<std::optional<int64_t>> idQueryParam(const AdminRequest& request,
                                               const std::string& name);

using vigil::formatRfc3339Utc;  // common/time_format.h

// --- JSON request bodies -------------------------------------------------------------------

// A parsed JSON object body with typed, validated access. Unknown members are refused
// (checkOnly), so a misspelt field is an error rather than silently ignored.
class JsonBody {
 public:
  // 400 malformed_json unless `body` is exactly one JSON object (an empty body counts as {}).
  static ApiResult<JsonBody> parse(const std::string& body);

  bool has(const char* name) const;
  // Each: absent -> nullopt; present with the wrong type or out of range -> 400 invalid_field.
  // Strings are UTF-8 as cJSON gives them, 1..max_length bytes unless allow_empty, with no
  // control characters.
  ApiResult<std::optional<std::string>> optionalString(const char* name, size_t max_length,
                                                       bool allow_empty = false) const;
  ApiResult<std::string> requiredString(const char* name, size_t max_length) const;
  ApiResult<std::optional<int64_t>> optionalInteger(const char* name, int64_t min,
                                                    int64_t max) const;
  ApiResult<std::optional<bool>> optionalBool(const char* name) const;
  // An RFC 3339 string, or null (-> nullopt, like absent).
  ApiResult<std::optional<int64_t>> optionalTime(const char* name) const;
  // An array of strings each 1..max_length bytes, at most max_items.
  ApiResult<std::optional<std::vector<std::string>>> optionalStringArray(const char* name,
                                                                         size_t max_items,
                                                                         size_t max_length) const;
  // An array of positive integers, at most max_items, returned ascending without duplicates.
  ApiResult<std::optional<std::vector<int64_t>>> optionalIdArray(const char* name,
                                                                 size_t max_items) const;
  // 400 invalid_field naming the first member not in `known`.
  ApiResult<bool> checkOnly(const std::set<std::string>& known) const;
  // The member as parsed (null if absent), for a nested object the service checks itself.
  const cJSON* raw(const char* name) const { return member(name); }

 private:
  explicit JsonBody(json::JsonPtr root) : root_(std::move(root)) {}
  const cJSON* member(const char* name) const;
  json::JsonPtr root_;
};

// --- JSON answers --------------------------------------------------------------------------

namespace out {
void string(cJSON* obj, const char* name, const std::string& value);
void integer(cJSON* obj, const char* name, int64_t value);
void boolean(cJSON* obj, const char* name, bool value);
void optionalString(cJSON* obj, const char* name, const std::optional<std::string>& value);
void optionalInteger(cJSON* obj, const char* name, const std::optional<int64_t>& value);
void time(cJSON* obj, const char* name, int64_t unix_ms);
void optionalTime(cJSON* obj, const char* name, const std::optional<int64_t>& unix_ms);
// "a,b" -> ["a", "b"]; "" -> [].
void commaList(cJSON* obj, const char* name, const std::string& comma_separated);
// {"items": items, "next_cursor": null | "..."}; takes ownership of `items` (an array).
std::string page(cJSON* items, const std::optional<std::string>& next_cursor);
// Serialises `root` (an object) as an AdminAnswer with `http_status`.
AdminAnswer answer(const json::JsonPtr& root, int http_status = 200);
}  // namespace out

// --- Routes --------------------------------------------------------------------------------

// Who may call a route: a principal whose role covers `role`; and, when `or_self` names a path
// parameter, also the admin token that parameter names (a token may revoke itself).
struct RouteAccess {
  RouteAccess(AdminRole needed) : role(needed) {}  // NOLINT(google-explicit-constructor)
  RouteAccess(AdminRole needed, std::string self_param)
      : role(needed), or_self(std::move(self_param)) {}

  AdminRole role;
  std::string or_self;
};

// nullopt if `principal` may call a route of `access` with `path_params`; otherwise the
// 403 forbidden to answer. The one place where roles are enforced (the HTTP edge calls it for
// every admin request, before the route's function).
std::optional<ApiError> checkAccess(const RouteAccess& access, const AdminPrincipal& principal,
                                    const std::map<std::string, std::string>& path_params);

// The table of admin routes. Templates are literal segments and {name} parameters, each
// parameter one whole segment. Every route declares who may call it (docs/openapi.yaml says
// the same as `x-vigil-role`, and a test keeps the two equal).
class AdminRouteTable {
 public:
  void add(const std::string& method, const std::string& path_template, RouteAccess access,
           AdminRouteHandler handler);

  struct Match {
    const AdminRouteHandler* handler = nullptr;
    std::string route;
    std::map<std::string, std::string> path_params;
    RouteAccess access = AdminRole::kAdmin;
  };
  // The route for `method` and `path`; nullopt with `allow` empty if no template matches the
  // path (404), with `allow` listing the path's methods if only the method is wrong (405).
  std::optional<Match> match(const std::string& method, const std::string& path,
                             std::string* allow) const;

  // Every (method, template), in the order added: what docs/openapi.yaml must describe.
  std::vector<std::pair<std::string, std::string>> routes() const;
  // The access of the route `method` `path_template` (as added); nullopt if there is none.
  std::optional<RouteAccess> accessOf(const std::string& method,
                                      const std::string& path_template) const;

 private:
  struct Route {
    std::string method;
    std::string path_template;
    std::vector<std::string> segments;
    RouteAccess access;
    AdminRouteHandler handler;
  };
  std::vector<Route> routes_;
};

}  // namespace vigil::collector
