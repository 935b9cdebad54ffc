// makePlatform() for Linux.
#include "agent/platform/linux/linux_platform.h"
#include "agent/platform/linux/monotonic_condition.h"
#include "agent/platform/platform.h"
#include "agent/platform/posix/posix_platform.h"

namespace vigil::agent {

Platform makePlatform() {
  Platform platform;
  platform.facts = linux_platform::makeSystemFactsSource();
  platform.boot = linux_platform::makeBootIdentitySource();
  platform.network = linux_platform::makeNetworkMonitor();
  platform.power = linux_platform::makePowerMonitor();
  platform.service = posix::makeSignalServiceHost(linux_platform::makeSystemdServiceControl());
  platform.state = posix::makeStateProtection();
  platform.udp = posix::makeUdpSocketFactory();
  return platform;
}

DefaultPaths defaultPaths() { return {"/etc/vigil/agent.conf", "/var/lib/vigil/agent"}; }

std::unique_ptr<Waiter> makeWaiter() {
  return std::make_unique<BasicWaiter<linux_platform::MonotonicCondition>>();
}

}  // namespace vigil::agent
