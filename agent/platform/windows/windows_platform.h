#pragma once

// The Windows implementation of each platform concern (agent/core/platform.h). makePlatform()
// (platform_windows.cc) assembles them; tests use them one by one.

#include <memory>

#include "agent/core/platform.h"

namespace vigil::agent::windows {

// Hostname (GetComputerNameExW, DNS host name), "Windows <major>.<minor>.<build>" from
// RtlGetVersion, and the machine's native architecture.
std::unique_ptr<SystemFactsSource> makeSystemFactsSource();

// Boot time from the system clock minus GetTickCount64; boot_id "boot-<unix seconds>".
std::unique_ptr<BootIdentitySource> makeBootIdentitySource();

// state() from GetAdaptersAddresses and GetIpForwardTable2; change events from
// NotifyIpInterfaceChange, NotifyUnicastIpAddressChange and NotifyRouteChange2.
std::unique_ptr<NetworkMonitor> makeNetworkMonitor();

// A protected DACL granting SYSTEM and BUILTIN\Administrators full control, nobody else
// anything.
std::unique_ptr<StateProtection> makeStateProtection();

// Winsock UDP sockets; broadcastAddresses() from GetAdaptersAddresses.
std::unique_ptr<UdpSocketFactory> makeUdpSocketFactory();

// On Windows the service control handler is also where power events arrive, so the service
// host and the power monitor come as a pair sharing that handler.
struct ServiceHostAndPowerMonitor {
  // Runs the agent as the "VigilAgent" service under the SCM, or in the console when the
  // process was not started by the SCM (see service_host_windows.cc).
  std::unique_ptr<ServiceHost> service;
  // Posts the suspend, resume and shutdown controls the service receives. Only a process
  // running as a service receives power events; in a console it posts kSystemShutdown only.
  std::unique_ptr<PowerMonitor> power;
};
ServiceHostAndPowerMonitor makeServiceHostAndPowerMonitor();

}  // namespace vigil::agent::windows
