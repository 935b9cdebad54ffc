// vigil-presence-bench: what one collector core can do with the presence engine.
//
// Reports observations ingested per second on one thread, the cost of an evaluation tick with
// every agent tracked (nothing due, and 1 % of the fleet due at once), and memory per tracked
// agent (engine.memoryBytes() and the process's VmRSS growth). Prints a table and one JSON
// line; exits non-zero when memory per agent exceeds the 300-byte target or an agent beating
// on time changed state (timing is reported, never asserted).
//
//   vigil-presence-bench [--agents N] [--quick] [--ticks]
//
// The fleet runs at its real rate in simulated time (SimulatedClock): in every 12-second round
// each agent sends once, in shuffled order; an agent beats (HTTPS heartbeat, every 60 s) in one
// round of five and sends a beacon (expected every 15 s) in the others, and a fifth of the
// fleet beats in each round, so deadlines are spread as in a real fleet.

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "bench/process_memory.h"
#include "collector/presence/presence_engine.h"
#include "common/clock.h"

namespace {

using namespace std::chrono_literals;
using vigil::Duration;
using vigil::MonoTime;
using vigil::SimulatedClock;
using vigil::WallTime;
using vigil::collector::presence::AgentHandle;
using vigil::collector::presence::AgentSpec;
using vigil::collector::presence::AlertAction;
using vigil::collector::presence::AlertEvent;
using vigil::collector::presence::AlertKind;
using vigil::collector::presence::HealthChange;
using vigil::collector::presence::Indicator;
using vigil::collector::presence::Observation;
using vigil::collector::presence::PresenceConfig;
using vigil::collector::presence::PresenceEngine;
using vigil::collector::presence::PresenceListener;
using vigil::collector::presence::Transition;
using RealClock = std::chrono::steady_clock;

constexpr double kTargetBytesPerAgent = 300;
// One round: every agent sends once. Heartbeat in one round of five, a beacon in the others,
// so each agent beats every 60 s and beacons at most 24 s apart (expected every 15 s).
constexpr Duration kRound = 12s;
constexpr uint64_t kRoundsPerHeartbeat = 5;
constexpr uint64_t kIngestRounds = 10;
// Rounds of the steady fleet after ingest, whose ticks are the "nothing due" ones (no agent is
// late; the engine still rolls forward heap keys that evidence has overtaken).
constexpr uint64_t kSteadyRounds = 10;
// Rounds after the steady ones, long enough for the silent 1 % to go SUSPECT, then OFFLINE
// (including agents whose site correlation window delays the verdict).
constexpr uint64_t kDueRounds = 24;
constexpr size_t kBatch = 1024;

struct Options {
  uint32_t agents = 1'000'000;
  bool quick = false;
  bool dump_ticks = false;  // print every steady tick's cost (to find periodic work)
};

bool parseOptions(int argc, char** argv, Options& options) {
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--quick") {
      options.quick = true;
      options.agents = 100'000;
    } else if (arg == "--ticks") {
      options.dump_ticks = true;
    } else if (arg == "--agents" && i + 1 < argc) {
      const long long n = std::atoll(argv[++i]);
      if (n <= 0 || n > 100'000'000) return false;
      options.agents = static_cast<uint32_t>(n);
    } else {
      return false;
    }
  }
  return true;
}

double secondsSince(RealClock::time_point start) {
  return std::chrono::duration<double>(RealClock::now() - start).count();
}

class CountingListener final : public PresenceListener {
 public:
  void onTransition(const Transition&) override { ++transitions; }
  void onAlert(const AlertEvent& alert) override {
    if (alert.action != AlertAction::kOpened) return;
    ++alerts_opened;
    if (alert.kind == AlertKind::kSiteUnreachable) ++site_alerts_opened;
  }
  void onHealthChange(const HealthChange&) override {}
  void onDiary(AgentHandle, WallTime, WallTime) override {}

  uint64_t transitions = 0;
  uint64_t alerts_opened = 0;
  uint64_t site_alerts_opened = 0;
};

struct TickSample {
  double seconds;
  uint64_t transitions;
};

// Consecutive ticks that carried transitions.
struct DueWave {
  size_t first_tick_order = 0;
  size_t ticks = 0;
  double seconds = 0;
  double max_tick_seconds = 0;
  uint64_t transitions = 0;
};

// Drives the fleet round by round; ticks the engine every simulated tick_interval.
class FleetDriver {
 public:
  FleetDriver(PresenceEngine& engine, SimulatedClock& clock, CountingListener& listener,
              const PresenceConfig& config, std::vector<AgentHandle> order)
      : engine_(engine),
        clock_(clock),
        listener_(listener),
        config_(config),
        order_(std::move(order)),
        origin_(clock.monotonicNow()),
        next_tick_(config.tick_interval) {}

  // Runs rounds [first, last). The agent at order position p beats in the rounds where
  // (round + p) is a multiple of kRoundsPerHeartbeat and beacons in the others, so a fifth of
  // the fleet beats in every round. Positions below `silent_span` that are multiples of
  // kRoundsPerHeartbeat send nothing: agents that beat in the same round within a fraction of
  // a second of each other, whose deadlines therefore fall due together.
  void runRounds(uint64_t first, uint64_t last, size_t silent_span) {
    const size_t n = order_.size();
    Observation observation;
    for (uint64_t round = first; round < last; ++round) {
      for (size_t begin = 0; begin < n; begin += kBatch) {
        const size_t end = std::min(n, begin + kBatch);
        const Duration batch_end = kRound * round + kRound * (end - 1) / n;
        advanceTo(batch_end);
        const auto start = RealClock::now();
        for (size_t pos = begin; pos < end; ++pos) {
          if (pos < silent_span && pos % kRoundsPerHeartbeat == 0) continue;
          const bool heartbeat = (round + pos) % kRoundsPerHeartbeat == 0;
          observation.agent = order_[pos];
          observation.indicator = heartbeat ? Indicator::kHeartbeat : Indicator::kBeacon;
          observation.expected_interval = heartbeat ? 60s : 15s;
          observation.received_at = origin_ + kRound * round + kRound * pos / n;
          engine_.observe(observation);
          ++observations_;
        }
        observe_seconds_ += secondsSince(start);
      }
    }
    advanceTo(kRound * last);
  }

  uint64_t observations() const { return observations_; }
  double observeSeconds() const { return observe_seconds_; }
  std::vector<TickSample>& ticks() { return ticks_; }

 private:
  // Moves the clock to `t`, ticking at every tick_interval passed on the way.
  void advanceTo(Duration t) {
    while (next_tick_ <= t) {
      moveClock(next_tick_);
      const uint64_t before = listener_.transitions;
      const auto start = RealClock::now();
      engine_.tick();
      ticks_.push_back(TickSample{secondsSince(start), listener_.transitions - before});
      next_tick_ += config_.tick_interval;
    }
    moveClock(t);
  }

  void moveClock(Duration t) {
    if (t > now_) {
      clock_.advance(t - now_);
      now_ = t;
    }
  }

  PresenceEngine& engine_;
  SimulatedClock& clock_;
  CountingListener& listener_;
  const PresenceConfig& config_;
  std::vector<AgentHandle> order_;
  MonoTime origin_;
  Duration now_{};
  Duration next_tick_;
  uint64_t observations_ = 0;
  double observe_seconds_ = 0;
  std::vector<TickSample> ticks_;
};

double percentileOf(std::vector<double> values, double p) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  const auto rank = static_cast<size_t>(p * static_cast<double>(values.size() - 1) + 0.5);
  return values[std::min(rank, values.size() - 1)];
}

// Processor time since `start`: the figures stay meaningful on a machine shared with other work.
double cpuSecondsSince(std::clock_t start) {
  return static_cast<double>(std::clock() - start) / CLOCKS_PER_SEC;
}

// The admin summary's count of one tenant's agents by status, two ways: a recount that visits
// every agent's view (what PresenceMonitor::statusCounts did under the engine lock before the
// engine kept the counts), and the engine's kept counts. Both run under the engine lock in the
// collector, so each figure is also the lock's hold time per summary. Processor time, not wall
// time; prints a line each and one JSON line.
void benchSummaryReads(const PresenceEngine& engine, const std::vector<AgentHandle>& order,
                       const std::vector<AgentSpec>& specs) {
  using vigil::collector::presence::StatusCounts;
  const uint32_t tenant = specs[specs.size() / 2].tenant;
  constexpr int kRecounts = 5;
  std::vector<double> recount_seconds;
  uint64_t recounted = 0;
  for (int r = 0; r < kRecounts; ++r) {
    const std::clock_t start = std::clock();
    StatusCounts counts{};
    for (AgentHandle agent : order) {
      const auto view = engine.agentView(agent);
      if (view.tenant != tenant) continue;
      ++counts[static_cast<size_t>(view.status)];
    }
    recount_seconds.push_back(cpuSecondsSince(start));
    recounted = 0;
    for (uint32_t c : counts) recounted += c;
  }
  constexpr int kReads = 1'000'000;
  uint64_t kept = 0;
  const std::clock_t start = std::clock();
  for (int r = 0; r < kReads; ++r) {
    const StatusCounts counts = engine.statusCounts(tenant, std::nullopt);
    kept += counts[static_cast<size_t>(r % counts.size())];
  }
  const double read_ns = cpuSecondsSince(start) / kReads * 1e9;
  const StatusCounts final_counts = engine.statusCounts(tenant, std::nullopt);
  uint64_t kept_total = 0;
  for (uint32_t c : final_counts) kept_total += c;
  const double recount_ms = percentileOf(recount_seconds, 0.5) * 1e3;
  std::printf("  %-34s %12.2f ms (median of %d; %llu agents of tenant %u)\n",
              "summary by recount (before), CPU", recount_ms, kRecounts,
              static_cast<unsigned long long>(recounted), tenant);
  std::printf("  %-34s %12.1f ns (mean of %d; %llu agents; checksum %llu)\n",
              "summary by kept counts (after), CPU", read_ns, kReads,
              static_cast<unsigned long long>(kept_total), static_cast<unsigned long long>(kept));
  std::printf(
      "{\"bench\":\"presence_summary\",\"agents\":%zu,\"recount_ms\":%.3f,"
      "\"kept_counts_ns\":%.1f,\"counts_agree\":%s}\n",
      order.size(), recount_ms, read_ns, recounted == kept_total ? "true" : "false");
}

}  // namespace

int main(int argc, char** argv) {
  Options options;
  if (!parseOptions(argc, argv, options)) {
    std::fprintf(stderr, "usage: %s [--agents N] [--quick] [--ticks]\n", argv[0]);
    return 2;
  }
  const uint32_t n = options.agents;
  const PresenceConfig config;

  // Bench-side arrays first, so the RSS delta below is the engine's alone.
  std::mt19937_64 random(20240101);
  std::vector<AgentSpec> specs(n);
  uint32_t sites = 0;
  for (uint32_t a = 0; a < n; ++sites) {
    const uint32_t size = 5 + static_cast<uint32_t>(random() % 46);
    for (uint32_t i = 0; i < size && a < n; ++i, ++a) {
      specs[a].site = sites;
      specs[a].tenant = sites / 20;
    }
  }
  std::vector<AgentHandle> order;
  order.reserve(n);

  SimulatedClock clock;
  // The fleet enrolled long ago: established agents, as on a collector in service.
  const vigil::WallTime enrolled = clock.wallNow() - std::chrono::hours(24 * 30);
  for (AgentSpec& spec : specs) spec.enrolled_at = enrolled;
  CountingListener listener;
  const uint64_t rss_before = vigil::bench::residentBytes();
  PresenceEngine engine(config, clock, listener);
  auto start = RealClock::now();
  for (uint32_t a = 0; a < n; ++a) order.push_back(engine.addAgent(specs[a], std::nullopt));
  const double add_seconds = secondsSince(start);
  const uint64_t rss_added = vigil::bench::residentBytes();
  std::shuffle(order.begin(), order.end(), random);

  FleetDriver driver(engine, clock, listener, config, order);
  driver.runRounds(0, kIngestRounds, 0);
  const uint64_t ingest_observations = driver.observations();
  const double ingest_seconds = driver.observeSeconds();
  const uint64_t rss_after = vigil::bench::residentBytes();
  const size_t engine_bytes = engine.memoryBytes();

  // Ticks of the steady fleet: nothing due.
  const size_t first_steady_tick = driver.ticks().size();
  driver.runRounds(kIngestRounds, kIngestRounds + kSteadyRounds, 0);
  std::vector<double> idle_ticks;
  uint64_t idle_transitions = 0;
  for (size_t i = first_steady_tick; i < driver.ticks().size(); ++i) {
    idle_ticks.push_back(driver.ticks()[i].seconds);
    idle_transitions += driver.ticks()[i].transitions;
    if (options.dump_ticks) {
      std::printf("steady tick %zu: %.1f us\n", i, driver.ticks()[i].seconds * 1e6);
    }
  }

  // 1 % of the fleet goes silent at once: agents that beat within 0.6 s of each other.
  const uint64_t due_from = kIngestRounds + kSteadyRounds;
  const size_t silent_agents = std::max<size_t>(1, n / 100);
  const size_t silent_span = silent_agents * kRoundsPerHeartbeat;
  const size_t first_due_tick = driver.ticks().size();
  driver.runRounds(due_from, due_from + kDueRounds, silent_span);
  // The silent agents' deadlines span under a second, so each wave (SUSPECT, then OFFLINE a
  // confirmation window later) falls in one or two consecutive ticks.
  std::vector<DueWave> waves;
  bool in_wave = false;
  for (size_t i = first_due_tick; i < driver.ticks().size(); ++i) {
    const TickSample& tick = driver.ticks()[i];
    if (tick.transitions == 0) {
      in_wave = false;
      continue;
    }
    if (!in_wave) waves.push_back(DueWave{i, 0, 0, 0, 0});
    in_wave = true;
    DueWave& wave = waves.back();
    ++wave.ticks;
    wave.seconds += tick.seconds;
    wave.max_tick_seconds = std::max(wave.max_tick_seconds, tick.seconds);
    wave.transitions += tick.transitions;
  }
  // Exactly two waves, each moving every silent agent once: anything else means the figures
  // below would time other work (or none), so the run fails rather than print them.
  if (waves.size() != 2 || waves[0].transitions != silent_agents ||
      waves[1].transitions != silent_agents) {
    std::fprintf(stderr,
                 "vigil-presence-bench: expected 2 waves of %zu transitions each (SUSPECT, then "
                 "OFFLINE) after %zu agents went silent, got %zu wave(s):",
                 silent_agents, silent_agents, waves.size());
    for (const DueWave& wave : waves) {
      std::fprintf(stderr, " %llu in %zu tick(s);",
                   static_cast<unsigned long long>(wave.transitions), wave.ticks);
    }
    std::fprintf(stderr, "\n");
    return 1;
  }

  const double engine_per_agent = static_cast<double>(engine_bytes) / n;
  const double rss_added_per_agent =
      rss_added > rss_before ? static_cast<double>(rss_added - rss_before) / n : 0;
  const double rss_per_agent =
      rss_after > rss_before ? static_cast<double>(rss_after - rss_before) / static_cast<double>(n)
                             : 0;
  const double observe_rate = ingest_seconds > 0 ? ingest_observations / ingest_seconds : 0;
  const double idle_p50_us = percentileOf(idle_ticks, 0.50) * 1e6;
  const double idle_p99_us = percentileOf(idle_ticks, 0.99) * 1e6;
  const double idle_max_us = percentileOf(idle_ticks, 1.0) * 1e6;
  double idle_total = 0;
  for (double t : idle_ticks) idle_total += t;
  const double idle_mean_us = idle_ticks.empty() ? 0 : idle_total / idle_ticks.size() * 1e6;
  const bool memory_ok =
      engine_per_agent <= kTargetBytesPerAgent && rss_per_agent <= kTargetBytesPerAgent;
  // A fleet beating on time must not change state: a transition there means the steady ticks
  // measured work they should not have had (or the engine misjudged punctual agents).
  const bool steady_ok = idle_transitions == 0;

  std::printf("vigil-presence-bench: %u agents in %u sites, default PresenceConfig%s\n", n, sites,
              options.quick ? " (--quick)" : "");
  std::printf("  %-34s %12.2f s  (%.2f M agents/s)\n", "add agents", add_seconds,
              n / add_seconds / 1e6);
  std::printf("  %-34s %12.2f M/s (%llu calls in %.2f s, one thread)\n", "observe()",
              observe_rate / 1e6, static_cast<unsigned long long>(ingest_observations),
              ingest_seconds);
  std::printf("  %-34s %9.1f us mean, %.1f us p50, %.1f us p99, %.1f us max (%zu ticks)\n",
              "tick, nothing due", idle_mean_us, idle_p50_us, idle_p99_us, idle_max_us,
              idle_ticks.size());
  const char* wave_names[] = {"ticks, 1 % due (SUSPECT wave)", "ticks, 1 % due (OFFLINE wave)"};
  for (size_t w = 0; w < waves.size(); ++w) {
    std::printf("  %-34s %12.2f ms in %zu ticks (largest %.2f ms; %llu transitions)\n",
                wave_names[w], waves[w].seconds * 1e3, waves[w].ticks,
                waves[w].max_tick_seconds * 1e3,
                static_cast<unsigned long long>(waves[w].transitions));
  }
  std::printf("  %-34s %12llu    (of which site alerts %llu)\n", "alerts opened",
              static_cast<unsigned long long>(listener.alerts_opened),
              static_cast<unsigned long long>(listener.site_alerts_opened));
  std::printf("  %-34s %12.1f B   (engine.memoryBytes() %.1f MB)\n",
              "bytes/agent, engine accounting", engine_per_agent, engine_bytes / 1e6);
  std::printf("  %-34s %12.1f B   (after adding %.1f B/agent; RSS %.1f -> %.1f MB)\n",
              "bytes/agent, RSS delta", rss_per_agent, rss_added_per_agent, rss_before / 1e6,
              rss_after / 1e6);
  std::printf("  %-34s %12s    (target <= %.0f bytes/agent)\n", "memory", memory_ok ? "OK" : "FAIL",
              kTargetBytesPerAgent);
  std::printf("  %-34s %12s    (%llu transitions in the steady ticks; expected 0)\n",
              "steady fleet", steady_ok ? "OK" : "FAIL",
              static_cast<unsigned long long>(idle_transitions));
  std::printf(
      "{\"bench\":\"presence\",\"agents\":%u,\"observe_per_s\":%.0f,\"observations\":%llu,"
      "\"tick_idle_us_mean\":%.2f,\"tick_idle_us_p50\":%.2f,\"tick_idle_us_p99\":%.2f,"
      "\"tick_idle_us_max\":%.2f,\"suspect_wave_ms\":%.3f,\"suspect_wave_ticks\":%zu,"
      "\"suspect_wave_transitions\":%llu,\"offline_wave_ms\":%.3f,\"offline_wave_ticks\":%zu,"
      "\"offline_wave_transitions\":%llu,\"engine_bytes_per_agent\":%.1f,"
      "\"rss_bytes_per_agent\":%.1f,\"alerts_opened\":%llu,\"memory_ok\":%s,\"steady_ok\":%s}\n",
      n, observe_rate, static_cast<unsigned long long>(ingest_observations), idle_mean_us,
      idle_p50_us, idle_p99_us, idle_max_us, waves[0].seconds * 1e3, waves[0].ticks,
      static_cast<unsigned long long>(waves[0].transitions), waves[1].seconds * 1e3, waves[1].ticks,
      static_cast<unsigned long long>(waves[1].transitions), engine_per_agent, rss_per_agent,
      static_cast<unsigned long long>(listener.alerts_opened), memory_ok ? "true" : "false",
      steady_ok ? "true" : "false");
  benchSummaryReads(engine, order, specs);
  return memory_ok && steady_ok ? 0 : 1;
}
