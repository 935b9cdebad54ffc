#pragma once

// Admin writes a cluster scenario makes while its faults go on (docs/scenarios.md, "Cluster
// scenarios"): through HAProxy, once a second, alternately a maintenance window far in the
// future on a site of the writer's own (which holds no agent, so the windows change nothing
// the verdict watches) and a rename of that site. At the end every acknowledged write is read
// back through each collector directly: none may be lost, whichever collector took it and
// whatever failed meanwhile.
//
// Thread safety: start() and stop() from one thread; the writes run on a thread of their own.

#include <atomic>
#include <chrono>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "common/status.h"
#include "tools/fleetsim/collector_control.h"
#include "tools/fleetsim/report.h"

namespace vigil::fleetsim {

class AdminWriter {
 public:
  // `through`: HAProxy's address with an admin token.
  AdminWriter(const CollectorHttp& through, int64_t tenant_id, std::chrono::milliseconds every);
  ~AdminWriter();  // stop()s
  AdminWriter(const AdminWriter&) = delete;
  AdminWriter& operator=(const AdminWriter&) = delete;

  // Creates the writer's site (before the faults: setup, not a write under test).
  Status prepare();
  int64_t siteId() const { return site_id_; }
  void start();
  void stop();

  // Reads every write back through each of `collectors` (name, its own address with the admin
  // token): an acknowledged window must be there with its note on every collector, and the
  // site's name must be that of its last acknowledged rename or of a rename made after it
  // (answered or not).
  std::vector<AdminWrite> readBack(
      const std::vector<std::pair<std::string, const CollectorHttp*>>& collectors) const;

 private:
  struct Write {
    bool window = false;  // a maintenance window; else a rename of the site
    std::string value;    // the window's note, or the site's new name
    int64_t window_id = 0;
    bool acknowledged = false;
  };
  void writeOnce();

  CollectorHttp through_;
  const int64_t tenant_id_;
  const std::chrono::milliseconds every_;
  int64_t site_id_ = 0;
  mutable std::mutex mu_;  // guards writes_
  std::vector<Write> writes_;
  std::atomic<bool> running_{false};
  std::thread thread_;
};

}  // namespace vigil::fleetsim
