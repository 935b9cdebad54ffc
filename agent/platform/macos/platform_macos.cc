// makePlatform() for macOS: the agent as a launchd daemon (a LaunchDaemon plist with
// KeepAlive, the agent in the foreground, SIGTERM to stop it and at shutdown).
//
// Link: the CoreFoundation, SystemConfiguration and IOKit frameworks (libdispatch is part of
// libSystem). In agent/platform/CMakeLists.txt:
//   elseif(APPLE)
//     set(VIGIL_AGENT_PLATFORM_SOURCES
//         macos/platform_macos.cc macos/facts_macos.cc macos/boot_macos.cc
//         macos/network_monitor_macos.cc macos/power_monitor_macos.cc macos/darwin_facts.cc
//         macos/interface_addresses.cc macos/sysctl_values.cc macos/macos_status.cc
//         ${VIGIL_AGENT_POSIX_SOURCES})  # the posix/*.cc files the Linux branch also compiles
// and after add_library(vigil_agent_platform ...):
//   if(APPLE)
//     target_link_libraries(vigil_agent_platform PRIVATE "-framework CoreFoundation"
//                           "-framework SystemConfiguration" "-framework IOKit")
//   endif()

#include "agent/platform/macos/macos_platform.h"
#include "agent/platform/platform.h"
#include "agent/platform/posix/posix_platform.h"

namespace vigil::agent {

Platform makePlatform() {
  Platform p;
  p.facts = macos::makeSystemFactsSource();
  p.boot = macos::makeBootIdentitySource();
  p.network = macos::makeNetworkMonitor();
  p.power = macos::makePowerMonitor();
  // launchd starts the agent in the foreground and stops it with SIGTERM; it has no readiness
  // or watchdog protocol, so the control reports nothing.
  p.service = posix::makeSignalServiceHost(posix::makeSilentServiceControl());
  p.state = posix::makeStateProtection();
  p.udp = posix::makeUdpSocketFactory();
  return p;
}

DefaultPaths defaultPaths() {
  return {"/Library/Application Support/Vigil/agent.conf",
          "/Library/Application Support/Vigil/agent"};
}

}  // namespace vigil::agent
