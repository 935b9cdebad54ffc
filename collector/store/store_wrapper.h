#pragma once

// A Store that forwards every call to another one, as leveldb's EnvWrapper does for Env:
// tests derive from it to observe or break a few calls and leave the rest to a real store.
// Keep it in step with store.h (every pure virtual forwarded).

#include "collector/store/store.h"

namespace vigil::collector {

class StoreWrapper : public Store {
 public:
  explicit StoreWrapper(Store& target) : target_(target) {}
  Store& target() { return target_; }

  Status ping() override { return target_.ping(); }
  Result<Tenant> createTenant(const std::string& name, int64_t now_ms) override {
    return target_.createTenant(name, now_ms);
  }
  Result<std::optional<Tenant>> findTenantByName(const std::string& name) override {
    return target_.findTenantByName(name);
  }
  Result<Site> createSite(int64_t tenant_id, const std::string& name, int64_t now_ms) override {
    return target_.createSite(tenant_id, name, now_ms);
  }
  Result<std::optional<Site>> findSiteByName(int64_t tenant_id, const std::string& name) override {
    return target_.findSiteByName(tenant_id, name);
  }
  Result<std::vector<Site>> listSites() override { return target_.listSites(); }
  Result<EnrollmentToken> createEnrollmentToken(const EnrollmentToken& token) override {
    return target_.createEnrollmentToken(token);
  }
  Result<std::optional<EnrollmentToken>> findEnrollmentTokenByHash(
      const std::string& token_hash) override {
    return target_.findEnrollmentTokenByHash(token_hash);
  }
  Result<std::vector<EnrollmentToken>> listEnrollmentTokens(int64_t site_id) override {
    return target_.listEnrollmentTokens(site_id);
  }
  Result<AgentRecord> enrollAgent(int64_t token_id, const AgentRecord& agent,
                                  int64_t now_ms) override {
    return target_.enrollAgent(token_id, agent, now_ms);
  }
  Result<AgentCounts> countAgents(int64_t site_id) override { return target_.countAgents(site_id); }
  Result<std::optional<AgentRecord>> findAgent(const std::string& agent_id) override {
    return target_.findAgent(agent_id);
  }
  Result<std::vector<AgentRecord>> listAgents(const std::string& after_id, size_t limit) override {
    return target_.listAgents(after_id, limit);
  }
  Status updateLastSeen(const std::vector<LastSeenUpdate>& updates) override {
    return target_.updateLastSeen(updates);
  }
  Result<std::vector<OutageReport>> listOutageReports(const std::string& agent_id,
                                                      size_t limit) override {
    return target_.listOutageReports(agent_id, limit);
  }
  Status appendPresenceEvents(const std::vector<StatusChangeRecord>& changes,
                              const std::vector<AlertChange>& alerts,
                              const std::vector<HealthRecord>& health) override {
    return target_.appendPresenceEvents(changes, alerts, health);
  }
  Result<std::vector<StatusChangeRecord>> listStatusChanges(const std::string& agent_id,
                                                            int64_t before_id,
                                                            size_t limit) override {
    return target_.listStatusChanges(agent_id, before_id, limit);
  }
  Result<std::vector<LastStatusRecord>> listLastStatuses() override {
    return target_.listLastStatuses();
  }
  Result<std::vector<StatusChangeRecord>> latestStatusChanges(
      const std::vector<std::string>& agent_ids) override {
    return target_.latestStatusChanges(agent_ids);
  }
  Result<std::map<std::string, size_t>> countLatestStatuses(
      std::optional<int64_t> tenant_id, std::optional<int64_t> site_id) override {
    return target_.countLatestStatuses(tenant_id, site_id);
  }
  Result<AdminToken> createAdminToken(const NewAdminToken& token, int64_t now_ms) override {
    return target_.createAdminToken(token, now_ms);
  }
  Result<std::vector<AdminToken>> listAdminTokens() override { return target_.listAdminTokens(); }
  Result<std::optional<Tenant>> findTenant(int64_t tenant_id) override {
    return target_.findTenant(tenant_id);
  }
  Result<std::optional<std::string>> findTenantBusinessHours(int64_t tenant_id) override {
    return target_.findTenantBusinessHours(tenant_id);
  }
  Result<bool> setTenantBusinessHours(int64_t tenant_id, const std::string& hours) override {
    return target_.setTenantBusinessHours(tenant_id, hours);
  }
  Result<std::vector<Tenant>> listTenants(const TenantScope& scope,
                                          const std::string& name_contains, int64_t after_id,
                                          size_t limit) override {
    return target_.listTenants(scope, name_contains, after_id, limit);
  }
  Result<bool> renameTenant(int64_t tenant_id, const std::string& name) override {
    return target_.renameTenant(tenant_id, name);
  }
  Result<bool> deleteTenant(int64_t tenant_id) override { return target_.deleteTenant(tenant_id); }
  Result<std::optional<Site>> findSite(int64_t site_id) override {
    return target_.findSite(site_id);
  }
  Result<std::vector<Site>> listSitesPage(const TenantScope& scope,
                                          std::optional<int64_t> tenant_id,
                                          const std::string& name_contains, int64_t after_id,
                                          size_t limit) override {
    return target_.listSitesPage(scope, tenant_id, name_contains, after_id, limit);
  }
  Result<bool> renameSite(int64_t site_id, const std::string& name) override {
    return target_.renameSite(site_id, name);
  }
  Result<bool> deleteSite(int64_t site_id) override { return target_.deleteSite(site_id); }
  Result<std::optional<EnrollmentToken>> findEnrollmentToken(int64_t token_id) override {
    return target_.findEnrollmentToken(token_id);
  }
  Result<bool> revokeEnrollmentToken(int64_t token_id, int64_t now_ms) override {
    return target_.revokeEnrollmentToken(token_id, now_ms);
  }
  Result<std::optional<AdminToken>> findAdminTokenByHash(const std::string& token_hash) override {
    return target_.findAdminTokenByHash(token_hash);
  }
  Result<std::optional<AdminToken>> findAdminToken(int64_t token_id) override {
    return target_.findAdminToken(token_id);
  }
  Result<bool> revokeAdminToken(int64_t token_id, int64_t now_ms) override {
    return target_.revokeAdminToken(token_id, now_ms);
  }
  Result<std::vector<AgentRecord>> listAgentsPage(const AgentFilter& filter,
                                                  const AgentPageKey& after,
                                                  size_t limit) override {
    return target_.listAgentsPage(filter, after, limit);
  }
  Result<bool> retireAgent(const std::string& agent_id, int64_t now_ms) override {
    return target_.retireAgent(agent_id, now_ms);
  }
  Result<bool> deleteAgent(const std::string& agent_id) override {
    return target_.deleteAgent(agent_id);
  }
  Result<std::optional<AlertRecord>> findAlert(int64_t alert_id) override {
    return target_.findAlert(alert_id);
  }
  Result<std::vector<AlertRecord>> listAlertsPage(const AlertFilter& filter, int64_t before_id,
                                                  size_t limit) override {
    return target_.listAlertsPage(filter, before_id, limit);
  }
  Result<size_t> countAlerts(const AlertFilter& filter, size_t bound) override {
    return target_.countAlerts(filter, bound);
  }
  Result<bool> acknowledgeAlert(int64_t alert_id, const std::string& by, const std::string& note,
                                int64_t now_ms) override {
    return target_.acknowledgeAlert(alert_id, by, note, now_ms);
  }
  Result<bool> resolveAlert(int64_t alert_id, const std::string& by, const std::string& note,
                            int64_t now_ms) override {
    return target_.resolveAlert(alert_id, by, note, now_ms);
  }
  Result<std::vector<HealthRecord>> listHealthHistoryPage(int64_t before_id,
                                                          size_t limit) override {
    return target_.listHealthHistoryPage(before_id, limit);
  }
  Result<AvailabilityHistory> readAvailabilityHistory(const ReportScope& scope, int64_t from_ms,
                                                      int64_t to_ms, size_t max_agents) override {
    return target_.readAvailabilityHistory(scope, from_ms, to_ms, max_agents);
  }
  Result<MaintenanceWindowRecord> createMaintenanceWindow(
      const MaintenanceWindowRecord& window) override {
    return target_.createMaintenanceWindow(window);
  }
  Result<std::optional<MaintenanceWindowRecord>> findMaintenanceWindow(int64_t window_id) override {
    return target_.findMaintenanceWindow(window_id);
  }
  Result<std::vector<MaintenanceWindowRecord>> listMaintenanceWindows(
      const MaintenanceFilter& filter, int64_t after_id, size_t limit) override {
    return target_.listMaintenanceWindows(filter, after_id, limit);
  }
  Result<bool> deleteMaintenanceWindow(int64_t window_id) override {
    return target_.deleteMaintenanceWindow(window_id);
  }
  Result<std::vector<MaintenanceWindowRecord>> listAllMaintenanceWindows() override {
    return target_.listAllMaintenanceWindows();
  }
  Result<Webhook> createWebhook(const NewWebhook& webhook, int64_t now_ms) override {
    return target_.createWebhook(webhook, now_ms);
  }
  Result<std::optional<Webhook>> findWebhook(int64_t webhook_id) override {
    return target_.findWebhook(webhook_id);
  }
  Result<std::vector<Webhook>> listWebhooks(const TenantScope& scope,
                                            std::optional<int64_t> tenant_id,
                                            const std::optional<std::string>& kind,
                                            int64_t after_id, size_t limit) override {
    return target_.listWebhooks(scope, tenant_id, kind, after_id, limit);
  }
  Result<std::optional<Webhook>> updateWebhook(int64_t webhook_id,
                                               const WebhookUpdate& update) override {
    return target_.updateWebhook(webhook_id, update);
  }
  Result<bool> deleteWebhook(int64_t webhook_id) override {
    return target_.deleteWebhook(webhook_id);
  }
  Result<std::vector<CadenceRule>> listCadenceRules() override {
    return target_.listCadenceRules();
  }
  Status replaceCadenceRules(int64_t tenant_id, std::optional<int64_t> site_id,
                             const std::vector<CadenceRule>& rules) override {
    return target_.replaceCadenceRules(tenant_id, site_id, rules);
  }
  Result<bool> setAgentClass(const std::string& agent_id, AgentClass agent_class) override {
    return target_.setAgentClass(agent_id, agent_class);
  }
  Result<std::vector<std::string>> listAgentIdsOfClass(AgentClass agent_class) override {
    return target_.listAgentIdsOfClass(agent_class);
  }
  Result<OutboxEntry> enqueueWebhookEvent(int64_t webhook_id, const OutboxEvent& event,
                                          int64_t now_ms) override {
    return target_.enqueueWebhookEvent(webhook_id, event, now_ms);
  }
  Result<std::vector<DueDelivery>> claimDueDeliveries(const std::string& claimant, int64_t now_ms,
                                                      size_t limit, const DueDeliveryFilter& filter,
                                                      int64_t claim_ttl_ms,
                                                      const DeliveryChooser& choose) override {
    return target_.claimDueDeliveries(claimant, now_ms, limit, filter, claim_ttl_ms, choose);
  }
  Status markDeliveryDelivered(int64_t entry_id, const std::string& claimant,
                               const DeliveryAttempt& attempt) override {
    return target_.markDeliveryDelivered(entry_id, claimant, attempt);
  }
  Status markDeliveryRetry(int64_t entry_id, const std::string& claimant,
                           const DeliveryAttempt& attempt, int64_t next_attempt_at_ms) override {
    return target_.markDeliveryRetry(entry_id, claimant, attempt, next_attempt_at_ms);
  }
  Status markDeliveryFailed(int64_t entry_id, const std::string& claimant,
                            const DeliveryAttempt& attempt) override {
    return target_.markDeliveryFailed(entry_id, claimant, attempt);
  }
  Result<std::vector<OutboxEntry>> listDeliveries(int64_t webhook_id, int64_t before_id,
                                                  size_t limit) override {
    return target_.listDeliveries(webhook_id, before_id, limit);
  }
  Result<OutboxStats> outboxStats() override { return target_.outboxStats(); }
  uint64_t outboxEnqueueFailures() override { return target_.outboxEnqueueFailures(); }
  Result<size_t> enqueueFollowUps(int64_t now_ms, size_t limit) override {
    return target_.enqueueFollowUps(now_ms, limit);
  }
  Result<std::optional<ChannelTicket>> findChannelTicket(int64_t channel_id,
                                                         const std::string& ordering_key) override {
    return target_.findChannelTicket(channel_id, ordering_key);
  }
  Status recordChannelTicket(const ChannelTicket& ticket) override {
    return target_.recordChannelTicket(ticket);
  }
  Status appendFencedPresenceEvents(const LeaseFence& fence,
                                    const std::vector<StatusChangeRecord>& changes,
                                    const std::vector<AlertChange>& alerts,
                                    const std::vector<HealthRecord>& health) override {
    return target_.appendFencedPresenceEvents(fence, changes, alerts, health);
  }
  Result<std::vector<ShardLease>> acquireShards(const std::string& owner,
                                                const std::vector<int>& shards,
                                                int64_t ttl_ms) override {
    return target_.acquireShards(owner, shards, ttl_ms);
  }
  Result<std::vector<ShardLease>> renewShards(const std::string& owner,
                                              const std::vector<HeldLease>& held,
                                              int64_t ttl_ms) override {
    return target_.renewShards(owner, held, ttl_ms);
  }
  Status releaseShards(const std::string& owner, const std::vector<HeldLease>& held) override {
    return target_.releaseShards(owner, held);
  }
  Result<std::vector<ShardLease>> listShardLeases() override { return target_.listShardLeases(); }
  Result<CollectorNode> announceCollector(const CollectorNode& node, int64_t ttl_ms) override {
    return target_.announceCollector(node, ttl_ms);
  }
  Result<std::vector<CollectorNode>> listLiveCollectors() override {
    return target_.listLiveCollectors();
  }
  Status withdrawCollector(const std::string& node, const std::string& instance) override {
    return target_.withdrawCollector(node, instance);
  }
  Result<int64_t> databaseTimeMs() override { return target_.databaseTimeMs(); }
  Result<std::string> clusterKey() override { return target_.clusterKey(); }

 private:
  Store& target_;
};

}  // namespace vigil::collector
