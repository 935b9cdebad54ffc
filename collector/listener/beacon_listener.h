#pragma once

// The collector's UDP beacon port: one thread reads datagrams, BeaconService checks them, and
// each accepted beacon is acknowledged to the address it came from (never elsewhere). Drops
// are logged at most once per reason per BeaconConfig::drop_log_period, never per datagram.
//
// Thread safety: bind()/start()/stop() from one owner thread; port() from any thread once
// bound.

#include <Poco/Logger.h>
#include <Poco/Net/DatagramSocket.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <thread>

#include "collector/ingest/beacon_service.h"
#include "common/status.h"

namespace vigil::collector {

class BeaconListener {
 public:
  // How long the thread waits for a datagram before it looks at the stop flag again.
  static constexpr std::chrono::milliseconds kPollPeriod{200};

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

 private:
  void run();
  void handleOne();

  BeaconService& service_;
  Poco::Logger& logger_;
  std::optional<Poco::Net::DatagramSocket> socket_;
  uint16_t port_ = 0;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
  std::optional<std::chrono::steady_clock::time_point> last_error_logged_;  // thread only
};

}  // namespace vigil::collector
