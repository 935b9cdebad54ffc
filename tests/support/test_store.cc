#include "tests/support/test_store.h"

#include <Poco/Data/PostgreSQL/Connector.h>
#include <Poco/Data/SQLite/Connector.h>

#include <cstdlib>
#include <filesystem>
#include <map>
#include <mutex>
#include <stdexcept>
#include <string>

#include "tests/support/postgres_server.h"

namespace vigil::testing {
namespace {

std::mutex mu;
std::map<std::string, std::string> databases;  // data directory -> database name

}  // namespace

bool testingPostgres() {
  const char* backend = std::getenv("VIGIL_TEST_STORE");
  return backend != nullptr && std::string(backend) == "postgresql";
}

namespace {

// The server of this process, started on first use.
PostgresServer& testPostgresServer() {
  static PostgresServer server;
  return server;
}

// A database migrated to the latest schema, copied for each new data directory: migrating
// each test's database anew would cost more than the test.
const std::string& migratedTemplate() {
  static const std::string name = [] {
    std::string created = testPostgresServer().createDatabase("vigil_template");
    collector::PostgresSettings settings;
    settings.conninfo = testPostgresServer().conninfo(created);
    auto store = collector::SqlStore::openPostgres(settings);
    if (!store.ok()) throw std::runtime_error(store.error().toString());
    return created;
  }();
  return name;
}

// The database standing for `data_dir`, created on first use: migrated, or empty.
std::string databaseFor(const std::string& data_dir, bool migrated) {
  std::lock_guard<std::mutex> lock(mu);
  const std::string key = std::filesystem::absolute(data_dir).lexically_normal().string();
  auto it = databases.find(key);
  if (it == databases.end()) {
    const std::string name =
        migrated ? testPostgresServer().createDatabase("vigil_test", migratedTemplate())
                 : testPostgresServer().createDatabase("vigil_test");
    it = databases.emplace(key, name).first;
  }
  return it->second;
}

collector::PostgresSettings settingsOf(const std::string& database) {
  collector::PostgresSettings settings;
  settings.conninfo = testPostgresServer().conninfo(database);
  return settings;
}

// The settings of the database that stands for `data_dir` (created on first use).
collector::PostgresSettings testPostgresSettings(const std::string& data_dir) {
  return settingsOf(databaseFor(data_dir, /*migrated=*/true));
}

}  // namespace

vigil::Result<std::unique_ptr<collector::SqlStore>> openTestStore(const std::string& data_dir) {
  return openTestStoreAtSchemaVersion(data_dir, collector::SqlStore::latestSchemaVersion());
}

vigil::Result<std::unique_ptr<collector::SqlStore>> openTestStoreAtSchemaVersion(
    const std::string& data_dir, int schema_version) {
  if (!testingPostgres()) {
    return collector::SqlStore::openSqliteAtSchemaVersion(data_dir, schema_version);
  }
  const bool latest = schema_version >= collector::SqlStore::latestSchemaVersion();
  return collector::SqlStore::openPostgresAtSchemaVersion(settingsOf(databaseFor(data_dir, latest)),
                                                          schema_version);
}

Poco::Data::Session rawTestSession(const std::string& data_dir) {
  if (!testingPostgres()) {
    Poco::Data::SQLite::Connector::registerConnector();
    return Poco::Data::Session(
        Poco::Data::SQLite::Connector::KEY,
        (std::filesystem::path(data_dir) / collector::SqlStore::kSqliteFileName).string());
  }
  Poco::Data::PostgreSQL::Connector::registerConnector();
  return Poco::Data::Session(Poco::Data::PostgreSQL::Connector::KEY,
                             testPostgresSettings(data_dir).conninfo);
}

}  // namespace vigil::testing
