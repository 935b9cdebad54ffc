#include "collector/admin/tenancy_service.h"

#include <algorithm>
#include <utility>
#include <vector>

#include "collector/core/business_hours.h"
#include "common/json.h"

namespace vigil::collector {
namespace {

bool isSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

// The `q` text filter: at most kMaxNameBytes, no control characters ("" when absent).
ApiResult<std::string> textFilter(const AdminRequest& request) {
  std::optional<std::string> q = request.queryParam("q");
  if (!q) return std::string();
  const bool control = std::any_of(q->begin(), q->end(), [](char c) {
    return static_cast<unsigned char>(c) < 0x20 || c == 0x7f;
  });
  if (q->size() > kMaxNameBytes || control || !json::isUtf8(*q)) {
    return invalidField("q", "must be at most " + std::to_string(kMaxNameBytes) +
                                 " bytes of text without control characters");
  }
  return *q;
}

// The `name` member of a create or rename body, normalised; no other member is accepted.
ApiResult<std::string> nameFromBody(const AdminRequest& request) {
  auto body = JsonBody::parse(request.body);
  if (!body.ok()) return body.error();
  if (auto only = body.value().checkOnly({"name"}); !only.ok()) return only.error();
  auto raw = body.value().requiredString("name", kMaxNameBytes);
  if (!raw.ok()) return raw.error();
  auto name = normalizeName(raw.value());
  if (!name.ok()) return invalidField("name", name.error().message());
  return name.value();
}

void addTenantFields(cJSON* obj, const Tenant& t) {
  out::integer(obj, "id", t.id);
  out::string(obj, "name", t.name);
  out::time(obj, "created_at", t.created_at_ms);
}

void addSiteFields(cJSON* obj, const Site& s) {
  out::integer(obj, "id", s.id);
  out::integer(obj, "tenant_id", s.tenant_id);
  out::string(obj, "name", s.name);
  out::time(obj, "created_at", s.created_at_ms);
}

}  // namespace

Result<std::string> normalizeName(std::string_view raw) {
  while (!raw.empty() && isSpace(raw.front())) raw.remove_prefix(1);
  while (!raw.empty() && isSpace(raw.back())) raw.remove_suffix(1);
  if (raw.empty()) return Status::invalidArgument("must not be empty or blank");
  if (raw.size() > kMaxNameBytes) {
    return Status::invalidArgument("must be at most " + std::to_string(kMaxNameBytes) +
                                   " bytes long");
  }
  for (char c : raw) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      return Status::invalidArgument("must not contain control characters");
    }
  }
  if (!json::isUtf8(raw)) return Status::invalidArgument("must be UTF-8 text");
  return std::string(raw);
}

void TenancyService::registerRoutes(AdminRouteTable& table) {
  table.add("GET", "/api/v1/tenants", AdminRole::kReadOnly,
            [this](const AdminRequest& r) { return listTenants(r); });
  table.add("POST", "/api/v1/tenants", AdminRole::kAdmin,
            [this](const AdminRequest& r) { return createTenant(r); });
  table.add("GET", "/api/v1/tenants/{tenant_id}", AdminRole::kReadOnly,
            [this](const AdminRequest& r) { return getTenant(r); });
  table.add("PATCH", "/api/v1/tenants/{tenant_id}", AdminRole::kAdmin,
            [this](const AdminRequest& r) { return renameTenant(r); });
  table.add("DELETE", "/api/v1/tenants/{tenant_id}", AdminRole::kAdmin,
            [this](const AdminRequest& r) { return deleteTenant(r); });
  table.add("GET", "/api/v1/tenants/{tenant_id}/sites", AdminRole::kReadOnly,
            [this](const AdminRequest& r) { return listTenantSites(r); });
  table.add("POST", "/api/v1/tenants/{tenant_id}/sites", AdminRole::kAdmin,
            [this](const AdminRequest& r) { return createSite(r); });
  table.add("GET", "/api/v1/sites", AdminRole::kReadOnly,
            [this](const AdminRequest& r) { return listSites(r); });
  table.add("GET", "/api/v1/sites/{site_id}", AdminRole::kReadOnly,
            [this](const AdminRequest& r) { return getSite(r); });
  table.add("PATCH", "/api/v1/sites/{site_id}", AdminRole::kAdmin,
            [this](const AdminRequest& r) { return renameSite(r); });
  table.add("DELETE", "/api/v1/sites/{site_id}", AdminRole::kAdmin,
            [this](const AdminRequest& r) { return deleteSite(r); });
  table.add("GET", "/api/v1/tenants/{tenant_id}/business-hours", AdminRole::kReadOnly,
            [this](const AdminRequest& r) { return getBusinessHours(r); });
  table.add("PUT", "/api/v1/tenants/{tenant_id}/business-hours", AdminRole::kAdmin,
            [this](const AdminRequest& r) { return setBusinessHours(r); });
  table.add("DELETE", "/api/v1/tenants/{tenant_id}/business-hours", AdminRole::kAdmin,
            [this](const AdminRequest& r) { return deleteBusinessHours(r); });
}

ApiResult<AdminAnswer> TenancyService::getBusinessHours(const AdminRequest& request) {
  auto tenant = visibleTenant(request);
  if (!tenant.ok()) return tenant.error();
  auto hours = store_.findTenantBusinessHours(tenant.value().id);
  if (!hours.ok()) return storeFailure(hours.error());
  if (!hours.value()) return notFound("tenant");
  if (hours.value()->empty()) return notFound("business hours");
  return AdminAnswer{200, *hours.value()};
}

ApiResult<AdminAnswer> TenancyService::setBusinessHours(const AdminRequest& request) {
  auto tenant = visibleTenant(request);
  if (!tenant.ok()) return tenant.error();
  // JsonBody::parse screens the text (UTF-8, no NUL, one object) before BusinessHours reads
  // it.
  if (auto parsed = JsonBody::parse(request.body); !parsed.ok()) return parsed.error();
  auto hours = BusinessHours::fromJson(request.body);
  if (!hours.ok()) {
    const std::string& message = hours.error().message();
    const size_t colon = message.find(": ");
    return invalidField(message.substr(0, colon),
                        colon == std::string::npos ? "is invalid" : message.substr(colon + 2));
  }
  const std::string canonical = hours.value().toJson();
  auto set = store_.setTenantBusinessHours(tenant.value().id, canonical);
  if (!set.ok()) return storeFailure(set.error());
  if (!set.value()) return notFound("tenant");
  return AdminAnswer{200, canonical};
}

ApiResult<AdminAnswer> TenancyService::deleteBusinessHours(const AdminRequest& request) {
  auto tenant = visibleTenant(request);
  if (!tenant.ok()) return tenant.error();
  auto set = store_.setTenantBusinessHours(tenant.value().id, "");
  if (!set.ok()) return storeFailure(set.error());
  if (!set.value()) return notFound("tenant");
  return AdminAnswer{204, ""};
}

ApiResult<Tenant> TenancyService::visibleTenant(const AdminRequest& request) {
  auto id = parseIdParam(request, "tenant_id", "tenant");
  if (!id.ok()) return id.error();
  if (!request.principal.scope.allows(id.value())) return notFound("tenant");
  auto found = store_.findTenant(id.value());
  if (!found.ok()) return storeFailure(found.error());
  if (!found.value()) return notFound("tenant");
  return std::move(*found.value());
}

ApiResult<Site> TenancyService::visibleSite(const AdminRequest& request) {
  auto id = parseIdParam(request, "site_id", "site");
  if (!id.ok()) return id.error();
  auto found = store_.findSite(id.value());
  if (!found.ok()) return storeFailure(found.error());
  if (!found.value() || !request.principal.scope.allows(found.value()->tenant_id)) {
    return notFound("site");
  }
  return std::move(*found.value());
}

AdminAnswer TenancyService::tenantAnswer(const Tenant& tenant, int http_status) {
  json::JsonPtr obj(cJSON_CreateObject());
  addTenantFields(obj.get(), tenant);
  if (summary_) summary_(cJSON_AddObjectToObject(obj.get(), "summary"), tenant.id, std::nullopt);
  return out::answer(obj, http_status);
}

AdminAnswer TenancyService::siteAnswer(const Site& site, int http_status) {
  json::JsonPtr obj(cJSON_CreateObject());
  addSiteFields(obj.get(), site);
  if (summary_) summary_(cJSON_AddObjectToObject(obj.get(), "summary"), site.tenant_id, site.id);
  return out::answer(obj, http_status);
}

// --- Tenants ----------------------------------------------------------------------------------

ApiResult<AdminAnswer> TenancyService::listTenants(const AdminRequest& request) {
  auto limit = parseLimit(request);
  if (!limit.ok()) return limit.error();
  auto after = cursorId(request, 0);
  if (!after.ok()) return after.error();
  auto q = textFilter(request);
  if (!q.ok()) return q.error();
  auto rows =
      store_.listTenants(request.principal.scope, q.value(), after.value(), limit.value() + 1);
  if (!rows.ok()) return storeFailure(rows.error());
  std::vector<Tenant>& tenants = rows.value();
  const bool more = tenants.size() > limit.value();
  if (more) tenants.resize(limit.value());
  cJSON* items = cJSON_CreateArray();
  for (const Tenant& t : tenants) {
    cJSON* item = cJSON_CreateObject();
    addTenantFields(item, t);
    cJSON_AddItemToArray(items, item);
  }
  std::optional<std::string> next;
  if (more) next = encodeCursor(std::to_string(tenants.back().id));
  return AdminAnswer{200, out::page(items, next)};
}

ApiResult<AdminAnswer> TenancyService::createTenant(const AdminRequest& request) {
  if (!request.principal.scope.all) {
    return forbidden("creating a tenant needs an all-tenant admin token");
  }
  auto name = nameFromBody(request);
  if (!name.ok()) return name.error();
  auto existing = store_.findTenantByName(name.value());
  if (!existing.ok()) return storeFailure(existing.error());
  if (existing.value()) return conflict("a tenant named \"" + name.value() + "\" exists");
  auto created = store_.createTenant(name.value(), request.now_ms);
  if (!created.ok()) {
    if (created.error().code() == StatusCode::kAlreadyExists) {
      return conflict("a tenant named \"" + name.value() + "\" exists");
    }
    return storeFailure(created.error());
  }
  return tenantAnswer(created.value(), 201);
}

ApiResult<AdminAnswer> TenancyService::getTenant(const AdminRequest& request) {
  auto tenant = visibleTenant(request);
  if (!tenant.ok()) return tenant.error();
  return tenantAnswer(tenant.value(), 200);
}

ApiResult<AdminAnswer> TenancyService::renameTenant(const AdminRequest& request) {
  auto tenant = visibleTenant(request);
  if (!tenant.ok()) return tenant.error();
  auto name = nameFromBody(request);
  if (!name.ok()) return name.error();
  auto renamed = store_.renameTenant(tenant.value().id, name.value());
  if (!renamed.ok()) {
    if (renamed.error().code() == StatusCode::kAlreadyExists) {
      return conflict("a tenant named \"" + name.value() + "\" exists");
    }
    return storeFailure(renamed.error());
  }
  if (!renamed.value()) return notFound("tenant");  // deleted meanwhile
  Tenant updated = tenant.value();
  updated.name = name.value();
  return tenantAnswer(updated, 200);
}

ApiResult<AdminAnswer> TenancyService::deleteTenant(const AdminRequest& request) {
  if (!request.principal.scope.all) {
    return forbidden("deleting a tenant needs an all-tenant admin token");
  }
  auto tenant = visibleTenant(request);
  if (!tenant.ok()) return tenant.error();
  auto deleted = store_.deleteTenant(tenant.value().id);
  if (!deleted.ok()) {
    if (deleted.error().code() == StatusCode::kFailedPrecondition) {
      return conflict("the tenant still has sites; delete them first");
    }
    return storeFailure(deleted.error());
  }
  if (!deleted.value()) return notFound("tenant");
  if (deletions_.tenant_deleted) deletions_.tenant_deleted(tenant.value().id);
  return AdminAnswer{204, ""};
}

// --- Sites ------------------------------------------------------------------------------------

ApiResult<AdminAnswer> TenancyService::sitesPage(const AdminRequest& request,
                                                 std::optional<int64_t> tenant_id) {
  auto limit = parseLimit(request);
  if (!limit.ok()) return limit.error();
  auto after = cursorId(request, 0);
  if (!after.ok()) return after.error();
  auto q = textFilter(request);
  if (!q.ok()) return q.error();
  auto rows = store_.listSitesPage(request.principal.scope, tenant_id, q.value(), after.value(),
                                   limit.value() + 1);
  if (!rows.ok()) return storeFailure(rows.error());
  std::vector<Site>& sites = rows.value();
  const bool more = sites.size() > limit.value();
  if (more) sites.resize(limit.value());
  cJSON* items = cJSON_CreateArray();
  for (const Site& s : sites) {
    cJSON* item = cJSON_CreateObject();
    addSiteFields(item, s);
    cJSON_AddItemToArray(items, item);
  }
  std::optional<std::string> next;
  if (more) next = encodeCursor(std::to_string(sites.back().id));
  return AdminAnswer{200, out::page(items, next)};
}

ApiResult<AdminAnswer> TenancyService::listTenantSites(const AdminRequest& request) {
  auto tenant = visibleTenant(request);
  if (!tenant.ok()) return tenant.error();
  return sitesPage(request, tenant.value().id);
}

ApiResult<AdminAnswer> TenancyService::listSites(const AdminRequest& request) {
  auto tenant_id = idQueryParam(request, "tenant_id");
  if (!tenant_id.ok()) return tenant_id.error();
  // Filtering by a tenant outside the scope (or unknown) lists nothing, as every listing
  // does: refusing would confirm that the tenant exists.
  return sitesPage(request, tenant_id.value());
}

ApiResult<AdminAnswer> TenancyService::createSite(const AdminRequest& request) {
  auto tenant = visibleTenant(request);
  if (!tenant.ok()) return tenant.error();
  auto name = nameFromBody(request);
  if (!name.ok()) return name.error();
  const std::string taken = "the tenant has a site named \"" + name.value() + "\"";
  auto existing = store_.findSiteByName(tenant.value().id, name.value());
  if (!existing.ok()) return storeFailure(existing.error());
  if (existing.value()) return conflict(taken);
  auto created = store_.createSite(tenant.value().id, name.value(), request.now_ms);
  if (!created.ok()) {
    if (created.error().code() == StatusCode::kAlreadyExists) return conflict(taken);
    return storeFailure(created.error());
  }
  return siteAnswer(created.value(), 201);
}

ApiResult<AdminAnswer> TenancyService::getSite(const AdminRequest& request) {
  auto site = visibleSite(request);
  if (!site.ok()) return site.error();
  return siteAnswer(site.value(), 200);
}

ApiResult<AdminAnswer> TenancyService::renameSite(const AdminRequest& request) {
  auto site = visibleSite(request);
  if (!site.ok()) return site.error();
  auto name = nameFromBody(request);
  if (!name.ok()) return name.error();
  auto renamed = store_.renameSite(site.value().id, name.value());
  if (!renamed.ok()) {
    if (renamed.error().code() == StatusCode::kAlreadyExists) {
      return conflict("the tenant has a site named \"" + name.value() + "\"");
    }
    return storeFailure(renamed.error());
  }
  if (!renamed.value()) return notFound("site");
  Site updated = site.value();
  updated.name = name.value();
  return siteAnswer(updated, 200);
}

ApiResult<AdminAnswer> TenancyService::deleteSite(const AdminRequest& request) {
  auto site = visibleSite(request);
  if (!site.ok()) return site.error();
  auto deleted = store_.deleteSite(site.value().id);
  if (!deleted.ok()) {
    if (deleted.error().code() == StatusCode::kFailedPrecondition) {
      return conflict("the site still has agents (retired ones included); delete them first");
    }
    return storeFailure(deleted.error());
  }
  if (!deleted.value()) return notFound("site");
  if (deletions_.site_deleted) deletions_.site_deleted(site.value().id);
  return AdminAnswer{204, ""};
}

}  // namespace vigil::collector
