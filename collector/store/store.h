#pragma once

// The collector's persistent state, in role interfaces: each service takes only the slices it
// uses (an ingest path needs agents, never webhooks), and a test fakes only the slice it
// breaks. `Store` is all of them, what a backend (the embedded SQLite one) implements. Times
// are Unix milliseconds (wall clock).
//
// Listings of the admin API (docs/api.md) are keyset-paginated: ascending by id after
// `after_id` (0 / empty: from the start), or, where noted, descending before `before_id`
// (0: from the newest). Not-found is a value (nullopt / false), not an error.
//
// Secrets: enrollment and admin tokens are stored only as lower-case SHA-256 hex hashes.
// Agent secrets are stored as issued, because the collector needs them to verify each
// heartbeat's HMAC (docs/adr/0001-collector-state-and-secrets.md); so are the sites' LAN peer
// keys, which the collector hands to the site's agents. Neither is ever logged.
//
// Thread safety: implementations are safe to call from several threads.
// Errors are returned as Status; no exception leaves a store.

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "collector/core/records.h"
#include "common/status.h"

namespace vigil::collector {

// Tenants and sites: the tenancy every other record hangs from, and the sites' LAN
// peer keys.
class TenancyStore {
 public:
  virtual ~TenancyStore() = default;

  virtual Result<Tenant> createTenant(const std::string& name, int64_t now_ms) = 0;
  virtual Result<std::optional<Tenant>> findTenant(int64_t tenant_id) = 0;
  // Not-found is a value (nullopt), not an error.
  virtual Result<std::optional<Tenant>> findTenantByName(const std::string& name) = 0;
  // Tenants in `scope` whose name contains `name_contains` (case-insensitive; literal).
  virtual Result<std::vector<Tenant>> listTenants(const TenantScope& scope,
                                                  const std::string& name_contains,
                                                  int64_t after_id, size_t limit) = 0;
  // kAlreadyExists if another tenant has the name.
  virtual Result<bool> renameTenant(int64_t tenant_id, const std::string& name) = 0;
  // kFailedPrecondition if the tenant still has sites.
  virtual Result<bool> deleteTenant(int64_t tenant_id) = 0;
  // The tenant's business hours (collector/core/business_hours.h, JSON form; empty: none);
  // nullopt if the tenant is unknown.
  virtual Result<std::optional<std::string>> findTenantBusinessHours(int64_t tenant_id) = 0;
  // Sets them (empty: none); false if the tenant is unknown.
  virtual Result<bool> setTenantBusinessHours(int64_t tenant_id, const std::string& hours) = 0;
  // Creates the site with a newly generated peer key.
  virtual Result<Site> createSite(int64_t tenant_id, const std::string& name, int64_t now_ms) = 0;
  virtual Result<std::optional<Site>> findSite(int64_t site_id) = 0;
  virtual Result<std::optional<Site>> findSiteByName(int64_t tenant_id,
                                                     const std::string& name) = 0;
  // Every site, ordered by id (sites are few: one per location).
  virtual Result<std::vector<Site>> listSites() = 0;
  virtual Result<std::vector<Site>> listSitesPage(const TenantScope& scope,
                                                  std::optional<int64_t> tenant_id,
                                                  const std::string& name_contains,
                                                  int64_t after_id, size_t limit) = 0;
  // kAlreadyExists if another site of the tenant has the name.
  virtual Result<bool> renameSite(int64_t site_id, const std::string& name) = 0;
  // kFailedPrecondition if the site still has agents (retired ones included).
  virtual Result<bool> deleteSite(int64_t site_id) = 0;
};

// Enrollment tokens (a site's door for new agents) and admin tokens (the admin API's
// credentials, in trees), both by hash.
class TokenStore {
 public:
  virtual ~TokenStore() = default;

  // `token.id` and `token.uses` are ignored; returns the stored token.
  virtual Result<EnrollmentToken> createEnrollmentToken(const EnrollmentToken& token) = 0;
  virtual Result<std::optional<EnrollmentToken>> findEnrollmentToken(int64_t token_id) = 0;
  virtual Result<std::optional<EnrollmentToken>> findEnrollmentTokenByHash(
      const std::string& token_hash) = 0;
  virtual Result<std::vector<EnrollmentToken>> listEnrollmentTokens(int64_t site_id) = 0;
  // Marks the token revoked at `now_ms` (kept, so lists show it); false if unknown.
  virtual Result<bool> revokeEnrollmentToken(int64_t token_id, int64_t now_ms) = 0;
  // Stores a token. With a parent (`created_by`), in the same transaction:
  // kFailedPrecondition unless the parent exists, is usable at `now_ms`, has a role that
  // covers the token's, and expires no earlier than the token (never, if the parent never
  // does). kInvalidArgument for an unknown tenant; kAlreadyExists for a known hash.
  virtual Result<AdminToken> createAdminToken(const NewAdminToken& token, int64_t now_ms) = 0;
  virtual Result<std::optional<AdminToken>> findAdminToken(int64_t token_id) = 0;
  // The token with this SHA-256 hex hash (an index lookup: what authentication needs).
  virtual Result<std::optional<AdminToken>> findAdminTokenByHash(const std::string& token_hash) = 0;
  // Every admin token, revoked and expired ones included, ordered by id.
  virtual Result<std::vector<AdminToken>> listAdminTokens() = 0;
  // Marks the token and all its descendants revoked at `now_ms`, in one transaction (a token
  // already revoked keeps its first time); false if the token is unknown.
  virtual Result<bool> revokeAdminToken(int64_t token_id, int64_t now_ms) = 0;
};

// Agents: enrollment, the write-behind of what heartbeats report (last seen, facts, outage
// reports), classes, retirement.
class AgentStore {
 public:
  virtual ~AgentStore() = default;

  // In one transaction: consumes one use of enrollment token `token_id` if it is still usable
  // at `now_ms`, and creates `agent` in the token's site (agent.site_id is ignored).
  // Fails with kPermissionDenied, creating nothing, if the token is not usable. The agent's
  // class is agent.agent_class if that is kServer, else agentClassFromFacts() of its facts.
  virtual Result<AgentRecord> enrollAgent(int64_t token_id, const AgentRecord& agent,
                                          int64_t now_ms) = 0;
  // Agents (retired ones included) of site `site_id` and of its tenant, for the enrollment
  // quotas; {0, 0} if the site does not exist.
  struct AgentCounts {
    int64_t site = 0;
    int64_t tenant = 0;
  };
  virtual Result<AgentCounts> countAgents(int64_t site_id) = 0;
  virtual Result<std::optional<AgentRecord>> findAgent(const std::string& agent_id) = 0;
  // Agents ordered by id, those with id > `after_id` (all if empty), at most `limit`.
  virtual Result<std::vector<AgentRecord>> listAgents(const std::string& after_id,
                                                      size_t limit) = 0;
  // Agents matching `filter`, in `after.order` (AgentOrder), those after `after`, at most
  // `limit`.
  virtual Result<std::vector<AgentRecord>> listAgentsPage(const AgentFilter& filter,
                                                          const AgentPageKey& after,
                                                          size_t limit) = 0;
  // Writes all updates in one transaction; all or none are applied. An update never moves an
  // agent's last_seq backwards (nor its facts, written with it); its shutdown notice and
  // outage reports are written regardless, and each agent keeps its newest
  // kOutageReportsKeptPerAgent outage reports.
  virtual Status updateLastSeen(const std::vector<LastSeenUpdate>& updates) = 0;
  // The agent's outage reports, newest first, at most `limit`.
  virtual Result<std::vector<OutageReport>> listOutageReports(const std::string& agent_id,
                                                              size_t limit) = 0;
  // Sets the agent's class; false if the agent is unknown.
  virtual Result<bool> setAgentClass(const std::string& agent_id, AgentClass agent_class) = 0;
  // Ids of the agents of `agent_class` (retired ones included), ascending.
  virtual Result<std::vector<std::string>> listAgentIdsOfClass(AgentClass agent_class) = 0;
  // Sets retired_at (once; a retired agent stays retired). False if unknown.
  virtual Result<bool> retireAgent(const std::string& agent_id, int64_t now_ms) = 0;
  // Deletes the agent with its history, outage reports, maintenance windows and alerts.
  virtual Result<bool> deleteAgent(const std::string& agent_id) = 0;
};

// What the presence engine decided: status changes, alerts and the collector's own health
// changes, written together; and the admin API's reads and actions on them.
class PresenceLogStore {
 public:
  virtual ~PresenceLogStore() = default;

  // Appends status changes, applies alert changes and appends health changes, all in one
  // transaction; all or none are applied. The webhook events they announce enter the outbox
  // in the same transaction, each on its own: one that cannot be written (a webhook's row the
  // database refuses) is left out, counted (OutboxStats::enqueue_failures) and reported, and
  // the presence write commits without it; the verdicts never wait on a destination's
  // bookkeeping (docs/webhooks.md, "What shares a transaction"). An alert change applies to the
  // latest alert of the same kind and subject that is not closed: "opened" turns a held one open
  // (keeping held_since) or creates one; "held" creates a held one; "released" closes a held one;
  // "resolved" closes an open or held one.
  virtual Status appendPresenceEvents(const std::vector<StatusChangeRecord>& changes,
                                      const std::vector<AlertChange>& alerts,
                                      const std::vector<HealthRecord>& health) = 0;
  // As appendPresenceEvents(), only while `fence.owner` holds every lease of `fence` in its
  // epoch, unexpired (LeaseStore): checked in the same transaction, under a shared lock on
  // those leases, so a new owner's acquisition either waits for this write to commit or comes
  // first and makes it fail. kFailedPrecondition, and nothing written, when a lease is gone: a
  // collector that was paused or cut off never writes a verdict for a shard another collector
  // has taken. An empty `fence.owner` checks nothing.
  virtual Status appendFencedPresenceEvents(const LeaseFence& fence,
                                            const std::vector<StatusChangeRecord>& changes,
                                            const std::vector<AlertChange>& alerts,
                                            const std::vector<HealthRecord>& health) = 0;
  // The agent's status changes, newest first, with id < `before_id` (0: from the newest), at
  // most `limit`.
  virtual Result<std::vector<StatusChangeRecord>> listStatusChanges(const std::string& agent_id,
                                                                    int64_t before_id,
                                                                    size_t limit) = 0;
  // Each agent's latest status change.
  virtual Result<std::vector<LastStatusRecord>> listLastStatuses() = 0;
  // The latest status change of each of `agent_ids` that has one, in no order: what a cluster's
  // collector shows of agents another collector judges. REQUIRES: at most 1,000 ids.
  virtual Result<std::vector<StatusChangeRecord>> latestStatusChanges(
      const std::vector<std::string>& agent_ids) = 0;
  // The agents not retired (of `tenant_id`, of `site_id`, when given) counted by the status of
  // their latest status change; an agent without one counts as "UNKNOWN".
  virtual Result<std::map<std::string, size_t>> countLatestStatuses(
      std::optional<int64_t> tenant_id, std::optional<int64_t> site_id) = 0;
  virtual Result<std::optional<AlertRecord>> findAlert(int64_t alert_id) = 0;
  // Alerts matching `filter`, descending by id before `before_id`.
  virtual Result<std::vector<AlertRecord>> listAlertsPage(const AlertFilter& filter,
                                                          int64_t before_id, size_t limit) = 0;
  // Alerts matching `filter`, counted up to `bound` (more count as `bound`).
  virtual Result<size_t> countAlerts(const AlertFilter& filter, size_t bound) = 0;
  // Sets acknowledged_at/by once (a second acknowledgement keeps the first). False if unknown.
  virtual Result<bool> acknowledgeAlert(int64_t alert_id, const std::string& by,
                                        const std::string& note, int64_t now_ms) = 0;
  // Closes an open or held alert as "resolved" by an admin. kFailedPrecondition if it is
  // already closed; false if unknown.
  virtual Result<bool> resolveAlert(int64_t alert_id, const std::string& by,
                                    const std::string& note, int64_t now_ms) = 0;
  // The collector's health changes, descending by id before `before_id`.
  virtual Result<std::vector<HealthRecord>> listHealthHistoryPage(int64_t before_id,
                                                                  size_t limit) = 0;
  // What the availability report of `scope` over [from_ms, to_ms) is computed from
  // (AvailabilityHistory): the scope's agents enrolled before `to_ms` and not retired before
  // `from_ms`. kResourceExhausted, with nothing else read, if they are more than `max_agents`.
  virtual Result<AvailabilityHistory> readAvailabilityHistory(const ReportScope& scope,
                                                              int64_t from_ms, int64_t to_ms,
                                                              size_t max_agents) = 0;
};

// Maintenance windows (collector/monitor/maintenance.h).
class MaintenanceStore {
 public:
  virtual ~MaintenanceStore() = default;

  // `window.id` is ignored; returns the stored window.
  virtual Result<MaintenanceWindowRecord> createMaintenanceWindow(
      const MaintenanceWindowRecord& window) = 0;
  virtual Result<std::optional<MaintenanceWindowRecord>> findMaintenanceWindow(
      int64_t window_id) = 0;
  virtual Result<std::vector<MaintenanceWindowRecord>> listMaintenanceWindows(
      const MaintenanceFilter& filter, int64_t after_id, size_t limit) = 0;
  virtual Result<bool> deleteMaintenanceWindow(int64_t window_id) = 0;
  // Every window, for the presence engine.
  virtual Result<std::vector<MaintenanceWindowRecord>> listAllMaintenanceWindows() = 0;
};

// Heartbeat cadence rules (collector/core/cadence.h): at most one rule per scope (tenant,
// site or none, class or none). A deleted site takes its rules with it, a deleted tenant its own.
class CadenceStore {
 public:
  virtual ~CadenceStore() = default;

  // Every rule, ordered by tenant, site (tenant-wide first) and class (every class first).
  virtual Result<std::vector<CadenceRule>> listCadenceRules() = 0;
  // Replaces, in one transaction, the rules of one scope: the tenant's own (`site_id` unset)
  // or the site's; each rule's tenant_id and site_id are ignored. Empty: deletes them.
  // kNotFound if the tenant, or the site within that tenant, does not exist.
  virtual Status replaceCadenceRules(int64_t tenant_id, std::optional<int64_t> site_id,
                                     const std::vector<CadenceRule>& rules) = 0;
};

// Webhooks and their outbox (collector/notify). Alert and health changes put their events
// into the outbox inside appendPresenceEvents' transaction: one entry per enabled webhook of
// the alert's tenant (of every tenant for health changes) that wants the event type.
//
// Entries are delivered under claims, so that the dispatchers of several collectors sharing
// one database never deliver an entry twice (docs/webhooks.md, "Across collectors"): a
// dispatcher claims the entries it is about to deliver, for a time on the database's clock,
// and only the claimant records the outcome. Due times (`now_ms`, next_attempt_at) are the
// caller's wall clock; only claims are on the database's.
class WebhookStore {
 public:
  // Given the due entries a claim may take (in the order they are due), the positions of
  // those to claim.
  using DeliveryChooser = std::function<std::vector<size_t>(const std::vector<DueDelivery>&)>;

  virtual ~WebhookStore() = default;

  // Creates the webhook with a newly generated secret.
  virtual Result<Webhook> createWebhook(const NewWebhook& webhook, int64_t now_ms) = 0;
  virtual Result<std::optional<Webhook>> findWebhook(int64_t webhook_id) = 0;
  // Channels in `scope` (and of `tenant_id`, of `kind`, if set), ascending by id after
  // `after_id`.
  virtual Result<std::vector<Webhook>> listWebhooks(const TenantScope& scope,
                                                    std::optional<int64_t> tenant_id,
                                                    const std::optional<std::string>& kind,
                                                    int64_t after_id, size_t limit) = 0;
  // The updated webhook; nullopt if unknown.
  virtual Result<std::optional<Webhook>> updateWebhook(int64_t webhook_id,
                                                       const WebhookUpdate& update) = 0;
  // Deletes the webhook and its whole outbox (pending entries are dropped), and its tickets'
  // record. False if unknown.
  virtual Result<bool> deleteWebhook(int64_t webhook_id) = 0;
  // Puts one event in the webhook's outbox with a new message id, due at `now_ms` or, behind
  // pending entries of its ordering key, when they are. kNotFound if the webhook does not exist.
  virtual Result<OutboxEntry> enqueueWebhookEvent(int64_t webhook_id, const OutboxEvent& event,
                                                  int64_t now_ms) = 0;
  // Claims due entries for `claimant`, which names one dispatcher (unique among all that share
  // the database). The candidates: pending entries of enabled webhooks due at `now_ms`, each
  // the oldest pending entry of its webhook and ordering key (a later entry waits until the
  // earlier is delivered or failed), that no other claimant holds (unclaimed, claimed by
  // `claimant` itself, or under a claim that has expired); earliest due first, at most
  // `limit`, none of the tenants and webhooks `filter` skips. `choose` (empty: every
  // candidate) picks among them; those picked are claimed by `claimant` until `claim_ttl_ms`
  // from now on the database's clock, and returned in their order, all in one transaction.
  // `choose` runs inside it, with the store busy: it must be quick and must not call the
  // store; it may run more than once (a transaction a concurrent one made fail is run again),
  // and only its last answer counts. Candidates another claimant is claiming at the same
  // moment (PostgreSQL) are passed over, never waited for. kInvalidArgument if `claim_ttl_ms`
  // is negative; 0 makes a claim that has expired at once.
  virtual Result<std::vector<DueDelivery>> claimDueDeliveries(const std::string& claimant,
                                                              int64_t now_ms, size_t limit,
                                                              const DueDeliveryFilter& filter,
                                                              int64_t claim_ttl_ms,
                                                              const DeliveryChooser& choose) = 0;
  // Each records one attempt (attempts + 1) of an entry `claimant` claimed, and ends the
  // claim: delivered; failed and due again at `next_attempt_at_ms` (with the entries waiting
  // behind it), claimable then by any dispatcher, under the same message id; failed for good
  // (state "failed"). Only the claimant holding the entry records: kFailedPrecondition, and
  // nothing recorded, if the entry is not pending under `claimant`'s claim (expired or not)
  // any more: another claimant took it over once the claim had expired, or an attempt was
  // recorded already. An entry that no longer exists (its webhook was deleted meanwhile) is
  // left alone.
  virtual Status markDeliveryDelivered(int64_t entry_id, const std::string& claimant,
                                       const DeliveryAttempt& attempt) = 0;
  virtual Status markDeliveryRetry(int64_t entry_id, const std::string& claimant,
                                   const DeliveryAttempt& attempt, int64_t next_attempt_at_ms) = 0;
  virtual Status markDeliveryFailed(int64_t entry_id, const std::string& claimant,
                                    const DeliveryAttempt& attempt) = 0;
  // The webhook's outbox entries, descending by id before `before_id`.
  virtual Result<std::vector<OutboxEntry>> listDeliveries(int64_t webhook_id, int64_t before_id,
                                                          size_t limit) = 0;
  virtual Result<OutboxStats> outboxStats() = 0;
  // Puts the follow-ups due at `now_ms` in their channels' outboxes (docs/notifications.md,
  // "Reminders and escalation"), at most `limit`: for each open, unacknowledged alert of a
  // channel that received it (its events and filter), an alert.reminder every remind_every_s
  // after the alert opened or was last reminded, and once, escalate_after_s after it opened,
  // an alert.escalated to the channel escalate_to. A workstation's alert gets none while its
  // tenant's business hours are closed. Each is recorded with its entry in one transaction,
  // and only if no other collector recorded it first, so a cluster sends each once. Returns
  // how many were enqueued.
  virtual Result<size_t> enqueueFollowUps(int64_t now_ms, size_t limit) = 0;
  // The ticket a PSA channel opened for an ordering key (an alert); nullopt if none.
  virtual Result<std::optional<ChannelTicket>> findChannelTicket(
      int64_t channel_id, const std::string& ordering_key) = 0;
  // Records (or replaces) the ticket of the channel and ordering key. kNotFound if the channel
  // does not exist (deleted meanwhile).
  virtual Status recordChannelTicket(const ChannelTicket& ticket) = 0;
  // Events that could not be put in the outbox since the store was opened: the presence write
  // they belonged to was committed without them (appendPresenceEvents). Counted in memory, so
  // it answers also while the database does not, and never goes back.
  virtual uint64_t outboxEnqueueFailures() = 0;
};

// A cluster's coordination (docs/cluster.md): the leases of the presence shards
// (collector/core/shards.h) and the collectors' announcements. Every time here is the
// database's clock, the one clock the collectors of a cluster share; none compares its own.
// A lease changes owner only in a new epoch, so a write that names the epoch it was made
// under is refused once the shard has moved on (fencing).
class LeaseStore {
 public:
  virtual ~LeaseStore() = default;

  // Takes, for `ttl_ms` from now, each of `shards` that is free or whose lease has expired,
  // each in a new epoch; returns the leases taken. A shard with a live lease (another
  // collector's, or `owner`'s own: renew it instead) is left out.
  virtual Result<std::vector<ShardLease>> acquireShards(const std::string& owner,
                                                        const std::vector<int>& shards,
                                                        int64_t ttl_ms) = 0;
  // Extends to `ttl_ms` from now each of `held` that `owner` still holds, in that epoch,
  // unexpired; returns those renewed. A lease left out is lost: its shard is no longer
  // `owner`'s to judge or write.
  virtual Result<std::vector<ShardLease>> renewShards(const std::string& owner,
                                                      const std::vector<HeldLease>& held,
                                                      int64_t ttl_ms) = 0;
  // Frees each of `held` that `owner` still holds in that epoch: a graceful hand-over, so
  // the next owner need not wait for the expiry.
  virtual Status releaseShards(const std::string& owner, const std::vector<HeldLease>& held) = 0;
  // Every shard's lease, ordered by shard.
  virtual Result<std::vector<ShardLease>> listShardLeases() = 0;

  // Announces `node` until `ttl_ms` from now, or renews its announcement; returns it as stored
  // (started_at_ms and expires_at_ms on the database's clock). kAlreadyExists if a live
  // announcement of the same node name belongs to another instance (two collectors
  // configured with one name).
  virtual Result<CollectorNode> announceCollector(const CollectorNode& node, int64_t ttl_ms) = 0;
  // The collectors whose announcement has not expired, by node name.
  virtual Result<std::vector<CollectorNode>> listLiveCollectors() = 0;
  // Removes the node's announcement if it is still `instance`'s.
  virtual Status withdrawCollector(const std::string& node, const std::string& instance) = 0;
  // The database's clock (Unix ms).
  virtual Result<int64_t> databaseTimeMs() = 0;
  // The cluster's relay key (collector/cluster/relay.h): 32 random bytes as hex, made by the
  // first collector that asks and the same for every collector of the database after.
  virtual Result<std::string> clusterKey() = 0;
};

// Every role, in one backend.
class Store : public TenancyStore,
              public TokenStore,
              public AgentStore,
              public PresenceLogStore,
              public MaintenanceStore,
              public CadenceStore,
              public WebhookStore,
              public LeaseStore {
 public:
  ~Store() override = default;

  // Cheap liveness check of the underlying database.
  virtual Status ping() = 0;
};

}  // namespace vigil::collector
