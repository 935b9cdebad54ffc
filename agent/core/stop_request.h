#pragma once

#include <atomic>
#include <mutex>

#include "agent/core/collector_client.h"
#include "agent/core/waiter.h"

namespace vigil::agent {

// A request to stop the agent, made from any thread (the service host, a signal), and the
// reason its goodbye notice will give. Thread-safe.
// REQUIRES: `waiter` and `client` outlive it.
class StopRequest {
 public:
  StopRequest(Waiter& waiter, CollectorClient& client) : waiter_(waiter), client_(client) {}

  // Ends the current wait and, unless the goodbye notice is under way, the request in flight.
  // The reason becomes "system_shutdown" after announceShutdown(), else "service_stop", unless
  // one was set already.
  void request();
  // A session logoff: the stop that follows says "logoff".
  void requestForLogoff();
  // The system is shutting down: a stop that follows at once (Windows preshutdown, systemd's
  // SIGTERM) says "system_shutdown".
  void announceShutdown();

  bool requested() const { return requested_.load(); }

  // The goodbye notice is about to be sent: later stops no longer cancel requests, and the
  // client takes requests again. The reason for the notice; null if none was requested.
  const char* beginGoodbye();

 private:
  Waiter& waiter_;
  CollectorClient& client_;
  std::atomic<bool> requested_{false};
  std::mutex mu_;
  // So the loop's resume() for the goodbye can only come after a stop's cancel, and a second
  // stop during the goodbye does not cancel it.
  const char* reason_ = nullptr;     // guarded by mu_
  bool shutdown_announced_ = false;  // guarded by mu_
  bool goodbye_started_ = false;     // guarded by mu_
};

}  // namespace vigil::agent
