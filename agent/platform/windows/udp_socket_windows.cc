// UdpSocket and UdpSocketFactory over Winsock 2.
// clang-format off
#include <winsock2.h>
#include <ws2tcpip.h>
#include <mswsock.h>
// clang-format on

#include <algorithm>
#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "agent/platform/windows/adapter_addresses.h"
#include "agent/platform/windows/win32_handle.h"
#include "agent/platform/windows/win32_status.h"
#include "agent/platform/windows/windows_platform.h"
#include "agent/platform/windows/winsock_session.h"

namespace vigil::agent::windows {
namespace {

struct SocketTraits {
  using Value = SOCKET;
  static SOCKET empty() { return INVALID_SOCKET; }
  static bool isEmpty(SOCKET s) { return s == INVALID_SOCKET; }
  static void close(SOCKET s) { closesocket(s); }
};
using UniqueSocket = UniqueResource<SocketTraits>;

struct AddrInfoDeleter {
  void operator()(addrinfo* ai) const { freeaddrinfo(ai); }
};

// The largest UDP payload (IPv4: 65535 - 20 - 8).
constexpr size_t kMaxDatagram = 65507;

Status socketError(const std::string& what) {
  return win32Status(what, static_cast<DWORD>(WSAGetLastError()));
}

Status setOption(SOCKET s, int level, int name, int value, const char* what) {
  if (setsockopt(s, level, name, reinterpret_cast<const char*>(&value), sizeof value) != 0) {
    return socketError(what);
  }
  return Status::okStatus();
}

// The numeric address and port of a sockaddr_in or sockaddr_in6.
void describePeer(const sockaddr_storage& from, Datagram& d) {
  char text[INET6_ADDRSTRLEN] = {};
  if (from.ss_family == AF_INET) {
    const auto* sin = reinterpret_cast<const sockaddr_in*>(&from);
    inet_ntop(AF_INET, &sin->sin_addr, text, sizeof text);
    d.from_port = ntohs(sin->sin_port);
  } else if (from.ss_family == AF_INET6) {
    const auto* sin6 = reinterpret_cast<const sockaddr_in6*>(&from);
    inet_ntop(AF_INET6, &sin6->sin6_addr, text, sizeof text);
    d.from_port = ntohs(sin6->sin6_port);
  }
  d.from_address = text;
}

class WindowsUdpSocket final : public UdpSocket {
 public:
  WindowsUdpSocket(UniqueSocket socket, int family, UniqueSocket wake)
      : socket_(std::move(socket)), family_(family), wake_(std::move(wake)) {}

  Status sendTo(const std::string& host, uint16_t port, const std::string& bytes) override {
    if (bytes.size() > kMaxDatagram) {
      return Status::invalidArgument("datagram of " + std::to_string(bytes.size()) +
                                     " bytes is too large for UDP");
    }
    addrinfo hints{};
    hints.ai_family = family_;
    hints.ai_socktype = SOCK_DGRAM;
    hints.ai_protocol = IPPROTO_UDP;
    hints.ai_flags = AI_NUMERICSERV;
    addrinfo* raw = nullptr;
    const int rc = getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &raw);
    if (rc != 0) return win32Status("cannot resolve " + host, static_cast<DWORD>(rc));
    std::unique_ptr<addrinfo, AddrInfoDeleter> results(raw);
    const int sent = sendto(socket_.get(), bytes.data(), static_cast<int>(bytes.size()), 0,
                            results->ai_addr, static_cast<int>(results->ai_addrlen));
    if (sent == SOCKET_ERROR) return socketError("sendto " + host);
    return Status::okStatus();
  }

  Result<std::optional<Datagram>> receive(Duration timeout, size_t max_bytes) override {
    using Clock = std::chrono::steady_clock;
    const Clock::time_point deadline =
        Clock::now() + std::chrono::duration_cast<Clock::duration>(timeout);
    // One byte more than wanted, so a longer datagram shows as longer (and is discarded).
    std::vector<char> buffer(std::min(max_bytes, kMaxDatagram) + 1);
    while (!interrupted_.load()) {
      const auto left =
          std::chrono::duration_cast<std::chrono::microseconds>(deadline - Clock::now());
      if (left.count() < 0) break;
      fd_set readable;
      FD_ZERO(&readable);
      FD_SET(socket_.get(), &readable);
      FD_SET(wake_.get(), &readable);
      timeval tv{};
      tv.tv_sec = static_cast<long>(left.count() / 1000000);
      tv.tv_usec = static_cast<long>(left.count() % 1000000);
      const int ready = select(0, &readable, nullptr, nullptr, &tv);  // first argument ignored
      if (ready == SOCKET_ERROR) return socketError("select");
      if (ready == 0) break;
      if (FD_ISSET(wake_.get(), &readable)) {
        char byte;
        recv(wake_.get(), &byte, 1, 0);
        continue;  // the loop condition sees interrupted_
      }
      if (interrupted_.load()) break;
      if (!FD_ISSET(socket_.get(), &readable)) continue;

      sockaddr_storage from{};
      int from_len = sizeof from;
      const int n = recvfrom(socket_.get(), buffer.data(), static_cast<int>(buffer.size()), 0,
                             reinterpret_cast<sockaddr*>(&from), &from_len);
      if (n == SOCKET_ERROR) {
        const int err = WSAGetLastError();
        // Too long for the buffer (the rest is lost), or an ICMP error for an earlier send:
        // neither ends the wait.
        if (err == WSAEMSGSIZE || err == WSAECONNRESET || err == WSAENETRESET) continue;
        return win32Status("recvfrom", static_cast<DWORD>(err));
      }
      if (static_cast<size_t>(n) > max_bytes) continue;
      Datagram d;
      d.bytes.assign(buffer.data(), static_cast<size_t>(n));
      describePeer(from, d);
      return std::optional<Datagram>(std::move(d));
    }
    return std::optional<Datagram>();
  }

  void interrupt() override {
    interrupted_.store(true);
    // Wakes a receive() blocked in select(): a datagram to the private wake socket. If it is
    // lost, receive() still returns at its timeout.
    const char byte = 0;
    send(wake_.get(), &byte, 1, 0);
  }

 private:
  UniqueSocket socket_;
  int family_;
  // A socket of this object's own on 127.0.0.1 and an ephemeral port, connected to itself: it
  // accepts only what it sends, and only interrupt() sends.
  UniqueSocket wake_;
  std::atomic<bool> interrupted_{false};
};

// A UDP socket bound to 127.0.0.1 on an ephemeral port and connected to that same address.
Result<UniqueSocket> openWakeSocket() {
  UniqueSocket wake(socket(AF_INET, SOCK_DGRAM, IPPROTO_UDP));
  if (!wake) return socketError("socket (wake)");
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = 0;
  if (bind(wake.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0) {
    return socketError("bind (wake)");
  }
  int len = sizeof address;
  if (getsockname(wake.get(), reinterpret_cast<sockaddr*>(&address), &len) != 0) {
    return socketError("getsockname (wake)");
  }
  if (connect(wake.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0) {
    return socketError("connect (wake)");
  }
  return wake;
}

class WindowsUdpSocketFactory final : public UdpSocketFactory {
 public:
  Result<std::unique_ptr<UdpSocket>> open(const UdpSocketOptions& options) override {
    Status winsock = ensureWinsockStarted();
    if (!winsock.ok()) return winsock;
    const int family = options.ipv6 ? AF_INET6 : AF_INET;
    UniqueSocket s(socket(family, SOCK_DGRAM, IPPROTO_UDP));
    if (!s) return socketError("socket");
    if (options.bind_port != 0) {
      // Several agents on one host share the peer port, so each hears the broadcasts.
      Status st = setOption(s.get(), SOL_SOCKET, SO_REUSEADDR, 1, "setsockopt(SO_REUSEADDR)");
      if (!st.ok()) return st;
    }
    if (options.broadcast) {
      Status st = setOption(s.get(), SOL_SOCKET, SO_BROADCAST, 1, "setsockopt(SO_BROADCAST)");
      if (!st.ok()) return st;
    }
    // Without this, an ICMP "port unreachable" for an earlier send makes the next recvfrom
    // fail with WSAECONNRESET.
    BOOL report_reset = FALSE;
    DWORD returned = 0;
    WSAIoctl(s.get(), SIO_UDP_CONNRESET, &report_reset, sizeof report_reset, nullptr, 0, &returned,
             nullptr, nullptr);

    sockaddr_storage local{};
    int local_len = 0;
    if (options.ipv6) {
      auto* sin6 = reinterpret_cast<sockaddr_in6*>(&local);
      sin6->sin6_family = AF_INET6;
      sin6->sin6_addr = in6addr_any;
      sin6->sin6_port = htons(options.bind_port);
      local_len = sizeof(sockaddr_in6);
    } else {
      auto* sin = reinterpret_cast<sockaddr_in*>(&local);
      sin->sin_family = AF_INET;
      sin->sin_addr.s_addr = htonl(INADDR_ANY);
      sin->sin_port = htons(options.bind_port);
      local_len = sizeof(sockaddr_in);
    }
    if (bind(s.get(), reinterpret_cast<const sockaddr*>(&local), local_len) != 0) {
      return socketError("bind UDP port " + std::to_string(options.bind_port));
    }

    auto wake = openWakeSocket();
    if (!wake.ok()) return wake.error();
    return std::unique_ptr<UdpSocket>(
        std::make_unique<WindowsUdpSocket>(std::move(s), family, std::move(wake).value()));
  }

  std::vector<std::string> broadcastAddresses() override {
    std::vector<std::string> out;
    auto adapters = upAdapters();
    if (!adapters.ok()) return out;
    for (const AdapterAddress& a : adapters->addresses) {
      if (a.ipv6) continue;
      auto broadcast = ipv4DirectedBroadcast(a.ipv4_host_order, a.prefix_length);
      if (broadcast && std::find(out.begin(), out.end(), *broadcast) == out.end()) {
        out.push_back(*broadcast);
      }
    }
    return out;
  }
};

}  // namespace

std::unique_ptr<UdpSocketFactory> makeUdpSocketFactory() {
  return std::make_unique<WindowsUdpSocketFactory>();
}

}  // namespace vigil::agent::windows
