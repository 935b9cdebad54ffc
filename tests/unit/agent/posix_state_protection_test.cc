#define BOOST_TEST_MODULE agent_posix_state_protection
#include <sys/stat.h>

#include <boost/test/unit_test.hpp>
#include <string>

#include "agent/platform/posix/posix_platform.h"
#include "tests/support/temp_dir.h"
#include "tests/unit/agent/platform_test_support.h"

using vigil::StatusCode;
using vigil::agent::platform_testing::errorText;
using vigil::agent::posix::makeStateProtection;
using vigil::testing::TempDir;

namespace {

// The permission bits of `path` (07777), or 0 if it cannot be stat'ed.
unsigned modeOf(const std::string& path) {
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) return 0;
  return static_cast<unsigned>(st.st_mode & 07777);
}

}  // namespace

BOOST_AUTO_TEST_CASE(a_missing_state_directory_is_created_private) {
  const TempDir temp;
  const std::string dir = temp.sub("var/lib/vigil");
  auto secured = makeStateProtection()->securePrivateDirectory(dir);
  BOOST_TEST_REQUIRE(secured.ok(), errorText(secured));
  BOOST_TEST(modeOf(dir) == 0700u);
}

BOOST_AUTO_TEST_CASE(an_open_state_directory_is_restricted) {
  const TempDir temp;
  const std::string dir = temp.sub("state");
  BOOST_TEST_REQUIRE(mkdir(dir.c_str(), 0700) == 0);
  BOOST_TEST_REQUIRE(chmod(dir.c_str(), 0777) == 0);
  auto secured = makeStateProtection()->securePrivateDirectory(dir);
  BOOST_TEST_REQUIRE(secured.ok(), errorText(secured));
  BOOST_TEST(modeOf(dir) == 0700u);
}

BOOST_AUTO_TEST_CASE(a_sticky_shared_directory_is_refused) {
  const TempDir temp;
  const std::string dir = temp.sub("shared");
  BOOST_TEST_REQUIRE(mkdir(dir.c_str(), 0700) == 0);
  BOOST_TEST_REQUIRE(chmod(dir.c_str(), 01777) == 0);
  auto secured = makeStateProtection()->securePrivateDirectory(dir);
  BOOST_TEST_REQUIRE(!secured.ok());
  BOOST_TEST((secured.code() == StatusCode::kFailedPrecondition));
  BOOST_TEST(secured.message().find(dir) != std::string::npos, secured.message());
  BOOST_TEST(secured.message().find("sticky") != std::string::npos, secured.message());
  BOOST_TEST(modeOf(dir) == 01777u);  // left as it was
}

BOOST_AUTO_TEST_CASE(a_file_in_place_of_the_state_directory_is_refused) {
  const TempDir temp;
  const std::string path = temp.write("state", "not a directory").string();
  auto secured = makeStateProtection()->securePrivateDirectory(path);
  BOOST_TEST_REQUIRE(!secured.ok());
  BOOST_TEST(secured.message().find(path) != std::string::npos, secured.message());
}

BOOST_AUTO_TEST_CASE(a_state_file_is_made_owner_only) {
  const TempDir temp;
  const std::string path = temp.write("identity.json", "{}").string();
  BOOST_TEST_REQUIRE(chmod(path.c_str(), 0644) == 0);
  auto secured = makeStateProtection()->securePrivateFile(path);
  BOOST_TEST_REQUIRE(secured.ok(), errorText(secured));
  BOOST_TEST(modeOf(path) == 0600u);
}

BOOST_AUTO_TEST_CASE(securing_a_missing_file_names_it) {
  const TempDir temp;
  const std::string path = temp.sub("missing.json");
  auto secured = makeStateProtection()->securePrivateFile(path);
  BOOST_TEST_REQUIRE(!secured.ok());
  BOOST_TEST(secured.message().find(path) != std::string::npos, secured.message());
}

BOOST_AUTO_TEST_CASE(flushing_a_file_succeeds_and_a_missing_one_errors) {
  const TempDir temp;
  const std::string path = temp.write("sequence", "42").string();
  auto flushed = makeStateProtection()->flushFile(path);
  BOOST_TEST(flushed.ok(), errorText(flushed));

  const std::string missing = temp.sub("gone");
  auto failed = makeStateProtection()->flushFile(missing);
  BOOST_TEST_REQUIRE(!failed.ok());
  BOOST_TEST((failed.code() == StatusCode::kNotFound));
  BOOST_TEST(failed.message().find(missing) != std::string::npos, failed.message());
}
