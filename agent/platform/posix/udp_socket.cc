// UdpSocketFactory over BSD sockets (Linux and macOS).
#include <net/if.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "agent/platform/posix/interruptible_poll.h"
#include "agent/platform/posix/posix_platform.h"
#include "agent/platform/posix/posix_status.h"
#include "agent/platform/posix/socket_address.h"
#include "agent/platform/posix/unique_fd.h"

namespace vigil::agent::posix {
namespace {

// No UDP payload over IPv4 or IPv6 (without jumbograms) is longer.
constexpr size_t kMaxUdpPayload = 65535;

struct AddrInfoDeleter {
  void operator()(addrinfo* list) const { freeaddrinfo(list); }
};
using AddrInfoList = std::unique_ptr<addrinfo, AddrInfoDeleter>;

Status setIntOption(int fd, int level, int name, int value, const char* what) {
  if (::setsockopt(fd, level, name, &value, sizeof value) != 0) {
    return errnoStatus(std::string("setsockopt(") + what + ")", errno);
  }
  return Status::okStatus();
}

class PosixUdpSocket final : public UdpSocket {
 public:
  PosixUdpSocket(UniqueFd fd, int family, InterruptiblePoll poll)
      : fd_(std::move(fd)), family_(family), poll_(std::move(poll)) {}

  Status sendTo(const std::string& host, uint16_t port, const std::string& bytes) override {
    addrinfo hints{};
    hints.ai_family = family_;
    hints.ai_socktype = SOCK_DGRAM;
    hints.ai_flags = AI_NUMERICSERV;
    addrinfo* raw = nullptr;
    const int rc = ::getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &raw);
    AddrInfoList targets(raw);
    if (rc != 0) {
      const std::string why = rc == EAI_SYSTEM ? errnoText(errno) : ::gai_strerror(rc);
      return Status::unavailable("cannot resolve " + host + ": " + why);
    }
    Status last = Status::unavailable("no address for " + host);
    for (const addrinfo* target = targets.get(); target != nullptr; target = target->ai_next) {
      ssize_t sent;
      do {
        sent =
            ::sendto(fd_.get(), bytes.data(), bytes.size(), 0, target->ai_addr, target->ai_addrlen);
      } while (sent < 0 && errno == EINTR);
      if (sent == static_cast<ssize_t>(bytes.size())) return Status::okStatus();
      last = sent < 0 ? errnoStatus("send to " + host + " port " + std::to_string(port), errno)
                      : Status::ioError("short send to " + host);
    }
    return last;
  }

  Result<std::optional<Datagram>> receive(Duration timeout, size_t max_bytes) override {
    const MonoTime deadline = std::chrono::steady_clock::now() + std::max(timeout, Duration{});
    // One byte more than accepted: a datagram that fills it was longer than max_bytes.
    std::string buffer(std::min(max_bytes, kMaxUdpPayload) + 1, '\0');
    for (;;) {
      Result<PollOutcome> outcome = poll_.wait(fd_.get(), POLLIN, deadline);
      if (!outcome.ok()) return outcome.error();
      if (*outcome != PollOutcome::kReady) return std::optional<Datagram>();
      sockaddr_storage from{};
      socklen_t from_length = sizeof from;
      const ssize_t n = ::recvfrom(fd_.get(), buffer.data(), buffer.size(), MSG_DONTWAIT,
                                   reinterpret_cast<sockaddr*>(&from), &from_length);
      if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) continue;
        return errnoStatus("receive on UDP socket", errno);
      }
      if (static_cast<size_t>(n) > max_bytes) continue;  // too long: discarded
      Datagram datagram;
      datagram.bytes.assign(buffer.data(), static_cast<size_t>(n));
      const auto* from_address = reinterpret_cast<const sockaddr*>(&from);
      datagram.from_address = numericHost(from_address).value_or("");
      datagram.from_port = portOf(from_address);
      return std::optional<Datagram>(std::move(datagram));
    }
  }

  void interrupt() override { poll_.wake(); }

 private:
  UniqueFd fd_;
  const int family_;
  InterruptiblePoll poll_;
};

class PosixUdpSocketFactory final : public UdpSocketFactory {
 public:
  Result<std::unique_ptr<UdpSocket>> open(const UdpSocketOptions& options) override {
    const int family = options.ipv6 ? AF_INET6 : AF_INET;
    UniqueFd fd(::socket(family, SOCK_DGRAM, 0));
    if (!fd.valid()) return errnoStatus("cannot open a UDP socket", errno);
    if (Status s = setCloseOnExec(fd.get()); !s.ok()) return s;
    // Several agents on one host bind the peer port, and each must hear every broadcast.
    if (Status s = setIntOption(fd.get(), SOL_SOCKET, SO_REUSEADDR, 1, "SO_REUSEADDR"); !s.ok()) {
      return s;
    }
#if defined(SO_REUSEPORT) && !defined(__linux__)
    // BSD (macOS) lets two sockets bind the same address and port only with SO_REUSEPORT. Linux
    // does with SO_REUSEADDR alone, and its SO_REUSEPORT would restrict sharing to one user.
    if (Status s = setIntOption(fd.get(), SOL_SOCKET, SO_REUSEPORT, 1, "SO_REUSEPORT"); !s.ok()) {
      return s;
    }
#endif
    if (options.broadcast) {
      if (Status s = setIntOption(fd.get(), SOL_SOCKET, SO_BROADCAST, 1, "SO_BROADCAST"); !s.ok()) {
        return s;
      }
    }
    if (options.ipv6) {
      // IPv6 only, so an IPv4 socket on the same port stays independent of this one.
      if (Status s = setIntOption(fd.get(), IPPROTO_IPV6, IPV6_V6ONLY, 1, "IPV6_V6ONLY"); !s.ok()) {
        return s;
      }
    }
    if (Status s = bindAny(fd.get(), options); !s.ok()) return s;
    Result<InterruptiblePoll> poll = InterruptiblePoll::create();
    if (!poll.ok()) return poll.error();
    return std::unique_ptr<UdpSocket>(
        std::make_unique<PosixUdpSocket>(std::move(fd), family, std::move(poll).value()));
  }

  std::vector<std::string> broadcastAddresses() override {
    std::vector<std::string> addresses;
    Result<InterfaceList> list = listInterfaces();
    if (!list.ok()) return addresses;
    for (const ifaddrs* entry = list->get(); entry != nullptr; entry = entry->ifa_next) {
      const unsigned flags = entry->ifa_flags;
      if ((flags & IFF_UP) == 0 || (flags & IFF_BROADCAST) == 0 || (flags & IFF_LOOPBACK) != 0) {
        continue;
      }
      if (entry->ifa_addr == nullptr || entry->ifa_addr->sa_family != AF_INET) continue;
      if (entry->ifa_broadaddr == nullptr || entry->ifa_broadaddr->sa_family != AF_INET) continue;
      std::optional<std::string> address = numericHost(entry->ifa_broadaddr);
      if (address && std::find(addresses.begin(), addresses.end(), *address) == addresses.end()) {
        addresses.push_back(std::move(*address));
      }
    }
    return addresses;
  }

 private:
  static Status bindAny(int fd, const UdpSocketOptions& options) {
    sockaddr_storage address{};
    socklen_t length = 0;
    if (options.ipv6) {
      sockaddr_in6 any{};
      any.sin6_family = AF_INET6;
      any.sin6_addr = in6addr_any;
      any.sin6_port = htons(options.bind_port);
      std::memcpy(&address, &any, sizeof any);
      length = sizeof any;
    } else {
      sockaddr_in any{};
      any.sin_family = AF_INET;
      any.sin_addr.s_addr = htonl(INADDR_ANY);
      any.sin_port = htons(options.bind_port);
      std::memcpy(&address, &any, sizeof any);
      length = sizeof any;
    }
    if (::bind(fd, reinterpret_cast<const sockaddr*>(&address), length) != 0) {
      return errnoStatus("cannot bind UDP port " + std::to_string(options.bind_port), errno);
    }
    return Status::okStatus();
  }
};

}  // namespace

std::unique_ptr<UdpSocketFactory> makeUdpSocketFactory() {
  return std::make_unique<PosixUdpSocketFactory>();
}

}  // namespace vigil::agent::posix
