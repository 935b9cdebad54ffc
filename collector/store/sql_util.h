#pragma once

// Internal to the SQL store: what its several source files share (one file per area of the
// Store interface). Not part of the store's interface; include only from collector/store/.

#include <Poco/Data/Binding.h>
#include <Poco/Data/RecordSet.h>
#include <Poco/Data/Session.h>
#include <Poco/Data/Statement.h>
#include <Poco/Exception.h>
#include <Poco/Nullable.h>

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "collector/store/sql_backend.h"
#include "collector/store/sql_store.h"
#include "collector/store/store.h"
#include "common/status.h"
#include "common/thread_annotations.h"

namespace vigil::collector::sql {

// Executes `st` once more: a statement prepared once and executed for each row of a batch, with
// `executed_before` true after its first execution. Poco 1.11's PostgreSQL connector frees a
// statement's previous result when an execution starts and keeps the freed pointer when that
// execution fails; destroying the statement then frees it a second time and aborts the process
// (a database restarted in the middle of a batch did). A statement whose later execution
// failed is therefore kept for the rest of the process instead of destroyed: a few hundred
// bytes for each batch that a lost connection interrupted. Throws what execute() throws.
inline size_t executeAgain(Poco::Data::Statement& st, bool executed_before) {
  try {
    return st.execute();
  } catch (...) {
    if (executed_before) {
      static std::mutex kept_mu;
      static auto* kept = new std::vector<Poco::Data::Statement>();  // never destroyed
      std::lock_guard<std::mutex> lock(kept_mu);
      kept->push_back(st);  // shares the implementation, which is then never released
    }
    throw;
  }
}

using Poco::Data::AbstractBinding;
using Poco::Data::RecordSet;
using Poco::Data::Session;
using Poco::Data::Statement;

inline Status failure(std::string message, const bool* unavailable, const bool* aborted) {
  if (unavailable != nullptr && *unavailable) return Status::unavailable(std::move(message));
  if (aborted != nullptr && *aborted) return Status::aborted(std::move(message));
  return Status::ioError(std::move(message));
}

// Runs `body` and turns any exception into a Status, so none leaves the store: kIoError;
// kUnavailable if `*unavailable` (which `body` may set before it throws) says the database
// could not be reached; kAborted if `*aborted` says a concurrent transaction made it fail.
template <typename F>
auto guarded(const std::string& what, F&& body, const bool* unavailable = nullptr,
             const bool* aborted = nullptr) -> decltype(body()) {
  try {
    return body();
  } catch (const Poco::Exception& e) {
    return failure(what + ": " + e.displayText(), unavailable, aborted);
  } catch (const std::exception& e) {
    return failure(what + ": " + e.what(), unavailable, aborted);
  }
}

// A failure to connect as a caller can act on: kPermissionDenied when the server refused the
// credentials, kUnavailable when it could not be reached (or refused connections); anything
// else unchanged.
inline Status classifyConnectFailure(const Status& failure) {
  const std::string& m = failure.message();
  if (m.find("password authentication failed") != std::string::npos ||
      m.find("no pg_hba.conf entry") != std::string::npos ||
      m.find("role \"") != std::string::npos) {
    return Status::permissionDenied(m);
  }
  if (m.find("could not connect") != std::string::npos ||
      m.find("Connection refused") != std::string::npos ||
      m.find("timeout expired") != std::string::npos ||
      m.find("could not translate host name") != std::string::npos ||
      m.find("the database system is") != std::string::npos) {
    return Status::unavailable(m);
  }
  return failure;
}

// Rolls back an open transaction unless committed.
class Transaction {
 public:
  explicit Transaction(Session& session) : session_(session) { session_.begin(); }
  ~Transaction() {
    if (!done_) {
      try {
        session_.rollback();
      } catch (...) {  // NOLINT(bugprone-empty-catch): nothing more to do in a destructor
      }
    }
  }
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;

  void commit() {
    session_.commit();
    done_ = true;
  }

 private:
  Session& session_;
  bool done_ = false;
};

inline Poco::Nullable<Poco::Int64> toNullable(const std::optional<int64_t>& v) {
  if (!v) return Poco::Nullable<Poco::Int64>();
  return Poco::Nullable<Poco::Int64>(*v);
}

inline Poco::Nullable<std::string> toNullable(const std::optional<std::string>& v) {
  if (!v) return Poco::Nullable<std::string>();
  return Poco::Nullable<std::string>(*v);
}

inline int64_t intAt(const RecordSet& rs, size_t col, size_t row) {
  return rs.value(col, row).convert<Poco::Int64>();
}
inline std::optional<int64_t> optionalIntAt(const RecordSet& rs, size_t col, size_t row) {
  if (rs.isNull(col, row)) return std::nullopt;
  return intAt(rs, col, row);
}
inline std::string stringAt(const RecordSet& rs, size_t col, size_t row) {
  if (rs.isNull(col, row)) return {};
  return rs.value(col, row).convert<std::string>();
}

inline std::optional<std::string> optionalStringAt(const RecordSet& rs, size_t col, size_t row) {
  if (rs.isNull(col, row)) return std::nullopt;
  return stringAt(rs, col, row);
}

// SQL text and its parameters, built together so that values are only ever bound. Texts
// given to it mark each parameter with `?`, which it numbers ($1, $2, ...: the form both
// SQLite and PostgreSQL take) in the order the parameters are added.
class Query {
 public:
  explicit Query(const std::string& sql) { this->sql(sql); }

  Query& sql(const std::string& text) {
    for (char c : text) {
      if (c == '?') {
        sql_ += '$' + std::to_string(++placeholders_);
      } else {
        sql_ += c;
      }
    }
    return *this;
  }
  Query& param(int64_t value) {
    params_.push_back(Poco::Data::Keywords::bind(static_cast<Poco::Int64>(value)));
    return *this;
  }
  Query& param(const std::string& value) {
    params_.push_back(Poco::Data::Keywords::bind(value));
    return *this;
  }
  // " AND <column> IN (?, ...)" restricting `column` to `ids`. REQUIRES: ids non-empty.
  Query& inList(const std::string& column, const std::vector<int64_t>& ids) {
    sql(" AND " + column + " IN (");
    for (size_t i = 0; i < ids.size(); ++i) sql(i == 0 ? "?" : ", ?").param(ids[i]);
    return sql(")");
  }
  // The same for text values (agent ids). REQUIRES: values non-empty.
  Query& inList(const std::string& column, const std::vector<std::string>& values) {
    sql(" AND " + column + " IN (");
    for (size_t i = 0; i < values.size(); ++i) sql(i == 0 ? "?" : ", ?").param(values[i]);
    return sql(")");
  }
  // " AND ((shard = ? AND epoch = ?) OR ...)": rows of shard_leases naming `held`, each in its
  // epoch. REQUIRES: held non-empty.
  Query& heldLeases(const std::vector<HeldLease>& held) {
    sql(" AND (");
    for (size_t i = 0; i < held.size(); ++i) {
      sql(i == 0 ? "(shard = ? AND epoch = ?)" : " OR (shard = ? AND epoch = ?)")
          .param(static_cast<int64_t>(held[i].shard))
          .param(held[i].epoch);
    }
    return sql(")");
  }
  // " AND <column> LIKE ?" matching `text` as a literal, case-insensitive (ASCII) substring.
  // `joiner` (default " AND ") lets a caller OR several such conditions inside parentheses.
  Query& containsText(const std::string& column, const std::string& text,
                      const std::string& joiner = " AND ") {
    std::string pattern = "%";
    for (char c : text) {
      if (c == '%' || c == '_' || c == '\\') pattern += '\\';
      pattern += c;
    }
    pattern += '%';
    sql(joiner + "lower(" + column + ") LIKE lower(?) ESCAPE '\\'");
    return param(pattern);
  }

  // " AND <column> IN (<the scope's tenants>)" unless the scope is every tenant; an empty
  // scope matches nothing.
  Query& inScope(const std::string& column, const TenantScope& scope) {
    if (scope.all) return *this;
    if (scope.tenant_ids.empty()) return sql(" AND 1 = 0");
    return inList(column, scope.tenant_ids);
  }

  // Runs the query; the caller reads the rows through RecordSet(statement).
  void execute(Statement& st) const {
    st << sql_;
    for (const AbstractBinding::Ptr& p : params_) st.addBind(p);
    st.execute();
  }

 private:
  std::string sql_;
  int placeholders_ = 0;
  std::vector<AbstractBinding::Ptr> params_;
};

// The columns siteAt reads, in its order.
inline constexpr char kSiteColumns[] = "id, tenant_id, name, created_at, peer_key";

inline Site siteAt(const RecordSet& rs, size_t row) {
  return Site{intAt(rs, 0, row), intAt(rs, 1, row), stringAt(rs, 2, row), intAt(rs, 3, row),
              stringAt(rs, 4, row)};
}

// StatusChangeRecords from rows of: agent_id, at, from_status, to_status, reason,
// degradation_reasons, id, overdue_from.
inline std::vector<StatusChangeRecord> statusChangesIn(const RecordSet& rs) {
  std::vector<StatusChangeRecord> out;
  out.reserve(rs.rowCount());
  for (size_t row = 0; row < rs.rowCount(); ++row) {
    out.push_back(StatusChangeRecord{stringAt(rs, 0, row), intAt(rs, 1, row), stringAt(rs, 2, row),
                                     stringAt(rs, 3, row), stringAt(rs, 4, row),
                                     stringAt(rs, 5, row), intAt(rs, 6, row), -1,
                                     optionalIntAt(rs, 7, row)});
  }
  return out;
}

// SELECT of every health_changes column in healthRecordsIn's order; append WHERE etc.
inline constexpr char kHealthSelect[] =
    "SELECT at, degraded, reasons, id, blind_from, node FROM health_changes";

inline std::vector<HealthRecord> healthRecordsIn(const RecordSet& rs) {
  std::vector<HealthRecord> out;
  out.reserve(rs.rowCount());
  for (size_t row = 0; row < rs.rowCount(); ++row) {
    out.push_back(HealthRecord{intAt(rs, 0, row), intAt(rs, 1, row) != 0, stringAt(rs, 2, row),
                               intAt(rs, 3, row), optionalIntAt(rs, 4, row), stringAt(rs, 5, row)});
  }
  return out;
}

// SELECT of every agents column (with the site's tenant) in agentAt's order; append WHERE etc.
extern const char kAgentSelect[];
AgentRecord agentAt(const RecordSet& rs, size_t row);

}  // namespace vigil::collector::sql

namespace vigil::collector {

template <typename F>
std::invoke_result_t<F&> SqlStore::guardedLocked(const std::string& what, F&& body) {
  for (int attempt = 1;; ++attempt) {
    bool conflict = false;
    bool lost = false;
    // The analysis sees neither that guarded() runs the lambda at once nor that mu_ is still
    // held.
    auto result = sql::guarded(
        what,
        [&]() NO_THREAD_SAFETY_ANALYSIS -> std::invoke_result_t<F&> {
          if (writer_failed_) {
            lost = true;  // until the connection is made again
            backend_->restore(session_, /*reader=*/false);
            lost = false;
            writer_failed_ = false;
          }
          try {
            return body();
          } catch (const Poco::Exception& e) {
            writer_failed_ = true;
            conflict = backend_->isConflict(e);
            lost = backend_->connectionLost(*session_);
            throw;
          }
        },
        &lost, &conflict);
    if (!conflict || attempt == kConflictAttempts) return result;
  }
}

template <typename F>
auto SqlStore::readOn(ReadConnection& reader, const std::string& what, F&& body) {
  MutexLock lock(reader.mu);
  for (int attempt = 1;; ++attempt) {
    bool conflict = false;
    bool lost = false;
    auto result = sql::guarded(
        what,
        [&]() NO_THREAD_SAFETY_ANALYSIS {
          if (reader.failed) {
            lost = true;  // until the connection is made again
            backend_->restore(reader.session, reader.read_only);
            lost = false;
            reader.failed = false;
          }
          Poco::Data::Session& session = *reader.session;  // restore() may have replaced it
          try {
            return body(session);
          } catch (const Poco::Exception& e) {
            reader.failed = true;
            conflict = backend_->isConflict(e);
            lost = backend_->connectionLost(session);
            throw;
          }
        },
        &lost, &conflict);
    if (!conflict || attempt == kConflictAttempts) return result;
  }
}

template <typename F>
auto SqlStore::adminRead(const std::string& what, F&& body) {
  ReadConnection& reader = *admin_readers_[next_admin_reader_++ % admin_readers_.size()];
  return readOn(reader, what, std::forward<F>(body));
}

template <typename F>
auto SqlStore::probeRead(const std::string& what, F&& body) {
  return readOn(*probe_reader_, what, std::forward<F>(body));
}

template <typename F>
auto SqlStore::coordinate(const std::string& what, F&& body) {
  return readOn(*coordination_, what, std::forward<F>(body));
}

}  // namespace vigil::collector
