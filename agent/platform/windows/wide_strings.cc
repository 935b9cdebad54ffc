#include "agent/platform/windows/wide_strings.h"

#include <windows.h>

#include <limits>

namespace vigil::agent::windows {

std::string toUtf8(std::wstring_view wide) {
  if (wide.empty() || wide.size() > static_cast<size_t>(std::numeric_limits<int>::max())) {
    return std::string();
  }
  const int wide_len = static_cast<int>(wide.size());
  const int len =
      WideCharToMultiByte(CP_UTF8, 0, wide.data(), wide_len, nullptr, 0, nullptr, nullptr);
  if (len <= 0) return std::string();
  std::string out(static_cast<size_t>(len), '\0');
  WideCharToMultiByte(CP_UTF8, 0, wide.data(), wide_len, out.data(), len, nullptr, nullptr);
  return out;
}

Result<std::wstring> toWide(std::string_view utf8) {
  if (utf8.empty()) return std::wstring();
  if (utf8.size() > static_cast<size_t>(std::numeric_limits<int>::max())) {
    return Status::invalidArgument("string too long for a Windows API");
  }
  const int utf8_len = static_cast<int>(utf8.size());
  const int len =
      MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, utf8.data(), utf8_len, nullptr, 0);
  if (len <= 0) return Status::invalidArgument("not valid UTF-8: " + std::string(utf8));
  std::wstring out(static_cast<size_t>(len), L'\0');
  MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, utf8.data(), utf8_len, out.data(), len);
  return out;
}

}  // namespace vigil::agent::windows
