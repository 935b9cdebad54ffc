#include "tools/fleetsim/site_network.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <sstream>

#include "tests/integration/harness.h"

namespace vigil::fleetsim {
namespace {

using std::chrono::steady_clock;

// `name` in PATH, then where Debian puts ip (/usr/sbin, often not in a user's PATH).
std::string findExecutable(const std::string& name) {
  return testing::findExecutable(name, {"/usr/sbin", "/sbin"});
}

Status osError(const std::string& what) {
  return Status::internal(what + ": " + std::strerror(errno));
}

}  // namespace

Result<std::unique_ptr<SiteNetwork>> SiteNetwork::create(const std::string& script, uint32_t sites,
                                                         uint32_t hosts_per_site,
                                                         std::chrono::seconds timeout) {
  if (::geteuid() != 0) {
    return Status::permissionDenied("real agents in offices need network namespaces: run as root");
  }
  if (findExecutable("ip").empty()) {
    return Status::notFound("ip (iproute2) not found: scripts/install-deps.sh --test");
  }
  const std::string nsenter = findExecutable("nsenter");
  if (nsenter.empty()) return Status::notFound("nsenter (util-linux) not found");
  if (::access(script.c_str(), R_OK) != 0) return osError("cannot read " + script);
  // A write to a script that already exited must fail as EPIPE, not end the runner.
  ::signal(SIGPIPE, SIG_IGN);
  int to_script[2];
  int from_script[2];
  if (::pipe2(to_script, O_CLOEXEC) != 0) return osError("pipe");
  if (::pipe2(from_script, O_CLOEXEC) != 0) {
    ::close(to_script[0]);
    ::close(to_script[1]);
    return osError("pipe");
  }
  const std::string owner = std::to_string(::getpid());
  const std::string site_count = std::to_string(sites);
  const std::string per_site = std::to_string(hosts_per_site);
  const pid_t pid = ::fork();
  if (pid == 0) {
    // A process group of its own: a terminal's Ctrl-C ends the runner, and the end of its
    // input then tells the script to clean up (it would not get the chance if killed along).
    ::setpgid(0, 0);
    ::dup2(to_script[0], STDIN_FILENO);
    ::dup2(from_script[1], STDOUT_FILENO);
    ::execl("/bin/bash", "bash", script.c_str(), owner.c_str(), site_count.c_str(),
            per_site.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  ::close(to_script[0]);
  ::close(from_script[1]);
  if (pid < 0) {
    ::close(to_script[1]);
    ::close(from_script[0]);
    return osError("fork");
  }
  std::unique_ptr<SiteNetwork> network(new SiteNetwork(pid, to_script[1], from_script[0], nsenter));
  const auto deadline = steady_clock::now() + timeout;
  for (;;) {
    auto line = network->readLine(deadline);
    if (!line.ok()) return Status::unavailable("the office network: " + line.error().message());
    std::istringstream words(*line);
    std::string kind;
    words >> kind;
    if (kind == "ready") break;
    if (kind == "collector") {
      words >> network->collector_address_;
    } else if (kind == "agent") {
      AgentHost host;
      words >> host.site >> host.index >> host.netns >> host.address;
      network->hosts_.push_back(host);
    }
  }
  if (network->collector_address_.empty() || network->hosts_.size() != sites * hosts_per_site) {
    return Status::internal("the office network reported an incomplete layout");
  }
  return network;
}

SiteNetwork::SiteNetwork(pid_t pid, int to_script, int from_script, std::string nsenter_binary)
    : pid_(pid),
      to_script_(to_script),
      from_script_(from_script),
      nsenter_binary_(std::move(nsenter_binary)) {}

SiteNetwork::~SiteNetwork() {
  ::close(to_script_);
  // The script closes its output when it exits, after removing the network.
  const auto deadline = steady_clock::now() + std::chrono::seconds(60);
  for (;;) {
    auto line = readLine(deadline);
    if (!line.ok()) break;
  }
  if (steady_clock::now() >= deadline) ::kill(pid_, SIGTERM);  // its trap still cleans up
  ::close(from_script_);
  ::waitpid(pid_, nullptr, 0);
}

std::vector<std::string> SiteNetwork::launcher(const AgentHost& host) const {
  return {nsenter_binary_, "--net=" + host.netns, "--"};
}

Status SiteNetwork::cut(uint32_t site) { return command("cut", site); }

Status SiteNetwork::heal(uint32_t site) { return command("heal", site); }

Status SiteNetwork::command(const std::string& verb, uint32_t site) {
  const std::string request = verb + " " + std::to_string(site);
  const std::string line = request + "\n";
  if (::write(to_script_, line.data(), line.size()) != static_cast<ssize_t>(line.size())) {
    return osError("the office network: " + request);
  }
  auto answer = readLine(steady_clock::now() + std::chrono::seconds(10));
  if (!answer.ok()) return Status::unavailable("the office network: " + answer.error().message());
  if (*answer != "ok " + request) return Status::internal("the office network: " + *answer);
  return Status::okStatus();
}

Result<std::string> SiteNetwork::readLine(steady_clock::time_point deadline) {
  for (;;) {
    const size_t end = pending_.find('\n');
    if (end != std::string::npos) {
      std::string line = pending_.substr(0, end);
      pending_.erase(0, end + 1);
      return line;
    }
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - steady_clock::now());
    if (left.count() <= 0) return Status::unavailable("site_network.sh did not answer in time");
    pollfd p{from_script_, POLLIN, 0};
    const int ready = ::poll(&p, 1, static_cast<int>(left.count()));
    if (ready < 0 && errno != EINTR) return osError("poll");
    if (ready <= 0) continue;  // interrupted, or the deadline (checked above)
    char buf[4096];
    const ssize_t n = ::read(from_script_, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return Status::unavailable("site_network.sh ended (its errors are above)");
    pending_.append(buf, static_cast<size_t>(n));
  }
}

}  // namespace vigil::fleetsim
