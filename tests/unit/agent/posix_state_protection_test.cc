#define BOOST_TEST_MODULE agent_posix_state_protection
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <string>

#include "agent/platform/posix/posix_platform.h"
#include "tests/support/temp_dir.h"
#include "tests/unit/agent/platform_test_support.h"
#include "tests/unit/agent/posix_test_support.h"

using vigil::StatusCode;
using vigil::agent::platform_testing::errorText;
using vigil::agent::platform_testing::skippedUnless;
using vigil::agent::posix::makeStateProtection;
using vigil::testing::TempDir;

namespace {

bool runningAsRoot() { return geteuid() == 0; }

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

// vigil-agent enroll/retire run by root on the service's state directory continue as its owner,
// for good. Checked in a child process (the test process keeps its own identity); needs root.
BOOST_AUTO_TEST_CASE(root_acts_as_the_owner_of_the_state_directory_for_good,
                     *skippedUnless(runningAsRoot, "needs root")) {
  const TempDir temp;
  const std::string dir = temp.sub("service-state");
  BOOST_TEST_REQUIRE(mkdir(dir.c_str(), 0700) == 0);
  constexpr uid_t kServiceUid = 4242;
  constexpr gid_t kServiceGid = 4343;
  BOOST_TEST_REQUIRE(chown(dir.c_str(), kServiceUid, kServiceGid) == 0);
  // As /var/lib: others may pass through the parent.
  const std::string parent = dir.substr(0, dir.rfind('/'));
  BOOST_TEST_REQUIRE(chmod(parent.c_str(), 0755) == 0);
  const std::string root_owned = temp.sub("root-state");
  BOOST_TEST_REQUIRE(mkdir(root_owned.c_str(), 0700) == 0);

  auto inChild = [](auto body) {
    const pid_t pid = fork();
    if (pid == 0) _exit(body());
    int status = 0;
    waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  };
  // 0: became the owner, cannot return to root, and what it writes there is the owner's.
  const int became_owner = inChild([&] {
    if (!makeStateProtection()->actAsOwnerOf(dir).ok()) return 1;
    if (geteuid() != kServiceUid || getegid() != kServiceGid) return 2;
    if (setuid(0) == 0 || seteuid(0) == 0) return 3;
    if (getgroups(0, nullptr) != 0) return 4;
    const std::string file = dir + "/identity.json";
    FILE* f = fopen(file.c_str(), "w");
    if (f == nullptr) return 5;
    fclose(f);
    struct stat st {};
    if (stat(file.c_str(), &st) != 0 || st.st_uid != kServiceUid) return 6;
    return 0;
  });
  BOOST_TEST(became_owner == 0);
  // A directory root owns, or none at all, leaves the process as it is.
  const int stayed_root = inChild([&] {
    auto protection = makeStateProtection();
    if (!protection->actAsOwnerOf(root_owned).ok()) return 1;
    if (!protection->actAsOwnerOf(root_owned + "/missing").ok()) return 2;
    return geteuid() == 0 ? 0 : 3;
  });
  BOOST_TEST(stayed_root == 0);
}
