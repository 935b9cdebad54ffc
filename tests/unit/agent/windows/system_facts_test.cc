#define BOOST_TEST_MODULE agent_windows_system_facts
#include <boost/test/unit_test.hpp>
#include <string>

#include "agent/platform/windows/boot_windows.h"
#include "agent/platform/windows/paths_windows.h"
#include "agent/platform/windows/windows_platform.h"

namespace win = vigil::agent::windows;

BOOST_AUTO_TEST_CASE(facts_name_this_windows_machine) {
  auto source = win::makeSystemFactsSource();
  auto facts = source->facts();
  BOOST_TEST_REQUIRE(facts.ok(), (facts.ok() ? "" : facts.error().toString()));
  BOOST_TEST(!facts->hostname.empty());
  BOOST_TEST(facts->os_name == "windows");
  BOOST_TEST(facts->os_version.rfind("Windows ", 0) == 0u, facts->os_version);
  // "Windows <major>.<minor>.<build>": two dots after the prefix.
  const std::string numbers = facts->os_version.substr(8);
  BOOST_TEST(std::count(numbers.begin(), numbers.end(), '.') == 2, facts->os_version);
  const std::string arch = facts->arch;
  BOOST_TEST((arch == "x86_64" || arch == "arm64" || arch == "x86"), arch);
}

BOOST_AUTO_TEST_CASE(boot_identity_is_stable_between_reads) {
  auto source = win::makeBootIdentitySource();
  auto first = source->bootIdentity();
  BOOST_TEST_REQUIRE(first.ok(), (first.ok() ? "" : first.error().toString()));
  auto second = source->bootIdentity();
  BOOST_TEST_REQUIRE(second.ok());
  BOOST_TEST(first->boot_id == second->boot_id);
  BOOST_TEST(first->boot_id.rfind("boot-", 0) == 0u, first->boot_id);
  BOOST_TEST(first->uptime_s > 0u);
  BOOST_TEST(second->uptime_s >= first->uptime_s);
}

BOOST_AUTO_TEST_CASE(boot_id_rounds_the_boot_time_to_ten_seconds) {
  BOOST_TEST(win::bootIdForBootTime(1790000000000) == "boot-1790000000");
  BOOST_TEST(win::bootIdForBootTime(1790000004999) == "boot-1790000000");
  BOOST_TEST(win::bootIdForBootTime(1790000005000) == "boot-1790000010");
  BOOST_TEST(win::bootIdForBootTime(1789999995000) == "boot-1790000000");
  BOOST_TEST(win::bootIdForBootTime(1789999994999) == "boot-1789999990");
  BOOST_TEST(win::bootIdForBootTime(0) == "boot-0");
}

BOOST_AUTO_TEST_CASE(default_state_directory_is_under_program_data) {
  const std::string dir = win::defaultStateDirectory();
  const std::string suffix = "\\Vigil\\agent";
  BOOST_TEST_REQUIRE(dir.size() > suffix.size());
  BOOST_TEST(dir.compare(dir.size() - suffix.size(), suffix.size(), suffix) == 0, dir);
  BOOST_TEST(dir.find(":\\") == 1u, dir);  // absolute, on a drive
}
