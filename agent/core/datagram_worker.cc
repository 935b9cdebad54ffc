#include "agent/core/datagram_worker.h"

#include <algorithm>

#include "common/datagram.h"

namespace vigil::agent {
namespace {

// Longest sleep without a due time: only a stop or a datagram ends it.
constexpr Duration kIdleWait = std::chrono::hours(1);
// A send error is logged at most this often per protocol.
constexpr Duration kSendErrorLogEvery = std::chrono::minutes(5);

}  // namespace

DatagramWorker::DatagramWorker(DatagramProtocol& protocol, std::unique_ptr<UdpSocket> socket,
                               const Clock& clock, Logger& log)
    : protocol_(protocol), socket_(std::move(socket)), clock_(clock), log_(log) {}

DatagramWorker::~DatagramWorker() { stop(); }

void DatagramWorker::start() {
  if (thread_.joinable()) return;
  thread_ = std::thread([this] { run(); });
}

void DatagramWorker::stop() {
  stop_.store(true);
  socket_->interrupt();
  if (thread_.joinable()) thread_.join();
}

void DatagramWorker::run() {
  std::optional<MonoTime> last_error_log;
  while (!stop_.load()) {
    for (OutgoingDatagram& out : protocol_.takeDue()) {
      Status st = socket_->sendTo(out.host, out.port, out.bytes);
      if (!st.ok()) {
        const MonoTime now = clock_.monotonicNow();
        if (!last_error_log || now - *last_error_log >= kSendErrorLogEvery) {
          log_.warn(std::string(protocol_.name()) + ": cannot send to " + out.host + ":" +
                    std::to_string(out.port) + ": " + st.message());
          last_error_log = now;
        }
      }
    }
    Duration wait = kIdleWait;
    if (std::optional<MonoTime> due = protocol_.nextDue()) {
      wait = std::clamp<Duration>(*due - clock_.monotonicNow(), Duration::zero(), kIdleWait);
    }
    Result<std::optional<Datagram>> got = socket_->receive(wait, datagram::kMaxDatagramBytes);
    if (stop_.load()) break;
    if (!got.ok()) {
      log_.warn(std::string(protocol_.name()) + ": receive failed: " + got.error().message() +
                "; channel stopped");
      break;
    }
    if (got.value()) protocol_.onDatagram(*got.value());
  }
}

}  // namespace vigil::agent
