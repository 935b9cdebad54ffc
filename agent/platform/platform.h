#pragma once

#include "agent/core/platform.h"

namespace vigil::agent {

// Every platform concern for the operating system this binary was built for
// (agent/platform/<os>/). Each member is set; a concern the OS cannot serve is an
// implementation that says so through its Status results.
Platform makePlatform();

}  // namespace vigil::agent
