#include "collector/admin/token_service.h"

#include <algorithm>
#include <optional>
#include <utility>
#include <vector>

#include "collector/admin/tenancy_service.h"
#include "common/crypto.h"

namespace vigil::collector {
namespace {

constexpr size_t kTokenRandomBytes = 32;
constexpr int64_t kMaxEnrollmentUses = 1000000;
constexpr size_t kMaxTokenTenants = 1000;

void addEnrollmentTokenFields(cJSON* obj, const EnrollmentToken& t, int64_t tenant_id,
                              int64_t now_ms) {
  out::integer(obj, "id", t.id);
  out::integer(obj, "site_id", t.site_id);
  out::integer(obj, "tenant_id", tenant_id);
  out::string(obj, "name", t.name);
  out::time(obj, "created_at", t.created_at_ms);
  out::optionalTime(obj, "expires_at", t.expires_at_ms);
  out::optionalInteger(obj, "max_uses", t.max_uses);
  out::integer(obj, "uses", t.uses);
  out::boolean(obj, "revoked", t.revoked);
  out::optionalTime(obj, "revoked_at", t.revoked_at_ms);
  out::boolean(obj, "usable", t.usableAt(now_ms));
}

void addAdminTokenFields(cJSON* obj, const AdminToken& t) {
  out::integer(obj, "id", t.id);
  out::string(obj, "name", t.name);
  out::boolean(obj, "all_tenants", t.all_tenants);
  cJSON* ids = cJSON_AddArrayToObject(obj, "tenant_ids");
  for (int64_t id : t.tenant_ids) {
    cJSON_AddItemToArray(ids, cJSON_CreateNumber(static_cast<double>(id)));
  }
  out::time(obj, "created_at", t.created_at_ms);
  out::optionalTime(obj, "expires_at", t.expires_at_ms);
  out::boolean(obj, "revoked", t.revoked);
  out::optionalTime(obj, "revoked_at", t.revoked_at_ms);
  out::string(obj, "role", adminRoleName(t.role));
  out::optionalInteger(obj, "parent_id", t.created_by);
}

// An optional expiry that, when given, lies after `now_ms`.
ApiResult<std::optional<int64_t>> futureExpiry(const JsonBody& body, int64_t now_ms) {
  auto expires = body.optionalTime("expires_at");
  if (!expires.ok()) return expires.error();
  if (expires.value() && *expires.value() <= now_ms) {
    return invalidField("expires_at", "must be in the future");
  }
  return expires.value();
}

// The role of a token `creator` creates: `role` as asked, at most the creator's (403 above
// it); the creator's own if not asked.
ApiResult<AdminRole> childRole(const JsonBody& body, const AdminPrincipal& creator) {
  auto name = body.optionalString("role", 32);
  if (!name.ok()) return name.error();
  if (!name.value()) return creator.role;
  std::optional<AdminRole> role = parseAdminRole(*name.value());
  if (!role) return invalidField("role", "must be one of read-only, operator, admin");
  if (!roleCovers(creator.role, *role)) {
    return forbidden(std::string("role: a token cannot create a token of a higher role than its "
                                 "own (") +
                     adminRoleName(creator.role) + ")");
  }
  return *role;
}

// The expiry of a token `creator` creates: `asked` if the creator does not expire; the
// creator's expiry if none is asked; 400 if `asked` is after it (a child never outlives its
// parent).
ApiResult<std::optional<int64_t>> childExpiry(std::optional<int64_t> asked,
                                              const AdminPrincipal& creator) {
  if (!creator.expires_at_ms) return asked;
  if (!asked) return creator.expires_at_ms;
  if (*asked > *creator.expires_at_ms) {
    return invalidField("expires_at", "must not be after the creating token's expiry, " +
                                          formatRfc3339Utc(*creator.expires_at_ms));
  }
  return asked;
}

// A page of `rows` (ascending by id) after the request's cursor.
template <typename T, typename AddFields>
ApiResult<AdminAnswer> pageOf(const AdminRequest& request, const std::vector<T>& rows,
                              AddFields add_fields) {
  auto limit = parseLimit(request);
  if (!limit.ok()) return limit.error();
  auto after = cursorId(request, 0);
  if (!after.ok()) return after.error();
  cJSON* items = cJSON_CreateArray();
  size_t taken = 0;
  int64_t last_id = 0;
  std::optional<std::string> next;
  for (const T& row : rows) {
    if (row.id <= after.value()) continue;
    if (taken == limit.value()) {
      next = encodeCursor(std::to_string(last_id));
      break;
    }
    cJSON* item = cJSON_CreateObject();
    add_fields(item, row);
    cJSON_AddItemToArray(items, item);
    last_id = row.id;
    ++taken;
  }
  return AdminAnswer{200, out::page(items, next)};
}

}  // namespace

Result<IssuedToken> issueToken(std::string_view prefix) {
  auto random = crypto::randomHex(kTokenRandomBytes);
  if (!random.ok()) return random.error();
  IssuedToken issued;
  issued.token = std::string(prefix) + random.value();
  auto digest = crypto::sha256(issued.token);
  if (!digest.ok()) return digest.error();
  issued.hash = crypto::toHex(digest.value());
  return issued;
}

bool adminTokenVisibleTo(const AdminPrincipal& principal, const AdminToken& token) {
  if (principal.scope.all || token.id == principal.token_id) return true;
  if (token.all_tenants || token.tenant_ids.empty()) return false;
  return std::all_of(token.tenant_ids.begin(), token.tenant_ids.end(),
                     [&](int64_t id) { return principal.scope.allows(id); });
}

void TokenService::registerRoutes(AdminRouteTable& table) {
  table.add("GET", "/api/v1/sites/{site_id}/enrollment-tokens", AdminRole::kReadOnly,
            [this](const AdminRequest& r) { return listEnrollmentTokens(r); });
  table.add("POST", "/api/v1/sites/{site_id}/enrollment-tokens", AdminRole::kAdmin,
            [this](const AdminRequest& r) { return createEnrollmentToken(r); });
  table.add("GET", "/api/v1/enrollment-tokens/{token_id}", AdminRole::kReadOnly,
            [this](const AdminRequest& r) { return getEnrollmentToken(r); });
  table.add("DELETE", "/api/v1/enrollment-tokens/{token_id}", AdminRole::kAdmin,
            [this](const AdminRequest& r) { return revokeEnrollmentToken(r); });
  table.add("GET", "/api/v1/admin-tokens", AdminRole::kReadOnly,
            [this](const AdminRequest& r) { return listAdminTokens(r); });
  table.add("POST", "/api/v1/admin-tokens", AdminRole::kAdmin,
            [this](const AdminRequest& r) { return createAdminToken(r); });
  table.add("GET", "/api/v1/admin-tokens/{token_id}", AdminRole::kReadOnly,
            [this](const AdminRequest& r) { return getAdminToken(r); });
  table.add("DELETE", "/api/v1/admin-tokens/{token_id}", RouteAccess(AdminRole::kAdmin, "token_id"),
            [this](const AdminRequest& r) { return revokeAdminToken(r); });
}

// --- Enrollment tokens ------------------------------------------------------------------------

ApiResult<Site> TokenService::visibleSite(const AdminRequest& request) {
  auto id = parseIdParam(request, "site_id", "site");
  if (!id.ok()) return id.error();
  auto found = tenancy_.findSite(id.value());
  if (!found.ok()) return storeFailure(found.error());
  if (!found.value() || !request.principal.scope.allows(found.value()->tenant_id)) {
    return notFound("site");
  }
  return std::move(*found.value());
}

ApiResult<EnrollmentToken> TokenService::visibleEnrollmentToken(const AdminRequest& request,
                                                                int64_t* tenant_id) {
  auto id = parseIdParam(request, "token_id", "enrollment token");
  if (!id.ok()) return id.error();
  auto token = store_.findEnrollmentToken(id.value());
  if (!token.ok()) return storeFailure(token.error());
  if (!token.value()) return notFound("enrollment token");
  auto site = tenancy_.findSite(token.value()->site_id);
  if (!site.ok()) return storeFailure(site.error());
  if (!site.value() || !request.principal.scope.allows(site.value()->tenant_id)) {
    return notFound("enrollment token");
  }
  *tenant_id = site.value()->tenant_id;
  return std::move(*token.value());
}

ApiResult<AdminAnswer> TokenService::listEnrollmentTokens(const AdminRequest& request) {
  auto site = visibleSite(request);
  if (!site.ok()) return site.error();
  auto tokens = store_.listEnrollmentTokens(site.value().id);
  if (!tokens.ok()) return storeFailure(tokens.error());
  const int64_t tenant_id = site.value().tenant_id;
  return pageOf(request, tokens.value(), [&](cJSON* item, const EnrollmentToken& t) {
    addEnrollmentTokenFields(item, t, tenant_id, request.now_ms);
  });
}

ApiResult<AdminAnswer> TokenService::createEnrollmentToken(const AdminRequest& request) {
  auto site = visibleSite(request);
  if (!site.ok()) return site.error();
  auto parsed = JsonBody::parse(request.body);
  if (!parsed.ok()) return parsed.error();
  const JsonBody& body = parsed.value();
  if (auto only = body.checkOnly({"name", "expires_at", "max_uses"}); !only.ok()) {
    return only.error();
  }
  auto raw_name = body.optionalString("name", kMaxNameBytes, /*allow_empty=*/true);
  if (!raw_name.ok()) return raw_name.error();
  std::string name;
  if (raw_name.value() && !raw_name.value()->empty()) {
    auto normalized = normalizeName(*raw_name.value());
    if (!normalized.ok()) return invalidField("name", normalized.error().message());
    name = normalized.value();
  }
  auto expires = futureExpiry(body, request.now_ms);
  if (!expires.ok()) return expires.error();
  auto max_uses = body.optionalInteger("max_uses", 1, kMaxEnrollmentUses);
  if (!max_uses.ok()) return max_uses.error();

  auto issued = issueToken(kEnrollmentTokenPrefix);
  if (!issued.ok()) return storeFailure(issued.error());
  EnrollmentToken token;
  token.site_id = site.value().id;
  token.token_hash = issued.value().hash;
  token.created_at_ms = request.now_ms;
  token.expires_at_ms = expires.value();
  token.max_uses = max_uses.value();
  token.name = name;
  auto stored = store_.createEnrollmentToken(token);
  if (!stored.ok()) return storeFailure(stored.error());
  json::JsonPtr obj(cJSON_CreateObject());
  addEnrollmentTokenFields(obj.get(), stored.value(), site.value().tenant_id, request.now_ms);
  out::string(obj.get(), "token", issued.value().token);
  return out::answer(obj, 201);
}

ApiResult<AdminAnswer> TokenService::getEnrollmentToken(const AdminRequest& request) {
  int64_t tenant_id = 0;
  auto token = visibleEnrollmentToken(request, &tenant_id);
  if (!token.ok()) return token.error();
  json::JsonPtr obj(cJSON_CreateObject());
  addEnrollmentTokenFields(obj.get(), token.value(), tenant_id, request.now_ms);
  return out::answer(obj);
}

ApiResult<AdminAnswer> TokenService::revokeEnrollmentToken(const AdminRequest& request) {
  int64_t tenant_id = 0;
  auto token = visibleEnrollmentToken(request, &tenant_id);
  if (!token.ok()) return token.error();
  auto revoked = store_.revokeEnrollmentToken(token.value().id, request.now_ms);
  if (!revoked.ok()) return storeFailure(revoked.error());
  if (!revoked.value()) return notFound("enrollment token");
  auto now = store_.findEnrollmentToken(token.value().id);
  if (!now.ok()) return storeFailure(now.error());
  if (!now.value()) return notFound("enrollment token");
  json::JsonPtr obj(cJSON_CreateObject());
  addEnrollmentTokenFields(obj.get(), *now.value(), tenant_id, request.now_ms);
  return out::answer(obj);
}

// --- Admin tokens -----------------------------------------------------------------------------

ApiResult<AdminToken> TokenService::visibleAdminToken(const AdminRequest& request) {
  auto id = parseIdParam(request, "token_id", "admin token");
  if (!id.ok()) return id.error();
  auto found = store_.findAdminToken(id.value());
  if (!found.ok()) return storeFailure(found.error());
  if (!found.value() || !adminTokenVisibleTo(request.principal, *found.value())) {
    return notFound("admin token");
  }
  return std::move(*found.value());
}

ApiResult<AdminAnswer> TokenService::listAdminTokens(const AdminRequest& request) {
  auto tokens = store_.listAdminTokens();
  if (!tokens.ok()) return storeFailure(tokens.error());
  std::vector<AdminToken> visible;
  for (AdminToken& t : tokens.value()) {
    if (adminTokenVisibleTo(request.principal, t)) visible.push_back(std::move(t));
  }
  return pageOf(request, visible,
                [](cJSON* item, const AdminToken& t) { addAdminTokenFields(item, t); });
}

ApiResult<AdminAnswer> TokenService::createAdminToken(const AdminRequest& request) {
  auto parsed = JsonBody::parse(request.body);
  if (!parsed.ok()) return parsed.error();
  const JsonBody& body = parsed.value();
  if (auto only = body.checkOnly({"name", "tenant_ids", "expires_at", "role"}); !only.ok()) {
    return only.error();
  }
  auto raw_name = body.requiredString("name", kMaxNameBytes);
  if (!raw_name.ok()) return raw_name.error();
  auto name = normalizeName(raw_name.value());
  if (!name.ok()) return invalidField("name", name.error().message());
  auto tenant_ids = body.optionalIdArray("tenant_ids", kMaxTokenTenants);
  if (!tenant_ids.ok()) return tenant_ids.error();
  if (tenant_ids.value() && tenant_ids.value()->empty()) {
    return invalidField("tenant_ids", "must name at least one tenant (omit it for all tenants)");
  }
  auto expires = futureExpiry(body, request.now_ms);
  if (!expires.ok()) return expires.error();
  auto role = childRole(body, request.principal);
  if (!role.ok()) return role.error();
  auto child_expiry = childExpiry(expires.value(), request.principal);
  if (!child_expiry.ok()) return child_expiry.error();

  const TenantScope& scope = request.principal.scope;
  if (!scope.all) {
    if (!tenant_ids.value()) {
      return forbidden("a token limited to some tenants cannot create an all-tenant token");
    }
    for (int64_t id : *tenant_ids.value()) {
      if (!scope.allows(id)) {
        return forbidden("tenant_ids: a token can only grant tenants of its own scope");
      }
    }
  }

  auto issued = issueToken(kAdminTokenPrefix);
  if (!issued.ok()) return storeFailure(issued.error());
  NewAdminToken token;
  token.token_hash = issued.value().hash;
  token.name = name.value();
  token.all_tenants = !tenant_ids.value();
  if (tenant_ids.value()) token.tenant_ids = *tenant_ids.value();
  token.expires_at_ms = child_expiry.value();
  token.role = role.value();
  if (request.principal.token_id > 0) token.created_by = request.principal.token_id;
  auto stored = store_.createAdminToken(token, request.now_ms);
  if (!stored.ok()) {
    if (stored.error().code() == StatusCode::kInvalidArgument) {
      return invalidField("tenant_ids", stored.error().message());
    }
    if (stored.error().code() == StatusCode::kFailedPrecondition) {
      // The creating token was revoked or expired since it authenticated this request.
      return forbidden(stored.error().message());
    }
    return storeFailure(stored.error());
  }
  json::JsonPtr obj(cJSON_CreateObject());
  addAdminTokenFields(obj.get(), stored.value());
  out::string(obj.get(), "token", issued.value().token);
  return out::answer(obj, 201);
}

ApiResult<AdminAnswer> TokenService::getAdminToken(const AdminRequest& request) {
  auto token = visibleAdminToken(request);
  if (!token.ok()) return token.error();
  json::JsonPtr obj(cJSON_CreateObject());
  addAdminTokenFields(obj.get(), token.value());
  return out::answer(obj);
}

ApiResult<AdminAnswer> TokenService::revokeAdminToken(const AdminRequest& request) {
  auto token = visibleAdminToken(request);
  if (!token.ok()) return token.error();
  auto revoked = store_.revokeAdminToken(token.value().id, request.now_ms);
  if (!revoked.ok()) return storeFailure(revoked.error());
  if (!revoked.value()) return notFound("admin token");
  auto now = store_.findAdminToken(token.value().id);
  if (!now.ok()) return storeFailure(now.error());
  if (!now.value()) return notFound("admin token");
  json::JsonPtr obj(cJSON_CreateObject());
  addAdminTokenFields(obj.get(), *now.value());
  return out::answer(obj);
}

}  // namespace vigil::collector
