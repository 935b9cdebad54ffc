#define BOOST_TEST_MODULE agent_windows_udp_socket
// clang-format off
#include <winsock2.h>
#include <ws2tcpip.h>
// clang-format on

#include <boost/test/unit_test.hpp>
#include <chrono>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "agent/platform/windows/windows_platform.h"

namespace win = vigil::agent::windows;
using vigil::agent::Datagram;
using vigil::agent::UdpSocket;
using vigil::agent::UdpSocketOptions;
using namespace std::chrono_literals;

namespace {

// A UDP port that was free a moment ago: bound to 0 by a plain socket, read back, released.
// (UdpSocket does not tell its port.)
uint16_t freeUdpPort() {
  WSADATA data;
  BOOST_TEST_REQUIRE(WSAStartup(MAKEWORD(2, 2), &data) == 0);
  SOCKET s = socket(AF_INET, SOCK_DGRAM, IPPROTO_UDP);
  BOOST_TEST_REQUIRE(s != INVALID_SOCKET);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  int len = sizeof a;
  const bool bound = bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
                     getsockname(s, reinterpret_cast<sockaddr*>(&a), &len) == 0;
  closesocket(s);
  WSACleanup();
  BOOST_TEST_REQUIRE(bound);
  return ntohs(a.sin_port);
}

std::unique_ptr<UdpSocket> openSocket(const UdpSocketOptions& options) {
  static auto factory = win::makeUdpSocketFactory();
  auto s = factory->open(options);
  BOOST_TEST_REQUIRE(s.ok(), (s.ok() ? "" : s.error().toString()));
  return std::move(s).value();
}

// Polls both sockets until one has a datagram or `limit` passes.
std::optional<Datagram> receiveOnEither(UdpSocket& a, UdpSocket& b, std::chrono::seconds limit) {
  const auto end = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < end) {
    for (UdpSocket* s : {&a, &b}) {
      auto got = s->receive(50ms, 1500);
      BOOST_TEST_REQUIRE(got.ok(), (got.ok() ? "" : got.error().toString()));
      if (got->has_value()) return **got;
    }
  }
  return std::nullopt;
}

}  // namespace

BOOST_AUTO_TEST_CASE(two_agents_share_a_port_and_a_datagram_arrives) {
  const uint16_t port = freeUdpPort();
  UdpSocketOptions shared;
  shared.bind_port = port;
  shared.broadcast = true;
  auto first = openSocket(shared);
  auto second = openSocket(shared);  // SO_REUSEADDR: a second agent on the same host
  auto sender = openSocket(UdpSocketOptions{});

  vigil::Status sent = sender->sendTo("127.0.0.1", port, "vigil-beacon");
  BOOST_TEST_REQUIRE(sent.ok(), sent.toString());
  auto got = receiveOnEither(*first, *second, 5s);
  BOOST_TEST_REQUIRE(got.has_value());
  BOOST_TEST(got->bytes == "vigil-beacon");
  BOOST_TEST(got->from_address == "127.0.0.1");
  BOOST_TEST(got->from_port != 0u);
}

BOOST_AUTO_TEST_CASE(datagram_longer_than_the_limit_is_discarded) {
  const uint16_t port = freeUdpPort();
  UdpSocketOptions options;
  options.bind_port = port;
  auto receiver = openSocket(options);
  auto sender = openSocket(UdpSocketOptions{});
  BOOST_TEST_REQUIRE(sender->sendTo("127.0.0.1", port, std::string(100, 'x')).ok());
  BOOST_TEST_REQUIRE(sender->sendTo("127.0.0.1", port, "short").ok());
  auto got = receiver->receive(5s, 10);
  BOOST_TEST_REQUIRE(got.ok());
  BOOST_TEST_REQUIRE(got->has_value());
  BOOST_TEST((*got)->bytes == "short");
}

BOOST_AUTO_TEST_CASE(receive_times_out_with_nothing) {
  auto s = openSocket(UdpSocketOptions{});
  const auto start = std::chrono::steady_clock::now();
  auto got = s->receive(200ms, 1500);
  const auto waited = std::chrono::steady_clock::now() - start;
  BOOST_TEST_REQUIRE(got.ok());
  BOOST_TEST(!got->has_value());
  BOOST_TEST(std::chrono::duration_cast<std::chrono::milliseconds>(waited).count() >= 150);
}

BOOST_AUTO_TEST_CASE(interrupt_ends_a_blocked_receive_and_every_later_one) {
  auto s = openSocket(UdpSocketOptions{});
  auto pending = std::async(std::launch::async, [&] { return s->receive(30s, 1500); });
  std::this_thread::sleep_for(100ms);  // let receive() block; the result holds either way
  const auto start = std::chrono::steady_clock::now();
  s->interrupt();
  BOOST_TEST_REQUIRE((pending.wait_for(10s) == std::future_status::ready));
  BOOST_TEST((std::chrono::steady_clock::now() - start < 5s));
  auto got = pending.get();
  BOOST_TEST_REQUIRE(got.ok());
  BOOST_TEST(!got->has_value());

  auto later = s->receive(30s, 1500);
  BOOST_TEST_REQUIRE(later.ok());
  BOOST_TEST(!later->has_value());
}

BOOST_AUTO_TEST_CASE(ipv6_socket_sends_and_receives_on_loopback) {
  UdpSocketOptions v6;
  v6.ipv6 = true;
  v6.bind_port = freeUdpPort();
  auto receiver = openSocket(v6);
  UdpSocketOptions sender_options;
  sender_options.ipv6 = true;
  auto sender = openSocket(sender_options);
  vigil::Status sent = sender->sendTo("::1", v6.bind_port, "six");
  BOOST_TEST_REQUIRE(sent.ok(), sent.toString());
  auto got = receiver->receive(5s, 1500);
  BOOST_TEST_REQUIRE(got.ok());
  BOOST_TEST_REQUIRE(got->has_value());
  BOOST_TEST((*got)->bytes == "six");
  BOOST_TEST((*got)->from_address == "::1");
}
