#pragma once

// A cluster of real collectors for the scenario runner (docs/scenarios.md, "Cluster
// scenarios"): a PostgreSQL server of its own (tests/support/postgres_server.h), collector-1 ...
// sharing one database of it (cluster.nodeName, cluster.internalUrl), each on a loopback
// address of its own (127.0.0.11, 127.0.0.12, ...) and all on one beacon port, HAProxy in front
// of them on 127.0.0.1 (its configuration made from packaging/haproxy/vigil-cluster.cfg), the
// beacons' UDP forwarder beside it, and, for a collector the timeline cuts off from the
// database, a cuttable proxy between that collector and PostgreSQL. It carries out the faults
// of a cluster's timeline, says when the cluster has settled after one, and reads PostgreSQL's
// own counters.
//
// Thread safety: everything from the runner's thread; collector(), databaseCounters() and
// setBeaconBackendUp() also from its sampler.

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "common/status.h"
#include "tools/fleetsim/collector_control.h"
#include "tools/fleetsim/report.h"

namespace vigil::testing {
class ChildProcess;
class PostgresServer;
}  // namespace vigil::testing

namespace vigil::fleetsim {

class BeaconForwarder;
class CuttableProxy;
class LabDatabase;

struct ClusterLabSetup {
  std::string collector_binary;
  std::string haproxy_binary;    // Debian's /usr/sbin/haproxy
  std::string haproxy_template;  // packaging/haproxy/vigil-cluster.cfg
  std::string work_dir;
  uint32_t collectors = 3;      // started together at the beginning
  uint32_t slots = 3;           // and those collector_add starts later (HAProxy knows them all)
  std::set<uint32_t> cuttable;  // collectors (from 1) the timeline cuts off from the database
  std::map<std::string, std::string> defines;  // settings of every collector
};

class ClusterLab {
 public:
  using Progress = std::function<void(const std::string&)>;
  // Starts PostgreSQL, the first collectors (together: one provisions the database and
  // generates the tokens), waits until they have split the shards, then HAProxy.
  static Result<std::unique_ptr<ClusterLab>> start(ClusterLabSetup setup, const Progress& progress);
  ~ClusterLab();  // kills what still runs
  ClusterLab(const ClusterLab&) = delete;
  ClusterLab& operator=(const ClusterLab&) = delete;

  // HAProxy's address: agents, the admin API (with the generated admin token) and webhooks'
  // setup all go through it.
  CollectorHttp& http() { return http_; }
  int port() const { return port_; }
  uint32_t slots() const { return static_cast<uint32_t>(slots_.size()); }
  static std::string name(uint32_t n) { return "collector-" + std::to_string(n); }
  // Collector n (from 1), started or not.
  CollectorControl& collector(uint32_t n) { return *slot(n).control; }
  // Collectors that run now (frozen or cut off too), and those that share the shards (running,
  // neither frozen nor cut off, with the database up).
  std::vector<uint32_t> running();
  std::vector<uint32_t> members();
  // Collectors that exited when the runner had not stopped or killed them (a crash), each
  // with how it ended and its log's last lines.
  const std::vector<std::string>& unexpectedExits();
  // The collectors' settings the runner needs (webhooks.workers, ...): the first one's.
  const std::map<std::string, std::string>& defines() const { return setup_.defines; }

  // Faults. Each returns once done; a start waits for the collector's /readyz.
  void kill(uint32_t n);
  Status start(uint32_t n);   // again, after kill or stop; or the first time (collector_add)
  Status stop(uint32_t n);    // SIGTERM: it hands its shards over
  Status remove(uint32_t n);  // stop(), for good: not started again at the end
  void freeze(uint32_t n);
  void thaw(uint32_t n);
  void cutDatabase(uint32_t n);
  void healDatabase(uint32_t n);
  Status restartDatabase();
  Status stopDatabase();
  Status startDatabase();
  // Ends what is still on (thaws, heals, the database up) and starts every collector killed
  // or stopped and not removed.
  Status endFaults();
  // Stops every running collector gracefully, starts them again together and waits until the
  // cluster has settled: each then knows every agent enrolled so far (a collector loads them
  // all at its start, and learns one enrolled through another collector only from the
  // database, at most 50 a second), as in a cluster that has run for a while. `changed`
  // settings apply to every collector from these starts on (the capacity search's interval).
  Status restartAll(std::chrono::seconds settle_timeout,
                    const std::map<std::string, std::string>& changed = {});

  // Waits until the cluster has settled (bounded by `timeout`): every member answers /readyz,
  // sees the others live, and holds, loaded, exactly the shards rendezvous hashing over the
  // members gives it, as the database's unexpired leases say. kDeadlineExceeded otherwise,
  // saying what is missing.
  Status awaitSettled(std::chrono::seconds timeout);
  // The member that owns the most agents now, given how many agents each site has (by the
  // collector's site id); 1 if none can be told.
  uint32_t busiest(const std::map<int64_t, uint64_t>& agents_per_site);

  // PostgreSQL's own counters of the lab's database, cumulative; nullopt while it is down.
  std::optional<DatabaseCounters> databaseCounters();
  // Transactions the lab itself ran on the database (its own reads), to leave out of the
  // counters' commits.
  uint64_t ownTransactions() const;
  // CPU time PostgreSQL's processes used (the server, its backends, their ended children),
  // over every start of the server.
  double postgresCpuSeconds();
  // The sampler's health check of collector n (its /metrics answered), for the beacons'
  // forwarder, as a load balancer's own check would decide.
  void setBeaconBackendUp(uint32_t n, bool up);
  // HAProxy's resident memory and CPU time; nullopt when it does not run.
  std::optional<ProcessSample> haproxySample();
  // HAProxy's counters (retries, redispatches) and what the beacon forwarder did, a line each.
  std::vector<std::string> frontDoorReport();

  // Graceful: HAProxy, the collectors (together: each hands its shards over), PostgreSQL.
  void stopAll();

 private:
  enum class State : uint8_t {
    kNotStarted,
    kRunning,
    kKilled,
    kStopped,
    kFrozen,
    kRemoved,
    kExited,  // by itself
  };
  struct Slot {
    CollectorSetup setup;
    std::unique_ptr<CollectorControl> control;
    std::unique_ptr<CuttableProxy> proxy;
    State state = State::kNotStarted;
    bool cut = false;
  };

  explicit ClusterLab(ClusterLabSetup setup);
  Status startPostgres();
  Status startHaproxy();
  Slot& slot(uint32_t n) { return slots_.at(n - 1); }
  const Slot& slot(uint32_t n) const { return slots_.at(n - 1); }
  // Why the cluster has not settled yet; empty when it has.
  std::string unsettled();
  // Finds the collectors that exited by themselves since the last look.
  void noticeExits();

  ClusterLabSetup setup_;
  std::unique_ptr<testing::PostgresServer> postgres_;
  std::string database_;
  std::unique_ptr<LabDatabase> db_;
  bool database_up_ = false;
  double postgres_cpu_banked_ = 0;  // of the server's earlier starts
  std::vector<Slot> slots_;         // one per collector the run may have, made at the start
  std::vector<std::string> exits_;
  std::unique_ptr<BeaconForwarder> beacons_;
  std::unique_ptr<testing::ChildProcess> haproxy_;
  int port_ = 0;
  int stats_port_ = 0;
  CollectorHttp http_{"", ""};
};

}  // namespace vigil::fleetsim
