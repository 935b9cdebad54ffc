#pragma once

#include "common/status.h"

namespace vigil::agent::windows {

// Starts Winsock 2.2 for the process the first time it is called (WSAStartup, never undone:
// Winsock stays usable until the process exits); returns that first call's result every time.
// Thread-safe.
Status ensureWinsockStarted();

}  // namespace vigil::agent::windows
