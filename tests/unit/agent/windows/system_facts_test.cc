#define BOOST_TEST_MODULE agent_windows_system_facts
#include <boost/test/unit_test.hpp>
#include <string>

#include "agent/platform/platform.h"
#include "agent/platform/windows/boot_windows.h"
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

namespace {

bool endsWith(const std::string& s, const std::string& suffix) {
  return s.size() > suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

BOOST_AUTO_TEST_CASE(default_paths_are_under_the_program_data_known_folder) {
  const vigil::agent::DefaultPaths paths = vigil::agent::defaultPaths();
  BOOST_TEST(endsWith(paths.state_dir, "\\Vigil\\agent"), paths.state_dir);
  BOOST_TEST(endsWith(paths.config_path, "\\Vigil\\agent.conf"), paths.config_path);
  BOOST_TEST(paths.state_dir.find(":\\") == 1u, paths.state_dir);  // absolute, on a drive
  // Both in one Vigil folder under ProgramData.
  const std::string program_data = paths.state_dir.substr(0, paths.state_dir.size() - 12);
  BOOST_TEST(paths.config_path.rfind(program_data + "\\Vigil\\", 0) == 0u, paths.config_path);
}
