#include "agent/platform/macos/sysctl_values.h"

#include <sys/sysctl.h>
#include <sys/types.h>

#include <cerrno>
#include <vector>

#include "agent/platform/posix/posix_status.h"

namespace vigil::agent::macos {
namespace {

Status sysctlError(const char* name, int err) {
  return posix::errnoStatus(std::string("sysctl ") + name, err);  // ENOENT: kNotFound
}

}  // namespace

Result<std::string> sysctlString(const char* name) {
  // The value may grow between the size query and the read (it does not for the names used
  // here, but ENOMEM is retried rather than trusted).
  for (int attempt = 0; attempt < 3; ++attempt) {
    size_t size = 0;
    if (::sysctlbyname(name, nullptr, &size, nullptr, 0) != 0) return sysctlError(name, errno);
    std::vector<char> buffer(size + 1, '\0');
    size = buffer.size();
    if (::sysctlbyname(name, buffer.data(), &size, nullptr, 0) != 0) {
      if (errno == ENOMEM) continue;
      return sysctlError(name, errno);
    }
    std::string value(buffer.data(), size);
    while (!value.empty() && value.back() == '\0') value.pop_back();
    return value;
  }
  return Status::ioError(std::string("sysctl ") + name + ": value keeps changing size");
}

Status sysctlFixed(const char* name, void* out, size_t size) {
  size_t got = size;
  if (::sysctlbyname(name, out, &got, nullptr, 0) != 0) return sysctlError(name, errno);
  if (got != size) {
    return Status::internal(std::string("sysctl ") + name + ": " + std::to_string(got) +
                            " bytes, expected " + std::to_string(size));
  }
  return Status::okStatus();
}

}  // namespace vigil::agent::macos
