#pragma once

#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "agent/core/logger.h"
#include "agent/core/platform.h"
#include "common/clock.h"

namespace vigil::agent {

struct OutgoingDatagram {
  std::string host;
  uint16_t port = 0;
  std::string bytes;
};

// One datagram protocol of the agent (the UDP beacon, the LAN peer witness): when it wants to
// send, what, and what it makes of what arrives. Called from the worker's thread only, but
// implementations are also read by the heartbeat loop, so they lock internally.
class DatagramProtocol {
 public:
  virtual ~DatagramProtocol() = default;
  // When the next datagram is due; nullopt: nothing to send until something arrives.
  virtual std::optional<MonoTime> nextDue() = 0;
  // The datagrams due now (may be empty), and schedules the next ones.
  virtual std::vector<OutgoingDatagram> takeDue() = 0;
  virtual void onDatagram(const Datagram& datagram) = 0;
  // For logs: "beacon", "peer witness".
  virtual const char* name() const = 0;
};

// Runs one DatagramProtocol over one socket on a thread of its own: sleeps in receive() until
// the protocol's next due time or a datagram arrives. No polling: it wakes only for its own
// timers and for datagrams.
class DatagramWorker {
 public:
  // REQUIRES: `protocol`, `clock` and `log` outlive the worker.
  DatagramWorker(DatagramProtocol& protocol, std::unique_ptr<UdpSocket> socket, const Clock& clock,
                 Logger& log);
  ~DatagramWorker();  // stop()s
  DatagramWorker(const DatagramWorker&) = delete;
  DatagramWorker& operator=(const DatagramWorker&) = delete;

  void start();
  // Ends the thread promptly; idempotent.
  void stop();

 private:
  void run();

  DatagramProtocol& protocol_;
  std::unique_ptr<UdpSocket> socket_;
  const Clock& clock_;
  Logger& log_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace vigil::agent
