// defaultPaths() for Windows: the config file and the state directory under the known folder
// FOLDERID_ProgramData, "<ProgramData>\Vigil\agent.conf" and "<ProgramData>\Vigil\agent", in
// UTF-8. Neither is created here (StateProtection::securePrivateDirectory makes the directory).
#include <windows.h>
// (knownfolders.h and shlobj.h need windows.h first.)
#include <knownfolders.h>
#include <shlobj.h>

#include <memory>

#include "agent/platform/platform.h"
#include "agent/platform/windows/wide_strings.h"

namespace vigil::agent {
namespace {

struct CoTaskMemDeleter {
  void operator()(wchar_t* p) const { CoTaskMemFree(p); }
};

// The ProgramData folder without a trailing backslash. Falls back to %ProgramData%, then to
// C:\ProgramData, when the known folder cannot be resolved.
std::wstring programData() {
  wchar_t* raw = nullptr;
  const HRESULT hr = SHGetKnownFolderPath(FOLDERID_ProgramData, KF_FLAG_DEFAULT, nullptr, &raw);
  std::unique_ptr<wchar_t, CoTaskMemDeleter> path(raw);  // freed even on failure
  std::wstring dir;
  if (SUCCEEDED(hr) && path && path.get()[0] != L'\0') {
    dir = path.get();
  } else {
    wchar_t buffer[MAX_PATH];
    const DWORD n = GetEnvironmentVariableW(L"ProgramData", buffer, MAX_PATH);
    dir = n > 0 && n < MAX_PATH ? std::wstring(buffer, n) : std::wstring(L"C:\\ProgramData");
  }
  if (!dir.empty() && dir.back() == L'\\') dir.pop_back();
  return dir;
}

}  // namespace

DefaultPaths defaultPaths() {
  const std::wstring vigil = programData() + L"\\Vigil";
  return {windows::toUtf8(vigil + L"\\agent.conf"), windows::toUtf8(vigil + L"\\agent")};
}

}  // namespace vigil::agent
