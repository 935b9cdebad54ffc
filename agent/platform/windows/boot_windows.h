#pragma once

#include <cstdint>
#include <string>

namespace vigil::agent::windows {

// The boot_id of a boot that happened at `boot_unix_ms` (milliseconds since the Unix epoch):
// "boot-" and the boot time in Unix seconds rounded to the nearest multiple of 10, so the
// jitter between reading the clock and the tick count does not change it (agent/core/platform.h).
std::string bootIdForBootTime(int64_t boot_unix_ms);

}  // namespace vigil::agent::windows
