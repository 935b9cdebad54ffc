// StateProtection through POSIX file modes (Linux and macOS).
#include <grp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <memory>
#include <string>
#include <system_error>

#include "agent/platform/posix/posix_platform.h"
#include "agent/platform/posix/posix_status.h"

namespace vigil::agent::posix {
namespace {

constexpr mode_t kPrivateDirectoryMode = 0700;
constexpr mode_t kPrivateFileMode = 0600;
constexpr mode_t kPermissionBits = 07777;

class PosixStateProtection final : public StateProtection {
 public:
  Status securePrivateDirectory(const std::string& dir) override {
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec) {
      return Status::ioError("cannot create state directory " + dir + ": " + ec.message());
    }
    struct stat st {};
    if (::stat(dir.c_str(), &st) != 0) return errnoStatus("cannot stat " + dir, errno);
    if (!S_ISDIR(st.st_mode)) {
      return Status::failedPrecondition("state directory " + dir + " is not a directory");
    }
    if ((st.st_mode & S_ISVTX) != 0) {
      return Status::failedPrecondition(
          "state directory " + dir +
          " has the sticky bit set (a shared directory such as /tmp); the agent's state needs a "
          "private directory");
    }
    if (st.st_uid != ::geteuid()) {
      return Status::failedPrecondition("state directory " + dir + " belongs to user " +
                                        std::to_string(st.st_uid) + ", not to the agent's user " +
                                        std::to_string(::geteuid()));
    }
    if ((st.st_mode & kPermissionBits) != kPrivateDirectoryMode &&
        ::chmod(dir.c_str(), kPrivateDirectoryMode) != 0) {
      return errnoStatus("cannot restrict state directory " + dir + " to mode 0700", errno);
    }
    return Status::okStatus();
  }

  Status securePrivateFile(const std::string& path) override {
    if (::chmod(path.c_str(), kPrivateFileMode) != 0) {
      return errnoStatus("cannot restrict " + path + " to mode 0600", errno);
    }
    return Status::okStatus();
  }

  Status actAsOwnerOf(const std::string& dir) override {
    if (::geteuid() != 0) return Status::okStatus();
    struct stat st {};
    if (::stat(dir.c_str(), &st) != 0) {
      if (errno == ENOENT) return Status::okStatus();
      return errnoStatus("cannot stat " + dir, errno);
    }
    if (st.st_uid == 0) return Status::okStatus();
    // Groups first, then the group, then the user: after setuid() the others are not allowed.
    if (::setgroups(0, nullptr) != 0 || ::setgid(st.st_gid) != 0 || ::setuid(st.st_uid) != 0) {
      return errnoStatus(
          "cannot act as user " + std::to_string(st.st_uid) + ", the owner of " + dir, errno);
    }
    if (::setuid(0) == 0) {  // privileges must be gone for good
      return Status::internal("still able to regain root after leaving it for the owner of " + dir);
    }
    return Status::okStatus();
  }
};

}  // namespace

std::unique_ptr<StateProtection> makeStateProtection() {
  return std::make_unique<PosixStateProtection>();
}

}  // namespace vigil::agent::posix
