#include "collector/store/sql_store.h"

#include <Poco/Data/RecordSet.h>
#include <Poco/Data/Session.h>
#include <Poco/Data/Statement.h>
#include <Poco/Exception.h>
#include <Poco/Nullable.h>

#include <algorithm>
#include <chrono>
#include <optional>
#include <stdexcept>
#include <system_error>
#include <utility>

#include "collector/store/schema.h"
#include "collector/store/sql_backend.h"
#include "collector/store/sql_util.h"
#include "common/crypto.h"
#include "common/json.h"

namespace vigil::collector {
namespace {

using namespace sql;  // NOLINT(google-build-using-namespace): the store's own helpers
using Poco::Data::RecordSet;
using Poco::Data::Session;
using Poco::Data::Statement;
using Poco::Data::Keywords::bind;
using Poco::Data::Keywords::into;
using Poco::Data::Keywords::now;
using Poco::Data::Keywords::use;

// The agent with that id, if any; throws (inside guarded()) on failure.
Result<std::optional<AgentRecord>> findAgentIn(Session& session, const std::string& agent_id) {
  Statement st(session);
  st << std::string(kAgentSelect) + " WHERE a.id = $1", bind(agent_id), now;
  RecordSet rs(st);
  if (rs.rowCount() == 0) return std::optional<AgentRecord>();
  return std::optional<AgentRecord>(agentAt(rs, 0));
}

// Columns of a StatusChangeRecord, in statusChangesIn()'s order.
constexpr const char* kStatusChangeSelect =
    "SELECT agent_id, at, from_status, to_status, reason, degradation_reasons, id, overdue_from"
    " FROM status_changes";

}  // namespace

namespace sql {

const char kAgentSelect[] =
    "SELECT a.id, a.site_id, s.tenant_id, a.hostname, a.os_name, a.os_version, a.arch,"
    " a.agent_version, a.secret, a.enrolled_at, a.retired_at, a.last_seen_at, a.last_seq,"
    " a.boot_id, a.uptime_s, a.config_hash, a.net_default_route, a.net_addresses,"
    " a.last_shutdown_reason, a.last_shutdown_at, a.agent_class"
    " FROM agents a JOIN sites s ON s.id = a.site_id";

AgentRecord agentAt(const RecordSet& rs, size_t row) {
  AgentRecord a;
  a.id = stringAt(rs, 0, row);
  a.site_id = intAt(rs, 1, row);
  a.tenant_id = intAt(rs, 2, row);
  a.hostname = stringAt(rs, 3, row);
  a.os_name = stringAt(rs, 4, row);
  a.os_version = stringAt(rs, 5, row);
  a.arch = stringAt(rs, 6, row);
  a.agent_version = stringAt(rs, 7, row);
  a.secret = stringAt(rs, 8, row);
  a.enrolled_at_ms = intAt(rs, 9, row);
  a.retired_at_ms = optionalIntAt(rs, 10, row);
  a.last_seen_at_ms = optionalIntAt(rs, 11, row);
  a.last_seq = intAt(rs, 12, row);
  a.boot_id = stringAt(rs, 13, row);
  a.uptime_s = intAt(rs, 14, row);
  a.config_hash = stringAt(rs, 15, row);
  if (!rs.isNull(16, row)) {
    a.net = AgentNetwork{intAt(rs, 16, row) != 0, json::parseStringArray(stringAt(rs, 17, row))};
  }
  a.last_shutdown_reason = stringAt(rs, 18, row);
  a.last_shutdown_at_ms = optionalIntAt(rs, 19, row);
  a.agent_class = agentClassFromName(stringAt(rs, 20, row)).value_or(AgentClass::kWorkstation);
  return a;
}

}  // namespace sql

int SqlStore::latestSchemaVersion() { return static_cast<int>(migrations().size()); }

Result<std::unique_ptr<SqlStore>> SqlStore::openSqlite(const std::string& data_dir) {
  return openSqliteAtSchemaVersion(data_dir, latestSchemaVersion());
}

Result<std::unique_ptr<SqlStore>> SqlStore::openSqliteAtSchemaVersion(const std::string& data_dir,
                                                                      int schema_version) {
  return open(sql::sqliteBackend(data_dir, kSqliteFileName), schema_version,
              /*admin_readers=*/3);
}

Result<std::unique_ptr<SqlStore>> SqlStore::openPostgres(const PostgresSettings& settings) {
  return openPostgresAtSchemaVersion(settings, latestSchemaVersion());
}

Result<std::unique_ptr<SqlStore>> SqlStore::openPostgresAtSchemaVersion(
    const PostgresSettings& settings, int schema_version) {
  return open(sql::postgresBackend(settings), schema_version, settings.admin_readers);
}

Result<std::unique_ptr<SqlStore>> SqlStore::open(const StoreSettings& settings,
                                                 const std::string& data_dir) {
  if (settings.backend == StoreSettings::Backend::kPostgresql) {
    return openPostgres(settings.postgresql);
  }
  return openSqlite(data_dir);
}

Result<std::unique_ptr<SqlStore>> SqlStore::open(Result<std::unique_ptr<sql::Backend>> backend,
                                                 int schema_version, size_t admin_readers) {
  if (!backend.ok()) return backend.error();
  std::unique_ptr<SqlStore> store(new SqlStore(std::move(backend.value())));
  {
    MutexLock lock(store->mu_);
    std::unique_ptr<Session> writer;
    Status connected = guarded("cannot open database " + store->location(), [&] {
      writer = store->backend_->connect(/*reader=*/false);
      return Status::okStatus();
    });
    if (!connected.ok()) return sql::classifyConnectFailure(connected);
    store->session_ = std::move(writer);
  }
  if (Status s = store->migrate(schema_version); !s.ok()) return s;
  if (Status s = store->openReaders(std::max<size_t>(admin_readers, 1)); !s.ok()) return s;
  return store;
}

SqlStore::SqlStore(std::unique_ptr<sql::Backend> backend) : backend_(std::move(backend)) {}

SqlStore::~SqlStore() {
  MutexLock lock(mu_);
  if (!session_) return;
  try {
    session_->close();
  } catch (...) {  // NOLINT(bugprone-empty-catch): closing is best effort in a destructor
  }
}

const char* SqlStore::backendName() const { return backend_->name(); }

const std::string& SqlStore::location() const { return backend_->location(); }

Status SqlStore::openReaders(size_t admin_readers) {
  auto open = [&](std::unique_ptr<ReadConnection>& reader, bool read_only) -> Status {
    std::unique_ptr<Session> session;
    Status opened = guarded("cannot open a connection to " + location(), [&] {
      session = backend_->connect(read_only);
      return Status::okStatus();
    });
    if (!opened.ok()) return opened;
    reader = std::make_unique<ReadConnection>();
    reader->read_only = read_only;
    MutexLock lock(reader->mu);
    reader->session = std::move(session);
    return Status::okStatus();
  };
  if (Status s = open(probe_reader_, true); !s.ok()) return s;
  if (Status s = open(coordination_, false); !s.ok()) return s;
  admin_readers_.resize(admin_readers);
  for (std::unique_ptr<ReadConnection>& reader : admin_readers_) {
    if (Status s = open(reader, true); !s.ok()) return s;
  }
  return Status::okStatus();
}

void SqlStore::setOutboxFailureLog(std::function<void(const std::string&)> log) {
  MutexLock lock(mu_);
  outbox_failure_log_ = std::move(log);
}

void SqlStore::enqueueIsolatedLocked(const std::string& what,
                                     const std::function<void()>& enqueue) {
  Session& s = *session_;
  s << "SAVEPOINT outbox_event", now;
  std::string failure;
  try {
    enqueue();
  } catch (const Poco::Exception& e) {
    if (backend_->isConflict(e)) throw;
    failure = e.displayText();
  } catch (const std::exception& e) {
    failure = e.what();
  }
  if (!failure.empty()) {
    // Throws if the connection is gone: then the whole write fails and is retried.
    s << "ROLLBACK TO SAVEPOINT outbox_event", now;
    ++outbox_failures_;
    if (outbox_failure_log_) {
      outbox_failure_log_("webhook event " + what + " left out of the outbox: " + failure);
    }
  }
  s << "RELEASE SAVEPOINT outbox_event", now;
}

std::function<void(const std::string&, const std::function<void()>&)> SqlStore::isolatedEnqueue() {
  return [this](const std::string& what, const std::function<void()>& enqueue)
             NO_THREAD_SAFETY_ANALYSIS { enqueueIsolatedLocked(what, enqueue); };
}

void SqlStore::setWriteHook(std::function<void()> hook) {
  MutexLock lock(mu_);
  write_hook_ = std::move(hook);
}

void SqlStore::runWriteHookLocked() {
  if (write_hook_) write_hook_();
}

Status SqlStore::migrate(int target_version) {
  MutexLock lock(mu_);
  return guardedLocked("cannot migrate database schema", [&]() REQUIRES(mu_) {
    Session& s = *session_;
    const auto schema_lock = backend_->lockSchema(s);
    s << "CREATE TABLE IF NOT EXISTS schema_version ("
         " version INTEGER PRIMARY KEY,"
         " applied_at BIGINT NOT NULL)",
        now;
    Poco::Nullable<Poco::Int64> current_raw;
    s << "SELECT MAX(version) FROM schema_version", into(current_raw), now;
    const int current = current_raw.isNull() ? 0 : static_cast<int>(current_raw.value());
    const int latest = latestSchemaVersion();
    if (current > latest) {
      return Status::failedPrecondition("database schema version " + std::to_string(current) +
                                        " is newer than this collector supports (" +
                                        std::to_string(latest) + ")");
    }
    for (int version = current + 1; version <= std::min(latest, target_version); ++version) {
      const int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                 std::chrono::system_clock::now().time_since_epoch())
                                 .count();
      backend_->applyMigration(s, version, migrations()[static_cast<size_t>(version - 1)], now_ms);
    }
    return Status::okStatus();
  });
}

Result<int> SqlStore::schemaVersion() {
  MutexLock lock(mu_);
  return guardedLocked("cannot read schema version", [&]() REQUIRES(mu_) -> Result<int> {
    Poco::Nullable<Poco::Int64> v;
    *session_ << "SELECT MAX(version) FROM schema_version", into(v), now;
    return v.isNull() ? 0 : static_cast<int>(v.value());
  });
}

Status SqlStore::ping() {
  return probeRead("database ping failed", [&](Session& session) {
    int one = 0;
    session << "SELECT 1", into(one), now;
    return one == 1 ? Status::okStatus() : Status::ioError("database ping returned no row");
  });
}

Result<Tenant> SqlStore::createTenant(const std::string& name, int64_t now_ms) {
  MutexLock lock(mu_);
  return guardedLocked("cannot create tenant", [&]() REQUIRES(mu_) -> Result<Tenant> {
    Tenant t;
    t.name = name;
    t.created_at_ms = now_ms;
    Poco::Int64 created = now_ms;
    Poco::Int64 id = 0;
    try {
      *session_ << "INSERT INTO tenants (name, created_at) VALUES ($1, $2) RETURNING id",
          bind(name), use(created), into(id), now;
    } catch (const Poco::Exception& e) {
      if (!backend_->isConstraintViolation(e)) throw;
      return Status::alreadyExists("a tenant named \"" + name + "\" exists");
    }
    t.id = id;
    return t;
  });
}

Result<std::optional<Tenant>> SqlStore::findTenantByName(const std::string& name) {
  MutexLock lock(mu_);
  return guardedLocked("cannot read tenant", [&]() REQUIRES(mu_) -> Result<std::optional<Tenant>> {
    Statement st(*session_);
    st << "SELECT id, name, created_at FROM tenants WHERE name = $1", bind(name), now;
    RecordSet rs(st);
    if (rs.rowCount() == 0) return std::optional<Tenant>();
    Tenant t;
    t.id = intAt(rs, 0, 0);
    t.name = stringAt(rs, 1, 0);
    t.created_at_ms = intAt(rs, 2, 0);
    return std::optional<Tenant>(t);
  });
}

Result<Site> SqlStore::createSite(int64_t tenant_id, const std::string& name, int64_t now_ms) {
  MutexLock lock(mu_);
  return guardedLocked("cannot create site", [&]() REQUIRES(mu_) -> Result<Site> {
    Poco::Int64 tenant = tenant_id;
    Poco::Int64 created = now_ms;
    std::string peer_key = newPeerKey();
    Poco::Int64 id = 0;
    try {
      *session_ << "INSERT INTO sites (tenant_id, name, created_at, peer_key)"
                   " VALUES ($1, $2, $3, $4) RETURNING id",
          use(tenant), bind(name), use(created), use(peer_key), into(id), now;
    } catch (const Poco::Exception& e) {
      if (!backend_->isConstraintViolation(e)) throw;
      // A taken name (UNIQUE (tenant_id, name)) or an unknown tenant (foreign key).
      return Status::alreadyExists("the tenant has a site named \"" + name +
                                   "\", or no longer exists");
    }
    return Site{id, tenant_id, name, now_ms, peer_key};
  });
}

Result<std::vector<Site>> SqlStore::listSites() {
  return adminRead("cannot list sites", [&](Session& session) -> Result<std::vector<Site>> {
    Statement st(session);
    st << "SELECT " + std::string(kSiteColumns) + " FROM sites ORDER BY id", now;
    RecordSet rs(st);
    std::vector<Site> out;
    out.reserve(rs.rowCount());
    for (size_t row = 0; row < rs.rowCount(); ++row) out.push_back(siteAt(rs, row));
    return out;
  });
}

Result<std::optional<Site>> SqlStore::findSiteByName(int64_t tenant_id, const std::string& name) {
  MutexLock lock(mu_);
  return guardedLocked("cannot read site", [&]() REQUIRES(mu_) -> Result<std::optional<Site>> {
    Poco::Int64 tenant = tenant_id;
    Statement st(*session_);
    st << "SELECT " + std::string(kSiteColumns) + " FROM sites WHERE tenant_id = $1 AND name = $2",
        use(tenant), bind(name), now;
    RecordSet rs(st);
    if (rs.rowCount() == 0) return std::optional<Site>();
    return std::optional<Site>(siteAt(rs, 0));
  });
}

// Enrollment tokens: sql_tenancy.cc.

Result<AgentRecord> SqlStore::enrollAgent(int64_t token_id, const AgentRecord& agent,
                                          int64_t now_ms) {
  MutexLock lock(mu_);
  return guardedLocked("cannot enroll agent", [&]() REQUIRES(mu_) -> Result<AgentRecord> {
    Session& s = *session_;
    Transaction tx(s);
    // READ COMMITTED: every enrollment with one token updates the token's row, and through
    // several collectors of a cluster SERIALIZABLE failed most of a bulk rollout's concurrent
    // enrollments. The conditional update below is what keeps the token's limits: it waits
    // for a concurrent one and checks the row's latest version, so no use is counted twice and
    // none past max_uses.
    const std::string read_committed = backend_->readCommittedSql();
    if (!read_committed.empty()) s << read_committed, now;
    Poco::Int64 token = token_id;
    Poco::Int64 at = now_ms;
    Statement consume(s);
    consume << "UPDATE enrollment_tokens SET uses = uses + 1"
               " WHERE id = $1 AND revoked = 0"
               " AND (max_uses IS NULL OR uses < max_uses)"
               " AND (expires_at IS NULL OR expires_at > $2)",
        use(token), use(at);
    if (consume.execute() != 1) {
      return Status::permissionDenied("enrollment token is not usable");
    }
    Poco::Int64 enrolled = agent.enrolled_at_ms;
    const AgentClass agent_class = agent.agent_class == AgentClass::kServer
                                       ? AgentClass::kServer
                                       : agentClassFromFacts(agent.os_name, agent.os_version);
    s << "INSERT INTO agents (id, site_id, hostname, os_name, os_version, arch, agent_version,"
         " secret, enrolled_at, agent_class)"
         " SELECT $1, site_id, $2, $3, $4, $5, $6, $7, $8, $9 FROM enrollment_tokens WHERE id = "
         "$10",
        bind(agent.id), bind(agent.hostname), bind(agent.os_name), bind(agent.os_version),
        bind(agent.arch), bind(agent.agent_version), bind(agent.secret), use(enrolled),
        bind(std::string(agentClassName(agent_class))), use(token), now;
    auto stored = findAgentLocked(agent.id);
    if (!stored.ok()) return stored.error();
    if (!stored.value()) return Status::internal("enrolled agent vanished");
    tx.commit();
    return *stored.value();
  });
}

Result<std::optional<AgentRecord>> SqlStore::findAgentLocked(const std::string& agent_id) {
  return findAgentIn(*session_, agent_id);
}

Result<std::optional<AgentRecord>> SqlStore::findAgent(const std::string& agent_id) {
  return adminRead("cannot read agent",
                   [&](Session& session) { return findAgentIn(session, agent_id); });
}

Result<std::vector<AgentRecord>> SqlStore::listAgents(const std::string& after_id, size_t limit) {
  MutexLock lock(mu_);
  return guardedLocked(
      "cannot list agents", [&]() REQUIRES(mu_) -> Result<std::vector<AgentRecord>> {
        Poco::Int64 max_rows = static_cast<Poco::Int64>(limit);
        Statement st(*session_);
        st << std::string(kAgentSelect) + " WHERE a.id > $1 ORDER BY a.id LIMIT $2", bind(after_id),
            use(max_rows), now;
        RecordSet rs(st);
        std::vector<AgentRecord> out;
        out.reserve(rs.rowCount());
        for (size_t row = 0; row < rs.rowCount(); ++row) out.push_back(agentAt(rs, row));
        return out;
      });
}

Status SqlStore::updateLastSeen(const std::vector<LastSeenUpdate>& updates) {
  if (updates.empty()) return Status::okStatus();
  MutexLock lock(mu_);
  // In a cluster every collector writes the rows of the agents it hears, so batches of several
  // collectors overlap. Each row is written in agent id order, so that two batches lock their
  // common rows in the same order and cannot deadlock; and READ COMMITTED, where a row updated
  // by a concurrent batch is waited for and its latest version checked against the sequence
  // guard, instead of SERIALIZABLE failing the whole batch. Every statement here is guarded by
  // the agent's sequence number, so the rows end as the newest heartbeat left them either way.
  std::vector<const LastSeenUpdate*> ordered;
  ordered.reserve(updates.size());
  for (const LastSeenUpdate& u : updates) ordered.push_back(&u);
  std::sort(ordered.begin(), ordered.end(), [](const LastSeenUpdate* a, const LastSeenUpdate* b) {
    return a->agent_id < b->agent_id;
  });
  return guardedLocked("cannot write last-seen batch", [&]() REQUIRES(mu_) {
    Session& s = *session_;
    Transaction tx(s);
    const std::string read_committed = backend_->readCommittedSql();
    if (!read_committed.empty()) s << read_committed, now;
    Poco::Int64 seen = 0, seq = 0, uptime = 0, seq_guard = 0;
    // Null: unchanged since the previous write, the stored value stays.
    Poco::Nullable<std::string> boot, version, host;
    std::string id;
    Statement st(s);
    st << "UPDATE agents SET last_seen_at = $1, last_seq = $2, boot_id = COALESCE($3, boot_id),"
          " uptime_s = $4, agent_version = COALESCE($5, agent_version),"
          " hostname = COALESCE($6, hostname) WHERE id = $7 AND last_seq <= $8",
        use(seen), use(seq), use(boot), use(uptime), use(version), use(host), use(id),
        use(seq_guard);
    auto nullable = [](const std::optional<std::string>& value) {
      return value ? Poco::Nullable<std::string>(*value) : Poco::Nullable<std::string>();
    };
    bool executed = false;
    for (const LastSeenUpdate* update : ordered) {
      const LastSeenUpdate& u = *update;
      seen = u.last_seen_at_ms;
      seq = u.last_seq;
      seq_guard = u.last_seq;
      uptime = u.uptime_s;
      boot = nullable(u.boot_id);
      version = nullable(u.agent_version);
      host = nullable(u.hostname);
      id = u.agent_id;
      executeAgain(st, executed);
      executed = true;
      if (u.facts) writeFactsLocked(u.agent_id, u.last_seq, *u.facts);
      if (u.shutdown_reason) {
        Poco::Int64 at = u.shutdown_at_ms;
        s << "UPDATE agents SET last_shutdown_reason = $1, last_shutdown_at = $2 WHERE id = $3",
            bind(*u.shutdown_reason), use(at), bind(u.agent_id), now;
      }
      if (!u.outages.empty()) appendOutagesLocked(u.agent_id, u.outages);
    }
    runWriteHookLocked();
    tx.commit();
    return Status::okStatus();
  });
}

void SqlStore::writeFactsLocked(const std::string& agent_id, int64_t seq,
                                const AgentFactsUpdate& facts) {
  Poco::Int64 seq_guard = seq;
  // Null: not reported since the previous write, the stored value stays.
  Poco::Nullable<std::string> os_name, os_version, config_hash, addresses;
  Poco::Nullable<Poco::Int64> default_route;
  if (facts.os_name) os_name = *facts.os_name;
  if (facts.os_version) os_version = *facts.os_version;
  if (facts.config_hash) config_hash = *facts.config_hash;
  if (facts.net) {
    default_route = Poco::Int64{facts.net->default_route ? 1 : 0};
    addresses = json::printStringArray(facts.net->addresses);
  }
  *session_ << "UPDATE agents SET os_name = COALESCE($1, os_name),"
               " os_version = COALESCE($2, os_version), config_hash = COALESCE($3, config_hash),"
               " net_default_route = COALESCE($4, net_default_route),"
               " net_addresses = COALESCE($5, net_addresses) WHERE id = $6 AND last_seq <= $7",
      use(os_name), use(os_version), use(config_hash), use(default_route), use(addresses),
      bind(agent_id), use(seq_guard), now;
}

void SqlStore::appendOutagesLocked(const std::string& agent_id,
                                   const std::vector<OutageReport>& outages) {
  Session& s = *session_;
  Poco::Int64 from = 0, to = 0, reported = 0;
  std::string cause;
  Statement insert(s);
  insert << "INSERT INTO outage_reports (agent_id, from_ms, to_ms, cause, reported_at_ms)"
            " VALUES ($1, $2, $3, $4, $5)",
      bind(agent_id), use(from), use(to), use(cause), use(reported);
  bool executed = false;
  for (const OutageReport& o : outages) {
    from = o.from_ms;
    to = o.to_ms;
    cause = o.cause;
    reported = o.reported_at_ms;
    executeAgain(insert, executed);
    executed = true;
  }
  Poco::Int64 keep = static_cast<Poco::Int64>(kOutageReportsKeptPerAgent);
  s << "DELETE FROM outage_reports WHERE agent_id = $1 AND id NOT IN"
       " (SELECT id FROM outage_reports WHERE agent_id = $2 ORDER BY id DESC LIMIT $3)",
      bind(agent_id), bind(agent_id), use(keep), now;
}

Result<std::vector<OutageReport>> SqlStore::listOutageReports(const std::string& agent_id,
                                                              size_t limit) {
  return adminRead(
      "cannot list outage reports", [&](Session& session) -> Result<std::vector<OutageReport>> {
        Poco::Int64 max_rows = static_cast<Poco::Int64>(limit);
        Statement st(session);
        st << "SELECT agent_id, from_ms, to_ms, cause, reported_at_ms FROM outage_reports"
              " WHERE agent_id = $1 ORDER BY id DESC LIMIT $2",
            bind(agent_id), use(max_rows), now;
        RecordSet rs(st);
        std::vector<OutageReport> out;
        out.reserve(rs.rowCount());
        for (size_t row = 0; row < rs.rowCount(); ++row) {
          out.push_back(OutageReport{stringAt(rs, 0, row), intAt(rs, 1, row), intAt(rs, 2, row),
                                     stringAt(rs, 3, row), intAt(rs, 4, row)});
        }
        return out;
      });
}

namespace {

// What an applied alert change announces: the alert it touched and the webhook event type.
struct AlertEvent {
  int64_t alert_id = 0;
  std::string event_type;  // "alert.opened", "alert.held", "alert.released", "alert.resolved"
};

// Applies one alert change inside an open transaction (see Store::appendPresenceEvents).
// Returns the event to announce, or nullopt if the change changed nothing (an "opened" for an
// alert already open, a "released" for one not held, ...).
std::optional<AlertEvent> applyAlertChange(Session& s, const AlertChange& change) {
  Poco::Nullable<std::string> agent = toNullable(change.agent_id);
  Poco::Nullable<Poco::Int64> site = toNullable(change.site_id);
  Poco::Nullable<Poco::Int64> held_since = toNullable(change.held_since_ms);
  Poco::Int64 at = change.at_ms;
  // The latest alert of this kind and subject that is not closed, if any.
  Poco::Nullable<Poco::Int64> current_id;
  std::string current_state;
  {
    Statement st(s);
    st << "SELECT id, state FROM alerts WHERE kind = $1 AND agent_id IS NOT DISTINCT FROM $2"
          " AND site_id IS NOT DISTINCT FROM $3"
          " AND state IN ('open', 'held') ORDER BY id DESC LIMIT 1",
        bind(change.kind), use(agent), use(site), now;
    RecordSet rs(st);
    if (rs.rowCount() > 0) {
      current_id = intAt(rs, 0, 0);
      current_state = stringAt(rs, 1, 0);
    }
  }
  auto insert = [&](const std::string& state) -> int64_t {
    // The tenant is fixed at creation: of the agent's site, or of the site.
    Poco::Int64 id = 0;
    s << "INSERT INTO alerts (kind, state, agent_id, site_id, opened_at, held_since,"
         " held_reasons, note, tenant_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, COALESCE("
         " (SELECT st.tenant_id FROM agents a JOIN sites st ON st.id = a.site_id WHERE a.id = $9),"
         " (SELECT st.tenant_id FROM sites st WHERE st.id = $10), 0)) RETURNING id",
        bind(change.kind), bind(state), use(agent), use(site), use(at), use(held_since),
        bind(change.held_reasons), bind(change.note), use(agent), use(site), into(id), now;
    return id;
  };
  const std::string event_type = "alert." + change.action;
  if (change.action == "opened") {
    if (current_id.isNull()) return AlertEvent{insert("open"), event_type};
    if (current_state == "held") {
      Poco::Int64 id = current_id.value();
      s << "UPDATE alerts SET state = 'open', opened_at = $1,"
           " held_since = COALESCE(held_since, $2), held_reasons = $3, note = $4 WHERE id = $5",
          use(at), use(held_since), bind(change.held_reasons), bind(change.note), use(id), now;
      return AlertEvent{id, event_type};
    }
  } else if (change.action == "held") {
    if (current_id.isNull()) return AlertEvent{insert("held"), event_type};
  } else if (change.action == "released" || change.action == "resolved") {
    if (!current_id.isNull() && (change.action == "resolved" || current_state == "held")) {
      Poco::Int64 id = current_id.value();
      std::string state = change.action;
      s << "UPDATE alerts SET state = $1, closed_at = $2,"
           " note = CASE WHEN $3 = '' THEN note ELSE $4 END WHERE id = $5",
          bind(state), use(at), bind(change.note), bind(change.note), use(id), now;
      return AlertEvent{id, event_type};
    }
  }
  return std::nullopt;
}

}  // namespace

Status SqlStore::appendPresenceEvents(const std::vector<StatusChangeRecord>& changes,
                                      const std::vector<AlertChange>& alerts,
                                      const std::vector<HealthRecord>& health) {
  return appendFencedPresenceEvents(LeaseFence{}, changes, alerts, health);
}

Status SqlStore::appendFencedPresenceEvents(const LeaseFence& fence,
                                            const std::vector<StatusChangeRecord>& changes,
                                            const std::vector<AlertChange>& alerts,
                                            const std::vector<HealthRecord>& health) {
  if (changes.empty() && alerts.empty() && health.empty()) return Status::okStatus();
  MutexLock lock(mu_);
  return guardedLocked("cannot write presence events", [&]() REQUIRES(mu_) -> Status {
    Session& s = *session_;
    Transaction tx(s);
    if (!fence.owner.empty() && !fence.leases.empty()) {
      // First in the transaction: its snapshot, and the lock on the leases, come before any
      // write.
      Query q("SELECT shard FROM shard_leases WHERE owner = ? AND expires_at > " +
              std::string(backend_->clockMillisSql()));
      q.param(fence.owner).heldLeases(fence.leases).sql(backend_->shareLockClause());
      Statement st(s);
      q.execute(st);
      RecordSet rs(st);
      if (rs.rowCount() != fence.leases.size()) {
        return Status::failedPrecondition(
            "fenced: " + std::to_string(fence.leases.size() - rs.rowCount()) + " of " +
            std::to_string(fence.leases.size()) + " shard leases of " + fence.owner +
            " are no longer held; nothing written");
      }
    }
    if (!changes.empty()) {
      std::string agent, from, to, reason, degradation;
      Poco::Int64 at = 0;
      Poco::Nullable<Poco::Int64> overdue_from;
      Statement st(s);
      st << "INSERT INTO status_changes (agent_id, at, from_status, to_status, reason,"
            " degradation_reasons, overdue_from) VALUES ($1, $2, $3, $4, $5, $6, $7)",
          use(agent), use(at), use(from), use(to), use(reason), use(degradation), use(overdue_from);
      bool executed = false;
      for (const StatusChangeRecord& c : changes) {
        agent = c.agent_id;
        at = c.at_ms;
        from = c.from_status;
        to = c.to_status;
        reason = c.reason;
        degradation = c.degradation_reasons;
        overdue_from = toNullable(c.overdue_from_ms);
        executeAgain(st, executed);
        executed = true;
      }
    }
    // Each alert and health change enters the webhook outbox in this same transaction, each
    // webhook's entry on its own (enqueueIsolatedLocked).
    for (const AlertChange& change : alerts) {
      if (std::optional<AlertEvent> event = applyAlertChange(s, change)) {
        enqueueAlertEventLocked(event->event_type, event->alert_id, change.at_ms);
      }
    }
    for (const HealthRecord& h : health) {
      Poco::Int64 at = h.at_ms;
      int degraded = h.degraded ? 1 : 0;
      Poco::Nullable<Poco::Int64> blind_from = toNullable(h.blind_from_ms);
      s << "INSERT INTO health_changes (at, degraded, reasons, blind_from, node)"
           " VALUES ($1, $2, $3, $4, $5)",
          use(at), use(degraded), bind(h.reasons), use(blind_from), bind(h.node), now;
      enqueueHealthEventLocked(h);
    }
    runWriteHookLocked();
    tx.commit();
    return Status::okStatus();
  });
}

Result<std::vector<StatusChangeRecord>> SqlStore::listStatusChanges(const std::string& agent_id,
                                                                    int64_t before_id,
                                                                    size_t limit) {
  return adminRead("cannot list status changes",
                   [&](Session& session) -> Result<std::vector<StatusChangeRecord>> {
                     Poco::Int64 before = before_id > 0 ? before_id : INT64_MAX;
                     Poco::Int64 max_rows = static_cast<Poco::Int64>(limit);
                     Statement st(session);
                     st << std::string(kStatusChangeSelect) +
                               " WHERE agent_id = $1 AND id < $2 ORDER BY id DESC LIMIT $3",
                         bind(agent_id), use(before), use(max_rows), now;
                     RecordSet rs(st);
                     return sql::statusChangesIn(rs);
                   });
}

Result<std::vector<StatusChangeRecord>> SqlStore::latestStatusChanges(
    const std::vector<std::string>& agent_ids) {
  if (agent_ids.empty()) return std::vector<StatusChangeRecord>{};
  auto read = [&](Session& session) -> Result<std::vector<StatusChangeRecord>> {
    Query q(std::string(kStatusChangeSelect) +
            " WHERE id IN (SELECT MAX(l.id) FROM status_changes l WHERE 1 = 1");
    q.inList("l.agent_id", agent_ids).sql(" GROUP BY l.agent_id)");
    Statement st(session);
    q.execute(st);
    RecordSet rs(st);
    return sql::statusChangesIn(rs);
  };
  return adminRead("cannot read latest statuses", read);
}

Result<std::map<std::string, size_t>> SqlStore::countLatestStatuses(
    std::optional<int64_t> tenant_id, std::optional<int64_t> site_id) {
  return adminRead("cannot count statuses",
                   [&](Session& session) -> Result<std::map<std::string, size_t>> {
                     // One index probe (status_changes_agent) per agent for its latest change.
                     Query q(
                         "SELECT COALESCE(c.to_status, 'UNKNOWN'), COUNT(*) FROM agents a"
                         " JOIN sites s ON s.id = a.site_id"
                         " LEFT JOIN status_changes c ON c.id ="
                         " (SELECT MAX(l.id) FROM status_changes l WHERE l.agent_id = a.id)"
                         " WHERE a.retired_at IS NULL");
                     if (tenant_id) q.sql(" AND s.tenant_id = ?").param(*tenant_id);
                     if (site_id) q.sql(" AND a.site_id = ?").param(*site_id);
                     q.sql(" GROUP BY COALESCE(c.to_status, 'UNKNOWN')");
                     Statement st(session);
                     q.execute(st);
                     RecordSet rs(st);
                     std::map<std::string, size_t> counts;
                     for (size_t row = 0; row < rs.rowCount(); ++row) {
                       counts[stringAt(rs, 0, row)] += static_cast<size_t>(intAt(rs, 1, row));
                     }
                     return counts;
                   });
}

Result<std::vector<LastStatusRecord>> SqlStore::listLastStatuses() {
  MutexLock lock(mu_);
  return guardedLocked(
      "cannot list last statuses", [&]() REQUIRES(mu_) -> Result<std::vector<LastStatusRecord>> {
        Statement st(*session_);
        st << "SELECT c.agent_id, c.to_status, c.at FROM status_changes c"
              " JOIN (SELECT agent_id, MAX(id) AS id FROM status_changes GROUP BY agent_id) latest"
              " ON latest.id = c.id",
            now;
        RecordSet rs(st);
        std::vector<LastStatusRecord> out;
        out.reserve(rs.rowCount());
        for (size_t row = 0; row < rs.rowCount(); ++row) {
          out.push_back(
              LastStatusRecord{stringAt(rs, 0, row), stringAt(rs, 1, row), intAt(rs, 2, row)});
        }
        return out;
      });
}

}  // namespace vigil::collector
