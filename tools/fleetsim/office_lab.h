#pragma once

// Real vigil-agent processes in offices (docs/scenarios.md, "Real agents in offices"): the
// office network (site_network.h), one OfficeAgent per host, the faults a scenario's timeline
// applies to them (an office's uplink cut and healed, an agent killed and restarted), and what
// the collector's API showed at those moments, kept for the verdict (office_verdict.h).
// Used from the runner's timeline thread only.

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "tools/fleetsim/collector_control.h"
#include "tools/fleetsim/office_agent.h"
#include "tools/fleetsim/office_verdict.h"
#include "tools/fleetsim/report.h"
#include "tools/fleetsim/site_network.h"

namespace vigil::fleetsim {

struct OfficeLabSetup {
  std::string network_script;  // site_network.sh
  uint32_t sites = 0;
  uint32_t agents_per_site = 0;
  std::string agent_binary;
  std::string work_dir;  // agents' state directories and logs
};

// The heartbeat phases a cut can wait for, by the collector's evidence (seconds since each
// agent's last heartbeat reached it): issue 16's cut met one agent of the office about to beat
// (its last beat ~0.9 interval old) and the others just after theirs, and the agent killed at
// the same moment in another office had just beaten too.
struct PhaseWanted {
  double oldest_at_least_s = 0;            // one agent of the cut office
  std::optional<double> others_at_most_s;  // every other agent of it, if set
  std::string fresh_agent;                 // if set: this agent,
  std::string fresh_office;                // if set: an agent of this office never killed before,
  double fresh_at_most_s = 0;              // beat at most this long ago
};

class OfficeLab {
 public:
  // Builds the network. permissionDenied when the machine cannot (not root).
  static Result<std::unique_ptr<OfficeLab>> create(const OfficeLabSetup& setup);
  ~OfficeLab();  // kills the agents still running, then removes the network

  static std::string siteLabel(uint32_t site);                  // "office-1"
  static std::string agentName(uint32_t site, uint32_t index);  // "office-1/2"
  std::vector<std::string> siteLabels() const;
  // Where the collector must listen for the agents (and where the runner reaches it).
  const std::string& collectorAddress() const { return network_->collectorAddress(); }

  // Starts every agent against `server_url`, trusting `ca_file`, with its office's enrollment
  // token, and reads the collector's API through `http` from then on (REQUIRES: `http`
  // outlives the lab). Agent j of every office starts `offsets[j]` after the first (0 past the
  // list): its first heartbeat goes at its start, which sets its phase. Waits (at most
  // `timeout`) until every agent has enrolled.
  Status startAgents(const CollectorHttp& http, const std::map<std::string, EnrollableSite>& sites,
                     const std::string& server_url, const std::string& ca_file,
                     const std::vector<std::chrono::milliseconds>& offsets,
                     std::chrono::seconds timeout);
  // The agents, office by office, for the run's list of agents.
  std::vector<RunAgent> agents() const;

  // Waits until the phases are as `wanted` for a cut of `site`, at most `timeout`; returns
  // how long it waited. Not reaching them is noted, not an error.
  Result<std::chrono::milliseconds> awaitPhase(const std::string& site, const PhaseWanted& wanted,
                                               std::chrono::milliseconds timeout);
  // The faults, each recorded with what the API showed: cut() reads each agent's heartbeat
  // age first, heal() each agent's status and the office's open site alerts, a kill the
  // agent's heartbeat age.
  Status cut(const std::string& site);
  Status heal(const std::string& site);
  Status kill(const std::string& agent);
  // Kills the running agent of `site`, never killed before, whose heartbeat is the freshest.
  Status killFreshest(const std::string& site);
  Status restart(const std::string& agent);
  // Restarts every agent of `site` that was killed and is not running.
  Status restartKilled(const std::string& site);
  // SIGTERM to every agent still running (after the verdict's reading: they say goodbye).
  void stopAgents();

  const OfficeRun& run() const { return run_; }
  const std::vector<std::string>& notes() const { return notes_; }
  // The faults as ground truth for the run's verdict: cut agents partitioned, killed ones dead;
  // agent i of agents() is `first_agent` + i.
  std::vector<TruthEvent> truth(uint32_t first_agent) const;

 private:
  struct Member {
    std::string name;
    uint32_t site = 0;
    std::unique_ptr<OfficeAgent> agent;
  };
  struct Seen {  // one agent as GET /api/v1/agents shows it
    std::string name;
    std::string status;
    double heartbeat_age_s = -1;  // -1: never heard
  };

  OfficeLab(OfficeLabSetup setup, std::unique_ptr<SiteNetwork> network);
  Result<uint32_t> siteIndex(const std::string& label) const;
  Status addMembers(const std::map<std::string, EnrollableSite>& sites,
                    const std::string& server_url, const std::string& ca_file);
  // Agent j of every office starts offsets[j] after the first (0 past the list).
  void startInPhaseOrder(const std::vector<std::chrono::milliseconds>& offsets);
  Member* member(const std::string& name);
  bool killedBefore(const std::string& name) const;
  Status killMember(Member& m, double heartbeat_age_s);
  Result<std::vector<Seen>> readAgents(const std::string& site) const;
  Result<std::vector<int64_t>> readOpenSiteAlerts(const std::string& site) const;
  // Whether the phases are as `wanted` now; `ages` gets every agent's heartbeat age read.
  Result<bool> phasesReached(const std::string& site, const PhaseWanted& wanted,
                             std::string* ages) const;

  OfficeLabSetup setup_;
  std::unique_ptr<SiteNetwork> network_;
  std::vector<Member> members_;  // office by office
  const CollectorHttp* http_ = nullptr;
  OfficeRun run_;  // what was done, with the offices' collector site ids
  std::vector<std::string> notes_;
};

}  // namespace vigil::fleetsim
