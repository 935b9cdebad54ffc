#include "tests/integration/connection_flood.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <stdexcept>

namespace vigil::testing {

void raiseOpenFileLimit() {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) return;
  limit.rlim_cur = limit.rlim_max;
  ::setrlimit(RLIMIT_NOFILE, &limit);
}

ConnectionFlood::~ConnectionFlood() {
  for (int fd : fds_) ::close(fd);
}

int ConnectionFlood::connectTo(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::runtime_error("flood: no socket: " + std::to_string(errno));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    const int error = errno;
    ::close(fd);
    throw std::runtime_error("flood: cannot connect: " + std::to_string(error));
  }
  fds_.push_back(fd);
  return fd;
}

void ConnectionFlood::addSlowHeaders(int port, int count) {
  static const std::string kStart = "POST /v1/heartbeat HTTP/1.1\r\nHost: collector\r\n";
  for (int i = 0; i < count; ++i) {
    const int fd = connectTo(port);
    ::send(fd, kStart.data(), kStart.size(), MSG_NOSIGNAL);
    slow_.push_back(fd);
  }
}

void ConnectionFlood::addSilent(int port, int count) {
  for (int i = 0; i < count; ++i) connectTo(port);
}

void ConnectionFlood::drip() {
  static const std::string kLine = "X-Slow: 1\r\n";
  for (int fd : slow_) ::send(fd, kLine.data(), kLine.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
}

int ConnectionFlood::stillOpen() const {
  int open = 0;
  for (int fd : fds_) {
    char byte;
    const ssize_t n = ::recv(fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) ++open;
  }
  return open;
}

}  // namespace vigil::testing
