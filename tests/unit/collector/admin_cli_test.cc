#define BOOST_TEST_MODULE collector_admin_cli
#include "collector/app/admin_cli.h"

#include <boost/test/unit_test.hpp>
#include <chrono>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "collector/admin/admin_auth.h"
#include "collector/store/sql_store.h"
#include "common/clock.h"
#include "common/crypto.h"
#include "tests/integration/harness.h"
#include "tests/support/temp_dir.h"

using vigil::collector::AdminAuthenticator;
using vigil::collector::AdminCliOptions;
using vigil::collector::AdminToken;
using vigil::collector::runAdminCommand;
using vigil::collector::SqlStore;
using vigil::collector::TenantScope;
using vigil::testing::TempDir;

namespace {

// 2027-01-15T08:00:00Z
const vigil::WallTime kStart = vigil::fromUnixMillis(1'800'000'000'000);

std::string sha256Hex(const std::string& text) {
  return vigil::crypto::toHex(vigil::crypto::sha256(text).value());
}

struct Run {
  int rc = -1;
  std::string out;
  std::string err;
};

struct Fixture {
  Run run(const std::vector<std::string>& args, const AdminCliOptions& options = {}) {
    std::ostringstream out;
    std::ostringstream err;
    Run r;
    r.rc = runAdminCommand(args, options, vigil::collector::StoreSettings{}, data_dir, clock, out,
                           err);
    r.out = out.str();
    r.err = err.str();
    return r;
  }
  // The store as the running collector would hold it, opened once.
  SqlStore& store() {
    if (!store_) {
      auto opened = SqlStore::openSqlite(data_dir);
      BOOST_REQUIRE(opened.ok());
      store_ = std::move(opened.value());
    }
    return *store_;
  }
  std::vector<AdminToken> tokens() {
    auto listed = store().listAdminTokens();
    BOOST_REQUIRE(listed.ok());
    return listed.value();
  }
  int64_t tenant(const std::string& name) {
    auto created = store().createTenant(name, 1000);
    BOOST_REQUIRE(created.ok());
    return created.value().id;
  }

  TempDir tmp;
  std::string data_dir = tmp.sub("data");
  vigil::SimulatedClock clock{kStart};

 private:
  std::unique_ptr<SqlStore> store_;
};

AdminCliOptions named(const std::string& name) {
  AdminCliOptions o;
  o.name = name;
  return o;
}

}  // namespace

BOOST_FIXTURE_TEST_SUITE(admin_cli, Fixture)

BOOST_AUTO_TEST_CASE(create_prints_only_the_token_on_stdout_and_stores_its_hash) {
  Run r = run({"admin-token", "create"}, named("  ci bot "));
  BOOST_TEST(r.rc == 0, r.err);
  BOOST_REQUIRE(r.out.size() == 4u + 64u + 1u);
  BOOST_TEST(r.out.rfind("vga_", 0) == 0u);
  BOOST_TEST(r.out.back() == '\n');
  const std::string token = r.out.substr(0, r.out.size() - 1);
  BOOST_TEST(r.err.find("created admin token 1 \"ci bot\" (all tenants, expires never") !=
             std::string::npos);
  auto stored = tokens();
  BOOST_REQUIRE(stored.size() == 1u);
  BOOST_TEST(stored[0].token_hash == sha256Hex(token));
  BOOST_TEST(stored[0].name == "ci bot");
  BOOST_TEST(stored[0].all_tenants);
  BOOST_TEST(stored[0].created_at_ms == 1'800'000'000'000);
  BOOST_TEST(!stored[0].created_by);
}

BOOST_AUTO_TEST_CASE(create_with_tenants_and_expiry_is_scoped) {
  const int64_t a = tenant("a");
  const int64_t b = tenant("b");
  AdminCliOptions o = named("tech");
  o.tenants = {std::to_string(b), std::to_string(a), std::to_string(b)};
  o.expires = "2027-02-01T01:00:00+01:00";
  Run r = run({"admin-token", "create"}, o);
  BOOST_TEST(r.rc == 0, r.err);
  BOOST_TEST(r.err.find("tenants " + std::to_string(a) + "," + std::to_string(b) +
                        ", expires 2027-02-01T00:00:00.000Z") != std::string::npos,
             r.err);
  auto stored = tokens();
  BOOST_REQUIRE(stored.size() == 1u);
  BOOST_TEST(!stored[0].all_tenants);
  BOOST_TEST(stored[0].tenant_ids == (std::vector<int64_t>{a, b}));
  BOOST_TEST(*stored[0].expires_at_ms == 1'801'440'000'000);
}

BOOST_AUTO_TEST_CASE(a_token_created_by_the_cli_authenticates_at_the_running_server) {
  AdminAuthenticator auth(store());  // opened before the CLI runs, like the server's
  Run r = run({"admin-token", "create"}, named("ops"));
  BOOST_REQUIRE(r.rc == 0);
  const std::string token = r.out.substr(0, r.out.size() - 1);
  const int64_t now_ms = vigil::toUnixMillis(clock.wallNow());
  auto principal = auth.authenticate("Bearer " + token, now_ms);
  BOOST_REQUIRE(principal);
  BOOST_TEST(principal->token_name == "ops");
  BOOST_TEST(run({"admin-token", "revoke", std::to_string(principal->token_id)}).rc == 0);
  BOOST_TEST(!auth.authenticate("Bearer " + token, now_ms));
}

BOOST_AUTO_TEST_CASE(bad_create_arguments_are_usage_or_data_errors_and_store_nothing) {
  const int64_t a = tenant("a");
  struct Case {
    AdminCliOptions options;
    int rc;
    std::string says;
  };
  AdminCliOptions no_name;
  AdminCliOptions bad_tenant = named("x");
  bad_tenant.tenants = {"abc"};
  AdminCliOptions unknown_tenant = named("x");
  unknown_tenant.tenants = {std::to_string(a), std::to_string(a + 100)};
  AdminCliOptions bad_time = named("x");
  bad_time.expires = "next tuesday";
  AdminCliOptions past = named("x");
  past.expires = "2020-01-01T00:00:00Z";
  AdminCliOptions bad_role = named("x");
  bad_role.role = "root";
  const std::vector<Case> cases = {
      {bad_role, 64, "--role takes read-only, operator or admin"},
      {no_name, 64, "needs --name"},
      {named("   "), 65, "--name"},
      {named(std::string(201, 'n')), 65, "--name"},
      {named("tab\there"), 65, "control characters"},
      {bad_tenant, 64, "tenant id"},
      {unknown_tenant, 65, "no tenant " + std::to_string(a + 100)},
      {bad_time, 65, "RFC 3339"},
      {past, 65, "in the future"},
  };
  for (const Case& c : cases) {
    Run r = run({"admin-token", "create"}, c.options);
    BOOST_TEST(r.rc == c.rc, c.says);
    BOOST_TEST(r.out.empty(), c.says);
    BOOST_TEST(r.err.find(c.says) != std::string::npos, r.err);
  }
  BOOST_TEST(tokens().empty());
}

BOOST_AUTO_TEST_CASE(create_with_a_role_mints_a_root_of_that_role) {
  AdminCliOptions o = named("reports");
  o.role = "read-only";
  Run r = run({"admin-token", "create"}, o);
  BOOST_TEST(r.rc == 0, r.err);
  BOOST_TEST(r.err.find("(all tenants, expires never, role read-only)") != std::string::npos,
             r.err);
  auto stored = tokens();
  BOOST_REQUIRE(stored.size() == 1u);
  BOOST_TEST((stored[0].role == vigil::collector::AdminRole::kReadOnly));
  BOOST_TEST(!stored[0].created_by);
  Run admin = run({"admin-token", "create"}, named("ops"));
  BOOST_TEST(admin.err.find("role admin") != std::string::npos, admin.err);
  Run listed = run({"admin-token", "list"});
  BOOST_TEST(listed.out.find("ROLE") != std::string::npos, listed.out);
  BOOST_TEST(listed.out.find("read-only") != std::string::npos, listed.out);
  // --role belongs to create only.
  AdminCliOptions misplaced;
  misplaced.role = "admin";
  BOOST_TEST(run({"admin-token", "list"}, misplaced).rc == 64);
}

BOOST_AUTO_TEST_CASE(list_shows_every_token_as_a_table) {
  const int64_t a = tenant("a");
  run({"admin-token", "create"}, named("operator"));
  AdminCliOptions scoped = named("tech");
  scoped.tenants = {std::to_string(a)};
  run({"admin-token", "create"}, scoped);
  clock.advance(std::chrono::seconds(60));
  run({"admin-token", "revoke", "1"});
  Run r = run({"admin-token", "list"});
  BOOST_TEST(r.rc == 0);
  std::istringstream lines(r.out);
  std::string header, first, second, extra;
  std::getline(lines, header);
  std::getline(lines, first);
  std::getline(lines, second);
  BOOST_TEST(!std::getline(lines, extra));
  BOOST_TEST(header.rfind("ID  NAME      SCOPE        CREATED", 0) == 0u, header);
  BOOST_TEST(first.find("operator") != std::string::npos);
  BOOST_TEST(first.find("all tenants") != std::string::npos);
  BOOST_TEST(first.find("2027-01-15T08:01:00.000Z") != std::string::npos, first);  // revoked
  BOOST_TEST(second.find("tenants " + std::to_string(a)) != std::string::npos, second);
  BOOST_TEST(second.substr(second.size() - 2) == "no", second);
  // The listing never shows a token or its hash.
  BOOST_TEST(r.out.find("vga_") == std::string::npos);
  BOOST_TEST(r.out.find(tokens()[0].token_hash) == std::string::npos);
}

BOOST_AUTO_TEST_CASE(revoke_takes_a_known_id) {
  run({"admin-token", "create"}, named("operator"));
  Run done = run({"admin-token", "revoke", "1"});
  BOOST_TEST(done.rc == 0);
  BOOST_TEST(done.out == "revoked admin token 1 \"operator\"\n");
  BOOST_TEST(tokens()[0].revoked);
  BOOST_TEST(run({"admin-token", "revoke", "1"}).rc == 0);  // idempotent
  BOOST_TEST(run({"admin-token", "revoke", "2"}).rc == 65);
  BOOST_TEST(run({"admin-token", "revoke", "one"}).rc == 64);
  BOOST_TEST(run({"admin-token", "revoke"}).rc == 64);
  BOOST_TEST(run({"admin-token", "revoke", "1", "2"}).rc == 64);
}

BOOST_AUTO_TEST_CASE(tenant_create_and_list) {
  Run created = run({"tenant", "create", " Acme Dental "});
  BOOST_TEST(created.rc == 0, created.err);
  BOOST_TEST(created.out == "1\n");
  BOOST_TEST(run({"tenant", "create", "Acme Dental"}).rc == 65);
  BOOST_TEST(run({"tenant", "create", "'; DROP TABLE tenants; --"}).rc == 0);
  BOOST_TEST(run({"tenant", "create", ""}).rc == 65);
  Run listed = run({"tenant", "list"});
  BOOST_TEST(listed.rc == 0);
  BOOST_TEST(listed.out.find("1   Acme Dental") != std::string::npos, listed.out);
  BOOST_TEST(listed.out.find("'; DROP TABLE tenants; --") != std::string::npos, listed.out);
  auto all = store().listTenants(TenantScope::everything(), "", 0, 10);
  BOOST_REQUIRE(all.ok());
  BOOST_TEST(all.value().size() == 2u);
}

BOOST_AUTO_TEST_CASE(unknown_commands_and_misplaced_options_are_usage_errors) {
  for (const std::vector<std::string>& args :
       std::vector<std::vector<std::string>>{{"serve"},
                                             {"admin-token"},
                                             {"admin-token", "delete", "1"},
                                             {"admin-token", "create", "extra"},
                                             {"tenant"},
                                             {"tenant", "create"},
                                             {"tenant", "list", "x"}}) {
    Run r = run(args);
    BOOST_TEST(r.rc == 64, args.front());
    BOOST_TEST(r.err.find("usage:") != std::string::npos);
  }
  BOOST_TEST(run({"admin-token", "list"}, named("x")).rc == 64);
  BOOST_TEST(run({"tenant", "create", "x"}, named("x")).rc == 64);
}

BOOST_AUTO_TEST_CASE(a_store_that_cannot_be_opened_is_exit_74) {
  tmp.write("data", "not a directory");
  Run r = run({"admin-token", "list"});
  BOOST_TEST(r.rc == 74);
  BOOST_TEST(r.err.find("cannot open the store") != std::string::npos, r.err);
}

BOOST_AUTO_TEST_SUITE_END()

// The real binary against a running collector: a token created and revoked by the command
// counts at the server's next request, without a restart.
BOOST_AUTO_TEST_CASE(cli_process_creates_and_revokes_tokens_of_a_running_collector) {
  using vigil::testing::ChildProcess;
  TempDir tmp;
  vigil::testing::Collector collector(tmp.sub("collector"));
  collector.start();
  auto cli = [&](const std::vector<std::string>& args, const std::string& log) {
    std::vector<std::string> full = {"--data-dir=" + collector.dataDir()};
    full.insert(full.end(), args.begin(), args.end());
    ChildProcess process(VIGIL_COLLECTOR_BIN, full, tmp.sub(log));
    std::optional<int> rc = process.waitExit(std::chrono::seconds(20));
    BOOST_REQUIRE(rc);
    return *rc;
  };
  BOOST_REQUIRE(cli({"admin-token", "create", "--name", "from cli"}, "create.log") == 0);
  std::istringstream lines(vigil::testing::readFile(tmp.sub("create.log")));
  std::string token;
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("vga_", 0) == 0) token = line;
  }
  BOOST_REQUIRE_MESSAGE(!token.empty(), vigil::testing::readFile(tmp.sub("create.log")));
  const std::map<std::string, std::string> auth = {{"Authorization", "Bearer " + token}};
  BOOST_TEST(vigil::testing::httpRequest(collector.port(), "GET", "/api/v1/tenants", auth).status ==
             200);

  BOOST_REQUIRE(cli({"admin-token", "list"}, "list.log") == 0);
  const std::string listing = vigil::testing::readFile(tmp.sub("list.log"));
  BOOST_TEST(listing.find("from cli") != std::string::npos, listing);
  BOOST_REQUIRE(cli({"admin-token", "revoke", "2"}, "revoke.log") == 0);
  BOOST_TEST(vigil::testing::httpRequest(collector.port(), "GET", "/api/v1/tenants", auth).status ==
             401);
  BOOST_TEST(cli({"admin-token", "frobnicate"}, "bad.log") == 64);
  BOOST_TEST(collector.stop() == 0);
}
