// SystemFactsSource and BootIdentitySource for Linux.
#include <limits.h>
#include <sys/sysinfo.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>

#include "agent/platform/linux/linux_platform.h"
#include "agent/platform/linux/network_state.h"
#include "agent/platform/linux/os_release.h"
#include "agent/platform/posix/posix_status.h"

namespace vigil::agent::linux_platform {
namespace {

using posix::errnoStatus;

std::string trimLine(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  return s;
}

class LinuxSystemFactsSource final : public SystemFactsSource {
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
      if (auto text = readWholeFile(path)) {
        if (auto pretty = osReleaseValue(*text, "PRETTY_NAME")) {
          f.os_version = *pretty;
          break;
        }
      }
    }
    if (f.os_version.empty()) f.os_version = std::string("Linux ") + uts.release;
    return f;
  }
};

class LinuxBootIdentitySource final : public BootIdentitySource {
 public:
  Result<BootIdentity> bootIdentity() override {
    BootIdentity b;
    auto id = readWholeFile("/proc/sys/kernel/random/boot_id");
    if (!id) return Status::ioError("cannot read /proc/sys/kernel/random/boot_id");
    b.boot_id = trimLine(*id);
    if (b.boot_id.empty()) return Status::ioError("/proc/sys/kernel/random/boot_id is empty");

    std::optional<uint64_t> uptime;
    if (auto text = readWholeFile("/proc/uptime")) uptime = parseProcUptime(*text);
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

std::unique_ptr<SystemFactsSource> makeSystemFactsSource() {
  return std::make_unique<LinuxSystemFactsSource>();
}

std::unique_ptr<BootIdentitySource> makeBootIdentitySource() {
  return std::make_unique<LinuxBootIdentitySource>();
}

}  // namespace vigil::agent::linux_platform
