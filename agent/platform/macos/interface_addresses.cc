#include "agent/platform/macos/interface_addresses.h"

#include <net/if.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstring>

#include "agent/platform/posix/socket_address.h"

namespace vigil::agent::macos {
namespace {

bool reportableIpv4(const in_addr& a) {
  const uint32_t host = ntohl(a.s_addr);
  if (host == 0) return false;               // 0.0.0.0
  if ((host >> 24) == 127) return false;     // loopback
  if ((host >> 16) == 0xA9FE) return false;  // 169.254.0.0/16 link-local
  if ((host >> 24) >= 224) return false;     // multicast, reserved, broadcast
  return true;
}

bool reportableIpv6(const in6_addr& a) {
  const uint8_t* b = a.s6_addr;
  static const uint8_t kZero[16] = {};
  if (std::memcmp(b, kZero, 16) == 0) return false;                // ::
  if (std::memcmp(b, kZero, 15) == 0 && b[15] == 1) return false;  // ::1
  if (b[0] == 0xFE && (b[1] & 0xC0) == 0x80) return false;         // fe80::/10 link-local
  if (b[0] == 0xFF) return false;                                  // multicast
  return true;
}

}  // namespace

std::optional<std::string> reportableAddress(const sockaddr* address) {
  if (address == nullptr) return std::nullopt;
  if (address->sa_family == AF_INET) {
    sockaddr_in sin{};
    std::memcpy(&sin, address, sizeof sin);
    if (!reportableIpv4(sin.sin_addr)) return std::nullopt;
  } else if (address->sa_family == AF_INET6) {
    sockaddr_in6 sin6{};
    std::memcpy(&sin6, address, sizeof sin6);
    if (!reportableIpv6(sin6.sin6_addr)) return std::nullopt;
  } else {
    return std::nullopt;
  }
  return posix::numericHost(address);
}

Result<std::vector<std::string>> listReportableAddresses() {
  auto list = posix::listInterfaces();
  if (!list.ok()) return list.error();
  std::vector<std::string> addresses;
  for (const ifaddrs* ifa = list->get(); ifa != nullptr; ifa = ifa->ifa_next) {
    if ((ifa->ifa_flags & IFF_UP) == 0 || (ifa->ifa_flags & IFF_LOOPBACK) != 0) continue;
    if (auto text = reportableAddress(ifa->ifa_addr)) addresses.push_back(std::move(*text));
  }
  std::sort(addresses.begin(), addresses.end());
  addresses.erase(std::unique(addresses.begin(), addresses.end()), addresses.end());
  return addresses;
}

}  // namespace vigil::agent::macos
