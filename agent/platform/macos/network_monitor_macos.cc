// NetworkMonitor for macOS: SystemConfiguration's dynamic store (configd) for the default
// route and change events, getifaddrs(3) for the addresses.

#include <SystemConfiguration/SystemConfiguration.h>
#include <dispatch/dispatch.h>

#include <atomic>
#include <memory>
#include <mutex>

#include "agent/platform/macos/cf_ref.h"
#include "agent/platform/macos/dispatch_ref.h"
#include "agent/platform/macos/interface_addresses.h"
#include "agent/platform/macos/macos_platform.h"
#include "agent/platform/macos/macos_status.h"

namespace vigil::agent::macos {
namespace {

constexpr const char* kQueueLabel = "org.vigil.agent.network";

CFStringRef sessionName() { return CFSTR("vigil-agent"); }

// Whether State:/Network/Global/<entity> names a PrimaryInterface: configd's own verdict that
// a service of that family is primary, i.e. has the default route. A missing key is "no".
Result<bool> hasPrimaryInterface(SCDynamicStoreRef store, CFStringRef entity) {
  const CFRef<CFStringRef> key(
      SCDynamicStoreKeyCreateNetworkGlobalEntity(nullptr, kSCDynamicStoreDomainState, entity));
  if (!key) return systemConfigurationStatus("SCDynamicStoreKeyCreateNetworkGlobalEntity");
  const CFRef<CFPropertyListRef> value(SCDynamicStoreCopyValue(store, key.get()));
  if (!value) {
    if (SCError() == kSCStatusNoKey) return false;
    return systemConfigurationStatus("SCDynamicStoreCopyValue");
  }
  if (CFGetTypeID(value.get()) != CFDictionaryGetTypeID()) return false;
  const auto* dict = static_cast<CFDictionaryRef>(value.get());
  const void* name = CFDictionaryGetValue(dict, kSCDynamicStorePropNetPrimaryInterface);
  return name != nullptr && CFGetTypeID(name) == CFStringGetTypeID() &&
         CFStringGetLength(static_cast<CFStringRef>(name)) > 0;
}

// What the dynamic store's callback reaches through its context `info`. Reference-counted
// through the context's retain/release, because SCDynamicStoreSetDispatchQueue(store, NULL)
// does not wait for a callback already handed to the queue: a late callback finds the sink
// cleared and the relay still alive.
class ChangeRelay {
 public:
  explicit ChangeRelay(SystemEventSink* sink) : sink_(sink) {}

  void post() {
    std::lock_guard<std::mutex> lock(mu_);
    if (sink_ != nullptr) sink_->onSystemEvent(SystemEvent::kNetworkChanged);
  }

  // After this returns no post() is running and none will reach the sink.
  void detach() {
    std::lock_guard<std::mutex> lock(mu_);
    sink_ = nullptr;
  }

  static const void* retain(const void* info) {
    static_cast<const ChangeRelay*>(info)->refs_.fetch_add(1, std::memory_order_relaxed);
    return info;
  }
  static void release(const void* info) {
    const auto* relay = static_cast<const ChangeRelay*>(info);
    if (relay->refs_.fetch_sub(1, std::memory_order_acq_rel) == 1) delete relay;
  }

 private:
  std::mutex mu_;
  SystemEventSink* sink_;
  mutable std::atomic<int> refs_{1};  // the monitor's own reference
};

void onStoreChanged(SCDynamicStoreRef /*store*/, CFArrayRef /*changed_keys*/, void* info) {
  // An empty changed_keys means configd restarted; that is a change too.
  static_cast<ChangeRelay*>(info)->post();
}

// Notification keys: the global IPv4/IPv6 state (primary interface, router) and, by pattern,
// every interface's addresses and link state.
Status watchNetworkKeys(SCDynamicStoreRef store) {
  CFRef<CFStringRef> global4(SCDynamicStoreKeyCreateNetworkGlobalEntity(
      nullptr, kSCDynamicStoreDomainState, kSCEntNetIPv4));
  CFRef<CFStringRef> global6(SCDynamicStoreKeyCreateNetworkGlobalEntity(
      nullptr, kSCDynamicStoreDomainState, kSCEntNetIPv6));
  CFRef<CFStringRef> iface4(SCDynamicStoreKeyCreateNetworkInterfaceEntity(
      nullptr, kSCDynamicStoreDomainState, kSCCompAnyRegex, kSCEntNetIPv4));
  CFRef<CFStringRef> iface6(SCDynamicStoreKeyCreateNetworkInterfaceEntity(
      nullptr, kSCDynamicStoreDomainState, kSCCompAnyRegex, kSCEntNetIPv6));
  CFRef<CFStringRef> link(SCDynamicStoreKeyCreateNetworkInterfaceEntity(
      nullptr, kSCDynamicStoreDomainState, kSCCompAnyRegex, kSCEntNetLink));
  if (!global4 || !global6 || !iface4 || !iface6 || !link) {
    return systemConfigurationStatus("SCDynamicStoreKeyCreate");
  }
  const void* key_values[] = {global4.get(), global6.get()};
  const void* pattern_values[] = {iface4.get(), iface6.get(), link.get()};
  const CFRef<CFArrayRef> keys(CFArrayCreate(nullptr, key_values, 2, &kCFTypeArrayCallBacks));
  const CFRef<CFArrayRef> patterns(
      CFArrayCreate(nullptr, pattern_values, 3, &kCFTypeArrayCallBacks));
  if (!keys || !patterns) return Status::resourceExhausted("CFArrayCreate failed");
  if (!SCDynamicStoreSetNotificationKeys(store, keys.get(), patterns.get())) {
    return systemConfigurationStatus("SCDynamicStoreSetNotificationKeys");
  }
  return Status::okStatus();
}

class MacosNetworkMonitor final : public NetworkMonitor {
 public:
  ~MacosNetworkMonitor() override { stop(); }

  // A session of its own per call: state() runs on the heartbeat loop, apart from the
  // notification session that start() and stop() own on the main thread.
  Result<NetworkState> state() override {
    const CFRef<SCDynamicStoreRef> store(
        SCDynamicStoreCreate(nullptr, sessionName(), nullptr, nullptr));
    if (!store) return systemConfigurationStatus("SCDynamicStoreCreate");
    NetworkState s;
    auto v4 = hasPrimaryInterface(store.get(), kSCEntNetIPv4);
    if (!v4.ok()) return v4.error();
    auto v6 = hasPrimaryInterface(store.get(), kSCEntNetIPv6);
    if (!v6.ok()) return v6.error();
    s.default_route = *v4 || *v6;
    auto addresses = listReportableAddresses();
    if (!addresses.ok()) return addresses.error();
    s.addresses = std::move(addresses).value();
    return s;
  }

  Status start(SystemEventSink& sink) override {
    if (store_) return Status::failedPrecondition("network monitor already started");
    auto* relay = new ChangeRelay(&sink);
    SCDynamicStoreContext context = {0, relay, &ChangeRelay::retain, &ChangeRelay::release,
                                     nullptr};
    CFRef<SCDynamicStoreRef> store(
        SCDynamicStoreCreate(nullptr, sessionName(), &onStoreChanged, &context));
    if (!store) {
      Status failed = systemConfigurationStatus("SCDynamicStoreCreate");
      ChangeRelay::release(relay);
      return failed;
    }
    // From here the store holds its own reference to the relay.
    if (Status s = watchNetworkKeys(store.get()); !s.ok()) {
      ChangeRelay::release(relay);
      return s;
    }
    DispatchRef<dispatch_queue_t> queue(dispatch_queue_create(kQueueLabel, DISPATCH_QUEUE_SERIAL));
    if (!queue) {
      ChangeRelay::release(relay);
      return Status::resourceExhausted("dispatch_queue_create failed");
    }
    if (!SCDynamicStoreSetDispatchQueue(store.get(), queue.get())) {
      Status failed = systemConfigurationStatus("SCDynamicStoreSetDispatchQueue");
      ChangeRelay::release(relay);
      return failed;
    }
    relay_ = relay;
    store_ = std::move(store);
    queue_ = std::move(queue);
    return Status::okStatus();
  }

  // REQUIRES: not called on the monitor's own queue (it waits for that queue).
  void stop() override {
    if (!store_) return;
    relay_->detach();
    SCDynamicStoreSetDispatchQueue(store_.get(), nullptr);
    // Drain: whatever the store had queued has run (and found the relay detached) before the
    // store and the queue are let go.
    dispatch_sync_f(queue_.get(), nullptr, [](void*) {});
    ChangeRelay::release(relay_);
    relay_ = nullptr;
    store_.reset();
    queue_.reset();
  }

 private:
  CFRef<SCDynamicStoreRef> store_;
  DispatchRef<dispatch_queue_t> queue_;
  ChangeRelay* relay_ = nullptr;  // the monitor's reference; the store holds another
};

}  // namespace

std::unique_ptr<NetworkMonitor> makeNetworkMonitor() {
  return std::make_unique<MacosNetworkMonitor>();
}

}  // namespace vigil::agent::macos
