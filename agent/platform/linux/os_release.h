#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace vigil::agent::linux_platform {

// The value of `key` in os-release(5) text: `KEY=value` lines, the value optionally in single
// or double quotes with backslash escapes. nullopt if the key is absent or empty.
std::optional<std::string> osReleaseValue(std::string_view text, std::string_view key);

// The first number of /proc/uptime ("12345.67 54321.00"), in whole seconds.
std::optional<uint64_t> parseProcUptime(std::string_view text);

}  // namespace vigil::agent::linux_platform
