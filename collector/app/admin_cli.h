#pragma once

// The collector's administration commands, run instead of the server when vigil-collector is
// given a command (docs/operations.md):
//
//   vigil-collector [options] admin-token create --name NAME [--tenant ID]... [--expires T]
//                                                [--role read-only|operator|admin]
//   vigil-collector [options] admin-token list
//   vigil-collector [options] admin-token revoke ID
//   vigil-collector [options] tenant create NAME
//   vigil-collector [options] tenant list
//
// They open the store of the configured data directory (same configuration layers as the
// server: -c, --data-dir, -D, VIGIL_*) and work while the server runs: SQLite in WAL mode lets
// both write, and the server reads admin tokens on every request, so a token created or
// revoked here counts at the server's next request.
//
// Output: `admin-token create` prints the token alone on stdout's first line (shown once; only
// its hash is stored) and "created admin token <id> ..." with the scope and expiry on stderr,
// so `TOKEN=$(vigil-collector admin-token create --name ci)` captures just the token. `tenant
// create` prints the new tenant's id on stdout. Listings are tables on stdout. Errors go to
// stderr. Tokens made here are roots (no parent), of role `admin` unless --role says otherwise.
//
// Exit codes: 0 done; 64 (EX_USAGE) wrong command, option or argument; 65 (EX_DATAERR) a value
// the store refuses (unknown tenant or token, invalid name or time, taken name); 74 (EX_IOERR)
// the store cannot be opened or fails.

#include <iosfwd>
#include <optional>
#include <string>
#include <vector>

#include "collector/store/sql_store.h"
#include "common/clock.h"

namespace vigil::collector {

constexpr int kCliExitOk = 0;
constexpr int kCliExitUsage = 64;
constexpr int kCliExitDataError = 65;
constexpr int kCliExitIoError = 74;

// Options of the commands, parsed with the server's options (Poco::Util).
struct AdminCliOptions {
  std::optional<std::string> name;     // --name
  std::vector<std::string> tenants;    // --tenant, repeatable
  std::optional<std::string> expires;  // --expires, RFC 3339
  std::optional<std::string> role;     // --role: read-only, operator or admin (the default)

  bool any() const { return name || !tenants.empty() || expires || role; }
};

// One line per command, for --help.
std::string adminCliUsage();

// Runs the command in `args` (the positional arguments, e.g. {"admin-token", "revoke", "7"})
// against the configured store (SQLite in `data_dir`, or PostgreSQL); returns the exit code.
int runAdminCommand(const std::vector<std::string>& args, const AdminCliOptions& options,
                    const StoreSettings& store, const std::string& data_dir, const Clock& clock,
                    std::ostream& out, std::ostream& err);

}  // namespace vigil::collector
