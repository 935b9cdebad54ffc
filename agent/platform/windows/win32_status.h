#pragma once

// The one place Win32 and Winsock error codes become Status on Windows.

#include <windows.h>

#include <string>

#include "common/status.h"

namespace vigil::agent::windows {

// "<what>: <system message> (error <code>)". Access errors become kPermissionDenied, missing
// files and paths kNotFound, everything else kIoError. Also takes Winsock (WSA*) codes.
Status win32Status(const std::string& what, DWORD code);

// win32Status(what, GetLastError()). Call it before anything else can change the last error.
Status lastErrorStatus(const std::string& what);

}  // namespace vigil::agent::windows
