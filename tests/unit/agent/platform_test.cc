#define BOOST_TEST_MODULE agent_platform
#include <boost/test/unit_test.hpp>

#include "agent/platform/linux/os_release.h"
#include "agent/platform/system_info.h"
#include "tests/unit/agent/test_support.h"

using vigil::agent::makePlatformSystemInfo;
using vigil::agent::linux_platform::osReleaseValue;
using vigil::agent::linux_platform::parseProcUptime;

BOOST_AUTO_TEST_CASE(os_release_pretty_name_is_read_quoted_or_not) {
  const char* text =
      "NAME=\"Debian GNU/Linux\"\n"
      "# comment\n"
      "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\n"
      "ID=debian\n"
      "VERSION='12 \\'quoted\\''\n";
  BOOST_TEST(osReleaseValue(text, "PRETTY_NAME").value_or("") == "Debian GNU/Linux 12 (bookworm)");
  BOOST_TEST(osReleaseValue(text, "ID").value_or("") == "debian");
  BOOST_TEST(osReleaseValue(text, "VERSION").value_or("") == "12 'quoted'");
  BOOST_TEST(!osReleaseValue(text, "MISSING").has_value());
  BOOST_TEST(!osReleaseValue("PRETTY_NAME=\"\"\n", "PRETTY_NAME").has_value());
  BOOST_TEST(!osReleaseValue("PRETTY_NAME_X=a\n", "PRETTY_NAME").has_value());
}

BOOST_AUTO_TEST_CASE(proc_uptime_is_read_in_whole_seconds) {
  BOOST_TEST(parseProcUptime("12345.67 54321.00\n").value_or(0) == 12345u);
  BOOST_TEST(parseProcUptime("7 1\n").value_or(0) == 7u);
  BOOST_TEST(!parseProcUptime("").has_value());
  BOOST_TEST(!parseProcUptime("abc 1").has_value());
}

BOOST_AUTO_TEST_CASE(this_machine_reports_its_facts_and_boot_identity) {
  auto info = makePlatformSystemInfo();
  auto facts = info->facts();
  BOOST_TEST_REQUIRE(facts.ok(), vigil::agent::testing::errorText(facts));
  BOOST_TEST(!facts->hostname.empty());
  BOOST_TEST(facts->os_name == "linux");
  BOOST_TEST(!facts->os_version.empty());
  BOOST_TEST(!facts->arch.empty());

  auto boot = info->bootIdentity();
  BOOST_TEST_REQUIRE(boot.ok(), vigil::agent::testing::errorText(boot));
  BOOST_TEST(boot->boot_id.size() == 36u);  // a UUID
  BOOST_TEST(boot->boot_id.find('\n') == std::string::npos);
  auto again = info->bootIdentity();
  BOOST_TEST(again->boot_id == boot->boot_id);
  BOOST_TEST(again->uptime_s >= boot->uptime_s);
}
