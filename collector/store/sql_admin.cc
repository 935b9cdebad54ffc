// SqlStore: agents, alerts, health history and maintenance windows for the admin API.

#include <Poco/Data/RecordSet.h>
#include <Poco/Data/Session.h>
#include <Poco/Data/Statement.h>

#include <string>
#include <utility>
#include <vector>

#include "collector/store/sql_store.h"
#include "collector/store/sql_util.h"

namespace vigil::collector {
namespace {

using namespace sql;  // NOLINT(google-build-using-namespace): the store's own helpers
using Poco::Data::Statement;
using Poco::Data::Keywords::bind;
using Poco::Data::Keywords::into;
using Poco::Data::Keywords::now;
using Poco::Data::Keywords::use;

constexpr char kAlertSelect[] =
    "SELECT id, kind, state, agent_id, site_id, opened_at, closed_at, held_since, held_reasons,"
    " note, tenant_id, acknowledged_at, acknowledged_by, closed_by FROM alerts";

AlertRecord alertAt(const RecordSet& rs, size_t row) {
  AlertRecord a;
  a.id = intAt(rs, 0, row);
  a.kind = stringAt(rs, 1, row);
  a.state = stringAt(rs, 2, row);
  a.agent_id = optionalStringAt(rs, 3, row);
  a.site_id = optionalIntAt(rs, 4, row);
  a.opened_at_ms = intAt(rs, 5, row);
  a.closed_at_ms = optionalIntAt(rs, 6, row);
  a.held_since_ms = optionalIntAt(rs, 7, row);
  a.held_reasons = stringAt(rs, 8, row);
  a.note = stringAt(rs, 9, row);
  a.tenant_id = intAt(rs, 10, row);
  a.acknowledged_at_ms = optionalIntAt(rs, 11, row);
  a.acknowledged_by = stringAt(rs, 12, row);
  a.closed_by = stringAt(rs, 13, row);
  return a;
}

constexpr char kWindowSelect[] =
    "SELECT id, tenant_id, scope, site_id, agent_id, starts_at, duration_s, recurrence, note,"
    " created_at, created_by FROM maintenance_windows";

MaintenanceWindowRecord windowAt(const RecordSet& rs, size_t row) {
  MaintenanceWindowRecord w;
  w.id = intAt(rs, 0, row);
  w.tenant_id = intAt(rs, 1, row);
  w.scope = stringAt(rs, 2, row);
  w.site_id = optionalIntAt(rs, 3, row);
  w.agent_id = optionalStringAt(rs, 4, row);
  w.starts_at_ms = intAt(rs, 5, row);
  w.duration_s = intAt(rs, 6, row);
  w.recurrence = stringAt(rs, 7, row);
  w.note = stringAt(rs, 8, row);
  w.created_at_ms = intAt(rs, 9, row);
  w.created_by = stringAt(rs, 10, row);
  return w;
}

// " AND ..." conditions restricting a query of the alerts table to `filter`.
void restrictAlerts(Query& q, const AlertFilter& filter) {
  q.inScope("tenant_id", filter.scope);
  if (filter.tenant_id) q.sql(" AND tenant_id = ?").param(*filter.tenant_id);
  if (filter.site_id) {
    // The site's own alerts and those of its agents.
    q.sql(" AND (site_id = ? OR agent_id IN (SELECT id FROM agents WHERE site_id = ?))")
        .param(*filter.site_id)
        .param(*filter.site_id);
  }
  if (filter.agent_id) q.sql(" AND agent_id = ?").param(*filter.agent_id);
  if (!filter.states.empty()) {
    q.sql(" AND state IN (");
    for (size_t i = 0; i < filter.states.size(); ++i) {
      q.sql(i == 0 ? "?" : ", ?").param(filter.states[i]);
    }
    q.sql(")");
  }
  if (filter.kind) q.sql(" AND kind = ?").param(*filter.kind);
  if (filter.opened_from_ms) q.sql(" AND opened_at >= ?").param(*filter.opened_from_ms);
  if (filter.opened_until_ms) q.sql(" AND opened_at < ?").param(*filter.opened_until_ms);
}

}  // namespace

Result<std::vector<AgentRecord>> SqlStore::listAgentsPage(const AgentFilter& filter,
                                                          const AgentPageKey& after, size_t limit) {
  return adminRead("cannot list agents", [&](Session& session) -> Result<std::vector<AgentRecord>> {
    // No index on last_seen_at: the write-behind updates it for every heartbeat, and an index
    // would cost every batch; the ordered listing sorts the filtered rows instead.
    constexpr char kLastSeen[] = "COALESCE(a.last_seen_at, -1)";
    static_assert(AgentPageKey::kNeverSeen == -1);
    Query q(std::string(kAgentSelect) + " WHERE 1 = 1");
    if (after.order == AgentOrder::kId) {
      q.sql(" AND a.id > ?").param(after.id);
    } else if (!after.atStart()) {
      const char* beyond = after.order == AgentOrder::kLastSeenOldestFirst ? " > ?" : " < ?";
      const int64_t seen = after.last_seen_ms.value_or(AgentPageKey::kNeverSeen);
      q.sql(std::string(" AND (") + kLastSeen + beyond + " OR (" + kLastSeen +
            " = ? AND a.id > ?))")
          .param(seen)
          .param(seen)
          .param(after.id);
    }
    q.inScope("s.tenant_id", filter.scope);
    if (filter.tenant_id) q.sql(" AND s.tenant_id = ?").param(*filter.tenant_id);
    if (filter.site_id) q.sql(" AND a.site_id = ?").param(*filter.site_id);
    if (!filter.text.empty()) {
      // The hostname or the id contains the text.
      q.sql(" AND (1 = 0").containsText("a.hostname", filter.text, " OR ");
      q.containsText("a.id", filter.text, " OR ").sql(")");
    }
    if (!filter.include_retired) q.sql(" AND a.retired_at IS NULL");
    switch (after.order) {
      case AgentOrder::kId:
        q.sql(" ORDER BY a.id");
        break;
      case AgentOrder::kLastSeenOldestFirst:
        q.sql(std::string(" ORDER BY ") + kLastSeen + ", a.id");
        break;
      case AgentOrder::kLastSeenNewestFirst:
        q.sql(std::string(" ORDER BY ") + kLastSeen + " DESC, a.id");
        break;
    }
    q.sql(" LIMIT ?").param(static_cast<int64_t>(limit));
    Statement st(session);
    q.execute(st);
    RecordSet rs(st);
    std::vector<AgentRecord> out;
    out.reserve(rs.rowCount());
    for (size_t row = 0; row < rs.rowCount(); ++row) out.push_back(agentAt(rs, row));
    return out;
  });
}

Result<bool> SqlStore::retireAgent(const std::string& agent_id, int64_t now_ms) {
  MutexLock lock(mu_);
  return guardedLocked("cannot retire agent", [&]() REQUIRES(mu_) -> Result<bool> {
    Poco::Int64 at = now_ms;
    Statement st(*session_);
    st << "UPDATE agents SET retired_at = COALESCE(retired_at, $1) WHERE id = $2", use(at),
        bind(agent_id);
    return st.execute() > 0;
  });
}

Result<bool> SqlStore::deleteAgent(const std::string& agent_id) {
  MutexLock lock(mu_);
  return guardedLocked("cannot delete agent", [&]() REQUIRES(mu_) -> Result<bool> {
    Session& s = *session_;
    Transaction tx(s);
    // What refers to the agent first, then the agent.
    s << "DELETE FROM status_changes WHERE agent_id = $1", bind(agent_id), now;
    s << "DELETE FROM outage_reports WHERE agent_id = $1", bind(agent_id), now;
    s << "DELETE FROM maintenance_windows WHERE agent_id = $1", bind(agent_id), now;
    s << "DELETE FROM alerts WHERE agent_id = $1", bind(agent_id), now;
    Statement agent(s);
    agent << "DELETE FROM agents WHERE id = $1", bind(agent_id);
    const bool found = agent.execute() > 0;
    tx.commit();
    return found;
  });
}

Result<std::optional<AlertRecord>> SqlStore::findAlert(int64_t alert_id) {
  return adminRead("cannot read alert",
                   [&](Session& session) -> Result<std::optional<AlertRecord>> {
                     Statement st(session);
                     st << std::string(kAlertSelect) + " WHERE id = $1",
                         bind(static_cast<Poco::Int64>(alert_id)), now;
                     RecordSet rs(st);
                     if (rs.rowCount() == 0) return std::optional<AlertRecord>();
                     return std::optional<AlertRecord>(alertAt(rs, 0));
                   });
}

Result<size_t> SqlStore::countAlerts(const AlertFilter& filter, size_t bound) {
  return adminRead("cannot count alerts", [&](Session& session) -> Result<size_t> {
    Query q("SELECT COUNT(*) FROM (SELECT 1 FROM alerts WHERE 1 = 1");
    restrictAlerts(q, filter);
    q.sql(" LIMIT ?) AS bounded").param(static_cast<int64_t>(bound));
    Statement st(session);
    q.execute(st);
    RecordSet rs(st);
    return static_cast<size_t>(intAt(rs, 0, 0));
  });
}

Result<std::vector<AlertRecord>> SqlStore::listAlertsPage(const AlertFilter& filter,
                                                          int64_t before_id, size_t limit) {
  return adminRead("cannot list alerts", [&](Session& session) -> Result<std::vector<AlertRecord>> {
    Query q(std::string(kAlertSelect) + " WHERE id < ?");
    q.param(before_id > 0 ? before_id : INT64_MAX);
    restrictAlerts(q, filter);
    q.sql(" ORDER BY id DESC LIMIT ?").param(static_cast<int64_t>(limit));
    Statement st(session);
    q.execute(st);
    RecordSet rs(st);
    std::vector<AlertRecord> out;
    out.reserve(rs.rowCount());
    for (size_t row = 0; row < rs.rowCount(); ++row) out.push_back(alertAt(rs, row));
    return out;
  });
}

Result<bool> SqlStore::acknowledgeAlert(int64_t alert_id, const std::string& by,
                                        const std::string& note, int64_t now_ms) {
  MutexLock lock(mu_);
  return guardedLocked("cannot acknowledge alert", [&]() REQUIRES(mu_) -> Result<bool> {
    Poco::Int64 id = alert_id;
    Poco::Int64 at = now_ms;
    // The first acknowledgement stays; a note given later is kept only if there was none.
    Statement st(*session_);
    st << "UPDATE alerts SET acknowledged_at = COALESCE(acknowledged_at, $1),"
          " acknowledged_by = CASE WHEN acknowledged_at IS NULL THEN $2 ELSE acknowledged_by END,"
          " note = CASE WHEN note = '' THEN $3 ELSE note END WHERE id = $4",
        use(at), bind(by), bind(note), use(id);
    return st.execute() > 0;
  });
}

Result<bool> SqlStore::resolveAlert(int64_t alert_id, const std::string& by,
                                    const std::string& note, int64_t now_ms) {
  MutexLock lock(mu_);
  return guardedLocked("cannot resolve alert", [&]() REQUIRES(mu_) -> Result<bool> {
    Session& s = *session_;
    Transaction tx(s);
    Poco::Int64 id = alert_id;
    std::string state;
    Statement st(s);
    st << "SELECT state FROM alerts WHERE id = $1", use(id), now;
    RecordSet rs(st);
    if (rs.rowCount() == 0) return false;
    state = stringAt(rs, 0, 0);
    if (state != "open" && state != "held") {
      return Status::failedPrecondition("alert " + std::to_string(alert_id) + " is " + state);
    }
    Poco::Int64 at = now_ms;
    s << "UPDATE alerts SET state = 'resolved', closed_at = $1, closed_by = $2,"
         " note = CASE WHEN $3 = '' THEN note ELSE $4 END WHERE id = $5",
        use(at), bind(by), bind(note), bind(note), use(id), now;
    tx.commit();
    return true;
  });
}

Result<std::vector<HealthRecord>> SqlStore::listHealthHistoryPage(int64_t before_id, size_t limit) {
  return adminRead(
      "cannot list health history", [&](Session& session) -> Result<std::vector<HealthRecord>> {
        Poco::Int64 before = before_id > 0 ? before_id : INT64_MAX;
        Poco::Int64 max_rows = static_cast<Poco::Int64>(limit);
        Statement st(session);
        st << std::string(sql::kHealthSelect) + " WHERE id < $1 ORDER BY id DESC LIMIT $2",
            use(before), use(max_rows), now;
        RecordSet rs(st);
        return sql::healthRecordsIn(rs);
      });
}

Result<MaintenanceWindowRecord> SqlStore::createMaintenanceWindow(
    const MaintenanceWindowRecord& window) {
  MutexLock lock(mu_);
  return guardedLocked(
      "cannot create maintenance window", [&]() REQUIRES(mu_) -> Result<MaintenanceWindowRecord> {
        Session& s = *session_;
        Poco::Int64 tenant = window.tenant_id;
        Poco::Nullable<Poco::Int64> site = toNullable(window.site_id);
        Poco::Nullable<std::string> agent = toNullable(window.agent_id);
        Poco::Int64 starts = window.starts_at_ms;
        Poco::Int64 duration = window.duration_s;
        Poco::Int64 created = window.created_at_ms;
        Poco::Int64 id = 0;
        s << "INSERT INTO maintenance_windows (tenant_id, scope, site_id, agent_id, starts_at,"
             " duration_s, recurrence, note, created_at, created_by)"
             " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id",
            use(tenant), bind(window.scope), use(site), use(agent), use(starts), use(duration),
            bind(window.recurrence), bind(window.note), use(created), bind(window.created_by),
            into(id), now;
        MaintenanceWindowRecord stored = window;
        stored.id = id;
        return stored;
      });
}

Result<std::optional<MaintenanceWindowRecord>> SqlStore::findMaintenanceWindow(int64_t window_id) {
  return adminRead("cannot read maintenance window",
                   [&](Session& session) -> Result<std::optional<MaintenanceWindowRecord>> {
                     Statement st(session);
                     st << std::string(kWindowSelect) + " WHERE id = $1",
                         bind(static_cast<Poco::Int64>(window_id)), now;
                     RecordSet rs(st);
                     if (rs.rowCount() == 0) return std::optional<MaintenanceWindowRecord>();
                     return std::optional<MaintenanceWindowRecord>(windowAt(rs, 0));
                   });
}

Result<std::vector<MaintenanceWindowRecord>> SqlStore::listMaintenanceWindows(
    const MaintenanceFilter& filter, int64_t after_id, size_t limit) {
  return adminRead("cannot list maintenance windows",
                   [&](Session& session) -> Result<std::vector<MaintenanceWindowRecord>> {
                     Query q(std::string(kWindowSelect) + " WHERE id > ?");
                     q.param(after_id).inScope("tenant_id", filter.scope);
                     if (filter.tenant_id) q.sql(" AND tenant_id = ?").param(*filter.tenant_id);
                     if (filter.site_id) q.sql(" AND site_id = ?").param(*filter.site_id);
                     if (filter.agent_id) q.sql(" AND agent_id = ?").param(*filter.agent_id);
                     q.sql(" ORDER BY id LIMIT ?").param(static_cast<int64_t>(limit));
                     Statement st(session);
                     q.execute(st);
                     RecordSet rs(st);
                     std::vector<MaintenanceWindowRecord> out;
                     for (size_t row = 0; row < rs.rowCount(); ++row) {
                       out.push_back(windowAt(rs, row));
                     }
                     return out;
                   });
}

Result<bool> SqlStore::deleteMaintenanceWindow(int64_t window_id) {
  MutexLock lock(mu_);
  return guardedLocked("cannot delete maintenance window", [&]() REQUIRES(mu_) -> Result<bool> {
    Statement st(*session_);
    st << "DELETE FROM maintenance_windows WHERE id = $1",
        bind(static_cast<Poco::Int64>(window_id));
    return st.execute() > 0;
  });
}

Result<std::vector<MaintenanceWindowRecord>> SqlStore::listAllMaintenanceWindows() {
  return adminRead("cannot list maintenance windows",
                   [&](Session& session) -> Result<std::vector<MaintenanceWindowRecord>> {
                     Statement st(session);
                     st << std::string(kWindowSelect) + " ORDER BY id", now;
                     RecordSet rs(st);
                     std::vector<MaintenanceWindowRecord> out;
                     for (size_t row = 0; row < rs.rowCount(); ++row) {
                       out.push_back(windowAt(rs, row));
                     }
                     return out;
                   });
}

}  // namespace vigil::collector
