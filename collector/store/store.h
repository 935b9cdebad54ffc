#pragma once

// The collector's persistent state behind one interface, so a PostgreSQL implementation can
// replace the embedded SQLite one. Times are Unix milliseconds (wall clock).
//
// Secrets: enrollment and admin tokens are stored only as lower-case SHA-256 hex hashes.
// Agent secrets are stored as issued, because the collector needs them to verify each
// heartbeat's HMAC (docs/adr/0001-collector-state-and-secrets.md).
//
// Thread safety: implementations are safe to call from several threads.
// Errors are returned as Status; no exception leaves a Store.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"

namespace vigil::collector {

struct Tenant {
  int64_t id = 0;
  std::string name;
  int64_t created_at_ms = 0;
};

struct Site {
  int64_t id = 0;
  int64_t tenant_id = 0;
  std::string name;
  int64_t created_at_ms = 0;
};

struct EnrollmentToken {
  int64_t id = 0;
  int64_t site_id = 0;
  std::string token_hash;  // SHA-256 hex of the token; the token itself is never stored
  int64_t created_at_ms = 0;
  std::optional<int64_t> expires_at_ms;
  std::optional<int64_t> max_uses;
  int64_t uses = 0;
  bool revoked = false;

  // True if the token may enroll one more agent at `now_ms`.
  bool usableAt(int64_t now_ms) const;
};

struct AgentRecord {
  std::string id;
  int64_t site_id = 0;
  int64_t tenant_id = 0;  // derived from the site; ignored by createAgent
  std::string hostname;
  std::string os_name;
  std::string os_version;
  std::string arch;
  std::string agent_version;
  std::string secret;  // HMAC key of the agent's heartbeats
  int64_t enrolled_at_ms = 0;
  std::optional<int64_t> retired_at_ms;
  std::optional<int64_t> last_seen_at_ms;
  int64_t last_seq = 0;
  std::string boot_id;
  int64_t uptime_s = 0;
};

// The latest accepted heartbeat evidence of one agent, written behind in batches.
struct LastSeenUpdate {
  std::string agent_id;
  int64_t last_seen_at_ms = 0;
  int64_t last_seq = 0;
  std::string boot_id;
  int64_t uptime_s = 0;
  std::string agent_version;
  std::string hostname;
};

struct AdminToken {
  int64_t id = 0;
  std::string token_hash;  // SHA-256 hex
  std::string name;
  int64_t created_at_ms = 0;
  bool revoked = false;
};

// One status change of an agent, kept as its history. Status and reason use the API's
// spellings ("ONLINE", "fresh_evidence").
struct StatusChangeRecord {
  std::string agent_id;
  int64_t at_ms = 0;
  std::string from_status;
  std::string to_status;
  std::string reason;
  std::string degradation_reasons;  // comma-separated names active at the time, or empty
};

// One alert event, applied to the alert it concerns (docs/presence.md, "Alerts").
struct AlertChange {
  std::string kind;    // "device_offline", "site_unreachable", "flapping"
  std::string action;  // "opened", "resolved", "held", "released"
  std::optional<std::string> agent_id;
  std::optional<int64_t> site_id;
  int64_t at_ms = 0;
  std::optional<int64_t> held_since_ms;
  std::string held_reasons;  // comma-separated degradation reasons
  std::string note;
};

// An alert as stored. `state` is "open", "held", "resolved" or "released".
struct AlertRecord {
  int64_t id = 0;
  std::string kind;
  std::string state;
  std::optional<std::string> agent_id;
  std::optional<int64_t> site_id;
  int64_t opened_at_ms = 0;
  std::optional<int64_t> closed_at_ms;
  std::optional<int64_t> held_since_ms;
  std::string held_reasons;
  std::string note;
};

// A change of the collector's own health.
struct HealthRecord {
  int64_t at_ms = 0;
  bool degraded = false;
  std::string reasons;  // comma-separated degradation reasons, empty when healthy
};

// The latest recorded status of an agent, restored after a restart.
struct LastStatusRecord {
  std::string agent_id;
  std::string status;
  int64_t since_ms = 0;
};

class Store {
 public:
  virtual ~Store() = default;

  // Cheap liveness check of the underlying database.
  virtual Status ping() = 0;

  virtual Result<Tenant> createTenant(const std::string& name, int64_t now_ms) = 0;
  // Not-found is a value (nullopt), not an error.
  virtual Result<std::optional<Tenant>> findTenantByName(const std::string& name) = 0;

  virtual Result<Site> createSite(int64_t tenant_id, const std::string& name, int64_t now_ms) = 0;
  virtual Result<std::optional<Site>> findSiteByName(int64_t tenant_id,
                                                     const std::string& name) = 0;

  // `token.id` and `token.uses` are ignored; returns the stored token.
  virtual Result<EnrollmentToken> createEnrollmentToken(const EnrollmentToken& token) = 0;
  virtual Result<std::optional<EnrollmentToken>> findEnrollmentTokenByHash(
      const std::string& token_hash) = 0;
  virtual Result<std::vector<EnrollmentToken>> listEnrollmentTokens(int64_t site_id) = 0;

  // In one transaction: consumes one use of enrollment token `token_id` if it is still usable
  // at `now_ms`, and creates `agent` in the token's site (agent.site_id is ignored).
  // Fails with kPermissionDenied, creating nothing, if the token is not usable.
  virtual Result<AgentRecord> enrollAgent(int64_t token_id, const AgentRecord& agent,
                                          int64_t now_ms) = 0;
  virtual Result<std::optional<AgentRecord>> findAgent(const std::string& agent_id) = 0;
  // Agents ordered by id, those with id > `after_id` (all if empty), at most `limit`.
  virtual Result<std::vector<AgentRecord>> listAgents(const std::string& after_id,
                                                      size_t limit) = 0;
  // Writes all updates in one transaction; all or none are applied. An update never moves an
  // agent's last_seq backwards.
  virtual Status updateLastSeen(const std::vector<LastSeenUpdate>& updates) = 0;

  // Appends status changes, applies alert changes and appends health changes, all in one
  // transaction; all or none are applied. An alert change applies to the latest alert of the
  // same kind and subject that is not closed: "opened" turns a held one open (keeping
  // held_since) or creates one; "held" creates a held one; "released" closes a held one;
  // "resolved" closes an open or held one.
  virtual Status appendPresenceEvents(const std::vector<StatusChangeRecord>& changes,
                                      const std::vector<AlertChange>& alerts,
                                      const std::vector<HealthRecord>& health) = 0;
  // The agent's status changes, newest first, at most `limit`.
  virtual Result<std::vector<StatusChangeRecord>> listStatusChanges(const std::string& agent_id,
                                                                    size_t limit) = 0;
  // Each agent's latest status change.
  virtual Result<std::vector<LastStatusRecord>> listLastStatuses() = 0;
  // Alerts, newest first, at most `limit`; only those not closed if `open_only`.
  virtual Result<std::vector<AlertRecord>> listAlerts(bool open_only, size_t limit) = 0;
  // The collector's health changes, newest first, at most `limit`.
  virtual Result<std::vector<HealthRecord>> listHealthHistory(size_t limit) = 0;

  virtual Result<AdminToken> createAdminToken(const std::string& token_hash,
                                              const std::string& name, int64_t now_ms) = 0;
  virtual Result<std::vector<AdminToken>> listAdminTokens() = 0;
};

}  // namespace vigil::collector
