// vigil-directory-bench: memory per agent and cost per heartbeat of the collector's agent
// directory (AgentDirectory), the in-memory state that grows with the fleet besides the
// presence engine (vigil-presence-bench measures that one).
//
// The fleet is made like a real one: ids and secrets as enrollment makes them, host names of
// 20-30 characters, a handful of OS names and versions, a 64-hex config hash, one IPv4 and one
// IPv6 address. Every agent is added (as at load or enrollment), then each sends one
// heartbeat with all its facts and one beacon timestamp is recorded, the dirty entries are
// taken as the last-seen writer takes them, and a second round of heartbeats carries the same
// facts (the steady state: nothing changed). Reported: the process's VmRSS growth per agent
// after the steady round, and the time per accept() and per beacon record on one thread.
// Exits non-zero when memory per agent exceeds the target (timing is reported, never judged).
//
//   vigil-directory-bench [--agents N] [--quick]

#include <malloc.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "bench/bench_options.h"
#include "bench/process_memory.h"
#include "collector/ingest/agent_directory.h"

namespace {

using vigil::collector::AcceptOutcome;
using vigil::collector::AgentDirectory;
using vigil::collector::AgentRecord;
using Steady = std::chrono::steady_clock;

// The directory's share of the issue-20 budget (1 GiB for 1,000,000 agents, all state; the
// presence engine takes under 300 B).
constexpr double kTargetBytesPerAgent = 450;

// Deterministic hex of `chars` characters from `seed`.
std::string hexOf(uint64_t seed, size_t chars) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out(chars, '0');
  uint64_t x = seed * 0x9E3779B97F4A7C15ULL + 1;
  for (size_t i = 0; i < chars; ++i) {
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 29;
    out[i] = kDigits[x & 15];
  }
  return out;
}

struct FakeAgent {
  std::string id;
  std::string hostname;
  std::string boot_id;
};

vigil::protocol::Heartbeat beatOf(const FakeAgent& a, uint64_t index, uint64_t seq) {
  static const char* const kOsNames[] = {"Windows 11 Pro", "Windows 10 Pro",
                                         "Microsoft Windows Server 2022 Standard", "Ubuntu",
                                         "macOS"};
  static const char* const kOsVersions[] = {"10.0.22631", "10.0.19045", "10.0.20348", "22.04.4",
                                            "14.6.1"};
  vigil::protocol::Heartbeat hb;
  hb.agent_id = a.id;
  hb.seq = seq;
  hb.boot_id = a.boot_id;
  hb.agent_version = "1.4.2";
  hb.uptime_s = 3600 + seq;
  hb.hostname = a.hostname;
  hb.os_name = kOsNames[index % 5];
  hb.os_version = kOsVersions[index % 5];
  hb.config_hash = hexOf(index % 7, 64);
  hb.net = vigil::protocol::NetworkSelfCheck{
      true,
      {"10." + std::to_string(index / 65536 % 256) + "." + std::to_string(index / 256 % 256) + "." +
           std::to_string(index % 256),
       "fe80::" + hexOf(index, 4) + ":" + hexOf(index + 1, 4)}};
  return hb;
}

}  // namespace

int main(int argc, char** argv) {
  uint64_t n = 1'000'000;
  vigil::bench::BenchOptions options(argc, argv, "vigil-directory-bench", "[--agents N] [--quick]");
  while (options.next()) {
    if (options.is("--agents")) {
      n = static_cast<uint64_t>(options.integer());
    } else if (options.is("--quick")) {
      n = 100'000;
    } else {
      options.unknown();
    }
  }

  std::vector<FakeAgent> fleet(n);
  for (uint64_t i = 0; i < n; ++i) {
    fleet[i].id = "ag_" + hexOf(i, 32);
    fleet[i].hostname = "WS-" + std::to_string(i % 997) + "-" + hexOf(i, 8) + ".corp.example";
    fleet[i].boot_id = hexOf(i + 17, 8) + "-" + hexOf(i + 18, 4) + "-" + hexOf(i + 19, 4) + "-" +
                       hexOf(i + 20, 4) + "-" + hexOf(i + 21, 12);
  }
  // One heartbeat per agent, made before measuring so its strings are not counted.
  std::vector<vigil::protocol::Heartbeat> beats;
  beats.reserve(n);
  for (uint64_t i = 0; i < n; ++i) beats.push_back(beatOf(fleet[i], i, 1));

  ::malloc_trim(0);
  const uint64_t rss_before = vigil::bench::residentBytes();
  AgentDirectory directory;
  for (uint64_t i = 0; i < n; ++i) {
    AgentRecord r;
    r.id = fleet[i].id;
    r.site_id = static_cast<int64_t>(i / 500 + 1);
    r.tenant_id = static_cast<int64_t>(i / 50'000 + 1);
    r.hostname = fleet[i].hostname;
    r.os_name = *beats[i].os_name;
    r.os_version = *beats[i].os_version;
    r.arch = "x86_64";
    r.agent_version = "1.4.1";
    r.secret = hexOf(i + 99, 64);
    directory.add(r);
  }

  int64_t now_ms = 1'780'000'000'000;
  const auto accept_start = Steady::now();
  for (uint64_t i = 0; i < n; ++i) {
    if (directory.accept(beats[i], now_ms) != AcceptOutcome::kAccepted) {
      std::fprintf(stderr, "heartbeat of agent %llu refused\n", static_cast<unsigned long long>(i));
      return 1;
    }
  }
  const double accept_first_ns =
      std::chrono::duration<double, std::nano>(Steady::now() - accept_start).count() /
      static_cast<double>(n);
  const auto beacon_start = Steady::now();
  for (uint64_t i = 0; i < n; ++i) directory.recordBeaconIfNewer(fleet[i].id, now_ms, 0);
  const double beacon_ns =
      std::chrono::duration<double, std::nano>(Steady::now() - beacon_start).count() /
      static_cast<double>(n);
  const size_t taken = directory.takeDirty().size();
  if (taken != n) {
    std::fprintf(stderr, "took %zu dirty entries, expected %llu\n", taken,
                 static_cast<unsigned long long>(n));
    return 1;
  }

  // The steady state: the same facts again, a later seq.
  for (uint64_t i = 0; i < n; ++i) beats[i].seq = 2;
  now_ms += 60'000;
  const auto steady_start = Steady::now();
  for (uint64_t i = 0; i < n; ++i) directory.accept(beats[i], now_ms);
  const double accept_steady_ns =
      std::chrono::duration<double, std::nano>(Steady::now() - steady_start).count() /
      static_cast<double>(n);
  size_t facts_rewritten = 0;
  for (const auto& u : directory.takeDirty()) facts_rewritten += u.facts.has_value() ? 1 : 0;
  // What the batches held is free again: give it back, so only the directory is counted.
  ::malloc_trim(0);
  const uint64_t rss_after = vigil::bench::residentBytes();

  const double per_agent =
      rss_after > rss_before ? static_cast<double>(rss_after - rss_before) / static_cast<double>(n)
                             : 0;
  const bool memory_ok = per_agent <= kTargetBytesPerAgent;
  std::printf("vigil-directory-bench: %llu agents\n", static_cast<unsigned long long>(n));
  std::printf("  %-46s %8.0f B   (target <= %.0f) %s\n", "memory per agent (VmRSS growth)",
              per_agent, kTargetBytesPerAgent, memory_ok ? "ok" : "MISSED");
  std::printf("  %-46s %8.0f ns\n", "accept(), first heartbeat with new facts", accept_first_ns);
  std::printf("  %-46s %8.0f ns\n", "accept(), steady heartbeat", accept_steady_ns);
  std::printf("  %-46s %8.0f ns\n", "beacon timestamp recorded", beacon_ns);
  std::printf("  %-46s %8zu\n", "facts rewritten in the steady round", facts_rewritten);
  std::printf(
      "{\"agents\":%llu,\"bytes_per_agent\":%.0f,\"accept_first_ns\":%.0f,"
      "\"accept_steady_ns\":%.0f,\"beacon_ns\":%.0f,\"facts_rewritten\":%zu}\n",
      static_cast<unsigned long long>(n), per_agent, accept_first_ns, accept_steady_ns, beacon_ns,
      facts_rewritten);
  if (facts_rewritten != 0) {
    std::fprintf(stderr, "unchanged facts were marked for a write\n");
    return 1;
  }
  return memory_ok ? 0 : 1;
}
