#pragma once

// Internal to the store: what differs between the databases SqlStore runs on (the embedded
// SQLite file and a PostgreSQL server). Everything else, every query of the Store interface
// included, is the same SQL on both (sql_store.cc and its siblings). Not part of the store's
// interface; include only from collector/store/.
//
// Every method may throw Poco::Exception or std::exception; SqlStore calls them inside
// sql::guarded(), which turns the throw into a Status.

#include <cstdint>
#include <memory>
#include <string>

#include "collector/store/schema.h"
#include "common/status.h"

namespace Poco {
class Exception;
}
namespace Poco::Data {
class Session;
}

namespace vigil::collector {
struct PostgresSettings;
}

namespace vigil::collector::sql {

class Backend {
 public:
  virtual ~Backend() = default;

  // "sqlite" or "postgresql".
  virtual const char* name() const = 0;
  // Where the data is, for messages and logs: the database file, or host, port and database
  // (never a password).
  virtual const std::string& location() const = 0;

  // A new connection, ready for use: the writer (`reader` false) or one that refuses writes.
  virtual std::unique_ptr<Poco::Data::Session> connect(bool reader) = 0;
  // Called before each use of a connection whose last use failed: makes it usable again if it
  // was lost (a PostgreSQL server that restarted), or throws. A lost connection is replaced by
  // a new one. SQLite's never is.
  virtual void restore(std::unique_ptr<Poco::Data::Session>& session, bool reader) = 0;

  // After a failure on `session`: the database cannot be reached through it any more (the
  // server went away); calls then fail with kUnavailable. SQLite's never.
  virtual bool connectionLost(Poco::Data::Session& session) = 0;

  // An SQL expression for the database's clock, in Unix milliseconds (an integer): the clock
  // that leases and announcements of a cluster are measured on. One value throughout a
  // statement (its start), so a lease's acquired_at and expires_at agree.
  virtual const char* clockMillisSql() const = 0;

  // Appended to a SELECT to lock the rows it reads against concurrent changes until the
  // transaction ends: " FOR SHARE" on PostgreSQL; nothing on SQLite, whose single writer
  // excludes every other write anyway.
  virtual const char* shareLockClause() const = 0;
  // Appended to a SELECT that claims rows of `table` (its name or alias there): locks the rows
  // it returns against concurrent changes until the transaction ends, and passes over rows
  // another transaction holds locked instead of waiting for them, so that concurrent claimers
  // each get rows of their own: " FOR UPDATE OF <table> SKIP LOCKED" on PostgreSQL; nothing
  // on SQLite, whose single writer makes claims one after another anyway.
  virtual std::string skipLockedClause(const std::string& table) const = 0;
  // Run first in a transaction that claims rows with skipLockedClause(): makes it READ
  // COMMITTED, where a claimer that meets a row another claimed since its statement began
  // checks the row's latest version (and passes over it) instead of failing, as SERIALIZABLE
  // would, over and over while claimers contend for the same first rows. The rows' locks, and
  // that recheck, keep two claimers from taking one row. Also run first by the last-seen
  // write-behind, whose every update is guarded by the agent's sequence number, and by an
  // enrollment, whose use of its token is one conditional update (sql_store.cc).
  // PostgreSQL only; empty on SQLite, whose transactions are serializable by its single writer.
  virtual const char* readCommittedSql() const = 0;

  // A uniqueness or foreign key violation (what a caller maps to kAlreadyExists).
  virtual bool isConstraintViolation(const Poco::Exception& e) const = 0;
  // A transaction that failed only because a concurrent one conflicted with it (PostgreSQL's
  // serialization failures and deadlocks): running it again from the start is right.
  virtual bool isConflict(const Poco::Exception& e) const = 0;

  // Held while the schema is checked and migrated: other collectors sharing the database
  // wait, so each migration is applied once. Released when the returned object is destroyed.
  class SchemaLock {
   public:
    virtual ~SchemaLock() = default;
  };
  virtual std::unique_ptr<SchemaLock> lockSchema(Poco::Data::Session& session) = 0;
  // Applies `migration` (version `version`) in one transaction on `session`, recording the
  // version in schema_version at `now_ms`.
  virtual void applyMigration(Poco::Data::Session& session, int version, const Migration& migration,
                              int64_t now_ms) = 0;
};

// The embedded database: `<data_dir>/<file_name>`, the directory (mode 0700) and the file
// (mode 0600) created if missing and their modes enforced.
Result<std::unique_ptr<Backend>> sqliteBackend(const std::string& data_dir,
                                               const std::string& file_name);

// A PostgreSQL database (sql_store.h, PostgresSettings). Connects nothing yet.
Result<std::unique_ptr<Backend>> postgresBackend(const PostgresSettings& settings);

}  // namespace vigil::collector::sql
