#pragma once

// The steps of a cluster scenario's timeline (docs/scenarios.md, "Cluster scenarios"): what
// each does to the lab (tools/fleetsim/cluster_lab.h), and what it records for the verdict: the
// collectors killed, the windows in which part of the cluster could not work, and any fault
// after which the cluster did not settle. A step that ends a fault (a collector started or
// thawed, the database back or healed, a collector added or removed) waits until the cluster
// has settled; the time any step takes delays the steps after it.

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <string>

#include "tools/fleetsim/cluster_lab.h"
#include "tools/fleetsim/report.h"
#include "tools/fleetsim/scenario.h"

namespace vigil::fleetsim {

// An action a cluster's lab carries out (the others, of the fleet, the runner's own).
bool isClusterAction(const std::string& action);

class ClusterTimeline {
 public:
  // `shift`: how much later than written the runner runs its steps; each step adds what it
  // took. `busiest`: the collector "busiest" names.
  ClusterTimeline(ClusterLab& lab, RunObservations& obs, std::chrono::steady_clock::duration& shift,
                  uint32_t busiest, std::chrono::seconds settle_timeout,
                  std::function<void(const std::string&)> progress);

  // The collector `step` names (collector_add: the one it adds).
  uint32_t collectorOf(const FaultStep& step) const;
  // The action of `step`, to run when its time comes. Call in the timeline's order.
  std::function<void()> action(const FaultStep& step);
  // Ends the windows of faults the timeline left on (the runner ended them).
  void closeWindows();

 private:
  void settle(const std::string& after);
  void down(const std::string& what);
  void up(const std::string& what);

  ClusterLab& lab_;
  RunObservations& obs_;
  std::chrono::steady_clock::duration& shift_;
  const uint32_t busiest_;
  const std::chrono::seconds settle_timeout_;
  const std::function<void(const std::string&)> progress_;
  uint32_t added_ = 0;                          // collector_add steps so far
  std::map<std::string, WallTime> down_since_;  // a fault's target -> since when
};

}  // namespace vigil::fleetsim
