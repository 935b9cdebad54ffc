#define BOOST_TEST_MODULE agent_linux_network
#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstring>
#include <fstream>
#include <string>
#include <thread>

#include "agent/platform/linux/linux_platform.h"
#include "agent/platform/linux/network_state.h"
#include "agent/platform/posix/unique_fd.h"
#include "tests/unit/agent/platform_test_support.h"
#include "tests/unit/agent/posix_test_support.h"

using vigil::agent::SystemEvent;
using vigil::agent::linux_platform::hasIpv4DefaultRoute;
using vigil::agent::linux_platform::hasIpv6DefaultRoute;
using vigil::agent::linux_platform::makeNetworkMonitor;
using vigil::agent::linux_platform::reportableAddress;
using vigil::agent::platform_testing::errorText;
using vigil::agent::platform_testing::RecordingEventSink;
using vigil::agent::platform_testing::skippedUnless;
using vigil::agent::posix::UniqueFd;
using namespace std::chrono_literals;

namespace {

constexpr char kIpv4Header[] =
    "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n";

std::string sockaddrText(const char* numeric) {
  sockaddr_storage storage{};
  if (std::strchr(numeric, ':') != nullptr) {
    sockaddr_in6 in6{};
    in6.sin6_family = AF_INET6;
    BOOST_TEST_REQUIRE(inet_pton(AF_INET6, numeric, &in6.sin6_addr) == 1);
    std::memcpy(&storage, &in6, sizeof in6);
  } else {
    sockaddr_in in4{};
    in4.sin_family = AF_INET;
    BOOST_TEST_REQUIRE(inet_pton(AF_INET, numeric, &in4.sin_addr) == 1);
    std::memcpy(&storage, &in4, sizeof in4);
  }
  return reportableAddress(reinterpret_cast<const sockaddr*>(&storage)).value_or("(none)");
}

// Adds or removes 127.0.0.77/32 on the loopback interface over rtnetlink, as `ip address add`
// would. Returns 0 or the errno the kernel answered with.
int changeTestAddress(bool add) {
  UniqueFd fd(socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE));
  if (!fd.valid()) return errno;
  struct Request {
    nlmsghdr header;
    ifaddrmsg message;
    unsigned char attributes[2][8];  // IFA_LOCAL and IFA_ADDRESS: rtattr + 4 address bytes
  } request{};
  static_assert(offsetof(Request, attributes) == sizeof(nlmsghdr) + sizeof(ifaddrmsg));
  request.header.nlmsg_len = sizeof request;
  request.header.nlmsg_type = add ? RTM_NEWADDR : RTM_DELADDR;
  request.header.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | (add ? NLM_F_CREATE | NLM_F_EXCL : 0);
  request.header.nlmsg_seq = 1;
  request.message.ifa_family = AF_INET;
  request.message.ifa_prefixlen = 32;
  request.message.ifa_scope = RT_SCOPE_HOST;
  request.message.ifa_index = if_nametoindex("lo");
  in_addr address{};
  inet_pton(AF_INET, "127.0.0.77", &address);
  const unsigned short types[2] = {IFA_LOCAL, IFA_ADDRESS};
  for (int i = 0; i < 2; ++i) {
    const rtattr attribute{static_cast<unsigned short>(sizeof(rtattr) + 4), types[i]};
    std::memcpy(request.attributes[i], &attribute, sizeof attribute);
    std::memcpy(request.attributes[i] + sizeof attribute, &address, 4);
  }
  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  if (sendto(fd.get(), &request, sizeof request, 0, reinterpret_cast<const sockaddr*>(&kernel),
             sizeof kernel) < 0) {
    return errno;
  }
  char reply[4096];
  const ssize_t n = recv(fd.get(), reply, sizeof reply, 0);
  if (n < 0) return errno;
  nlmsghdr header{};
  nlmsgerr answer{};
  if (static_cast<size_t>(n) < sizeof header + sizeof answer.error) return EPROTO;
  std::memcpy(&header, reply, sizeof header);
  if (header.nlmsg_type != NLMSG_ERROR) return EPROTO;
  std::memcpy(&answer.error, reply + sizeof header, sizeof answer.error);
  return -answer.error;
}

// This thread in a network namespace of its own while the object lives (and threads it starts,
// such as a monitor's watch, in it too): only the test's own address changes reach the
// monitor, never a link another process on the machine makes or cuts meanwhile. Without the
// privilege (CAP_SYS_ADMIN) the thread stays where it is and `entered()` is false.
class PrivateNetworkNamespace {
 public:
  PrivateNetworkNamespace() : original_(open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC)) {
    entered_ = original_.valid() && unshare(CLONE_NEWNET) == 0;
  }
  ~PrivateNetworkNamespace() {
    if (entered_) setns(original_.get(), CLONE_NEWNET);
  }
  PrivateNetworkNamespace(const PrivateNetworkNamespace&) = delete;
  PrivateNetworkNamespace& operator=(const PrivateNetworkNamespace&) = delete;
  bool entered() const { return entered_; }

 private:
  UniqueFd original_;
  bool entered_ = false;
};

// Whether this process holds CAP_NET_ADMIN (in its effective set), which adding an address takes.
bool mayChangeAddresses() {
  constexpr int kCapNetAdmin = 12;  // linux/capability.h
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("CapEff:", 0) == 0) {
      return (std::stoull(line.substr(7), nullptr, 16) >> kCapNetAdmin & 1U) != 0;
    }
  }
  return false;
}

// Removes the test address however the test ends.
struct TestAddressRemover {
  ~TestAddressRemover() { changeTestAddress(false); }
};

}  // namespace

BOOST_AUTO_TEST_CASE(ipv4_default_route_is_found_on_an_up_route_only) {
  const std::string with_default = std::string(kIpv4Header) +
                                   "eth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\t0\t0\t0\n"
                                   "eth0\t000200C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n";
  BOOST_TEST(hasIpv4DefaultRoute(with_default));

  const std::string without_default =
      std::string(kIpv4Header) + "eth0\t000200C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n";
  BOOST_TEST(!hasIpv4DefaultRoute(without_default));

  const std::string down_default =
      std::string(kIpv4Header) + "eth0\t00000000\t010200C0\t0002\t0\t0\t0\t00000000\t0\t0\t0\n";
  BOOST_TEST(!hasIpv4DefaultRoute(down_default));

  const std::string reject_default =
      std::string(kIpv4Header) + "*\t00000000\t00000000\t0201\t0\t0\t0\t00000000\t0\t0\t0\n";
  BOOST_TEST(!hasIpv4DefaultRoute(reject_default));

  // A zero destination with a non-zero mask is 0.0.0.0/8, not a default route.
  const std::string zero_net =
      std::string(kIpv4Header) + "eth0\t00000000\t010200C0\t0003\t0\t0\t0\t000000FF\t0\t0\t0\n";
  BOOST_TEST(!hasIpv4DefaultRoute(zero_net));

  BOOST_TEST(!hasIpv4DefaultRoute(kIpv4Header));
  BOOST_TEST(!hasIpv4DefaultRoute(""));
}

BOOST_AUTO_TEST_CASE(ipv6_default_route_is_found_off_loopback_on_an_up_route_only) {
  const std::string kLoopbackUnreachable =
      "00000000000000000000000000000000 00 00000000000000000000000000000000 00 "
      "00000000000000000000000000000000 ffffffff 00000001 00000000 00200200       lo\n";
  const std::string kPrefixRoute =
      "fd000000000000000000000000000000 40 00000000000000000000000000000000 00 "
      "00000000000000000000000000000000 00000100 00000001 00000000 00000001     eth0\n";
  const std::string kDefaultViaGateway =
      "00000000000000000000000000000000 00 00000000000000000000000000000000 00 "
      "fd000000000000000000000000000001 00000400 00000002 00000000 00000003     eth0\n";
  const std::string kDownDefault =
      "00000000000000000000000000000000 00 00000000000000000000000000000000 00 "
      "fd000000000000000000000000000001 00000400 00000002 00000000 00000002     eth0\n";
  const std::string kDefaultOnLoopback =
      "00000000000000000000000000000000 00 00000000000000000000000000000000 00 "
      "00000000000000000000000000000000 00000400 00000002 00000000 00000001       lo\n";

  BOOST_TEST(hasIpv6DefaultRoute(kPrefixRoute + kDefaultViaGateway + kLoopbackUnreachable));
  BOOST_TEST(!hasIpv6DefaultRoute(kPrefixRoute + kLoopbackUnreachable));
  BOOST_TEST(!hasIpv6DefaultRoute(kPrefixRoute + kDownDefault));
  BOOST_TEST(!hasIpv6DefaultRoute(kDefaultOnLoopback));
  BOOST_TEST(!hasIpv6DefaultRoute(""));
}

BOOST_AUTO_TEST_CASE(reported_addresses_exclude_loopback_link_local_and_multicast) {
  BOOST_TEST(sockaddrText("192.168.1.20") == "192.168.1.20");
  BOOST_TEST(sockaddrText("10.0.0.1") == "10.0.0.1");
  BOOST_TEST(sockaddrText("203.0.113.9") == "203.0.113.9");
  BOOST_TEST(sockaddrText("fd00::2") == "fd00::2");
  BOOST_TEST(sockaddrText("2001:db8::1") == "2001:db8::1");
  BOOST_TEST(sockaddrText("127.0.0.1") == "(none)");
  BOOST_TEST(sockaddrText("0.0.0.0") == "(none)");
  BOOST_TEST(sockaddrText("169.254.10.10") == "(none)");
  BOOST_TEST(sockaddrText("224.0.0.251") == "(none)");
  BOOST_TEST(sockaddrText("::1") == "(none)");
  BOOST_TEST(sockaddrText("::") == "(none)");
  BOOST_TEST(sockaddrText("fe80::fc:ff:fe00:1") == "(none)");
  BOOST_TEST(sockaddrText("febf::1") == "(none)");  // still fe80::/10
  BOOST_TEST(sockaddrText("ff02::1") == "(none)");
  BOOST_TEST(!reportableAddress(nullptr).has_value());
}

BOOST_AUTO_TEST_CASE(this_machine_reports_its_addresses_without_loopback) {
  auto state = makeNetworkMonitor()->state();
  BOOST_TEST_REQUIRE(state.ok(), errorText(state));
  for (const std::string& address : state->addresses) {
    BOOST_TEST_INFO("address " << address);
    BOOST_TEST(address != "127.0.0.1");
    BOOST_TEST(address != "::1");
    BOOST_TEST(address.rfind("fe80:", 0) != 0);
    in6_addr parsed6{};
    in_addr parsed4{};
    BOOST_TEST((inet_pton(AF_INET, address.c_str(), &parsed4) == 1 ||
                inet_pton(AF_INET6, address.c_str(), &parsed6) == 1));
  }
  BOOST_TEST_MESSAGE("default route: " << state->default_route << ", " << state->addresses.size()
                                       << " address(es)");
}

BOOST_AUTO_TEST_CASE(monitor_stops_promptly_and_refuses_a_second_start) {
  RecordingEventSink sink;
  auto monitor = makeNetworkMonitor();
  auto started = monitor->start(sink);
  BOOST_TEST_REQUIRE(started.ok(), errorText(started));
  auto again = monitor->start(sink);
  BOOST_TEST(!again.ok());

  const auto before = std::chrono::steady_clock::now();
  monitor->stop();
  BOOST_TEST((std::chrono::steady_clock::now() - before < 1s));
  monitor->stop();  // idempotent

  auto restarted = monitor->start(sink);
  BOOST_TEST(restarted.ok(), errorText(restarted));
}

BOOST_AUTO_TEST_CASE(
    an_address_change_is_posted_once_per_burst,
    *skippedUnless(mayChangeAddresses,
                   "adding an address needs CAP_NET_ADMIN, which this run lacks")) {
  const PrivateNetworkNamespace private_network;
  if (!private_network.entered()) {
    BOOST_TEST_MESSAGE("no network namespace of its own: other links' changes can reach it");
  }
  changeTestAddress(false);  // a leftover from an interrupted run, before the watch starts
  RecordingEventSink sink;
  const auto settle = 1s;
  auto monitor = makeNetworkMonitor(settle);
  auto started = monitor->start(sink);
  BOOST_TEST_REQUIRE(started.ok(), errorText(started));

  const int added = changeTestAddress(true);
  const TestAddressRemover remover;
  BOOST_TEST_REQUIRE(added == 0, "adding 127.0.0.77 to lo: " << std::strerror(added));
  auto state = monitor->state();
  BOOST_TEST_REQUIRE(state.ok(), errorText(state));
  for (const std::string& address : state->addresses) BOOST_TEST(address != "127.0.0.77");
  // A second change well inside the settle time, after the watch has read the first: the two
  // make one burst only if the monitor coalesces.
  std::this_thread::sleep_for(200ms);
  const int removed = changeTestAddress(false);
  BOOST_TEST_REQUIRE(removed == 0, "removing 127.0.0.77 from lo: " << std::strerror(removed));

  BOOST_TEST_REQUIRE(sink.waitForCount(1, 10s), "no network change posted within 10 s");
  BOOST_TEST(sink.count(SystemEvent::kNetworkChanged) == 1u);
  BOOST_TEST(!sink.waitForCount(2, settle * 2), "a second event for the same burst");
}
