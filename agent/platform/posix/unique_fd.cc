#include "agent/platform/posix/unique_fd.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

#include "agent/platform/posix/posix_status.h"

namespace vigil::agent::posix {

Status setCloseOnExec(int fd) {
  const int flags = ::fcntl(fd, F_GETFD);
  if (flags < 0 || ::fcntl(fd, F_SETFD, flags | FD_CLOEXEC) < 0) {
    return errnoStatus("fcntl(FD_CLOEXEC)", errno);
  }
  return Status::okStatus();
}

Status setNonBlocking(int fd) {
  const int flags = ::fcntl(fd, F_GETFL);
  if (flags < 0 || ::fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) {
    return errnoStatus("fcntl(O_NONBLOCK)", errno);
  }
  return Status::okStatus();
}

}  // namespace vigil::agent::posix
