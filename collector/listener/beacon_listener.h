#pragma once

// The collector's UDP beacon port: one thread reads datagrams in batches, BeaconService checks
// each, and each accepted beacon is acknowledged to the address it came from (never elsewhere),
// the batch's acks in one system call. Drops are logged at most once per reason per
// BeaconConfig::drop_log_period, never per datagram. Nothing is allocated per datagram: the
// batch's buffers and the check's workspace are made once (Linux: recvmmsg and sendmmsg).
//
// Beacons the kernel drops because the socket's receive queue is full never reach the
// thread; the kernel counts them (SO_RXQ_OVFL) and receiveStats() reports them, so the
// collector can tell its own overload from silent agents.
//
// Thread safety: bind()/start()/stop() from one owner thread; port() from any thread once
// bound.

#include <Poco/Logger.h>
#include <Poco/Net/DatagramSocket.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "collector/http/metrics.h"
#include "collector/ingest/beacon_service.h"
#include "common/status.h"

namespace vigil::collector {

class BeaconListener {
 public:
  // How long the thread waits for a datagram before it looks at the stop flag again.
  static constexpr std::chrono::milliseconds kPollPeriod{200};
  // Datagrams read, and acks sent, per system call.
  static constexpr size_t kBatchSize = 64;
  // The socket's receive buffer, asked of the kernel (which caps it at net.core.rmem_max):
  // room for a burst of some thousands of beacons while the thread is busy.
  static constexpr int kReceiveBufferBytes = 4 << 20;

  // `service` and `logger` must outlive the listener.
  BeaconListener(BeaconService& service, Poco::Logger& logger);
  ~BeaconListener();  // stops if running
  BeaconListener(const BeaconListener&) = delete;
  BeaconListener& operator=(const BeaconListener&) = delete;

  // Binds UDP `address`:`port` (0: a free port) without SO_REUSEADDR or SO_REUSEPORT, so a
  // port another process holds is an error (kUnavailable), as it is for the HTTP listener.
  // REQUIRES: not bound yet.
  Status bind(const std::string& address, int port);
  // The bound port. REQUIRES: bound.
  uint16_t port() const { return port_; }

  // Starts the thread. REQUIRES: bound, not running.
  void start();
  // Stops the thread within about kPollPeriod and closes the socket. Idempotent.
  void stop();

  struct ReceiveStats {
    uint64_t read = 0;        // datagrams read from the socket
    uint64_t overflowed = 0;  // datagrams the kernel dropped: the receive queue was full
  };
  // Totals since bind(). `overflowed` is learnt from the datagrams read after the drops, so
  // it lags until the next one arrives. Safe from any thread.
  ReceiveStats receiveStats() const;

 private:
  struct Batch;  // the preallocated datagrams, addresses and acks of one batch

  void run();
  // Reads what is queued (at most kBatchSize datagrams), checks each and sends the acks;
  // returns how many were read.
  size_t serveBatch();
  // Sends the first `count` acks of the batch; one that fails is skipped.
  void sendAcks(size_t count);
  // Adds the drops the kernel counted up to the batch's last datagram to overflowed_.
  void countOverflows(size_t received);
  void logDrop(const BeaconVerdict& verdict, size_t slot);
  // One line per drop log period, so a failing socket does not spin the log.
  void logSocketError(const char* call, int error);

  BeaconService& service_;
  Poco::Logger& logger_;
  std::optional<Poco::Net::DatagramSocket> socket_;
  uint16_t port_ = 0;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
  // The thread's alone:
  std::unique_ptr<Batch> batch_;
  BeaconWorkspace workspace_;
  std::optional<std::chrono::steady_clock::time_point> last_error_logged_;
  uint32_t kernel_drops_seen_ = 0;  // the kernel's counter (it wraps) as last read
  std::atomic<uint64_t> read_{0};
  std::atomic<uint64_t> overflowed_{0};
};

// vigil_beacon_datagrams_read_total and vigil_beacon_receive_overflows_total.
MetricsSource beaconReceiveMetrics(const BeaconListener& listener);

}  // namespace vigil::collector
