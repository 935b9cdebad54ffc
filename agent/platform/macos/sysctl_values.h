#pragma once

// Reading kernel values by name with sysctlbyname(3).

#include <cstddef>
#include <string>

#include "common/status.h"

namespace vigil::agent::macos {

// The string value of `name` (e.g. "kern.osproductversion"), without the trailing NUL.
// A name this kernel does not have is kNotFound.
Result<std::string> sysctlString(const char* name);

// Copies the fixed-size value of `name` (an int, a struct timeval) into `out`. A value whose
// size is not exactly `size` is an error, never a partial copy.
Status sysctlFixed(const char* name, void* out, size_t size);

}  // namespace vigil::agent::macos
