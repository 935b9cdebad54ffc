#include "collector/admin/cadence_service.h"

#include <array>
#include <utility>
#include <vector>

#include "common/protocol.h"

namespace vigil::collector {
namespace {

constexpr std::array<AgentClass, kAgentClassCount> kClasses = {AgentClass::kWorkstation,
                                                               AgentClass::kServer};
constexpr char kIntervalsMembers[] = "heartbeat_interval_s, beacon_interval_s";

// The intervals of one level of a PUT body: both unset if the level sets nothing.
struct Intervals {
  std::optional<int64_t> heartbeat_s;
  std::optional<int64_t> beacon_s;
};

// The members heartbeat_interval_s / beacon_interval_s of `body`, checked against the bounds;
// errors name the member with `prefix` ("classes.server.").
ApiResult<Intervals> parseIntervals(const JsonBody& body, const std::string& prefix) {
  auto prefixed = [&prefix](ApiError error) {
    error.message = prefix + error.message;
    return error;
  };
  auto heartbeat =
      body.optionalInteger("heartbeat_interval_s", kMinCadenceHeartbeatS, kMaxCadenceHeartbeatS);
  if (!heartbeat.ok()) return prefixed(heartbeat.error());
  auto beacon = body.optionalInteger("beacon_interval_s", kMinCadenceBeaconS, kMaxCadenceBeaconS);
  if (!beacon.ok()) return prefixed(beacon.error());
  if (beacon.value() && !heartbeat.value()) {
    return prefixed(invalidField("beacon_interval_s", "needs heartbeat_interval_s beside it"));
  }
  if (heartbeat.value()) {
    if (std::optional<std::string> fault = cadenceFault(*heartbeat.value(), beacon.value())) {
      return ApiError{400, protocol::errors::kInvalidField, prefix + *fault, std::nullopt};
    }
  }
  return Intervals{heartbeat.value(), beacon.value()};
}

// The rules a PUT body sets (scope left to the caller), or 400 naming the offending member.
ApiResult<std::vector<CadenceRule>> parseRules(const std::string& text) {
  auto parsed = JsonBody::parse(text);
  if (!parsed.ok()) return parsed.error();
  if (auto only =
          parsed.value().checkOnly({"heartbeat_interval_s", "beacon_interval_s", "classes"});
      !only.ok()) {
    return only.error();
  }
  std::vector<CadenceRule> rules;
  auto add = [&rules](const Intervals& intervals, std::optional<AgentClass> agent_class) {
    if (!intervals.heartbeat_s) return;
    CadenceRule rule;
    rule.agent_class = agent_class;
    rule.heartbeat_interval_s = *intervals.heartbeat_s;
    rule.beacon_interval_s = intervals.beacon_s;
    rules.push_back(std::move(rule));
  };
  auto tenant_wide = parseIntervals(parsed.value(), "");
  if (!tenant_wide.ok()) return tenant_wide.error();
  add(tenant_wide.value(), std::nullopt);

  // JsonBody reads one level; the per-class objects are read as bodies of their own.
  const json::JsonPtr root = json::parse(text.empty() ? "{}" : text);
  const cJSON* classes = cJSON_GetObjectItemCaseSensitive(root.get(), "classes");
  if (classes == nullptr || cJSON_IsNull(classes)) return rules;
  if (!cJSON_IsObject(classes)) {
    return invalidField("classes", "must be an object with members workstation and server");
  }
  for (const cJSON* item = classes->child; item != nullptr; item = item->next) {
    const std::string name = item->string == nullptr ? "" : item->string;
    std::optional<AgentClass> agent_class = agentClassFromName(name);
    if (!agent_class) {
      return invalidField("classes." + name.substr(0, 64),
                          "is not an agent class (workstation, server)");
    }
    if (cJSON_IsNull(item)) continue;
    const std::string prefix = "classes." + name + ".";
    if (!cJSON_IsObject(item)) {
      return invalidField(prefix.substr(0, prefix.size() - 1),
                          std::string("must be null or an object with ") + kIntervalsMembers);
    }
    auto body = JsonBody::parse(json::print(item));
    if (!body.ok()) return body.error();
    if (auto only = body.value().checkOnly({"heartbeat_interval_s", "beacon_interval_s"});
        !only.ok()) {
      ApiError error = only.error();
      error.message = prefix + error.message;
      return error;
    }
    auto intervals = parseIntervals(body.value(), prefix);
    if (!intervals.ok()) return intervals.error();
    if (!intervals.value().heartbeat_s) {
      return invalidField(prefix + "heartbeat_interval_s", "is required (or set the class null)");
    }
    add(intervals.value(), agent_class);
  }
  return rules;
}

void addIntervals(cJSON* o, const std::optional<CadenceRule>& rule) {
  out::optionalInteger(o, "heartbeat_interval_s",
                       rule ? std::optional<int64_t>(rule->heartbeat_interval_s) : std::nullopt);
  out::optionalInteger(o, "beacon_interval_s", rule ? rule->beacon_interval_s : std::nullopt);
}

std::string describe(const std::vector<CadenceRule>& rules) {
  if (rules.empty()) return "none (inherited)";
  std::string text;
  for (const CadenceRule& rule : rules) {
    if (!text.empty()) text += "; ";
    text += rule.agent_class ? agentClassName(*rule.agent_class) : "every class";
    text += ": heartbeat " + std::to_string(rule.heartbeat_interval_s) + " s, beacon " +
            (rule.beacon_interval_s ? std::to_string(*rule.beacon_interval_s) + " s" : "default");
  }
  return text;
}

std::string scopeName(int64_t tenant_id, std::optional<int64_t> site_id) {
  if (site_id)
    return "site " + std::to_string(*site_id) + " (tenant " + std::to_string(tenant_id) + ")";
  return "tenant " + std::to_string(tenant_id);
}

std::string who(const AdminPrincipal& principal) {
  return "admin token '" + principal.token_name + "' (id " + std::to_string(principal.token_id) +
         ")";
}

}  // namespace

CadenceService::CadenceService(CadenceStore& store, TenancyStore& tenancy, AgentStore& agents,
                               CadenceBook& book, EvidenceSink& presence,
                               AdminRouteHandler agent_answer, LogLine log)
    : store_(store),
      tenancy_(tenancy),
      agents_(agents),
      book_(book),
      presence_(presence),
      agent_answer_(std::move(agent_answer)),
      log_(std::move(log)) {}

Status CadenceService::load() {
  auto servers = agents_.listAgentIdsOfClass(AgentClass::kServer);
  if (!servers.ok()) return servers.error();
  for (const std::string& id : servers.value()) book_.setAgentClass(id, AgentClass::kServer);
  return reload();
}

Status CadenceService::reload() {
  MutexLock lock(reload_mu_);
  auto rules = store_.listCadenceRules();
  if (!rules.ok()) return rules.error();
  book_.replaceRules(rules.value());
  return Status::okStatus();
}

void CadenceService::registerRoutes(AdminRouteTable& table) {
  table.add("GET", "/api/v1/tenants/{tenant_id}/cadence", AdminRole::kReadOnly,
            [this](const AdminRequest& r) { return getTenantCadence(r); });
  table.add("PUT", "/api/v1/tenants/{tenant_id}/cadence", AdminRole::kAdmin,
            [this](const AdminRequest& r) { return putTenantCadence(r); });
  table.add("DELETE", "/api/v1/tenants/{tenant_id}/cadence", AdminRole::kAdmin,
            [this](const AdminRequest& r) { return deleteTenantCadence(r); });
  table.add("GET", "/api/v1/sites/{site_id}/cadence", AdminRole::kReadOnly,
            [this](const AdminRequest& r) { return getSiteCadence(r); });
  table.add("PUT", "/api/v1/sites/{site_id}/cadence", AdminRole::kAdmin,
            [this](const AdminRequest& r) { return putSiteCadence(r); });
  table.add("DELETE", "/api/v1/sites/{site_id}/cadence", AdminRole::kAdmin,
            [this](const AdminRequest& r) { return deleteSiteCadence(r); });
  table.add("PATCH", "/api/v1/agents/{agent_id}", AdminRole::kAdmin,
            [this](const AdminRequest& r) { return patchAgent(r); });
}

ApiResult<CadenceService::Scope> CadenceService::visibleTenant(const AdminRequest& request) {
  auto id = parseIdParam(request, "tenant_id", "tenant");
  if (!id.ok()) return id.error();
  auto tenant = tenancy_.findTenant(id.value());
  if (!tenant.ok()) return storeFailure(tenant.error());
  if (!tenant.value() || !request.principal.scope.allows(tenant.value()->id)) {
    return notFound("tenant");
  }
  return Scope{tenant.value()->id, std::nullopt};
}

ApiResult<CadenceService::Scope> CadenceService::visibleSite(const AdminRequest& request) {
  auto id = parseIdParam(request, "site_id", "site");
  if (!id.ok()) return id.error();
  auto site = tenancy_.findSite(id.value());
  if (!site.ok()) return storeFailure(site.error());
  if (!site.value() || !request.principal.scope.allows(site.value()->tenant_id)) {
    return notFound("site");
  }
  return Scope{site.value()->tenant_id, site.value()->id};
}

ApiResult<AdminAnswer> CadenceService::answer(const Scope& scope) {
  auto all = store_.listCadenceRules();
  if (!all.ok()) return storeFailure(all.error());
  std::optional<CadenceRule> every_class;
  std::array<std::optional<CadenceRule>, kAgentClassCount> by_class;
  std::optional<int64_t> updated_at_ms;
  std::optional<std::string> updated_by;
  for (CadenceRule& rule : all.value()) {
    if (rule.tenant_id != scope.tenant_id || rule.site_id != scope.site_id) continue;
    if (!updated_at_ms || rule.updated_at_ms > *updated_at_ms) {
      updated_at_ms = rule.updated_at_ms;
      updated_by = rule.updated_by;
    }
    if (rule.agent_class) {
      by_class[static_cast<size_t>(*rule.agent_class)] = std::move(rule);
    } else {
      every_class = std::move(rule);
    }
  }
  json::JsonPtr obj(cJSON_CreateObject());
  cJSON* o = obj.get();
  out::integer(o, "tenant_id", scope.tenant_id);
  out::optionalInteger(o, "site_id", scope.site_id);
  addIntervals(o, every_class);
  cJSON* classes = cJSON_AddObjectToObject(o, "classes");
  cJSON* effective = cJSON_AddObjectToObject(o, "effective");
  for (AgentClass agent_class : kClasses) {
    const std::optional<CadenceRule>& rule = by_class[static_cast<size_t>(agent_class)];
    if (rule) {
      addIntervals(cJSON_AddObjectToObject(classes, agentClassName(agent_class)), rule);
    } else {
      cJSON_AddNullToObject(classes, agentClassName(agent_class));
    }
    const ResolvedCadence resolved =
        book_.resolve(scope.tenant_id, scope.site_id.value_or(0), agent_class);
    cJSON* e = cJSON_AddObjectToObject(effective, agentClassName(agent_class));
    out::integer(e, "heartbeat_interval_s", resolved.heartbeat_s);
    out::integer(e, "beacon_interval_s", resolved.beacon_s);
    out::string(e, "source", cadenceSourceName(resolved.source));
  }
  out::optionalTime(o, "updated_at", updated_at_ms);
  out::optionalString(o, "updated_by", updated_by);
  return out::answer(obj);
}

ApiResult<AdminAnswer> CadenceService::put(const AdminRequest& request, const Scope& scope) {
  auto rules = parseRules(request.body);
  if (!rules.ok()) return rules.error();
  for (CadenceRule& rule : rules.value()) {
    rule.tenant_id = scope.tenant_id;
    rule.site_id = scope.site_id;
    rule.updated_at_ms = request.now_ms;
    rule.updated_by = request.principal.token_name;
  }
  if (Status s = store_.replaceCadenceRules(scope.tenant_id, scope.site_id, rules.value());
      !s.ok()) {
    // Deleted between the scope check and the write: as if it had never been there.
    if (s.code() == StatusCode::kNotFound) return notFound(scope.site_id ? "site" : "tenant");
    return storeFailure(s);
  }
  if (Status s = reload(); !s.ok()) return storeFailure(s);
  log_("cadence of " + scopeName(scope.tenant_id, scope.site_id) + " set by " +
       who(request.principal) + ": " + describe(rules.value()));
  return answer(scope);
}

ApiResult<AdminAnswer> CadenceService::remove(const AdminRequest& request, const Scope& scope) {
  if (Status s = store_.replaceCadenceRules(scope.tenant_id, scope.site_id, {}); !s.ok()) {
    if (s.code() == StatusCode::kNotFound) return notFound(scope.site_id ? "site" : "tenant");
    return storeFailure(s);
  }
  if (Status s = reload(); !s.ok()) return storeFailure(s);
  log_("cadence of " + scopeName(scope.tenant_id, scope.site_id) + " removed by " +
       who(request.principal));
  return AdminAnswer{204, ""};
}

ApiResult<AdminAnswer> CadenceService::getTenantCadence(const AdminRequest& request) {
  auto scope = visibleTenant(request);
  if (!scope.ok()) return scope.error();
  return answer(scope.value());
}

ApiResult<AdminAnswer> CadenceService::putTenantCadence(const AdminRequest& request) {
  auto scope = visibleTenant(request);
  if (!scope.ok()) return scope.error();
  return put(request, scope.value());
}

ApiResult<AdminAnswer> CadenceService::deleteTenantCadence(const AdminRequest& request) {
  auto scope = visibleTenant(request);
  if (!scope.ok()) return scope.error();
  return remove(request, scope.value());
}

ApiResult<AdminAnswer> CadenceService::getSiteCadence(const AdminRequest& request) {
  auto scope = visibleSite(request);
  if (!scope.ok()) return scope.error();
  return answer(scope.value());
}

ApiResult<AdminAnswer> CadenceService::putSiteCadence(const AdminRequest& request) {
  auto scope = visibleSite(request);
  if (!scope.ok()) return scope.error();
  return put(request, scope.value());
}

ApiResult<AdminAnswer> CadenceService::deleteSiteCadence(const AdminRequest& request) {
  auto scope = visibleSite(request);
  if (!scope.ok()) return scope.error();
  return remove(request, scope.value());
}

ApiResult<AdminAnswer> CadenceService::patchAgent(const AdminRequest& request) {
  const std::string& agent_id = request.pathParam("agent_id");
  if (agent_id.empty() || agent_id.size() > protocol::kMaxStringBytes) return notFound("agent");
  auto agent = agents_.findAgent(agent_id);
  if (!agent.ok()) return storeFailure(agent.error());
  if (!agent.value() || !request.principal.scope.allows(agent.value()->tenant_id)) {
    return notFound("agent");
  }
  auto parsed = JsonBody::parse(request.body);
  if (!parsed.ok()) return parsed.error();
  if (auto only = parsed.value().checkOnly({"class"}); !only.ok()) return only.error();
  auto name = parsed.value().optionalString("class", 32);
  if (!name.ok()) return name.error();
  if (name.value()) {
    std::optional<AgentClass> agent_class = agentClassFromName(*name.value());
    if (!agent_class) return invalidField("class", "must be \"workstation\" or \"server\"");
    auto stored = agents_.setAgentClass(agent_id, *agent_class);
    if (!stored.ok()) return storeFailure(stored.error());
    if (!stored.value()) return notFound("agent");
    book_.setAgentClass(agent_id, *agent_class);
    presence_.setAgentClass(agent_id, *agent_class);
    if (*agent_class != agent.value()->agent_class) {
      log_("class of agent " + agent_id + " set to " + agentClassName(*agent_class) + " by " +
           who(request.principal));
    }
  }
  return agent_answer_(request);
}

}  // namespace vigil::collector
