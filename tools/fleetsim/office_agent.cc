#include "tools/fleetsim/office_agent.h"

#include <signal.h>

#include <chrono>
#include <fstream>

#include "tests/integration/harness.h"

namespace vigil::fleetsim {

OfficeAgent::OfficeAgent(OfficeAgentSetup setup)
    : setup_(std::move(setup)), log_path_(setup_.state_dir + ".log") {}

OfficeAgent::~OfficeAgent() {
  if (running()) kill();
}

void OfficeAgent::start() {
  // Its own (empty) configuration file: an agent installed on this machine must not lend it
  // its /etc/vigil/agent.conf.
  const std::string config = setup_.state_dir + ".conf";
  std::ofstream(config) << "# vigil-fleetsim: everything is on the command line\n";
  std::vector<std::string> args(setup_.launcher.begin() + 1, setup_.launcher.end());
  for (const std::string& a :
       {setup_.binary, std::string("--server"), setup_.server_url, std::string("--ca-file"),
        setup_.ca_file, std::string("--token"), setup_.enroll_token, std::string("--state-dir"),
        setup_.state_dir, std::string("--config"), config, std::string("--log-level"),
        std::string("debug"), std::string("-D"), std::string("start_delay_max_s=0")}) {
    args.push_back(a);
  }
  process_ = std::make_unique<testing::ChildProcess>(setup_.launcher.front(), args, log_path_);
}

void OfficeAgent::kill() {
  if (!process_) return;
  process_->signal(SIGKILL);
  process_->waitExit(std::chrono::seconds(10));
}

void OfficeAgent::stop() {
  if (!process_) return;
  process_->signal(SIGTERM);
  if (!process_->waitExit(std::chrono::seconds(10))) kill();
}

bool OfficeAgent::running() { return process_ && process_->running(); }

std::string OfficeAgent::agentId() const { return testing::enrolledAgentId(setup_.state_dir); }

}  // namespace vigil::fleetsim
