#define BOOST_TEST_MODULE fleetsim_cluster_plumbing
// The plumbing of a lab cluster (tools/fleetsim/cluster_lab.h) on loopback: HAProxy's
// configuration made from the shipped one (and accepted by haproxy -c), the proxy that cuts a
// collector off from PostgreSQL, and the UDP forwarder of the beacons.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <boost/test/unit_test.hpp>
#include <cstdlib>
#include <fstream>
#include <set>
#include <string>
#include <thread>

#include "tests/integration/harness.h"
#include "tools/fleetsim/beacon_forwarder.h"
#include "tools/fleetsim/collector_control.h"
#include "tools/fleetsim/cuttable_proxy.h"
#include "tools/fleetsim/haproxy_config.h"
#include "tools/fleetsim/socket_address.h"

namespace vigil::fleetsim {
namespace {

using namespace std::chrono_literals;

// A TCP connection to 127.0.0.1:port, or -1 if refused.
int connectTo(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in to = ipv4Endpoint("127.0.0.1", port);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof to) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// What arrives on `fd` within `timeout`; "" on the connection's end, "<error>" on a reset.
std::string readSome(int fd, std::chrono::milliseconds timeout) {
  pollfd p{fd, POLLIN, 0};
  if (::poll(&p, 1, static_cast<int>(timeout.count())) <= 0) return "<timeout>";
  char buffer[256];
  const ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
  if (n < 0) return "<error>";
  return std::string(buffer, static_cast<size_t>(n));
}

// An echo server on 127.0.0.1 standing for PostgreSQL: one thread per connection.
class EchoServer {
 public:
  EchoServer() {
    listener_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr = ipv4Endpoint("127.0.0.1", 0);
    ::bind(listener_, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    ::listen(listener_, 16);
    socklen_t len = sizeof addr;
    ::getsockname(listener_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] {
      for (;;) {
        const int fd = ::accept(listener_, nullptr, nullptr);
        if (fd < 0) return;
        std::thread([fd] {
          char buffer[256];
          ssize_t n;
          while ((n = ::recv(fd, buffer, sizeof buffer, 0)) > 0) ::send(fd, buffer, n, 0);
          ::close(fd);
        }).detach();
      }
    });
  }
  ~EchoServer() {
    ::shutdown(listener_, SHUT_RDWR);
    ::close(listener_);
    thread_.join();
  }
  int port() const { return port_; }

 private:
  int listener_ = -1;
  int port_ = 0;
  std::thread thread_;
};

BOOST_AUTO_TEST_CASE(haproxys_lab_configuration_is_the_shipped_one_on_loopback) {
  const std::string shipped = testing::readFile(VIGIL_HAPROXY_TEMPLATE);
  HaproxyLabSettings settings;
  settings.template_path = VIGIL_HAPROXY_TEMPLATE;
  settings.port = 18480;
  settings.stats_port = 18404;
  settings.servers = {"127.0.0.11:18471", "127.0.0.12:18472", "127.0.0.13:18473"};
  auto config = haproxyLabConfig(shipped, settings);
  BOOST_REQUIRE_MESSAGE(config.ok(), (config.ok() ? "" : config.error().message()));
  const std::string& text = config.value();
  BOOST_TEST(text.find("    bind 127.0.0.1:18480\n") != std::string::npos);
  BOOST_TEST(text.find("    bind 127.0.0.1:18404\n") != std::string::npos);
  BOOST_TEST(text.find("    server collector-3 127.0.0.13:18473 check\n") != std::string::npos);
  BOOST_TEST(text.find("10.0.0.11") == std::string::npos);
  BOOST_TEST(text.find("\n    user haproxy") == std::string::npos);
  BOOST_TEST(text.find("\n    chroot ") == std::string::npos);
  BOOST_TEST(text.find("log stdout format raw local0 notice") != std::string::npos);
  // What the cluster's behaviour depends on is kept as shipped.
  for (const char* kept : {"option httpchk GET /readyz", "retry-on conn-failure empty-response 503",
                           "option redispatch 1", "balance roundrobin"}) {
    BOOST_TEST(text.find(kept) != std::string::npos, kept);
  }
  // HAProxy itself accepts it (scripts/install-deps.sh --test installs it; CI requires it).
  const std::string haproxy = "/usr/sbin/haproxy";
  if (::access(haproxy.c_str(), X_OK) != 0) {
    BOOST_TEST_REQUIRE(std::getenv("VIGIL_CI") == nullptr, "haproxy is not installed");
    return;
  }
  testing::TempDir dir;
  const std::string path = dir.write("haproxy.cfg", text).string();
  testing::ChildProcess check(haproxy, {"-c", "-q", "-f", path}, path + ".log");
  BOOST_TEST(check.waitExit(30s).value_or(-1) == 0, testing::readFile(path + ".log"));
}

BOOST_AUTO_TEST_CASE(a_changed_template_is_refused_not_half_followed) {
  HaproxyLabSettings settings;
  settings.template_path = "changed.cfg";
  settings.port = 1;
  settings.stats_port = 2;
  settings.servers = {"127.0.0.11:3"};
  const std::string no_bind =
      "global\n    log /dev/log local0\nfrontend fe_vigil\n    default_backend be\n"
      "backend be_collectors\n    server a 10.0.0.1:1 check\nlisten stats\n    bind :8404\n";
  BOOST_TEST(!haproxyLabConfig(no_bind, settings).ok());
}

BOOST_AUTO_TEST_CASE(a_cut_drops_every_connection_and_refuses_new_ones_until_healed) {
  EchoServer server;
  auto started = CuttableProxy::start(server.port());
  BOOST_REQUIRE(started.ok());
  CuttableProxy& proxy = *started.value();

  const int before = connectTo(proxy.port());
  BOOST_REQUIRE(before >= 0);
  ::send(before, "ping", 4, 0);
  BOOST_TEST(readSome(before, 2s) == "ping");

  proxy.cut();
  BOOST_TEST(proxy.isCut());
  // The connection through it is torn away, and nothing listens any more.
  const std::string after_cut = readSome(before, 2s);
  BOOST_TEST((after_cut == "" || after_cut == "<error>"), after_cut);
  ::close(before);
  BOOST_TEST(connectTo(proxy.port()) == -1);
  BOOST_TEST(proxy.connectionsDropped() == 1u);

  proxy.heal();
  const int healed = connectTo(proxy.port());
  BOOST_REQUIRE(healed >= 0);
  ::send(healed, "again", 5, 0);
  BOOST_TEST(readSome(healed, 2s) == "again");
  ::close(healed);
  BOOST_TEST(proxy.connectionsAccepted() == 2u);
}

// A collector's beacon listener standing in: answers each datagram with its own name.
class UdpNamer {
 public:
  UdpNamer(const std::string& address, int port, std::string name) : name_(std::move(name)) {
    fd_ = ::socket(AF_INET, SOCK_DGRAM, 0);
    sockaddr_in addr = ipv4Endpoint(address, port);
    bound_ = ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
    thread_ = std::thread([this] {
      while (!stop_) {
        pollfd p{fd_, POLLIN, 0};
        if (::poll(&p, 1, 100) <= 0) continue;
        char buffer[256];
        sockaddr_in from{};
        socklen_t len = sizeof from;
        if (::recvfrom(fd_, buffer, sizeof buffer, 0, reinterpret_cast<sockaddr*>(&from), &len) <
            0) {
          continue;
        }
        ::sendto(fd_, name_.data(), name_.size(), 0, reinterpret_cast<sockaddr*>(&from), len);
      }
    });
  }
  ~UdpNamer() {
    stop_ = true;
    thread_.join();
    ::close(fd_);
  }
  bool bound() const { return bound_; }

 private:
  std::string name_;
  int fd_ = -1;
  bool bound_ = false;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

BOOST_AUTO_TEST_CASE(beacons_go_to_the_collectors_up_in_turn_and_answers_come_back) {
  const int port = freeLoopbackPort(true);
  UdpNamer first("127.0.0.11", port, "collector-1");
  UdpNamer second("127.0.0.12", port, "collector-2");
  BOOST_REQUIRE(first.bound() && second.bound());
  auto started = BeaconForwarder::start(port, {{"127.0.0.11", port}, {"127.0.0.12", port}});
  BOOST_REQUIRE(started.ok());
  BeaconForwarder& forwarder = *started.value();

  const int agent = ::socket(AF_INET, SOCK_DGRAM, 0);
  sockaddr_in to = ipv4Endpoint("127.0.0.1", port);
  auto exchange = [&] {
    ::sendto(agent, "beacon", 6, 0, reinterpret_cast<sockaddr*>(&to), sizeof to);
    return readSome(agent, 1s);
  };
  // Nobody up: dropped, as a load balancer with no healthy backend drops them.
  BOOST_TEST(exchange() == "<timeout>");
  BOOST_TEST(forwarder.unrouted() == 1u);

  forwarder.setUp(0, true);
  BOOST_TEST(exchange() == "collector-1");
  BOOST_TEST(exchange() == "collector-1");
  forwarder.setUp(1, true);
  std::set<std::string> answered;
  for (int i = 0; i < 4; ++i) answered.insert(exchange());
  BOOST_TEST(answered == (std::set<std::string>{"collector-1", "collector-2"}));
  forwarder.setUp(0, false);
  BOOST_TEST(exchange() == "collector-2");
  // Every datagram forwarded was answered (the count follows the answer's send by a moment).
  BOOST_TEST(testing::eventually([&] { return forwarder.answered() == forwarder.forwarded(); },
                                 std::chrono::seconds(2)));
  ::close(agent);
}

}  // namespace
}  // namespace vigil::fleetsim
