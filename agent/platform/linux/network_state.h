#pragma once

// The endpoint's network as NetworkState reports it, and the pure parsers behind it.

#include <optional>
#include <string>
#include <string_view>

#include "agent/core/platform.h"

struct sockaddr;

namespace vigil::agent::linux_platform {

// Whether /proc/net/route text holds an IPv4 default route: destination and mask 00000000 on a
// route that is up (RTF_UP) and not a reject route. Unparsable lines are skipped.
bool hasIpv4DefaultRoute(std::string_view proc_net_route);

// Whether /proc/net/ipv6_route text holds an IPv6 default route: destination ::/0 on a route
// that is up, not a reject route and not on the loopback interface (where the kernel keeps its
// "unreachable" default). Unparsable lines are skipped.
bool hasIpv6DefaultRoute(std::string_view proc_net_ipv6_route);

// The numeric form of `address` if the agent reports it: IPv4 or IPv6 unicast that is not
// unspecified, loopback, link-local (169.254.0.0/16, fe80::/10) or multicast; private and
// global addresses are reported. nullopt otherwise and for other families.
std::optional<std::string> reportableAddress(const sockaddr* address);

// The current state: a default route from /proc (either family), and the reportable addresses
// of the interfaces that are up and not loopback (getifaddrs(3)), sorted, without duplicates.
Result<NetworkState> readNetworkState();

// The whole content of a small file (a /proc or /etc file); nullopt if it cannot be read.
std::optional<std::string> readWholeFile(const char* path);

}  // namespace vigil::agent::linux_platform
