// ServiceHost and PowerMonitor for Windows.
//
// As a service: StartServiceCtrlDispatcherW connects the process to the SCM, which runs
// serviceMain() on a thread of its own; serviceMain() registers handlerEx() and runs the
// agent's body there, reporting START_PENDING, then RUNNING (ServiceControl::ready), then
// STOP_PENDING (stopping(), or at once when a stop or shutdown control arrives), then STOPPED
// with the body's exit code. Controls become SystemEvents through translateServiceControl().
//
// In a console (the process was started by hand, so the dispatcher cannot reach the SCM): the
// body runs on the calling thread and a console control handler turns Ctrl+C, Ctrl+Break,
// closing the window, logoff and shutdown into SystemEvents.
//
// Power events reach a service only through its control handler, so the power monitor is fed
// by the service host: both share one ServiceEventRouter (service_control_windows.h).
#include <windows.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <iterator>
#include <memory>
#include <mutex>

#include "agent/platform/windows/service_control_windows.h"
#include "agent/platform/windows/win32_handle.h"
#include "agent/platform/windows/win32_status.h"
#include "agent/platform/windows/windows_platform.h"

namespace vigil::agent::windows {
namespace {

// What run() returns when the host itself fails (the body never ran).
constexpr int kHostFailureExitCode = 1;

// How long the SCM should wait between two reports before it considers the service hung.
constexpr DWORD kStartWaitHintMs = 30000;
constexpr DWORD kStopWaitHintMs = 20000;

// In a console, Windows ends the process as soon as the handler of a close, logoff or shutdown
// event returns (and after 5 s at most): the handler waits this long for the body to finish.
constexpr DWORD kConsoleGraceMs = 4500;

// Reports the service's state to the SCM. The status handle needs no closing.
class ScmServiceControl final : public ServiceControl {
 public:
  explicit ScmServiceControl(SERVICE_STATUS_HANDLE handle) : handle_(handle) {
    status_.dwServiceType = SERVICE_WIN32_OWN_PROCESS;
  }

  void startPending() {
    std::lock_guard<std::mutex> lock(mu_);
    set(SERVICE_START_PENDING, 0, kStartWaitHintMs);
  }

  // RUNNING, unless stopping has already begun.
  void ready(const std::string&) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (status_.dwCurrentState != SERVICE_START_PENDING) return;
    set(SERVICE_RUNNING, acceptedControlsWhenRunning(), 0);
  }

  // While stopping, each call tells the SCM the agent is still making progress.
  void alive() override {
    std::lock_guard<std::mutex> lock(mu_);
    if (status_.dwCurrentState == SERVICE_STOP_PENDING) {
      set(SERVICE_STOP_PENDING, 0, kStopWaitHintMs);
    }
  }

  std::optional<Duration> aliveInterval() const override { return std::nullopt; }

  void stopping() override {
    std::lock_guard<std::mutex> lock(mu_);
    if (status_.dwCurrentState == SERVICE_STOPPED) return;
    set(SERVICE_STOP_PENDING, 0, kStopWaitHintMs);
  }

  // The last report: after it the SCM may end the process.
  void stopped(int exit_code) {
    std::lock_guard<std::mutex> lock(mu_);
    if (exit_code == 0) {
      status_.dwWin32ExitCode = NO_ERROR;
      status_.dwServiceSpecificExitCode = 0;
    } else {
      status_.dwWin32ExitCode = ERROR_SERVICE_SPECIFIC_ERROR;
      status_.dwServiceSpecificExitCode = static_cast<DWORD>(exit_code);
    }
    set(SERVICE_STOPPED, 0, 0);
  }

 private:
  // REQUIRES: mu_ held. Pending states count their checkpoint up; others reset it.
  void set(DWORD state, DWORD accepted, DWORD wait_hint_ms) {
    const bool pending = state == SERVICE_START_PENDING || state == SERVICE_STOP_PENDING;
    status_.dwCheckPoint =
        pending ? (status_.dwCurrentState == state ? status_.dwCheckPoint + 1 : 1) : 0;
    status_.dwCurrentState = state;
    status_.dwControlsAccepted = accepted;
    status_.dwWaitHint = wait_hint_ms;
    // A failed report leaves nothing to do: the SCM is the only place to report to.
    SetServiceStatus(handle_, &status_);
  }

  std::mutex mu_;
  SERVICE_STATUS_HANDLE handle_;
  SERVICE_STATUS status_{};
};

// A console has no service manager to report to.
class ConsoleServiceControl final : public ServiceControl {
 public:
  void ready(const std::string&) override {}
  void alive() override {}
  std::optional<Duration> aliveInterval() const override { return std::nullopt; }
  void stopping() override {}
};

class WindowsServiceHost final : public ServiceHost {
 public:
  explicit WindowsServiceHost(std::shared_ptr<ServiceEventRouter> router)
      : router_(std::move(router)) {}

  // REQUIRES: no other run() in progress in this process (the SCM's entry points carry no
  // context, so the running host is a process-wide pointer).
  int run(SystemEventSink& events, const ServiceBody& body) override {
    WindowsServiceHost* expected = nullptr;
    if (!active_.compare_exchange_strong(expected, this)) {
      std::fprintf(stderr, "vigil-agent: a service host is already running\n");
      return kHostFailureExitCode;
    }
    router_->setServiceSink(&events);
    body_ = &body;
    exit_code_.store(kHostFailureExitCode);

    wchar_t name[sizeof kServiceName / sizeof kServiceName[0]];
    std::copy(std::begin(kServiceName), std::end(kServiceName), name);
    SERVICE_TABLE_ENTRYW table[] = {{name, &serviceMain}, {nullptr, nullptr}};
    if (StartServiceCtrlDispatcherW(table)) {
      // Returns once serviceMain() has reported SERVICE_STOPPED.
    } else if (GetLastError() == ERROR_FAILED_SERVICE_CONTROLLER_CONNECT) {
      exit_code_.store(runInConsole());
    } else {
      const Status failure = lastErrorStatus("StartServiceCtrlDispatcherW");
      std::fprintf(stderr, "vigil-agent: %s\n", failure.toString().c_str());
    }

    // No control handler runs any more: the dispatcher has returned.
    router_->setServiceSink(nullptr);
    scm_control_.store(nullptr);
    scm_control_owner_.reset();
    body_ = nullptr;
    active_.store(nullptr);
    return exit_code_.load();
  }

 private:
  // Runs on the thread the SCM starts for the service.
  static void WINAPI serviceMain(DWORD, LPWSTR*) {
    WindowsServiceHost* host = active_.load();
    if (host != nullptr) host->runAsService();
  }

  void runAsService() {
    SERVICE_STATUS_HANDLE handle = RegisterServiceCtrlHandlerExW(kServiceName, &handlerEx, this);
    if (handle == nullptr) {
      const Status failure = lastErrorStatus("RegisterServiceCtrlHandlerExW");
      std::fprintf(stderr, "vigil-agent: %s\n", failure.toString().c_str());
      return;
    }
    // Owned until run() returns, so a control arriving while the body ends still finds it.
    scm_control_owner_ = std::make_unique<ScmServiceControl>(handle);
    ScmServiceControl& control = *scm_control_owner_;
    control.startPending();
    scm_control_.store(&control);
    const int code = (*body_)(control);
    exit_code_.store(code);
    control.stopped(code);
  }

  // Runs on the dispatcher's thread (the one blocked in StartServiceCtrlDispatcherW).
  static DWORD WINAPI handlerEx(DWORD control, DWORD event_type, LPVOID, LPVOID context) {
    auto* host = static_cast<WindowsServiceHost*>(context);
    if (control == SERVICE_CONTROL_INTERROGATE) return NO_ERROR;  // the SCM has the status
    const std::optional<SystemEvent> event = translateServiceControl(control, event_type);
    if (!event) {
      // Power and session notifications the agent does not use are still "handled".
      const bool notification =
          control == SERVICE_CONTROL_POWEREVENT || control == SERVICE_CONTROL_SESSIONCHANGE;
      return notification ? NO_ERROR : ERROR_CALL_NOT_IMPLEMENTED;
    }
    if (*event == SystemEvent::kServiceStop || *event == SystemEvent::kSystemShutdown) {
      // The SCM wants to see STOP_PENDING promptly, before the agent's loop wakes up.
      if (ScmServiceControl* scm = host->scm_control_.load()) scm->stopping();
    }
    host->router_->route(*event);
    // At (pre)shutdown the service must end by itself: the shutdown notice first, so the
    // goodbye says "system_shutdown", then the stop.
    if (*event == SystemEvent::kSystemShutdown) host->router_->route(SystemEvent::kServiceStop);
    return NO_ERROR;
  }

  int runInConsole() {
    body_done_.reset(CreateEventW(nullptr, TRUE, FALSE, nullptr));
    if (!SetConsoleCtrlHandler(&consoleHandler, TRUE)) {
      const Status failure = lastErrorStatus("SetConsoleCtrlHandler");
      std::fprintf(stderr, "vigil-agent: %s\n", failure.toString().c_str());
      return kHostFailureExitCode;
    }
    ConsoleServiceControl control;
    const int code = (*body_)(control);
    if (body_done_) SetEvent(body_done_.get());
    SetConsoleCtrlHandler(&consoleHandler, FALSE);
    return code;
  }

  // Runs on a thread the system creates for each console control.
  static BOOL WINAPI consoleHandler(DWORD ctrl_type) {
    WindowsServiceHost* host = active_.load();
    if (host == nullptr) return FALSE;
    const std::optional<SystemEvent> event = translateConsoleControl(ctrl_type);
    if (!event) return FALSE;
    host->router_->route(*event);
    const bool process_ends_on_return = ctrl_type == CTRL_CLOSE_EVENT ||
                                        ctrl_type == CTRL_LOGOFF_EVENT ||
                                        ctrl_type == CTRL_SHUTDOWN_EVENT;
    if (process_ends_on_return && host->body_done_) {
      WaitForSingleObject(host->body_done_.get(), kConsoleGraceMs);
    }
    return TRUE;
  }

  static std::atomic<WindowsServiceHost*> active_;

  std::shared_ptr<ServiceEventRouter> router_;
  const ServiceBody* body_ = nullptr;
  std::atomic<int> exit_code_{kHostFailureExitCode};
  std::unique_ptr<ScmServiceControl> scm_control_owner_;
  std::atomic<ScmServiceControl*> scm_control_{nullptr};  // what handlerEx() reports through
  UniqueHandle body_done_;  // set when the body has returned (console mode)
};

std::atomic<WindowsServiceHost*> WindowsServiceHost::active_{nullptr};

// Power events arrive as service controls, so this monitor only registers where the service
// host should send them.
class WindowsPowerMonitor final : public PowerMonitor {
 public:
  explicit WindowsPowerMonitor(std::shared_ptr<ServiceEventRouter> router)
      : router_(std::move(router)) {}
  ~WindowsPowerMonitor() override { stop(); }

  Status start(SystemEventSink& sink) override {
    router_->setPowerSink(&sink);
    return Status::okStatus();
  }

  // Nothing to release. Shutdown already waits for the agent: the service accepts
  // PRESHUTDOWN, so Windows holds shutdown until the service reports STOPPED (or the
  // preshutdown timeout passes). Sleep cannot be delayed by a service since Windows Vista; the
  // agent has the couple of seconds Windows allows after PBT_APMSUSPEND.
  void releaseHold() override {}

  void stop() override { router_->setPowerSink(nullptr); }

 private:
  std::shared_ptr<ServiceEventRouter> router_;
};

}  // namespace

ServiceHostAndPowerMonitor makeServiceHostAndPowerMonitor() {
  auto router = std::make_shared<ServiceEventRouter>();
  ServiceHostAndPowerMonitor pair;
  pair.service = std::make_unique<WindowsServiceHost>(router);
  pair.power = std::make_unique<WindowsPowerMonitor>(router);
  return pair;
}

}  // namespace vigil::agent::windows
