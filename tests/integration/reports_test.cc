#define BOOST_TEST_MODULE integration_reports
// Availability reports (docs/reports.md) from a real collector's history:
// - a real vigil-agent is killed (a real outage) and the collector is frozen with SIGSTOP in
//   the middle of it: the report shows the freeze as the collector's degraded time, apart,
//   and counts only the rest of the outage as downtime;
// - the CSV and HTML forms of a report naming a hostile host name: no markup gets through, no
//   spreadsheet formula either.
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include <algorithm>
#include <boost/test/unit_test.hpp>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <thread>

#include "common/time_format.h"
#include "common/time_zone.h"
#include "tests/integration/harness.h"
#include "tests/integration/synthetic_agent.h"

using namespace vigil::testing;
using namespace std::chrono_literals;

namespace {

int64_t nowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

Poco::JSON::Object::Ptr parse(const std::string& body) {
  Poco::JSON::Parser parser;
  return parser.parse(body).extract<Poco::JSON::Object::Ptr>();
}

std::string statusOf(const Collector& c, const std::string& id) {
  auto a = c.agent(id);
  return a ? a->getValue<std::string>("status") : "";
}

bool healthy(const Collector& c) {
  HttpResponse r = c.adminGet("/api/v1/health");
  return r.status == 200 && r.json()->getValue<std::string>("status") == "healthy";
}

// Unix ms of an RFC 3339 UTC time as the API writes it ("2026-12-07T21:39:22.919Z").
int64_t millisOf(const std::string& text) {
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, s = 0, ms = 0;
  BOOST_REQUIRE_MESSAGE(
      std::sscanf(text.c_str(), "%d-%d-%dT%d:%d:%d.%dZ", &y, &mo, &d, &h, &mi, &s, &ms) == 7, text);
  return ((vigil::daysFromCivil(y, mo, d) * 24 + h) * 60 + mi) * 60'000 + s * 1000 + ms;
}

int64_t secondsAsMs(const Poco::JSON::Object::Ptr& o, const std::string& name) {
  return static_cast<int64_t>(o->getValue<double>(name) * 1000.0 + 0.5);
}

}  // namespace

BOOST_AUTO_TEST_CASE(a_collector_freeze_during_a_real_outage_is_reported_apart_from_downtime) {
  TempDir tmp;
  Collector collector(tmp.sub("collector"), fastPresenceSettings());
  collector.start();
  const int64_t began = nowMs();
  Agent agent(tmp.sub("agent"), collector.port(), collector.enrollToken());
  agent.start();
  std::string id;
  BOOST_REQUIRE(eventually([&] { return !(id = agent.agentId()).empty(); }, 20s));
  BOOST_REQUIRE(eventually([&] { return statusOf(collector, id) == "ONLINE"; }, 20s));
  BOOST_REQUIRE_MESSAGE(eventually([&] { return healthy(collector); }, 60s), "warm-up never ended");

  // The outage: the agent dies; then the collector freezes for 6 s in its middle.
  const int64_t killed = nowMs();
  agent.kill();
  std::this_thread::sleep_for(300ms);
  const int64_t stopped = nowMs();
  collector.signal(SIGSTOP);
  std::this_thread::sleep_for(6s);
  const int64_t resumed = nowMs();
  collector.signal(SIGCONT);
  BOOST_REQUIRE_MESSAGE(eventually([&] { return statusOf(collector, id) == "OFFLINE"; }, 60s),
                        "the outage was never confirmed");
  BOOST_REQUIRE(eventually([&] { return healthy(collector); }, 60s));
  std::this_thread::sleep_for(2s);  // downtime the collector watched, after its recovery
  const int64_t restarted = nowMs();
  agent.start();
  BOOST_REQUIRE(eventually([&] { return statusOf(collector, id) == "ONLINE"; }, 30s));
  std::this_thread::sleep_for(1s);  // the store's flush

  HttpResponse r = collector.adminGet("/api/v1/reports/availability?agent_id=" + id +
                                      "&from=" + vigil::formatRfc3339Utc(began - 60'000) +
                                      "&to=" + vigil::formatRfc3339Utc(nowMs() + 60'000));
  BOOST_REQUIRE_MESSAGE(r.status == 200, r.body);
  BOOST_TEST_MESSAGE("report: " << r.body);
  Poco::JSON::Object::Ptr report = parse(r.body);
  const int64_t freeze = resumed - stopped;

  // The collector's own degraded time covers the freeze: from its last tick before it (ticks
  // are 100 ms apart) to at least the thaw.
  Poco::JSON::Array::Ptr spans = report->getArray("collector_degraded");
  bool covered = false;
  for (size_t i = 0; i < spans->size(); ++i) {
    Poco::JSON::Object::Ptr span = spans->getObject(static_cast<unsigned>(i));
    const int64_t from = millisOf(span->getValue<std::string>("from"));
    const int64_t to = millisOf(span->getValue<std::string>("to"));
    if (from <= stopped + 500 && to >= resumed) {
      covered = true;
      BOOST_TEST(from >= killed - 1000, "a span starting long before the freeze");
      const std::string reasons = span->getArray("reasons")->getElement<std::string>(0);
      BOOST_TEST(span->getArray("reasons")->size() >= 1u);
      BOOST_TEST_MESSAGE("freeze span " << from - stopped << " ms from SIGSTOP to " << to - resumed
                                        << " ms after SIGCONT, reasons " << reasons);
    }
  }
  BOOST_TEST(covered, "no collector_degraded span covers the SIGSTOP (" << freeze << " ms)");

  Poco::JSON::Object::Ptr line = report->getArray("agents")->getObject(0);
  BOOST_TEST(line->getValue<std::string>("agent_id") == id);
  BOOST_TEST(secondsAsMs(line, "collector_degraded_seconds") >= freeze - 500);
  Poco::JSON::Array::Ptr incidents = line->getArray("incidents");
  BOOST_REQUIRE_EQUAL(incidents->size(), 1u);
  Poco::JSON::Object::Ptr incident = incidents->getObject(0);
  const int64_t start = millisOf(incident->getValue<std::string>("start"));
  const int64_t end = millisOf(incident->getValue<std::string>("end"));
  const int64_t down = secondsAsMs(incident, "down_seconds");
  // From its first missed heartbeat (they are 1 s apart), not from the verdict.
  BOOST_TEST(start <= killed + 1500);
  BOOST_TEST(start >= killed - 1000);
  BOOST_TEST(end >= restarted);
  BOOST_TEST(incident->getValue<std::string>("status") == "OFFLINE");
  BOOST_TEST(!incident->getValue<std::string>("cause").empty());
  // The downtime is the outage less the freeze: never the freeze itself, nor less than the
  // outage the collector watched.
  BOOST_TEST(down > 0);
  BOOST_TEST(down >= restarted - killed - freeze - 2500);
  BOOST_TEST(down <= end - start - freeze + 500, "down " << down << " ms of an outage of "
                                                         << end - start << " ms with a freeze of "
                                                         << freeze << " ms");
  BOOST_TEST(secondsAsMs(line, "down_seconds") == down);
  const double availability = line->getValue<double>("availability");
  BOOST_TEST(availability > 0.0);
  BOOST_TEST(availability < 1.0);
  // Every millisecond of the agent's window is in exactly one class.
  Poco::JSON::Object::Ptr window = line->getObject("window");
  const int64_t length = millisOf(window->getValue<std::string>("to")) -
                         millisOf(window->getValue<std::string>("from"));
  int64_t sum = 0;
  for (const char* name :
       {"online_seconds", "down_seconds", "maintenance_seconds", "shutdown_seconds",
        "collector_degraded_seconds", "unmonitored_seconds"}) {
    sum += secondsAsMs(line, name);
  }
  BOOST_TEST(std::abs(sum - length) <= 3);
}

BOOST_AUTO_TEST_CASE(csv_and_html_reports_carry_no_markup_or_formula_from_a_host_name) {
  TempDir tmp;
  Collector collector(tmp.sub("collector"), fastPresenceSettings());
  collector.start();
  const std::string hostile = "=HYPERLINK(\"http://x\")<img src=x onerror=alert(1)>";
  SyntheticAgent agent(collector.port());
  SyntheticAnswer enrolled = agent.enroll(collector.enrollToken(), hostile);
  BOOST_REQUIRE_MESSAGE(enrolled.status == 201, enrolled.body);
  const std::string query =
      "/api/v1/reports/availability?tenant_id=1&from=" + vigil::formatRfc3339Utc(nowMs() - 60'000) +
      "&to=" + vigil::formatRfc3339Utc(nowMs() + 60'000) + "&time_zone=Europe/Berlin";

  HttpResponse html = collector.adminGet(query + "&format=html");
  BOOST_REQUIRE_EQUAL(html.status, 200);
  BOOST_TEST(html.headers["Content-Type"].rfind("text/html", 0) == 0u);
  BOOST_TEST(html.headers["Content-Security-Policy"].find("default-src 'none'") !=
             std::string::npos);
  BOOST_TEST(html.headers["Content-Disposition"].find("availability-1-") != std::string::npos);
  BOOST_TEST(html.body.find("<img") == std::string::npos);
  BOOST_TEST(html.body.find("&lt;img src=x onerror=alert(1)&gt;") != std::string::npos, html.body);
  BOOST_TEST(html.body.find("<script") == std::string::npos);
  BOOST_TEST(html.body.find("(Europe/Berlin)") != std::string::npos);

  HttpResponse csv = collector.adminGet(query + "&format=csv");
  BOOST_REQUIRE_EQUAL(csv.status, 200);
  BOOST_TEST(csv.headers["Content-Type"].rfind("text/csv", 0) == 0u);
  // The host name's field: quoted (it holds quotes), a leading apostrophe before its '='.
  BOOST_TEST(csv.body.find(",\"'=HYPERLINK(\"\"http://x\"\")<img src=x onerror=alert(1)>\",") !=
                 std::string::npos,
             csv.body);
  HttpResponse incidents = collector.adminGet(query + "&format=incidents.csv");
  BOOST_REQUIRE_EQUAL(incidents.status, 200);
  BOOST_TEST(incidents.body.rfind("tenant,site,agent_id,hostname,start,end,down_s,", 0) == 0u);
}
