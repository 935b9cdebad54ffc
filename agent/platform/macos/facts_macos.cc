// SystemFactsSource for macOS: gethostname(3) and sysctl(3).

#include <sys/param.h>
#include <unistd.h>

#include <cerrno>
#include <memory>
#include <optional>
#include <string>

#include "agent/platform/macos/darwin_facts.h"
#include "agent/platform/macos/macos_platform.h"
#include "agent/platform/macos/sysctl_values.h"
#include "agent/platform/posix/posix_status.h"

namespace vigil::agent::macos {
namespace {

std::optional<std::string> optionalSysctlString(const char* name) {
  auto value = sysctlString(name);
  if (!value.ok() || value->empty()) return std::nullopt;
  return std::move(value).value();
}

// 1 when this process is an x86_64 binary translated by Rosetta. The name does not exist on
// Intel Macs, which then run natively.
bool runsUnderRosetta() {
  int translated = 0;
  return sysctlFixed("sysctl.proc_translated", &translated, sizeof translated).ok() &&
         translated == 1;
}

class MacosSystemFacts final : public SystemFactsSource {
 public:
  Result<SystemFacts> facts() override {
    SystemFacts f;
    f.os_name = "macos";

    char host[MAXHOSTNAMELEN + 1] = {};
    if (::gethostname(host, MAXHOSTNAMELEN) != 0) return posix::errnoStatus("gethostname", errno);
    f.hostname = reportedHostname(host);
    if (f.hostname.empty()) return Status::unavailable("gethostname: the host name is empty");

    // kern.osproductversion exists since macOS 10.13.4; before it only the Darwin release.
    f.os_version = osVersionText(optionalSysctlString("kern.osproductversion"),
                                 optionalSysctlString("kern.osrelease"));

    auto machine = sysctlString("hw.machine");
    if (!machine.ok()) return machine.error();
    f.arch = reportedArch(*machine, runsUnderRosetta());
    return f;
  }
};

}  // namespace

std::unique_ptr<SystemFactsSource> makeSystemFactsSource() {
  return std::make_unique<MacosSystemFacts>();
}

}  // namespace vigil::agent::macos
