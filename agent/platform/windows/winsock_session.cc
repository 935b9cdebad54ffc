#include "agent/platform/windows/winsock_session.h"

#include <winsock2.h>

#include "agent/platform/windows/win32_status.h"

namespace vigil::agent::windows {

Status ensureWinsockStarted() {
  static const Status started = [] {
    WSADATA data;
    const int rc = WSAStartup(MAKEWORD(2, 2), &data);
    if (rc != 0) return win32Status("WSAStartup", static_cast<DWORD>(rc));
    return Status::okStatus();
  }();
  return started;
}

}  // namespace vigil::agent::windows
