#define BOOST_TEST_MODULE collector_metrics
// The Prometheus text exposition: value and label escaping, families with HELP and TYPE,
// histogram suffixes, sources rendered in order, and the admission and process families.
#include "collector/http/metrics.h"

#include <boost/test/unit_test.hpp>
#include <cmath>
#include <limits>
#include <string>

#include "collector/http/admission.h"

using vigil::collector::AdmissionConfig;
using vigil::collector::AdmissionController;
using vigil::collector::escapeLabelValue;
using vigil::collector::formatMetricValue;
using vigil::collector::MetricsRegistry;
using vigil::collector::MetricsWriter;
using vigil::collector::MetricType;
using vigil::collector::RequestClass;

BOOST_AUTO_TEST_CASE(values_are_written_as_the_exposition_format_reads_them) {
  BOOST_TEST(formatMetricValue(0) == "0");
  BOOST_TEST(formatMetricValue(42) == "42");
  BOOST_TEST(formatMetricValue(-3) == "-3");
  BOOST_TEST(formatMetricValue(18446744073709.0) == "18446744073709");
  BOOST_TEST(formatMetricValue(0.25) == "0.25");
  BOOST_TEST(formatMetricValue(0.06) == "0.06");
  BOOST_TEST(formatMetricValue(std::numeric_limits<double>::infinity()) == "+Inf");
  BOOST_TEST(formatMetricValue(-std::numeric_limits<double>::infinity()) == "-Inf");
  BOOST_TEST(formatMetricValue(std::nan("")) == "NaN");
  BOOST_TEST(std::stod(formatMetricValue(1.0 / 3)) == 1.0 / 3);
}

BOOST_AUTO_TEST_CASE(label_values_escape_backslash_quote_and_newline) {
  BOOST_TEST(escapeLabelValue("plain") == "plain");
  BOOST_TEST(escapeLabelValue("a\\b") == "a\\\\b");
  BOOST_TEST(escapeLabelValue("say \"hi\"") == "say \\\"hi\\\"");
  BOOST_TEST(escapeLabelValue("two\nlines") == "two\\nlines");
}

BOOST_AUTO_TEST_CASE(a_family_has_help_type_and_its_samples) {
  MetricsWriter out;
  out.family("vigil_things_total", MetricType::kCounter, "Things.\nWith a \\ in the help.");
  out.sample(3, {{"kind", "a\"b"}, {"code", "200"}});
  out.sample(4);
  out.family("vigil_wait_seconds", MetricType::kHistogram, "Waits.");
  out.sample("_bucket", 1, {{"le", "0.5"}});
  out.sample("_bucket", 2, {{"le", "+Inf"}});
  out.sample("_sum", 0.75, {});
  out.sample("_count", 2, {});
  BOOST_TEST(out.text() ==
             "# HELP vigil_things_total Things.\\nWith a \\\\ in the help.\n"
             "# TYPE vigil_things_total counter\n"
             "vigil_things_total{kind=\"a\\\"b\",code=\"200\"} 3\n"
             "vigil_things_total 4\n"
             "# HELP vigil_wait_seconds Waits.\n"
             "# TYPE vigil_wait_seconds histogram\n"
             "vigil_wait_seconds_bucket{le=\"0.5\"} 1\n"
             "vigil_wait_seconds_bucket{le=\"+Inf\"} 2\n"
             "vigil_wait_seconds_sum 0.75\n"
             "vigil_wait_seconds_count 2\n");
}

BOOST_AUTO_TEST_CASE(the_registry_renders_every_source_in_registration_order) {
  MetricsRegistry registry;
  BOOST_TEST(registry.render().empty());
  int scrapes = 0;
  registry.add([&scrapes](MetricsWriter& out) {
    ++scrapes;
    out.family("vigil_first", MetricType::kGauge, "First.");
    out.sample(scrapes);
  });
  registry.add([](MetricsWriter& out) {
    out.family("vigil_second", MetricType::kGauge, "Second.");
    out.sample(2);
  });
  const std::string first = registry.render();
  BOOST_TEST(first.find("vigil_first 1\n") != std::string::npos, first);
  BOOST_TEST(first.find("vigil_first") < first.find("vigil_second"));
  BOOST_TEST(registry.render().find("vigil_first 2\n") != std::string::npos);  // read per scrape
}

BOOST_AUTO_TEST_CASE(admission_metrics_count_sheds_by_class_and_reason) {
  AdmissionConfig config;
  config.max_in_flight = {1, 1, 1};
  AdmissionController admission(config, [](uint32_t) { return 0u; });
  auto held = admission.admit(RequestClass::kIngest, "a", 0);
  BOOST_REQUIRE(held.ok());
  BOOST_REQUIRE(!admission.admit(RequestClass::kIngest, "b", 0).ok());
  admission.recordResponse(RequestClass::kIngest, 503, std::chrono::milliseconds(1));
  MetricsWriter out;
  vigil::collector::admissionMetrics(admission)(out);
  const std::string& text = out.text();
  BOOST_TEST(
      text.find("vigil_http_requests_shed_total{class=\"ingest\",reason=\"class_full\"} 1\n") !=
          std::string::npos,
      text);
  BOOST_TEST(
      text.find("vigil_http_requests_shed_total{class=\"admin\",reason=\"class_full\"} 0\n") !=
          std::string::npos,
      text);
  BOOST_TEST(text.find("vigil_http_requests_total{class=\"ingest\",code=\"503\"} 1\n") !=
                 std::string::npos,
             text);
  BOOST_TEST(text.find("vigil_http_requests_in_flight{class=\"ingest\"} 1\n") != std::string::npos,
             text);
  BOOST_TEST(
      text.find("vigil_http_request_duration_seconds_bucket{class=\"ingest\",le=\"+Inf\"} 1\n") !=
          std::string::npos,
      text);
  BOOST_TEST(text.find("vigil_http_request_duration_seconds_count{class=\"ingest\"} 1\n") !=
                 std::string::npos,
             text);
}

BOOST_AUTO_TEST_CASE(process_metrics_report_this_process) {
  MetricsWriter out;
  vigil::collector::processMetrics()(out);
  const std::string& text = out.text();
  for (const char* family : {"process_cpu_seconds_total", "process_resident_memory_bytes",
                             "process_start_time_seconds", "process_open_fds"}) {
    BOOST_TEST(text.find(std::string("# TYPE ") + family) != std::string::npos, family);
  }
  const size_t rss = text.find("\nprocess_resident_memory_bytes ");
  BOOST_REQUIRE(rss != std::string::npos);
  BOOST_TEST(std::stod(text.substr(rss + 31)) > 1e6);  // a running test binary
}
