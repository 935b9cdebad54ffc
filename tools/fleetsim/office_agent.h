#pragma once

// One real vigil-agent process on an agent host of the office network (site_network.h): it
// reaches the collector over HTTPS through its office's uplink, trusting the run's CA only,
// and its peer announcements go to its office LAN's broadcast address (the agent's default).

#include <memory>
#include <string>
#include <vector>

namespace vigil::testing {
class ChildProcess;
}

namespace vigil::fleetsim {

struct OfficeAgentSetup {
  std::vector<std::string> launcher;  // SiteNetwork::launcher() of its host
  std::string binary;                 // vigil-agent
  std::string server_url;             // https://<collector address>:<port>
  std::string ca_file;
  std::string enroll_token;  // its office's
  std::string state_dir;     // its log is state_dir + ".log"
};

class OfficeAgent {
 public:
  explicit OfficeAgent(OfficeAgentSetup setup);
  ~OfficeAgent();  // SIGKILL if still running
  OfficeAgent(const OfficeAgent&) = delete;
  OfficeAgent& operator=(const OfficeAgent&) = delete;

  // Starts the process (it enrolls at its first start). Its first heartbeat goes at once
  // (start_delay_max_s=0, whenever the machine booted), so the start time sets its phase.
  void start();
  void kill();  // SIGKILL (a crash: no goodbye), waits for the exit
  void stop();  // SIGTERM (a goodbye), waits for the exit (SIGKILL after 10 s)
  bool running();
  // The agent id from its identity file; empty before enrollment.
  std::string agentId() const;
  const std::string& logPath() const { return log_path_; }

 private:
  OfficeAgentSetup setup_;
  std::string log_path_;
  std::unique_ptr<testing::ChildProcess> process_;
};

}  // namespace vigil::fleetsim
