#pragma once

#include <memory>
#include <mutex>
#include <string>

#include "collector/store/store.h"

namespace Poco::Data {
class Session;
}

namespace vigil::collector {

// The embedded Store: one SQLite database `<data_dir>/vigil.db` in WAL mode, opened through
// Poco::Data. One connection, serialised by a mutex; enough for the write-behind design, where
// heartbeats touch the database only through periodic batches.
class SqliteStore final : public Store {
 public:
  static constexpr char kDatabaseFileName[] = "vigil.db";
  // Latest schema version this build knows; a database with a newer one is refused.
  static int latestSchemaVersion();

  // Creates `data_dir` (mode 0700) and the database (mode 0600) if missing, enforces those
  // modes, configures the connection and applies pending migrations.
  static Result<std::unique_ptr<SqliteStore>> open(const std::string& data_dir);

  ~SqliteStore() override;
  SqliteStore(const SqliteStore&) = delete;
  SqliteStore& operator=(const SqliteStore&) = delete;

  Result<int> schemaVersion();
  const std::string& databasePath() const { return db_path_; }

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
  Result<std::vector<StatusChangeRecord>> listStatusChanges(const std::string& agent_id,
                                                            size_t limit) override;
  Result<std::vector<LastStatusRecord>> listLastStatuses() override;
  Result<std::vector<AlertRecord>> listAlerts(bool open_only, size_t limit) override;
  Result<std::vector<HealthRecord>> listHealthHistory(size_t limit) override;
  Result<AdminToken> createAdminToken(const std::string& token_hash, const std::string& name,
                                      int64_t now_ms) override;
  Result<std::vector<AdminToken>> listAdminTokens() override;

 private:
  SqliteStore(std::string db_path, std::unique_ptr<Poco::Data::Session> session);

  Status configureConnection();
  Status migrate();
  // REQUIRES: mu_ held. The last two throw on failure and need an open transaction.
  Result<std::optional<AgentRecord>> findAgentLocked(const std::string& agent_id);
  void writeFactsLocked(const std::string& agent_id, int64_t seq, const AgentFactsUpdate& facts);
  void appendOutagesLocked(const std::string& agent_id, const std::vector<OutageReport>& outages);

  const std::string db_path_;
  std::mutex mu_;
  std::unique_ptr<Poco::Data::Session> session_;  // guarded by mu_
};

}  // namespace vigil::collector
