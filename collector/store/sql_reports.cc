// What the availability report reads (store.h, PresenceLogStore::readAvailabilityHistory):
// a scope's agents, their status history around a period, their outage reports and the
// collector's health history. Read on an admin reader; the statements are plain SELECTs in the
// dialect both backends share.

#include <Poco/Data/RecordSet.h>
#include <Poco/Data/Session.h>
#include <Poco/Data/Statement.h>

#include <iterator>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "collector/store/sql_store.h"
#include "collector/store/sql_util.h"

namespace vigil::collector {
namespace {

using Poco::Data::RecordSet;
using Poco::Data::Session;
using Poco::Data::Statement;

// `select` FROM the scope's agents present at some time in [from_ms, to_ms) (aliases a, s),
// with `join` (which may bind `join_param` as its one parameter) before the WHERE.
sql::Query scoped(const std::string& select, const ReportScope& scope, int64_t from_ms,
                  int64_t to_ms, const std::string& join = "",
                  std::optional<int64_t> join_param = std::nullopt) {
  sql::Query q(select + " FROM agents a JOIN sites s ON s.id = a.site_id" + join);
  if (join_param) q.param(*join_param);
  q.sql(" WHERE s.tenant_id = ?").param(scope.tenant_id);
  if (scope.site_id) q.sql(" AND a.site_id = ?").param(*scope.site_id);
  if (scope.agent_id) q.sql(" AND a.id = ?").param(*scope.agent_id);
  q.sql(" AND a.enrolled_at < ? AND (a.retired_at IS NULL OR a.retired_at >= ?)")
      .param(to_ms)
      .param(from_ms);
  return q;
}

constexpr char kChangeColumns[] =
    "SELECT c.agent_id, c.at, c.from_status, c.to_status, c.reason, c.degradation_reasons, c.id,"
    " c.overdue_from";

void appendChanges(Session& session, const sql::Query& q, std::vector<StatusChangeRecord>* out) {
  Statement st(session);
  q.execute(st);
  RecordSet rs(st);
  std::vector<StatusChangeRecord> rows = sql::statusChangesIn(rs);
  out->insert(out->end(), std::make_move_iterator(rows.begin()),
              std::make_move_iterator(rows.end()));
}

}  // namespace

Result<AvailabilityHistory> SqlStore::readAvailabilityHistory(const ReportScope& scope,
                                                              int64_t from_ms, int64_t to_ms,
                                                              size_t max_agents) {
  return adminRead(
      "cannot read the availability history", [&](Session& session) -> Result<AvailabilityHistory> {
        AvailabilityHistory out;
        {
          Statement st(session);
          scoped("SELECT COUNT(*)", scope, from_ms, to_ms).execute(st);
          RecordSet rs(st);
          const int64_t count = rs.rowCount() > 0 ? sql::intAt(rs, 0, 0) : 0;
          if (count > static_cast<int64_t>(max_agents)) {
            return Status::resourceExhausted(std::to_string(count) + " agents, more than " +
                                             std::to_string(max_agents) + " in one report");
          }
        }
        {
          Statement st(session);
          sql::Query q = scoped(
              "SELECT a.id, a.hostname, a.agent_class, a.site_id, s.name, a.enrolled_at,"
              " a.retired_at",
              scope, from_ms, to_ms);
          q.sql(" ORDER BY s.name, a.hostname, a.id").execute(st);
          RecordSet rs(st);
          for (size_t row = 0; row < rs.rowCount(); ++row) {
            out.agents.push_back(ReportAgent{sql::stringAt(rs, 0, row), sql::stringAt(rs, 1, row),
                                             sql::stringAt(rs, 2, row), sql::intAt(rs, 3, row),
                                             sql::stringAt(rs, 4, row), sql::intAt(rs, 5, row),
                                             sql::optionalIntAt(rs, 6, row)});
          }
        }
        // In the period; the outage diary's markers are not status.
        appendChanges(session,
                      scoped(kChangeColumns, scope, from_ms, to_ms,
                             " JOIN status_changes c ON c.agent_id = a.id")
                          .sql(" AND c.at >= ? AND c.at < ? AND c.reason NOT LIKE 'outage_diary%'")
                          .param(from_ms)
                          .param(to_ms),
                      &out.changes);
        // Each agent's latest change before the period; its first after it, first after it
        // that is not SUSPECT and first after it that is not down: one index probe each
        // (status_changes_at).
        struct Picked {
          const char* aggregate;
          const char* condition;
          int64_t at;
        };
        for (const Picked& p :
             {Picked{"MAX", "l.at < ?", from_ms}, Picked{"MIN", "l.at >= ?", to_ms},
              Picked{"MIN", "l.at >= ? AND l.to_status <> 'SUSPECT'", to_ms},
              Picked{"MIN",
                     "l.at >= ? AND l.to_status NOT IN ('SUSPECT', 'OFFLINE', 'UNREACHABLE')",
                     to_ms}}) {
          appendChanges(
              session,
              scoped(kChangeColumns, scope, from_ms, to_ms,
                     std::string(" JOIN status_changes c ON c.id = (SELECT ") + p.aggregate +
                         "(l.id) FROM status_changes l WHERE l.agent_id = a.id AND " + p.condition +
                         " AND l.reason NOT LIKE 'outage_diary%')",
                     p.at),
              &out.changes);
        }
        {
          Statement st(session);
          scoped("SELECT o.agent_id, o.from_ms, o.to_ms, o.cause, o.reported_at_ms", scope, from_ms,
                 to_ms, " JOIN outage_reports o ON o.agent_id = a.id")
              .sql(" AND o.to_ms > ? AND o.from_ms < ?")
              .param(from_ms)
              .param(to_ms)
              .execute(st);
          RecordSet rs(st);
          for (size_t row = 0; row < rs.rowCount(); ++row) {
            out.diary.push_back(OutageReport{sql::stringAt(rs, 0, row), sql::intAt(rs, 1, row),
                                             sql::intAt(rs, 2, row), sql::stringAt(rs, 3, row),
                                             sql::intAt(rs, 4, row)});
          }
        }
        {
          Statement st(session);
          sql::Query q(
              std::string(sql::kHealthSelect) +
              " WHERE id IN (SELECT MAX(id) FROM health_changes WHERE at < ? GROUP BY node)"
              " OR (at >= ? AND at < ?) OR (at >= ? AND blind_from < ?) ORDER BY id");
          q.param(from_ms).param(from_ms).param(to_ms).param(to_ms).param(to_ms).execute(st);
          RecordSet rs(st);
          out.health = sql::healthRecordsIn(rs);
        }
        return out;
      });
}

}  // namespace vigil::collector
