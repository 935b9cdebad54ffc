#include "collector/presence/status_tally.h"

namespace vigil::collector::presence {

StatusTally::TenantAtSite& StatusTally::entry(TenantId tenant, SiteId site) {
  if (tenant >= tenants_.size()) tenants_.resize(tenant + size_t{1});
  if (site >= sites_.size()) sites_.resize(site + size_t{1});
  std::vector<TenantAtSite>& here = sites_[site];
  for (TenantAtSite& e : here) {
    if (e.tenant == tenant) return e;
  }
  here.push_back(TenantAtSite{tenant, {}});
  return here.back();
}

void StatusTally::count(TenantId tenant, SiteId site, AgentStatus status, int delta) {
  const auto i = static_cast<size_t>(status);
  TenantAtSite& at_site = entry(tenant, site);
  // Unsigned arithmetic: a delta of -1 wraps to a decrement.
  at_site.counts[i] += static_cast<uint32_t>(delta);
  tenants_[tenant][i] += static_cast<uint32_t>(delta);
}

void StatusTally::add(TenantId tenant, SiteId site, AgentStatus status) {
  count(tenant, site, status, 1);
}

void StatusTally::remove(TenantId tenant, SiteId site, AgentStatus status) {
  count(tenant, site, status, -1);
}

void StatusTally::onStatusChange(TenantId tenant, SiteId site, AgentStatus from, AgentStatus to) {
  count(tenant, site, from, -1);
  count(tenant, site, to, 1);
}

StatusCounts StatusTally::ofTenant(TenantId tenant) const {
  return tenant < tenants_.size() ? tenants_[tenant] : StatusCounts{};
}

StatusCounts StatusTally::ofTenantAtSite(TenantId tenant, SiteId site) const {
  if (site >= sites_.size()) return {};
  for (const TenantAtSite& e : sites_[site]) {
    if (e.tenant == tenant) return e.counts;
  }
  return {};
}

size_t StatusTally::memoryBytes() const {
  size_t bytes = tenants_.capacity() * sizeof(StatusCounts) +
                 sites_.capacity() * sizeof(std::vector<TenantAtSite>);
  for (const auto& here : sites_) bytes += here.capacity() * sizeof(TenantAtSite);
  return bytes;
}

}  // namespace vigil::collector::presence
