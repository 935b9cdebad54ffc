#pragma once

// The scenario runner's sampler: four times a second, each collector's resident memory and CPU
// time from /proc and its /metrics (requests shed, connections refused; for a cluster also its
// health: when it was degraded and why, and whether it answers at all, which a load balancer's
// check would see), across all its lives.
//
// Thread safety: start() and stop() from one thread; the readings from any.

#include <atomic>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "tools/fleetsim/collector_control.h"
#include "tools/fleetsim/report.h"

namespace vigil::fleetsim {

// A metric's value summed over its label sets, from a Prometheus text exposition.
double metricSum(const std::string& text, const std::string& name);

class CollectorSampler {
 public:
  struct Target {
    std::string name;
    CollectorControl* collector;
  };
  struct Options {
    // Records each collector's degraded periods from its vigil_collector_degraded gauge (a
    // cluster's collectors: their webhooks do not say which of them is degraded).
    bool track_health = false;
    // Called after each sample of target i: whether its /metrics answered.
    std::function<void(size_t target, bool answered)> on_answer;
  };
  CollectorSampler(std::vector<Target> targets, Options options);
  ~CollectorSampler();  // stop()s
  CollectorSampler(const CollectorSampler&) = delete;
  CollectorSampler& operator=(const CollectorSampler&) = delete;

  void start();
  void stop();

  std::vector<CollectorUsage> usage() const;
  // vigil_http_requests_shed_total and vigil_http_connections_refused_total, summed over the
  // collectors and their lives.
  uint64_t shed() const;
  uint64_t refused() const;
  // The degraded periods seen (track_health), each with the collector's name first among its
  // reasons; one still open ends at `end`.
  std::vector<DegradedPeriod> degraded(WallTime end) const;

 private:
  struct State;
  void sampleOnce();

  std::vector<Target> targets_;
  Options options_;
  mutable std::mutex mu_;  // guards states_
  std::vector<State> states_;
  std::atomic<bool> running_{false};
  std::thread thread_;
};

}  // namespace vigil::fleetsim
