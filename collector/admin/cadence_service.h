#pragma once

// Heartbeat cadence of the admin API (docs/api.md, "Heartbeat cadence"): the intervals a
// tenant's or a site's agents are told to keep, for every class or per agent class, and each
// agent's class.
//
// Every change is stored first, then the CadenceBook is reloaded from the store at once (the
// ingest path reads only the book), and a log line says who changed what. Scope: a tenant,
// site or agent outside the principal's scope is answered 404 like an unknown id.
//
// Thread safety: safe to call concurrently.

#include <functional>
#include <optional>
#include <string>

#include "collector/admin/admin_api.h"
#include "collector/core/cadence.h"
#include "collector/monitor/presence_monitor.h"
#include "collector/store/store.h"
#include "common/mutex.h"

namespace vigil::collector {

class CadenceService {
 public:
  using LogLine = std::function<void(const std::string&)>;

  // `store`, `tenancy`, `agents`, `book` and `presence` must outlive the service. A class
  // change goes to `presence` (the presence monitor, or in a cluster the router that tells
  // every collector). `agent_answer`
  // writes the answer of a changed agent (GET /api/v1/agents/{agent_id} of the same request); `log`
  // takes one line per change.
  CadenceService(CadenceStore& store, TenancyStore& tenancy, AgentStore& agents, CadenceBook& book,
                 EvidenceSink& presence, AdminRouteHandler agent_answer, LogLine log);

  // Fills the book from the store: every rule and every server's class. Call once at start.
  Status load();
  // Re-reads every rule into the book: after anything else changed the stored rules (a
  // deleted site or tenant takes its rules with it).
  Status reload();

  // GET/PUT/DELETE /api/v1/tenants/{tenant_id}/cadence and /api/v1/sites/{site_id}/cadence,
  // PATCH /api/v1/agents/{agent_id}.
  void registerRoutes(AdminRouteTable& table);

  ApiResult<AdminAnswer> getTenantCadence(const AdminRequest& request);
  ApiResult<AdminAnswer> putTenantCadence(const AdminRequest& request);
  ApiResult<AdminAnswer> deleteTenantCadence(const AdminRequest& request);
  ApiResult<AdminAnswer> getSiteCadence(const AdminRequest& request);
  ApiResult<AdminAnswer> putSiteCadence(const AdminRequest& request);
  ApiResult<AdminAnswer> deleteSiteCadence(const AdminRequest& request);
  // {"class": "server" | "workstation"}: stored, then told to the book and the engine.
  ApiResult<AdminAnswer> patchAgent(const AdminRequest& request);

 private:
  // The scope a request names: a tenant, or a site with its tenant.
  struct Scope {
    int64_t tenant_id = 0;
    std::optional<int64_t> site_id;
  };
  ApiResult<Scope> visibleTenant(const AdminRequest& request);
  ApiResult<Scope> visibleSite(const AdminRequest& request);

  ApiResult<AdminAnswer> answer(const Scope& scope);
  ApiResult<AdminAnswer> put(const AdminRequest& request, const Scope& scope);
  ApiResult<AdminAnswer> remove(const AdminRequest& request, const Scope& scope);

  CadenceStore& store_;
  TenancyStore& tenancy_;
  AgentStore& agents_;
  CadenceBook& book_;
  EvidenceSink& presence_;
  const AdminRouteHandler agent_answer_;
  const LogLine log_;
  Mutex reload_mu_;  // one reload at a time, so the book gets the latest set last
};

}  // namespace vigil::collector
