#pragma once

// The collector's HTTP(S) listener (docs/operations.md, "Connections and bulkheads").
//
// One event-loop thread owns every socket: it accepts, completes TLS handshakes, reads each
// request's head and body without blocking, and writes answers. A connection that is slow,
// idle, silent or stuck in its handshake therefore costs a socket and a little memory, never a
// worker; ConnectionLedger bounds it in time (a total deadline per request, not per byte) and
// in room (connections in all and per client address).
//
// Only a complete request reaches a worker. It is classified by path (admission.h) and
// admitted to its class's bulkhead (ingest, admin, probe: each with its own worker threads and
// queue) or answered at once by the loop with 503/429 `overloaded` and Retry-After. Workers
// run the Poco handlers given by `factory` on in-memory requests and answers
// (buffered_exchange.h). A keep-alive answer on plain HTTP is written by the worker itself;
// any other (TLS, closing, or one that does not fit the socket at once) by the loop, which
// keeps the connection for the next request (keep-alive) or closes it. Agents' requests are
// shed for real overload only: a queue served late or at its high-water mark (admission.h).
// Requests the listener cannot frame are answered 400 (413, 431) with a JSON error body and the
// connection is closed (request_reader.h).
//
// Thread safety: start(), stop() and the destructor from one thread; stats() and queued()
// from any.

#include <Poco/Logger.h>
#include <Poco/Net/Context.h>
#include <Poco/Net/HTTPRequestHandlerFactory.h>
#include <Poco/Net/ServerSocket.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "collector/http/admission.h"
#include "collector/http/metrics.h"
#include "collector/listener/connection_ledger.h"
#include "collector/listener/request_reader.h"
#include "common/clock.h"

namespace vigil::collector {

struct ListenerConfig {
  ConnectionLimits connections;
  RequestLimits requests;
  // Worker threads of each class (indexed by RequestClass); each at least 1. How many of a
  // class's requests may wait for them is AdmissionConfig's business. Ingest's work is CPU
  // (a heartbeat touches no disk): a few workers per core serve more than many, which only
  // add context switches.
  std::array<uint32_t, kRequestClassCount> workers{{4, 4, 2}};
  bool keep_alive = true;
  // HTTPS with this server context; null: plain HTTP.
  Poco::Net::Context::Ptr tls;
};

// A turn of the event loop (handling what epoll reported) longer than this means every
// connection waited that long: the listener itself is the bottleneck.
constexpr Duration kLoopStall = std::chrono::seconds(1);

struct ListenerStats {
  ConnectionLedger::Counters connections;
  std::array<uint64_t, kConnectionPhaseCount> open{};  // by phase
  uint64_t accept_failures = 0;    // accept() failed (descriptors exhausted, ...)
  uint64_t tls_failures = 0;       // handshakes that failed (not those that timed out)
  uint64_t unframed_requests = 0;  // answered 400/413/431 by the listener
  uint64_t aborted_requests = 0;   // the client closed in the middle of a request
  uint64_t loop_stalls = 0;        // turns of the event loop that took longer than kLoopStall
  std::array<uint64_t, kRequestClassCount> queued{};  // complete requests waiting for a worker
  std::array<uint64_t, kRequestClassCount> busy{};    // workers serving a request
  std::array<uint32_t, kRequestClassCount> workers{};
};

class HttpListener {
 public:
  // `socket` is bound and listening. `factory`, `admission`, `clock` and `logger` must outlive
  // the listener; `logger` gets the listener's own lines (failures, summaries).
  HttpListener(Poco::Net::ServerSocket socket, ListenerConfig config,
               Poco::Net::HTTPRequestHandlerFactory& factory, AdmissionController& admission,
               const Clock& clock, Poco::Logger& logger);
  ~HttpListener();
  HttpListener(const HttpListener&) = delete;
  HttpListener& operator=(const HttpListener&) = delete;

  void start();
  // Stops accepting and reading; requests being served and answers being sent get up to
  // `drain` to finish, then every connection is closed and every thread joined. Returns how
  // many connections were cut with a request in progress. Idempotent.
  size_t stop(Duration drain);

  ListenerStats stats() const;
  // Connections dropped for want of room, accepts that failed and loop stalls since the start:
  // each is a moment the collector could not give agents a fair chance to be heard.
  static uint64_t starvation(const ListenerStats& stats) {
    return stats.connections.starved + stats.accept_failures + stats.loop_stalls;
  }
  uint64_t queued(RequestClass request_class) const;
  const Poco::Net::SocketAddress& address() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

// vigil_http_connections*, vigil_http_workers*, vigil_http_requests_unframed_total.
MetricsSource listenerMetrics(const HttpListener& listener);

}  // namespace vigil::collector
