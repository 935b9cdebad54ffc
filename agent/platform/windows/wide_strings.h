#pragma once

// The one place UTF-8 (what the agent and its files speak) and UTF-16 (what the wide Win32
// APIs take) are converted into each other.

#include <string>
#include <string_view>

#include "common/status.h"

namespace vigil::agent::windows {

// UTF-16 from the OS to UTF-8. Never fails: an unpaired surrogate becomes U+FFFD.
std::string toUtf8(std::wstring_view wide);

// UTF-8 to UTF-16 for a wide API. Fails on invalid UTF-8 (kInvalidArgument) rather than pass a
// different name to the OS.
Result<std::wstring> toWide(std::string_view utf8);

}  // namespace vigil::agent::windows
