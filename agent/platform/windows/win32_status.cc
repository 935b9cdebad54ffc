#include "agent/platform/windows/win32_status.h"

#include "agent/platform/windows/wide_strings.h"
#include "agent/platform/windows/win32_handle.h"

namespace vigil::agent::windows {
namespace {

// The system's text for `code`, without the trailing ".\r\n"; empty if it has none.
std::string systemMessage(DWORD code) {
  wchar_t* buffer = nullptr;
  const DWORD length = FormatMessageW(
      FORMAT_MESSAGE_ALLOCATE_BUFFER | FORMAT_MESSAGE_FROM_SYSTEM | FORMAT_MESSAGE_IGNORE_INSERTS,
      nullptr, code, MAKELANGID(LANG_NEUTRAL, SUBLANG_DEFAULT), reinterpret_cast<wchar_t*>(&buffer),
      0, nullptr);
  UniqueLocalMemory owner(buffer);
  if (length == 0 || buffer == nullptr) return std::string();
  std::wstring text(buffer, length);
  while (!text.empty() && (text.back() == L'\n' || text.back() == L'\r' || text.back() == L' ' ||
                           text.back() == L'.')) {
    text.pop_back();
  }
  return toUtf8(text);
}

}  // namespace

Status win32Status(const std::string& what, DWORD code) {
  std::string message = systemMessage(code);
  std::string text = what + ": " + (message.empty() ? "unknown error" : message) + " (error " +
                     std::to_string(code) + ")";
  switch (code) {
    case ERROR_ACCESS_DENIED:
    case ERROR_PRIVILEGE_NOT_HELD:
    case ERROR_INVALID_OWNER:
    case WSAEACCES:
      return Status::permissionDenied(std::move(text));
    case ERROR_FILE_NOT_FOUND:
    case ERROR_PATH_NOT_FOUND:
      return Status::notFound(std::move(text));
    default:
      return Status::ioError(std::move(text));
  }
}

Status lastErrorStatus(const std::string& what) { return win32Status(what, GetLastError()); }

}  // namespace vigil::agent::windows
