#pragma once

// Agents by status per tenant and per site of a tenant, kept up to date as agents come, go and
// change status, so that a count for an admin summary costs O(1) whatever the fleet's size.
// The fleet's and each site's own counts are SiteTracker's.

#include <cstddef>
#include <vector>

#include "collector/presence/presence_types.h"

namespace vigil::collector::presence {

class StatusTally {
 public:
  void add(TenantId tenant, SiteId site, AgentStatus status);
  void remove(TenantId tenant, SiteId site, AgentStatus status);
  void onStatusChange(TenantId tenant, SiteId site, AgentStatus from, AgentStatus to);

  // Agents of `tenant`; of `tenant` at `site`. Zero for ids never seen.
  StatusCounts ofTenant(TenantId tenant) const;
  StatusCounts ofTenantAtSite(TenantId tenant, SiteId site) const;

  size_t memoryBytes() const;

 private:
  struct TenantAtSite {
    TenantId tenant = 0;
    StatusCounts counts{};
  };

  // Grows the tables to hold the ids; returns the entry of `tenant` at `site`.
  TenantAtSite& entry(TenantId tenant, SiteId site);
  void count(TenantId tenant, SiteId site, AgentStatus status, int delta);

  std::vector<StatusCounts> tenants_;  // by tenant id
  // By site id: one entry per tenant with agents there (one, as sites belong to a tenant).
  std::vector<std::vector<TenantAtSite>> sites_;
};

}  // namespace vigil::collector::presence
