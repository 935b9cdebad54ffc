#pragma once

// Heartbeat cadence policy (docs/api.md, "Heartbeat cadence"): the heartbeat and beacon
// intervals the collector hands out, set per tenant, per site and per agent class, and the
// CadenceBook that answers "which interval for this agent?" on the ingest path without
// touching the store.
//
// Precedence, most specific first: site + class, site, tenant + class, tenant, then the
// collector's defaults (heartbeat.intervalSeconds, beacon.intervalSeconds).

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "common/mutex.h"

namespace vigil::collector {

// What kind of machine an agent runs on. Servers are expected to stay up: an announced
// shutdown of a server alerts if it is not back in time (docs/presence.md), and cadence rules
// may give servers their own intervals.
enum class AgentClass : uint8_t {
  kWorkstation,  // the default
  kServer,
};
constexpr size_t kAgentClassCount = 2;

const char* agentClassName(AgentClass agent_class);  // "workstation", "server"
std::optional<AgentClass> agentClassFromName(std::string_view name);
// The class an agent gets at enrollment from the facts it reports: kServer for a Windows
// Server edition (os_name "windows", os_version containing "Server"), kWorkstation otherwise.
// Other systems do not say; an admin sets their class (PATCH /api/v1/agents/{agent_id}).
AgentClass agentClassFromFacts(std::string_view os_name, std::string_view os_version);

// Bounds of the intervals a rule may set, in seconds. A beacon interval is always shorter
// than the heartbeat interval of the same rule: beacons are the fast channel.
constexpr int64_t kMinCadenceHeartbeatS = 15;
constexpr int64_t kMaxCadenceHeartbeatS = 3600;
constexpr int64_t kMinCadenceBeaconS = 5;
constexpr int64_t kMaxCadenceBeaconS = 300;

// Why `heartbeat_s` / `beacon_s` cannot form a rule (one sentence naming the field), or
// nullopt if they can.
std::optional<std::string> cadenceFault(int64_t heartbeat_s, std::optional<int64_t> beacon_s);

// One stored rule. Its scope is a tenant, or one of its sites, optionally narrowed to one
// agent class; at most one rule per scope.
struct CadenceRule {
  int64_t tenant_id = 0;
  std::optional<int64_t> site_id;         // unset: the whole tenant
  std::optional<AgentClass> agent_class;  // unset: every class
  int64_t heartbeat_interval_s = 0;
  std::optional<int64_t> beacon_interval_s;  // unset: the collector's default (see resolve)
  int64_t updated_at_ms = 0;
  std::string updated_by;  // the admin token's name
};

// The collector's own intervals, from its configuration: what an agent gets without a rule.
struct CadenceDefaults {
  int64_t heartbeat_s = 60;
  int64_t beacon_s = 15;
};

// Which level of the precedence gave a resolved cadence.
enum class CadenceSource : uint8_t { kSiteClass, kSite, kTenantClass, kTenant, kDefault };
const char* cadenceSourceName(CadenceSource source);  // "site_class", ..., "default"

struct ResolvedCadence {
  int64_t heartbeat_s = 0;
  int64_t beacon_s = 0;
  CadenceSource source = CadenceSource::kDefault;
};

// The rules in memory, and each agent's class.
//
// Rules: an immutable snapshot behind a shared_ptr; replaceRules() builds a new one and swaps
// it in, so resolve() never waits for a writer and always sees one whole set of rules.
// Agent classes: only servers are kept (workstation is the default), in striped sets, so a
// lookup locks one stripe for one hash lookup.
//
// Thread safety: every method is safe to call concurrently.
class CadenceBook {
 public:
  explicit CadenceBook(CadenceDefaults defaults);

  // Replaces every rule. Rules are trusted (the admin API validated them).
  void replaceRules(const std::vector<CadenceRule>& rules);

  // The cadence for an agent of `tenant_id`, `site_id` (0: none) and `agent_class`: O(1), at
  // most four hash lookups. A rule without a beacon interval gives the default beacon
  // interval, shortened if needed to stay below the rule's heartbeat interval.
  ResolvedCadence resolve(int64_t tenant_id, int64_t site_id, AgentClass agent_class) const;

  // The longest heartbeat interval any rule or the defaults hand out: how long the presence
  // engine's warm-up must wait for every agent to have reported once.
  int64_t maxHeartbeatIntervalS() const;

  // Every rule, as last given to replaceRules().
  std::vector<CadenceRule> rules() const;
  const CadenceDefaults& defaults() const { return defaults_; }

  AgentClass agentClass(const std::string& agent_id) const;
  void setAgentClass(const std::string& agent_id, AgentClass agent_class);
  void forgetAgent(const std::string& agent_id);

 private:
  struct Snapshot;
  std::shared_ptr<const Snapshot> snapshot() const;

  static constexpr size_t kClassStripes = 16;
  struct ClassStripe {
    mutable Mutex mu;
    std::unordered_set<std::string> servers GUARDED_BY(mu);
  };
  const ClassStripe& stripeOf(const std::string& agent_id) const;
  ClassStripe& stripeOf(const std::string& agent_id);

  const CadenceDefaults defaults_;
  // Read and written only through std::atomic_load / std::atomic_store.
  std::shared_ptr<const Snapshot> snapshot_;
  std::array<ClassStripe, kClassStripes> class_stripes_;
};

}  // namespace vigil::collector
