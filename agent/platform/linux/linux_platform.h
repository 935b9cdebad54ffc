#pragma once

// The Linux implementations of the platform interfaces, wired together by makePlatform() in
// platform_linux.cc. The POSIX pieces Linux shares with macOS come from
// agent/platform/posix/posix_platform.h.

#include <chrono>
#include <memory>

#include "agent/core/platform.h"

namespace vigil::agent::linux_platform {

// gethostname(2), uname(2) and os-release(5) (/etc/os-release, then /usr/lib/os-release).
std::unique_ptr<SystemFactsSource> makeSystemFactsSource();

// /proc/sys/kernel/random/boot_id and /proc/uptime (sysinfo(2) if /proc/uptime is unreadable).
std::unique_ptr<BootIdentitySource> makeBootIdentitySource();

// state(): /proc/net/route, /proc/net/ipv6_route and getifaddrs(3). start(): an rtnetlink socket
// watching links, addresses and routes; a burst of changes is posted once, `settle` after its
// first message. A watch that fails after start() ends silently (the agent then relies on its
// regular beats).
std::unique_ptr<NetworkMonitor> makeNetworkMonitor(Duration settle = std::chrono::seconds(2));

// systemd-logind over the system D-Bus (sd-bus): PrepareForSleep and PrepareForShutdown, with a
// "delay" inhibitor lock held until releaseHold() (logind's InhibitDelayMaxSec bounds the delay,
// 5 s by default). start() fails where there is no system bus or no logind (containers); the
// agent then does without early notices. If logind refuses the lock, notices still come, just
// without the delay. A lost bus connection ends the watch silently.
std::unique_ptr<PowerMonitor> makePowerMonitor();

// sd_notify(3): READY=1 with STATUS=, WATCHDOG=1, STOPPING=1; aliveInterval() is half the
// watchdog period systemd set (WatchdogSec=). Outside systemd (no NOTIFY_SOCKET) it reports
// nothing.
std::unique_ptr<ServiceControl> makeSystemdServiceControl();

}  // namespace vigil::agent::linux_platform
