// SystemFactsSource for Windows: GetComputerNameExW, RtlGetVersion, IsWow64Process2 /
// GetNativeSystemInfo.
#include <windows.h>

#include <memory>
#include <string>

#include "agent/platform/windows/wide_strings.h"
#include "agent/platform/windows/win32_status.h"
#include "agent/platform/windows/windows_platform.h"

namespace vigil::agent::windows {
namespace {

// The address of `name` in `module` as a function of type `Fn`; null if it is not exported.
template <typename Fn>
Fn exportedFunction(const wchar_t* module, const char* name) {
  HMODULE handle = GetModuleHandleW(module);  // ntdll and kernel32 are always loaded
  if (handle == nullptr) return nullptr;
  FARPROC proc = GetProcAddress(handle, name);
  return reinterpret_cast<Fn>(reinterpret_cast<void*>(proc));
}

Result<std::string> dnsHostname() {
  DWORD size = 0;
  GetComputerNameExW(ComputerNameDnsHostname, nullptr, &size);
  if (size == 0) return lastErrorStatus("GetComputerNameExW");
  std::wstring name(size, L'\0');
  if (!GetComputerNameExW(ComputerNameDnsHostname, name.data(), &size)) {
    return lastErrorStatus("GetComputerNameExW");
  }
  name.resize(size);
  return toUtf8(name);
}

// "Windows <major>.<minor>.<build>" from RtlGetVersion, which unlike GetVersionEx is not
// shimmed to an older version for an executable without a compatibility manifest.
Result<std::string> osVersion() {
  using RtlGetVersionFn = LONG(WINAPI*)(OSVERSIONINFOW*);
  const auto rtl_get_version = exportedFunction<RtlGetVersionFn>(L"ntdll.dll", "RtlGetVersion");
  if (rtl_get_version == nullptr) return Status::internal("ntdll.dll has no RtlGetVersion");
  OSVERSIONINFOW info{};
  info.dwOSVersionInfoSize = sizeof info;
  const LONG status = rtl_get_version(&info);
  if (status != 0) return Status::internal("RtlGetVersion failed: " + std::to_string(status));
  return "Windows " + std::to_string(info.dwMajorVersion) + "." +
         std::to_string(info.dwMinorVersion) + "." + std::to_string(info.dwBuildNumber);
}

std::string archOfMachine(USHORT image_file_machine) {
  switch (image_file_machine) {
    case IMAGE_FILE_MACHINE_AMD64:
      return "x86_64";
    case IMAGE_FILE_MACHINE_ARM64:
      return "arm64";
    case IMAGE_FILE_MACHINE_I386:
      return "x86";
    default:
      return std::string();
  }
}

std::string archOfProcessorArchitecture(WORD architecture) {
  switch (architecture) {
    case PROCESSOR_ARCHITECTURE_AMD64:
      return "x86_64";
    case PROCESSOR_ARCHITECTURE_ARM64:
      return "arm64";
    case PROCESSOR_ARCHITECTURE_INTEL:
      return "x86";
    case PROCESSOR_ARCHITECTURE_ARM:
      return "arm";
    default:
      return "unknown";
  }
}

// The machine's own architecture, not this process's: an x86_64 agent emulated on an arm64
// machine reports arm64. IsWow64Process2 (Windows 10 1709 and later) knows; on older systems
// GetNativeSystemInfo does for every case those systems have.
std::string nativeArch() {
  using IsWow64Process2Fn = BOOL(WINAPI*)(HANDLE, USHORT*, USHORT*);
  const auto is_wow64_process2 =
      exportedFunction<IsWow64Process2Fn>(L"kernel32.dll", "IsWow64Process2");
  USHORT process_machine = 0;
  USHORT native_machine = 0;
  if (is_wow64_process2 != nullptr &&
      is_wow64_process2(GetCurrentProcess(), &process_machine, &native_machine)) {
    std::string arch = archOfMachine(native_machine);
    if (!arch.empty()) return arch;
  }
  SYSTEM_INFO info{};
  GetNativeSystemInfo(&info);
  return archOfProcessorArchitecture(info.wProcessorArchitecture);
}

class WindowsSystemFactsSource final : public SystemFactsSource {
 public:
  Result<SystemFacts> facts() override {
    SystemFacts f;
    f.os_name = "windows";
    auto hostname = dnsHostname();
    if (!hostname.ok()) return hostname.error();
    f.hostname = std::move(hostname).value();
    auto version = osVersion();
    if (!version.ok()) return version.error();
    f.os_version = std::move(version).value();
    f.arch = nativeArch();
    return f;
  }
};

}  // namespace

std::unique_ptr<SystemFactsSource> makeSystemFactsSource() {
  return std::make_unique<WindowsSystemFactsSource>();
}

}  // namespace vigil::agent::windows
