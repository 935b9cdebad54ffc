#pragma once

// The bench programs' view of their own memory.

#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <string>

namespace vigil::bench {

// Resident set size of this process, from /proc/self/status (0 where unavailable).
inline uint64_t residentBytes() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::strtoull(line.c_str() + 6, nullptr, 10) * 1024;
  }
  return 0;
}

}  // namespace vigil::bench
