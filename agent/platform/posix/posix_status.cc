#include "agent/platform/posix/posix_status.h"

#include <cerrno>
#include <system_error>

namespace vigil::agent::posix {

std::string errnoText(int err) { return std::generic_category().message(err); }

Status errnoStatus(const std::string& what, int err) {
  std::string message = what + ": " + errnoText(err);
  switch (err) {
    case EACCES:
    case EPERM:
      return Status::permissionDenied(std::move(message));
    case ENOENT:
      return Status::notFound(std::move(message));
    default:
      return Status::ioError(std::move(message));
  }
}

}  // namespace vigil::agent::posix
