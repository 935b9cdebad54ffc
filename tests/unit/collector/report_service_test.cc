#define BOOST_TEST_MODULE collector_report_service
// The availability report's service (collector/admin/report_service.h) on a real store: at most
// kMaxConcurrentReports reports are computed at once, a further one is refused with 429 and
// Retry-After and changes nothing, and the limit is free again once they are done.
#include "collector/admin/report_service.h"

#include <boost/test/unit_test.hpp>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

#include "collector/store/store_wrapper.h"
#include "common/protocol.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_store.h"

using namespace vigil::collector;
using vigil::Result;

namespace {

// A store whose first kMaxConcurrentReports history reads wait until the test opens the gate;
// later ones pass (so a service without the limit answers the extra report instead of
// hanging).
class GatedStore final : public StoreWrapper {
 public:
  using StoreWrapper::StoreWrapper;

  Result<AvailabilityHistory> readAvailabilityHistory(const ReportScope& scope, int64_t from_ms,
                                                      int64_t to_ms, size_t max_agents) override {
    std::unique_lock<std::mutex> lock(mu_);
    if (++arrived_ <= kMaxConcurrentReports) {
      ++waiting_;
      changed_.notify_all();
      changed_.wait(lock, [this] { return open_; });
      --waiting_;
    }
    lock.unlock();
    return StoreWrapper::readAvailabilityHistory(scope, from_ms, to_ms, max_agents);
  }

  void awaitWaiting(int n) {
    std::unique_lock<std::mutex> lock(mu_);
    changed_.wait(lock, [&] { return waiting_ == n; });
  }
  void open() {
    std::lock_guard<std::mutex> lock(mu_);
    open_ = true;
    changed_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable changed_;
  int arrived_ = 0;
  int waiting_ = 0;
  bool open_ = false;
};

AdminRequest reportRequest(int64_t tenant_id) {
  AdminRequest r;
  r.principal.scope = TenantScope::everything();
  r.method = "GET";
  r.route = "/api/v1/reports/availability";
  r.query = {{"tenant_id", std::to_string(tenant_id)}, {"month", "2026-03"}};
  r.now_ms = 1'800'000'000'000;
  return r;
}

}  // namespace

BOOST_AUTO_TEST_CASE(reports_beyond_the_concurrency_limit_are_refused_with_retry_after) {
  vigil::testing::TempDir tmp;
  auto opened = vigil::testing::openTestStore(tmp.sub("data"));
  BOOST_REQUIRE(opened.ok());
  std::unique_ptr<SqlStore> sql = std::move(opened.value());
  auto tenant = sql->createTenant("Acme", 1000);
  BOOST_REQUIRE(tenant.ok());
  GatedStore store(*sql);
  ReportService service(store);

  std::vector<std::thread> running;
  std::vector<int> statuses(kMaxConcurrentReports, 0);
  for (int i = 0; i < kMaxConcurrentReports; ++i) {
    running.emplace_back([&, i] {
      auto answer = service.availability(reportRequest(tenant.value().id));
      statuses[static_cast<size_t>(i)] =
          answer.ok() ? answer.value().http_status : answer.error().http_status;
    });
  }
  store.awaitWaiting(kMaxConcurrentReports);
  auto refused = service.availability(reportRequest(tenant.value().id));
  if (refused.ok()) store.open();  // let the others end before the test fails
  BOOST_REQUIRE(!refused.ok());
  BOOST_TEST(refused.error().http_status == 429);
  BOOST_TEST(refused.error().code == vigil::protocol::errors::kOverloaded);
  BOOST_TEST(refused.error().retry_after_s.value_or(0) == kReportBusyRetryAfterS);
  store.open();
  for (std::thread& t : running) t.join();
  for (int status : statuses) BOOST_TEST(status == 200);
  // Done: the next one is computed.
  auto again = service.availability(reportRequest(tenant.value().id));
  BOOST_REQUIRE(again.ok());
  BOOST_TEST(again.value().http_status == 200);
  BOOST_TEST(again.value().body.find("\"name\":\"Acme\"") != std::string::npos);
}
