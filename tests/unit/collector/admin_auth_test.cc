#define BOOST_TEST_MODULE collector_admin_auth
#include "collector/admin/admin_auth.h"

#include <boost/test/unit_test.hpp>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "collector/store/sql_store.h"
#include "collector/store/store_wrapper.h"
#include "common/crypto.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_store.h"

using vigil::collector::AdminAuthenticator;
using vigil::collector::AdminPrincipal;
using vigil::collector::AdminRole;
using vigil::collector::AdminToken;
using vigil::collector::NewAdminToken;
using vigil::collector::SqlStore;
using vigil::collector::Tenant;
using vigil::testing::TempDir;

namespace {

constexpr int64_t kNow = 1'800'000'000'000;

std::string hashOf(const std::string& token) {
  return vigil::crypto::toHex(vigil::crypto::sha256(token).value());
}

std::unique_ptr<SqlStore> openStore(const std::string& dir) {
  auto opened = vigil::testing::openTestStore(dir);
  BOOST_REQUIRE(opened.ok());
  return std::move(opened.value());
}

struct Fixture {
  AdminToken create(const std::string& token, std::vector<int64_t> tenants = {},
                    std::optional<int64_t> expires_at = std::nullopt) {
    NewAdminToken t;
    t.token_hash = hashOf(token);
    t.name = "name of " + token;
    t.all_tenants = tenants.empty();
    t.tenant_ids = std::move(tenants);
    t.expires_at_ms = expires_at;
    auto created = store->createAdminToken(t, kNow);
    BOOST_REQUIRE(created.ok());
    return created.value();
  }
  Tenant tenant(const std::string& name) {
    auto created = store->createTenant(name, kNow);
    BOOST_REQUIRE(created.ok());
    return created.value();
  }
  std::optional<AdminPrincipal> authenticate(const std::optional<std::string>& header,
                                             int64_t now_ms = kNow) {
    return auth.authenticate(header, now_ms);
  }

  TempDir tmp;
  std::string data_dir = tmp.sub("data");
  std::unique_ptr<SqlStore> store = openStore(data_dir);
  AdminAuthenticator auth{*store};
};

}  // namespace

BOOST_AUTO_TEST_CASE(bearer_token_is_extracted_case_insensitively_and_trimmed) {
  BOOST_TEST(*AdminAuthenticator::bearerToken("Bearer abc") == "abc");
  BOOST_TEST(*AdminAuthenticator::bearerToken("bEaReR   abc  ") == "abc");
  BOOST_TEST(!AdminAuthenticator::bearerToken("Bearer "));
  BOOST_TEST(!AdminAuthenticator::bearerToken("Bearer    "));
  BOOST_TEST(!AdminAuthenticator::bearerToken("Basic abc"));
  BOOST_TEST(!AdminAuthenticator::bearerToken("Bearerabc"));
  BOOST_TEST(!AdminAuthenticator::bearerToken(""));
}

BOOST_FIXTURE_TEST_SUITE(authenticate, Fixture)

BOOST_AUTO_TEST_CASE(a_valid_all_tenant_token_is_the_principal) {
  AdminToken t = create("vga_operator");
  auto p = authenticate(std::string("Bearer vga_operator"));
  BOOST_REQUIRE(p);
  BOOST_TEST(p->token_id == t.id);
  BOOST_TEST(p->token_name == "name of vga_operator");
  BOOST_TEST(p->scope.all);
  BOOST_TEST(p->scope.tenant_ids.empty());
}

BOOST_AUTO_TEST_CASE(unknown_missing_or_malformed_credentials_authenticate_nobody) {
  create("vga_operator");
  BOOST_TEST(!authenticate(std::nullopt));
  BOOST_TEST(!authenticate(std::string("")));
  BOOST_TEST(!authenticate(std::string("Bearer vga_operatoR")));
  BOOST_TEST(!authenticate(std::string("Bearer vga_operator2")));
  BOOST_TEST(!authenticate(std::string("Basic vga_operator")));
  BOOST_TEST(!authenticate(std::string("vga_operator")));
  // The hash itself is not a credential.
  BOOST_TEST(!authenticate("Bearer " + hashOf("vga_operator")));
}

BOOST_AUTO_TEST_CASE(a_scoped_token_carries_its_tenants_ascending) {
  Tenant a = tenant("a");
  Tenant b = tenant("b");
  create("scoped", {b.id, a.id});
  auto p = authenticate(std::string("Bearer scoped"));
  BOOST_REQUIRE(p);
  BOOST_TEST(!p->scope.all);
  BOOST_TEST(p->scope.tenant_ids == (std::vector<int64_t>{a.id, b.id}));
  BOOST_TEST(p->scope.allows(a.id));
  BOOST_TEST(!p->scope.allows(b.id + 1));
}

BOOST_AUTO_TEST_CASE(a_revoked_token_authenticates_nobody) {
  AdminToken t = create("tok");
  BOOST_REQUIRE(authenticate(std::string("Bearer tok")));
  BOOST_REQUIRE(store->revokeAdminToken(t.id, kNow).ok());
  BOOST_TEST(!authenticate(std::string("Bearer tok")));
}

BOOST_AUTO_TEST_CASE(an_expired_token_authenticates_nobody_from_its_expiry_on) {
  create("tok", {}, kNow + 1000);
  BOOST_TEST(authenticate(std::string("Bearer tok"), kNow + 999).has_value());
  BOOST_TEST(!authenticate(std::string("Bearer tok"), kNow + 1000));
  BOOST_TEST(!authenticate(std::string("Bearer tok"), kNow + 5000));
}

BOOST_AUTO_TEST_CASE(the_matching_token_is_found_among_many) {
  for (int i = 0; i < 20; ++i) create("tok-" + std::to_string(i));
  auto p = authenticate(std::string("Bearer tok-13"));
  BOOST_REQUIRE(p);
  BOOST_TEST(p->token_name == "name of tok-13");
}

BOOST_AUTO_TEST_CASE(a_token_whose_tenants_were_all_deleted_has_an_empty_scope) {
  Tenant a = tenant("a");
  create("scoped", {a.id});
  BOOST_REQUIRE(store->deleteTenant(a.id).ok());
  auto p = authenticate(std::string("Bearer scoped"));
  BOOST_REQUIRE(p);
  BOOST_TEST(!p->scope.all);
  BOOST_TEST(p->scope.tenant_ids.empty());
}

BOOST_AUTO_TEST_CASE(a_token_created_or_revoked_by_another_process_counts_at_once) {
  BOOST_TEST(!authenticate(std::string("Bearer from-cli")));
  int64_t id = 0;
  {
    // What `vigil-collector admin-token create` does while the collector runs.
    auto cli = vigil::testing::openTestStore(data_dir);
    BOOST_REQUIRE(cli.ok());
    NewAdminToken t;
    t.token_hash = hashOf("from-cli");
    t.name = "cli";
    auto created = cli.value()->createAdminToken(t, kNow);
    BOOST_REQUIRE(created.ok());
    id = created.value().id;
  }
  BOOST_TEST(authenticate(std::string("Bearer from-cli")).has_value());
  {
    auto cli = vigil::testing::openTestStore(data_dir);
    BOOST_REQUIRE(cli.ok());
    BOOST_REQUIRE(cli.value()->revokeAdminToken(id, kNow).ok());
  }
  BOOST_TEST(!authenticate(std::string("Bearer from-cli")));
}

BOOST_AUTO_TEST_CASE(the_principal_carries_the_tokens_role_and_expiry) {
  NewAdminToken t;
  t.token_hash = hashOf("reader");
  t.name = "reader";
  t.role = AdminRole::kReadOnly;
  t.expires_at_ms = kNow + 1000;
  BOOST_REQUIRE(store->createAdminToken(t, kNow).ok());
  auto p = authenticate(std::string("Bearer reader"));
  BOOST_REQUIRE(p);
  BOOST_TEST((p->role == AdminRole::kReadOnly));
  BOOST_TEST(p->expires_at_ms.value_or(0) == kNow + 1000);
  auto admin = authenticate(std::string("Bearer ") + "op", kNow);
  BOOST_TEST(!admin);
  create("op");
  admin = authenticate(std::string("Bearer op"));
  BOOST_REQUIRE(admin);
  BOOST_TEST((admin->role == AdminRole::kAdmin));
  BOOST_TEST(!admin->expires_at_ms);
}

// What a token created through the API gets: its creator as parent. Neither a revoked nor an
// expired ancestor leaves a descendant authenticating, and a reopened store says the same.
BOOST_AUTO_TEST_CASE(a_descendant_authenticates_no_longer_than_its_ancestors) {
  AdminToken parent = create("parent", {}, kNow + 5000);
  auto childOf = [&](const AdminToken& p, const std::string& token) {
    NewAdminToken t;
    t.token_hash = hashOf(token);
    t.name = token;
    t.created_by = p.id;
    t.expires_at_ms = p.expires_at_ms;
    auto created = store->createAdminToken(t, kNow);
    BOOST_REQUIRE(created.ok());
    return created.value();
  };
  AdminToken child = childOf(parent, "child");
  childOf(child, "grandchild");
  BOOST_TEST(authenticate(std::string("Bearer grandchild"), kNow + 4999).has_value());
  BOOST_TEST(!authenticate(std::string("Bearer grandchild"), kNow + 5000));

  BOOST_REQUIRE(store->revokeAdminToken(child.id, kNow).ok());
  BOOST_TEST(authenticate(std::string("Bearer parent")).has_value());
  BOOST_TEST(!authenticate(std::string("Bearer child")));
  BOOST_TEST(!authenticate(std::string("Bearer grandchild")));
  store.reset();
  store = openStore(data_dir);
  AdminAuthenticator reopened{*store};
  BOOST_TEST(!reopened.authenticate(std::string("Bearer grandchild"), kNow));
}

BOOST_AUTO_TEST_SUITE_END()

namespace {

// The store, but for token lookups that fail as a database out of reach does (or fail
// otherwise) while `failure` is set.
class UnreachableTokens final : public vigil::collector::StoreWrapper {
 public:
  using StoreWrapper::StoreWrapper;
  vigil::Result<std::optional<AdminToken>> findAdminTokenByHash(const std::string& hash) override {
    if (failure) return *failure;
    return StoreWrapper::findAdminTokenByHash(hash);
  }
  std::optional<vigil::Status> failure;
};

}  // namespace

BOOST_AUTO_TEST_CASE(a_token_used_lately_still_authenticates_while_the_database_is_away) {
  Fixture f;
  f.create("recent");
  f.create("never-used");
  UnreachableTokens tokens(*f.store);
  AdminAuthenticator auth(tokens);
  BOOST_REQUIRE(auth.authenticate("Bearer recent", kNow));

  tokens.failure = vigil::Status::unavailable("database away");
  auto during = auth.authenticate("Bearer recent", kNow + 60'000);
  BOOST_REQUIRE(during);
  BOOST_TEST(during->token_name == "name of recent");
  // Only what this collector saw, and only for a while.
  BOOST_TEST(!auth.authenticate("Bearer never-used", kNow + 60'000));
  BOOST_TEST(
      !auth.authenticate("Bearer recent", kNow + AdminAuthenticator::kStaleIfUnavailableMs + 1));
  // Any other failure authenticates nobody.
  tokens.failure = vigil::Status::ioError("disk error");
  BOOST_TEST(!auth.authenticate("Bearer recent", kNow + 60'000));
  // A token found revoked is forgotten: the outage cannot bring it back.
  tokens.failure.reset();
  BOOST_REQUIRE(
      f.store->revokeAdminToken(auth.authenticate("Bearer recent", kNow)->token_id, kNow).ok());
  BOOST_TEST(!auth.authenticate("Bearer recent", kNow + 1000));
  tokens.failure = vigil::Status::unavailable("database away");
  BOOST_TEST(!auth.authenticate("Bearer recent", kNow + 2000));
}
