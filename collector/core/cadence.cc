#include "collector/core/cadence.h"

#include <algorithm>
#include <atomic>
#include <functional>
#include <utility>

namespace vigil::collector {
namespace {

// A scope's key in the snapshot's maps: the tenant or site id with the class slot (0: every
// class, 1 + AgentClass: that class) in its low bits. Ids stay far below 2^60.
constexpr int kClassSlotBits = 2;
static_assert(kAgentClassCount + 1 <= (size_t{1} << kClassSlotBits), "class slots overflow");

uint64_t scopeKey(int64_t id, std::optional<AgentClass> agent_class) {
  const uint64_t slot = agent_class ? 1 + static_cast<uint64_t>(*agent_class) : 0;
  return (static_cast<uint64_t>(id) << kClassSlotBits) | slot;
}

bool containsServer(std::string_view text) { return text.find("Server") != std::string::npos; }

}  // namespace

const char* agentClassName(AgentClass agent_class) {
  switch (agent_class) {
    case AgentClass::kWorkstation:
      return "workstation";
    case AgentClass::kServer:
      return "server";
  }
  return "workstation";
}

std::optional<AgentClass> agentClassFromName(std::string_view name) {
  if (name == "workstation") return AgentClass::kWorkstation;
  if (name == "server") return AgentClass::kServer;
  return std::nullopt;
}

AgentClass agentClassFromFacts(std::string_view os_name, std::string_view os_version) {
  return os_name == "windows" && containsServer(os_version) ? AgentClass::kServer
                                                            : AgentClass::kWorkstation;
}

std::optional<std::string> cadenceFault(int64_t heartbeat_s, std::optional<int64_t> beacon_s) {
  if (heartbeat_s < kMinCadenceHeartbeatS || heartbeat_s > kMaxCadenceHeartbeatS) {
    return "heartbeat_interval_s: must be an integer from " +
           std::to_string(kMinCadenceHeartbeatS) + " to " + std::to_string(kMaxCadenceHeartbeatS);
  }
  if (beacon_s && (*beacon_s < kMinCadenceBeaconS || *beacon_s > kMaxCadenceBeaconS)) {
    return "beacon_interval_s: must be an integer from " + std::to_string(kMinCadenceBeaconS) +
           " to " + std::to_string(kMaxCadenceBeaconS);
  }
  if (beacon_s && *beacon_s >= heartbeat_s) {
    return "beacon_interval_s: must be shorter than heartbeat_interval_s (" +
           std::to_string(heartbeat_s) + ")";
  }
  return std::nullopt;
}

const char* cadenceSourceName(CadenceSource source) {
  switch (source) {
    case CadenceSource::kSiteClass:
      return "site_class";
    case CadenceSource::kSite:
      return "site";
    case CadenceSource::kTenantClass:
      return "tenant_class";
    case CadenceSource::kTenant:
      return "tenant";
    case CadenceSource::kDefault:
      return "default";
  }
  return "default";
}

struct CadenceBook::Snapshot {
  struct Intervals {
    int64_t heartbeat_s = 0;
    std::optional<int64_t> beacon_s;
  };
  std::unordered_map<uint64_t, Intervals> by_site;
  std::unordered_map<uint64_t, Intervals> by_tenant;
  int64_t max_heartbeat_s = 0;
  std::vector<CadenceRule> rules;
};

CadenceBook::CadenceBook(CadenceDefaults defaults) : defaults_(defaults) { replaceRules({}); }

void CadenceBook::replaceRules(const std::vector<CadenceRule>& rules) {
  auto next = std::make_shared<Snapshot>();
  next->max_heartbeat_s = defaults_.heartbeat_s;
  next->rules = rules;
  for (const CadenceRule& rule : rules) {
    const Snapshot::Intervals intervals{rule.heartbeat_interval_s, rule.beacon_interval_s};
    if (rule.site_id) {
      next->by_site[scopeKey(*rule.site_id, rule.agent_class)] = intervals;
    } else {
      next->by_tenant[scopeKey(rule.tenant_id, rule.agent_class)] = intervals;
    }
    next->max_heartbeat_s = std::max(next->max_heartbeat_s, rule.heartbeat_interval_s);
  }
  std::atomic_store(&snapshot_, std::shared_ptr<const Snapshot>(std::move(next)));
}

std::shared_ptr<const CadenceBook::Snapshot> CadenceBook::snapshot() const {
  return std::atomic_load(&snapshot_);
}

ResolvedCadence CadenceBook::resolve(int64_t tenant_id, int64_t site_id,
                                     AgentClass agent_class) const {
  const std::shared_ptr<const Snapshot> s = snapshot();
  const auto found = [](const std::unordered_map<uint64_t, Snapshot::Intervals>& map,
                        uint64_t key) -> const Snapshot::Intervals* {
    auto it = map.find(key);
    return it == map.end() ? nullptr : &it->second;
  };
  const Snapshot::Intervals* rule = nullptr;
  CadenceSource source = CadenceSource::kDefault;
  if (site_id > 0 && !s->by_site.empty()) {
    if ((rule = found(s->by_site, scopeKey(site_id, agent_class))) != nullptr) {
      source = CadenceSource::kSiteClass;
    } else if ((rule = found(s->by_site, scopeKey(site_id, std::nullopt))) != nullptr) {
      source = CadenceSource::kSite;
    }
  }
  if (rule == nullptr && !s->by_tenant.empty()) {
    if ((rule = found(s->by_tenant, scopeKey(tenant_id, agent_class))) != nullptr) {
      source = CadenceSource::kTenantClass;
    } else if ((rule = found(s->by_tenant, scopeKey(tenant_id, std::nullopt))) != nullptr) {
      source = CadenceSource::kTenant;
    }
  }
  if (rule == nullptr) return ResolvedCadence{defaults_.heartbeat_s, defaults_.beacon_s, source};
  const int64_t beacon_s =
      rule->beacon_s.value_or(std::min(defaults_.beacon_s, rule->heartbeat_s - 1));
  return ResolvedCadence{rule->heartbeat_s, beacon_s, source};
}

int64_t CadenceBook::maxHeartbeatIntervalS() const { return snapshot()->max_heartbeat_s; }

std::vector<CadenceRule> CadenceBook::rules() const { return snapshot()->rules; }

const CadenceBook::ClassStripe& CadenceBook::stripeOf(const std::string& agent_id) const {
  return class_stripes_[std::hash<std::string>{}(agent_id) % kClassStripes];
}

CadenceBook::ClassStripe& CadenceBook::stripeOf(const std::string& agent_id) {
  return class_stripes_[std::hash<std::string>{}(agent_id) % kClassStripes];
}

AgentClass CadenceBook::agentClass(const std::string& agent_id) const {
  const ClassStripe& stripe = stripeOf(agent_id);
  MutexLock lock(stripe.mu);
  return stripe.servers.count(agent_id) != 0 ? AgentClass::kServer : AgentClass::kWorkstation;
}

void CadenceBook::setAgentClass(const std::string& agent_id, AgentClass agent_class) {
  ClassStripe& stripe = stripeOf(agent_id);
  MutexLock lock(stripe.mu);
  if (agent_class == AgentClass::kServer) {
    stripe.servers.insert(agent_id);
  } else {
    stripe.servers.erase(agent_id);
  }
}

void CadenceBook::forgetAgent(const std::string& agent_id) {
  setAgentClass(agent_id, AgentClass::kWorkstation);
}

}  // namespace vigil::collector
