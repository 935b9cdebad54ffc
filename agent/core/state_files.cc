#include "agent/core/state_files.h"

#include <fstream>
#include <system_error>

#include "common/atomic_file.h"

namespace vigil::agent {

namespace fs = std::filesystem;

namespace {

Status fsError(const std::string& what, const fs::path& path, const std::error_code& ec) {
  return Status::ioError(what + " " + path.string() + ": " + ec.message());
}

}  // namespace

Status prepareStateDir(const fs::path& dir, StateProtection& protection) {
  return protection.securePrivateDirectory(dir.string());
}

Status writePrivateFileAtomically(const fs::path& path, std::string_view content,
                                  StateProtection& protection) {
  return replaceFileAtomically(path, content, [&protection](const fs::path& new_file) {
    return protection.securePrivateFile(new_file.string());
  });
}

Result<std::optional<std::string>> readSmallFile(const fs::path& path, size_t max_bytes) {
  std::error_code ec;
  const bool exists = fs::exists(path, ec);
  if (ec) return fsError("cannot inspect", path, ec);
  if (!exists) return std::optional<std::string>();
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::ioError("cannot open " + path.string());
  std::string content;
  char buf[4096];
  while (in) {
    in.read(buf, sizeof buf);
    content.append(buf, static_cast<size_t>(in.gcount()));
    if (content.size() > max_bytes) {
      return Status::failedPrecondition(path.string() + " is larger than " +
                                        std::to_string(max_bytes) + " bytes");
    }
  }
  if (in.bad()) return Status::ioError("cannot read " + path.string());
  return std::optional<std::string>(std::move(content));
}

}  // namespace vigil::agent
