// ServiceHost for a foreground daemon: termination signals become SystemEvent::kServiceStop.
#include <pthread.h>
#include <signal.h>

#include <atomic>
#include <memory>
#include <optional>
#include <system_error>
#include <thread>
#include <utility>

#include "agent/platform/posix/posix_platform.h"

namespace vigil::agent::posix {
namespace {

// What run() returns when it cannot set itself up (the agent's "fatal error" exit code).
constexpr int kHostFailureExitCode = 1;

// Sent by run() to its own signal thread to end it; never acted on otherwise.
constexpr int kWakeSignal = SIGUSR2;

sigset_t handledSignals() {
  sigset_t handled;
  sigemptyset(&handled);
  sigaddset(&handled, SIGTERM);
  sigaddset(&handled, SIGINT);
  sigaddset(&handled, SIGHUP);
  sigaddset(&handled, kWakeSignal);
  return handled;
}

// Restores the calling thread's signal mask when run() ends.
class SignalMaskRestorer {
 public:
  explicit SignalMaskRestorer(const sigset_t& previous) : previous_(previous) {}
  ~SignalMaskRestorer() { ::pthread_sigmask(SIG_SETMASK, &previous_, nullptr); }
  SignalMaskRestorer(const SignalMaskRestorer&) = delete;
  SignalMaskRestorer& operator=(const SignalMaskRestorer&) = delete;

 private:
  const sigset_t previous_;
};

// The thread that waits for the handled signals (blocked in every thread) and turns SIGTERM
// and SIGINT into kServiceStop. Destruction ends and joins it.
class SignalThread {
 public:
  // Throws std::system_error if the thread cannot be started.
  SignalThread(const sigset_t& handled, SystemEventSink& events)
      : handled_(handled), thread_([this, &events] { waitForSignals(events); }) {}
  ~SignalThread() {
    ending_.store(true);
    ::pthread_kill(thread_.native_handle(), kWakeSignal);
    thread_.join();
  }
  SignalThread(const SignalThread&) = delete;
  SignalThread& operator=(const SignalThread&) = delete;

 private:
  void waitForSignals(SystemEventSink& events) {
    for (;;) {
      int signal_number = 0;
      if (::sigwait(&handled_, &signal_number) != 0) return;  // only for an invalid set
      switch (signal_number) {
        case SIGTERM:
        case SIGINT:
          events.onSystemEvent(SystemEvent::kServiceStop);
          break;
        case kWakeSignal:
          if (ending_.load()) return;
          break;  // a SIGUSR2 from elsewhere: ignored
        default:
          break;  // SIGHUP: reserved for a configuration reload; ignored for now
      }
    }
  }

  const sigset_t handled_;
  std::atomic<bool> ending_{false};
  std::thread thread_;  // last: starts once the members it reads exist
};

class SignalServiceHost final : public ServiceHost {
 public:
  explicit SignalServiceHost(std::unique_ptr<ServiceControl> control)
      : control_(std::move(control)) {}

  int run(SystemEventSink& events, const ServiceBody& body) override {
    // A closed stderr (a log pipe that went away) must not kill the agent: writes fail instead.
    ::signal(SIGPIPE, SIG_IGN);
    const sigset_t handled = handledSignals();
    sigset_t previous;
    if (::pthread_sigmask(SIG_BLOCK, &handled, &previous) != 0) return kHostFailureExitCode;
    const SignalMaskRestorer restorer(previous);
    std::optional<SignalThread> signal_thread;
    try {
      signal_thread.emplace(handled, events);
    } catch (const std::system_error&) {
      return kHostFailureExitCode;
    }
    return body(*control_);
  }

 private:
  std::unique_ptr<ServiceControl> control_;
};

class SilentServiceControl final : public ServiceControl {
 public:
  void ready(const std::string& /*status_line*/) override {}
  void alive() override {}
  std::optional<Duration> aliveInterval() const override { return std::nullopt; }
  void stopping() override {}
};

}  // namespace

std::unique_ptr<ServiceHost> makeSignalServiceHost(std::unique_ptr<ServiceControl> control) {
  return std::make_unique<SignalServiceHost>(std::move(control));
}

std::unique_ptr<ServiceControl> makeSilentServiceControl() {
  return std::make_unique<SilentServiceControl>();
}

}  // namespace vigil::agent::posix
