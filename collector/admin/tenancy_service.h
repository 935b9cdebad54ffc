#pragma once

// Tenants and sites of the admin API (docs/api.md, "Tenants and sites"): list, read with a
// summary, create, rename, delete.
//
// Scope: a tenant or site outside the principal's scope is answered 404 like an unknown id;
// creating and deleting tenants needs an all-tenant token (403 otherwise).
//
// Thread safety: safe to call concurrently (the store is).

#include <cjson/cJSON.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "collector/admin/admin_api.h"
#include "collector/store/store.h"
#include "common/status.h"

namespace vigil::collector {

// Longest name of a tenant, site or token, in bytes.
constexpr size_t kMaxNameBytes = 200;

// A name as admins give it (API or CLI): surrounding whitespace trimmed, then 1..kMaxNameBytes
// bytes of UTF-8 without control characters. kInvalidArgument says what is wrong.
Result<std::string> normalizeName(std::string_view raw);

// Fills the `summary` object of a tenant (site_id unset) or a site (both set):
// {"agents": n, "by_status": {"ONLINE": n, ...}, "open_alerts": n}.
using SummaryFiller = std::function<void(cJSON* summary, std::optional<int64_t> tenant_id,
                                         std::optional<int64_t> site_id)>;

// Told after a tenant or a site (with what the store removes with it: its enrollment tokens,
// maintenance windows, webhooks, alerts) is deleted, so that every holder in memory forgets
// it too. Unset members are not called.
struct TenancyDeletions {
  std::function<void(int64_t site_id)> site_deleted;
  std::function<void(int64_t tenant_id)> tenant_deleted;
};

class TenancyService {
 public:
  // `store` must outlive the service. Without `summary`, objects have no summary member.
  TenancyService(TenancyStore& store, SummaryFiller summary, TenancyDeletions deletions = {})
      : store_(store), summary_(std::move(summary)), deletions_(std::move(deletions)) {}

  // GET/POST /api/v1/tenants, GET/PATCH/DELETE /api/v1/tenants/{tenant_id},
  // GET/POST /api/v1/tenants/{tenant_id}/sites, GET /api/v1/sites,
  // GET/PATCH/DELETE /api/v1/sites/{site_id},
  // GET/PUT/DELETE /api/v1/tenants/{tenant_id}/business-hours.
  void registerRoutes(AdminRouteTable& table);

  ApiResult<AdminAnswer> listTenants(const AdminRequest& request);
  ApiResult<AdminAnswer> createTenant(const AdminRequest& request);
  ApiResult<AdminAnswer> getTenant(const AdminRequest& request);
  ApiResult<AdminAnswer> renameTenant(const AdminRequest& request);
  ApiResult<AdminAnswer> deleteTenant(const AdminRequest& request);
  ApiResult<AdminAnswer> listTenantSites(const AdminRequest& request);
  ApiResult<AdminAnswer> createSite(const AdminRequest& request);
  ApiResult<AdminAnswer> listSites(const AdminRequest& request);
  ApiResult<AdminAnswer> getSite(const AdminRequest& request);
  ApiResult<AdminAnswer> renameSite(const AdminRequest& request);
  ApiResult<AdminAnswer> deleteSite(const AdminRequest& request);
  // A tenant's business hours (collector/core/business_hours.h): 404 if it has none; PUT
  // takes the JSON form (400 naming the member that is wrong) and answers the canonical one.
  ApiResult<AdminAnswer> getBusinessHours(const AdminRequest& request);
  ApiResult<AdminAnswer> setBusinessHours(const AdminRequest& request);
  ApiResult<AdminAnswer> deleteBusinessHours(const AdminRequest& request);

 private:
  // The object named by the path parameter if it exists in the principal's scope; 404 else.
  ApiResult<Tenant> visibleTenant(const AdminRequest& request);
  ApiResult<Site> visibleSite(const AdminRequest& request);
  // A page of sites of `tenant_id` (all visible if unset), filtered by `q`.
  ApiResult<AdminAnswer> sitesPage(const AdminRequest& request, std::optional<int64_t> tenant_id);
  AdminAnswer tenantAnswer(const Tenant& tenant, int http_status);
  AdminAnswer siteAnswer(const Site& site, int http_status);

  TenancyStore& store_;
  SummaryFiller summary_;
  TenancyDeletions deletions_;
};

}  // namespace vigil::collector
