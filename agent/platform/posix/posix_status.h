#pragma once

// The one place where POSIX errors become vigil Status values (Linux and macOS code alike).

#include <string>

#include "common/status.h"

namespace vigil::agent::posix {

// A failed call as "what: strerror(err)". EACCES and EPERM become kPermissionDenied, ENOENT
// kNotFound, anything else kIoError.
Status errnoStatus(const std::string& what, int err);

// strerror(err), thread-safe.
std::string errnoText(int err);

}  // namespace vigil::agent::posix
