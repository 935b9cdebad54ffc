#pragma once

// The read side of the admin API for agents, without HTTP: builds the JSON of
// GET /api/v1/agents and GET /api/v1/agents/{id}. Static facts come from the store; live
// evidence (last seen, seq, boot id, ...) from the AgentDirectory, which is ahead of the store
// by up to one write-behind interval. Status, reason and evidence come from the presence
// engine (collector/monitor); history from the store.
//
// Thread safety: safe to call concurrently.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "collector/ingest/agent_directory.h"
#include "collector/ingest/beacon_service.h"
#include "collector/ingest/ingest_service.h"
#include "collector/monitor/presence_monitor.h"
#include "collector/store/store.h"
#include "common/clock.h"

namespace vigil::collector {

// Parts of GET /api/v1/health that other components own; each may be absent.
struct HealthSources {
  const BeaconService* beacons = nullptr;  // null: the beacon listener is off
  int beacon_port = 0;                     // the bound UDP port
  const IngestService* ingest = nullptr;   // peer-sighting counters
};

class AgentQueryService {
 public:
  static constexpr size_t kDefaultPageSize = 100;
  static constexpr size_t kMaxPageSize = 1000;
  static constexpr size_t kHistoryLength = 50;
  static constexpr size_t kOutagesShown = kOutageReportsKeptPerAgent;

  // All references, and the pointers in `sources`, must outlive the service.
  AgentQueryService(Store& store, const AgentDirectory& directory, const PresenceMonitor& presence,
                    HealthSources sources = {});

  // {"items":[agent...],"next_cursor":null|"..."}. `limit`: decimal 1.. (above kMaxPageSize
  // is clamped), default kDefaultPageSize; `cursor`: the next_cursor of the previous page.
  ApiResult<std::string> listAgentsJson(const std::optional<std::string>& limit,
                                        const std::optional<std::string>& cursor);

  // One agent object with its last kHistoryLength status changes and its last kOutagesShown
  // outage reports (as stored: reports of the last store.flushIntervalMs may be missing), or
  // 404 not_found.
  ApiResult<std::string> agentJson(const std::string& agent_id);

  // GET /api/v1/health: the collector's own health, its degradation reasons and history, the
  // beacon listener's counters and the peer-sighting counters.
  ApiResult<std::string> healthJson();

 private:
  Store& store_;
  const AgentDirectory& directory_;
  const PresenceMonitor& presence_;
  const HealthSources sources_;
};

// RFC 3339 UTC with milliseconds, e.g. "2026-05-01T12:00:00.000Z".
std::string formatRfc3339Utc(int64_t unix_ms);

}  // namespace vigil::collector
