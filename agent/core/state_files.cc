#include "agent/core/state_files.h"

#include <fstream>
#include <system_error>

namespace vigil::agent {

namespace fs = std::filesystem;

namespace {

Status fsError(const std::string& what, const fs::path& path, const std::error_code& ec) {
  return Status::ioError(what + " " + path.string() + ": " + ec.message());
}

}  // namespace

Status prepareStateDir(const fs::path& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return fsError("cannot create state directory", dir, ec);
  const fs::file_status st = fs::status(dir, ec);
  if (ec) return fsError("cannot inspect state directory", dir, ec);
  if (!fs::is_directory(st)) {
    return Status::failedPrecondition("state directory " + dir.string() + " is not a directory");
  }
  if ((st.permissions() & fs::perms::sticky_bit) != fs::perms::none) {
    return Status::failedPrecondition("state directory " + dir.string() +
                                      " is a shared directory (sticky bit set); give the agent "
                                      "a directory of its own");
  }
  if ((st.permissions() & fs::perms::all) != fs::perms::owner_all) {
    fs::permissions(dir, fs::perms::owner_all, fs::perm_options::replace, ec);
    if (ec) return fsError("cannot make state directory private (0700)", dir, ec);
  }
  return Status::okStatus();
}

Status writePrivateFileAtomically(const fs::path& path, std::string_view content) {
  fs::path tmp = path;
  tmp += ".tmp";
  std::error_code ec;
  {
    // Created empty, made private, and only then filled: the content is never readable by
    // others, whatever the umask.
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) return Status::ioError("cannot create " + tmp.string());
    fs::permissions(tmp, fs::perms::owner_read | fs::perms::owner_write, fs::perm_options::replace,
                    ec);
    if (ec) {
      fs::remove(tmp, ec);
      return fsError("cannot set mode 0600 on", tmp, ec);
    }
    out.write(content.data(), static_cast<std::streamsize>(content.size()));
    out.flush();
    if (!out) {
      out.close();
      fs::remove(tmp, ec);
      return Status::ioError("cannot write " + tmp.string());
    }
  }
  fs::rename(tmp, path, ec);
  if (ec) {
    Status st = fsError("cannot replace", path, ec);
    fs::remove(tmp, ec);
    return st;
  }
  return Status::okStatus();
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
