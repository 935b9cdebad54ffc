// durable_file_ops.h through fsync(2) and rename(2) (Linux and macOS).
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>

#include "common/durable_file_ops.h"

namespace vigil::durable_file_ops {
namespace {

Status errnoStatus(const std::string& what, int error) {
  return Status::ioError(what + ": " + std::strerror(error));
}

// Owns one open descriptor.
class OpenFd {
 public:
  explicit OpenFd(int fd) : fd_(fd) {}
  OpenFd(const OpenFd&) = delete;
  OpenFd& operator=(const OpenFd&) = delete;
  ~OpenFd() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const { return fd_; }

 private:
  int fd_;
};

// Opens `path` read-only and fsyncs it: enough for a file's data and for a directory's entries.
Status openAndSync(const std::filesystem::path& path, int extra_flags) {
  const OpenFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | extra_flags));
  if (fd.get() < 0) return errnoStatus("cannot open " + path.string() + " to flush it", errno);
  if (::fsync(fd.get()) != 0) return errnoStatus("cannot flush " + path.string(), errno);
  return Status::okStatus();
}

}  // namespace

Status flushToStorage(const std::filesystem::path& path) { return openAndSync(path, 0); }

Status renameDurably(const std::filesystem::path& from, const std::filesystem::path& to) {
  if (std::rename(from.c_str(), to.c_str()) != 0) {
    return errnoStatus("cannot rename " + from.string() + " to " + to.string(), errno);
  }
  std::filesystem::path dir = to.parent_path();
  if (dir.empty()) dir = ".";
  return openAndSync(dir, O_DIRECTORY);
}

}  // namespace vigil::durable_file_ops
