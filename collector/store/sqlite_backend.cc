// The embedded database: one SQLite file in WAL mode (sql_backend.h).

#include <Poco/Data/RecordSet.h>
#include <Poco/Data/SQLite/Connector.h>
#include <Poco/Data/SQLite/SQLiteException.h>
#include <Poco/Data/Session.h>
#include <Poco/Data/Statement.h>

#include <filesystem>
#include <fstream>
#include <optional>
#include <stdexcept>
#include <string>
#include <system_error>
#include <utility>

#include "collector/store/sql_backend.h"
#include "collector/store/sql_util.h"
#include "common/atomic_file.h"

namespace vigil::collector::sql {
namespace {

namespace fs = std::filesystem;
using Poco::Data::Keywords::bind;
using Poco::Data::Keywords::into;
using Poco::Data::Keywords::now;

constexpr int kBusyTimeoutMs = 5000;

// Foreign keys off for its lifetime, on again after (also when a migration throws).
class ForeignKeysOff {
 public:
  explicit ForeignKeysOff(Session& s) : s_(s) { s_ << "PRAGMA foreign_keys=OFF", now; }
  ~ForeignKeysOff() {
    try {
      s_ << "PRAGMA foreign_keys=ON", now;
    } catch (...) {  // NOLINT(bugprone-empty-catch): the next statement on the session fails too
    }
  }
  ForeignKeysOff(const ForeignKeysOff&) = delete;
  ForeignKeysOff& operator=(const ForeignKeysOff&) = delete;

 private:
  Session& s_;
};

// Creates the database file empty if missing, so that SQLite opens (and copies the mode of)
// a file that is already 0600; then enforces 0600.
Status prepareDatabaseFile(const fs::path& file) {
  std::error_code ec;
  if (!fs::exists(file, ec)) {
    std::ofstream create(file, std::ios::binary | std::ios::app);
    if (!create) return Status::ioError("cannot create database file " + file.string());
  }
  fs::permissions(file, fs::perms::owner_read | fs::perms::owner_write, fs::perm_options::replace,
                  ec);
  if (ec) {
    return Status::ioError("cannot set mode 0600 on " + file.string() + ": " + ec.message());
  }
  return Status::okStatus();
}

class SqliteBackend final : public Backend {
 public:
  explicit SqliteBackend(std::string path) : path_(std::move(path)) {
    Poco::Data::SQLite::Connector::registerConnector();
  }

  const char* name() const override { return "sqlite"; }
  const std::string& location() const override { return path_; }

  std::unique_ptr<Session> connect(bool reader) override {
    auto session = std::make_unique<Session>(Poco::Data::SQLite::Connector::KEY, path_);
    Session& s = *session;
    int timeout = 0;
    if (reader) {
      // Refuses every write: a reader that wrote would take the writer's lock.
      s << "PRAGMA query_only=ON", now;
    } else {
      std::string mode;
      s << "PRAGMA journal_mode=WAL", into(mode), now;
      if (mode != "wal")
        throw std::runtime_error("database refused WAL journal mode (got " + mode + ")");
      s << "PRAGMA synchronous=NORMAL", now;
      s << "PRAGMA foreign_keys=ON", now;
    }
    s << "PRAGMA busy_timeout=" + std::to_string(kBusyTimeoutMs), into(timeout), now;
    return session;
  }

  void restore(std::unique_ptr<Session>& /*session*/, bool /*reader*/) override {}
  bool connectionLost(Session& /*session*/) override { return false; }

  const char* clockMillisSql() const override {
    return "CAST((julianday('now') - 2440587.5) * 86400000.0 AS INTEGER)";
  }
  const char* shareLockClause() const override { return ""; }
  std::string skipLockedClause(const std::string& /*table*/) const override { return ""; }
  const char* readCommittedSql() const override { return ""; }
  bool isConstraintViolation(const Poco::Exception& e) const override {
    return dynamic_cast<const Poco::Data::SQLite::ConstraintViolationException*>(&e) != nullptr;
  }
  bool isConflict(const Poco::Exception& /*e*/) const override { return false; }

  // One writer connection per database file: nothing else migrates it concurrently.
  std::unique_ptr<SchemaLock> lockSchema(Session& /*session*/) override {
    return std::make_unique<SchemaLock>();
  }

  void applyMigration(Session& s, int version, const Migration& migration,
                      int64_t now_ms) override {
    std::optional<ForeignKeysOff> foreign_keys_off;
    if (migration.sqlite_rebuild != nullptr) foreign_keys_off.emplace(s);
    Transaction tx(s);
    for (const std::string& sql : migration.statements) s << sql, now;
    if (migration.finish != nullptr) migration.finish(s);
    if (migration.sqlite_rebuild != nullptr) {
      migration.sqlite_rebuild(s);
      Statement check(s);
      check << "PRAGMA foreign_key_check", now;
      if (RecordSet(check).rowCount() != 0) {
        throw std::runtime_error("migration " + std::to_string(version) +
                                 " would break foreign keys");
      }
    }
    Poco::Int64 at = now_ms;
    s << "INSERT INTO schema_version (version, applied_at) VALUES ($1, $2)", bind(version),
        bind(at), now;
    tx.commit();
  }

 private:
  const std::string path_;
};

}  // namespace

Result<std::unique_ptr<Backend>> sqliteBackend(const std::string& data_dir,
                                               const std::string& file_name) {
  if (data_dir.empty()) return Status::invalidArgument("data directory is empty");
  const fs::path dir(data_dir);
  if (Status s = ensurePrivateDirectory(dir); !s.ok()) return s;
  const fs::path file = dir / file_name;
  if (Status s = prepareDatabaseFile(file); !s.ok()) return s;
  return guarded("cannot open database " + file.string(),
                 [&]() -> Result<std::unique_ptr<Backend>> {
                   return std::unique_ptr<Backend>(std::make_unique<SqliteBackend>(file.string()));
                 });
}

}  // namespace vigil::collector::sql
