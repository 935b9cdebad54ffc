#define BOOST_TEST_MODULE agent_windows_service_host
#include <windows.h>

#include <boost/test/unit_test.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

#include "agent/platform/windows/service_control_windows.h"
#include "agent/platform/windows/win32_handle.h"
#include "tests/support/temp_dir.h"

namespace fs = std::filesystem;
namespace win = vigil::agent::windows;
using namespace std::chrono_literals;

namespace {

struct ServiceHandleTraits {
  using Value = SC_HANDLE;
  static SC_HANDLE empty() { return nullptr; }
  static bool isEmpty(SC_HANDLE h) { return h == nullptr; }
  static void close(SC_HANDLE h) { CloseServiceHandle(h); }
};
using UniqueServiceHandle = win::UniqueResource<ServiceHandleTraits>;

fs::path fixturePath() {
  wchar_t self[MAX_PATH];
  const DWORD n = GetModuleFileNameW(nullptr, self, MAX_PATH);
  return fs::path(std::wstring(self, n)).parent_path() / L"agent_windows_service_fixture.exe";
}

// Installs the fixture as an own-process service under a name of its own (so a real
// VigilAgent service on the machine is never touched) and deletes it on destruction.
class InstalledService {
 public:
  InstalledService(const std::wstring& name, const std::wstring& command_line) {
    scm_.reset(OpenSCManagerW(nullptr, nullptr, SC_MANAGER_ALL_ACCESS));
    if (!scm_) {
      error_ = "OpenSCManagerW: " + std::to_string(GetLastError());
      return;
    }
    service_.reset(CreateServiceW(scm_.get(), name.c_str(), name.c_str(), SERVICE_ALL_ACCESS,
                                  SERVICE_WIN32_OWN_PROCESS, SERVICE_DEMAND_START,
                                  SERVICE_ERROR_NORMAL, command_line.c_str(), nullptr, nullptr,
                                  nullptr, nullptr, nullptr));
    if (!service_) error_ = "CreateServiceW: " + std::to_string(GetLastError());
  }
  ~InstalledService() {
    if (service_) {
      SERVICE_STATUS status;
      ControlService(service_.get(), SERVICE_CONTROL_STOP, &status);
      DeleteService(service_.get());
    }
  }

  const std::string& error() const { return error_; }

  // StartServiceW, retried while the SCM's database is locked (it is while the SCM starts the
  // automatic services, e.g. just after boot, or in a wine prefix that was just started).
  bool start(std::chrono::seconds limit) {
    const auto end = std::chrono::steady_clock::now() + limit;
    for (;;) {
      if (StartServiceW(service_.get(), 0, nullptr)) return true;
      start_error_ = GetLastError();
      if (start_error_ != ERROR_SERVICE_DATABASE_LOCKED) return false;
      if (std::chrono::steady_clock::now() >= end) return false;
      std::this_thread::sleep_for(100ms);
    }
  }
  DWORD startError() const { return start_error_; }
  SC_HANDLE get() const { return service_.get(); }

  SERVICE_STATUS_PROCESS status() const {
    SERVICE_STATUS_PROCESS s{};
    DWORD needed = 0;
    QueryServiceStatusEx(service_.get(), SC_STATUS_PROCESS_INFO, reinterpret_cast<BYTE*>(&s),
                         sizeof s, &needed);
    return s;
  }

  // Polls the SCM (a real, separate process) until the service is in `state`.
  bool waitFor(DWORD state, std::chrono::seconds limit) const {
    const auto end = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < end) {
      if (status().dwCurrentState == state) return true;
      std::this_thread::sleep_for(50ms);
    }
    return status().dwCurrentState == state;
  }

 private:
  UniqueServiceHandle scm_;
  UniqueServiceHandle service_;
  std::string error_;
  DWORD start_error_ = 0;
};

std::string readAll(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace

BOOST_AUTO_TEST_CASE(scm_runs_the_host_as_a_service_and_stops_it_with_the_exit_code) {
  vigil::testing::TempDir tmp;
  const fs::path record = tmp.path() / "events.txt";
  const std::wstring name = L"VigilAgentTest" + std::to_wstring(GetCurrentProcessId());
  const std::wstring command =
      L"\"" + fixturePath().wstring() + L"\" \"" + record.wstring() + L"\" 3";
  InstalledService service(name, command);
  BOOST_TEST_REQUIRE(service.error().empty(), service.error());

  BOOST_TEST_REQUIRE(service.start(30s), "StartServiceW failed: error " << service.startError());
  BOOST_TEST_REQUIRE(service.waitFor(SERVICE_RUNNING, 30s));
  const SERVICE_STATUS_PROCESS running = service.status();
  BOOST_TEST(running.dwControlsAccepted == win::acceptedControlsWhenRunning());
  BOOST_TEST(running.dwServiceType == static_cast<DWORD>(SERVICE_WIN32_OWN_PROCESS));

  SERVICE_STATUS status{};
  BOOST_TEST(ControlService(service.get(), SERVICE_CONTROL_INTERROGATE, &status));
  BOOST_TEST(status.dwCurrentState == static_cast<DWORD>(SERVICE_RUNNING));

  const bool stop_sent = ControlService(service.get(), SERVICE_CONTROL_STOP, &status);
  const DWORD stop_error = stop_sent ? 0 : GetLastError();
  BOOST_TEST_REQUIRE(stop_sent, "ControlService(STOP) failed: error " << stop_error);
  BOOST_TEST_REQUIRE(service.waitFor(SERVICE_STOPPED, 30s));
  const SERVICE_STATUS_PROCESS stopped = service.status();
  BOOST_TEST(stopped.dwWin32ExitCode == static_cast<DWORD>(ERROR_SERVICE_SPECIFIC_ERROR));
  BOOST_TEST(stopped.dwServiceSpecificExitCode == 3u);

  const std::string events = readAll(record);
  const std::string stop =
      std::to_string(static_cast<int>(vigil::agent::SystemEvent::kServiceStop));
  BOOST_TEST(events == stop + "\nstopped\n");
}
