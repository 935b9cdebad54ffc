#define BOOST_TEST_MODULE common_atomic_file
#include "common/atomic_file.h"

#include <boost/test/unit_test.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

namespace fs = std::filesystem;
using vigil::replaceFileAtomically;
using vigil::Status;

namespace {

// A fresh directory of its own, removed with everything in it.
class ScratchDir {
 public:
  ScratchDir()
      : path_(fs::temp_directory_path() /
              ("vigil-atomic-file-" +
               std::to_string(std::chrono::steady_clock::now().time_since_epoch().count()))) {
    fs::create_directories(path_);
  }
  ~ScratchDir() {
    std::error_code ignored;
    fs::remove_all(path_, ignored);
  }
  fs::path operator/(const std::string& name) const { return path_ / name; }

 private:
  fs::path path_;
};

std::string contentOf(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void writePlain(const fs::path& path, const std::string& content) {
  std::ofstream(path, std::ios::binary) << content;
}

}  // namespace

BOOST_AUTO_TEST_CASE(replace_creates_and_then_replaces_the_whole_content) {
  ScratchDir dir;
  const fs::path file = dir / "state";
  BOOST_TEST(replaceFileAtomically(file, "first, and longer", nullptr).ok());
  BOOST_TEST(contentOf(file) == "first, and longer");
  BOOST_TEST(replaceFileAtomically(file, "second", nullptr).ok());
  BOOST_TEST(contentOf(file) == "second");
  BOOST_TEST(!fs::exists(dir / "state.tmp"));
}

BOOST_AUTO_TEST_CASE(prepare_runs_on_the_empty_new_file_before_the_content) {
  ScratchDir dir;
  const fs::path file = dir / "secret";
  bool ran = false;
  const Status st = replaceFileAtomically(file, "content", [&](const fs::path& new_file) {
    ran = true;
    BOOST_TEST(new_file == dir / "secret.tmp");
    BOOST_TEST(fs::file_size(new_file) == 0u);
    return Status::okStatus();
  });
  BOOST_TEST(st.ok());
  BOOST_TEST(ran);
  BOOST_TEST(contentOf(file) == "content");
}

BOOST_AUTO_TEST_CASE(a_failed_prepare_keeps_the_old_content_and_leaves_no_temporary_file) {
  ScratchDir dir;
  const fs::path file = dir / "state";
  writePlain(file, "old");
  const Status st = replaceFileAtomically(
      file, "new", [](const fs::path&) { return Status::permissionDenied("refused by the test"); });
  BOOST_TEST(!st.ok());
  BOOST_TEST(st.message() == "refused by the test");
  BOOST_TEST(contentOf(file) == "old");
  BOOST_TEST(!fs::exists(dir / "state.tmp"));
}

BOOST_AUTO_TEST_CASE(a_failed_rename_keeps_the_old_entry_and_leaves_no_temporary_file) {
  ScratchDir dir;
  // A non-empty directory cannot be replaced by a file: the rename step fails.
  const fs::path target = dir / "occupied";
  fs::create_directories(target);
  writePlain(target / "inside", "old");
  const Status st = replaceFileAtomically(target, "new", nullptr);
  BOOST_TEST(!st.ok());
  BOOST_TEST(st.message().find("cannot rename") != std::string::npos);
  BOOST_TEST(fs::is_directory(target));
  BOOST_TEST(contentOf(target / "inside") == "old");
  BOOST_TEST(!fs::exists(dir / "occupied.tmp"));
}

BOOST_AUTO_TEST_CASE(a_missing_directory_is_an_error_naming_the_file) {
  ScratchDir dir;
  const Status st = replaceFileAtomically(dir / "missing" / "state", "new", nullptr);
  BOOST_TEST(!st.ok());
  BOOST_TEST(st.message().find("state.tmp") != std::string::npos);
}

#ifndef _WIN32
BOOST_AUTO_TEST_CASE(with_permissions_sets_the_mode_before_the_content_is_written) {
  ScratchDir dir;
  const fs::path file = dir / "secret";
  fs::perms seen = fs::perms::unknown;
  const auto restrict = vigil::withPermissions(fs::perms::owner_read | fs::perms::owner_write);
  const Status st = replaceFileAtomically(file, "content", [&](const fs::path& new_file) {
    Status restricted = restrict(new_file);
    seen = fs::status(new_file).permissions();
    return restricted;
  });
  BOOST_TEST(st.ok());
  BOOST_TEST((seen == (fs::perms::owner_read | fs::perms::owner_write)));
  BOOST_TEST((fs::status(file).permissions() == (fs::perms::owner_read | fs::perms::owner_write)));
}
#endif
