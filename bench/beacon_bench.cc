// vigil-beacon-bench: verified UDP beacons per second per core of the collector's beacon path.
//
// A real BeaconListener on loopback over a BeaconService whose directory knows --agents agents
// and whose evidence goes to a real PresenceMonitor (the engine lock included). One sender
// thread blasts pre-encoded signed beacons with sendmmsg from one socket (--rounds beacons per
// agent, each newer than the agent's previous one); another thread reads the acks on that
// socket and checks every one: it parses, verifies with the agent's secret, and echoes one of
// the agent's beacons, later than the previous ack's. At most --window beacons are unanswered
// at a time, so none is lost to a full socket buffer (the listener asks for 4 MiB, which the
// default window of 2048 needs; --quick uses 128) and every beacon must be verified.
//
// Reports the wall-clock rate and, the figure that does not depend on what else the machine
// runs, verified beacons per CPU second of the listener's thread (from
// /proc/self/task/TID/schedstat); and the heap allocations the listener's thread made per
// beacon once every agent had one beacon accepted (a counting malloc, so OpenSSL's count too).
// Prints a table and one JSON line. Exits non-zero if a beacon was not verified, an ack was
// missing or wrong, or any beacon was dropped; timing is reported, never asserted.
//
//   vigil-beacon-bench [--agents N] [--rounds R] [--window W] [--quick]

#include <Poco/Logger.h>
#include <Poco/Message.h>
#include <Poco/Net/DatagramSocket.h>
#include <Poco/Net/SocketAddress.h>
#include <dirent.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "collector/ingest/agent_directory.h"
#include "collector/ingest/beacon_service.h"
#include "collector/listener/beacon_listener.h"
#include "collector/monitor/presence_monitor.h"
#include "common/clock.h"
#include "common/datagram.h"

// ---- Heap allocations of one thread (the listener's) -------------------------------------------
// malloc itself is counted, so the allocations of C++ (operator new calls malloc) and of the C
// libraries (OpenSSL's) alike; glibc's own entry points do the work. Not under the sanitizers,
// whose runtimes own malloc (the build then defines VIGIL_BENCH_NO_MALLOC_COUNT).

namespace {

std::atomic<pid_t> g_counted_thread{0};
std::atomic<uint64_t> g_counted_allocations{0};

}  // namespace

#ifndef VIGIL_BENCH_NO_MALLOC_COUNT
constexpr bool kCountsAllocations = true;

extern "C" {
void* __libc_malloc(size_t size);                // NOLINT(bugprone-reserved-identifier): glibc's
void* __libc_calloc(size_t count, size_t size);  // NOLINT(bugprone-reserved-identifier)
void* __libc_realloc(void* p, size_t size);      // NOLINT(bugprone-reserved-identifier)
}

namespace {

void countAllocation() {
  const pid_t counted = g_counted_thread.load(std::memory_order_relaxed);
  if (counted == 0) return;
  thread_local const pid_t self = static_cast<pid_t>(::gettid());
  if (self == counted) g_counted_allocations.fetch_add(1, std::memory_order_relaxed);
}

}  // namespace

extern "C" {
void* malloc(size_t size) {
  countAllocation();
  return __libc_malloc(size);
}
void* calloc(size_t count, size_t size) {
  countAllocation();
  return __libc_calloc(count, size);
}
void* realloc(void* p, size_t size) {
  countAllocation();
  return __libc_realloc(p, size);
}
}
#else
constexpr bool kCountsAllocations = false;
#endif

namespace {

using namespace std::chrono_literals;
using vigil::collector::AgentDirectory;
using vigil::collector::AgentRecord;
using vigil::collector::BeaconConfig;
using vigil::collector::BeaconCounters;
using vigil::collector::BeaconListener;
using vigil::collector::BeaconService;
using vigil::collector::PresenceMonitor;
namespace datagram = vigil::datagram;
namespace presence = vigil::collector::presence;
using WallClock = std::chrono::steady_clock;

constexpr size_t kBatch = 64;  // datagrams per sendmmsg / recvmmsg of the bench's own socket
constexpr int kSocketBufferBytes = 4 << 20;
// What default socket buffers hold (net.core.rmem_max 212,992 bytes: about 300 small datagrams),
// so the quick run loses nothing on any machine; the default window needs rmem_max of 4 MiB.
constexpr uint32_t kQuickWindow = 128;
// The sender gives up when no ack came for this long: a datagram was lost.
constexpr auto kStallTimeout = 5s;

struct Options {
  uint32_t agents = 10'000;
  uint32_t rounds = 30;
  uint32_t window = 2048;
};

bool parseOptions(int argc, char** argv, Options& options) {
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto number = [&](uint32_t max) -> std::optional<uint32_t> {
      if (i + 1 >= argc) return std::nullopt;
      const long long n = std::atoll(argv[++i]);
      if (n <= 0 || n > max) return std::nullopt;
      return static_cast<uint32_t>(n);
    };
    std::optional<uint32_t> value;
    if (arg == "--quick") {
      options.agents = 1'000;
      options.rounds = 5;
      options.window = kQuickWindow;
      continue;
    }
    if (arg == "--agents") {
      value = number(10'000'000);
      if (value) options.agents = *value;
    } else if (arg == "--rounds") {
      value = number(100'000);
      if (value) options.rounds = *value;
    } else if (arg == "--window") {
      value = number(1'000'000);
      if (value && *value < kBatch) value.reset();
      if (value) options.window = *value;
    }
    if (!value) return false;
  }
  return true;
}

std::string agentId(uint32_t index) {
  char id[32];
  std::snprintf(id, sizeof id, "ag_%08u", index);
  return id;
}

std::string secretOf(uint32_t index) {
  char secret[65];
  std::snprintf(secret, sizeof secret, "%064x", index * 2654435761U + 17U);
  return secret;
}

// The agent index of an id agentId() made; nullopt for anything else.
std::optional<uint32_t> agentIndex(const std::string& id, uint32_t agents) {
  if (id.size() != 11 || id.compare(0, 3, "ag_") != 0) return std::nullopt;
  const long long n = std::atoll(id.c_str() + 3);
  if (n < 0 || n >= agents) return std::nullopt;
  return static_cast<uint32_t>(n);
}

std::set<pid_t> threadIds() {
  std::set<pid_t> ids;
  DIR* dir = ::opendir("/proc/self/task");
  if (dir == nullptr) return ids;
  while (const dirent* entry = ::readdir(dir)) {
    const long n = std::atol(entry->d_name);
    if (n > 0) ids.insert(static_cast<pid_t>(n));
  }
  ::closedir(dir);
  return ids;
}

// Nanoseconds the thread ran on a CPU (the first field of its schedstat).
double threadCpuSeconds(pid_t tid) {
  std::ifstream in("/proc/self/task/" + std::to_string(tid) + "/schedstat");
  uint64_t run_ns = 0;
  in >> run_ns;
  return static_cast<double>(run_ns) / 1e9;
}

// The sender's and the ack reader's shared progress.
struct Progress {
  std::atomic<uint64_t> acked{0};
  std::atomic<uint64_t> bad_acks{0};  // did not parse, verify, or echo the expected timestamp
  std::atomic<bool> stalled{false};
  std::atomic<bool> done{false};
  std::mutex mu;
  std::condition_variable acks_arrived;
};

// Reads acks until `expected` arrived or the sender gave up; checks each.
void readAcks(int fd, uint32_t agents, uint32_t rounds, int64_t base_ms, uint64_t expected,
              const std::vector<std::string>& secrets, Progress& progress) {
  std::vector<uint32_t> next_round(agents, 0);
  std::array<std::array<char, datagram::kMaxDatagramBytes>, kBatch> buffers{};
  std::array<iovec, kBatch> iovs{};
  std::array<mmsghdr, kBatch> msgs{};
  for (size_t i = 0; i < kBatch; ++i) {
    iovs[i] = {buffers[i].data(), buffers[i].size()};
    msgs[i].msg_hdr.msg_iov = &iovs[i];
    msgs[i].msg_hdr.msg_iovlen = 1;
  }
  timeval poll_period{0, 100'000};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &poll_period, sizeof poll_period);
  uint64_t received = 0;
  auto last_ack = WallClock::now();
  while (received < expected && !progress.stalled) {
    const int n = ::recvmmsg(fd, msgs.data(), kBatch, MSG_WAITFORONE, nullptr);
    if (n <= 0) {
      if (WallClock::now() - last_ack > kStallTimeout) progress.stalled = true;
      continue;
    }
    last_ack = WallClock::now();
    for (int i = 0; i < n; ++i) {
      const std::string bytes(buffers[i].data(), msgs[i].msg_len);
      auto ack = datagram::parseBeaconAck(bytes);
      std::optional<uint32_t> index = ack ? agentIndex(ack->agent_id, agents) : std::nullopt;
      // An agent's acks come in the order of its beacons, each for a beacon it sent.
      if (!index || !datagram::verify(*ack, secrets[*index]) ||
          ack->ts_ms < base_ms + next_round[*index] || ack->ts_ms >= base_ms + rounds) {
        ++progress.bad_acks;
        continue;
      }
      next_round[*index] = static_cast<uint32_t>(ack->ts_ms - base_ms + 1);
    }
    received += static_cast<uint64_t>(n);
    {
      // Under the lock, so a sender between its check and its wait does not miss the wakeup.
      std::lock_guard<std::mutex> lock(progress.mu);
      progress.acked += static_cast<uint64_t>(n);
    }
    progress.acks_arrived.notify_one();
  }
  {
    std::lock_guard<std::mutex> lock(progress.mu);
    progress.done = true;
  }
  progress.acks_arrived.notify_one();
}

// Sends every beacon (`stride` bytes apart in `beacons`, `sizes` long), keeping at most
// `window` unanswered.
void sendBeacons(int fd, const std::vector<char>& beacons, size_t stride,
                 const std::vector<uint16_t>& sizes, uint32_t window, Progress& progress) {
  const uint64_t total = sizes.size();
  std::array<iovec, kBatch> iovs{};
  std::array<mmsghdr, kBatch> msgs{};
  uint64_t sent = 0;
  while (sent < total) {
    uint64_t room = 0;
    {
      std::unique_lock<std::mutex> lock(progress.mu);
      const bool answered = progress.acks_arrived.wait_for(lock, kStallTimeout, [&] {
        return sent - progress.acked.load() + kBatch <= window || progress.done;
      });
      if (!answered || progress.done) {
        progress.stalled = true;
        return;
      }
      room = window - (sent - progress.acked.load());
    }
    const size_t count = static_cast<size_t>(std::min<uint64_t>({kBatch, room, total - sent}));
    for (size_t i = 0; i < count; ++i) {
      const uint64_t b = sent + i;
      iovs[i] = {const_cast<char*>(beacons.data() + b * stride), sizes[b]};
      msgs[i].msg_hdr = msghdr{};
      msgs[i].msg_hdr.msg_iov = &iovs[i];
      msgs[i].msg_hdr.msg_iovlen = 1;
    }
    const int n = ::sendmmsg(fd, msgs.data(), static_cast<unsigned>(count), 0);
    if (n > 0) sent += static_cast<uint64_t>(n);
  }
}

}  // namespace

int main(int argc, char** argv) {
  Options options;
  if (!parseOptions(argc, argv, options)) {
    std::fprintf(stderr,
                 "usage: vigil-beacon-bench [--agents N] [--rounds R] [--window W] "
                 "[--quick]\n");
    return 2;
  }
  Poco::Logger& logger = Poco::Logger::get("vigil.bench.beacon");
  logger.setLevel(Poco::Message::PRIO_WARNING);

  // The fleet: known to the directory and tracked by the engine.
  vigil::RealClock& clock = vigil::RealClock::instance();
  AgentDirectory directory;
  presence::PresenceConfig presence_config;
  PresenceMonitor monitor(presence_config, clock);
  std::vector<std::string> secrets(options.agents);
  for (uint32_t i = 0; i < options.agents; ++i) {
    AgentRecord agent;
    agent.id = agentId(i);
    agent.site_id = 1;
    agent.tenant_id = 1;
    agent.secret = secretOf(i);
    secrets[i] = agent.secret;
    directory.add(agent);
    monitor.agentEnrolled(agent);
  }
  BeaconService service(directory, clock, BeaconConfig{}, &monitor);

  // Every beacon, pre-encoded: round r carries ts = base + r for every agent.
  const int64_t base_ms = vigil::toUnixMillis(clock.wallNow());
  const uint64_t total = uint64_t{options.agents} * options.rounds;
  constexpr size_t kStride = 128;
  std::vector<char> beacons(total * kStride);
  std::vector<uint16_t> sizes(total);
  for (uint32_t r = 0; r < options.rounds; ++r) {
    for (uint32_t i = 0; i < options.agents; ++i) {
      const uint64_t b = uint64_t{r} * options.agents + i;
      const std::string bytes = datagram::encodeBeacon(agentId(i), base_ms + r, secrets[i]);
      if (bytes.empty() || bytes.size() > kStride) {
        std::fprintf(stderr, "cannot encode a beacon\n");
        return 1;
      }
      bytes.copy(beacons.data() + b * kStride, bytes.size());
      sizes[b] = static_cast<uint16_t>(bytes.size());
    }
  }

  BeaconListener listener(service, logger);
  if (vigil::Status s = listener.bind("127.0.0.1", 0); !s.ok()) {
    std::fprintf(stderr, "%s\n", s.message().c_str());
    return 1;
  }
  const std::set<pid_t> before = threadIds();
  listener.start();
  std::optional<pid_t> listener_tid;
  for (int attempt = 0; attempt < 1000 && !listener_tid; ++attempt) {
    for (pid_t tid : threadIds()) {
      if (before.count(tid) == 0) listener_tid = tid;
    }
    if (!listener_tid) std::this_thread::sleep_for(1ms);
  }
  if (!listener_tid) {
    std::fprintf(stderr, "cannot find the listener's thread\n");
    return 1;
  }

  // The agents' side: one socket, connected to the listener.
  Poco::Net::DatagramSocket agents_socket(Poco::Net::SocketAddress("127.0.0.1", 0));
  agents_socket.setReceiveBufferSize(kSocketBufferBytes);
  agents_socket.connect(Poco::Net::SocketAddress("127.0.0.1", listener.port()));
  const int agents_fd = agents_socket.impl()->sockfd();

  Progress progress;
  const double cpu_before = threadCpuSeconds(*listener_tid);
  const auto started = WallClock::now();
  std::thread ack_reader([&] {
    readAcks(agents_fd, options.agents, options.rounds, base_ms, total, secrets, progress);
  });
  // Allocations are counted once every agent had its first beacon accepted (that one adds the
  // agent to the replay map).
  std::thread allocation_window([&] {
    while (progress.acked < options.agents && !progress.done) std::this_thread::sleep_for(1ms);
    g_counted_thread = *listener_tid;
  });
  sendBeacons(agents_fd, beacons, kStride, sizes, options.window, progress);
  ack_reader.join();
  allocation_window.join();
  const double wall_s = std::chrono::duration<double>(WallClock::now() - started).count();
  const double cpu_s = threadCpuSeconds(*listener_tid) - cpu_before;
  g_counted_thread = 0;
  const uint64_t counted_beacons = total - std::min<uint64_t>(total, options.agents);
  listener.stop();

  const BeaconCounters counters = service.counters();
  uint64_t dropped = 0;
  for (uint64_t d : counters.dropped) dropped += d;
  const uint64_t acked = progress.acked.load();
  const uint64_t bad = progress.bad_acks.load();
  const double per_cpu_s = cpu_s > 0 ? static_cast<double>(counters.accepted) / cpu_s : 0;
  const double per_wall_s = wall_s > 0 ? static_cast<double>(counters.accepted) / wall_s : 0;
  const double cpu_us_per_beacon =
      counters.accepted > 0 ? cpu_s * 1e6 / static_cast<double>(counters.accepted) : 0;
  double allocations_per_beacon = -1;  // not counted (a sanitizer build)
  if (kCountsAllocations && counted_beacons > 0) {
    allocations_per_beacon =
        static_cast<double>(g_counted_allocations.load()) / static_cast<double>(counted_beacons);
  }

  std::printf("agents %u, rounds %u, window %u: %llu beacons sent\n", options.agents,
              options.rounds, options.window, static_cast<unsigned long long>(total));
  std::printf("  verified %llu, dropped %llu, acks %llu (bad %llu)%s\n",
              static_cast<unsigned long long>(counters.accepted),
              static_cast<unsigned long long>(dropped), static_cast<unsigned long long>(acked),
              static_cast<unsigned long long>(bad), progress.stalled ? ", STALLED" : "");
  std::printf("  wall %.3f s: %.0f verified beacons/s\n", wall_s, per_wall_s);
  std::printf("  listener thread CPU %.3f s: %.0f verified beacons per CPU second, %.2f us each\n",
              cpu_s, per_cpu_s, cpu_us_per_beacon);
  std::printf("  listener heap allocations per beacon (after each agent's first): %.4f\n",
              allocations_per_beacon);
  std::printf(
      "{\"agents\":%u,\"rounds\":%u,\"sent\":%llu,\"verified\":%llu,\"dropped\":%llu,"
      "\"acks\":%llu,\"bad_acks\":%llu,\"wall_s\":%.3f,\"listener_cpu_s\":%.3f,"
      "\"verified_per_s\":%.0f,\"verified_per_cpu_s\":%.0f,\"allocations_per_beacon\":%.4f}\n",
      options.agents, options.rounds, static_cast<unsigned long long>(total),
      static_cast<unsigned long long>(counters.accepted), static_cast<unsigned long long>(dropped),
      static_cast<unsigned long long>(acked), static_cast<unsigned long long>(bad), wall_s, cpu_s,
      per_wall_s, per_cpu_s, allocations_per_beacon);

  const bool correct =
      !progress.stalled && counters.accepted == total && dropped == 0 && acked == total && bad == 0;
  if (!correct) {
    std::fprintf(stderr, "FAILED: every beacon must be verified and acked once%s\n",
                 progress.stalled ? " (stalled: datagrams lost? a --window larger than the socket "
                                    "buffers hold, see net.core.rmem_max)"
                                  : "");
  }
  return correct ? 0 : 1;
}
