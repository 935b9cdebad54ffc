// A process the service host test installs and runs as a real Windows service: it runs the
// Windows ServiceHost with a body that reports ready, waits for a stop request, records every
// SystemEvent it received in a file, and returns the exit code it was given.
// Usage: agent_windows_service_fixture RECORD_FILE EXIT_CODE
#include <windows.h>

#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <string>
#include <vector>

#include "agent/platform/windows/windows_platform.h"

namespace {

using vigil::agent::SystemEvent;

class RecordingSink final : public vigil::agent::SystemEventSink {
 public:
  void onSystemEvent(SystemEvent e) override {
    std::lock_guard<std::mutex> lock(mu_);
    events_.push_back(e);
    if (e == SystemEvent::kServiceStop || e == SystemEvent::kSystemShutdown) {
      stop_ = true;
      cv_.notify_all();
    }
  }
  bool waitForStop(std::chrono::seconds limit) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, limit, [&] { return stop_; });
  }
  std::vector<SystemEvent> events() {
    std::lock_guard<std::mutex> lock(mu_);
    return events_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::vector<SystemEvent> events_;
};

}  // namespace

int wmain(int argc, wchar_t** argv) {
  if (argc != 3) return 64;
  const std::filesystem::path record(argv[1]);
  const int exit_code = std::wcstol(argv[2], nullptr, 10);
  auto pair = vigil::agent::windows::makeServiceHostAndPowerMonitor();
  RecordingSink events;
  return pair.service->run(events, [&](vigil::agent::ServiceControl& control) {
    control.ready("fixture running");
    const bool stopped = events.waitForStop(std::chrono::seconds(60));
    control.stopping();
    std::ofstream out(record, std::ios::trunc);
    for (SystemEvent e : events.events()) out << static_cast<int>(e) << "\n";
    out << (stopped ? "stopped" : "timed out") << "\n";
    return exit_code;
  });
}
