#include "collector/app/file_util.h"

#include <fstream>
#include <system_error>

namespace vigil::collector {

namespace fs = std::filesystem;

Status writeFileAtomically(const fs::path& path, const std::string& content, fs::perms perms) {
  fs::path tmp = path;
  tmp += ".tmp";
  std::error_code ec;
  fs::remove(tmp, ec);
  {
    std::ofstream create(tmp, std::ios::binary | std::ios::trunc);
    if (!create) return Status::ioError("cannot create " + tmp.string());
  }
  fs::permissions(tmp, perms, fs::perm_options::replace, ec);
  if (ec) return Status::ioError("cannot set the mode of " + tmp.string() + ": " + ec.message());
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << content;
    out.flush();
    if (!out) return Status::ioError("cannot write " + tmp.string());
  }
  fs::rename(tmp, path, ec);
  if (ec) {
    fs::remove(tmp, ec);
    return Status::ioError("cannot rename " + tmp.string() + " to " + path.string());
  }
  return Status::okStatus();
}

}  // namespace vigil::collector
