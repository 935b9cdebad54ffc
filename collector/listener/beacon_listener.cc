#include "collector/listener/beacon_listener.h"

#include <Poco/Exception.h>
#include <Poco/Net/SocketAddress.h>
#include <Poco/Timespan.h>

#include <array>

#include "common/datagram.h"

namespace vigil::collector {

BeaconListener::BeaconListener(BeaconService& service, Poco::Logger& logger)
    : service_(service), logger_(logger) {}

BeaconListener::~BeaconListener() { stop(); }

Status BeaconListener::bind(const std::string& address, int port) {
  try {
    const Poco::Net::SocketAddress at(address, static_cast<Poco::UInt16>(port));
    socket_.emplace(at, /*reuseAddress=*/false, /*reusePort=*/false);
    port_ = socket_->address().port();
    return Status::okStatus();
  } catch (const Poco::Exception& e) {
    socket_.reset();
    return Status::unavailable("cannot bind udp " + address + ":" + std::to_string(port) + ": " +
                               e.displayText());
  }
}

void BeaconListener::start() {
  stopping_ = false;
  thread_ = std::thread([this] { run(); });
}

void BeaconListener::stop() {
  stopping_ = true;
  if (thread_.joinable()) thread_.join();
  if (socket_) {
    try {
      socket_->close();
    } catch (const Poco::Exception&) {  // NOLINT(bugprone-empty-catch): closing is best effort
    }
    socket_.reset();
  }
}

void BeaconListener::run() {
  const Poco::Timespan poll_period(
      std::chrono::duration_cast<std::chrono::microseconds>(kPollPeriod).count());
  while (!stopping_) {
    try {
      if (socket_->poll(poll_period, Poco::Net::Socket::SELECT_READ)) handleOne();
    } catch (const Poco::Exception& e) {
      // A failing socket must not spin the log: one line per drop log period.
      const auto now = std::chrono::steady_clock::now();
      if (!last_error_logged_ || now - *last_error_logged_ >= service_.config().drop_log_period) {
        last_error_logged_ = now;
        logger_.warning("beacon listener: " + e.displayText());
      }
    }
  }
}

void BeaconListener::handleOne() {
  // One byte more than a datagram may have: a longer one arrives truncated, is seen as too
  // long and dropped as malformed.
  std::array<char, datagram::kMaxDatagramBytes + 1> buffer{};
  Poco::Net::SocketAddress sender;
  const int n = socket_->receiveFrom(buffer.data(), static_cast<int>(buffer.size()), sender);
  if (n < 0) return;
  BeaconOutcome outcome = service_.handle(std::string_view(buffer.data(), static_cast<size_t>(n)));
  if (!outcome.ack.empty()) {
    socket_->sendTo(outcome.ack.data(), static_cast<int>(outcome.ack.size()), sender);
    return;
  }
  if (outcome.drop && outcome.log_drop) {
    std::string line = std::string("beacon dropped (") + beaconDropName(*outcome.drop) + ") from " +
                       sender.toString();
    if (!outcome.agent_id.empty()) line += " agent=" + outcome.agent_id;
    if (outcome.unlogged_drops > 0) {
      line += "; " + std::to_string(outcome.unlogged_drops) +
              " more dropped for this reason since the previous line";
    }
    logger_.notice(line);
  }
}

}  // namespace vigil::collector
