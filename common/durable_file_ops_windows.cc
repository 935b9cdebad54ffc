// durable_file_ops.h through FlushFileBuffers and a write-through MoveFileExW.
#include <windows.h>

#include <string>

#include "common/durable_file_ops.h"

namespace vigil::durable_file_ops {
namespace {

Status lastErrorStatus(const std::string& what) {
  return Status::ioError(what + ": Windows error " + std::to_string(GetLastError()));
}

// Owns one open file handle.
class OpenHandle {
 public:
  explicit OpenHandle(HANDLE handle) : handle_(handle) {}
  OpenHandle(const OpenHandle&) = delete;
  OpenHandle& operator=(const OpenHandle&) = delete;
  ~OpenHandle() {
    if (valid()) CloseHandle(handle_);
  }
  bool valid() const { return handle_ != INVALID_HANDLE_VALUE; }
  HANDLE get() const { return handle_; }

 private:
  HANDLE handle_;
};

}  // namespace

Status flushToStorage(const std::filesystem::path& path) {
  // FlushFileBuffers needs a handle open for writing.
  const OpenHandle file(CreateFileW(path.c_str(), GENERIC_WRITE,
                                    FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, nullptr,
                                    OPEN_EXISTING, FILE_ATTRIBUTE_NORMAL, nullptr));
  if (!file.valid()) return lastErrorStatus("cannot open " + path.string() + " to flush it");
  if (!FlushFileBuffers(file.get())) return lastErrorStatus("cannot flush " + path.string());
  return Status::okStatus();
}

Status renameDurably(const std::filesystem::path& from, const std::filesystem::path& to) {
  // MOVEFILE_WRITE_THROUGH: returns only once the move is on disk.
  if (!MoveFileExW(from.c_str(), to.c_str(), MOVEFILE_REPLACE_EXISTING | MOVEFILE_WRITE_THROUGH)) {
    return lastErrorStatus("cannot rename " + from.string() + " to " + to.string());
  }
  return Status::okStatus();
}

}  // namespace vigil::durable_file_ops
