// PowerMonitor for Linux: systemd-logind's sleep and shutdown signals over the system D-Bus.
#include <fcntl.h>
#include <systemd/sd-bus.h>
#include <time.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <system_error>
#include <thread>
#include <utility>

#include "agent/platform/linux/linux_platform.h"
#include "agent/platform/posix/interruptible_poll.h"
#include "agent/platform/posix/posix_status.h"
#include "agent/platform/posix/unique_fd.h"

namespace vigil::agent::linux_platform {
namespace {

using posix::errnoStatus;
using posix::errnoText;
using posix::InterruptiblePoll;
using posix::PollOutcome;
using posix::UniqueFd;

constexpr char kLogindService[] = "org.freedesktop.login1";
constexpr char kLogindPath[] = "/org/freedesktop/login1";
constexpr char kLogindManager[] = "org.freedesktop.login1.Manager";

// The arguments of org.freedesktop.login1.Manager.Inhibit.
// One lock each: logind (systemd 252) refuses an unprivileged caller a combined "sleep:shutdown"
// (it checks the wrong polkit action for several values, systemd issue #33834), and grants
// each alone to the agent's system user.
constexpr const char* kInhibitWhat[] = {"sleep", "shutdown"};
constexpr size_t kLockCount = sizeof kInhibitWhat / sizeof kInhibitWhat[0];
constexpr char kInhibitWho[] = "vigil-agent";
constexpr char kInhibitWhy[] = "send a goodbye notice";
constexpr char kInhibitMode[] = "delay";

struct BusDeleter {
  void operator()(sd_bus* bus) const { sd_bus_flush_close_unref(bus); }
};
using BusPtr = std::unique_ptr<sd_bus, BusDeleter>;

struct MessageDeleter {
  void operator()(sd_bus_message* message) const { sd_bus_message_unref(message); }
};
using MessagePtr = std::unique_ptr<sd_bus_message, MessageDeleter>;

// Owns the strings an sd-bus call may put into its error.
class BusError {
 public:
  BusError() = default;
  ~BusError() { sd_bus_error_free(&error_); }
  BusError(const BusError&) = delete;
  BusError& operator=(const BusError&) = delete;

  sd_bus_error* get() { return &error_; }
  bool hasName(const char* name) const { return sd_bus_error_has_name(&error_, name) != 0; }
  // The error's message, else the text of `r` (a negative errno).
  std::string text(int r) const {
    if (error_.message != nullptr) return error_.message;
    if (error_.name != nullptr) return error_.name;
    return errnoText(-r);
  }

 private:
  sd_bus_error error_{};  // SD_BUS_ERROR_NULL
};

// The inhibitor lock in an Inhibit() reply, duplicated: the message owns the one it carries.
Result<UniqueFd> inhibitorFromReply(sd_bus_message* reply) {
  int fd = -1;
  const int r = sd_bus_message_read(reply, "h", &fd);
  if (r < 0) return Status::internal("logind's Inhibit() reply: " + errnoText(-r));
  UniqueFd own(::fcntl(fd, F_DUPFD_CLOEXEC, 3));
  if (!own.valid()) return errnoStatus("cannot keep logind's inhibitor lock", errno);
  return own;
}

// sd-bus timeouts are absolute CLOCK_MONOTONIC microseconds; UINT64_MAX means none.
std::optional<MonoTime> deadlineFromBusTimeout(uint64_t timeout_usec) {
  if (timeout_usec == UINT64_MAX) return std::nullopt;
  timespec now{};
  ::clock_gettime(CLOCK_MONOTONIC, &now);
  const uint64_t now_usec =
      static_cast<uint64_t>(now.tv_sec) * 1000000u + static_cast<uint64_t>(now.tv_nsec) / 1000u;
  const uint64_t left_usec = timeout_usec > now_usec ? timeout_usec - now_usec : 0;
  return std::chrono::steady_clock::now() + std::chrono::microseconds(left_usec);
}

class LogindPowerMonitor final : public PowerMonitor {
 public:
  LogindPowerMonitor() = default;
  ~LogindPowerMonitor() override { stop(); }
  LogindPowerMonitor(const LogindPowerMonitor&) = delete;
  LogindPowerMonitor& operator=(const LogindPowerMonitor&) = delete;

  Status start(SystemEventSink& sink) override {
    if (thread_.joinable()) return Status::failedPrecondition("power monitor already started");
    Result<InterruptiblePoll> poll = InterruptiblePoll::create();
    if (!poll.ok()) return poll.error();

    sd_bus* raw_bus = nullptr;
    int r = sd_bus_open_system(&raw_bus);
    BusPtr bus(raw_bus);
    if (r < 0) {
      return Status::unavailable("no system bus: sleep/shutdown notices from logind unavailable (" +
                                 errnoText(-r) + ")");
    }
    sink_ = &sink;  // read by the callbacks, which run only on the bus thread
    // Subscribed before the lock is taken, so no announcement falls between the two.
    r = sd_bus_match_signal(bus.get(), nullptr, kLogindService, kLogindPath, kLogindManager,
                            "PrepareForSleep", &LogindPowerMonitor::onPrepareForSleep, this);
    if (r >= 0) {
      r = sd_bus_match_signal(bus.get(), nullptr, kLogindService, kLogindPath, kLogindManager,
                              "PrepareForShutdown", &LogindPowerMonitor::onPrepareForShutdown,
                              this);
    }
    if (r < 0) {
      return Status::unavailable("cannot subscribe to logind's sleep/shutdown signals: " +
                                 errnoText(-r));
    }

    std::array<UniqueFd, kLockCount> holds;
    for (size_t i = 0; i < kLockCount; ++i) {
      BusError error;
      sd_bus_message* raw_reply = nullptr;
      r = sd_bus_call_method(bus.get(), kLogindService, kLogindPath, kLogindManager, "Inhibit",
                             error.get(), &raw_reply, "ssss", kInhibitWhat[i], kInhibitWho,
                             kInhibitWhy, kInhibitMode);
      const MessagePtr reply(raw_reply);
      if (r < 0 && (error.hasName(SD_BUS_ERROR_SERVICE_UNKNOWN) ||
                    error.hasName(SD_BUS_ERROR_NAME_HAS_NO_OWNER))) {
        return Status::unavailable("logind is not running: sleep/shutdown notices unavailable (" +
                                   error.text(r) + ")");
      }
      // Any other refusal (a polkit policy): the notices still come, only without the delay.
      if (r >= 0) {
        if (Result<UniqueFd> fd = inhibitorFromReply(reply.get()); fd.ok()) {
          holds[i] = std::move(fd).value();
        }
      }
    }

    poll_.emplace(std::move(poll).value());
    bus_ = std::move(bus);
    {
      const std::lock_guard<std::mutex> lock(hold_mu_);
      holds_ = std::move(holds);
    }
    try {
      thread_ = std::thread([this] { serve(); });
    } catch (const std::system_error& e) {
      releaseAll();
      return Status::internal(std::string("cannot start the logind watch thread: ") + e.what());
    }
    return Status::okStatus();
  }

  void releaseHold() override {
    const std::lock_guard<std::mutex> lock(hold_mu_);
    for (UniqueFd& hold : holds_) hold.reset();
  }

  void stop() override {
    if (!thread_.joinable()) return;
    poll_->wake();
    thread_.join();
    releaseAll();
  }

 private:
  // The bus thread: dispatches logind's signals and replies until stop() or a lost connection.
  void serve() {
    for (;;) {
      int r;
      do {
        r = sd_bus_process(bus_.get(), nullptr);
      } while (r > 0);
      if (r < 0) return;
      const int fd = sd_bus_get_fd(bus_.get());
      const int events = sd_bus_get_events(bus_.get());
      uint64_t timeout_usec = UINT64_MAX;
      if (fd < 0 || events < 0 || sd_bus_get_timeout(bus_.get(), &timeout_usec) < 0) return;
      const Result<PollOutcome> outcome =
          poll_->wait(fd, events, deadlineFromBusTimeout(timeout_usec));
      if (!outcome.ok() || *outcome == PollOutcome::kWoken) return;
    }
  }

  void releaseAll() {
    poll_.reset();
    bus_.reset();
    releaseHold();
    sink_ = nullptr;
  }

  // Asks logind again for each lock not held (after a resume or a cancelled shutdown). Runs on
  // the bus thread.
  void retakeHold() {
    retakeOne<0>();
    retakeOne<1>();
  }

  template <size_t I>
  void retakeOne() {
    static_assert(I < kLockCount, "one lock per kInhibitWhat");
    {
      const std::lock_guard<std::mutex> lock(hold_mu_);
      if (holds_[I].valid()) return;
    }
    sd_bus_call_method_async(bus_.get(), nullptr, kLogindService, kLogindPath, kLogindManager,
                             "Inhibit", &LogindPowerMonitor::onInhibitReply<I>, this, "ssss",
                             kInhibitWhat[I], kInhibitWho, kInhibitWhy, kInhibitMode);
  }

  template <size_t I>
  static int onInhibitReply(sd_bus_message* reply, void* userdata, sd_bus_error* /*error*/) {
    auto* self = static_cast<LogindPowerMonitor*>(userdata);
    if (sd_bus_message_is_method_error(reply, nullptr) != 0) return 0;  // no delay this time
    if (Result<UniqueFd> fd = inhibitorFromReply(reply); fd.ok()) {
      const std::lock_guard<std::mutex> lock(self->hold_mu_);
      self->holds_[I] = std::move(fd).value();
    }
    return 0;
  }

  // PrepareForSleep(b): true before sleep, false after the wake.
  static int onPrepareForSleep(sd_bus_message* message, void* userdata, sd_bus_error* /*error*/) {
    auto* self = static_cast<LogindPowerMonitor*>(userdata);
    int starting = 0;
    if (sd_bus_message_read(message, "b", &starting) < 0) return 0;
    if (starting != 0) {
      self->sink_->onSystemEvent(SystemEvent::kSuspending);
    } else {
      self->sink_->onSystemEvent(SystemEvent::kResumed);
      self->retakeHold();
    }
    return 0;
  }

  // PrepareForShutdown(b): true before shutdown, false if it was cancelled.
  static int onPrepareForShutdown(sd_bus_message* message, void* userdata,
                                  sd_bus_error* /*error*/) {
    auto* self = static_cast<LogindPowerMonitor*>(userdata);
    int starting = 0;
    if (sd_bus_message_read(message, "b", &starting) < 0) return 0;
    if (starting != 0) {
      self->sink_->onSystemEvent(SystemEvent::kSystemShutdown);
    } else {
      self->retakeHold();
    }
    return 0;
  }

  SystemEventSink* sink_ = nullptr;  // set while started
  std::optional<InterruptiblePoll> poll_;
  BusPtr bus_;  // used by the bus thread only while it runs
  std::mutex hold_mu_;
  std::array<UniqueFd, kLockCount> holds_;  // logind's delay locks; guarded by hold_mu_
  std::thread thread_;
};

}  // namespace

std::unique_ptr<PowerMonitor> makePowerMonitor() { return std::make_unique<LogindPowerMonitor>(); }

}  // namespace vigil::agent::linux_platform
