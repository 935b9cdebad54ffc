// BootIdentitySource for Windows: the boot time from the system clock and GetTickCount64.
#include "agent/platform/windows/boot_windows.h"

#include <windows.h>

#include <memory>

#include "agent/platform/windows/windows_platform.h"

namespace vigil::agent::windows {
namespace {

// 100 ns intervals between 1601-01-01 (FILETIME's epoch) and 1970-01-01.
constexpr int64_t kFileTimeUnixEpoch = 116444736000000000LL;

int64_t unixNowMs() {
  FILETIME ft;
  GetSystemTimePreciseAsFileTime(&ft);
  ULARGE_INTEGER t;
  t.LowPart = ft.dwLowDateTime;
  t.HighPart = ft.dwHighDateTime;
  return (static_cast<int64_t>(t.QuadPart) - kFileTimeUnixEpoch) / 10000;
}

class WindowsBootIdentitySource final : public BootIdentitySource {
 public:
  Result<BootIdentity> bootIdentity() override {
    // GetTickCount64 counts from boot and keeps counting through sleep and hibernation, so
    // now - uptime is the boot time whatever happened since.
    const uint64_t uptime_ms = GetTickCount64();
    const int64_t now_ms = unixNowMs();
    BootIdentity b;
    b.uptime_s = uptime_ms / 1000;
    b.boot_id = bootIdForBootTime(now_ms - static_cast<int64_t>(uptime_ms));
    return b;
  }
};

}  // namespace

std::string bootIdForBootTime(int64_t boot_unix_ms) {
  // Round half up to a multiple of 10 s; floor division keeps pre-1970 clocks consistent.
  const int64_t shifted = boot_unix_ms + 5000;
  int64_t tens = shifted / 10000;
  if (shifted % 10000 < 0) --tens;
  return "boot-" + std::to_string(tens * 10);
}

std::unique_ptr<BootIdentitySource> makeBootIdentitySource() {
  return std::make_unique<WindowsBootIdentitySource>();
}

}  // namespace vigil::agent::windows
