// vigil-ingest-load: heartbeat load against a running vigil-collector.
//
// Enrolls N synthetic agents (the enrollment token is read from the collector's data
// directory, file enroll-token) and sends signed heartbeats at a fixed target rate from C
// connection threads (keep-alive, Poco HTTPClientSession; each thread owns its agents, so
// sequence numbers stay in order). Measures the achieved rate, latency (request sent to answer
// read) p50/p99/max, HTTP statuses, 503/429 answers without Retry-After, and transport errors
// (connection refused or reset, timeouts: what a dropped connection looks like to a client).
//
//   vigil-ingest-load --port P --data-dir DIR [--agents N] [--connections C] [--rate R]
//                     [--seconds S] [--label TEXT]
//
// Prints a table and one JSON line. Exit status: 0 the run completed, 2 it could not run
// (collector unreachable, enrollment refused). Figures are not judged here: scripts/load-test.sh
// and tests/integration/load_shedding_test.cc decide what they must show.

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "tests/integration/harness.h"
#include "tests/integration/synthetic_agent.h"

namespace {

using vigil::testing::SyntheticAgent;
using vigil::testing::SyntheticAnswer;
using Clock = std::chrono::steady_clock;

struct Options {
  int port = 0;
  std::string data_dir;
  int agents = 200;
  int connections = 8;
  double rate = 1000;  // heartbeats per second, all connections together
  double seconds = 20;
  std::string label = "run";
};

[[noreturn]] void usage(const char* why) {
  std::fprintf(stderr,
               "vigil-ingest-load: %s\nusage: vigil-ingest-load --port P --data-dir DIR "
               "[--agents N] [--connections C] [--rate R] [--seconds S] [--label TEXT]\n",
               why);
  std::exit(2);
}

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) usage(("missing value of " + arg).c_str());
      return argv[++i];
    };
    if (arg == "--port") {
      o.port = std::atoi(value().c_str());
    } else if (arg == "--data-dir") {
      o.data_dir = value();
    } else if (arg == "--agents") {
      o.agents = std::atoi(value().c_str());
    } else if (arg == "--connections") {
      o.connections = std::atoi(value().c_str());
    } else if (arg == "--rate") {
      o.rate = std::atof(value().c_str());
    } else if (arg == "--seconds") {
      o.seconds = std::atof(value().c_str());
    } else if (arg == "--label") {
      o.label = value();
    } else {
      usage(("unknown argument " + arg).c_str());
    }
  }
  if (o.port <= 0 || o.data_dir.empty()) usage("--port and --data-dir are required");
  if (o.agents < 1 || o.connections < 1 || o.rate <= 0 || o.seconds <= 0) {
    usage("--agents, --connections, --rate and --seconds must be positive");
  }
  o.connections = std::min(o.connections, o.agents);
  return o;
}

struct Results {
  std::mutex mu;
  std::map<int, uint64_t> statuses;
  uint64_t overload_without_retry_after = 0;
  uint64_t transport_errors = 0;
  std::string first_transport_error;
  std::vector<double> latencies_ok_ms;  // of 200 answers
  std::vector<double> latencies_all_ms;

  void add(const SyntheticAnswer& a) {
    const double ms = std::chrono::duration<double, std::milli>(a.took).count();
    std::lock_guard<std::mutex> lock(mu);
    if (!a.transport_error.empty()) {
      if (transport_errors++ == 0) first_transport_error = a.transport_error;
      return;
    }
    ++statuses[a.status];
    latencies_all_ms.push_back(ms);
    if (a.status == 200) latencies_ok_ms.push_back(ms);
    if ((a.status == 503 || a.status == 429) && a.retry_after.empty()) {
      ++overload_without_retry_after;
    }
  }
};

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t at = std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())));
  return v[at];
}

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  const Options o = parse(argc, argv);
  const std::string token = trim(vigil::testing::readFile(o.data_dir + "/enroll-token"));
  if (token.empty()) {
    std::fprintf(stderr, "vigil-ingest-load: no enroll-token in %s\n", o.data_dir.c_str());
    return 2;
  }

  // Agents by connection thread; each thread's agents share its session.
  std::vector<std::vector<std::unique_ptr<SyntheticAgent>>> by_thread(
      static_cast<size_t>(o.connections));
  {
    std::atomic<int> next{0};
    std::atomic<int> failed{0};
    std::string first_failure;
    std::mutex failure_mu;
    std::vector<std::thread> enrollers;
    for (int t = 0; t < o.connections; ++t) {
      enrollers.emplace_back([&, t] {
        auto session = SyntheticAgent::makeSession(o.port);
        for (int i = next++; i < o.agents; i = next++) {
          auto agent = std::make_unique<SyntheticAgent>(session);
          // Enrollment writes through to the store: many at once are shed; come back soon.
          SyntheticAnswer a;
          for (int attempt = 0; attempt < 200; ++attempt) {
            a = agent->enroll(token, "load-" + std::to_string(i));
            if (a.status != 503 && a.status != 429) break;
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
          }
          if (a.status != 201) {
            std::lock_guard<std::mutex> lock(failure_mu);
            if (failed++ == 0) {
              first_failure = std::to_string(a.status) + " " + a.body + a.transport_error;
            }
            continue;
          }
          by_thread[static_cast<size_t>(t)].push_back(std::move(agent));
        }
      });
    }
    for (auto& e : enrollers) e.join();
    if (failed > 0) {
      std::fprintf(stderr, "vigil-ingest-load: %d enrollments failed, first: %s\n", failed.load(),
                   first_failure.c_str());
      return 2;
    }
  }

  Results results;
  std::vector<std::thread> threads;
  const auto start = Clock::now();
  const auto end =
      start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(o.seconds));
  const double per_thread_rate = o.rate / o.connections;
  for (int t = 0; t < o.connections; ++t) {
    threads.emplace_back([&, t] {
      auto& agents = by_thread[static_cast<size_t>(t)];
      if (agents.empty()) return;
      // Open loop: the k-th heartbeat of this thread is due at start + k / rate; a late
      // answer delays the next send but not the schedule.
      for (uint64_t k = 0;; ++k) {
        const auto due = start + std::chrono::duration_cast<Clock::duration>(
                                     std::chrono::duration<double>(k / per_thread_rate));
        if (due >= end || Clock::now() >= end) break;
        std::this_thread::sleep_until(due);
        results.add(agents[k % agents.size()]->heartbeat());
      }
    });
  }
  for (auto& t : threads) t.join();
  const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();

  uint64_t answered = 0;
  for (const auto& [status, n] : results.statuses) answered += n;
  auto count = [&results](int status) {
    auto it = results.statuses.find(status);
    return it == results.statuses.end() ? uint64_t{0} : it->second;
  };
  const uint64_t ok = count(200);
  const uint64_t shed = count(503) + count(429);
  std::printf("== %s: %d agents, %d connections, target %.0f/s for %.0f s\n", o.label.c_str(),
              o.agents, o.connections, o.rate, o.seconds);
  std::printf("  answered        %8.0f/s  (%" PRIu64 " in %.1f s)\n", answered / elapsed, answered,
              elapsed);
  std::printf("  200 accepted    %8.0f/s  (%" PRIu64 ")\n", ok / elapsed, ok);
  std::printf("  503/429 shed    %8.0f/s  (%" PRIu64 ", %" PRIu64 " without Retry-After)\n",
              shed / elapsed, shed, results.overload_without_retry_after);
  std::printf("  transport errors          %" PRIu64 "%s%s\n", results.transport_errors,
              results.transport_errors ? "  first: " : "", results.first_transport_error.c_str());
  std::printf("  latency of 200  p50 %.2f ms  p99 %.2f ms  max %.2f ms\n",
              percentile(results.latencies_ok_ms, 0.5), percentile(results.latencies_ok_ms, 0.99),
              percentile(results.latencies_ok_ms, 1.0));
  std::printf("  latency of all  p50 %.2f ms  p99 %.2f ms\n",
              percentile(results.latencies_all_ms, 0.5),
              percentile(results.latencies_all_ms, 0.99));
  std::printf("  statuses       ");
  for (const auto& [status, n] : results.statuses) std::printf(" %d:%" PRIu64, status, n);
  std::printf("\n");
  std::printf(
      "{\"label\":\"%s\",\"agents\":%d,\"connections\":%d,\"target_rate\":%.0f,"
      "\"answered_per_s\":%.1f,\"accepted_per_s\":%.1f,\"shed_per_s\":%.1f,"
      "\"shed_without_retry_after\":%" PRIu64 ",\"transport_errors\":%" PRIu64
      ",\"p50_ms\":%.3f,\"p99_ms\":%.3f,\"max_ms\":%.3f}\n",
      o.label.c_str(), o.agents, o.connections, o.rate, answered / elapsed, ok / elapsed,
      shed / elapsed, results.overload_without_retry_after, results.transport_errors,
      percentile(results.latencies_ok_ms, 0.5), percentile(results.latencies_ok_ms, 0.99),
      percentile(results.latencies_ok_ms, 1.0));
  return 0;
}
