#pragma once

// Process-level test harness: real vigil-collector and vigil-agent processes on loopback,
// each in its own temporary directory, driven over real HTTP. Linux only.

#include <Poco/JSON/Object.h>
#include <sys/types.h>

#include <chrono>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "tests/support/temp_dir.h"

namespace vigil::testing {

// A child process whose stdout and stderr go to `log_path`. Killed (SIGKILL) on destruction
// if still running.
class ChildProcess {
 public:
  // The child inherits the test's environment, with `environment` set on top of it.
  ChildProcess(const std::string& binary, const std::vector<std::string>& args,
               const std::string& log_path,
               const std::map<std::string, std::string>& environment = {});
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  pid_t pid() const { return pid_; }
  bool running();
  void signal(int signo);
  // Waits up to `timeout` for the process to exit; returns its exit code, or -signal if it
  // was killed by a signal, or nullopt if it is still running.
  std::optional<int> waitExit(std::chrono::milliseconds timeout);

 private:
  pid_t pid_ = -1;
  std::optional<int> exit_code_;
};

struct HttpResponse {
  int status = 0;
  std::string body;
  std::map<std::string, std::string> headers;
  // The body parsed as a JSON object; null if it is not one.
  Poco::JSON::Object::Ptr json() const;
  // The first object of a page's "items" whose string member `name` is `value`; null if none
  // (or the body is not a page).
  Poco::JSON::Object::Ptr item(const std::string& name, const std::string& value) const;
};

// One request over a new loopback connection. Throws on a transport failure.
HttpResponse httpRequest(int port, const std::string& method, const std::string& path,
                         const std::map<std::string, std::string>& headers = {},
                         const std::string& body = "",
                         const std::string& content_type = "application/json");
// The same over HTTPS, trusting the certificate authority in `ca_file` (the certificate's
// chain is verified, not its name: the caller knows whom it dialled on loopback).
HttpResponse httpsRequest(int port, const std::string& ca_file, const std::string& method,
                          const std::string& path,
                          const std::map<std::string, std::string>& headers = {});

std::string readFile(const std::string& path);
// The agent id in an agent's state directory (its identity file); empty before enrollment.
std::string enrolledAgentId(const std::string& state_dir);

// CPU time (user + system, all threads) a process has used, from /proc/<pid>/stat; 0 if gone.
double processCpuSeconds(int pid);
std::string logTail(const std::string& path, size_t max_bytes = 4000);

// The executable `name` in the directories of PATH, then in `extra_dirs` (system directories
// a user's PATH often lacks, such as /usr/sbin or /usr/lib/wine); empty if nowhere.
std::string findExecutable(const std::string& name, const std::vector<std::string>& extra_dirs);

// Polls `condition` every 50 ms until it holds or `timeout` passes. Real processes run on
// real time; this is the only waiting the integration tests do.
bool eventually(const std::function<bool()>& condition, std::chrono::milliseconds timeout);

// Collector settings under which a silent agent is OFFLINE, with an alert, within seconds:
// 1 s heartbeats, a 1 s confirmation window, 100 ms presence ticks, 200 ms store flushes.
std::map<std::string, std::string> fastPresenceSettings();

// A vigil-collector on 127.0.0.1 with an ephemeral port and its own data directory.
class Collector {
 public:
  // `defines` are passed as -D key=value; beacon.port is 0 (ephemeral) unless given.
  explicit Collector(std::string data_dir, std::map<std::string, std::string> defines = {});
  ~Collector();

  // Speak HTTPS to it, trusting `ca_file`: for a collector given tls.certificateFile and
  // tls.privateKeyFile in `defines`. Before start().
  void setCaFile(std::string ca_file) { ca_file_ = std::move(ca_file); }
  // Variables set in its environment on top of the test's (PGPASSWORD). Before start().
  void setEnvironment(std::map<std::string, std::string> environment) {
    environment_ = std::move(environment);
  }
  // Starts the process without waiting for it to be ready; then waitReady(), or waitExit()
  // for a start that must fail.
  void launch();
  // Waits for /readyz (throws with the log's tail if it does not come).
  void waitReady();
  // Waits up to `timeout` for the process to exit; its exit code, or -1 if it still runs.
  int waitExit(std::chrono::milliseconds timeout);
  // Starts the process and waits for /readyz.
  void start();
  // SIGTERM, then waits for exit; returns the exit code.
  int stop();
  // SIGKILL, then waits for exit.
  void kill();
  // Sends `signo` (SIGSTOP, SIGCONT, ...) and returns at once.
  void signal(int signo) { process_->signal(signo); }

  int port() const { return port_; }
  const std::string& dataDir() const { return data_dir_; }
  const std::string& logPath() const { return log_path_; }
  std::string adminToken() const;
  std::string enrollToken() const;

  // Admin API GET with the admin token.
  HttpResponse adminGet(const std::string& path) const;
  // The agent as GET /api/v1/agents/{id} answers it; null if not 200.
  Poco::JSON::Object::Ptr agent(const std::string& id) const;

 private:
  HttpResponse request(const std::string& method, const std::string& path,
                       const std::map<std::string, std::string>& headers = {}) const;

  std::string data_dir_;
  std::string log_path_;
  std::string ca_file_;  // set: HTTPS
  std::map<std::string, std::string> defines_;
  std::map<std::string, std::string> environment_;
  std::unique_ptr<ChildProcess> process_;
  int port_ = 0;
  int starts_ = 0;
};

// The value of one series of the collector's /metrics (`name{labels}` as written there); -1 if
// it is absent.
double metric(const Collector& collector, const std::string& series);

// A vigil-agent pointed at a collector.
class Agent {
 public:
  // Peer announcements go to 127.255.255.255 (loopback broadcast), never onto a real LAN.
  Agent(std::string state_dir, int collector_port, std::string enroll_token);
  // More command-line arguments for the next start(), e.g. {"-D", "peer_port=40001"}.
  void setExtraArgs(std::vector<std::string> args) { extra_args_ = std::move(args); }
  // Another vigil-agent binary than the build's (VIGIL_AGENT_BIN) for the next start().
  void setBinary(std::string path) { binary_ = std::move(path); }
  // Environment variables for the next start(), on top of the test's (e.g. libfaketime's).
  void setEnvironment(std::map<std::string, std::string> environment) {
    environment_ = std::move(environment);
  }
  void start();
  // SIGTERM, then waits for exit; returns the exit code.
  int stop();
  // SIGKILL (a crash: no goodbye), then waits for exit.
  void kill();
  bool running();
  // The running agent's process id.
  int pid() const { return process_->pid(); }
  const std::string& stateDir() const { return state_dir_; }
  const std::string& logPath() const { return log_path_; }
  // The agent id from its identity file; empty before enrollment.
  std::string agentId() const;

 private:
  std::string state_dir_;
  std::string log_path_;
  int port_;
  std::string token_;
  std::vector<std::string> extra_args_;
  std::string binary_ = VIGIL_AGENT_BIN;
  std::map<std::string, std::string> environment_;
  std::unique_ptr<ChildProcess> process_;
  int starts_ = 0;
};

}  // namespace vigil::testing
