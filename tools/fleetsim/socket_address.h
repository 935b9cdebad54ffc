#pragma once

// An IPv4 endpoint as the socket calls take it: the lab's proxies and their tests.

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cstdint>
#include <string>

namespace vigil::fleetsim {

// `address` (dotted IPv4; anything else gives 0.0.0.0) and `port` (0: any).
inline sockaddr_in ipv4Endpoint(const std::string& address, int port) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  ::inet_pton(AF_INET, address.c_str(), &addr.sin_addr);
  return addr;
}

}  // namespace vigil::fleetsim
