#pragma once

// The owner of a POSIX file descriptor (common/unique_fd.h), and descriptor flags.

#include "common/status.h"
#include "common/unique_fd.h"

namespace vigil::agent::posix {

using UniqueFd = vigil::UniqueFd;

// Sets FD_CLOEXEC on `fd`, so programs the agent might exec do not inherit it.
Status setCloseOnExec(int fd);
// Sets O_NONBLOCK on `fd`.
Status setNonBlocking(int fd);

}  // namespace vigil::agent::posix
