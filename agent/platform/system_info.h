#pragma once

#include <memory>

#include "agent/core/system_info.h"

namespace vigil::agent {

// The SystemInfo of the operating system this binary was built for (agent/platform/<os>/).
std::unique_ptr<SystemInfo> makePlatformSystemInfo();

}  // namespace vigil::agent
