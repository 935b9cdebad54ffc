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

#include "collector/admin/admin_api.h"
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
  const LoadGovernor* cadence = nullptr;   // adaptive heartbeat intervals; null: none
};

// Routes: GET /api/v1/agents, GET /api/v1/agents/{agent_id}, GET
// /api/v1/agents/{agent_id}/history, POST
// /api/v1/agents/{agent_id}/retire, DELETE /api/v1/agents/{agent_id}, GET /api/v1/health,
// GET /api/v1/health/history (docs/api.md).
class AgentQueryService {
 public:
  static constexpr size_t kHistoryLength = 50;
  static constexpr size_t kOutagesShown = kOutageReportsKeptPerAgent;

  // All references, and the pointers in `sources`, must outlive the service.
  AgentQueryService(AgentStore& store, PresenceLogStore& log, AgentDirectory& directory,
                    PresenceMonitor& presence, HealthSources sources = {});

  // Retirements and deletions go to `changes` instead of the presence monitor (a cluster: the
  // router that tells every collector). REQUIRES: before the first request; outlives this.
  void routeChangesThrough(EvidenceSink* changes) { changes_ = changes; }

  void registerRoutes(AdminRouteTable& table);

  // Adds {"agents": n, "by_status": {"ONLINE": n, ...}, "open_alerts": n} to `summary` for
  // one tenant or one site: the summaries of the tenant and site objects.
  void addSummary(cJSON* summary, std::optional<int64_t> tenant_id,
                  std::optional<int64_t> site_id) const;

  // GET /api/v1/agents: filters tenant_id, site_id, status (comma list), q (hostname or id
  // substring), include_retired (default true); keyset pagination by agent id.
  ApiResult<AdminAnswer> listAgents(const AdminRequest& request);
  // GET /api/v1/agents/{agent_id}: the agent with its last kHistoryLength status changes and
  // its last kOutagesShown outage reports (as stored: reports of the last write-behind
  // interval may be missing).
  ApiResult<AdminAnswer> getAgent(const AdminRequest& request);
  // GET /api/v1/agents/{agent_id}/history: every status change, newest first, paginated.
  ApiResult<AdminAnswer> agentHistory(const AdminRequest& request);
  // POST .../retire: the agent is refused from now on, its open alerts are resolved, no alert
  // follows. Idempotent.
  ApiResult<AdminAnswer> retireAgent(const AdminRequest& request);
  // DELETE: the agent, its history, outage reports, windows and alerts are deleted.
  ApiResult<AdminAnswer> deleteAgent(const AdminRequest& request);
  // GET /api/v1/health: the collector's own health, its degradation reasons, the latest
  // history, the beacon listener's counters and the peer-sighting counters.
  ApiResult<AdminAnswer> health(const AdminRequest& request);
  // GET /api/v1/health/history: every health change, newest first, paginated.
  ApiResult<AdminAnswer> healthHistory(const AdminRequest& request);

 private:
  // The agent if it exists in the principal's scope; 404 otherwise.
  ApiResult<AgentRecord> findVisibleAgent(const AdminRequest& request);

  AgentStore& store_;
  PresenceLogStore& log_;
  AgentDirectory& directory_;
  PresenceMonitor& presence_;
  EvidenceSink* changes_ = &presence_;
  const HealthSources sources_;
};

}  // namespace vigil::collector
