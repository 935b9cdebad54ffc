#pragma once

// The collector's schema, as numbered migrations that both databases take (SQLite and
// PostgreSQL; sql_backend.h): SqlStore applies each once, in order, in its own transaction,
// and records it in the schema_version table. Version N is migrations()[N - 1]. Never edit a
// released migration: append a new one.
//
// Statements are written as SQLite takes them; the PostgreSQL backend translates the few
// column types and functions that differ (postgres_backend.cc), and a new migration should
// use what both take (COALESCE, not IFNULL; BIGINT-sized INTEGER columns).

#include <string>
#include <vector>

namespace Poco::Data {
class Session;
}

namespace vigil::collector::sql {

// One schema version.
struct Migration {
  std::vector<std::string> statements;
  // Runs after the statements, in the same transaction, for what SQL alone cannot do.
  void (*finish)(Poco::Data::Session&) = nullptr;
  // SQLite only, after `finish`: rebuilds tables that others reference, with foreign keys
  // off (they cannot be switched inside a transaction), checked with foreign_key_check before
  // the commit. A PostgreSQL table has what such a rebuild gives from its creation.
  void (*sqlite_rebuild)(Poco::Data::Session&) = nullptr;
};

const std::vector<Migration>& migrations();

// A new site peer key (64 hex characters), for a new site and for migration 3; throws
// std::runtime_error if the CSPRNG fails (inside the store's guarded(), an error Status).
std::string newPeerKey();

}  // namespace vigil::collector::sql
