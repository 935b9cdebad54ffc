#pragma once

#include <memory>

#include "agent/core/platform.h"
#include "agent/core/waiter.h"

namespace vigil::agent {

// Every platform concern for the operating system this binary was built for
// (agent/platform/<os>/). Each member is set; a concern the OS cannot serve is an
// implementation that says so through its Status results.
Platform makePlatform();

// This operating system's default config file and state directory; reads no file. On Windows
// both are under the known folder FOLDERID_ProgramData (normally C:\ProgramData).
DefaultPaths defaultPaths();

// The agent loop's Waiter for this operating system: on Linux one on CLOCK_MONOTONIC that needs
// glibc 2.28 only (agent/platform/linux/monotonic_condition.h); elsewhere
// ConditionVariableWaiter.
std::unique_ptr<Waiter> makeWaiter();

}  // namespace vigil::agent
