#pragma once

// The store a store test runs against. By default the embedded SQLite store in the given data
// directory; with VIGIL_TEST_STORE=postgresql, a PostgreSQL database of a server this process
// starts on first use (tests/support/postgres_server.h): one server per process, one database
// per data directory, so a test that opens the same directory twice (a restart) finds its
// data again. ctest runs each store test both ways (tests/unit/collector/CMakeLists.txt).

#include <Poco/Data/Session.h>

#include <memory>
#include <string>

#include "collector/store/sql_store.h"
#include "common/status.h"

namespace vigil::testing {

bool testingPostgres();

vigil::Result<std::unique_ptr<collector::SqlStore>> openTestStore(const std::string& data_dir);
// As openTestStore(), migrating no further than `schema_version`.
vigil::Result<std::unique_ptr<collector::SqlStore>> openTestStoreAtSchemaVersion(
    const std::string& data_dir, int schema_version);
// A connection of its own to the same database, for a test that sets up or inspects rows
// directly (SQL both databases take: $1-style parameters).
Poco::Data::Session rawTestSession(const std::string& data_dir);

}  // namespace vigil::testing
