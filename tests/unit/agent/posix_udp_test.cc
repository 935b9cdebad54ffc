#define BOOST_TEST_MODULE agent_posix_udp
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <boost/test/unit_test.hpp>
#include <chrono>
#include <cstring>
#include <optional>
#include <string>
#include <thread>

#include "agent/platform/posix/posix_platform.h"
#include "agent/platform/posix/unique_fd.h"
#include "tests/unit/agent/platform_test_support.h"
#include "tests/unit/agent/posix_test_support.h"

using vigil::agent::UdpSocket;
using vigil::agent::UdpSocketOptions;
using vigil::agent::platform_testing::errorText;
using vigil::agent::platform_testing::skippedUnless;
using vigil::agent::posix::makeUdpSocketFactory;
using vigil::agent::posix::UniqueFd;
using namespace std::chrono_literals;

namespace {

// A UDP port picked by the kernel (bind to port 0) and held, with SO_REUSEADDR, for the test's
// lifetime, so the sockets under test can bind it too without racing anyone for it.
class ReservedPort {
 public:
  explicit ReservedPort(int family) : fd_(socket(family, SOCK_DGRAM, 0)) {
    const int on = 1;
    if (!fd_.valid() || setsockopt(fd_.get(), SOL_SOCKET, SO_REUSEADDR, &on, sizeof on) != 0) {
      return;
    }
    sockaddr_storage address{};
    address.ss_family = static_cast<sa_family_t>(family);
    socklen_t length = sizeof(sockaddr_in);
    if (family == AF_INET6) {
      setsockopt(fd_.get(), IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof on);
      length = sizeof(sockaddr_in6);
    }
    if (bind(fd_.get(), reinterpret_cast<sockaddr*>(&address), length) != 0) return;
    if (getsockname(fd_.get(), reinterpret_cast<sockaddr*>(&address), &length) != 0) return;
    if (family == AF_INET6) {
      sockaddr_in6 bound{};
      std::memcpy(&bound, &address, sizeof bound);
      port_ = ntohs(bound.sin6_port);
    } else {
      sockaddr_in bound{};
      std::memcpy(&bound, &address, sizeof bound);
      port_ = ntohs(bound.sin_port);
    }
  }
  // 0 if no port could be reserved (e.g. no IPv6 on this machine).
  uint16_t port() const { return port_; }

 private:
  UniqueFd fd_;
  uint16_t port_ = 0;
};

// Whether IPv6 loopback is up here: a datagram socket can be bound to ::1.
bool hasIpv6Loopback() {
  const UniqueFd fd(socket(AF_INET6, SOCK_DGRAM, 0));
  sockaddr_in6 loopback{};
  loopback.sin6_family = AF_INET6;
  loopback.sin6_addr = in6addr_loopback;
  return fd.valid() && bind(fd.get(), reinterpret_cast<sockaddr*>(&loopback), sizeof loopback) == 0;
}

std::unique_ptr<UdpSocket> openOrFail(const UdpSocketOptions& options) {
  auto socket = makeUdpSocketFactory()->open(options);
  BOOST_TEST_REQUIRE(socket.ok(), errorText(socket));
  return std::move(socket).value();
}

}  // namespace

BOOST_AUTO_TEST_CASE(two_sockets_sharing_a_port_both_hear_a_broadcast) {
  const ReservedPort reserved(AF_INET);
  BOOST_TEST_REQUIRE(reserved.port() != 0);
  auto first = openOrFail({reserved.port(), true, false});
  auto second = openOrFail({reserved.port(), true, false});
  auto sender = openOrFail({0, true, false});

  auto sent = sender->sendTo("127.255.255.255", reserved.port(), "hello peers");
  BOOST_TEST_REQUIRE(sent.ok(), errorText(sent));
  for (UdpSocket* receiver : {first.get(), second.get()}) {
    auto received = receiver->receive(5s, 1024);
    BOOST_TEST_REQUIRE(received.ok(), errorText(received));
    BOOST_TEST_REQUIRE(received->has_value(), "no datagram within 5 s");
    BOOST_TEST((*received)->bytes == "hello peers");
    BOOST_TEST((*received)->from_address == "127.0.0.1");
    BOOST_TEST((*received)->from_port != 0u);
  }
}

BOOST_AUTO_TEST_CASE(a_socket_not_opened_for_broadcast_cannot_send_one) {
  const ReservedPort reserved(AF_INET);
  BOOST_TEST_REQUIRE(reserved.port() != 0);
  auto sender = openOrFail({0, false, false});
  auto sent = sender->sendTo("127.255.255.255", reserved.port(), "x");
  BOOST_TEST(!sent.ok());
  BOOST_TEST_MESSAGE("refused as: " << errorText(sent));
}

BOOST_AUTO_TEST_CASE(receive_returns_nothing_after_its_timeout) {
  auto socket = openOrFail({0, false, false});
  const auto before = std::chrono::steady_clock::now();
  auto received = socket->receive(100ms, 1024);
  const auto waited = std::chrono::steady_clock::now() - before;
  BOOST_TEST_REQUIRE(received.ok(), errorText(received));
  BOOST_TEST(!received->has_value());
  BOOST_TEST((waited >= 100ms));
  BOOST_TEST((waited < 5s));
}

BOOST_AUTO_TEST_CASE(interrupt_ends_a_waiting_receive_and_every_later_one) {
  auto socket = openOrFail({0, false, false});
  std::thread interrupter([&socket] {
    std::this_thread::sleep_for(100ms);  // lets receive() start waiting; not a timing check
    socket->interrupt();
  });
  const auto before = std::chrono::steady_clock::now();
  auto received = socket->receive(60s, 1024);
  const auto waited = std::chrono::steady_clock::now() - before;
  interrupter.join();
  BOOST_TEST_REQUIRE(received.ok(), errorText(received));
  BOOST_TEST(!received->has_value());
  BOOST_TEST((waited < 10s));

  const auto later_before = std::chrono::steady_clock::now();
  auto later = socket->receive(60s, 1024);
  BOOST_TEST_REQUIRE(later.ok(), errorText(later));
  BOOST_TEST(!later->has_value());
  BOOST_TEST((std::chrono::steady_clock::now() - later_before < 10s));
}

BOOST_AUTO_TEST_CASE(a_datagram_longer_than_max_bytes_is_discarded) {
  const ReservedPort reserved(AF_INET);
  BOOST_TEST_REQUIRE(reserved.port() != 0);
  auto receiver = openOrFail({reserved.port(), false, false});
  auto sender = openOrFail({0, false, false});
  BOOST_TEST_REQUIRE(sender->sendTo("127.0.0.1", reserved.port(), std::string(11, 'x')).ok());
  BOOST_TEST_REQUIRE(sender->sendTo("127.0.0.1", reserved.port(), "exactly10!").ok());

  auto received = receiver->receive(5s, 10);
  BOOST_TEST_REQUIRE(received.ok(), errorText(received));
  BOOST_TEST_REQUIRE(received->has_value(), "no datagram within 5 s");
  BOOST_TEST((*received)->bytes == "exactly10!");
}

BOOST_AUTO_TEST_CASE(an_ipv6_socket_exchanges_datagrams_over_ipv6_loopback,
                     *skippedUnless(hasIpv6Loopback, "no IPv6 loopback on this machine")) {
  const ReservedPort reserved(AF_INET6);
  BOOST_TEST_REQUIRE(reserved.port() != 0);
  auto receiver = openOrFail({reserved.port(), false, true});
  auto sender = openOrFail({0, false, true});
  auto sent = sender->sendTo("::1", reserved.port(), "over six");
  BOOST_TEST_REQUIRE(sent.ok(), errorText(sent));
  auto received = receiver->receive(5s, 1024);
  BOOST_TEST_REQUIRE(received.ok(), errorText(received));
  BOOST_TEST_REQUIRE(received->has_value(), "no datagram within 5 s");
  BOOST_TEST((*received)->bytes == "over six");
  BOOST_TEST((*received)->from_address == "::1");
}

BOOST_AUTO_TEST_CASE(broadcast_addresses_are_numeric_ipv4_off_loopback) {
  for (const std::string& address : makeUdpSocketFactory()->broadcastAddresses()) {
    BOOST_TEST_INFO("address " << address);
    in_addr parsed{};
    BOOST_TEST_REQUIRE(inet_pton(AF_INET, address.c_str(), &parsed) == 1);
    BOOST_TEST((ntohl(parsed.s_addr) >> 24) != 127u);
  }
}
