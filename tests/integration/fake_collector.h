#pragma once

// A scriptable stand-in for vigil-collector: a small HTTP/1.1 server on 127.0.0.1 (ephemeral
// port, plain or TLS) that records every request and answers each one from a script the test
// sets, and can change, while it runs. Its canned answers cover the normal protocol (enrollment,
// heartbeat) and the ways a real collector or a middlebox misbehaves: garbage, huge bodies,
// unexpected statuses, a slow drip, Retry-After, silence, a closed connection, a wrong
// certificate. Linux (POSIX sockets) and OpenSSL. For tests of the real agent binary and for
// tools that simulate fleets against it.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace vigil::testing {

using SteadyTime = std::chrono::steady_clock::time_point;

// One HTTP request as the fake read it.
struct FakeRequest {
  uint64_t index = 0;          // arrival order, from 0
  uint64_t connection_id = 0;  // the FakeConnection that carried it
  bool tls = false;
  std::string method;
  std::string target;                          // request target as sent ("/v1/heartbeat")
  std::map<std::string, std::string> headers;  // names lower-cased
  std::string body;
  SteadyTime arrived;           // when the whole request had been read
  int64_t arrived_unix_ms = 0;  // the same moment on the wall clock
  std::string answered_with;    // FakeAnswer::label of the answer the script chose

  // The header's value, empty if absent. `name` is matched without regard to case.
  std::string header(const std::string& name) const;
};

// One accepted TCP connection.
struct FakeConnection {
  uint64_t id = 0;
  bool tls = false;
  SteadyTime accepted;
  // TLS only: whether the handshake completed, and OpenSSL's reason when it did not.
  bool handshake_ok = false;
  std::string tls_error;
  size_t requests = 0;  // requests read on it
};

// How the fake answers one request. Build them with the fake_answers functions below.
struct FakeAnswer {
  enum class Kind {
    kRespond,      // status line, headers and body at once
    kSlowDrip,     // status line and headers at once, then the body one byte per drip_interval
    kSlowHead,     // the whole answer, status line first, one byte per drip_interval
    kNeverAnswer,  // send nothing; keep the connection open until the client gives up
    kClose,        // close the connection without a byte of answer
  };
  Kind kind = Kind::kRespond;
  int status = 200;
  std::string reason;                                        // empty: the usual phrase for `status`
  std::vector<std::pair<std::string, std::string>> headers;  // besides Content-Length
  std::string body;
  // Bytes of 'x' sent after `body` and counted in Content-Length: a huge answer without
  // holding it in memory.
  uint64_t filler_bytes = 0;
  std::chrono::milliseconds drip_interval{1000};
  std::string label;  // recorded in FakeRequest::answered_with
};

// What the fake hands out at enrollment and checks heartbeats against.
struct FakeIdentity {
  std::string agent_id = "ag_fake1";
  std::string secret;  // 64 lower-case hex, random per FakeCollector
};

namespace fake_answers {
// 201 with the identity, `heartbeat_interval_s` and the current wall clock.
FakeAnswer enrolled(const FakeIdentity& identity, int64_t heartbeat_interval_s);
// 200 with `next_interval_s` and the current wall clock.
FakeAnswer heartbeatAccepted(int64_t next_interval_s);
// A Vigil error body (docs/protocol.md) with `status`, and a Retry-After header if given.
FakeAnswer vigilError(int status, const std::string& error, const std::string& message,
                      std::optional<int64_t> retry_after_s = std::nullopt);
// 429 or 503 `overloaded` with Retry-After.
FakeAnswer overloaded(int status, int64_t retry_after_s);
// 200 whose body is not JSON at all.
FakeAnswer garbage();
// 200 with a JSON-looking body of `bytes` bytes (default 10 MiB).
FakeAnswer hugeBody(uint64_t bytes = 10u << 20);
// `status` with a plain-text body; a 3xx gets a Location header.
FakeAnswer unexpectedStatus(int status);
// 200 with Content-Length `body_bytes`, then one byte every `interval`.
FakeAnswer slowDrip(uint64_t body_bytes = 100,
                    std::chrono::milliseconds interval = std::chrono::seconds(1));
// 200 with Content-Length `body_bytes`, the status line and headers included, one byte every
// `interval`: an answer that never completes its head in reasonable time.
FakeAnswer slowHead(uint64_t body_bytes = 100,
                    std::chrono::milliseconds interval = std::chrono::seconds(1));
FakeAnswer neverAnswer();
FakeAnswer closeConnection();
}  // namespace fake_answers

// PEM certificate and private key for the fake's TLS listener.
struct TlsCredentials {
  std::string cert_pem;
  std::string key_pem;
};

// A self-signed certificate for `common_name` (also its DNS subject alternative name), valid
// for a day: a certificate no agent should trust. Throws on an OpenSSL failure.
TlsCredentials selfSignedCredentials(const std::string& common_name);

// A throwaway certificate authority whose PEM an agent can be told to trust (--ca-file), and
// which issues server certificates for loopback. Throws on an OpenSSL failure.
class TestCertificateAuthority {
 public:
  TestCertificateAuthority();
  ~TestCertificateAuthority();
  TestCertificateAuthority(const TestCertificateAuthority&) = delete;
  TestCertificateAuthority& operator=(const TestCertificateAuthority&) = delete;

  const std::string& certPem() const { return cert_pem_; }
  // A server certificate for IP address 127.0.0.1 and DNS name localhost, signed by this CA.
  TlsCredentials issueLoopbackServer() const { return issueServer({"127.0.0.1"}); }
  // A server certificate for `ip_addresses` (IPv4 or IPv6 literals, the first also its common
  // name) and the DNS name localhost, signed by this CA.
  TlsCredentials issueServer(const std::vector<std::string>& ip_addresses) const;

 private:
  struct Keys;
  std::unique_ptr<Keys> keys_;
  std::string cert_pem_;
};

// Decides the answer to each request. Called on the fake's connection threads, one call at a
// time (the fake serialises them), so a script may keep state without its own lock.
using FakeScript = std::function<FakeAnswer(const FakeRequest&)>;

// The server. Thread-safe: the test thread reads recordings and changes the script while the
// fake's threads serve. Every connection has a thread of its own; stop() (or destruction)
// ends them all, including those dripping or holding a silent connection.
class FakeCollector {
 public:
  struct Options {
    // Serve TLS with these credentials instead of plain HTTP.
    std::optional<TlsCredentials> tls;
    // The interval in the normal enrollment and heartbeat answers.
    int64_t heartbeat_interval_s = 1;
  };

  FakeCollector();
  explicit FakeCollector(Options options);
  ~FakeCollector();
  FakeCollector(const FakeCollector&) = delete;
  FakeCollector& operator=(const FakeCollector&) = delete;

  // Binds 127.0.0.1 on an ephemeral port and starts serving. Throws if it cannot. Call once.
  void start();
  // Stops accepting, ends every connection and joins the threads. Idempotent.
  void stop();

  int port() const { return port_; }
  // "http://127.0.0.1:<port>" or "https://127.0.0.1:<port>".
  std::string url() const;
  const FakeIdentity& identity() const { return identity_; }

  // Replaces the script for requests read from now on; an exchange already dripping or
  // silent goes on. The initial script is normalScript().
  void setScript(FakeScript script);
  // The answer a well-behaved collector gives: enrollment and heartbeat succeed with the
  // configured interval; anything else is a Vigil 404 or 405.
  FakeAnswer normalAnswer(const FakeRequest& request) const;
  FakeScript normalScript() const;
  // TLS only: connections accepted from now on present these credentials. Throws if they do
  // not load.
  void setTlsCredentials(const TlsCredentials& credentials);

  std::vector<FakeRequest> requests() const;
  size_t requestCount() const;
  std::vector<FakeConnection> connections() const;
  // Requests that asked for `target` (e.g. "/v1/heartbeat"), in arrival order.
  std::vector<FakeRequest> requestsTo(const std::string& target) const;

 private:
  struct TlsContext;
  struct OpenConnection;

  void acceptLoop();
  void serveConnection(const std::shared_ptr<OpenConnection>& conn);
  void reapFinishedThreads();
  // Waits up to `d` or until stop(); false if stopping.
  bool sleepFor(std::chrono::milliseconds d);

  Options options_;
  FakeIdentity identity_;
  int listen_fd_ = -1;
  int wake_pipe_[2] = {-1, -1};
  int port_ = 0;
  std::atomic<bool> stopping_{false};
  bool started_ = false;
  std::thread accept_thread_;

  mutable std::mutex mu_;  // guards everything below
  std::condition_variable stop_cv_;
  std::shared_ptr<FakeScript> script_;
  std::shared_ptr<TlsContext> tls_context_;
  std::vector<FakeRequest> requests_;
  std::vector<FakeConnection> connections_;
  struct ConnectionThread {
    std::shared_ptr<OpenConnection> conn;
    std::thread thread;
  };
  std::list<ConnectionThread> connection_threads_;

  std::mutex script_mu_;  // one script call at a time
};

}  // namespace vigil::testing
