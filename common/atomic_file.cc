#include "common/atomic_file.h"

#include <fstream>
#include <system_error>
#include <utility>

#include "common/durable_file_ops.h"

namespace vigil {

namespace fs = std::filesystem;

namespace {

// Removes the temporary file when the replacement did not complete.
class TemporaryFile {
 public:
  explicit TemporaryFile(fs::path path) : path_(std::move(path)) {}
  TemporaryFile(const TemporaryFile&) = delete;
  TemporaryFile& operator=(const TemporaryFile&) = delete;
  ~TemporaryFile() {
    if (!renamed_) {
      std::error_code ignored;
      fs::remove(path_, ignored);
    }
  }

  const fs::path& path() const { return path_; }
  void markRenamed() { renamed_ = true; }

 private:
  fs::path path_;
  bool renamed_ = false;
};

}  // namespace

PrepareNewFile withPermissions(fs::perms perms) {
  return [perms](const fs::path& new_file) {
    std::error_code ec;
    fs::permissions(new_file, perms, fs::perm_options::replace, ec);
    if (ec)
      return Status::ioError("cannot set the mode of " + new_file.string() + ": " + ec.message());
    return Status::okStatus();
  };
}

Status replaceFileAtomically(const fs::path& path, std::string_view content,
                             const PrepareNewFile& prepare) {
  fs::path tmp_path = path;
  tmp_path += ".tmp";
  TemporaryFile tmp(std::move(tmp_path));
  {
    // Empty first: a file left by an earlier crash may have a wider mode than `prepare` sets.
    std::ofstream create(tmp.path(), std::ios::binary | std::ios::trunc);
    if (!create) return Status::ioError("cannot create " + tmp.path().string());
  }
  if (prepare) {
    if (Status st = prepare(tmp.path()); !st.ok()) return st;
  }
  {
    std::ofstream out(tmp.path(), std::ios::binary | std::ios::trunc);
    out.write(content.data(), static_cast<std::streamsize>(content.size()));
    out.close();
    if (!out) return Status::ioError("cannot write " + tmp.path().string());
  }
  if (Status st = durable_file_ops::flushToStorage(tmp.path()); !st.ok()) return st;
  if (Status st = durable_file_ops::renameDurably(tmp.path(), path); !st.ok()) return st;
  tmp.markRenamed();
  return Status::okStatus();
}

Status ensurePrivateDirectory(const fs::path& path) {
  std::error_code ec;
  fs::create_directories(path, ec);
  if (ec) return Status::ioError("cannot create directory " + path.string() + ": " + ec.message());
  if (!fs::is_directory(path, ec)) {
    return Status::ioError(path.string() + " is not a directory");
  }
  fs::permissions(path, fs::perms::owner_all, fs::perm_options::replace, ec);
  if (ec) {
    return Status::ioError("cannot set mode 0700 on " + path.string() + ": " + ec.message());
  }
  return Status::okStatus();
}

}  // namespace vigil
