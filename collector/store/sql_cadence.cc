// SqlStore: heartbeat cadence rules and agent classes (collector/core/cadence.h).
// A rule's scope is stored as tenant_id, site_id (NULL: the whole tenant) and agent_class
// (NULL: every class); a unique index on the scope keeps one rule per scope.

#include <Poco/Data/RecordSet.h>
#include <Poco/Data/Session.h>
#include <Poco/Data/Statement.h>

#include <string>
#include <utility>
#include <vector>

#include "collector/store/sql_store.h"
#include "collector/store/sql_util.h"

namespace vigil::collector {
namespace {

using namespace sql;  // NOLINT(google-build-using-namespace): the store's own helpers
using Poco::Data::RecordSet;
using Poco::Data::Session;
using Poco::Data::Statement;
using Poco::Data::Keywords::bind;
using Poco::Data::Keywords::into;
using Poco::Data::Keywords::now;
using Poco::Data::Keywords::use;

CadenceRule ruleAt(const RecordSet& rs, size_t row) {
  CadenceRule rule;
  rule.tenant_id = intAt(rs, 0, row);
  rule.site_id = optionalIntAt(rs, 1, row);
  if (std::optional<std::string> name = optionalStringAt(rs, 2, row)) {
    rule.agent_class = agentClassFromName(*name);
  }
  rule.heartbeat_interval_s = intAt(rs, 3, row);
  rule.beacon_interval_s = optionalIntAt(rs, 4, row);
  rule.updated_at_ms = intAt(rs, 5, row);
  rule.updated_by = stringAt(rs, 6, row);
  return rule;
}

}  // namespace

Result<std::vector<CadenceRule>> SqlStore::listCadenceRules() {
  MutexLock lock(mu_);
  return guardedLocked(
      "cannot read cadence rules", [&]() REQUIRES(mu_) -> Result<std::vector<CadenceRule>> {
        Statement st(*session_);
        st << "SELECT tenant_id, site_id, agent_class, heartbeat_interval_s,"
              " beacon_interval_s, updated_at, updated_by FROM cadence_rules"
              " ORDER BY tenant_id, COALESCE(site_id, 0), COALESCE(agent_class, '')",
            now;
        RecordSet rs(st);
        std::vector<CadenceRule> rules;
        rules.reserve(rs.rowCount());
        for (size_t row = 0; row < rs.rowCount(); ++row) {
          rules.push_back(ruleAt(rs, row));
        }
        return rules;
      });
}

Status SqlStore::replaceCadenceRules(int64_t tenant_id, std::optional<int64_t> site_id,
                                     const std::vector<CadenceRule>& rules) {
  MutexLock lock(mu_);
  return guardedLocked("cannot write cadence rules", [&]() REQUIRES(mu_) -> Status {
    Session& s = *session_;
    Transaction tx(s);
    Poco::Int64 tenant = tenant_id;
    Poco::Int64 found = 0;
    if (site_id) {
      Poco::Int64 site = *site_id;
      s << "SELECT COUNT(*) FROM sites WHERE id = $1 AND tenant_id = $2", use(site), use(tenant),
          into(found), now;
      if (found == 0) return Status::notFound("no such site");
      s << "DELETE FROM cadence_rules WHERE site_id = $1", use(site), now;
    } else {
      s << "SELECT COUNT(*) FROM tenants WHERE id = $1", use(tenant), into(found), now;
      if (found == 0) return Status::notFound("no such tenant");
      s << "DELETE FROM cadence_rules WHERE tenant_id = $1 AND site_id IS NULL", use(tenant), now;
    }
    const Poco::Nullable<Poco::Int64> site = toNullable(site_id);
    for (const CadenceRule& rule : rules) {
      Poco::Nullable<std::string> agent_class;
      if (rule.agent_class) agent_class = std::string(agentClassName(*rule.agent_class));
      Poco::Int64 heartbeat = rule.heartbeat_interval_s;
      Poco::Nullable<Poco::Int64> beacon = toNullable(rule.beacon_interval_s);
      Poco::Int64 updated_at = rule.updated_at_ms;
      s << "INSERT INTO cadence_rules (tenant_id, site_id, agent_class, heartbeat_interval_s,"
           " beacon_interval_s, updated_at, updated_by) VALUES ($1, $2, $3, $4, $5, $6, $7)",
          use(tenant), bind(site), bind(agent_class), use(heartbeat), bind(beacon), use(updated_at),
          bind(rule.updated_by), now;
    }
    tx.commit();
    return Status::okStatus();
  });
}

Result<bool> SqlStore::setAgentClass(const std::string& agent_id, AgentClass agent_class) {
  MutexLock lock(mu_);
  return guardedLocked("cannot set agent class", [&]() REQUIRES(mu_) -> Result<bool> {
    Statement update(*session_);
    update << "UPDATE agents SET agent_class = $1 WHERE id = $2",
        bind(std::string(agentClassName(agent_class))), bind(agent_id);
    return update.execute() == 1;
  });
}

Result<std::vector<std::string>> SqlStore::listAgentIdsOfClass(AgentClass agent_class) {
  MutexLock lock(mu_);
  return guardedLocked("cannot list agents by class",
                       [&]() REQUIRES(mu_) -> Result<std::vector<std::string>> {
                         std::vector<std::string> ids;
                         *session_ << "SELECT id FROM agents WHERE agent_class = $1 ORDER BY id",
                             bind(std::string(agentClassName(agent_class))), into(ids), now;
                         return ids;
                       });
}

}  // namespace vigil::collector
