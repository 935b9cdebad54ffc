#pragma once

// A TCP proxy on 127.0.0.1 that the scenario runner puts between one collector and PostgreSQL,
// so that it can cut that collector off from the database while HAProxy and the other
// collectors still reach it (docs/scenarios.md, "Cluster scenarios"). A cut drops every
// connection through it (reset on both sides) and refuses new ones (nothing listens on its
// port); heal() listens again, and new connections go through.
//
// Thread safety: every method may be called from any thread; the copying runs on a thread of
// the proxy's own.

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <thread>

#include "common/status.h"
#include "tools/fleetsim/loop_wakeup.h"

namespace vigil::fleetsim {

class CuttableProxy {
 public:
  // Listens on a free port of 127.0.0.1 and forwards each connection to 127.0.0.1:`upstream`.
  static Result<std::unique_ptr<CuttableProxy>> start(int upstream_port);
  ~CuttableProxy();  // closes every connection and the listener
  CuttableProxy(const CuttableProxy&) = delete;
  CuttableProxy& operator=(const CuttableProxy&) = delete;

  int port() const { return port_; }
  // Both return once the proxy is in the new state.
  void cut();
  void heal();
  bool isCut() const { return cut_.load(); }
  uint64_t connectionsAccepted() const { return accepted_.load(); }
  uint64_t connectionsDropped() const { return dropped_.load(); }

 private:
  struct Pair;
  class Loop;
  CuttableProxy(int listener, int port, int upstream_port);
  void request(bool cut);  // posts the change and waits for the loop to make it

  const int port_;
  const int upstream_port_;
  LoopWakeup wake_;  // a change is posted, or the proxy stops
  std::unique_ptr<Loop> loop_;
  std::thread thread_;
  std::mutex mu_;  // serializes cut() and heal()
  std::atomic<bool> cut_{false};
  std::atomic<bool> want_cut_{false};
  std::atomic<bool> stopping_{false};
  std::atomic<uint64_t> changes_posted_{0};
  std::atomic<uint64_t> changes_made_{0};
  std::atomic<uint64_t> accepted_{0};
  std::atomic<uint64_t> dropped_{0};
};

}  // namespace vigil::fleetsim
