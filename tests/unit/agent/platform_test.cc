#define BOOST_TEST_MODULE agent_platform
#include "agent/platform/platform.h"

#include <boost/test/unit_test.hpp>

#include "agent/platform/linux/linux_platform.h"
#include "agent/platform/linux/os_release.h"
#include "tests/unit/agent/platform_test_support.h"

using vigil::agent::defaultPaths;
using vigil::agent::makePlatform;
using vigil::agent::linux_platform::makeBootIdentitySource;
using vigil::agent::linux_platform::makeSystemFactsSource;
using vigil::agent::linux_platform::osReleaseValue;
using vigil::agent::linux_platform::parseProcUptime;
using vigil::agent::platform_testing::errorText;

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

BOOST_AUTO_TEST_CASE(default_paths_are_the_documented_ones) {
  BOOST_TEST(defaultPaths().config_path == "/etc/vigil/agent.conf");
  BOOST_TEST(defaultPaths().state_dir == "/var/lib/vigil/agent");
}

BOOST_AUTO_TEST_CASE(proc_uptime_is_read_in_whole_seconds) {
  BOOST_TEST(parseProcUptime("12345.67 54321.00\n").value_or(0) == 12345u);
  BOOST_TEST(parseProcUptime("7 1\n").value_or(0) == 7u);
  BOOST_TEST(!parseProcUptime("").has_value());
  BOOST_TEST(!parseProcUptime("abc 1").has_value());
}

BOOST_AUTO_TEST_CASE(this_machine_reports_its_facts) {
  auto facts = makeSystemFactsSource()->facts();
  BOOST_TEST_REQUIRE(facts.ok(), errorText(facts));
  BOOST_TEST(!facts->hostname.empty());
  BOOST_TEST(facts->os_name == "linux");
  BOOST_TEST(!facts->os_version.empty());
  BOOST_TEST(!facts->arch.empty());
}

BOOST_AUTO_TEST_CASE(this_machine_reports_a_boot_id_that_is_stable_across_reads) {
  auto source = makeBootIdentitySource();
  auto boot = source->bootIdentity();
  BOOST_TEST_REQUIRE(boot.ok(), errorText(boot));
  BOOST_TEST(boot->boot_id.size() == 36u);  // a UUID
  BOOST_TEST(boot->boot_id.find('\n') == std::string::npos);
  auto again = makeBootIdentitySource()->bootIdentity();
  BOOST_TEST_REQUIRE(again.ok(), errorText(again));
  BOOST_TEST(again->boot_id == boot->boot_id);
  BOOST_TEST(again->uptime_s >= boot->uptime_s);
}

BOOST_AUTO_TEST_CASE(the_platform_serves_every_concern) {
  vigil::agent::Platform platform = makePlatform();
  BOOST_TEST(static_cast<bool>(platform.facts));
  BOOST_TEST(static_cast<bool>(platform.boot));
  BOOST_TEST(static_cast<bool>(platform.network));
  BOOST_TEST(static_cast<bool>(platform.power));
  BOOST_TEST(static_cast<bool>(platform.service));
  BOOST_TEST(static_cast<bool>(platform.state));
  BOOST_TEST(static_cast<bool>(platform.udp));
  auto facts = platform.facts->facts();
  BOOST_TEST(facts.ok(), errorText(facts));
}
