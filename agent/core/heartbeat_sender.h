#pragma once

#include <optional>
#include <string>

#include "agent/core/agent_config.h"
#include "agent/core/collector_client.h"
#include "agent/core/heartbeat_scheduler.h"
#include "agent/core/identity_store.h"
#include "agent/core/logger.h"
#include "agent/core/outage_diary.h"
#include "agent/core/platform.h"
#include "agent/core/sequence_allocator.h"
#include "common/protocol.h"

namespace vigil::agent {

// What a heartbeat reports besides the sequence and timing. Pointers may be null (no network
// self-check, no outage diary).
struct HeartbeatSources {
  SystemFactsSource& facts;
  BootIdentitySource& boot;
  NetworkMonitor* network = nullptr;
  OutageDiary* diary = nullptr;
};

// Fills heartbeats with every indicator the agent reports (docs/protocol.md) but the peer
// sightings, which the UDP channels add, and signs and sends them. Each heartbeat takes the
// next sequence number. Not thread-safe: one loop (or one command) owns it.
// REQUIRES: every reference outlives the sender.
class HeartbeatSender {
 public:
  HeartbeatSender(const AgentConfig& config, HeartbeatSources sources, SequenceAllocator& sequence,
                  const HeartbeatScheduler& scheduler, CollectorClient& client, Logger& log);

  // Reads the system facts again (logging what cannot be read) and returns them, each within
  // the protocol's string limit; the host name is "unknown" when it cannot be read.
  const SystemFacts& readFacts();
  // The facts as last read.
  const SystemFacts& facts() const { return facts_; }
  // The boot identity; the last one read (or "unknown") when it cannot be read now.
  BootIdentity readBootIdentity();
  protocol::Heartbeat build(const Identity& identity);
  // Signs and sends `hb`; a signing failure is an answer that failed in transport.
  CollectorAnswer send(const Identity& identity, const protocol::Heartbeat& hb,
                       std::optional<Duration> timeout);
  // Logs once when the sequence reservation can no longer be stored, and once when it can again.
  void logSequenceStatus();

  const std::string& configHash() const { return config_hash_; }

 private:
  HeartbeatSources sources_;
  SequenceAllocator& sequence_;
  const HeartbeatScheduler& scheduler_;
  CollectorClient& client_;
  Logger& log_;
  const std::string config_hash_;
  SystemFacts facts_;
  std::optional<BootIdentity> last_boot_;
  bool sequence_error_logged_ = false;
};

}  // namespace vigil::agent
