#include "agent/platform/windows/adapter_addresses.h"

// clang-format off
#include <winsock2.h>
#include <ws2tcpip.h>
#include <iphlpapi.h>
// clang-format on

#include <algorithm>

#include "agent/platform/windows/win32_status.h"
#include "agent/platform/windows/winsock_session.h"

namespace vigil::agent::windows {
namespace {

bool isUsable(const IP_ADAPTER_UNICAST_ADDRESS& a) {
  return a.DadState == IpDadStatePreferred || a.DadState == IpDadStateDeprecated;
}

std::optional<AdapterAddress> describe(const IP_ADAPTER_UNICAST_ADDRESS& a, uint64_t luid) {
  const sockaddr* sa = a.Address.lpSockaddr;
  if (sa == nullptr) return std::nullopt;
  AdapterAddress out;
  out.prefix_length = a.OnLinkPrefixLength;
  out.interface_luid = luid;
  char text[INET6_ADDRSTRLEN] = {};
  if (sa->sa_family == AF_INET) {
    const auto* sin = reinterpret_cast<const sockaddr_in*>(sa);
    out.ipv4_host_order = ntohl(sin->sin_addr.s_addr);
    if ((out.ipv4_host_order >> 24) == 127 || out.ipv4_host_order == 0) return std::nullopt;
    out.link_local = (out.ipv4_host_order >> 16) == 0xA9FE;  // 169.254.0.0/16
    if (inet_ntop(AF_INET, &sin->sin_addr, text, sizeof text) == nullptr) return std::nullopt;
  } else if (sa->sa_family == AF_INET6) {
    const auto* sin6 = reinterpret_cast<const sockaddr_in6*>(sa);
    if (IN6_IS_ADDR_LOOPBACK(&sin6->sin6_addr) || IN6_IS_ADDR_UNSPECIFIED(&sin6->sin6_addr)) {
      return std::nullopt;
    }
    out.ipv6 = true;
    out.link_local = IN6_IS_ADDR_LINKLOCAL(&sin6->sin6_addr);
    if (inet_ntop(AF_INET6, &sin6->sin6_addr, text, sizeof text) == nullptr) return std::nullopt;
  } else {
    return std::nullopt;
  }
  out.address = text;
  return out;
}

}  // namespace

Result<UpAdapters> upAdapters() {
  Status winsock = ensureWinsockStarted();  // for inet_ntop
  if (!winsock.ok()) return winsock;
  const ULONG flags = GAA_FLAG_SKIP_ANYCAST | GAA_FLAG_SKIP_MULTICAST | GAA_FLAG_SKIP_DNS_SERVER |
                      GAA_FLAG_SKIP_FRIENDLY_NAME;
  // The list can grow between the sizing call and the real one; a few tries settle it.
  ULONG size = 16 * 1024;
  std::vector<uint64_t> buffer;  // 8-byte aligned, as IP_ADAPTER_ADDRESSES needs
  ULONG rc = ERROR_BUFFER_OVERFLOW;
  for (int attempt = 0; attempt < 4 && rc == ERROR_BUFFER_OVERFLOW; ++attempt) {
    buffer.assign(size / sizeof(uint64_t) + 1, 0);
    size = static_cast<ULONG>(buffer.size() * sizeof(uint64_t));
    rc = GetAdaptersAddresses(AF_UNSPEC, flags, nullptr,
                              reinterpret_cast<IP_ADAPTER_ADDRESSES*>(buffer.data()), &size);
  }
  UpAdapters out;
  if (rc == ERROR_NO_DATA) return out;
  if (rc != ERROR_SUCCESS) return win32Status("GetAdaptersAddresses", rc);
  for (auto* adapter = reinterpret_cast<IP_ADAPTER_ADDRESSES*>(buffer.data()); adapter != nullptr;
       adapter = adapter->Next) {
    if (adapter->OperStatus != IfOperStatusUp) continue;
    if (adapter->IfType == IF_TYPE_SOFTWARE_LOOPBACK) continue;
    const uint64_t luid = adapter->Luid.Value;
    out.interface_luids.push_back(luid);
    for (auto* a = adapter->FirstUnicastAddress; a != nullptr; a = a->Next) {
      if (!isUsable(*a)) continue;
      if (auto described = describe(*a, luid)) out.addresses.push_back(std::move(*described));
    }
  }
  return out;
}

std::optional<std::string> ipv4DirectedBroadcast(uint32_t address_host_order,
                                                 unsigned prefix_length) {
  if (prefix_length >= 31) return std::nullopt;
  const uint32_t host_mask = prefix_length == 0 ? 0xFFFFFFFFu : (0xFFFFFFFFu >> prefix_length);
  return ipv4ToString(address_host_order | host_mask);
}

std::string ipv4ToString(uint32_t a) {
  return std::to_string(a >> 24) + "." + std::to_string((a >> 16) & 0xFF) + "." +
         std::to_string((a >> 8) & 0xFF) + "." + std::to_string(a & 0xFF);
}

}  // namespace vigil::agent::windows
