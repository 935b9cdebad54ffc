#define BOOST_TEST_MODULE agent_windows_network
#include <boost/test/unit_test.hpp>
#include <string>

#include "agent/platform/windows/adapter_addresses.h"
#include "agent/platform/windows/windows_platform.h"

namespace win = vigil::agent::windows;

namespace {

class CountingSink final : public vigil::agent::SystemEventSink {
 public:
  void onSystemEvent(vigil::agent::SystemEvent) override {}
};

}  // namespace

BOOST_AUTO_TEST_CASE(network_state_lists_no_loopback_or_link_local_address) {
  auto monitor = win::makeNetworkMonitor();
  auto state = monitor->state();
  BOOST_TEST_REQUIRE(state.ok(), (state.ok() ? "" : state.error().toString()));
  for (const std::string& a : state->addresses) {
    BOOST_TEST(!a.empty());
    BOOST_TEST(a.rfind("127.", 0) != 0u, a);
    BOOST_TEST(a != "::1");
    BOOST_TEST(a.rfind("169.254.", 0) != 0u, a);
    BOOST_TEST(a.rfind("fe80:", 0) != 0u, a);
  }
}

BOOST_AUTO_TEST_CASE(network_monitor_starts_and_stops) {
  auto monitor = win::makeNetworkMonitor();
  CountingSink sink;
  vigil::Status started = monitor->start(sink);
  BOOST_TEST(started.ok(), started.toString());
  BOOST_TEST(!monitor->start(sink).ok());  // already started
  monitor->stop();
  monitor->stop();  // idempotent
  BOOST_TEST(monitor->start(sink).ok());
  monitor->stop();
}

BOOST_AUTO_TEST_CASE(directed_broadcast_sets_the_host_bits) {
  const uint32_t a = (192u << 24) | (168u << 16) | (1u << 8) | 20u;
  BOOST_TEST(win::ipv4DirectedBroadcast(a, 24).value_or("") == "192.168.1.255");
  BOOST_TEST(win::ipv4DirectedBroadcast(a, 16).value_or("") == "192.168.255.255");
  BOOST_TEST(win::ipv4DirectedBroadcast(a, 23).value_or("") == "192.168.1.255");
  BOOST_TEST(win::ipv4DirectedBroadcast(a, 30).value_or("") == "192.168.1.23");
  const uint32_t b = (10u << 24) | 5u;
  BOOST_TEST(win::ipv4DirectedBroadcast(b, 8).value_or("") == "10.255.255.255");
  BOOST_TEST(!win::ipv4DirectedBroadcast(a, 31).has_value());
  BOOST_TEST(!win::ipv4DirectedBroadcast(a, 32).has_value());
  BOOST_TEST(!win::ipv4DirectedBroadcast(a, 33).has_value());
}

BOOST_AUTO_TEST_CASE(broadcast_addresses_are_ipv4_and_not_loopback) {
  auto factory = win::makeUdpSocketFactory();
  for (const std::string& b : factory->broadcastAddresses()) {
    BOOST_TEST(b.find(':') == std::string::npos, b);
    BOOST_TEST(b.rfind("127.", 0) != 0u, b);
  }
}
