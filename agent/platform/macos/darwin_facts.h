#pragma once

// How the values the Darwin kernel reports become the agent's facts and boot identity. Pure
// functions with no OS header, so they are tested on every build host.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace vigil::agent::macos {

// The host name to report from gethostname(3). macOS answers "<LocalHostName>.local" when no
// DNS name is configured (the Bonjour name); that ".local" suffix (any case) and a trailing dot
// are removed. Any other name, including a DNS FQDN, is kept as it is.
std::string reportedHostname(std::string_view gethostname_value);

// "macOS <kern.osproductversion>" (e.g. "macOS 14.5") when the product version is known,
// else "Darwin <kern.osrelease>" (e.g. "Darwin 23.5.0"), else "Darwin".
std::string osVersionText(const std::optional<std::string>& product_version,
                          const std::optional<std::string>& kernel_release);

// The machine's architecture from hw.machine ("arm64", "x86_64"). An x86_64 binary running
// under Rosetta (sysctl.proc_translated = 1) sees "x86_64" but runs on an "arm64" machine.
std::string reportedArch(std::string_view hw_machine, bool rosetta_translated);

// "boot-<s>" where s is the boot time in Unix seconds rounded down to a multiple of 10, so
// that a slew of the wall clock by a few seconds (which moves kern.boottime) rarely changes it.
std::string bootIdForBootTime(int64_t boot_unix_s);

// now - boot time in whole seconds; 0 if the wall clock is behind the boot time.
uint64_t uptimeSeconds(int64_t boot_unix_s, int64_t now_unix_s);

}  // namespace vigil::agent::macos
