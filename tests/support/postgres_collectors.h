#pragma once

// Collectors keeping their state in a database of a test PostgreSQL server
// (postgres_server.h), alone or as a cluster: their store settings, the environment their
// password comes from, and the tokens the first of them generates. Shared by the integration
// tests and the incident lab's cluster (tools/fleetsim/cluster_lab.h).

#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "tests/support/postgres_server.h"

namespace vigil::testing {

// The settings that put a collector's store in the database `conninfo_without_password` names
// (PostgresServer::conninfoWithoutPassword, or a proxy's port in place of the server's): TLS
// verified against `ca_file` (sslrootcert, with the shipped store.postgresql.sslMode,
// verify-full), or, with `ca_file` empty, plain TCP on loopback (sslMode disable, as
// scripts/cluster-demo.sh runs its collectors).
inline std::map<std::string, std::string> postgresStoreSettings(
    const std::string& conninfo_without_password, const std::string& ca_file) {
  std::map<std::string, std::string> settings;
  settings["store.backend"] = "postgresql";
  if (ca_file.empty()) {
    settings["store.postgresql.conninfo"] = conninfo_without_password;
    settings["store.postgresql.sslMode"] = "disable";
  } else {
    settings["store.postgresql.conninfo"] = conninfo_without_password + " sslrootcert=" + ca_file;
  }
  return settings;
}

// The password is in the collector's environment (PGPASSWORD), never in its settings, which
// it may log.
inline std::map<std::string, std::string> postgresEnvironment(const PostgresServer& server) {
  return {{"PGPASSWORD", server.password()}};
}

// The collector that provisioned a shared database first wrote the generated tokens (the
// files admin-token and enroll-token) into its data directory; they are valid on every
// collector of the cluster. Copies them into each of `data_dirs`, so that any collector's
// files can be used.
inline void shareGeneratedTokens(const std::vector<std::string>& data_dirs) {
  for (const char* file : {"admin-token", "enroll-token"}) {
    std::string value;
    for (const std::string& dir : data_dirs) {
      if (!value.empty()) break;
      std::ifstream in(dir + "/" + file);
      std::ostringstream text;
      text << in.rdbuf();
      value = text.str();
    }
    for (const std::string& dir : data_dirs) std::ofstream(dir + "/" + file) << value;
  }
}

}  // namespace vigil::testing
