#pragma once

#include <cstdint>
#include <string>

#include "common/status.h"

namespace vigil::agent {

// Facts about the endpoint that change rarely (sent at enrollment and on the first beat).
struct SystemFacts {
  std::string hostname;
  std::string os_name;     // "linux", "windows", "macos"
  std::string os_version;  // e.g. "Debian GNU/Linux 12 (bookworm)"
  std::string arch;        // e.g. "x86_64"
};

// Which boot of the endpoint this is, and how long it has been up.
struct BootIdentity {
  std::string boot_id;  // changes at every boot
  uint64_t uptime_s = 0;
};

// The agent's view of its operating system. One implementation per OS lives in
// agent/platform/<os>/; tests use fakes. Implementations need not be thread-safe.
class SystemInfo {
 public:
  virtual ~SystemInfo() = default;
  virtual Result<SystemFacts> facts() = 0;
  virtual Result<BootIdentity> bootIdentity() = 0;
};

}  // namespace vigil::agent
