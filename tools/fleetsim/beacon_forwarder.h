#pragma once

// The layer 4 UDP forwarder in front of a lab cluster's beacon listeners. HAProxy does not
// carry UDP: a cluster gives every collector the same beacon.port and forwards that port on the
// load balancer's address to the collectors (packaging/haproxy/vigil-cluster.cfg). Here the
// collectors listen on addresses of their own (127.0.0.11, 127.0.0.12, ...) with one port,
// and this forwarder takes the datagrams sent to that port on 127.0.0.1 (where agents send
// them: the host of their server URL, HAProxy's) to the collectors marked up, in rotation, and
// sends what a collector answers back to the sender from that port, as a NAT would.
//
// Thread safety: every method may be called from any thread; the forwarding runs on a thread
// of the forwarder's own.

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "common/status.h"
#include "tools/fleetsim/loop_wakeup.h"

namespace vigil::fleetsim {

class BeaconForwarder {
 public:
  struct Backend {
    std::string address;  // IPv4
    int port = 0;
  };
  // Listens on 127.0.0.1:`port`; every backend is down until setUp().
  static Result<std::unique_ptr<BeaconForwarder>> start(int port, std::vector<Backend> backends);
  ~BeaconForwarder();
  BeaconForwarder(const BeaconForwarder&) = delete;
  BeaconForwarder& operator=(const BeaconForwarder&) = delete;

  // Puts a backend in the rotation or takes it out (as a load balancer's health check does).
  void setUp(size_t backend, bool up);
  uint64_t forwarded() const { return forwarded_.load(); }
  uint64_t answered() const { return answered_.load(); }
  uint64_t unrouted() const { return unrouted_.load(); }  // dropped: no backend up

 private:
  class Loop;
  BeaconForwarder(int front, std::vector<Backend> backends);

  std::vector<Backend> backends_;
  std::unique_ptr<std::atomic<bool>[]> up_;
  LoopWakeup wake_;
  std::unique_ptr<Loop> loop_;
  std::thread thread_;
  std::atomic<bool> stopping_{false};
  std::atomic<uint64_t> forwarded_{0};
  std::atomic<uint64_t> answered_{0};
  std::atomic<uint64_t> unrouted_{0};
};

}  // namespace vigil::fleetsim
