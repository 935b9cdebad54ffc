#include "tests/windows/wine_prefix.h"

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <initializer_list>
#include <stdexcept>
#include <vector>

namespace vigil::testing {
namespace {

// The installed wine program `names` (first found) in PATH or /usr/lib/wine, looked up when a
// test runs: wine is installed by the Windows step, after the build was configured.
std::string wineProgram(std::initializer_list<const char*> names) {
  for (const char* name : names) {
    if (std::string found = findExecutable(name, {"/usr/lib/wine"}); !found.empty()) return found;
  }
  throw std::runtime_error(std::string("wine is not installed (no ") + *names.begin() +
                           "): scripts/install-deps.sh --windows installs it");
}

}  // namespace

WinePrefix::WinePrefix(std::string dir) : dir_(std::move(dir)) {
  std::filesystem::remove_all(dir_);
  std::filesystem::create_directories(dir_);
  const std::string log = dir_ + ".log";
  // `wineserver -p` detaches and stays until `wineserver -k`; the server must find its
  // prefix directory, hence made first.
  ChildProcess server(wineProgram({"wineserver"}), {"-p"}, log, environment());
  if (server.waitExit(std::chrono::seconds(30)) != 0) {
    throw std::runtime_error("wineserver -p failed:\n" + logTail(log));
  }
  // The first program sets the prefix up (wineboot) and starts its services.
  if (run({"cmd.exe", "/c", "exit"}, log, std::chrono::seconds(180)) != 0) {
    throw std::runtime_error("wine could not set up " + dir_ + ":\n" + logTail(log));
  }
}

WinePrefix::~WinePrefix() {
  ChildProcess kill(wineProgram({"wineserver"}), {"-k"}, dir_ + ".log", environment());
  kill.waitExit(std::chrono::seconds(30));
}

std::map<std::string, std::string> WinePrefix::environment() const {
  // mscoree and mshtml off: a fresh prefix never offers to install Mono or Gecko.
  return {{"WINEPREFIX", dir_}, {"WINEDEBUG", "-all"}, {"WINEDLLOVERRIDES", "mscoree,mshtml="}};
}

std::unique_ptr<ChildProcess> WinePrefix::start(const std::vector<std::string>& args,
                                                const std::string& log_path) const {
  return std::make_unique<ChildProcess>(wineProgram({"wine64", "wine"}), args, log_path,
                                        environment());
}

int WinePrefix::run(const std::vector<std::string>& args, const std::string& log_path,
                    std::chrono::seconds timeout) const {
  auto process = start(args, log_path);
  const std::optional<int> code = process->waitExit(timeout);
  if (!code) throw std::runtime_error(args.front() + " still running after its timeout");
  return *code;
}

std::string windowsPath(const std::string& linux_path) {
  std::string path = "Z:" + linux_path;
  std::replace(path.begin(), path.end(), '/', '\\');
  return path;
}

}  // namespace vigil::testing
