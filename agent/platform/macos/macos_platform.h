#pragma once

// The macOS implementations of the platform interfaces, wired together by makePlatform() in
// platform_macos.cc. The POSIX pieces macOS shares with Linux come from
// agent/platform/posix/posix_platform.h.

#include <memory>

#include "agent/core/platform.h"

namespace vigil::agent::macos {

// gethostname(3) and sysctl(3): kern.osproductversion, kern.osrelease, hw.machine.
std::unique_ptr<SystemFactsSource> makeSystemFactsSource();

// sysctl(3) kern.boottime.
std::unique_ptr<BootIdentitySource> makeBootIdentitySource();

// SystemConfiguration's dynamic store (default route, change events) and getifaddrs(3).
std::unique_ptr<NetworkMonitor> makeNetworkMonitor();

// IOKit's system power notifications (IORegisterForSystemPower): sleep and wake. Shutdown is
// not among them: launchd sends SIGTERM, which the service host turns into kServiceStop.
std::unique_ptr<PowerMonitor> makePowerMonitor();

}  // namespace vigil::agent::macos
