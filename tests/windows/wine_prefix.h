#pragma once

// A wine prefix of its own for one test: the Windows programs a test runs (vigil-agent.exe,
// msiexec, sc) run in it, under one persistent wineserver (`wineserver -p`: without it wine
// stops a service a few seconds after the last ordinary process exits). Linux only.

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "tests/integration/harness.h"

namespace vigil::testing {

class WinePrefix {
 public:
  // Makes a fresh prefix in `dir` (removed first if it exists), starts its wineserver and
  // waits until wine has set the prefix up. Throws if wine cannot.
  explicit WinePrefix(std::string dir);
  // Stops every process of the prefix (`wineserver -k`).
  ~WinePrefix();
  WinePrefix(const WinePrefix&) = delete;
  WinePrefix& operator=(const WinePrefix&) = delete;

  // Starts a Windows program (`args[0]` an exe path or a program wine knows, like msiexec)
  // with its output appended to `log_path`.
  std::unique_ptr<ChildProcess> start(const std::vector<std::string>& args,
                                      const std::string& log_path) const;
  // Runs it to its end; returns its exit code. Throws if it is still running after `timeout`.
  int run(const std::vector<std::string>& args, const std::string& log_path,
          std::chrono::seconds timeout) const;

  // The prefix's C: drive as a Linux path (…/drive_c).
  std::string driveC() const { return dir_ + "/drive_c"; }

 private:
  std::map<std::string, std::string> environment() const;

  std::string dir_;
};

// A Linux path as a Windows program under wine names it (Z: is the Linux root).
std::string windowsPath(const std::string& linux_path);

}  // namespace vigil::testing
