#pragma once

// Platform pieces that Linux and macOS share (POSIX sockets, file modes, signals).

#include <memory>

#include "agent/core/platform.h"

namespace vigil::agent::posix {

// UDP sockets over BSD sockets; broadcastAddresses() from getifaddrs(3).
std::unique_ptr<UdpSocketFactory> makeUdpSocketFactory();

// Directory 0700 (refusing non-directories, sticky shared directories and directories owned by
// another user), files 0600. Messages name the path and the OS error.
std::unique_ptr<StateProtection> makeStateProtection();

// A ServiceHost for a daemon that runs in the foreground under a service manager: blocks
// SIGTERM, SIGINT and SIGHUP in every thread, waits for them on a thread of its own and posts
// SystemEvent::kServiceStop for SIGTERM and SIGINT (SIGHUP is reserved for a configuration
// reload and ignored for now); reports through `control` (systemd's sd_notify on Linux; on macOS
// launchd needs no report, so a control that does nothing). The body is handed `control` and
// reports ready, alive and stopping itself. SIGUSR2 is the host's own: run() blocks it too and
// uses it to end its signal thread, so the agent must not use it. When run() returns, the
// calling thread's signal mask is restored; threads the body started keep theirs.
// REQUIRES: run() is called before any other thread is started (so the signal mask is
// inherited by every thread).
std::unique_ptr<ServiceHost> makeSignalServiceHost(std::unique_ptr<ServiceControl> control);

// A ServiceControl that reports nothing (no service manager watching).
std::unique_ptr<ServiceControl> makeSilentServiceControl();

}  // namespace vigil::agent::posix
