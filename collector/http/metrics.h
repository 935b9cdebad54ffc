#pragma once

// GET /metrics: the collector's metrics in the Prometheus text exposition format (0.0.4).
// docs/operations.md ("Metrics") lists every family; keep the two in step.
//
// A MetricsSource writes whole families into a MetricsWriter; the MetricsRegistry renders
// every registered source, in registration order, for each scrape. A component that owns
// counters (the webhook dispatcher, for instance) registers its source in the composition
// root:
//
//   metrics.add([&dispatcher](MetricsWriter& out) {
//     out.family("vigil_webhook_outbox_pending", MetricType::kGauge, "Deliveries waiting.");
//     out.sample(static_cast<double>(dispatcher.pendingCount()));
//   });
//
// Naming (https://prometheus.io/docs/practices/naming/): prefix vigil_, base units (_seconds,
// _bytes), _total on counters; process_* are the standard process collector's names.
//
// Thread safety: MetricsRegistry is safe to call concurrently; sources run on the scraping
// thread, one scrape at a time, and must be quick and must not throw.

#include <Poco/Logger.h>
#include <Poco/Net/HTTPRequestHandler.h>

#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "collector/http/admission.h"
#include "common/clock.h"
#include "common/mutex.h"

namespace vigil::collector {

class AgentDirectory;
class BeaconService;
class IngestService;
class PresenceMonitor;

enum class MetricType { kCounter, kGauge, kHistogram };

using MetricLabels = std::vector<std::pair<std::string, std::string>>;

// Builds one exposition. Families must be unique; samples belong to the last family begun.
class MetricsWriter {
 public:
  // Begins family `name` with its HELP and TYPE lines.
  void family(std::string_view name, MetricType type, std::string_view help);
  // A sample of the current family (name as the family's).
  void sample(double value, const MetricLabels& labels = {});
  // A sample named family + `suffix` ("_bucket", "_sum", "_count" of a histogram).
  void sample(std::string_view suffix, double value, const MetricLabels& labels);

  const std::string& text() const { return text_; }

 private:
  std::string family_;
  std::string text_;
};

// "1", "0.25", "+Inf", "NaN": a sample value as the exposition format writes it.
std::string formatMetricValue(double value);
// A label value escaped per the exposition format (backslash, double quote, newline).
std::string escapeLabelValue(std::string_view value);

using MetricsSource = std::function<void(MetricsWriter&)>;

class MetricsRegistry {
 public:
  void add(MetricsSource source);
  std::string render() const;

 private:
  mutable Mutex mu_;
  std::vector<MetricsSource> sources_ GUARDED_BY(mu_);
};

// --- Sources of the collector's components (each captures what it reads by reference) ----

// vigil_http_*: requests by class and status, sheds by class and reason, in-flight, limits,
// request durations.
MetricsSource admissionMetrics(const AdmissionController& admission);

// vigil_ingest_*: enrollments and heartbeats accepted and refused by error code, peer
// sightings.
MetricsSource ingestMetrics(const IngestService& ingest);
// vigil_beacons_*: accepted and dropped by reason.
MetricsSource beaconMetrics(const BeaconService& beacons);
// vigil_agents, vigil_collector_degraded, vigil_collector_degradation_reason, held alerts,
// the pending presence batch and its dropped status changes.
MetricsSource presenceMetrics(const PresenceMonitor& presence);
// vigil_last_seen_dirty_agents and vigil_agents_loaded.
MetricsSource directoryMetrics(const AgentDirectory& directory);
// process_*: resident memory, CPU seconds, open and maximum file descriptors, start time
// (Linux /proc; families whose source cannot be read are left out).
MetricsSource processMetrics();

// GET /metrics (no authentication; other methods: 405). `registry` and `logger` must outlive
// the handler.
class MetricsHandler final : public Poco::Net::HTTPRequestHandler {
 public:
  MetricsHandler(const MetricsRegistry& registry, Poco::Logger& logger)
      : registry_(registry), logger_(logger) {}
  void handleRequest(Poco::Net::HTTPServerRequest& request,
                     Poco::Net::HTTPServerResponse& response) override;

 private:
  const MetricsRegistry& registry_;
  Poco::Logger& logger_;
};

}  // namespace vigil::collector
