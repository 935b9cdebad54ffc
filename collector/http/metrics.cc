#include "collector/http/metrics.h"

#include <Poco/Exception.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>

#include "collector/http/http_exchange.h"
#include "collector/ingest/agent_directory.h"
#include "collector/ingest/beacon_service.h"
#include "collector/ingest/ingest_service.h"
#include "collector/monitor/presence_monitor.h"
#include "common/protocol.h"

namespace vigil::collector {
namespace {

namespace p = presence;

constexpr char kContentType[] = "text/plain; version=0.0.4; charset=utf-8";

const char* typeName(MetricType type) {
  switch (type) {
    case MetricType::kCounter:
      return "counter";
    case MetricType::kGauge:
      return "gauge";
    case MetricType::kHistogram:
      return "histogram";
  }
  return "untyped";
}

// HELP text escaping: backslash and newline.
std::string escapeHelp(std::string_view help) {
  std::string out;
  for (char c : help) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out.push_back(c);
    }
  }
  return out;
}

double asDouble(uint64_t n) { return static_cast<double>(n); }

// The fields after the command name of /proc/self/stat (field 3 first), or empty.
std::vector<std::string> procSelfStat() {
  std::ifstream in("/proc/self/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const size_t close = stat.rfind(')');
  if (close == std::string::npos || close + 2 > stat.size()) return {};
  std::istringstream fields(stat.substr(close + 2));
  std::vector<std::string> out;
  for (std::string f; fields >> f;) out.push_back(f);
  return out;
}

std::optional<double> bootTimeSeconds() {
  std::ifstream in("/proc/stat");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("btime ", 0) == 0) return std::strtod(line.c_str() + 6, nullptr);
  }
  return std::nullopt;
}

}  // namespace

std::string formatMetricValue(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  if (value == std::floor(value) && std::fabs(value) < 1e15) {
    char buffer[32];
    std::snprintf(buffer, sizeof buffer, "%.0f", value);
    return buffer;
  }
  // The shortest text that reads back as the same double.
  char buffer[32];
  for (int precision = 15; precision <= 17; ++precision) {
    std::snprintf(buffer, sizeof buffer, "%.*g", precision, value);
    if (std::strtod(buffer, nullptr) == value) break;
  }
  return buffer;
}

std::string escapeLabelValue(std::string_view value) {
  std::string out;
  for (char c : value) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out.push_back(c);
    }
  }
  return out;
}

void MetricsWriter::family(std::string_view name, MetricType type, std::string_view help) {
  family_ = std::string(name);
  text_ += "# HELP " + family_ + " " + escapeHelp(help) + "\n";
  text_ += "# TYPE " + family_ + " " + typeName(type) + "\n";
}

void MetricsWriter::sample(double value, const MetricLabels& labels) { sample("", value, labels); }

void MetricsWriter::sample(std::string_view suffix, double value, const MetricLabels& labels) {
  text_ += family_;
  text_ += suffix;
  if (!labels.empty()) {
    text_ += "{";
    for (size_t i = 0; i < labels.size(); ++i) {
      if (i > 0) text_ += ",";
      text_ += labels[i].first + "=\"" + escapeLabelValue(labels[i].second) + "\"";
    }
    text_ += "}";
  }
  text_ += " " + formatMetricValue(value) + "\n";
}

void MetricsRegistry::add(MetricsSource source) {
  MutexLock lock(mu_);
  sources_.push_back(std::move(source));
}

std::string MetricsRegistry::render() const {
  MutexLock lock(mu_);
  MetricsWriter out;
  for (const MetricsSource& source : sources_) source(out);
  return out.text();
}

MetricsSource admissionMetrics(const AdmissionController& admission) {
  return [&admission](MetricsWriter& out) {
    const AdmissionStats stats = admission.stats();
    auto name = [](size_t c) { return requestClassName(static_cast<RequestClass>(c)); };

    out.family("vigil_http_requests_total", MetricType::kCounter,
               "HTTP requests answered, by request class and status code (sheds included).");
    for (size_t c = 0; c < kRequestClassCount; ++c) {
      const auto& responses = stats.classes[c].responses;
      for (size_t s = 0; s < responses.size(); ++s) {
        if (responses[s] == 0) continue;
        out.sample(asDouble(responses[s]), {{"class", name(c)}, {"code", std::to_string(s + 100)}});
      }
    }
    out.family("vigil_http_requests_shed_total", MetricType::kCounter,
               "Requests answered 503 or 429 with Retry-After instead of being served, by "
               "request class and reason.");
    for (size_t c = 0; c < kRequestClassCount; ++c) {
      for (size_t r = 0; r < kShedReasonCount; ++r) {
        out.sample(asDouble(stats.classes[c].shed[r]),
                   {{"class", name(c)}, {"reason", shedReasonName(static_cast<ShedReason>(r))}});
      }
    }
    out.family("vigil_http_requests_admitted_total", MetricType::kCounter,
               "Requests admitted to their class's workers, by request class.");
    for (size_t c = 0; c < kRequestClassCount; ++c) {
      out.sample(asDouble(stats.classes[c].admitted), {{"class", name(c)}});
    }
    out.family("vigil_http_requests_in_flight", MetricType::kGauge,
               "Requests in progress, by request class.");
    for (size_t c = 0; c < kRequestClassCount; ++c) {
      out.sample(asDouble(stats.classes[c].in_flight), {{"class", name(c)}});
    }
    out.family("vigil_http_requests_in_flight_limit", MetricType::kGauge,
               "Most requests of a class in progress at once (its share of the workers).");
    for (size_t c = 0; c < kRequestClassCount; ++c) {
      out.sample(asDouble(stats.classes[c].max_in_flight), {{"class", name(c)}});
    }
    out.family("vigil_http_request_duration_seconds", MetricType::kHistogram,
               "Time from routing a request to the end of its answer, by request class.");
    for (size_t c = 0; c < kRequestClassCount; ++c) {
      const auto& k = stats.classes[c];
      for (size_t b = 0; b < kDurationBuckets.size(); ++b) {
        out.sample("_bucket", asDouble(k.duration_le[b]),
                   {{"class", name(c)}, {"le", formatMetricValue(kDurationBuckets[b])}});
      }
      out.sample("_bucket", asDouble(k.duration_count), {{"class", name(c)}, {"le", "+Inf"}});
      out.sample("_sum", k.duration_sum_s, {{"class", name(c)}});
      out.sample("_count", asDouble(k.duration_count), {{"class", name(c)}});
    }
  };
}

MetricsSource ingestMetrics(const IngestService& ingest) {
  return [&ingest](MetricsWriter& out) {
    const IngestOutcomes o = ingest.outcomes();
    out.family("vigil_ingest_requests_total", MetricType::kCounter,
               "Agent enrollments and heartbeats processed, by endpoint and result (accepted, "
               "or the error code of the refusal).");
    out.sample(asDouble(o.enrollments_accepted), {{"endpoint", "enroll"}, {"result", "accepted"}});
    for (const auto& [code, n] : o.enrollments_refused) {
      out.sample(asDouble(n), {{"endpoint", "enroll"}, {"result", code}});
    }
    out.sample(asDouble(o.heartbeats_accepted),
               {{"endpoint", "heartbeat"}, {"result", "accepted"}});
    for (const auto& [code, n] : o.heartbeats_refused) {
      out.sample(asDouble(n), {{"endpoint", "heartbeat"}, {"result", code}});
    }
    const IngestCounters c = ingest.counters();
    out.family("vigil_ingest_peer_sightings_total", MetricType::kCounter,
               "LAN peer sightings reported in heartbeats, by outcome (witnessed: taken as "
               "evidence; ignored).");
    out.sample(asDouble(c.peer_sightings_witnessed), {{"outcome", "witnessed"}});
    out.sample(asDouble(c.peer_sightings_ignored), {{"outcome", "ignored"}});
    out.family("vigil_enrollments_rate_limited_total", MetricType::kCounter,
               "Enrollments refused 429 rate_limited, by the limit that refused them (token, "
               "site, tenant; docs/operations.md, \"Enrollment limits\").");
    out.sample(asDouble(c.enrollments_limited.refused_token), {{"limit", "token"}});
    out.sample(asDouble(c.enrollments_limited.refused_site), {{"limit", "site"}});
    out.sample(asDouble(c.enrollments_limited.refused_tenant), {{"limit", "tenant"}});
  };
}

MetricsSource beaconMetrics(const BeaconService& beacons) {
  return [&beacons](MetricsWriter& out) {
    const BeaconCounters c = beacons.counters();
    out.family("vigil_beacons_accepted_total", MetricType::kCounter,
               "UDP beacons verified and acknowledged.");
    out.sample(asDouble(c.accepted));
    out.family("vigil_beacons_dropped_total", MetricType::kCounter,
               "UDP beacons dropped unanswered, by reason.");
    for (size_t r = 0; r < kBeaconDropCount; ++r) {
      out.sample(asDouble(c.dropped[r]), {{"reason", beaconDropName(static_cast<BeaconDrop>(r))}});
    }
  };
}

MetricsSource presenceMetrics(const PresenceMonitor& presence) {
  return [&presence](MetricsWriter& out) {
    const p::HealthView health = presence.health();
    out.family("vigil_agents", MetricType::kGauge, "Agents by presence status.");
    for (size_t s = 0; s < health.agents_by_status.size(); ++s) {
      out.sample(asDouble(health.agents_by_status[s]),
                 {{"status", p::statusName(static_cast<p::AgentStatus>(s))}});
    }
    out.family("vigil_collector_degraded", MetricType::kGauge,
               "1 while the collector is DEGRADED (offline alerts are held), else 0.");
    out.sample(health.degraded ? 1 : 0);
    out.family("vigil_collector_degradation_reason", MetricType::kGauge,
               "1 for each degradation reason active now, else 0.");
    for (size_t r = 0; r < p::kDegradationReasonCount; ++r) {
      out.sample((health.reasons_mask & (1u << r)) != 0 ? 1 : 0,
                 {{"reason", p::degradationReasonName(static_cast<p::DegradationReason>(r))}});
    }
    out.family("vigil_alerts_held", MetricType::kGauge,
               "Offline verdicts held back while the collector is degraded.");
    out.sample(asDouble(health.held_alerts));
    out.family("vigil_presence_pending_events", MetricType::kGauge,
               "Status changes, alert and health events waiting for the next store write.");
    out.sample(asDouble(presence.pendingCount()));
    out.family("vigil_presence_dropped_changes_total", MetricType::kCounter,
               "Status changes dropped from history because the pending batch was full.");
    out.sample(asDouble(presence.droppedChanges()));
  };
}

MetricsSource directoryMetrics(const AgentDirectory& directory) {
  return [&directory](MetricsWriter& out) {
    out.family("vigil_last_seen_dirty_agents", MetricType::kGauge,
               "Agents whose last-seen time waits for the write-behind.");
    out.sample(asDouble(directory.dirtyCount()));
    out.family("vigil_agents_loaded", MetricType::kGauge,
               "Agents in the ingest directory (enrolled, retired included).");
    out.sample(asDouble(directory.size()));
  };
}

MetricsSource processMetrics() {
  return [](MetricsWriter& out) {
    const std::vector<std::string> stat = procSelfStat();
    const long ticks = ::sysconf(_SC_CLK_TCK);
    const long page = ::sysconf(_SC_PAGESIZE);
    // Fields of /proc/self/stat, numbered as in proc(5); stat[0] is field 3.
    auto field = [&stat](size_t n) -> double {
      return n - 3 < stat.size() ? std::strtod(stat[n - 3].c_str(), nullptr) : 0;
    };
    if (stat.size() >= 22 && ticks > 0 && page > 0) {
      out.family("process_cpu_seconds_total", MetricType::kCounter,
                 "User and system CPU time spent, in seconds.");
      out.sample((field(14) + field(15)) / static_cast<double>(ticks));
      out.family("process_resident_memory_bytes", MetricType::kGauge,
                 "Resident memory size in bytes.");
      out.sample(field(24) * static_cast<double>(page));
      out.family("process_virtual_memory_bytes", MetricType::kGauge,
                 "Virtual memory size in bytes.");
      out.sample(field(23));
      if (std::optional<double> boot = bootTimeSeconds()) {
        out.family("process_start_time_seconds", MetricType::kGauge,
                   "Start time of the process since the Unix epoch, in seconds.");
        out.sample(*boot + field(22) / static_cast<double>(ticks));
      }
    }
    std::error_code ec;
    size_t fds = 0;
    for (std::filesystem::directory_iterator it("/proc/self/fd", ec), end; !ec && it != end;
         it.increment(ec)) {
      ++fds;
    }
    if (!ec) {
      out.family("process_open_fds", MetricType::kGauge, "Open file descriptors.");
      out.sample(asDouble(fds));
    }
    rlimit limit{};
    if (::getrlimit(RLIMIT_NOFILE, &limit) == 0) {
      out.family("process_max_fds", MetricType::kGauge, "Most open file descriptors allowed.");
      out.sample(limit.rlim_cur == RLIM_INFINITY ? -1 : static_cast<double>(limit.rlim_cur));
    }
  };
}

void MetricsHandler::handleRequest(Poco::Net::HTTPServerRequest& request,
                                   Poco::Net::HTTPServerResponse& response) {
  HttpExchange exchange(request, response, logger_);
  if (request.getMethod() != Poco::Net::HTTPRequest::HTTP_GET) {
    response.set("Allow", "GET");
    exchange.sendError(
        ApiError{405, protocol::errors::kMethodNotAllowed, "use GET on /metrics", std::nullopt});
    return;
  }
  std::string text;
  try {
    text = registry_.render();
  } catch (const std::exception& e) {
    logger_.error(std::string("rendering /metrics failed: ") + e.what());
    exchange.sendError(
        ApiError{500, protocol::errors::kInternal, "cannot render the metrics", std::nullopt});
    return;
  }
  response.setStatusAndReason(Poco::Net::HTTPResponse::HTTP_OK);
  response.setContentType(kContentType);
  response.set("Cache-Control", "no-store");
  response.sendBuffer(text.data(), text.size());
}

}  // namespace vigil::collector
