#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include "collector/core/business_hours.h"
#include "collector/store/store.h"
#include "common/mutex.h"

namespace Poco::Data {
class Session;
}

namespace vigil::collector {

namespace sql {
class Backend;
}

// A PostgreSQL database shared by the collectors of a cluster (docs/cluster.md).
struct PostgresSettings {
  // libpq connection string ("host=db.example port=5432 dbname=vigil user=vigil
  // sslmode=verify-full"); the password comes from the PGPASSWORD environment variable or a
  // password file (PGPASSFILE), never from a configuration file the collector logs.
  std::string conninfo;
  // Connections for the admin API's reads, besides the writer and the probes' own reader.
  size_t admin_readers = 3;
  // Seconds to wait for a connection to be made, at start and after losing one.
  int connect_timeout_s = 5;
  // libpq's sslmode (disable, allow, prefer, require, verify-ca, verify-full); empty: as the
  // connection string says. A mode that does not verify the server's certificate is refused
  // for a server that is not on this host (loopback or a Unix socket) unless
  // `allow_unverified_tls`: credentials and every agent's secret cross that connection.
  std::string ssl_mode;
  bool allow_unverified_tls = false;
};

// Where the collector keeps its state (keys store.*; docs/operations.md).
struct StoreSettings {
  enum class Backend { kSqlite, kPostgresql };
  Backend backend = Backend::kSqlite;
  PostgresSettings postgresql;  // for kPostgresql
};

// The Store on a SQL database, through Poco::Data: the embedded SQLite file
// `<data_dir>/vigil.db` in WAL mode (the default), or a PostgreSQL database that several
// collectors share. The queries are the same on both (sql_backend.h holds what differs).
//
// Every write, and every read that ingest, the ticker or the dispatcher makes, goes through
// one writer connection serialised by `mu_`; enough for the write-behind design, where
// heartbeats touch the database only through periodic batches. The reads of the admin API and
// of the probes go through read-only connections of their own (a reader sees the last commit
// and never waits for the writer), so a listing or /readyz never waits on a presence write or
// the write-behind. One reader serves the probes alone, so an admin listing never delays
// /readyz either.
//
// On PostgreSQL, a transaction that a concurrent one (another collector's) made fail is run
// again, and a connection that was lost (a server restart) is made again before its next use;
// until it is, calls fail with kIoError.
//
// Thread safety: every method is safe to call concurrently.
class SqlStore final : public Store {
 public:
  static constexpr char kSqliteFileName[] = "vigil.db";
  // Latest schema version this build knows; a database with a newer one is refused.
  static int latestSchemaVersion();

  // Creates `data_dir` (mode 0700) and the database (mode 0600) if missing, enforces those
  // modes, configures the connection and applies pending migrations.
  static Result<std::unique_ptr<SqlStore>> openSqlite(const std::string& data_dir);
  // As openSqlite(), migrating no further than `schema_version`: for tests of a migration,
  // which need a database made by an older schema.
  static Result<std::unique_ptr<SqlStore>> openSqliteAtSchemaVersion(const std::string& data_dir,
                                                                     int schema_version);
  // Connects to the PostgreSQL database and applies pending migrations (one collector at a
  // time: the others wait). kInvalidArgument for settings that cannot work (a malformed
  // connection string, unverified TLS to a remote server); kUnavailable if the server cannot be
  // reached, kPermissionDenied if it refuses the credentials, kFailedPrecondition if its
  // schema is newer than this build's (on SQLite too).
  static Result<std::unique_ptr<SqlStore>> openPostgres(const PostgresSettings& settings);
  static Result<std::unique_ptr<SqlStore>> openPostgresAtSchemaVersion(
      const PostgresSettings& settings, int schema_version);
  // The configured store: SQLite in `data_dir`, or PostgreSQL.
  static Result<std::unique_ptr<SqlStore>> open(const StoreSettings& settings,
                                                const std::string& data_dir);

  ~SqlStore() override;
  SqlStore(const SqlStore&) = delete;
  SqlStore& operator=(const SqlStore&) = delete;

  Result<int> schemaVersion();
  // "sqlite" or "postgresql".
  const char* backendName() const;
  // The database file, or the PostgreSQL server and database (never a password).
  const std::string& location() const;

  // Called, with the writer held, with one line per webhook event left out of the outbox
  // (store.h, appendPresenceEvents); empty: none.
  void setOutboxFailureLog(std::function<void(const std::string&)> log);

  // Runs `hook` inside every presence write (appendPresenceEvents) and write-behind
  // (updateLastSeen) transaction, with the writer held, before it commits; empty: none. A
  // seam for tests that hold the writer busy.
  void setWriteHook(std::function<void()> hook);

  Status ping() override;
  Result<Tenant> createTenant(const std::string& name, int64_t now_ms) override;
  Result<std::optional<Tenant>> findTenantByName(const std::string& name) override;
  Result<Site> createSite(int64_t tenant_id, const std::string& name, int64_t now_ms) override;
  Result<std::optional<Site>> findSiteByName(int64_t tenant_id, const std::string& name) override;
  Result<std::vector<Site>> listSites() override;
  Result<EnrollmentToken> createEnrollmentToken(const EnrollmentToken& token) override;
  Result<std::optional<EnrollmentToken>> findEnrollmentTokenByHash(
      const std::string& token_hash) override;
  Result<std::vector<EnrollmentToken>> listEnrollmentTokens(int64_t site_id) override;
  Result<AgentCounts> countAgents(int64_t site_id) override;
  Result<AgentRecord> enrollAgent(int64_t token_id, const AgentRecord& agent,
                                  int64_t now_ms) override;
  Result<std::optional<AgentRecord>> findAgent(const std::string& agent_id) override;
  Result<std::vector<AgentRecord>> listAgents(const std::string& after_id, size_t limit) override;
  Status updateLastSeen(const std::vector<LastSeenUpdate>& updates) override;
  Result<std::vector<OutageReport>> listOutageReports(const std::string& agent_id,
                                                      size_t limit) override;
  Status appendPresenceEvents(const std::vector<StatusChangeRecord>& changes,
                              const std::vector<AlertChange>& alerts,
                              const std::vector<HealthRecord>& health) override;
  Status appendFencedPresenceEvents(const LeaseFence& fence,
                                    const std::vector<StatusChangeRecord>& changes,
                                    const std::vector<AlertChange>& alerts,
                                    const std::vector<HealthRecord>& health) override;
  Result<std::vector<StatusChangeRecord>> listStatusChanges(const std::string& agent_id,
                                                            int64_t before_id,
                                                            size_t limit) override;
  Result<std::vector<LastStatusRecord>> listLastStatuses() override;
  Result<std::vector<StatusChangeRecord>> latestStatusChanges(
      const std::vector<std::string>& agent_ids) override;
  Result<std::map<std::string, size_t>> countLatestStatuses(
      std::optional<int64_t> tenant_id, std::optional<int64_t> site_id) override;
  Result<AdminToken> createAdminToken(const NewAdminToken& token, int64_t now_ms) override;
  Result<std::vector<AdminToken>> listAdminTokens() override;

  // The admin API (sql_tenancy.cc, sql_admin.cc).
  Result<std::optional<Tenant>> findTenant(int64_t tenant_id) override;
  Result<std::optional<std::string>> findTenantBusinessHours(int64_t tenant_id) override;
  Result<bool> setTenantBusinessHours(int64_t tenant_id, const std::string& hours) override;
  Result<std::vector<Tenant>> listTenants(const TenantScope& scope,
                                          const std::string& name_contains, int64_t after_id,
                                          size_t limit) override;
  Result<bool> renameTenant(int64_t tenant_id, const std::string& name) override;
  Result<bool> deleteTenant(int64_t tenant_id) override;
  Result<std::optional<Site>> findSite(int64_t site_id) override;
  Result<std::vector<Site>> listSitesPage(const TenantScope& scope,
                                          std::optional<int64_t> tenant_id,
                                          const std::string& name_contains, int64_t after_id,
                                          size_t limit) override;
  Result<bool> renameSite(int64_t site_id, const std::string& name) override;
  Result<bool> deleteSite(int64_t site_id) override;
  Result<std::optional<EnrollmentToken>> findEnrollmentToken(int64_t token_id) override;
  Result<bool> revokeEnrollmentToken(int64_t token_id, int64_t now_ms) override;
  Result<std::optional<AdminToken>> findAdminToken(int64_t token_id) override;
  Result<std::optional<AdminToken>> findAdminTokenByHash(const std::string& token_hash) override;
  Result<bool> revokeAdminToken(int64_t token_id, int64_t now_ms) override;
  Result<std::vector<AgentRecord>> listAgentsPage(const AgentFilter& filter,
                                                  const AgentPageKey& after, size_t limit) override;
  Result<bool> retireAgent(const std::string& agent_id, int64_t now_ms) override;
  Result<bool> deleteAgent(const std::string& agent_id) override;
  Result<std::optional<AlertRecord>> findAlert(int64_t alert_id) override;
  Result<std::vector<AlertRecord>> listAlertsPage(const AlertFilter& filter, int64_t before_id,
                                                  size_t limit) override;
  Result<size_t> countAlerts(const AlertFilter& filter, size_t bound) override;
  Result<bool> acknowledgeAlert(int64_t alert_id, const std::string& by, const std::string& note,
                                int64_t now_ms) override;
  Result<bool> resolveAlert(int64_t alert_id, const std::string& by, const std::string& note,
                            int64_t now_ms) override;
  Result<std::vector<HealthRecord>> listHealthHistoryPage(int64_t before_id, size_t limit) override;
  Result<AvailabilityHistory> readAvailabilityHistory(const ReportScope& scope, int64_t from_ms,
                                                      int64_t to_ms, size_t max_agents) override;
  Result<MaintenanceWindowRecord> createMaintenanceWindow(
      const MaintenanceWindowRecord& window) override;
  Result<std::optional<MaintenanceWindowRecord>> findMaintenanceWindow(int64_t window_id) override;
  Result<std::vector<MaintenanceWindowRecord>> listMaintenanceWindows(
      const MaintenanceFilter& filter, int64_t after_id, size_t limit) override;
  Result<bool> deleteMaintenanceWindow(int64_t window_id) override;
  Result<std::vector<MaintenanceWindowRecord>> listAllMaintenanceWindows() override;

  // Heartbeat cadence (sql_cadence.cc).
  Result<std::vector<CadenceRule>> listCadenceRules() override;
  Status replaceCadenceRules(int64_t tenant_id, std::optional<int64_t> site_id,
                             const std::vector<CadenceRule>& rules) override;
  Result<bool> setAgentClass(const std::string& agent_id, AgentClass agent_class) override;
  Result<std::vector<std::string>> listAgentIdsOfClass(AgentClass agent_class) override;

  // Webhooks and their outbox (sql_webhooks.cc).
  Result<Webhook> createWebhook(const NewWebhook& webhook, int64_t now_ms) override;
  Result<std::optional<Webhook>> findWebhook(int64_t webhook_id) override;
  Result<std::vector<Webhook>> listWebhooks(const TenantScope& scope,
                                            std::optional<int64_t> tenant_id,
                                            const std::optional<std::string>& kind,
                                            int64_t after_id, size_t limit) override;
  Result<std::optional<Webhook>> updateWebhook(int64_t webhook_id,
                                               const WebhookUpdate& update) override;
  Result<bool> deleteWebhook(int64_t webhook_id) override;
  Result<OutboxEntry> enqueueWebhookEvent(int64_t webhook_id, const OutboxEvent& event,
                                          int64_t now_ms) override;
  Result<std::vector<DueDelivery>> claimDueDeliveries(const std::string& claimant, int64_t now_ms,
                                                      size_t limit, const DueDeliveryFilter& filter,
                                                      int64_t claim_ttl_ms,
                                                      const DeliveryChooser& choose) override;
  Status markDeliveryDelivered(int64_t entry_id, const std::string& claimant,
                               const DeliveryAttempt& attempt) override;
  Status markDeliveryRetry(int64_t entry_id, const std::string& claimant,
                           const DeliveryAttempt& attempt, int64_t next_attempt_at_ms) override;
  Status markDeliveryFailed(int64_t entry_id, const std::string& claimant,
                            const DeliveryAttempt& attempt) override;
  Result<std::vector<OutboxEntry>> listDeliveries(int64_t webhook_id, int64_t before_id,
                                                  size_t limit) override;
  Result<OutboxStats> outboxStats() override;
  uint64_t outboxEnqueueFailures() override { return outbox_failures_.load(); }
  Result<size_t> enqueueFollowUps(int64_t now_ms, size_t limit) override;
  Result<std::optional<ChannelTicket>> findChannelTicket(int64_t channel_id,
                                                         const std::string& ordering_key) override;
  Status recordChannelTicket(const ChannelTicket& ticket) override;

  // The cluster's coordination (sql_leases.cc), on a connection of its own: a renewal never
  // waits behind a presence write or the write-behind.
  Result<std::vector<ShardLease>> acquireShards(const std::string& owner,
                                                const std::vector<int>& shards,
                                                int64_t ttl_ms) override;
  Result<std::vector<ShardLease>> renewShards(const std::string& owner,
                                              const std::vector<HeldLease>& held,
                                              int64_t ttl_ms) override;
  Status releaseShards(const std::string& owner, const std::vector<HeldLease>& held) override;
  Result<std::vector<ShardLease>> listShardLeases() override;
  Result<CollectorNode> announceCollector(const CollectorNode& node, int64_t ttl_ms) override;
  Result<std::vector<CollectorNode>> listLiveCollectors() override;
  Status withdrawCollector(const std::string& node, const std::string& instance) override;
  Result<int64_t> databaseTimeMs() override;
  Result<std::string> clusterKey() override;

 private:
  // A connection besides the writer, and the mutex that serialises it: a read-only one (the
  // probes', the admin API's) or the coordination's. `failed`: its last use failed, so the
  // backend restores it before the next.
  struct ReadConnection {
    Mutex mu;
    std::unique_ptr<Poco::Data::Session> session GUARDED_BY(mu);
    bool failed GUARDED_BY(mu) = false;
    bool read_only = true;
  };
  // Times a transaction that concurrent ones made fail is run in all.
  static constexpr int kConflictAttempts = 5;

  explicit SqlStore(std::unique_ptr<sql::Backend> backend);
  // Connects the writer, migrates up to `schema_version` and opens the readers.
  static Result<std::unique_ptr<SqlStore>> open(Result<std::unique_ptr<sql::Backend>> backend,
                                                int schema_version, size_t admin_readers);

  // Opens the probes' reader, `admin_readers` admin readers and the coordination's connection.
  // REQUIRES: the schema is migrated.
  Status openReaders(size_t admin_readers);
  // sql::guarded() on a reader: the probes' own, or the next admin reader in turn. `body`
  // takes the reader's Poco::Data::Session&. Defined in sql_util.h.
  template <typename F>
  auto adminRead(const std::string& what, F&& body);
  template <typename F>
  auto probeRead(const std::string& what, F&& body);
  // sql::guarded() on the coordination's connection, run again (up to kConflictAttempts in
  // all) when a concurrent transaction made it fail.
  template <typename F>
  auto coordinate(const std::string& what, F&& body);
  template <typename F>
  auto readOn(ReadConnection& reader, const std::string& what, F&& body);
  void runWriteHookLocked() REQUIRES(mu_);
  // Applies the migrations after the current version up to `target_version`.
  Status migrate(int target_version);
  // sql::guarded() for a body that uses the session: called with mu_ held, it runs `body`,
  // a lambda marked REQUIRES(mu_), which the analysis then checks as holding mu_ (it cannot
  // see through guarded() itself). Defined in sql_util.h.
  template <typename F>
  std::invoke_result_t<F&> guardedLocked(const std::string& what, F&& body) REQUIRES(mu_);
  // The last two throw on failure and need an open transaction.
  Result<std::optional<AgentRecord>> findAgentLocked(const std::string& agent_id) REQUIRES(mu_);
  void writeFactsLocked(const std::string& agent_id, int64_t seq, const AgentFactsUpdate& facts)
      REQUIRES(mu_);
  void appendOutagesLocked(const std::string& agent_id, const std::vector<OutageReport>& outages)
      REQUIRES(mu_);
  // Inside appendPresenceEvents' transaction; throw on failure (sql_webhooks.cc). Put the
  // event announcing alert `alert_id` (as it now stands) or the health change into the outbox
  // of every webhook that wants it.
  void enqueueAlertEventLocked(const std::string& event_type, int64_t alert_id, int64_t at_ms)
      REQUIRES(mu_);
  void enqueueHealthEventLocked(const HealthRecord& health) REQUIRES(mu_);
  // When an alert event of `tenant_id`'s workstation at `at_ms` is to be sent: nullopt at once
  // (no business hours, open now, or no opening to wait for), else the next opening
  // (collector/core/business_hours.h). Throws on a store failure.
  std::optional<int64_t> businessOpeningLocked(int64_t tenant_id, int64_t at_ms) REQUIRES(mu_);
  // Runs `enqueue` inside a savepoint: if it throws anything but a conflict (which fails the
  // whole transaction, to be run again), its writes are rolled back, the failure counted and
  // logged, and the transaction goes on.
  void enqueueIsolatedLocked(const std::string& what, const std::function<void()>& enqueue)
      REQUIRES(mu_);
  // enqueueIsolatedLocked as a callable, for the outbox's helpers. REQUIRES: mu_ held while
  // it is called.
  std::function<void(const std::string&, const std::function<void()>&)> isolatedEnqueue();

  const std::unique_ptr<sql::Backend> backend_;
  Mutex mu_;
  std::unique_ptr<Poco::Data::Session> session_ GUARDED_BY(mu_);
  bool writer_failed_ GUARDED_BY(mu_) = false;  // see ReadConnection::failed
  std::function<void()> write_hook_ GUARDED_BY(mu_);
  std::function<void(const std::string&)> outbox_failure_log_ GUARDED_BY(mu_);
  std::atomic<uint64_t> outbox_failures_{0};
  // Parsed business hours by their JSON text (few: one per tenant that has them).
  std::map<std::string, std::shared_ptr<const BusinessHours>> business_hours_ GUARDED_BY(mu_);
  // Set once by openReaders(), before the store is shared; the connections guard themselves.
  std::unique_ptr<ReadConnection> probe_reader_;
  std::unique_ptr<ReadConnection> coordination_;
  std::vector<std::unique_ptr<ReadConnection>> admin_readers_;
  std::atomic<size_t> next_admin_reader_{0};
};

}  // namespace vigil::collector
