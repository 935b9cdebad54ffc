#pragma once

// A fleet of simulated agents speaking the real protocol (docs/protocol.md) to one collector:
// enrollment, signed heartbeats over HTTP or HTTPS (libcurl multi, TLS verified; a bounded
// pool of keep-alive connections, or a connection per heartbeat as the real agent has) and UDP
// beacons (one non-blocking socket), all on one
// event-loop thread. Each agent has its own identity, sequence, HeartbeatScheduler and
// BeaconChannel: the agent's own scheduling code (agent/core), so intervals, verify, jitter,
// backoff and Retry-After are followed exactly as vigil-agent follows them.
//
// Faults are applied by commands from any thread (kill, pause, block a channel, partition,
// revive); every command is recorded with its time as the ground truth a scenario's verdict
// is judged against.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "agent/core/beacon_channel.h"
#include "agent/core/heartbeat_scheduler.h"
#include "common/clock.h"
#include "common/status.h"

namespace vigil::fleetsim {

// How the fleet's heartbeats reach the collector.
enum class ConnectionMode : uint8_t {
  // A few keep-alive connections shared by the whole fleet (max_connections): the collector's
  // cost per heartbeat without the connection's (the scenarios).
  kPooled,
  // As vigil-agent does at intervals longer than the collector's keep-alive: each heartbeat on
  // a new TCP connection, closed after the answer, whose TLS handshake resumes the agent's own
  // session (a session cache per agent, as each agent's libcurl handle keeps). The capacity
  // over HTTPS a real fleet gets.
  kAgent,
};

struct FleetOptions {
  std::string base_url;  // "http://127.0.0.1:8470" or "https://..."
  std::string ca_file;   // trusted CA for https (verification is always on)
  std::string beacon_host = "127.0.0.1";
  // Keep-alive connections the fleet's heartbeats share (more requests wait in the pool). The
  // collector keeps every connection alive and queues what its ingest workers cannot take at
  // once (shedding only what waited too long), so the pool's size is the simulator's choice.
  long max_connections = 12;
  ConnectionMode connection_mode = ConnectionMode::kPooled;
  // kAgent: connections (and so handshakes) in flight at once; more due heartbeats wait.
  long agent_concurrency = 32;
  std::chrono::milliseconds connect_timeout{10'000};
  std::chrono::milliseconds request_timeout{30'000};
  agent::SchedulerOptions scheduler;
  agent::BeaconOptions beacon;
  bool beacons = true;  // use the beacon channel when the collector offers it
  // Follow the beacon fallback as vigil-agent does (docs/protocol.md): report beacon_state and
  // beat at once when a beacon goes unanswered. Off: agents of protocol 1.1.
  bool beacon_fallback = true;
  uint64_t seed = 1;
};

// How the fleet came back after the collector's return (markCollectorBack, at its start): per
// agent, the 429/503 answers it got in the whole run, and the time from the collector's first
// accepted heartbeat after the return (it had started and listened) to the agent's own first
// one. Agents that died are left out of the return times.
struct ReturnStats {
  bool marked = false;  // markCollectorBack was called
  uint32_t max_refusals_per_agent = 0;
  uint64_t agents_refused = 0;        // at least once
  uint64_t agents_refused_twice = 0;  // more than once
  uint64_t agents_judged = 0;         // alive at the end
  uint64_t agents_not_back = 0;       // no accepted heartbeat since the return
  std::vector<double> back_after_s;   // per agent that came back
  double first_accept_after_s = 0;    // the collector's start to its first acceptance
};

// A channel of an agent that a fault can block.
enum class Channel : uint8_t { kHeartbeat, kBeacon };

// One fact of the ground truth.
struct TruthEvent {
  enum class Kind : uint8_t {
    kDied,           // the endpoint is gone (no goodbye)
    kRevived,        // the endpoint is back
    kPaused,         // alive but frozen (SIGSTOP, a stalled VM)
    kResumed,        //
    kChannelLost,    // one channel fails, the agent is alive
    kChannelBack,    //
    kPartitioned,    // no route to the collector, the agent is alive
    kPartitionOver,  //
  };
  uint32_t agent = 0;
  Kind kind = Kind::kDied;
  Channel channel = Channel::kHeartbeat;  // kChannelLost/kChannelBack
  WallTime at;
};

// Counters and latencies of the fleet's requests since start (or the last takeStats()).
struct FleetStats {
  uint64_t heartbeats_sent = 0;
  uint64_t heartbeats_accepted = 0;
  uint64_t overloaded = 0;  // 429/503 answers
  uint64_t overloaded_without_retry_after = 0;
  uint64_t other_http_errors = 0;   // any other non-200 answer
  uint64_t transport_errors = 0;    // no HTTP answer
  uint64_t connect_failures = 0;    // of which: refused or could not connect
  uint64_t simulated_failures = 0;  // attempts failed unsent: a fault, or no pool slot in time
  uint64_t connections_opened = 0;  // new TCP (and TLS) connections the heartbeats needed
  // TLS handshakes of those connections (enrollments' too): full, or resuming a session.
  uint64_t tls_full_handshakes = 0;
  uint64_t tls_resumed_handshakes = 0;
  uint64_t beacons_sent = 0;
  uint64_t beacon_acks = 0;
  uint64_t fallback_beats = 0;  // heartbeats sent at once after an unanswered beacon
  // Accepted heartbeats: request written to answer read (the collector's own time), and
  // sent to answered (connecting, the accept queue, TLS and the collector's work; not the
  // wait for a slot in the simulator's own connection pool, which is the simulator's).
  std::vector<double> server_ms;
  std::vector<double> ingest_ms;

  // Adds the counts and latencies of a later period.
  void add(const FleetStats& later);
};

class Fleet {
 public:
  explicit Fleet(FleetOptions options);
  ~Fleet();  // stop()s
  Fleet(const Fleet&) = delete;
  Fleet& operator=(const Fleet&) = delete;

  // Adds `count` agents of `site_label` that will enroll with `enroll_token`; returns the
  // index of the first. Only before enroll().
  uint32_t addAgents(uint32_t count, const std::string& enroll_token,
                     const std::string& site_label);

  // Enrolls every agent (at most `concurrency` at once: keep it below the collector's ingest
  // workers; in kAgent mode agent_concurrency), on the calling thread. Fails if any agent could not
  // enroll (after retrying transport errors, 429s and server errors, as an agent does).
  Status enroll(int concurrency = 12);
  // Enrollment answers with a server error other than 503 (each was tried again).
  uint64_t enrollmentServerErrors() const;

  // Starts the event loop. Each agent's first beat waits firstBeatDelay(machine_booted) of
  // its scheduler: spread over start_delay_max when the whole fleet boots together (the
  // Monday-morning surge), at once when only the agents restart.
  void start(bool machine_booted);
  void stop();

  // Faults. Thread-safe; applied by the loop within one iteration (milliseconds) and
  // recorded in the truth with the time of the call.
  void kill(const std::vector<uint32_t>& agents);
  void revive(const std::vector<uint32_t>& agents);
  void pause(const std::vector<uint32_t>& agents);
  void resume(const std::vector<uint32_t>& agents);
  void blockChannel(const std::vector<uint32_t>& agents, Channel channel, bool blocked);
  void partition(const std::vector<uint32_t>& agents, bool partitioned);

  uint32_t size() const { return static_cast<uint32_t>(agents_.size()); }
  const std::string& agentId(uint32_t agent) const;
  const std::string& siteLabel(uint32_t agent) const;
  std::vector<uint32_t> agentsOfSite(const std::string& site_label) const;
  std::vector<TruthEvent> truth() const;
  // Moves the counters out (the next period starts from zero).
  FleetStats takeStats();
  // The collector answers again from `at` on: each agent's next accepted heartbeat is its
  // return. Thread-safe.
  void markCollectorBack(MonoTime at);
  // After stop(): see ReturnStats.
  ReturnStats returnStats() const;
  // Bytes the fleet holds per agent (identity, scheduler, beacon channel), for the report.
  size_t approximateBytesPerAgent() const;

 private:
  struct SimAgent;
  struct Command;
  class Loop;

  void post(Command command);

  FleetOptions options_;
  std::vector<std::unique_ptr<SimAgent>> agents_;
  std::unique_ptr<Loop> loop_;
  std::thread thread_;
  std::atomic<bool> stopping_{false};
  std::atomic<int64_t> back_from_ns_{0};  // markCollectorBack's time; 0: not marked
  mutable std::mutex mu_;                 // guards commands_, truth_, stats_
  std::vector<Command> commands_;
  std::vector<TruthEvent> truth_;
  FleetStats stats_;
};

}  // namespace vigil::fleetsim
