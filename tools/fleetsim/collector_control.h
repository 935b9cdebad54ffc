#pragma once

// The scenario runner's hold on a real vigil-collector process: start and restart on fixed
// ports with the same data directory, the process-level faults (SIGKILL, SIGSTOP/SIGCONT, CPU
// starvation by competing processes, a full file system under the store), its admin API and
// /metrics over HTTP(S) with verification on, and its resident memory and CPU time.

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"

struct sqlite3;

namespace vigil::testing {
class ChildProcess;
class TestCertificateAuthority;
}  // namespace vigil::testing

namespace vigil::fleetsim {

struct HttpAnswer {
  int status = 0;  // 0: no answer
  std::string body;
  std::string error;  // transport error when status is 0
};

// Requests to one collector; TLS verified against `ca_file` when the URL is https.
class CollectorHttp {
 public:
  CollectorHttp(std::string base_url, std::string ca_file);
  void setToken(std::string token) { token_ = std::move(token); }
  HttpAnswer get(const std::string& path,
                 std::chrono::milliseconds timeout = std::chrono::seconds(10)) const;
  HttpAnswer post(const std::string& path, const std::string& json_body,
                  std::chrono::milliseconds timeout = std::chrono::seconds(10)) const;
  HttpAnswer patch(const std::string& path, const std::string& json_body,
                   std::chrono::milliseconds timeout = std::chrono::seconds(10)) const;
  const std::string& baseUrl() const { return base_url_; }

 private:
  HttpAnswer request(const std::string& method, const std::string& path, const std::string& body,
                     std::chrono::milliseconds timeout) const;
  std::string base_url_;
  std::string ca_file_;
  std::string token_;
};

// The admin setup both the scenarios and the capacity search need: the bootstrap admin token
// from the data directory, the default tenant, a site with an enrollment token.
Status useBootstrapToken(CollectorHttp& http, const std::string& data_dir);
Result<int64_t> defaultTenantId(CollectorHttp& http);
struct EnrollableSite {
  int64_t id = 0;
  std::string enroll_token;
};
Result<EnrollableSite> createSite(CollectorHttp& http, int64_t tenant_id, const std::string& name);

struct CollectorSetup {
  std::string binary;
  std::string data_dir;
  std::string log_path;
  // The IPv4 address it listens on (HTTP and beacons), and the runner reaches it at.
  std::string address = "127.0.0.1";
  int http_port = 0;  // fixed across restarts, as a real collector's
  int beacon_port = 0;
  std::string cert_file;  // set: HTTPS
  std::string ca_file;    // the CA the runner trusts for it
  std::string key_file;
  std::map<std::string, std::string> defines;
  std::map<std::string, std::string> environment;  // on top of the runner's (PGPASSWORD)
};

// A collector of its own under `work_dir` (its data/ created there, collector.log), on free
// loopback ports, answering heartbeats only (no beacon channel, whose datagrams would add to the
// rate measured) at `interval_s`.
CollectorSetup heartbeatOnlySetup(const std::string& binary, const std::string& work_dir,
                                  int64_t interval_s);
// Its settings alone (a cluster's collectors take them too).
std::map<std::string, std::string> heartbeatOnlyDefines(int64_t interval_s);

// Makes `setup` serve HTTPS: a server certificate from `ca` for setup.address, written with
// its key (0600) and the CA's certificate into `dir`.
void serveTlsFrom(const testing::TestCertificateAuthority& ca, const std::string& dir,
                  CollectorSetup& setup);

// Resident memory and CPU time of a process, from /proc.
struct ProcessSample {
  uint64_t rss_bytes = 0;
  double cpu_seconds = 0;  // user + system, all threads
};
std::optional<ProcessSample> sampleProcess(pid_t pid);

// A free TCP or UDP port on 127.0.0.1 (bound, read, released).
int freeLoopbackPort(bool udp);

class CollectorControl {
 public:
  explicit CollectorControl(CollectorSetup setup);
  ~CollectorControl();  // ends faults, kills the process if still running

  // Starts the process and waits (bounded by `timeout`) until /readyz answers 200.
  Status start(std::chrono::seconds timeout = std::chrono::seconds(60));
  // The two halves of start(): several collectors can start at once.
  void launch();
  Status awaitReady(std::chrono::seconds timeout = std::chrono::seconds(60));
  void kill();    // SIGKILL, waits for the exit
  Status stop();  // SIGTERM, waits for the exit (bounded)
  void freeze();  // SIGSTOP
  void thaw();    // SIGCONT
  // Busy processes, one per CPU, take the CPU; the collector's threads run at nice 19 until
  // the starvation ends.
  void starveCpu(bool on);
  bool running() const;
  // How the process ended (its exit code, or minus the signal that ended it); nullopt while it
  // runs or before its first start.
  std::optional<int> exitCode() const;
  pid_t pid() const;
  // The process id while it runs, -1 otherwise; unlike the rest, safe to call from any thread
  // (the runner's sampler).
  pid_t livePid() const { return live_pid_.load(); }
  CollectorHttp& http() { return http_; }
  const CollectorSetup& setup() const { return setup_; }

 private:
  void reniceThreads(int nice_value);

  CollectorSetup setup_;
  CollectorHttp http_;
  std::unique_ptr<testing::ChildProcess> process_;
  std::atomic<pid_t> live_pid_{-1};
  std::vector<pid_t> hogs_;
};

// A tmpfs of its own under the store, so the store's file system can be filled up.
class FillableFileSystem {
 public:
  // Mounts a tmpfs of `size_mb` at `dir` (created). Needs root (CAP_SYS_ADMIN).
  static Result<std::unique_ptr<FillableFileSystem>> mount(const std::string& dir, int size_mb);
  ~FillableFileSystem();  // unmounts (lazily)
  // Fills every free byte with a file of its own; ENOSPC for everyone else until drain().
  Status fill();
  void drain();

 private:
  explicit FillableFileSystem(std::string dir) : dir_(std::move(dir)) {}
  std::string dir_;
};

// A reader holding one snapshot of the store open, as a backup in progress would. While it is
// held the collector's write-ahead log cannot start over, so every commit needs new space: on
// a full file system every write of the collector fails (without it, SQLite reuses the log's
// space and a full disk goes unnoticed until the database itself must grow).
class StoreSnapshotHold {
 public:
  static Result<std::unique_ptr<StoreSnapshotHold>> take(const std::string& db_path);
  ~StoreSnapshotHold();  // ends the read transaction and closes
  StoreSnapshotHold(const StoreSnapshotHold&) = delete;
  StoreSnapshotHold& operator=(const StoreSnapshotHold&) = delete;

 private:
  explicit StoreSnapshotHold(::sqlite3* db) : db_(db) {}
  ::sqlite3* db_;
};

}  // namespace vigil::fleetsim
