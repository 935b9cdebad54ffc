// NetworkMonitor for Windows: IP Helper's address and route tables, and its change
// notifications (which call back on a system thread pool thread).
// clang-format off
#include <winsock2.h>
#include <ws2tcpip.h>
#include <iphlpapi.h>
#include <netioapi.h>
// clang-format on

#include <algorithm>
#include <atomic>
#include <memory>
#include <mutex>

#include "agent/platform/windows/adapter_addresses.h"
#include "agent/platform/windows/win32_handle.h"
#include "agent/platform/windows/win32_status.h"
#include "agent/platform/windows/windows_platform.h"

namespace vigil::agent::windows {
namespace {

// A registration made by Notify*Change; cancelling waits for a callback in progress to end.
struct ChangeNotificationTraits {
  using Value = HANDLE;
  static HANDLE empty() { return nullptr; }
  static bool isEmpty(HANDLE h) { return h == nullptr; }
  static void close(HANDLE h) { CancelMibChangeNotify2(h); }
};
using UniqueChangeNotification = UniqueResource<ChangeNotificationTraits>;

// A table IP Helper allocated (GetIpForwardTable2 and friends).
struct MibTableDeleter {
  void operator()(void* table) const { FreeMibTable(table); }
};

class WindowsNetworkMonitor final : public NetworkMonitor {
 public:
  ~WindowsNetworkMonitor() override { stop(); }

  Result<NetworkState> state() override {
    auto adapters = upAdapters();
    if (!adapters.ok()) return adapters.error();
    NetworkState s;
    for (const AdapterAddress& a : adapters->addresses) {
      if (!a.link_local) s.addresses.push_back(a.address);
    }
    auto route = hasDefaultRoute(adapters->interface_luids);
    if (!route.ok()) return route.error();
    s.default_route = *route;
    return s;
  }

  Status start(SystemEventSink& sink) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (started_) return Status::failedPrecondition("network monitor already started");
    started_ = true;
    sink_.store(&sink);
    HANDLE handle = nullptr;
    DWORD rc = NotifyIpInterfaceChange(AF_UNSPEC, &onInterfaceChange, this, FALSE, &handle);
    if (rc != NO_ERROR) return failStart("NotifyIpInterfaceChange", rc);
    interface_change_.reset(handle);
    handle = nullptr;
    rc = NotifyUnicastIpAddressChange(AF_UNSPEC, &onAddressChange, this, FALSE, &handle);
    if (rc != NO_ERROR) return failStart("NotifyUnicastIpAddressChange", rc);
    address_change_.reset(handle);
    handle = nullptr;
    rc = NotifyRouteChange2(AF_UNSPEC, &onRouteChange, this, FALSE, &handle);
    if (rc != NO_ERROR) return failStart("NotifyRouteChange2", rc);
    route_change_.reset(handle);
    return Status::okStatus();
  }

  void stop() override {
    std::lock_guard<std::mutex> lock(mu_);
    cancelAll();
  }

 private:
  static Result<bool> hasDefaultRoute(const std::vector<uint64_t>& up_interfaces) {
    MIB_IPFORWARD_TABLE2* raw = nullptr;
    const DWORD rc = GetIpForwardTable2(AF_UNSPEC, &raw);
    if (rc == ERROR_NOT_FOUND) return false;
    if (rc != NO_ERROR) return win32Status("GetIpForwardTable2", rc);
    std::unique_ptr<void, MibTableDeleter> owner(raw);
    for (ULONG i = 0; i < raw->NumEntries; ++i) {
      const MIB_IPFORWARD_ROW2& row = raw->Table[i];
      const ADDRESS_FAMILY family = row.DestinationPrefix.Prefix.si_family;
      if (row.DestinationPrefix.PrefixLength != 0) continue;
      if (family != AF_INET && family != AF_INET6) continue;
      if (row.Loopback) continue;
      // A default route through an adapter that is down carries nothing.
      if (std::find(up_interfaces.begin(), up_interfaces.end(), row.InterfaceLuid.Value) ==
          up_interfaces.end()) {
        continue;
      }
      return true;
    }
    return false;
  }

  // The callbacks run on IP Helper's threads; `context` is the monitor, alive until stop()
  // has cancelled every registration (cancelling waits for running callbacks).
  static void NETIOAPI_API_ onInterfaceChange(void* context, MIB_IPINTERFACE_ROW*,
                                              MIB_NOTIFICATION_TYPE type) {
    static_cast<WindowsNetworkMonitor*>(context)->post(type);
  }
  static void NETIOAPI_API_ onAddressChange(void* context, MIB_UNICASTIPADDRESS_ROW*,
                                            MIB_NOTIFICATION_TYPE type) {
    static_cast<WindowsNetworkMonitor*>(context)->post(type);
  }
  static void NETIOAPI_API_ onRouteChange(void* context, MIB_IPFORWARD_ROW2*,
                                          MIB_NOTIFICATION_TYPE type) {
    static_cast<WindowsNetworkMonitor*>(context)->post(type);
  }

  void post(MIB_NOTIFICATION_TYPE type) {
    if (type == MibInitialNotification) return;  // not asked for, but harmless to drop
    SystemEventSink* sink = sink_.load();
    if (sink != nullptr) sink->onSystemEvent(SystemEvent::kNetworkChanged);
  }

  Status failStart(const char* what, DWORD rc) {
    cancelAll();
    return win32Status(what, rc);
  }

  // REQUIRES: mu_ held.
  void cancelAll() {
    route_change_.reset();
    address_change_.reset();
    interface_change_.reset();
    sink_.store(nullptr);
    started_ = false;
  }

  std::mutex mu_;  // serializes start() and stop()
  bool started_ = false;
  std::atomic<SystemEventSink*> sink_{nullptr};
  UniqueChangeNotification interface_change_;
  UniqueChangeNotification address_change_;
  UniqueChangeNotification route_change_;
};

}  // namespace

std::unique_ptr<NetworkMonitor> makeNetworkMonitor() {
  return std::make_unique<WindowsNetworkMonitor>();
}

}  // namespace vigil::agent::windows
