// SystemInfo for Linux: /proc, /etc/os-release, uname(2), gethostname(2), sysinfo(2).
#include <limits.h>
#include <sys/sysinfo.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "agent/platform/linux/os_release.h"
#include "agent/platform/system_info.h"

namespace vigil::agent {
namespace {

// The one place OS errors become Status on Linux.
Status errnoStatus(const std::string& what, int err) {
  return Status::ioError(what + ": " + std::strerror(err));
}

std::optional<std::string> readFile(const char* path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream out;
  out << in.rdbuf();
  if (in.bad()) return std::nullopt;
  return out.str();
}

std::string trimLine(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  return s;
}

class LinuxSystemInfo final : public SystemInfo {
 public:
  Result<SystemFacts> facts() override {
    SystemFacts f;
    f.os_name = "linux";
    char host[HOST_NAME_MAX + 1] = {};
    if (::gethostname(host, sizeof host - 1) != 0) return errnoStatus("gethostname", errno);
    f.hostname = host;

    struct utsname uts {};
    if (::uname(&uts) != 0) return errnoStatus("uname", errno);
    f.arch = uts.machine;
    if (f.hostname.empty()) f.hostname = uts.nodename;

    for (const char* path : {"/etc/os-release", "/usr/lib/os-release"}) {
      if (auto text = readFile(path)) {
        if (auto pretty = linux_platform::osReleaseValue(*text, "PRETTY_NAME")) {
          f.os_version = *pretty;
          break;
        }
      }
    }
    if (f.os_version.empty()) f.os_version = std::string("Linux ") + uts.release;
    return f;
  }

  Result<BootIdentity> bootIdentity() override {
    BootIdentity b;
    auto id = readFile("/proc/sys/kernel/random/boot_id");
    if (!id) return Status::ioError("cannot read /proc/sys/kernel/random/boot_id");
    b.boot_id = trimLine(*id);
    if (b.boot_id.empty()) return Status::ioError("/proc/sys/kernel/random/boot_id is empty");

    std::optional<uint64_t> uptime;
    if (auto text = readFile("/proc/uptime")) uptime = linux_platform::parseProcUptime(*text);
    if (!uptime) {
      struct sysinfo si {};
      if (::sysinfo(&si) != 0) return errnoStatus("sysinfo", errno);
      uptime = static_cast<uint64_t>(si.uptime < 0 ? 0 : si.uptime);
    }
    b.uptime_s = *uptime;
    return b;
  }
};

}  // namespace

std::unique_ptr<SystemInfo> makePlatformSystemInfo() { return std::make_unique<LinuxSystemInfo>(); }

}  // namespace vigil::agent
