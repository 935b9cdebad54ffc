#define BOOST_TEST_MODULE collector_store_readers
// The admin API's and the probes' reads go through read-only connections of their own: they
// complete while a presence write or the write-behind holds the writer, and see the last
// commit, never a write in progress.
#include <boost/test/unit_test.hpp>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "collector/store/sql_store.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_store.h"

using vigil::Status;
using vigil::collector::AgentFilter;
using vigil::collector::AgentPageKey;
using vigil::collector::AgentRecord;
using vigil::collector::AlertChange;
using vigil::collector::AlertFilter;
using vigil::collector::EnrollmentToken;
using vigil::collector::HealthRecord;
using vigil::collector::LastSeenUpdate;
using vigil::collector::SqlStore;
using vigil::collector::StatusChangeRecord;
using vigil::collector::TenantScope;
using vigil::testing::TempDir;

namespace {

LastSeenUpdate seenAt(int64_t at_ms, int64_t seq) {
  LastSeenUpdate u;
  u.agent_id = "agent-1";
  u.last_seen_at_ms = at_ms;
  u.last_seq = seq;
  return u;
}

// How long the reads may take before the test calls them blocked. Never reached when they
// work; it only keeps a regression from hanging the suite.
constexpr auto kBlockedAfter = std::chrono::seconds(20);

// A store with one agent ("agent-1", last seen at 5000) and nothing else.
struct ReaderFixture {
  ReaderFixture() {
    auto opened = vigil::testing::openTestStore(tmp.sub("data"));
    BOOST_REQUIRE_MESSAGE(opened.ok(), (opened.ok() ? "" : opened.error().toString()));
    store = std::move(opened.value());
    auto tenant = store->createTenant("acme", 1000);
    BOOST_REQUIRE(tenant.ok());
    auto site = store->createSite(tenant->id, "hq", 1000);
    BOOST_REQUIRE(site.ok());
    EnrollmentToken t;
    t.site_id = site->id;
    t.token_hash = std::string(64, 'e');
    t.created_at_ms = 1000;
    auto token = store->createEnrollmentToken(t);
    BOOST_REQUIRE(token.ok());
    AgentRecord a;
    a.id = "agent-1";
    a.hostname = "host-1";
    a.agent_version = "0.1.0";
    a.secret = std::string(64, 'a');
    a.enrolled_at_ms = 2000;
    BOOST_REQUIRE(store->enrollAgent(token->id, a, 2000).ok());
    BOOST_REQUIRE(store->updateLastSeen({seenAt(5000, 1)}).ok());
  }

  TempDir tmp;
  std::unique_ptr<SqlStore> store;
};

// Holds the store's writer inside its write transaction (the store's write hook) from the
// moment a write reaches it until release().
class WriterHold {
 public:
  explicit WriterHold(SqlStore& store) : store_(store) {
    store_.setWriteHook([this] {
      std::unique_lock<std::mutex> lock(mu_);
      entered_ = true;
      cv_.notify_all();
      cv_.wait(lock, [this] { return released_; });
    });
  }
  ~WriterHold() {
    release();
    if (writer_.joinable()) writer_.join();
    store_.setWriteHook(nullptr);
  }
  WriterHold(const WriterHold&) = delete;
  WriterHold& operator=(const WriterHold&) = delete;

  // Runs `write` on a thread of its own and returns once it holds the writer.
  void start(const std::function<Status()>& write) {
    writer_ = std::thread([this, write] { written_ = write(); });
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [this] { return entered_; });
  }
  // Lets the write commit.
  void release() {
    std::lock_guard<std::mutex> lock(mu_);
    released_ = true;
    cv_.notify_all();
  }
  // Lets the write commit and waits for it; returns its outcome.
  Status finish() {
    release();
    writer_.join();
    return written_;
  }

 private:
  SqlStore& store_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool entered_ = false;
  bool released_ = false;
  std::thread writer_;
  Status written_ = Status::okStatus();
};

// What an admin listing, an agent page and /readyz read, done on a thread of its own.
struct AdminReads {
  bool ping_ok = false;
  size_t agents = 0;
  int64_t last_seen_at_ms = 0;
  size_t open_alerts = 0;
  size_t open_alerts_counted = 0;  // by countAlerts
  size_t history = 0;
  size_t health = 0;
};

AdminReads readAsAdmin(SqlStore& store) {
  AdminReads out;
  out.ping_ok = store.ping().ok();
  AgentFilter agents;
  agents.scope = TenantScope::everything();
  auto listed = store.listAgentsPage(agents, AgentPageKey{}, 100);
  BOOST_REQUIRE(listed.ok());
  out.agents = listed->size();
  auto agent = store.findAgent("agent-1");
  BOOST_REQUIRE(agent.ok() && agent.value());
  out.last_seen_at_ms = agent.value()->last_seen_at_ms.value_or(0);
  AlertFilter alerts;
  alerts.scope = TenantScope::everything();
  alerts.states = {"open"};
  auto open = store.listAlertsPage(alerts, 0, 100);
  BOOST_REQUIRE(open.ok());
  out.open_alerts = open->size();
  auto counted = store.countAlerts(alerts, 100);
  BOOST_REQUIRE(counted.ok());
  out.open_alerts_counted = counted.value();
  auto history = store.listStatusChanges("agent-1", 0, 100);
  BOOST_REQUIRE(history.ok());
  out.history = history->size();
  auto health = store.listHealthHistoryPage(0, 100);
  BOOST_REQUIRE(health.ok());
  out.health = health->size();
  BOOST_REQUIRE(store.outboxStats().ok());
  return out;
}

// readAsAdmin() while `hold` holds the writer; fails the test if the reads block (and then
// lets the writer go, so that they end).
AdminReads readWhileHeld(SqlStore& store, WriterHold& hold) {
  auto reads = std::async(std::launch::async, [&store] { return readAsAdmin(store); });
  if (reads.wait_for(kBlockedAfter) != std::future_status::ready) {
    hold.release();
    reads.wait();
    BOOST_FAIL("the admin reads waited for the held writer");
  }
  return reads.get();
}

}  // namespace

BOOST_FIXTURE_TEST_CASE(admin_reads_and_the_probe_complete_while_a_presence_write_holds_the_writer,
                        ReaderFixture) {
  const AdminReads before = readAsAdmin(*store);
  WriterHold hold(*store);
  hold.start([this] {
    AlertChange opened;
    opened.kind = "device_offline";
    opened.action = "opened";
    opened.agent_id = "agent-1";
    opened.at_ms = 6000;
    return store->appendPresenceEvents(
        {StatusChangeRecord{"agent-1", 6000, "ONLINE", "OFFLINE", "confirmed_silent", ""}},
        {opened}, {HealthRecord{6000, false, ""}});
  });

  const AdminReads during = readWhileHeld(*store, hold);
  BOOST_TEST(during.ping_ok);
  BOOST_TEST(during.agents == 1u);
  // The write in progress is not seen: the last commit is.
  BOOST_TEST(during.open_alerts == before.open_alerts);
  BOOST_TEST(during.history == before.history);
  BOOST_TEST(during.health == before.health);

  BOOST_REQUIRE(hold.finish().ok());
  const AdminReads after = readAsAdmin(*store);
  BOOST_TEST(after.open_alerts == before.open_alerts + 1);
  BOOST_TEST(after.open_alerts_counted == after.open_alerts);
  BOOST_TEST(during.open_alerts_counted == during.open_alerts);
  AlertFilter open;
  open.scope = TenantScope::everything();
  open.states = {"open"};
  BOOST_TEST(store->countAlerts(open, 0).value() == 0u);  // counted up to the bound
  BOOST_TEST(after.history == before.history + 1);
  BOOST_TEST(after.health == before.health + 1);
}

BOOST_FIXTURE_TEST_CASE(admin_reads_complete_while_the_write_behind_holds_the_writer,
                        ReaderFixture) {
  WriterHold hold(*store);
  hold.start([this] { return store->updateLastSeen({seenAt(9000, 2)}); });

  const AdminReads during = readWhileHeld(*store, hold);
  BOOST_TEST(during.ping_ok);
  BOOST_TEST(during.last_seen_at_ms == 5000);

  BOOST_REQUIRE(hold.finish().ok());
  BOOST_TEST(readAsAdmin(*store).last_seen_at_ms == 9000);
}

// The listing by last seen: never-seen agents first (oldest first) or last (newest first), ties
// by id, and a page that starts after any agent continues exactly where the order says.
BOOST_FIXTURE_TEST_CASE(agents_list_by_last_seen_in_either_direction_and_page_by_key,
                        ReaderFixture) {
  using vigil::collector::AgentOrder;
  auto token = store->findEnrollmentTokenByHash(std::string(64, 'e'));
  BOOST_REQUIRE(token.ok() && token.value());
  // agent-1 was seen at 5000; agent-2 and agent-3 at 3000, agent-4 at 9000, agent-5 never.
  for (int n = 2; n <= 5; ++n) {
    AgentRecord a;
    a.id = "agent-" + std::to_string(n);
    a.hostname = "host-" + std::to_string(n);
    a.agent_version = "0.1.0";
    a.secret = std::string(64, 'a');
    a.enrolled_at_ms = 2000;
    BOOST_REQUIRE(store->enrollAgent(token.value()->id, a, 2000).ok());
  }
  auto seen = [](const char* id, int64_t at_ms) {
    LastSeenUpdate u = seenAt(at_ms, 1);
    u.agent_id = id;
    return u;
  };
  BOOST_REQUIRE(
      store->updateLastSeen({seen("agent-2", 3000), seen("agent-3", 3000), seen("agent-4", 9000)})
          .ok());
  AgentFilter all;
  all.scope = TenantScope::everything();
  auto walk = [&](AgentOrder order) {
    std::vector<std::string> ids;
    AgentPageKey after;
    after.order = order;
    for (int pages = 0; pages < 10; ++pages) {
      auto page = store->listAgentsPage(all, after, 2);
      BOOST_REQUIRE(page.ok());
      for (const AgentRecord& a : page.value()) ids.push_back(a.id);
      if (page->size() < 2) break;
      after.id = page->back().id;
      after.last_seen_ms = page->back().last_seen_at_ms.value_or(AgentPageKey::kNeverSeen);
    }
    return ids;
  };
  const std::vector<std::string> oldest_first = walk(AgentOrder::kLastSeenOldestFirst);
  const std::vector<std::string> expected_oldest = {"agent-5", "agent-2", "agent-3", "agent-1",
                                                    "agent-4"};
  BOOST_TEST(oldest_first == expected_oldest, boost::test_tools::per_element());
  const std::vector<std::string> newest_first = walk(AgentOrder::kLastSeenNewestFirst);
  const std::vector<std::string> expected_newest = {"agent-4", "agent-1", "agent-2", "agent-3",
                                                    "agent-5"};
  BOOST_TEST(newest_first == expected_newest, boost::test_tools::per_element());
  const std::vector<std::string> by_id = walk(AgentOrder::kId);
  const std::vector<std::string> expected_ids = {"agent-1", "agent-2", "agent-3", "agent-4",
                                                 "agent-5"};
  BOOST_TEST(by_id == expected_ids, boost::test_tools::per_element());
}
