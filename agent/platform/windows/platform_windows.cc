// makePlatform() for Windows.
#include "agent/platform/platform.h"
#include "agent/platform/windows/windows_platform.h"

namespace vigil::agent {

Platform makePlatform() {
  Platform p;
  p.facts = windows::makeSystemFactsSource();
  p.boot = windows::makeBootIdentitySource();
  p.network = windows::makeNetworkMonitor();
  windows::ServiceHostAndPowerMonitor service = windows::makeServiceHostAndPowerMonitor();
  p.power = std::move(service.power);
  p.service = std::move(service.service);
  p.state = windows::makeStateProtection();
  p.udp = windows::makeUdpSocketFactory();
  return p;
}

}  // namespace vigil::agent
