#pragma once

// Socket addresses and the interface list, as the agent reports them: numeric text only.

#include <ifaddrs.h>
#include <sys/socket.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "common/status.h"

namespace vigil::agent::posix {

// The numeric host of an AF_INET or AF_INET6 address ("192.168.1.20", "fd00::2",
// "fe80::1%eth0"); nullopt for null, other families or a getnameinfo(3) failure.
std::optional<std::string> numericHost(const sockaddr* address);

// The port of an AF_INET or AF_INET6 address in host byte order; 0 otherwise.
uint16_t portOf(const sockaddr* address);

struct InterfaceListDeleter {
  void operator()(ifaddrs* list) const { freeifaddrs(list); }
};
// The list getifaddrs(3) returns, freed on destruction. Walk it through ifa_next.
using InterfaceList = std::unique_ptr<ifaddrs, InterfaceListDeleter>;

// The current interface addresses (getifaddrs(3)). May hold no entries (a null list).
Result<InterfaceList> listInterfaces();

}  // namespace vigil::agent::posix
