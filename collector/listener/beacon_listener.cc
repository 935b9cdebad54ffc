#include "collector/listener/beacon_listener.h"

#include <Poco/Error.h>
#include <Poco/Exception.h>
#include <Poco/Net/SocketAddress.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <string_view>

#include "common/datagram.h"

namespace vigil::collector {

struct BeaconListener::Batch {
  struct Slot {
    // One byte more than a datagram may have: a longer one arrives truncated, is seen as too
    // long and dropped as malformed.
    std::array<char, datagram::kMaxDatagramBytes + 1> datagram{};
    sockaddr_storage sender{};
    iovec datagram_iov{};
    // Room for the kernel's drop counter (SO_RXQ_OVFL), attached once there were drops.
    alignas(cmsghdr) std::array<char, CMSG_SPACE(sizeof(uint32_t))> control{};
    datagram::DatagramBuffer ack{};
    iovec ack_iov{};
  };

  Batch() {
    for (size_t i = 0; i < kBatchSize; ++i) {
      Slot& slot = slots[i];
      slot.datagram_iov = {slot.datagram.data(), slot.datagram.size()};
      msghdr& in = received[i].msg_hdr;
      in.msg_iov = &slot.datagram_iov;
      in.msg_iovlen = 1;
      in.msg_name = &slot.sender;
    }
  }

  // Makes every slot ready to receive (recvmmsg overwrites the address and control lengths
  // and the flags).
  void prepareToReceive() {
    for (size_t i = 0; i < kBatchSize; ++i) {
      mmsghdr& m = received[i];
      m.msg_hdr.msg_namelen = sizeof(sockaddr_storage);
      m.msg_hdr.msg_control = slots[i].control.data();
      m.msg_hdr.msg_controllen = slots[i].control.size();
      m.msg_hdr.msg_flags = 0;
      m.msg_len = 0;
    }
  }

  // The kernel's count of datagrams dropped on the socket when datagram `i` was queued, if
  // it attached one (it does once the count is above zero).
  std::optional<uint32_t> kernelDrops(size_t i) {
    msghdr& h = received[i].msg_hdr;
    for (cmsghdr* c = CMSG_FIRSTHDR(&h); c != nullptr; c = CMSG_NXTHDR(&h, c)) {
      if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SO_RXQ_OVFL &&
          c->cmsg_len >= CMSG_LEN(sizeof(uint32_t))) {
        uint32_t count = 0;
        std::memcpy(&count, CMSG_DATA(c), sizeof count);
        return count;
      }
    }
    return std::nullopt;
  }

  // Queues slot `i`'s ack of `size` bytes as the `queued`-th, to the slot's sender.
  void queueAck(size_t queued, size_t i, size_t size) {
    Slot& slot = slots[i];
    slot.ack_iov = {slot.ack.data(), size};
    msghdr& out = acks[queued].msg_hdr;
    out = msghdr{};
    out.msg_iov = &slot.ack_iov;
    out.msg_iovlen = 1;
    out.msg_name = &slot.sender;
    out.msg_namelen = received[i].msg_hdr.msg_namelen;
  }

  std::array<Slot, kBatchSize> slots;
  std::array<mmsghdr, kBatchSize> received{};
  std::array<mmsghdr, kBatchSize> acks{};
};

BeaconListener::BeaconListener(BeaconService& service, Poco::Logger& logger)
    : service_(service), logger_(logger), batch_(std::make_unique<Batch>()) {}

BeaconListener::~BeaconListener() { stop(); }

Status BeaconListener::bind(const std::string& address, int port) {
  try {
    const Poco::Net::SocketAddress at(address, static_cast<Poco::UInt16>(port));
    socket_.emplace(at, /*reuseAddress=*/false, /*reusePort=*/false);
    port_ = socket_->address().port();
  } catch (const Poco::Exception& e) {
    socket_.reset();
    return Status::unavailable("cannot bind udp " + address + ":" + std::to_string(port) + ": " +
                               e.displayText());
  }
  try {
    socket_->setReceiveBufferSize(kReceiveBufferBytes);
  } catch (const Poco::Exception& e) {
    // The default buffer still works, with less room for bursts.
    logger_.warning("beacon listener: cannot enlarge the receive buffer: " + e.displayText());
  }
  const int on = 1;
  if (::setsockopt(socket_->impl()->sockfd(), SOL_SOCKET, SO_RXQ_OVFL, &on, sizeof on) != 0) {
    // Beacons still work; an overflowing queue would go unnoticed by the presence engine.
    logger_.warning(std::string("beacon listener: cannot count receive queue overflows: ") +
                    Poco::Error::getMessage(errno));
  }
  return Status::okStatus();
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
  pollfd readable{};
  readable.fd = socket_->impl()->sockfd();
  readable.events = POLLIN;
  while (!stopping_) {
    const int ready = ::poll(&readable, 1, static_cast<int>(kPollPeriod.count()));
    if (ready < 0 && errno != EINTR) logSocketError("poll", errno);
    if (ready <= 0) continue;
    // Drain the queue a batch at a time, looking at the stop flag between batches.
    while (!stopping_ && serveBatch() == kBatchSize) {
    }
  }
}

size_t BeaconListener::serveBatch() {
  Batch& batch = *batch_;
  batch.prepareToReceive();
  const int received = ::recvmmsg(socket_->impl()->sockfd(), batch.received.data(), kBatchSize,
                                  MSG_DONTWAIT, nullptr);
  if (received < 0) {
    if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
      logSocketError("recvmmsg", errno);
    }
    return 0;
  }
  read_.fetch_add(static_cast<uint64_t>(received), std::memory_order_relaxed);
  countOverflows(static_cast<size_t>(received));
  size_t acks = 0;
  for (size_t i = 0; i < static_cast<size_t>(received); ++i) {
    Batch::Slot& slot = batch.slots[i];
    const std::string_view bytes(slot.datagram.data(), batch.received[i].msg_len);
    const BeaconVerdict verdict = service_.check(bytes, workspace_, &slot.ack);
    if (verdict.ack_size > 0) {
      batch.queueAck(acks++, i, verdict.ack_size);
    } else if (verdict.drop && verdict.log_drop) {
      logDrop(verdict, i);
    }
  }
  sendAcks(acks);
  return static_cast<size_t>(received);
}

void BeaconListener::countOverflows(size_t received) {
  // The counter is cumulative: the batch's last datagram that carries it tells all.
  for (size_t i = received; i-- > 0;) {
    if (std::optional<uint32_t> drops = batch_->kernelDrops(i)) {
      // Unsigned difference: right across the counter's wrap.
      const uint32_t added = *drops - kernel_drops_seen_;
      kernel_drops_seen_ = *drops;
      overflowed_.fetch_add(added, std::memory_order_relaxed);
      return;
    }
  }
}

MetricsSource beaconReceiveMetrics(const BeaconListener& listener) {
  return [&listener](MetricsWriter& out) {
    const BeaconListener::ReceiveStats s = listener.receiveStats();
    out.family("vigil_beacon_datagrams_read_total", MetricType::kCounter,
               "Datagrams read from the UDP beacon port.");
    out.sample(static_cast<double>(s.read));
    out.family("vigil_beacon_receive_overflows_total", MetricType::kCounter,
               "Datagrams the kernel dropped because the beacon socket's receive queue was full "
               "(the collector did not read fast enough).");
    out.sample(static_cast<double>(s.overflowed));
  };
}

BeaconListener::ReceiveStats BeaconListener::receiveStats() const {
  return ReceiveStats{read_.load(std::memory_order_relaxed),
                      overflowed_.load(std::memory_order_relaxed)};
}

void BeaconListener::sendAcks(size_t count) {
  Batch& batch = *batch_;
  size_t done = 0;
  while (done < count) {
    const int sent = ::sendmmsg(socket_->impl()->sockfd(), &batch.acks[done],
                                static_cast<unsigned>(count - done), 0);
    if (sent > 0) {
      done += static_cast<size_t>(sent);
      continue;
    }
    if (sent < 0 && errno == EINTR) continue;
    // The first unsent ack failed: skip it, send the rest.
    logSocketError("sendmmsg", sent < 0 ? errno : EIO);
    ++done;
  }
}

void BeaconListener::logDrop(const BeaconVerdict& verdict, size_t slot) {
  const Poco::Net::SocketAddress sender(
      reinterpret_cast<const sockaddr*>(&batch_->slots[slot].sender),
      batch_->received[slot].msg_hdr.msg_namelen);
  std::string line = std::string("beacon dropped (") + beaconDropName(*verdict.drop) + ") from " +
                     sender.toString();
  if (!verdict.agent_id.empty()) line += " agent=" + std::string(verdict.agent_id);
  if (verdict.unlogged_drops > 0) {
    line += "; " + std::to_string(verdict.unlogged_drops) +
            " more dropped for this reason since the previous line";
  }
  logger_.notice(line);
}

void BeaconListener::logSocketError(const char* call, int error) {
  const auto now = std::chrono::steady_clock::now();
  if (last_error_logged_ && now - *last_error_logged_ < service_.config().drop_log_period) return;
  last_error_logged_ = now;
  logger_.warning(std::string("beacon listener: ") + call + ": " + Poco::Error::getMessage(error));
}

}  // namespace vigil::collector
