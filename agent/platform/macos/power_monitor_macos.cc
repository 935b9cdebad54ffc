// PowerMonitor for macOS: IOKit's system power notifications (IORegisterForSystemPower),
// delivered on a private serial dispatch queue.
//
// Sleep: kIOMessageSystemWillSleep posts kSuspending and holds the sleep until releaseHold()
// or 5 s (kSleepHoldNs), whichever comes first (the kernel itself waits at most 30 s for an
// answer). Idle-sleep queries (kIOMessageCanSystemSleep) are allowed at once: the agent never
// vetoes sleep. Wake: kIOMessageSystemHasPoweredOn posts kResumed. Shutdown and restart are not
// among these notifications: launchd sends SIGTERM to the agent, which the signal service host
// turns into kServiceStop. kSystemShutdown is never posted.

#include <IOKit/IOKitLib.h>
#include <IOKit/IOMessage.h>
#include <IOKit/pwr_mgt/IOPMLib.h>
#include <dispatch/dispatch.h>

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>

#include "agent/platform/macos/dispatch_ref.h"
#include "agent/platform/macos/macos_platform.h"

namespace vigil::agent::macos {
namespace {

constexpr const char* kQueueLabel = "org.vigil.agent.power";
constexpr int64_t kSleepHoldNs = 5 * static_cast<int64_t>(NSEC_PER_SEC);
constexpr uint64_t kSleepHoldLeewayNs = 100 * NSEC_PER_MSEC;

class MacosPowerMonitor final : public PowerMonitor {
 public:
  ~MacosPowerMonitor() override { stop(); }

  Status start(SystemEventSink& sink) override {
    if (queue_) return Status::failedPrecondition("power monitor already started");
    DispatchRef<dispatch_queue_t> queue(dispatch_queue_create(kQueueLabel, DISPATCH_QUEUE_SERIAL));
    if (!queue) return Status::resourceExhausted("dispatch_queue_create failed");

    // Nothing is delivered before the port gets its dispatch queue (last step below).
    sink_ = &sink;
    IONotificationPortRef port = nullptr;
    io_object_t notifier = IO_OBJECT_NULL;
    const io_connect_t root = IORegisterForSystemPower(this, &port, &onPowerMessage, &notifier);
    if (root == MACH_PORT_NULL) {
      sink_ = nullptr;
      return Status::unavailable("IORegisterForSystemPower failed");
    }

    DispatchRef<dispatch_source_t> timer(
        dispatch_source_create(DISPATCH_SOURCE_TYPE_TIMER, 0, 0, queue.get()));
    if (!timer) {
      IODeregisterForSystemPower(&notifier);
      IOServiceClose(root);
      IONotificationPortDestroy(port);
      sink_ = nullptr;
      return Status::resourceExhausted("dispatch_source_create failed");
    }
    dispatch_set_context(timer.get(), this);
    dispatch_source_set_event_handler_f(timer.get(), &onHoldTimeout);
    dispatch_source_set_timer(timer.get(), DISPATCH_TIME_FOREVER, DISPATCH_TIME_FOREVER, 0);
    dispatch_resume(timer.get());

    {
      std::lock_guard<std::mutex> lock(mu_);
      root_port_ = root;
    }
    port_ = port;
    notifier_ = notifier;
    hold_timer_ = std::move(timer);
    queue_ = std::move(queue);
    IONotificationPortSetDispatchQueue(port_, queue_.get());
    return Status::okStatus();
  }

  void releaseHold() override {
    std::lock_guard<std::mutex> lock(mu_);
    allowPendingSleepLocked();
  }

  // Allows a held sleep, then deregisters. REQUIRES: not called on the monitor's own queue.
  void stop() override {
    if (!queue_) return;
    // On the queue, so no notification or timeout runs meanwhile and none runs afterwards.
    dispatch_sync_f(queue_.get(), this, &teardownOnQueue);
    hold_timer_.reset();
    queue_.reset();
    sink_ = nullptr;
  }

 private:
  static void onPowerMessage(void* refcon, io_service_t /*service*/, uint32_t message_type,
                             void* message_argument) {
    static_cast<MacosPowerMonitor*>(refcon)->handlePowerMessage(
        message_type, reinterpret_cast<intptr_t>(message_argument));
  }

  // On queue_. kIOMessageCanSystemSleep and kIOMessageSystemWillSleep must be acknowledged
  // with IOAllowPowerChange; the others must not.
  void handlePowerMessage(uint32_t message_type, intptr_t notification_id) {
    switch (message_type) {
      case kIOMessageCanSystemSleep: {
        std::lock_guard<std::mutex> lock(mu_);
        IOAllowPowerChange(root_port_, notification_id);
        return;
      }
      case kIOMessageSystemWillSleep: {
        {
          std::lock_guard<std::mutex> lock(mu_);
          allowPendingSleepLocked();  // never two holds; there cannot be, but do not leak one
          pending_sleep_ = notification_id;
          dispatch_source_set_timer(hold_timer_.get(),
                                    dispatch_time(DISPATCH_TIME_NOW, kSleepHoldNs),
                                    DISPATCH_TIME_FOREVER, kSleepHoldLeewayNs);
        }
        sink_->onSystemEvent(SystemEvent::kSuspending);
        return;
      }
      case kIOMessageSystemHasPoweredOn: {
        {
          std::lock_guard<std::mutex> lock(mu_);
          pending_sleep_.reset();  // an id from before the sleep means nothing now
        }
        sink_->onSystemEvent(SystemEvent::kResumed);
        return;
      }
      default:  // kIOMessageSystemWillPowerOn, kIOMessageSystemWillNotSleep, ...
        return;
    }
  }

  static void onHoldTimeout(void* context) {
    auto* self = static_cast<MacosPowerMonitor*>(context);
    std::lock_guard<std::mutex> lock(self->mu_);
    self->allowPendingSleepLocked();
  }

  static void teardownOnQueue(void* context) {
    auto* self = static_cast<MacosPowerMonitor*>(context);
    std::lock_guard<std::mutex> lock(self->mu_);
    self->allowPendingSleepLocked();
    dispatch_source_cancel(self->hold_timer_.get());
    IODeregisterForSystemPower(&self->notifier_);
    IOServiceClose(self->root_port_);
    self->root_port_ = MACH_PORT_NULL;
    IONotificationPortDestroy(self->port_);
    self->port_ = nullptr;
  }

  // REQUIRES: mu_ held.
  void allowPendingSleepLocked() {
    if (!pending_sleep_) return;
    // A failure cannot be helped: the kernel then sleeps after its own 30 s timeout.
    IOAllowPowerChange(root_port_, *pending_sleep_);
    pending_sleep_.reset();
    dispatch_source_set_timer(hold_timer_.get(), DISPATCH_TIME_FOREVER, DISPATCH_TIME_FOREVER, 0);
  }

  // Set by start() before notifications can arrive, cleared by stop() after they ended; read
  // on queue_ only.
  SystemEventSink* sink_ = nullptr;
  DispatchRef<dispatch_queue_t> queue_;
  DispatchRef<dispatch_source_t> hold_timer_;  // fires kSleepHoldNs after a held sleep began
  IONotificationPortRef port_ = nullptr;
  io_object_t notifier_ = IO_OBJECT_NULL;

  std::mutex mu_;  // guards the two below: releaseHold() runs on the agent's thread
  io_connect_t root_port_ = MACH_PORT_NULL;
  std::optional<intptr_t> pending_sleep_;  // the notification id of the sleep being held
};

}  // namespace

std::unique_ptr<PowerMonitor> makePowerMonitor() { return std::make_unique<MacosPowerMonitor>(); }

}  // namespace vigil::agent::macos
