#include "agent/platform/posix/socket_address.h"

#include <netdb.h>
#include <netinet/in.h>

#include <cerrno>

#include "agent/platform/posix/posix_status.h"

namespace vigil::agent::posix {

std::optional<std::string> numericHost(const sockaddr* address) {
  if (address == nullptr) return std::nullopt;
  socklen_t length = 0;
  if (address->sa_family == AF_INET) {
    length = sizeof(sockaddr_in);
  } else if (address->sa_family == AF_INET6) {
    length = sizeof(sockaddr_in6);
  } else {
    return std::nullopt;
  }
  char host[NI_MAXHOST];
  if (::getnameinfo(address, length, host, sizeof host, nullptr, 0, NI_NUMERICHOST) != 0) {
    return std::nullopt;
  }
  return std::string(host);
}

uint16_t portOf(const sockaddr* address) {
  if (address == nullptr) return 0;
  if (address->sa_family == AF_INET) {
    return ntohs(reinterpret_cast<const sockaddr_in*>(address)->sin_port);
  }
  if (address->sa_family == AF_INET6) {
    return ntohs(reinterpret_cast<const sockaddr_in6*>(address)->sin6_port);
  }
  return 0;
}

Result<InterfaceList> listInterfaces() {
  ifaddrs* list = nullptr;
  if (::getifaddrs(&list) != 0) return errnoStatus("getifaddrs", errno);
  return InterfaceList(list);
}

}  // namespace vigil::agent::posix
