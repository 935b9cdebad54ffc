#pragma once

#include <chrono>

#include "agent/core/collector_client.h"
#include "agent/core/identity_store.h"
#include "agent/core/logger.h"
#include "agent/core/outage_diary.h"
#include "agent/core/platform.h"
#include "agent/core/random.h"
#include "agent/core/sequence_allocator.h"
#include "agent/core/waiter.h"
#include "common/clock.h"

namespace vigil::agent {

// The seams the runner works through. References must outlive the runner; pointers may be
// null (that concern is then skipped: no network self-check, no beacon, no peer witness, ...).
struct AgentRunnerDeps {
  CollectorClient& client;
  SystemFactsSource& facts;
  BootIdentitySource& boot;
  IdentityStore& identity_store;
  SequenceStore& sequence_store;
  const Clock& clock;
  Waiter& waiter;
  Logger& log;
  UniformRandom random;
  OutageDiary* diary = nullptr;
  NetworkMonitor* network = nullptr;
  PowerMonitor* power = nullptr;
  UdpSocketFactory* udp = nullptr;
  ServiceControl* service = nullptr;
};

// Timing of the runner besides the scheduler's; tests shorten them.
struct RunnerTimings {
  // A machine up for less than this when the agent starts has just booted: its first beat is
  // spread by start_delay_max_s. Otherwise only the agent restarted and it beats at once.
  Duration boot_window = std::chrono::minutes(10);
  // Longest single sleep: wakes are detected and the watchdog is fed at least this often.
  Duration max_sleep = std::chrono::seconds(60);
  // The goodbye notice may take at most this long.
  Duration goodbye_timeout = std::chrono::seconds(3);
  // A failure like the previous one is logged again only after this long (a summary counts
  // the ones in between).
  Duration repeat_log_every = std::chrono::minutes(5);
};

}  // namespace vigil::agent
