#pragma once

// A synthetic agent for load and metrics tests: enrolls over real HTTP and sends signed
// heartbeats (docs/protocol.md) on a keep-alive connection, recording what came back.
// Not thread-safe: an agent and its session belong to one thread.

#include <Poco/Net/HTTPClientSession.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

namespace vigil::testing {

struct SyntheticAnswer {
  int status = 0;  // 0: no answer (see transport_error)
  std::string body;
  std::string retry_after;      // the Retry-After header, "" if absent
  std::string transport_error;  // connection refused, reset, timeout: what the client saw
  std::chrono::steady_clock::duration took{};
};

class SyntheticAgent {
 public:
  // A keep-alive session to the collector on 127.0.0.1:`port`; `timeout` bounds connect,
  // send and receive. Idle for more than 0.5 s, it reconnects (shorter than the collector's
  // idle timeout, so it never reuses a connection the collector is closing).
  static std::shared_ptr<Poco::Net::HTTPClientSession> makeSession(
      int port, std::chrono::seconds timeout = std::chrono::seconds(30));

  // With its own session.
  explicit SyntheticAgent(int port, std::chrono::seconds timeout = std::chrono::seconds(30));
  // Sharing `session` with other agents of the same thread.
  explicit SyntheticAgent(std::shared_ptr<Poco::Net::HTTPClientSession> session);
  ~SyntheticAgent();

  // POST /v1/enroll with `enroll_token`; on 201 this agent has an id and a secret.
  SyntheticAnswer enroll(const std::string& enroll_token, const std::string& hostname);
  // POST /v1/heartbeat, signed, with the next sequence number.
  SyntheticAnswer heartbeat();

  const std::string& id() const { return id_; }
  bool enrolled() const { return !id_.empty(); }

 private:
  SyntheticAnswer post(const std::string& path, const std::string& body,
                       const std::string& signature, int64_t timestamp_ms);

  std::shared_ptr<Poco::Net::HTTPClientSession> session_;
  std::string id_;
  std::string secret_;
  uint64_t next_seq_ = 1;
};

}  // namespace vigil::testing
