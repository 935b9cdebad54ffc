#pragma once

// The unicast addresses of the network adapters that are up, from GetAdaptersAddresses: what
// both the network monitor (NetworkState) and the UDP factory (broadcast addresses) need.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"

namespace vigil::agent::windows {

struct AdapterAddress {
  std::string address;  // numeric: "192.168.1.20", "2001:db8::5"
  bool ipv6 = false;
  uint8_t prefix_length = 0;     // of the on-link prefix
  uint32_t ipv4_host_order = 0;  // the IPv4 address as a number (0 for IPv6)
  bool link_local = false;       // 169.254.0.0/16 or fe80::/10
  uint64_t interface_luid = 0;   // NET_LUID of the adapter
};

struct UpAdapters {
  std::vector<AdapterAddress> addresses;
  std::vector<uint64_t> interface_luids;  // every adapter that is up and not a loopback
};

// Adapters whose operational status is up, loopback adapters excepted, with their usable
// (preferred or deprecated, not tentative or duplicate) unicast addresses. Loopback addresses
// are left out.
Result<UpAdapters> upAdapters();

// The directed broadcast address of an IPv4 subnet ("192.168.1.255" for 192.168.1.20/24);
// nullopt for /31 and /32, which have none, and for prefix lengths over 32.
std::optional<std::string> ipv4DirectedBroadcast(uint32_t address_host_order,
                                                 unsigned prefix_length);

// "a.b.c.d" for an IPv4 address given as a number.
std::string ipv4ToString(uint32_t address_host_order);

}  // namespace vigil::agent::windows
