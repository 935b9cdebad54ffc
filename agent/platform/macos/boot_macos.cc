// BootIdentitySource for macOS: kern.boottime.

#include <sys/time.h>

#include <chrono>
#include <memory>

#include "agent/platform/macos/darwin_facts.h"
#include "agent/platform/macos/macos_platform.h"
#include "agent/platform/macos/sysctl_values.h"

namespace vigil::agent::macos {
namespace {

// kern.boottime is the wall-clock time of boot. The kernel moves it when the wall clock is
// stepped, so that now - boottime stays the time since boot, sleep included; boot_id therefore
// changes within one boot only if the clock is stepped across a 10 s boundary.
class MacosBootIdentity final : public BootIdentitySource {
 public:
  Result<BootIdentity> bootIdentity() override {
    struct timeval boot {};
    const Status read = sysctlFixed("kern.boottime", &boot, sizeof boot);
    if (!read.ok()) return read;
    if (boot.tv_sec <= 0) return Status::internal("sysctl kern.boottime: no boot time");

    const auto now = std::chrono::system_clock::now().time_since_epoch();
    const int64_t now_s = std::chrono::duration_cast<std::chrono::seconds>(now).count();
    BootIdentity b;
    b.boot_id = bootIdForBootTime(boot.tv_sec);
    b.uptime_s = uptimeSeconds(boot.tv_sec, now_s);
    return b;
  }
};

}  // namespace

std::unique_ptr<BootIdentitySource> makeBootIdentitySource() {
  return std::make_unique<MacosBootIdentity>();
}

}  // namespace vigil::agent::macos
