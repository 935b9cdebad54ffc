// ServiceControl for a systemd Type=notify service.
#include <systemd/sd-daemon.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "agent/platform/linux/linux_platform.h"

namespace vigil::agent::linux_platform {
namespace {

class SystemdServiceControl final : public ServiceControl {
 public:
  void ready(const std::string& status_line) override {
    // One line: a newline would start a new notify assignment.
    std::string status = status_line;
    std::replace(status.begin(), status.end(), '\n', ' ');
    notify("READY=1\nSTATUS=" + status);
  }

  void alive() override { notify("WATCHDOG=1"); }

  std::optional<Duration> aliveInterval() const override {
    uint64_t period_usec = 0;
    if (sd_watchdog_enabled(0, &period_usec) <= 0 || period_usec == 0) return std::nullopt;
    // Half the period, as sd_watchdog_enabled(3) advises, so one late beat is not fatal.
    return std::chrono::duration_cast<Duration>(std::chrono::microseconds(period_usec / 2));
  }

  void stopping() override { notify("STOPPING=1"); }

 private:
  // Nothing to do on failure: outside systemd there is no one to tell, and inside it a lost
  // notification shows up in systemd's own state.
  static void notify(const std::string& state) { sd_notify(0, state.c_str()); }
};

}  // namespace

std::unique_ptr<ServiceControl> makeSystemdServiceControl() {
  return std::make_unique<SystemdServiceControl>();
}

}  // namespace vigil::agent::linux_platform
