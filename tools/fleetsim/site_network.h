#pragma once

// The office network of a scenario with real agents in offices (site_network.sh beside this
// file): every agent host a network namespace of its own, the hosts of one office on one LAN,
// each office joined to the collector's host by its own uplink, which a fault cuts and heals.
// The script owns everything it makes and removes it when its input ends, so the network is
// gone on every exit of the runner, SIGKILL included. Linux, root only.

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/status.h"

namespace vigil::fleetsim {

// One agent host: a network namespace on its office's LAN.
struct AgentHost {
  uint32_t site = 0;   // office, from 0
  uint32_t index = 0;  // host within the office, from 0
  std::string netns;   // the namespace's path (/proc/PID/ns/net of the process holding it)
  std::string address;
};

class SiteNetwork {
 public:
  // Runs `script` for `sites` offices of `hosts_per_site` hosts and waits (at most `timeout`)
  // until it reports the network up. permissionDenied when not root: the machine cannot make
  // namespaces (a scenario is then skipped); any other error is a failure.
  static Result<std::unique_ptr<SiteNetwork>> create(const std::string& script, uint32_t sites,
                                                     uint32_t hosts_per_site,
                                                     std::chrono::seconds timeout);
  // Ends the script's input and waits (bounded) for it to remove the network.
  ~SiteNetwork();
  SiteNetwork(const SiteNetwork&) = delete;
  SiteNetwork& operator=(const SiteNetwork&) = delete;

  // The collector's host address on the network (the collector listens there; the runner
  // reaches it there too).
  const std::string& collectorAddress() const { return collector_address_; }
  const std::vector<AgentHost>& hosts() const { return hosts_; }
  // The command line that runs a program inside `host`'s namespace: append the program and
  // its arguments. The program keeps its process id (nsenter execs it).
  std::vector<std::string> launcher(const AgentHost& host) const;

  // The office's uplink goes down (its LAN stays up) / comes back. Returns once done.
  Status cut(uint32_t site);
  Status heal(uint32_t site);

 private:
  SiteNetwork(pid_t pid, int to_script, int from_script, std::string nsenter_binary);
  Result<std::string> readLine(std::chrono::steady_clock::time_point deadline);
  Status command(const std::string& verb, uint32_t site);

  pid_t pid_;
  int to_script_;
  int from_script_;
  std::string nsenter_binary_;
  std::string pending_;  // read from the script, not yet a whole line
  std::string collector_address_;
  std::vector<AgentHost> hosts_;
};

}  // namespace vigil::fleetsim
