#define BOOST_TEST_MODULE collector_admission
// The bulkheads: classification, per-class limits, queue high-water marks, per-client shares,
// Retry-After, the counters, and the shed summary. The bulkheads in a real listener:
// http_listener_test.cc.
#include "collector/http/admission.h"

#include <Poco/Logger.h>

#include <boost/test/unit_test.hpp>
#include <memory>
#include <mutex>
#include <string>

#include "collector/http/metrics.h"
#include "common/clock.h"

using namespace std::chrono_literals;
using vigil::SimulatedClock;
using vigil::collector::AdmissionConfig;
using vigil::collector::AdmissionController;
using vigil::collector::classifyPath;
using vigil::collector::MetricsRegistry;
using vigil::collector::RequestClass;
using vigil::collector::ShedReason;
using vigil::collector::ShedReporter;

namespace {

constexpr auto kIngest = RequestClass::kIngest;
constexpr auto kAdmin = RequestClass::kAdmin;
constexpr auto kProbe = RequestClass::kProbe;

// Limits 2 ingest, 1 admin, 1 probe; ingest shed above 8 waiting connections, admin above 2;
// Retry-After 5 + the jitter the test chooses.
AdmissionConfig smallConfig() {
  AdmissionConfig c;
  c.max_in_flight = {2, 1, 1};
  c.queue_high_water = {8, 2, 0};
  c.retry_after_s = 5;
  c.retry_after_jitter_s = 10;
  return c;
}

AdmissionController::Jitter fixedJitter(uint32_t value) {
  return [value](uint32_t) { return value; };
}

}  // namespace

BOOST_TEST_DONT_PRINT_LOG_VALUE(RequestClass)

BOOST_AUTO_TEST_CASE(paths_are_classified_into_ingest_admin_and_probe) {
  BOOST_TEST(classifyPath("/v1/heartbeat") == kIngest);
  BOOST_TEST(classifyPath("/v1/enroll") == kIngest);
  BOOST_TEST(classifyPath("/v1/anything") == kIngest);
  BOOST_TEST(classifyPath("/api/v1/agents") == kAdmin);
  BOOST_TEST(classifyPath("/api/v1/openapi.json") == kAdmin);
  BOOST_TEST(classifyPath("/livez") == kProbe);
  BOOST_TEST(classifyPath("/readyz") == kProbe);
  BOOST_TEST(classifyPath("/metrics") == kProbe);
  // Unknown paths never take ingest's share.
  BOOST_TEST(classifyPath("/") == kAdmin);
  BOOST_TEST(classifyPath("/v1") == kAdmin);
  BOOST_TEST(classifyPath("/metrics/x") == kAdmin);
  BOOST_TEST(classifyPath("") == kAdmin);
}

BOOST_AUTO_TEST_CASE(a_full_class_sheds_with_503_and_a_jittered_retry_after) {
  AdmissionController admission(smallConfig(), fixedJitter(3));
  auto first = admission.admit(kIngest, "10.0.0.1", 0);
  auto second = admission.admit(kIngest, "10.0.0.2", 0);
  BOOST_REQUIRE(first.ok());
  BOOST_REQUIRE(second.ok());
  auto third = admission.admit(kIngest, "10.0.0.3", 0);
  BOOST_REQUIRE(!third.ok());
  BOOST_TEST(third.error().http_status == 503);
  BOOST_TEST(third.error().retry_after_s == 8u);
  BOOST_TEST(static_cast<int>(third.error().reason) == static_cast<int>(ShedReason::kClassFull));
  // A finished request frees its slot.
  { auto done = std::move(first); }
  BOOST_TEST(admission.admit(kIngest, "10.0.0.3", 0).ok());
}

BOOST_AUTO_TEST_CASE(retry_after_stays_within_base_plus_jitter) {
  AdmissionController admission(smallConfig(), fixedJitter(1000));  // a jitter out of range
  auto held = admission.admit(kAdmin, "a", 0);
  BOOST_REQUIRE(held.ok());
  auto shed = admission.admit(kAdmin, "a", 0);
  BOOST_REQUIRE(!shed.ok());
  BOOST_TEST(shed.error().retry_after_s == 15u);
}

BOOST_AUTO_TEST_CASE(a_full_admin_class_never_takes_ingest_capacity) {
  AdmissionController admission(smallConfig(), fixedJitter(0));
  auto admin = admission.admit(kAdmin, "admin-host", 0);
  BOOST_REQUIRE(admin.ok());
  for (int i = 0; i < 5; ++i) BOOST_TEST(!admission.admit(kAdmin, "admin-host", 0).ok());
  auto a = admission.admit(kIngest, "agent-1", 0);
  auto b = admission.admit(kIngest, "agent-2", 0);
  BOOST_TEST(a.ok());
  BOOST_TEST(b.ok());
  auto probe = admission.admit(kProbe, "prometheus", 0);
  BOOST_TEST(probe.ok());
  BOOST_TEST(admission.shed(kAdmin) == 5u);
  BOOST_TEST(admission.shed(kIngest) == 0u);
}

BOOST_AUTO_TEST_CASE(a_long_queue_sheds_admin_before_ingest_and_never_probes) {
  AdmissionController admission(smallConfig(), fixedJitter(0));
  // 3 waiting: above admin's mark (2), not above ingest's (8).
  auto admin = admission.admit(kAdmin, "a", 3);
  BOOST_REQUIRE(!admin.ok());
  BOOST_TEST(static_cast<int>(admin.error().reason) ==
             static_cast<int>(ShedReason::kQueueHighWater));
  BOOST_TEST(admin.error().http_status == 503);
  BOOST_TEST(admission.admit(kIngest, "b", 3).ok());
  BOOST_TEST(admission.admit(kIngest, "b", 8).ok());  // at the mark: still admitted
  auto ingest = admission.admit(kIngest, "b", 9);
  BOOST_REQUIRE(!ingest.ok());
  BOOST_TEST(static_cast<int>(ingest.error().reason) ==
             static_cast<int>(ShedReason::kQueueHighWater));
  BOOST_TEST(admission.admit(kProbe, "c", 1'000'000).ok());
}

BOOST_AUTO_TEST_CASE(agents_are_shed_when_the_queue_is_served_late_not_when_it_is_long) {
  AdmissionConfig config = smallConfig();
  config.max_in_flight = {1000, 1, 1};
  config.queue_high_water = {100, 2, 0};
  config.max_queue_delay = {1s, 0s, 0s};
  AdmissionController admission(config, fixedJitter(0));
  // Many waiting, served in time: admitted, however many more than the workers.
  BOOST_TEST(admission.admit(kIngest, "a", 50, 900ms).ok());
  BOOST_TEST(admission.admit(kIngest, "a", 1, 1s).ok());  // at the bound: still admitted
  auto late = admission.admit(kIngest, "a", 1, 1001ms);
  BOOST_REQUIRE(!late.ok());
  BOOST_TEST(static_cast<int>(late.error().reason) == static_cast<int>(ShedReason::kQueueDelay));
  BOOST_TEST(late.error().http_status == 503);
  // Nothing waiting: nothing is late. Classes without a bound ignore the wait.
  BOOST_TEST(admission.admit(kIngest, "a", 0, 10s).ok());
  BOOST_TEST(admission.admit(kProbe, "p", 5, 10s).ok());
  BOOST_TEST(admission.stats().classes[0].shed[static_cast<size_t>(ShedReason::kQueueDelay)] == 1u);
}

BOOST_AUTO_TEST_CASE(one_admin_client_over_its_share_gets_429_and_others_still_get_in) {
  AdmissionConfig config = smallConfig();
  config.max_in_flight = {2, 3, 1};
  config.admin_max_per_client = 1;
  AdmissionController admission(config, fixedJitter(0));
  auto a1 = admission.admit(kAdmin, "10.0.0.1", 0);
  BOOST_REQUIRE(a1.ok());
  auto a2 = admission.admit(kAdmin, "10.0.0.1", 0);
  BOOST_REQUIRE(!a2.ok());
  BOOST_TEST(a2.error().http_status == 429);
  BOOST_TEST(static_cast<int>(a2.error().reason) == static_cast<int>(ShedReason::kClientShare));
  BOOST_TEST(admission.admit(kAdmin, "10.0.0.2", 0).ok());
  // The refused request did not keep its class slot: 1 of 3 is in use after the next admit
  // ends, so two more clients fit.
  BOOST_TEST(admission.stats().classes[1].in_flight == 1u);
  { auto done = std::move(a1); }
  BOOST_TEST(admission.admit(kAdmin, "10.0.0.1", 0).ok());
  // Ingest has no per-client share: agents behind one NAT address are many agents.
  auto i1 = admission.admit(kIngest, "192.0.2.1", 0);
  auto i2 = admission.admit(kIngest, "192.0.2.1", 0);
  BOOST_TEST(i1.ok());
  BOOST_TEST(i2.ok());
}

BOOST_AUTO_TEST_CASE(a_moved_ticket_releases_its_slot_once) {
  AdmissionController admission(smallConfig(), fixedJitter(0));
  {
    auto first = admission.admit(kAdmin, "a", 0);
    BOOST_REQUIRE(first.ok());
    AdmissionController::Ticket moved = std::move(first).value();
    AdmissionController::Ticket again = std::move(moved);
    BOOST_TEST(admission.stats().classes[1].in_flight == 1u);
  }
  BOOST_TEST(admission.stats().classes[1].in_flight == 0u);
  BOOST_TEST(admission.admit(kAdmin, "a", 0).ok());
}

BOOST_AUTO_TEST_CASE(answers_are_counted_by_class_status_and_duration) {
  AdmissionController admission(smallConfig(), fixedJitter(0));
  admission.recordResponse(kIngest, 200, 2ms);
  admission.recordResponse(kIngest, 200, 300ms);
  admission.recordResponse(kIngest, 503, 0ms);
  admission.recordResponse(kAdmin, 401, 20s);
  admission.recordResponse(kAdmin, 42, 1ms);  // not an HTTP status: only timed
  const auto stats = admission.stats();
  const auto& ingest = stats.classes[0];
  BOOST_TEST(ingest.responses[200 - 100] == 2u);
  BOOST_TEST(ingest.responses[503 - 100] == 1u);
  BOOST_TEST(ingest.duration_count == 3u);
  BOOST_TEST(ingest.duration_le[0] == 1u);  // <= 1 ms
  BOOST_TEST(ingest.duration_le[2] == 2u);  // <= 5 ms
  BOOST_TEST(ingest.duration_le[7] == 2u);  // <= 250 ms
  BOOST_TEST(ingest.duration_le[8] == 3u);  // <= 500 ms
  BOOST_TEST(ingest.duration_sum_s == 0.302, boost::test_tools::tolerance(1e-9));
  const auto& admin = stats.classes[1];
  BOOST_TEST(admin.responses[401 - 100] == 1u);
  BOOST_TEST(admin.duration_le.back() == 1u);  // 20 s is only in +Inf
  BOOST_TEST(admin.duration_count == 2u);
}

BOOST_AUTO_TEST_CASE(the_shed_reporter_gives_deltas_and_one_summary_per_period) {
  SimulatedClock clock;
  AdmissionController admission(smallConfig(), fixedJitter(0));
  ShedReporter reporter(admission, clock, 10s);
  {
    auto a = admission.admit(kIngest, "a", 0);
    auto b = admission.admit(kIngest, "b", 0);
    BOOST_TEST(!admission.admit(kIngest, "c", 0).ok());
    BOOST_TEST(!admission.admit(kAdmin, "d", 100).ok());
  }
  ShedReporter::Delta d = reporter.take(/*refused_connections=*/4);
  BOOST_TEST(d.ingest_accepted == 2u);
  BOOST_TEST(d.ingest_shed == 5u);  // 1 shed + 4 refused connections
  d = reporter.take(4);
  BOOST_TEST(d.ingest_accepted == 0u);
  BOOST_TEST(d.ingest_shed == 0u);

  BOOST_TEST(!reporter.summaryDue().has_value());  // not yet 10 s
  clock.advance(10s);
  std::optional<std::string> line = reporter.summaryDue();
  BOOST_REQUIRE(line.has_value());
  BOOST_TEST(line->find("shed 2 requests") != std::string::npos, *line);
  BOOST_TEST(line->find("ingest: 1 class_full") != std::string::npos, *line);
  BOOST_TEST(line->find("admin: 1 queue_high_water") != std::string::npos, *line);
  BOOST_TEST(line->find("4 connections closed unanswered") != std::string::npos, *line);
  clock.advance(10s);
  BOOST_TEST(!reporter.summaryDue().has_value());  // nothing new
}
