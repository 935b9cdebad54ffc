#define BOOST_TEST_MODULE collector_sqlite_tenancy
#include <Poco/Data/Session.h>

#include <boost/test/unit_test.hpp>
#include <memory>
#include <string>
#include <vector>

#include "collector/store/sql_store.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_store.h"

using Poco::Data::Keywords::into;
using Poco::Data::Keywords::now;
using vigil::StatusCode;
using vigil::collector::AdminRole;
using vigil::collector::AdminToken;
using vigil::collector::AgentRecord;
using vigil::collector::EnrollmentToken;
using vigil::collector::NewAdminToken;
using vigil::collector::Site;
using vigil::collector::SqlStore;
using vigil::collector::Tenant;
using vigil::collector::TenantScope;
using vigil::testing::TempDir;

namespace {

std::string describe(const vigil::Status& s) { return s.toString(); }

template <typename T>
T ok(const vigil::Result<T>& r) {
  BOOST_REQUIRE_MESSAGE(r.ok(), (r.ok() ? std::string() : describe(r.error())));
  return r.value();
}

TenantScope only(std::vector<int64_t> ids) { return TenantScope{false, std::move(ids)}; }

NewAdminToken allTenants(const std::string& hash, const std::string& name) {
  NewAdminToken t;
  t.token_hash = hash;
  t.name = name;
  return t;
}

NewAdminToken scoped(const std::string& hash, const std::string& name, std::vector<int64_t> ids) {
  NewAdminToken t = allTenants(hash, name);
  t.all_tenants = false;
  t.tenant_ids = std::move(ids);
  return t;
}

std::vector<std::string> namesOf(const std::vector<Tenant>& tenants) {
  std::vector<std::string> out;
  out.reserve(tenants.size());
  for (const Tenant& t : tenants) out.push_back(t.name);
  return out;
}

std::vector<std::string> namesOf(const std::vector<Site>& sites) {
  std::vector<std::string> out;
  out.reserve(sites.size());
  for (const Site& s : sites) out.push_back(s.name);
  return out;
}

struct Fixture {
  Fixture() : data_dir(tmp.sub("data")) {
    auto opened = vigil::testing::openTestStore(data_dir);
    BOOST_REQUIRE_MESSAGE(opened.ok(), (opened.ok() ? std::string() : opened.error().toString()));
    store = std::move(opened.value());
  }

  Tenant tenant(const std::string& name) { return ok(store->createTenant(name, 1000)); }
  Site site(int64_t tenant_id, const std::string& name) {
    return ok(store->createSite(tenant_id, name, 1000));
  }
  EnrollmentToken enrollmentToken(int64_t site_id, const std::string& hash) {
    EnrollmentToken t;
    t.site_id = site_id;
    t.token_hash = hash;
    t.created_at_ms = 1000;
    t.name = "rollout";
    return ok(store->createEnrollmentToken(t));
  }
  AgentRecord enroll(int64_t token_id, const std::string& id) {
    AgentRecord a;
    a.id = id;
    a.hostname = "host-" + id;
    a.agent_version = "0.1.0";
    a.secret = std::string(64, 'a');
    a.enrolled_at_ms = 2000;
    return ok(store->enrollAgent(token_id, a, 2000));
  }
  // A second connection, for what the Store interface does not expose.
  Poco::Data::Session raw() { return vigil::testing::rawTestSession(data_dir); }
  int64_t count(const std::string& table) {
    Poco::Data::Session s = raw();
    Poco::Int64 n = 0;
    s << "SELECT COUNT(*) FROM " + table, into(n), now;
    return n;
  }

  TempDir tmp;
  std::string data_dir;
  std::unique_ptr<SqlStore> store;
};

}  // namespace

BOOST_FIXTURE_TEST_SUITE(tenancy, Fixture)

BOOST_AUTO_TEST_CASE(find_tenant_by_id_or_nullopt) {
  Tenant a = tenant("Acme");
  auto found = ok(store->findTenant(a.id));
  BOOST_REQUIRE(found);
  BOOST_TEST(found->name == "Acme");
  BOOST_TEST(found->created_at_ms == 1000);
  BOOST_TEST(!ok(store->findTenant(a.id + 100)));
}

BOOST_AUTO_TEST_CASE(list_tenants_paginates_ascending_by_id) {
  for (int i = 0; i < 5; ++i) tenant("t" + std::to_string(i));
  auto first = ok(store->listTenants(TenantScope::everything(), "", 0, 2));
  BOOST_TEST(namesOf(first) == (std::vector<std::string>{"t0", "t1"}));
  auto second = ok(store->listTenants(TenantScope::everything(), "", first.back().id, 2));
  BOOST_TEST(namesOf(second) == (std::vector<std::string>{"t2", "t3"}));
  auto last = ok(store->listTenants(TenantScope::everything(), "", second.back().id, 2));
  BOOST_TEST(namesOf(last) == (std::vector<std::string>{"t4"}));
  BOOST_TEST(ok(store->listTenants(TenantScope::everything(), "", last.back().id, 2)).empty());
}

BOOST_AUTO_TEST_CASE(list_tenants_keeps_to_the_scope) {
  Tenant a = tenant("a");
  tenant("b");
  Tenant c = tenant("c");
  BOOST_TEST(namesOf(ok(store->listTenants(only({a.id, c.id}), "", 0, 10))) ==
             (std::vector<std::string>{"a", "c"}));
  BOOST_TEST(ok(store->listTenants(only({}), "", 0, 10)).empty());
  BOOST_TEST(ok(store->listTenants(only({c.id + 10}), "", 0, 10)).empty());
}

BOOST_AUTO_TEST_CASE(name_filter_is_a_literal_case_insensitive_substring) {
  tenant("Acme Corp");
  tenant("100% Dental");
  tenant("under_score");
  tenant("underXscore");
  tenant("back\\slash");
  tenant("'; DROP TABLE tenants; --");
  const TenantScope all = TenantScope::everything();
  BOOST_TEST(namesOf(ok(store->listTenants(all, "acme", 0, 10))) ==
             (std::vector<std::string>{"Acme Corp"}));
  BOOST_TEST(namesOf(ok(store->listTenants(all, "%", 0, 10))) ==
             (std::vector<std::string>{"100% Dental"}));
  BOOST_TEST(namesOf(ok(store->listTenants(all, "_", 0, 10))) ==
             (std::vector<std::string>{"under_score"}));
  BOOST_TEST(namesOf(ok(store->listTenants(all, "\\", 0, 10))) ==
             (std::vector<std::string>{"back\\slash"}));
  BOOST_TEST(namesOf(ok(store->listTenants(all, "'; DROP TABLE tenants; --", 0, 10))) ==
             (std::vector<std::string>{"'; DROP TABLE tenants; --"}));
  BOOST_TEST(ok(store->listTenants(all, "' OR '1'='1", 0, 10)).empty());
  BOOST_TEST(count("tenants") == 6);
}

BOOST_AUTO_TEST_CASE(rename_tenant_refuses_a_taken_name) {
  Tenant a = tenant("a");
  Tenant b = tenant("b");
  auto taken = store->renameTenant(a.id, "b");
  BOOST_REQUIRE(!taken.ok());
  BOOST_TEST(static_cast<int>(taken.error().code()) ==
             static_cast<int>(StatusCode::kAlreadyExists));
  BOOST_TEST(ok(store->findTenant(a.id))->name == "a");
  BOOST_TEST(ok(store->renameTenant(a.id, "a")));  // its own name is not "taken"
  BOOST_TEST(ok(store->renameTenant(a.id, "'; DROP TABLE tenants; --")));
  BOOST_TEST(ok(store->findTenant(a.id))->name == "'; DROP TABLE tenants; --");
  BOOST_TEST(!ok(store->renameTenant(b.id + 100, "z")));
}

BOOST_AUTO_TEST_CASE(delete_tenant_refuses_while_it_has_sites) {
  Tenant a = tenant("a");
  Site s = site(a.id, "hq");
  auto refused = store->deleteTenant(a.id);
  BOOST_REQUIRE(!refused.ok());
  BOOST_TEST(static_cast<int>(refused.error().code()) ==
             static_cast<int>(StatusCode::kFailedPrecondition));
  BOOST_TEST(ok(store->findTenant(a.id)).has_value());
  BOOST_TEST(ok(store->deleteSite(s.id)));
  BOOST_TEST(ok(store->deleteTenant(a.id)));
  BOOST_TEST(!ok(store->findTenant(a.id)));
  BOOST_TEST(!ok(store->deleteTenant(a.id)));
}

BOOST_AUTO_TEST_CASE(delete_tenant_drops_its_rows_and_empties_scopes_naming_only_it) {
  Tenant a = tenant("a");
  Tenant b = tenant("b");
  {
    Poco::Data::Session s = raw();
    const std::string id = std::to_string(a.id);
    s << "INSERT INTO maintenance_windows (tenant_id, scope, starts_at, duration_s, recurrence,"
         " created_at) VALUES (" +
             id + ", 'tenant', 0, 60, 'once', 0)",
        now;
    s << "INSERT INTO webhooks (tenant_id, url, secret, events, created_at) VALUES (" + id +
             ", 'https://x', 's', '[]', 0)",
        now;
    s << "INSERT INTO webhook_outbox (webhook_id, message_id, event_type, ordering_key, payload,"
         " created_at, next_attempt_at) SELECT id, 'm1', 'webhook.test', 'k', '{}', 0, 0"
         " FROM webhooks",
        now;
    s << "INSERT INTO alerts (kind, state, opened_at, tenant_id) VALUES ('flapping', 'resolved',"
         " 0, " +
             id + ")",
        now;
  }
  const AdminToken only_a = ok(store->createAdminToken(scoped("h1", "only a", {a.id}), 1));
  const AdminToken a_and_b = ok(store->createAdminToken(scoped("h2", "a and b", {a.id, b.id}), 1));
  BOOST_TEST(ok(store->deleteTenant(a.id)));
  BOOST_TEST(count("maintenance_windows") == 0);
  BOOST_TEST(count("webhooks") == 0);
  BOOST_TEST(count("webhook_outbox") == 0);
  BOOST_TEST(count("alerts") == 0);
  auto left = ok(store->findAdminToken(only_a.id));
  BOOST_REQUIRE(left);
  BOOST_TEST(!left->all_tenants);
  BOOST_TEST(left->tenant_ids.empty());  // sees nothing
  BOOST_TEST(ok(store->findAdminToken(a_and_b.id))->tenant_ids == std::vector<int64_t>{b.id});
}

BOOST_AUTO_TEST_CASE(find_site_and_list_sites_by_scope_tenant_and_name) {
  Tenant a = tenant("a");
  Tenant b = tenant("b");
  Site a1 = site(a.id, "Main Office");
  site(a.id, "Warehouse_2");
  site(b.id, "main branch");
  auto found = ok(store->findSite(a1.id));
  BOOST_REQUIRE(found);
  BOOST_TEST(found->tenant_id == a.id);
  BOOST_TEST(found->peer_key.size() == 64u);
  BOOST_TEST(!ok(store->findSite(a1.id + 100)));

  const TenantScope all = TenantScope::everything();
  BOOST_TEST(namesOf(ok(store->listSitesPage(all, std::nullopt, "", 0, 10))).size() == 3u);
  BOOST_TEST(namesOf(ok(store->listSitesPage(all, std::nullopt, "MAIN", 0, 10))) ==
             (std::vector<std::string>{"Main Office", "main branch"}));
  BOOST_TEST(namesOf(ok(store->listSitesPage(all, b.id, "main", 0, 10))) ==
             (std::vector<std::string>{"main branch"}));
  BOOST_TEST(namesOf(ok(store->listSitesPage(only({a.id}), std::nullopt, "main", 0, 10))) ==
             (std::vector<std::string>{"Main Office"}));
  // A tenant filter outside the scope finds nothing.
  BOOST_TEST(ok(store->listSitesPage(only({a.id}), b.id, "", 0, 10)).empty());
  BOOST_TEST(ok(store->listSitesPage(only({}), std::nullopt, "", 0, 10)).empty());
  BOOST_TEST(namesOf(ok(store->listSitesPage(all, std::nullopt, "_", 0, 10))) ==
             (std::vector<std::string>{"Warehouse_2"}));
  auto page = ok(store->listSitesPage(all, std::nullopt, "", a1.id, 1));
  BOOST_TEST(namesOf(page) == (std::vector<std::string>{"Warehouse_2"}));
}

BOOST_AUTO_TEST_CASE(rename_site_refuses_a_name_taken_in_the_same_tenant_only) {
  Tenant a = tenant("a");
  Tenant b = tenant("b");
  Site a1 = site(a.id, "one");
  site(a.id, "two");
  site(b.id, "three");
  auto taken = store->renameSite(a1.id, "two");
  BOOST_REQUIRE(!taken.ok());
  BOOST_TEST(static_cast<int>(taken.error().code()) ==
             static_cast<int>(StatusCode::kAlreadyExists));
  BOOST_TEST(ok(store->renameSite(a1.id, "three")));  // taken in another tenant: fine
  BOOST_TEST(ok(store->findSite(a1.id))->name == "three");
  BOOST_TEST(!ok(store->renameSite(a1.id + 100, "x")));
}

BOOST_AUTO_TEST_CASE(delete_site_refuses_while_any_agent_remains_even_retired) {
  Tenant a = tenant("a");
  Site s = site(a.id, "hq");
  EnrollmentToken t = enrollmentToken(s.id, "hash-1");
  enroll(t.id, "agent-1");
  {
    Poco::Data::Session raw_session = raw();
    raw_session << "UPDATE agents SET retired_at = 5", now;
  }
  auto refused = store->deleteSite(s.id);
  BOOST_REQUIRE(!refused.ok());
  BOOST_TEST(static_cast<int>(refused.error().code()) ==
             static_cast<int>(StatusCode::kFailedPrecondition));
  BOOST_TEST(ok(store->findSite(s.id)).has_value());
  {
    Poco::Data::Session raw_session = raw();
    raw_session << "DELETE FROM agents", now;
  }
  BOOST_TEST(ok(store->deleteSite(s.id)));
  BOOST_TEST(!ok(store->findSite(s.id)));
  BOOST_TEST(!ok(store->findEnrollmentToken(t.id)));  // went with its site
  BOOST_TEST(!ok(store->deleteSite(s.id)));
}

BOOST_AUTO_TEST_CASE(enrollment_token_keeps_name_and_is_found_by_id_and_hash) {
  Tenant a = tenant("a");
  Site s = site(a.id, "hq");
  EnrollmentToken in;
  in.site_id = s.id;
  in.token_hash = "hash-x";
  in.created_at_ms = 1000;
  in.expires_at_ms = 9000;
  in.max_uses = 3;
  in.name = "Intune rollout";
  EnrollmentToken stored = ok(store->createEnrollmentToken(in));
  auto by_id = ok(store->findEnrollmentToken(stored.id));
  BOOST_REQUIRE(by_id);
  BOOST_TEST(by_id->name == "Intune rollout");
  BOOST_TEST(*by_id->expires_at_ms == 9000);
  BOOST_TEST(*by_id->max_uses == 3);
  BOOST_TEST(!by_id->revoked);
  BOOST_TEST(!by_id->revoked_at_ms);
  BOOST_TEST(ok(store->findEnrollmentTokenByHash("hash-x"))->id == stored.id);
  BOOST_TEST(ok(store->listEnrollmentTokens(s.id)).size() == 1u);
  BOOST_TEST(!ok(store->findEnrollmentToken(stored.id + 100)));
}

BOOST_AUTO_TEST_CASE(revoked_enrollment_token_keeps_first_revocation_time_and_enrolls_nobody) {
  Tenant a = tenant("a");
  Site s = site(a.id, "hq");
  EnrollmentToken t = enrollmentToken(s.id, "hash-1");
  BOOST_TEST(ok(store->revokeEnrollmentToken(t.id, 5000)));
  BOOST_TEST(ok(store->revokeEnrollmentToken(t.id, 6000)));
  auto revoked = ok(store->findEnrollmentToken(t.id));
  BOOST_TEST(revoked->revoked);
  BOOST_TEST(*revoked->revoked_at_ms == 5000);
  BOOST_TEST(!revoked->usableAt(5000));
  AgentRecord agent;
  agent.id = "agent-x";
  agent.hostname = "h";
  agent.agent_version = "1";
  agent.secret = "s";
  auto refused = store->enrollAgent(t.id, agent, 7000);
  BOOST_REQUIRE(!refused.ok());
  BOOST_TEST(static_cast<int>(refused.error().code()) ==
             static_cast<int>(StatusCode::kPermissionDenied));
  BOOST_TEST(!ok(store->revokeEnrollmentToken(t.id + 100, 1)));
}

BOOST_AUTO_TEST_CASE(admin_token_stores_its_scope_in_the_same_transaction) {
  Tenant a = tenant("a");
  Tenant b = tenant("b");
  AdminToken all = ok(store->createAdminToken(allTenants("hash-all", "operator"), 1000));
  BOOST_TEST(all.all_tenants);
  NewAdminToken in = scoped("hash-a", "tech", {b.id, a.id, b.id});
  in.expires_at_ms = 50000;
  in.created_by = all.id;
  AdminToken created = ok(store->createAdminToken(in, 1000));
  BOOST_TEST(created.tenant_ids == (std::vector<int64_t>{a.id, b.id}));
  auto found = ok(store->findAdminToken(created.id));
  BOOST_REQUIRE(found);
  BOOST_TEST(found->name == "tech");
  BOOST_TEST(found->token_hash == "hash-a");
  BOOST_TEST(!found->all_tenants);
  BOOST_TEST(found->tenant_ids == (std::vector<int64_t>{a.id, b.id}));
  BOOST_TEST(*found->expires_at_ms == 50000);
  BOOST_TEST(*found->created_by == all.id);
  BOOST_TEST(found->created_at_ms == 1000);
  BOOST_TEST(!found->revoked);

  auto listed = ok(store->listAdminTokens());
  BOOST_REQUIRE(listed.size() == 2u);
  BOOST_TEST(listed[0].all_tenants);
  BOOST_TEST(listed[0].tenant_ids.empty());
  BOOST_TEST(!listed[0].created_by);
  BOOST_TEST(listed[1].tenant_ids == (std::vector<int64_t>{a.id, b.id}));
  BOOST_TEST(!ok(store->findAdminToken(created.id + 100)));
}

BOOST_AUTO_TEST_CASE(admin_token_naming_an_unknown_tenant_stores_nothing) {
  Tenant a = tenant("a");
  auto refused = store->createAdminToken(scoped("hash-a", "tech", {a.id, a.id + 100}), 1000);
  BOOST_REQUIRE(!refused.ok());
  BOOST_TEST(static_cast<int>(refused.error().code()) ==
             static_cast<int>(StatusCode::kInvalidArgument));
  auto empty_scope = store->createAdminToken(scoped("hash-b", "tech", {}), 1000);
  BOOST_REQUIRE(!empty_scope.ok());
  BOOST_TEST(ok(store->listAdminTokens()).empty());
  BOOST_TEST(count("admin_token_tenants") == 0);
}

BOOST_AUTO_TEST_CASE(admin_token_hash_is_unique) {
  ok(store->createAdminToken(allTenants("same", "one"), 1000));
  auto again = store->createAdminToken(allTenants("same", "two"), 1000);
  BOOST_REQUIRE(!again.ok());
  BOOST_TEST(static_cast<int>(again.error().code()) ==
             static_cast<int>(StatusCode::kAlreadyExists));
}

BOOST_AUTO_TEST_CASE(revoke_admin_token_sets_revoked_and_first_time) {
  AdminToken t = ok(store->createAdminToken(allTenants("h", "one"), 1000));
  BOOST_TEST(t.usableAt(2000));
  BOOST_TEST(ok(store->revokeAdminToken(t.id, 3000)));
  BOOST_TEST(ok(store->revokeAdminToken(t.id, 4000)));
  auto found = ok(store->findAdminToken(t.id));
  BOOST_TEST(found->revoked);
  BOOST_TEST(*found->revoked_at_ms == 3000);
  BOOST_TEST(!found->usableAt(3000));
  BOOST_TEST(!ok(store->revokeAdminToken(t.id + 100, 1)));
}

BOOST_AUTO_TEST_CASE(admin_token_role_is_stored_and_admin_by_default) {
  AdminToken admin = ok(store->createAdminToken(allTenants("h1", "admin"), 1000));
  BOOST_TEST((admin.role == AdminRole::kAdmin));
  NewAdminToken reader = allTenants("h2", "reader");
  reader.role = AdminRole::kReadOnly;
  const int64_t id = ok(store->createAdminToken(reader, 1000)).id;
  BOOST_TEST((ok(store->findAdminToken(id))->role == AdminRole::kReadOnly));
  BOOST_TEST((ok(store->findAdminTokenByHash("h1"))->role == AdminRole::kAdmin));
  BOOST_TEST((ok(store->listAdminTokens())[1].role == AdminRole::kReadOnly));
}

// A child never outranks or outlives its parent, and a parent that no longer authenticates
// has no new children; refused tokens are not stored.
BOOST_AUTO_TEST_CASE(a_child_token_stays_within_its_parent) {
  NewAdminToken parent_in = allTenants("parent", "parent");
  parent_in.role = AdminRole::kOperator;
  parent_in.expires_at_ms = 10'000;
  const AdminToken parent = ok(store->createAdminToken(parent_in, 1000));
  auto child = [&](const std::string& hash) {
    NewAdminToken t = allTenants(hash, hash);
    t.created_by = parent.id;
    t.role = AdminRole::kOperator;
    t.expires_at_ms = 10'000;
    return t;
  };
  auto refused = [&](const NewAdminToken& t, int64_t now_ms) {
    auto r = store->createAdminToken(t, now_ms);
    return !r.ok() && r.error().code() == StatusCode::kFailedPrecondition;
  };
  NewAdminToken higher = child("higher");
  higher.role = AdminRole::kAdmin;
  BOOST_TEST(refused(higher, 2000));
  NewAdminToken forever = child("forever");
  forever.expires_at_ms.reset();
  BOOST_TEST(refused(forever, 2000));
  NewAdminToken later = child("later");
  later.expires_at_ms = 10'001;
  BOOST_TEST(refused(later, 2000));
  BOOST_TEST(refused(child("after the parent expired"), 10'000));
  NewAdminToken orphan = child("orphan");
  orphan.created_by = parent.id + 100;
  BOOST_TEST(refused(orphan, 2000));
  BOOST_TEST(ok(store->listAdminTokens()).size() == 1u);

  NewAdminToken lower = child("lower");
  lower.role = AdminRole::kReadOnly;
  lower.expires_at_ms = 5000;
  BOOST_TEST(*ok(store->createAdminToken(lower, 2000)).created_by == parent.id);
  ok(store->createAdminToken(child("equal"), 2000));
  BOOST_REQUIRE(ok(store->revokeAdminToken(parent.id, 3000)));
  BOOST_TEST(refused(child("after the parent was revoked"), 3000));
}

BOOST_AUTO_TEST_CASE(revoking_a_token_revokes_all_its_descendants_and_nothing_else) {
  const AdminToken root = ok(store->createAdminToken(allTenants("root", "root"), 1000));
  auto childOf = [&](const AdminToken& parent, const std::string& hash) {
    NewAdminToken t = allTenants(hash, hash);
    t.created_by = parent.id;
    return ok(store->createAdminToken(t, 1000));
  };
  const AdminToken parent = childOf(root, "parent");
  const AdminToken sibling = childOf(root, "sibling");
  const AdminToken child = childOf(parent, "child");
  const AdminToken grandchild = childOf(child, "grandchild");
  const AdminToken other_grandchild = childOf(child, "other grandchild");
  BOOST_REQUIRE(ok(store->revokeAdminToken(other_grandchild.id, 2000)));

  BOOST_TEST(ok(store->revokeAdminToken(parent.id, 3000)));
  for (const AdminToken& t : {parent, child, grandchild}) {
    auto now = ok(store->findAdminToken(t.id));
    BOOST_TEST(now->revoked, t.name);
    BOOST_TEST(*now->revoked_at_ms == 3000, t.name);
  }
  // Revoked before: it keeps its first time.
  BOOST_TEST(*ok(store->findAdminToken(other_grandchild.id))->revoked_at_ms == 2000);
  BOOST_TEST(!ok(store->findAdminToken(root.id))->revoked);
  BOOST_TEST(!ok(store->findAdminToken(sibling.id))->revoked);
}

BOOST_AUTO_TEST_CASE(a_token_created_by_another_connection_is_seen_at_once) {
  // The CLI writes from another process while the collector runs: no cache may hide it.
  BOOST_TEST(ok(store->listAdminTokens()).empty());
  {
    auto other = vigil::testing::openTestStore(data_dir);
    BOOST_REQUIRE(other.ok());
    ok(other.value()->createAdminToken(allTenants("from-cli", "cli"), 1000));
  }
  BOOST_TEST(ok(store->listAdminTokens()).size() == 1u);
}

BOOST_AUTO_TEST_SUITE_END()
