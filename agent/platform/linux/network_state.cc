#include "agent/platform/linux/network_state.h"

#include <net/if.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <charconv>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>
#include <vector>

#include "agent/platform/posix/socket_address.h"

namespace vigil::agent::linux_platform {
namespace {

// Route flags from <linux/route.h>, as /proc prints them.
constexpr uint32_t kRouteUp = 0x0001;      // RTF_UP
constexpr uint32_t kRouteReject = 0x0200;  // RTF_REJECT

std::vector<std::string_view> splitFields(std::string_view line) {
  std::vector<std::string_view> fields;
  size_t pos = 0;
  while (pos < line.size()) {
    const size_t begin = line.find_first_not_of(" \t\r", pos);
    if (begin == std::string_view::npos) break;
    size_t end = line.find_first_of(" \t\r", begin);
    if (end == std::string_view::npos) end = line.size();
    fields.push_back(line.substr(begin, end - begin));
    pos = end;
  }
  return fields;
}

std::optional<uint32_t> parseHex(std::string_view text) {
  uint32_t value = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value, 16);
  if (text.empty() || ec != std::errc() || ptr != text.data() + text.size()) return std::nullopt;
  return value;
}

bool isAllZeroHex(std::string_view text) {
  return !text.empty() && text.find_first_not_of('0') == std::string_view::npos;
}

bool isUsableRoute(std::string_view flags_field) {
  const std::optional<uint32_t> flags = parseHex(flags_field);
  return flags && (*flags & kRouteUp) != 0 && (*flags & kRouteReject) == 0;
}

// Calls `has_default` on the whitespace-separated fields of each line until it returns true.
template <typename Predicate>
bool anyLine(std::string_view text, Predicate has_default) {
  size_t pos = 0;
  while (pos < text.size()) {
    size_t eol = text.find('\n', pos);
    if (eol == std::string_view::npos) eol = text.size();
    if (has_default(splitFields(text.substr(pos, eol - pos)))) return true;
    pos = eol + 1;
  }
  return false;
}

bool isReportableIpv4(const in_addr& address) {
  const uint32_t a = ntohl(address.s_addr);
  const uint32_t first_octet = a >> 24;
  if (a == 0) return false;                            // 0.0.0.0
  if (first_octet == 127) return false;                // loopback
  if ((a & 0xffff0000u) == 0xa9fe0000u) return false;  // 169.254.0.0/16
  if (first_octet >= 224) return false;                // multicast, reserved, broadcast
  return true;
}

bool isReportableIpv6(const in6_addr& address) {
  const uint8_t* b = address.s6_addr;
  static const uint8_t kZero[16] = {};
  if (std::memcmp(b, kZero, 16) == 0) return false;                // ::
  if (std::memcmp(b, kZero, 15) == 0 && b[15] == 1) return false;  // ::1
  if (b[0] == 0xfe && (b[1] & 0xc0) == 0x80) return false;         // fe80::/10
  if (b[0] == 0xff) return false;                                  // multicast
  return true;
}

}  // namespace

bool hasIpv4DefaultRoute(std::string_view proc_net_route) {
  // Iface Destination Gateway Flags RefCnt Use Metric Mask MTU Window IRTT
  return anyLine(proc_net_route, [](const std::vector<std::string_view>& f) {
    return f.size() >= 8 && isAllZeroHex(f[1]) && f[1].size() == 8 && isAllZeroHex(f[7]) &&
           f[7].size() == 8 && isUsableRoute(f[3]);
  });
}

bool hasIpv6DefaultRoute(std::string_view proc_net_ipv6_route) {
  // Destination PrefixLength Source PrefixLength NextHop Metric RefCnt Use Flags Iface
  return anyLine(proc_net_ipv6_route, [](const std::vector<std::string_view>& f) {
    return f.size() >= 10 && f[0].size() == 32 && isAllZeroHex(f[0]) && isAllZeroHex(f[1]) &&
           isUsableRoute(f[8]) && f[9] != "lo";
  });
}

std::optional<std::string> reportableAddress(const sockaddr* address) {
  if (address == nullptr) return std::nullopt;
  if (address->sa_family == AF_INET) {
    sockaddr_in in4{};
    std::memcpy(&in4, address, sizeof in4);
    if (!isReportableIpv4(in4.sin_addr)) return std::nullopt;
  } else if (address->sa_family == AF_INET6) {
    sockaddr_in6 in6{};
    std::memcpy(&in6, address, sizeof in6);
    if (!isReportableIpv6(in6.sin6_addr)) return std::nullopt;
  } else {
    return std::nullopt;
  }
  return posix::numericHost(address);
}

Result<NetworkState> readNetworkState() {
  const std::optional<std::string> ipv4_routes = readWholeFile("/proc/net/route");
  const std::optional<std::string> ipv6_routes = readWholeFile("/proc/net/ipv6_route");  // no IPv6
  if (!ipv4_routes && !ipv6_routes) {
    return Status::ioError("cannot read /proc/net/route or /proc/net/ipv6_route");
  }
  NetworkState state;
  state.default_route = (ipv4_routes && hasIpv4DefaultRoute(*ipv4_routes)) ||
                        (ipv6_routes && hasIpv6DefaultRoute(*ipv6_routes));

  Result<posix::InterfaceList> interfaces = posix::listInterfaces();
  if (!interfaces.ok()) return interfaces.error();
  std::set<std::string> addresses;
  for (const ifaddrs* entry = interfaces->get(); entry != nullptr; entry = entry->ifa_next) {
    if ((entry->ifa_flags & IFF_UP) == 0 || (entry->ifa_flags & IFF_LOOPBACK) != 0) continue;
    if (std::optional<std::string> address = reportableAddress(entry->ifa_addr)) {
      addresses.insert(std::move(*address));
    }
  }
  state.addresses.assign(addresses.begin(), addresses.end());
  return state;
}

std::optional<std::string> readWholeFile(const char* path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream out;
  out << in.rdbuf();
  if (in.bad()) return std::nullopt;
  return out.str();
}

}  // namespace vigil::agent::linux_platform
