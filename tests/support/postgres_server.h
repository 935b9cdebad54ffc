#pragma once

// A real PostgreSQL server for tests: Debian's postgresql-15 binaries (initdb, pg_ctl), a
// cluster in a fresh temporary directory, listening on 127.0.0.1 on a free port with
// password (SCRAM) authentication, run as an unprivileged user (`nobody` when the tests run
// as root: PostgreSQL refuses to run as root). Durability is traded for speed (fsync off):
// a test server only. Stopped and removed on destruction; stopped too when the process dies
// without it (a watchdog child: a crashed or killed test leaves no server running).
//
// The binaries are those of the newest /usr/lib/postgresql/<version>/bin, or of
// $VIGIL_POSTGRESQL_BINDIR.

#include <string>

namespace vigil::testing {

class PostgresServer {
 public:
  struct Options {
    // Serve TLS (ssl=on) with this certificate and key (PEM); empty: no TLS.
    std::string tls_cert_pem;
    std::string tls_key_pem;
  };

  // Creates the cluster and starts the server; throws std::runtime_error (with initdb's or
  // the server's log) if either fails.
  PostgresServer() : PostgresServer(Options{}) {}
  explicit PostgresServer(const Options& options);
  ~PostgresServer();
  PostgresServer(const PostgresServer&) = delete;
  PostgresServer& operator=(const PostgresServer&) = delete;

  int port() const { return port_; }
  // The cluster's data directory (postmaster.pid names the running server's process).
  std::string dataDirectory() const { return dir_ + "/data"; }
  const std::string& user() const { return user_; }
  const std::string& password() const { return password_; }
  // libpq connection string for database `dbname` (with the password).
  std::string conninfo(const std::string& dbname) const;
  // The same without the password (which a collector reads from PGPASSWORD); with `port`, at
  // that port of 127.0.0.1 instead of the server's own (a proxy in front of the server).
  std::string conninfoWithoutPassword(const std::string& dbname, int port = 0) const;
  // Creates a database owned by user(), a copy of `template_name` (default: an empty one);
  // returns its name (`prefix` and a number).
  std::string createDatabase(const std::string& prefix, const std::string& template_name = "");

  // pg_ctl stop -m fast / start / restart -m fast; each waits until done and throws on
  // failure. A stopped server refuses connections, as a real outage does.
  void stop();
  void start();
  void restart();
  bool running() const { return running_; }

 private:
  void pgCtl(const std::string& action, const std::string& mode);

  std::string bindir_;
  bool tls_ = false;
  std::string dir_;  // owned by the server's user: data/, the log, the socket
  std::string user_ = "vigil";
  std::string password_;
  int port_ = 0;
  int databases_ = 0;
  bool running_ = false;
  int watchdog_ = -1;  // the watchdog child's pid
};

}  // namespace vigil::testing
