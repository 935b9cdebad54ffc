// SqlStore: tenants, sites, enrollment tokens and admin tokens as the admin API reads and
// changes them (the walking skeleton's create/find-by-name calls stay in sql_store.cc).
//
// Deletion rules, beyond store.h:
//   - deleteSite removes, with the site, its enrollment tokens, its site-scoped maintenance
//     windows, its cadence rules and its alerts (all keyed by the site, meaningless without it);
//   - deleteTenant removes, with the tenant, its maintenance windows, its cadence rules, its
//     webhooks with their outbox entries, its alerts and the admin tokens' scope rows naming
//     it. A token scoped only to deleted tenants keeps authenticating with an empty scope: it
//     sees nothing.
//
// User text (names, filters) is always bound, never spliced into SQL; filters use LIKE with
// `%`, `_` and `\` escaped, so they match literally.

#include <Poco/Data/Binding.h>
#include <Poco/Data/RecordSet.h>
#include <Poco/Data/Session.h>
#include <Poco/Data/Statement.h>

#include <algorithm>
#include <map>
#include <utility>
#include <vector>

#include "collector/store/sql_store.h"
#include "collector/store/sql_util.h"

namespace vigil::collector {
namespace {

using namespace sql;  // NOLINT(google-build-using-namespace): the store's own helpers
using Poco::Data::AbstractBinding;
using Poco::Data::RecordSet;
using Poco::Data::Session;
using Poco::Data::Statement;
using Poco::Data::Keywords::bind;
using Poco::Data::Keywords::into;
using Poco::Data::Keywords::now;
using Poco::Data::Keywords::use;

Tenant tenantAt(const RecordSet& rs, size_t row) {
  return Tenant{intAt(rs, 0, row), stringAt(rs, 1, row), intAt(rs, 2, row)};
}

constexpr char kTokenColumns[] =
    "id, site_id, token_hash, created_at, expires_at, max_uses, uses, revoked, name, revoked_at";

EnrollmentToken tokenAt(const RecordSet& rs, size_t row) {
  EnrollmentToken t;
  t.id = intAt(rs, 0, row);
  t.site_id = intAt(rs, 1, row);
  t.token_hash = stringAt(rs, 2, row);
  t.created_at_ms = intAt(rs, 3, row);
  t.expires_at_ms = optionalIntAt(rs, 4, row);
  t.max_uses = optionalIntAt(rs, 5, row);
  t.uses = intAt(rs, 6, row);
  t.revoked = intAt(rs, 7, row) != 0;
  t.name = stringAt(rs, 8, row);
  t.revoked_at_ms = optionalIntAt(rs, 9, row);
  return t;
}

constexpr char kAdminTokenColumns[] =
    "id, token_hash, name, created_at, revoked, all_tenants, expires_at, revoked_at, created_by,"
    " role";

AdminToken adminTokenAt(const RecordSet& rs, size_t row) {
  AdminToken t;
  t.id = intAt(rs, 0, row);
  t.token_hash = stringAt(rs, 1, row);
  t.name = stringAt(rs, 2, row);
  t.created_at_ms = intAt(rs, 3, row);
  t.revoked = intAt(rs, 4, row) != 0;
  t.all_tenants = intAt(rs, 5, row) != 0;
  t.expires_at_ms = optionalIntAt(rs, 6, row);
  t.revoked_at_ms = optionalIntAt(rs, 7, row);
  t.created_by = optionalIntAt(rs, 8, row);
  // A role this version does not know grants the least.
  t.role = parseAdminRole(stringAt(rs, 9, row)).value_or(AdminRole::kReadOnly);
  return t;
}

// Fills each token's tenant_ids from admin_token_tenants. `tokens` ordered by id.
void attachScopes(Session& s, std::vector<AdminToken>& tokens, std::optional<int64_t> only_token) {
  if (tokens.empty()) return;
  Query q("SELECT token_id, tenant_id FROM admin_token_tenants WHERE 1 = 1");
  if (only_token) q.sql(" AND token_id = ?").param(*only_token);
  q.sql(" ORDER BY token_id, tenant_id");
  Statement st(s);
  q.execute(st);
  RecordSet rs(st);
  std::map<int64_t, std::vector<int64_t>> scopes;
  for (size_t row = 0; row < rs.rowCount(); ++row) {
    scopes[intAt(rs, 0, row)].push_back(intAt(rs, 1, row));
  }
  for (AdminToken& t : tokens) {
    auto it = scopes.find(t.id);
    if (it != scopes.end() && !t.all_tenants) t.tenant_ids = std::move(it->second);
  }
}

bool exists(Session& s, const std::string& sql, int64_t id) {
  Poco::Int64 key = id;
  Poco::Int64 count = 0;
  s << sql, use(key), into(count), now;
  return count > 0;
}

}  // namespace

// --- Tenants ----------------------------------------------------------------------------------

Result<std::optional<Tenant>> SqlStore::findTenant(int64_t tenant_id) {
  return adminRead("cannot read tenant", [&](Session& session) -> Result<std::optional<Tenant>> {
    Statement st(session);
    Query("SELECT id, name, created_at FROM tenants WHERE id = ?").param(tenant_id).execute(st);
    RecordSet rs(st);
    if (rs.rowCount() == 0) return std::optional<Tenant>();
    return std::optional<Tenant>(tenantAt(rs, 0));
  });
}

Result<std::vector<Tenant>> SqlStore::listTenants(const TenantScope& scope,
                                                  const std::string& name_contains,
                                                  int64_t after_id, size_t limit) {
  if (!scope.all && scope.tenant_ids.empty()) return std::vector<Tenant>();
  return adminRead("cannot list tenants", [&](Session& session) -> Result<std::vector<Tenant>> {
    Query q("SELECT id, name, created_at FROM tenants WHERE id > ?");
    q.param(after_id);
    if (!scope.all) q.inList("id", scope.tenant_ids);
    if (!name_contains.empty()) q.containsText("name", name_contains);
    q.sql(" ORDER BY id LIMIT ?").param(static_cast<int64_t>(limit));
    Statement st(session);
    q.execute(st);
    RecordSet rs(st);
    std::vector<Tenant> out;
    out.reserve(rs.rowCount());
    for (size_t row = 0; row < rs.rowCount(); ++row) out.push_back(tenantAt(rs, row));
    return out;
  });
}

Result<bool> SqlStore::renameTenant(int64_t tenant_id, const std::string& name) {
  MutexLock lock(mu_);
  return guardedLocked("cannot rename tenant", [&]() REQUIRES(mu_) -> Result<bool> {
    Session& s = *session_;
    Transaction tx(s);
    Poco::Int64 id = tenant_id;
    Poco::Int64 taken = 0;
    s << "SELECT COUNT(*) FROM tenants WHERE name = $1 AND id <> $2", bind(name), use(id),
        into(taken), now;
    if (taken > 0) return Status::alreadyExists("a tenant named \"" + name + "\" exists");
    try {
      Statement st(s);
      st << "UPDATE tenants SET name = $1 WHERE id = $2", bind(name), use(id);
      if (st.execute() == 0) return false;
    } catch (const Poco::Exception& e) {
      if (!backend_->isConstraintViolation(e)) throw;
      // Another process took the name between the check and the write.
      return Status::alreadyExists("a tenant named \"" + name + "\" exists");
    }
    tx.commit();
    return true;
  });
}

Result<std::optional<std::string>> SqlStore::findTenantBusinessHours(int64_t tenant_id) {
  return adminRead(
      "cannot read business hours", [&](Session& session) -> Result<std::optional<std::string>> {
        Statement st(session);
        Query("SELECT business_hours FROM tenants WHERE id = ?").param(tenant_id).execute(st);
        RecordSet rs(st);
        if (rs.rowCount() == 0) return std::optional<std::string>();
        return std::optional<std::string>(stringAt(rs, 0, 0));
      });
}

Result<bool> SqlStore::setTenantBusinessHours(int64_t tenant_id, const std::string& hours) {
  MutexLock lock(mu_);
  return guardedLocked("cannot set business hours", [&]() REQUIRES(mu_) -> Result<bool> {
    Poco::Int64 id = tenant_id;
    Statement st(*session_);
    st << "UPDATE tenants SET business_hours = $1 WHERE id = $2", bind(hours), use(id);
    return st.execute() > 0;
  });
}

Result<bool> SqlStore::deleteTenant(int64_t tenant_id) {
  MutexLock lock(mu_);
  return guardedLocked("cannot delete tenant", [&]() REQUIRES(mu_) -> Result<bool> {
    Session& s = *session_;
    Transaction tx(s);
    if (!exists(s, "SELECT COUNT(*) FROM tenants WHERE id = $1", tenant_id)) return false;
    if (exists(s, "SELECT COUNT(*) FROM sites WHERE tenant_id = $1", tenant_id)) {
      return Status::failedPrecondition("the tenant still has sites");
    }
    Poco::Int64 id = tenant_id;
    s << "DELETE FROM maintenance_windows WHERE tenant_id = $1", use(id), now;
    s << "DELETE FROM cadence_rules WHERE tenant_id = $1", use(id), now;
    s << "DELETE FROM webhook_outbox WHERE webhook_id IN"
         " (SELECT id FROM webhooks WHERE tenant_id = $1)",
        use(id), now;
    s << "DELETE FROM webhooks WHERE tenant_id = $1", use(id), now;
    s << "DELETE FROM alerts WHERE tenant_id = $1", use(id), now;
    s << "DELETE FROM admin_token_tenants WHERE tenant_id = $1", use(id), now;
    s << "DELETE FROM tenants WHERE id = $1", use(id), now;
    tx.commit();
    return true;
  });
}

// --- Sites ------------------------------------------------------------------------------------

Result<std::optional<Site>> SqlStore::findSite(int64_t site_id) {
  return adminRead("cannot read site", [&](Session& session) -> Result<std::optional<Site>> {
    Statement st(session);
    Query("SELECT " + std::string(kSiteColumns) + " FROM sites WHERE id = ?")
        .param(site_id)
        .execute(st);
    RecordSet rs(st);
    if (rs.rowCount() == 0) return std::optional<Site>();
    return std::optional<Site>(siteAt(rs, 0));
  });
}

Result<std::vector<Site>> SqlStore::listSitesPage(const TenantScope& scope,
                                                  std::optional<int64_t> tenant_id,
                                                  const std::string& name_contains,
                                                  int64_t after_id, size_t limit) {
  if (!scope.all && scope.tenant_ids.empty()) return std::vector<Site>();
  return adminRead("cannot list sites", [&](Session& session) -> Result<std::vector<Site>> {
    Query q("SELECT " + std::string(kSiteColumns) + " FROM sites WHERE id > ?");
    q.param(after_id);
    if (!scope.all) q.inList("tenant_id", scope.tenant_ids);
    if (tenant_id) q.sql(" AND tenant_id = ?").param(*tenant_id);
    if (!name_contains.empty()) q.containsText("name", name_contains);
    q.sql(" ORDER BY id LIMIT ?").param(static_cast<int64_t>(limit));
    Statement st(session);
    q.execute(st);
    RecordSet rs(st);
    std::vector<Site> out;
    out.reserve(rs.rowCount());
    for (size_t row = 0; row < rs.rowCount(); ++row) out.push_back(siteAt(rs, row));
    return out;
  });
}

Result<bool> SqlStore::renameSite(int64_t site_id, const std::string& name) {
  MutexLock lock(mu_);
  return guardedLocked("cannot rename site", [&]() REQUIRES(mu_) -> Result<bool> {
    Session& s = *session_;
    Transaction tx(s);
    Poco::Int64 id = site_id;
    Poco::Int64 taken = 0;
    s << "SELECT COUNT(*) FROM sites o JOIN sites me ON me.tenant_id = o.tenant_id"
         " WHERE me.id = $1 AND o.id <> me.id AND o.name = $2",
        use(id), bind(name), into(taken), now;
    if (taken > 0) {
      return Status::alreadyExists("the tenant has a site named \"" + name + "\"");
    }
    try {
      Statement st(s);
      st << "UPDATE sites SET name = $1 WHERE id = $2", bind(name), use(id);
      if (st.execute() == 0) return false;
    } catch (const Poco::Exception& e) {
      if (!backend_->isConstraintViolation(e)) throw;
      return Status::alreadyExists("the tenant has a site named \"" + name + "\"");
    }
    tx.commit();
    return true;
  });
}

Result<bool> SqlStore::deleteSite(int64_t site_id) {
  MutexLock lock(mu_);
  return guardedLocked("cannot delete site", [&]() REQUIRES(mu_) -> Result<bool> {
    Session& s = *session_;
    Transaction tx(s);
    if (!exists(s, "SELECT COUNT(*) FROM sites WHERE id = $1", site_id)) return false;
    if (exists(s, "SELECT COUNT(*) FROM agents WHERE site_id = $1", site_id)) {
      return Status::failedPrecondition("the site still has agents (retired ones included)");
    }
    Poco::Int64 id = site_id;
    s << "DELETE FROM enrollment_tokens WHERE site_id = $1", use(id), now;
    s << "DELETE FROM maintenance_windows WHERE site_id = $1", use(id), now;
    s << "DELETE FROM cadence_rules WHERE site_id = $1", use(id), now;
    s << "DELETE FROM alerts WHERE site_id = $1", use(id), now;
    s << "DELETE FROM sites WHERE id = $1", use(id), now;
    tx.commit();
    return true;
  });
}

Result<Store::AgentCounts> SqlStore::countAgents(int64_t site_id) {
  return adminRead("cannot count agents", [&](Session& session) -> Result<AgentCounts> {
    Poco::Int64 id = site_id;
    Poco::Int64 site = 0;
    Poco::Int64 tenant = 0;
    session << "SELECT COUNT(*) FROM agents WHERE site_id = $1", use(id), into(site), now;
    session << "SELECT COUNT(*) FROM agents a JOIN sites s ON s.id = a.site_id"
               " WHERE s.tenant_id = (SELECT tenant_id FROM sites WHERE id = $1)",
        use(id), into(tenant), now;
    return AgentCounts{site, tenant};
  });
}

// --- Enrollment tokens ------------------------------------------------------------------------

Result<EnrollmentToken> SqlStore::createEnrollmentToken(const EnrollmentToken& token) {
  MutexLock lock(mu_);
  return guardedLocked(
      "cannot create enrollment token", [&]() REQUIRES(mu_) -> Result<EnrollmentToken> {
        Poco::Int64 site = token.site_id;
        Poco::Int64 created = token.created_at_ms;
        Poco::Nullable<Poco::Int64> expires = toNullable(token.expires_at_ms);
        Poco::Nullable<Poco::Int64> max_uses = toNullable(token.max_uses);
        Poco::Nullable<Poco::Int64> revoked_at = toNullable(token.revoked_at_ms);
        int revoked = token.revoked ? 1 : 0;
        Poco::Int64 id = 0;
        *session_ << "INSERT INTO enrollment_tokens (site_id, token_hash, created_at, expires_at,"
                     " max_uses, uses, revoked, name, revoked_at)"
                     " VALUES ($1, $2, $3, $4, $5, 0, $6, $7, $8) RETURNING id",
            use(site), bind(token.token_hash), use(created), use(expires), use(max_uses),
            use(revoked), bind(token.name), use(revoked_at), into(id), now;
        EnrollmentToken stored = token;
        stored.id = id;
        stored.uses = 0;
        return stored;
      });
}

Result<std::optional<EnrollmentToken>> SqlStore::findEnrollmentTokenByHash(
    const std::string& token_hash) {
  MutexLock lock(mu_);
  return guardedLocked("cannot read enrollment token",
                       [&]() REQUIRES(mu_) -> Result<std::optional<EnrollmentToken>> {
                         Statement st(*session_);
                         Query("SELECT " + std::string(kTokenColumns) +
                               " FROM enrollment_tokens WHERE token_hash = ?")
                             .param(token_hash)
                             .execute(st);
                         RecordSet rs(st);
                         if (rs.rowCount() == 0) return std::optional<EnrollmentToken>();
                         return std::optional<EnrollmentToken>(tokenAt(rs, 0));
                       });
}

Result<std::optional<EnrollmentToken>> SqlStore::findEnrollmentToken(int64_t token_id) {
  return adminRead(
      "cannot read enrollment token",
      [&](Session& session) -> Result<std::optional<EnrollmentToken>> {
        Statement st(session);
        Query("SELECT " + std::string(kTokenColumns) + " FROM enrollment_tokens WHERE id = ?")
            .param(token_id)
            .execute(st);
        RecordSet rs(st);
        if (rs.rowCount() == 0) return std::optional<EnrollmentToken>();
        return std::optional<EnrollmentToken>(tokenAt(rs, 0));
      });
}

Result<std::vector<EnrollmentToken>> SqlStore::listEnrollmentTokens(int64_t site_id) {
  return adminRead("cannot list enrollment tokens",
                   [&](Session& session) -> Result<std::vector<EnrollmentToken>> {
                     Statement st(session);
                     Query("SELECT " + std::string(kTokenColumns) +
                           " FROM enrollment_tokens WHERE site_id = ? ORDER BY id")
                         .param(site_id)
                         .execute(st);
                     RecordSet rs(st);
                     std::vector<EnrollmentToken> out;
                     out.reserve(rs.rowCount());
                     for (size_t row = 0; row < rs.rowCount(); ++row)
                       out.push_back(tokenAt(rs, row));
                     return out;
                   });
}

Result<bool> SqlStore::revokeEnrollmentToken(int64_t token_id, int64_t now_ms) {
  MutexLock lock(mu_);
  return guardedLocked("cannot revoke enrollment token", [&]() REQUIRES(mu_) -> Result<bool> {
    Poco::Int64 id = token_id;
    Poco::Int64 at = now_ms;
    Statement st(*session_);
    // A second revocation keeps the first time.
    st << "UPDATE enrollment_tokens SET revoked = 1, revoked_at = COALESCE(revoked_at, $1)"
          " WHERE id = $2",
        use(at), use(id);
    return st.execute() > 0;
  });
}

// --- Admin tokens -----------------------------------------------------------------------------

namespace {

// The admin token whose `column` equals `value`, with its scope. REQUIRES: an open
// transaction on `s`.
template <typename T>
std::optional<AdminToken> findAdminTokenWhere(Session& s, const std::string& column,
                                              const T& value) {
  Statement st(s);
  Query("SELECT " + std::string(kAdminTokenColumns) + " FROM admin_tokens WHERE " + column + " = ?")
      .param(value)
      .execute(st);
  RecordSet rs(st);
  if (rs.rowCount() == 0) return std::nullopt;
  std::vector<AdminToken> found{adminTokenAt(rs, 0)};
  attachScopes(s, found, found.front().id);
  return std::move(found.front());
}

// OK if `token` may be a child of its parent (store.h, createAdminToken); kFailedPrecondition
// naming why not. REQUIRES: token.created_by; an open transaction on `s`.
Status checkWithinParent(Session& s, const NewAdminToken& token, int64_t now_ms) {
  std::optional<AdminToken> parent = findAdminTokenWhere(s, "id", *token.created_by);
  if (!parent || !parent->usableAt(now_ms)) {
    return Status::failedPrecondition("the parent token is unknown, revoked or expired");
  }
  if (!roleCovers(parent->role, token.role)) {
    return Status::failedPrecondition("a token's role cannot exceed its parent's");
  }
  if (parent->expires_at_ms &&
      (!token.expires_at_ms || *token.expires_at_ms > *parent->expires_at_ms)) {
    return Status::failedPrecondition("a token cannot expire after its parent");
  }
  return Status::okStatus();
}

}  // namespace

Result<AdminToken> SqlStore::createAdminToken(const NewAdminToken& token, int64_t now_ms) {
  if (!token.all_tenants && token.tenant_ids.empty()) {
    return Status::invalidArgument("a scoped admin token needs at least one tenant");
  }
  std::vector<int64_t> tenants;
  if (!token.all_tenants) {
    tenants = token.tenant_ids;
    std::sort(tenants.begin(), tenants.end());
    tenants.erase(std::unique(tenants.begin(), tenants.end()), tenants.end());
  }
  MutexLock lock(mu_);
  return guardedLocked("cannot create admin token", [&]() REQUIRES(mu_) -> Result<AdminToken> {
    Session& s = *session_;
    Transaction tx(s);
    for (int64_t tenant : tenants) {
      if (!exists(s, "SELECT COUNT(*) FROM tenants WHERE id = $1", tenant)) {
        return Status::invalidArgument("no tenant " + std::to_string(tenant));
      }
    }
    if (token.created_by) {
      if (Status within = checkWithinParent(s, token, now_ms); !within.ok()) return within;
    }
    Poco::Int64 created = now_ms;
    int all = token.all_tenants ? 1 : 0;
    Poco::Nullable<Poco::Int64> expires = toNullable(token.expires_at_ms);
    Poco::Nullable<Poco::Int64> created_by = toNullable(token.created_by);
    const std::string role = adminRoleName(token.role);
    Poco::Int64 id = 0;
    try {
      s << "INSERT INTO admin_tokens (token_hash, name, created_at, revoked, all_tenants,"
           " expires_at, created_by, role) VALUES ($1, $2, $3, 0, $4, $5, $6, $7) RETURNING id",
          bind(token.token_hash), bind(token.name), use(created), use(all), use(expires),
          use(created_by), bind(role), into(id), now;
    } catch (const Poco::Exception& e) {
      if (!backend_->isConstraintViolation(e)) throw;
      return Status::alreadyExists("an admin token with this hash exists");
    }
    AdminToken stored;
    stored.id = id;
    Poco::Int64 token_id = stored.id;
    Poco::Int64 tenant_id = 0;
    Statement insert(s);
    insert << "INSERT INTO admin_token_tenants (token_id, tenant_id) VALUES ($1, $2)",
        use(token_id), use(tenant_id);
    bool executed = false;
    for (int64_t tenant : tenants) {
      tenant_id = tenant;
      executeAgain(insert, executed);
      executed = true;
    }
    tx.commit();
    stored.token_hash = token.token_hash;
    stored.name = token.name;
    stored.created_at_ms = now_ms;
    stored.all_tenants = token.all_tenants;
    stored.tenant_ids = tenants;
    stored.expires_at_ms = token.expires_at_ms;
    stored.created_by = token.created_by;
    stored.role = token.role;
    return stored;
  });
}

Result<std::vector<AdminToken>> SqlStore::listAdminTokens() {
  return adminRead(
      "cannot list admin tokens", [&](Session& session) -> Result<std::vector<AdminToken>> {
        Session& s = session;
        // One read transaction, so tokens and scopes are of the same moment.
        Transaction tx(s);
        Statement st(s);
        st << "SELECT " + std::string(kAdminTokenColumns) + " FROM admin_tokens ORDER BY id", now;
        RecordSet rs(st);
        std::vector<AdminToken> out;
        out.reserve(rs.rowCount());
        for (size_t row = 0; row < rs.rowCount(); ++row) out.push_back(adminTokenAt(rs, row));
        attachScopes(s, out, std::nullopt);
        tx.commit();
        return out;
      });
}

Result<std::optional<AdminToken>> SqlStore::findAdminToken(int64_t token_id) {
  return adminRead("cannot read admin token",
                   [&](Session& session) -> Result<std::optional<AdminToken>> {
                     Transaction tx(session);
                     std::optional<AdminToken> found = findAdminTokenWhere(session, "id", token_id);
                     tx.commit();
                     return found;
                   });
}

Result<std::optional<AdminToken>> SqlStore::findAdminTokenByHash(const std::string& token_hash) {
  return adminRead(
      "cannot read admin token", [&](Session& session) -> Result<std::optional<AdminToken>> {
        Transaction tx(session);
        std::optional<AdminToken> found = findAdminTokenWhere(session, "token_hash", token_hash);
        tx.commit();
        return found;
      });
}

Result<bool> SqlStore::revokeAdminToken(int64_t token_id, int64_t now_ms) {
  MutexLock lock(mu_);
  return guardedLocked("cannot revoke admin token", [&]() REQUIRES(mu_) -> Result<bool> {
    Poco::Int64 id = token_id;
    Poco::Int64 at = now_ms;
    Statement st(*session_);
    // The token and its descendants, in one statement (one implicit transaction). A second
    // revocation keeps the first time.
    st << "WITH RECURSIVE tree(id) AS (SELECT id FROM admin_tokens WHERE id = $1"
          " UNION SELECT t.id FROM admin_tokens t JOIN tree ON t.created_by = tree.id)"
          " UPDATE admin_tokens SET revoked = 1, revoked_at = COALESCE(revoked_at, $2)"
          " WHERE id IN (SELECT id FROM tree)",
        use(id), use(at);
    return st.execute() > 0;
  });
}

}  // namespace vigil::collector
