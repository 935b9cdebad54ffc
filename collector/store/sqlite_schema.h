#pragma once

// The embedded store's schema, as numbered migrations: SqliteStore::migrate applies each once,
// in order, in its own transaction, and records it in the schema_version table. Version N is
// migrations()[N - 1]. Never edit a released migration: append a new one.

#include <string>
#include <vector>

namespace Poco::Data {
class Session;
}

namespace vigil::collector::sqlite {

// One schema version.
struct Migration {
  std::vector<std::string> statements;
  // Runs after the statements, in the same transaction, for what SQL alone cannot do.
  void (*finish)(Poco::Data::Session&) = nullptr;
  // Rebuilds tables that others reference: runs with foreign keys off (they cannot be
  // switched inside a transaction), checked with foreign_key_check before the commit.
  bool rebuilds_tables = false;
};

const std::vector<Migration>& migrations();

// A new site peer key (64 hex characters), for a new site and for migration 3; throws
// std::runtime_error if the CSPRNG fails (inside the store's guarded(), an error Status).
std::string newPeerKey();

}  // namespace vigil::collector::sqlite
