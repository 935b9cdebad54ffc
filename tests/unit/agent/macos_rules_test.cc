#define BOOST_TEST_MODULE agent_macos_rules
// The OS-independent rules of the macOS platform layer (agent/platform/macos/darwin_facts,
// interface_addresses), compiled and run on every POSIX build; the rest of that layer builds
// only on macOS (.github/workflows/macos.yml).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <boost/test/unit_test.hpp>
#include <cstring>

#include "agent/platform/macos/darwin_facts.h"
#include "agent/platform/macos/interface_addresses.h"

namespace m = vigil::agent::macos;

namespace {
std::optional<std::string> v4(const char* text) {
  sockaddr_in sin{};
  sin.sin_family = AF_INET;
  inet_pton(AF_INET, text, &sin.sin_addr);
  return m::reportableAddress(reinterpret_cast<const sockaddr*>(&sin));
}
std::optional<std::string> v6(const char* text) {
  sockaddr_in6 sin6{};
  sin6.sin6_family = AF_INET6;
  inet_pton(AF_INET6, text, &sin6.sin6_addr);
  return m::reportableAddress(reinterpret_cast<const sockaddr*>(&sin6));
}
}  // namespace

BOOST_AUTO_TEST_CASE(bonjour_local_suffix_is_stripped_and_dns_names_kept) {
  BOOST_TEST(m::reportedHostname("Johns-MacBook-Pro.local") == "Johns-MacBook-Pro");
  BOOST_TEST(m::reportedHostname("Johns-MacBook-Pro.LOCAL.") == "Johns-MacBook-Pro");
  BOOST_TEST(m::reportedHostname("mac1.corp.example.com") == "mac1.corp.example.com");
  BOOST_TEST(m::reportedHostname("mac1.corp.example.com.") == "mac1.corp.example.com");
  BOOST_TEST(m::reportedHostname("localhost") == "localhost");
  BOOST_TEST(m::reportedHostname(".local") == ".local");
  BOOST_TEST(m::reportedHostname("mylocal") == "mylocal");
}

BOOST_AUTO_TEST_CASE(os_version_prefers_product_version) {
  BOOST_TEST(m::osVersionText(std::string("14.5"), std::string("23.5.0")) == "macOS 14.5");
  BOOST_TEST(m::osVersionText(std::nullopt, std::string("17.7.0")) == "Darwin 17.7.0");
  BOOST_TEST(m::osVersionText(std::string(""), std::nullopt) == "Darwin");
}

BOOST_AUTO_TEST_CASE(rosetta_reports_the_machine_arch) {
  BOOST_TEST(m::reportedArch("arm64", false) == "arm64");
  BOOST_TEST(m::reportedArch("x86_64", false) == "x86_64");
  BOOST_TEST(m::reportedArch("x86_64", true) == "arm64");
}

BOOST_AUTO_TEST_CASE(boot_id_rounds_down_to_ten_seconds) {
  BOOST_TEST(m::bootIdForBootTime(1790000009) == "boot-1790000000");
  BOOST_TEST(m::bootIdForBootTime(1790000010) == "boot-1790000010");
  BOOST_TEST(m::bootIdForBootTime(1790000000) == "boot-1790000000");
  BOOST_TEST(m::bootIdForBootTime(-5) == "boot--10");
  BOOST_TEST(m::uptimeSeconds(1000, 1600) == 600u);
  BOOST_TEST(m::uptimeSeconds(1000, 900) == 0u);
}

BOOST_AUTO_TEST_CASE(only_global_and_private_unicast_addresses_are_reported) {
  BOOST_TEST(v4("192.168.1.20").value_or("") == "192.168.1.20");
  BOOST_TEST(v4("10.0.0.1").value_or("") == "10.0.0.1");
  BOOST_TEST(v4("8.8.8.8").value_or("") == "8.8.8.8");
  BOOST_TEST(!v4("127.0.0.1"));
  BOOST_TEST(!v4("0.0.0.0"));
  BOOST_TEST(!v4("169.254.3.4"));
  BOOST_TEST(!v4("224.0.0.1"));
  BOOST_TEST(!v4("255.255.255.255"));
  BOOST_TEST(v6("2001:db8::1").value_or("") == "2001:db8::1");
  BOOST_TEST(v6("fd00::5").value_or("") == "fd00::5");
  BOOST_TEST(!v6("::1"));
  BOOST_TEST(!v6("::"));
  BOOST_TEST(!v6("fe80::1"));
  BOOST_TEST(!v6("febf::1"));
  BOOST_TEST(v6("fec0::1").value_or("") == "fec0::1");
  BOOST_TEST(!v6("ff02::1"));
  BOOST_TEST(!m::reportableAddress(nullptr));
}

BOOST_AUTO_TEST_CASE(this_host_lists_sorted_addresses_without_loopback) {
  auto list = m::listReportableAddresses();
  BOOST_TEST_REQUIRE(list.ok());
  BOOST_TEST(std::is_sorted(list->begin(), list->end()));
  for (const auto& a : *list) BOOST_TEST(a != "127.0.0.1");
  BOOST_TEST_MESSAGE("addresses: " << list->size());
}
