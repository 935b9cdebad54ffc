#pragma once

// The capacity search: one real collector, one simulated fleet, and the heartbeat interval
// the collector hands out shortened step by step (each step restarts the collector with the
// new interval, waits until every agent follows it, then measures). The highest rate answered
// with server p99 under 100 ms and at least 99 % of heartbeats accepted is the sustained rate;
// the largest fleet at 60 s intervals follows from it and from the memory each agent costs.
// Over HTTPS in ConnectionMode::kAgent each heartbeat pays its connection and a (mostly resumed)
// TLS handshake, as a real fleet's do; the steps say how many handshakes were full.
// With `collectors` set the fleet heartbeats to a cluster instead (tools/fleetsim/cluster_lab.h:
// that many collectors on one PostgreSQL database behind HAProxy, every heartbeat through
// HAProxy's round robin), and each step reports the CPU of every collector, HAProxy and
// PostgreSQL: the same search with 1, 2 and 3 collectors gives the cluster's scaling ratio.

#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"
#include "tools/fleetsim/sim_fleet.h"

namespace vigil::fleetsim {

struct CapacityOptions {
  std::string collector_binary;
  uint32_t max_agents = 50000;
  long connections = 12;
  bool tls = false;  // HTTPS with a P-256 (ECDSA) certificate from a test CA
  ConnectionMode connection_mode = ConnectionMode::kPooled;
  long agent_concurrency = 32;
  int step_seconds = 30;  // measured time per step, after the fleet follows the new interval
  std::vector<int64_t> intervals_s = {30, 15, 10, 6, 4, 3, 2, 1};
  // Measures every interval even past the first not sustained (the CPU per heartbeat at each
  // rate, on a machine whose other load makes the latency bound fail early).
  bool all_steps = false;
  // 0: one collector on its SQLite file, reached directly. N: a cluster of N collectors on
  // PostgreSQL behind HAProxy (HTTP only: its collectors serve plain HTTP on loopback).
  uint32_t collectors = 0;
  std::string haproxy_binary;
  std::string haproxy_template;
};

struct CapacityStep {
  int64_t interval_s = 0;
  double offered_per_s = 0;   // agents / interval
  double accepted_per_s = 0;  // measured
  double server_p50_ms = 0;
  double server_p99_ms = 0;
  uint64_t overloaded = 0;
  uint64_t transport_errors = 0;
  double collector_cpu_share = 0;             // every collector's together, in cores
  std::vector<double> collector_cpu_shares;   // each collector's
  double collector_cpu_us_per_heartbeat = 0;  // collectors' CPU time / accepted heartbeats
  double front_cpu_us_per_heartbeat = 0;      // HAProxy's (a cluster only)
  double database_cpu_us_per_heartbeat = 0;   // PostgreSQL's (a cluster only)
  uint64_t tls_full_handshakes = 0;
  uint64_t tls_resumed_handshakes = 0;
  bool sustained = false;
};

struct CapacityResult {
  uint32_t agents = 0;
  uint32_t collectors = 0;  // as in CapacityOptions
  bool tls = false;
  ConnectionMode connection_mode = ConnectionMode::kPooled;
  std::vector<CapacityStep> steps;
  double sustained_per_s = 0;
  uint64_t collector_rss_bytes = 0;  // at the end, with `agents` known (the largest collector's)
  uint64_t largest_fleet_at_60s = 0;
  std::string limited_by;
};

Result<CapacityResult> measureCapacity(const CapacityOptions& options);
std::string capacityTable(const CapacityResult& result);
std::string capacityJson(const CapacityResult& result);

}  // namespace vigil::fleetsim
