#pragma once

// Where ingest hands accepted evidence: the presence engine (collector/monitor) in the
// running collector. Called after state was changed; implementations must be fast and
// thread-safe (they run on request threads and on the beacon listener's thread).

#include <string>
#include <vector>

#include "collector/store/store.h"
#include "common/clock.h"

namespace vigil::collector {

// An outage the agent reports in its diary: it ran but could not reach the collector.
struct ReportedOutage {
  WallTime from;  // the agent's corrected wall clock
  WallTime to;
};

// Another agent of the reporter's site that the reporter heard on the LAN.
struct PeerWitness {
  std::string agent_id;  // the agent heard; known, same tenant and site, not the reporter
  MonoTime heard_at;     // when it was heard, on the collector's clock; never in the future
};

// One accepted heartbeat with the indicators it carried (docs/protocol.md, "What the
// collector does with the indicators").
struct AcceptedHeartbeat {
  std::string agent_id;
  // Its sequence number (0: not known), checked again by a cluster's owner of the agent
  // (collector/cluster): each collector saw only some of the agent's heartbeats.
  int64_t seq = 0;
  MonoTime received_at;
  Duration next_interval{};  // the agent was told to beat again in this
  // It said it follows the beacon fallback and beacons (presence::Observation::beacon_fallback).
  bool beacon_fallback = false;
  std::vector<ReportedOutage> outages;
  bool shutdown = false;  // a goodbye notice
  std::vector<PeerWitness> witnesses;
};

// What the heartbeat's answer depends on.
struct HeartbeatAssessment {
  // The agent was SUSPECT, UNREACHABLE or OFFLINE before this heartbeat: its return should be
  // confirmed quickly ("verify" in the answer).
  bool was_lost = false;
  // In a cluster: the collector that judges the agent cannot be reached from this one just now
  // (docs/cluster.md, "Routing"). The heartbeat is answered 503 with a short Retry-After, so
  // the agent sends it again, most likely through another collector.
  bool undeliverable = false;
};

class EvidenceSink {
 public:
  virtual ~EvidenceSink() = default;
  virtual void agentEnrolled(const AgentRecord& agent) = 0;
  // The heartbeat's own evidence first, then its diary, its shutdown notice and the peers it
  // heard, as one step: no other evidence of the agent is handled in between.
  virtual HeartbeatAssessment heartbeatAccepted(const AcceptedHeartbeat& beat) = 0;
  // An accepted UDP beacon, received at `received_at`; the agent beacons every `interval`.
  virtual void beaconAccepted(const std::string& agent_id, MonoTime received_at,
                              Duration interval) = 0;
  // The agent was retired or deleted (by an admin, or by itself when it was uninstalled): no
  // more evidence of it follows, its open alerts resolve and no alert of it is raised. False
  // if the agent was not tracked.
  virtual bool forgetAgent(const std::string& agent_id) = 0;
  // An admin changed the agent's class: its announced shutdowns are judged by the new class.
  virtual void setAgentClass(const std::string& agent_id, AgentClass agent_class) = 0;
  // Whether the agent's evidence can be handed to the collector that judges it now (in a
  // cluster, false while its owner cannot be reached). Asked before a heartbeat changes any
  // state, so that one answered 503 does not use up its sequence number.
  virtual bool canDeliver(const std::string& /*agent_id*/) const { return true; }
};

}  // namespace vigil::collector
