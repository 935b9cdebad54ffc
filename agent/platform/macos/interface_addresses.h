#pragma once

// The endpoint's own unicast addresses, as reported in NetworkState::addresses. POSIX only
// (getifaddrs(3) through agent/platform/posix/socket_address.h), so it also builds and is
// tested on Linux.

#include <optional>
#include <string>
#include <vector>

#include "common/status.h"

struct sockaddr;

namespace vigil::agent::macos {

// The numeric form of `address` if the agent reports it: IPv4 or IPv6 unicast that is not
// unspecified, loopback, link-local (169.254.0.0/16, fe80::/10) or multicast. Global and
// private (10/8, 172.16/12, 192.168/16, fc00::/7) addresses are reported. nullopt otherwise,
// and for null or other address families.
std::optional<std::string> reportableAddress(const sockaddr* address);

// The reportable addresses of every interface that is up and not a loopback interface,
// sorted and without duplicates.
Result<std::vector<std::string>> listReportableAddresses();

}  // namespace vigil::agent::macos
