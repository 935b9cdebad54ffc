#include "tools/fleetsim/collector_sampler.h"

#include <algorithm>
#include <optional>
#include <sstream>

namespace vigil::fleetsim {
namespace {

using std::chrono::milliseconds;
using std::chrono::steady_clock;

// A counter of a collector across its restarts: each life starts again from zero.
class LifetimeCounter {
 public:
  void observe(pid_t pid, double value) {
    if (pid != pid_) {
      base_ += last_;
      last_ = 0;
      pid_ = pid;
    }
    last_ = std::max(last_, value);
  }
  uint64_t total() const { return static_cast<uint64_t>(base_ + last_); }

 private:
  pid_t pid_ = -1;
  double base_ = 0;
  double last_ = 0;
};

// The reasons vigil_collector_degradation_reason says are on now.
std::vector<std::string> activeReasons(const std::string& metrics) {
  static const std::string kPrefix = "vigil_collector_degradation_reason{reason=\"";
  std::vector<std::string> reasons;
  std::istringstream in(metrics);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(kPrefix, 0) != 0) continue;
    const size_t end = line.find('"', kPrefix.size());
    if (end == std::string::npos) continue;
    if (std::atof(line.c_str() + line.rfind(' ') + 1) > 0) {
      reasons.push_back(line.substr(kPrefix.size(), end - kPrefix.size()));
    }
  }
  return reasons;
}

}  // namespace

double metricSum(const std::string& text, const std::string& name) {
  double sum = 0;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(name, 0) != 0) continue;
    const char next = line.size() > name.size() ? line[name.size()] : '\0';
    if (next != ' ' && next != '{') continue;
    const size_t space = line.rfind(' ');
    if (space != std::string::npos) sum += std::atof(line.c_str() + space + 1);
  }
  return sum;
}

struct CollectorSampler::State {
  CollectorUsage usage;
  pid_t last_pid = -1;
  double last_cpu = 0;
  steady_clock::time_point last_at;
  LifetimeCounter shed;
  LifetimeCounter refused;
  std::vector<DegradedPeriod> degraded;
  bool degraded_now = false;
};

CollectorSampler::CollectorSampler(std::vector<Target> targets, Options options)
    : targets_(std::move(targets)), options_(std::move(options)), states_(targets_.size()) {
  for (size_t i = 0; i < targets_.size(); ++i) {
    states_[i].usage.name = targets_[i].name;
    states_[i].last_at = steady_clock::now();
  }
}

CollectorSampler::~CollectorSampler() { stop(); }

void CollectorSampler::start() {
  running_ = true;
  thread_ = std::thread([this] {
    while (running_) {
      std::this_thread::sleep_for(milliseconds(250));
      sampleOnce();
    }
  });
}

void CollectorSampler::stop() {
  running_ = false;
  if (thread_.joinable()) thread_.join();
}

void CollectorSampler::sampleOnce() {
  for (size_t i = 0; i < targets_.size(); ++i) {
    CollectorControl& c = *targets_[i].collector;
    const pid_t pid = c.livePid();
    auto sample = pid > 0 ? sampleProcess(pid) : std::nullopt;
    const auto now = steady_clock::now();
    HttpAnswer m = pid > 0 ? c.http().get("/metrics", milliseconds(1000)) : HttpAnswer{};
    const WallTime wall = std::chrono::system_clock::now();
    {
      std::lock_guard<std::mutex> lock(mu_);
      State& s = states_[i];
      if (sample) {
        s.usage.peak_rss_bytes = std::max(s.usage.peak_rss_bytes, sample->rss_bytes);
        const double elapsed = std::chrono::duration<double>(now - s.last_at).count();
        if (pid == s.last_pid && elapsed >= 1.0) {
          s.usage.peak_cpu_share =
              std::max(s.usage.peak_cpu_share, (sample->cpu_seconds - s.last_cpu) / elapsed);
          s.usage.cpu_seconds += sample->cpu_seconds - s.last_cpu;
          s.last_cpu = sample->cpu_seconds;
          s.last_at = now;
        } else if (pid != s.last_pid) {  // a new life: its CPU counts from here
          s.last_pid = pid;
          s.last_cpu = sample->cpu_seconds;
          s.last_at = now;
        }
      }
      if (m.status == 200) {
        s.shed.observe(pid, metricSum(m.body, "vigil_http_requests_shed_total"));
        s.refused.observe(pid, metricSum(m.body, "vigil_http_connections_refused_total"));
      }
      // Health: a collector that does not answer (stopped, frozen) is judged by the faults the
      // runner injected, not here.
      if (options_.track_health && m.status == 200) {
        const bool degraded = metricSum(m.body, "vigil_collector_degraded") > 0;
        if (degraded && !s.degraded_now)
          s.degraded.push_back({wall, WallTime::max(), {s.usage.name}});
        if (!degraded && s.degraded_now) s.degraded.back().to = wall;
        if (degraded) {
          std::vector<std::string>& reasons = s.degraded.back().reasons;
          for (const std::string& r : activeReasons(m.body)) {
            if (std::find(reasons.begin(), reasons.end(), r) == reasons.end()) reasons.push_back(r);
          }
        }
        s.degraded_now = degraded;
      }
    }
    if (options_.on_answer) options_.on_answer(i, m.status == 200);
  }
}

std::vector<CollectorUsage> CollectorSampler::usage() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<CollectorUsage> out;
  for (const State& s : states_) out.push_back(s.usage);
  return out;
}

uint64_t CollectorSampler::shed() const {
  std::lock_guard<std::mutex> lock(mu_);
  uint64_t sum = 0;
  for (const State& s : states_) sum += s.shed.total();
  return sum;
}

uint64_t CollectorSampler::refused() const {
  std::lock_guard<std::mutex> lock(mu_);
  uint64_t sum = 0;
  for (const State& s : states_) sum += s.refused.total();
  return sum;
}

std::vector<DegradedPeriod> CollectorSampler::degraded(WallTime end) const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<DegradedPeriod> out;
  for (const State& s : states_) {
    for (DegradedPeriod d : s.degraded) {
      if (d.to == WallTime::max()) d.to = end;
      out.push_back(std::move(d));
    }
  }
  std::sort(out.begin(), out.end(),
            [](const DegradedPeriod& a, const DegradedPeriod& b) { return a.from < b.from; });
  return out;
}

}  // namespace vigil::fleetsim
