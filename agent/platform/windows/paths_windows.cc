#include "agent/platform/windows/paths_windows.h"

#include <windows.h>
// (knownfolders.h and shlobj.h need windows.h first.)
#include <knownfolders.h>
#include <shlobj.h>

#include <memory>

#include "agent/platform/windows/wide_strings.h"

namespace vigil::agent::windows {
namespace {

struct CoTaskMemDeleter {
  void operator()(wchar_t* p) const { CoTaskMemFree(p); }
};

std::wstring programData() {
  wchar_t* raw = nullptr;
  const HRESULT hr = SHGetKnownFolderPath(FOLDERID_ProgramData, KF_FLAG_DEFAULT, nullptr, &raw);
  std::unique_ptr<wchar_t, CoTaskMemDeleter> path(raw);  // freed even on failure
  if (SUCCEEDED(hr) && path && path.get()[0] != L'\0') return path.get();

  wchar_t buffer[MAX_PATH];
  const DWORD n = GetEnvironmentVariableW(L"ProgramData", buffer, MAX_PATH);
  if (n > 0 && n < MAX_PATH) return std::wstring(buffer, n);
  return L"C:\\ProgramData";
}

}  // namespace

std::string defaultStateDirectory() {
  std::wstring dir = programData();
  if (!dir.empty() && dir.back() == L'\\') dir.pop_back();
  return toUtf8(dir + L"\\Vigil\\agent");
}

}  // namespace vigil::agent::windows
