// vigil-agent-footprint: what the real vigil-agent costs an endpoint.
//
// Runs a real vigil-collector and a real vigil-agent on loopback (tests/integration harness)
// and measures the agent process:
//   - memory after N heartbeats, from /proc/<pid>/smaps_rollup (Rss, Private_Clean +
//     Private_Dirty) and /proc/<pid>/smaps: private memory beyond shared libraries, that is
//     Private_* of the anonymous, [heap] and [stack] mappings;
//   - CPU per heartbeat: utime + stime of all threads (/proc/<pid>/stat) over N heartbeats at
//     a 1 s interval, divided by the heartbeats the collector accepted (its last_seq);
//   - wakeups while idle: a second agent against a collector that asks for the longest
//     interval (3600 s); context switches (voluntary + involuntary, summed over
//     /proc/<pid>/task/*/status) over an idle window, next to the timers the agent has armed
//     (threads blocked in a syscall with a timeout, timerfds, POSIX timers).
// Prints a table and one JSON line. Exit status: 0 targets met, 1 a target missed, 2 the
// benchmark could not run.
//
//   vigil-agent-footprint [--quick] [--heartbeats N] [--idle-seconds S]
//
// Targets: private memory beyond shared libraries <= 2 MiB; CPU <= 2 ms per heartbeat
// (--quick: 10 ms, for noisy CI; 10 heartbeats and a 10 s idle window).

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>

#include <chrono>
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "tests/integration/harness.h"
#include "tests/support/temp_dir.h"

namespace {

using namespace std::chrono_literals;
using vigil::testing::ChildProcess;
using vigil::testing::Collector;
using vigil::testing::eventually;
using vigil::testing::logTail;
using vigil::testing::readFile;
using vigil::testing::TempDir;
using Seconds = std::chrono::duration<double>;

constexpr uint64_t kTargetPrivateAnonBytes = 2u << 20;
constexpr double kTargetCpuMsPerHeartbeat = 2.0;
constexpr double kQuickTargetCpuMsPerHeartbeat = 10.0;
// Longest interval the agent accepts by default (max_interval_s).
constexpr int kIdleIntervalS = 3600;

struct Options {
  bool quick = false;
  int heartbeats = 60;
  int idle_seconds = 60;
};

bool parseOptions(int argc, char** argv, Options& o) {
  bool heartbeats_set = false;
  bool idle_set = false;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--quick") {
      o.quick = true;
    } else if (arg == "--heartbeats" && i + 1 < argc) {
      o.heartbeats = std::atoi(argv[++i]);
      heartbeats_set = true;
      if (o.heartbeats < 1 || o.heartbeats > 100'000) return false;
    } else if (arg == "--idle-seconds" && i + 1 < argc) {
      o.idle_seconds = std::atoi(argv[++i]);
      idle_set = true;
      if (o.idle_seconds < 1 || o.idle_seconds > 86'400) return false;
    } else {
      return false;
    }
  }
  if (o.quick && !heartbeats_set) o.heartbeats = 10;
  if (o.quick && !idle_set) o.idle_seconds = 10;
  return true;
}

std::string procPath(pid_t pid, const std::string& rest) {
  return "/proc/" + std::to_string(pid) + "/" + rest;
}

std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

// "Private_Dirty:        12 kB" -> 12288; nullopt if `line` is not `key`.
std::optional<uint64_t> kbField(const std::string& line, const std::string& key) {
  if (line.compare(0, key.size(), key) != 0 || line.size() <= key.size() ||
      line[key.size()] != ':') {
    return std::nullopt;
  }
  return std::strtoull(line.c_str() + key.size() + 1, nullptr, 10) * 1024;
}

std::vector<std::string> taskIds(pid_t pid) {
  std::vector<std::string> out;
  DIR* dir = ::opendir(procPath(pid, "task").c_str());
  if (dir == nullptr) return out;
  while (dirent* e = ::readdir(dir)) {
    if (e->d_name[0] != '.') out.push_back(e->d_name);
  }
  ::closedir(dir);
  return out;
}

// Time on CPU of the process's live threads in nanoseconds, from
// /proc/<pid>/task/*/schedstat: finer than the clock ticks of /proc/<pid>/stat, but blind to
// threads that have exited.
Seconds liveThreadsCpuTime(pid_t pid) {
  uint64_t ns = 0;
  for (const auto& tid : taskIds(pid)) {
    ns += std::strtoull(readFile(procPath(pid, "task/" + tid + "/schedstat")).c_str(), nullptr, 10);
  }
  return Seconds(static_cast<double>(ns) / 1e9);
}

struct Memory {
  uint64_t rss = 0;
  uint64_t private_total = 0;  // Private_Clean + Private_Dirty, every mapping
  uint64_t private_anon = 0;   // ... of anonymous, [heap] and [stack] mappings
  uint64_t private_file = 0;   // ... of file-backed mappings (relocated library data, ...)
  uint64_t vm_hwm = 0;         // peak RSS
};

Memory readMemory(pid_t pid) {
  Memory m;
  for (const auto& line : lines(readFile(procPath(pid, "smaps_rollup")))) {
    if (auto v = kbField(line, "Rss")) m.rss = *v;
    if (auto v = kbField(line, "Private_Clean")) m.private_total += *v;
    if (auto v = kbField(line, "Private_Dirty")) m.private_total += *v;
  }
  for (const auto& line : lines(readFile(procPath(pid, "status")))) {
    if (auto v = kbField(line, "VmHWM")) m.vm_hwm = *v;
  }
  // smaps: a header line per mapping ("start-end perms offset dev inode [path]"), then
  // "Key: value kB" lines.
  enum class Kind { kAnon, kFile, kOther } kind = Kind::kOther;
  for (const auto& line : lines(readFile(procPath(pid, "smaps")))) {
    if (line.empty()) continue;
    const bool header = line.find(':') == std::string::npos || line.find(' ') < line.find(':');
    if (header) {
      std::istringstream in(line);
      std::string range, perms, offset, dev, inode, path;
      in >> range >> perms >> offset >> dev >> inode;
      std::getline(in >> std::ws, path);
      if (path.empty() || path == "[heap]" || path == "[stack]" || path.rfind("[anon", 0) == 0) {
        kind = Kind::kAnon;
      } else if (path[0] == '/') {
        kind = Kind::kFile;
      } else {
        kind = Kind::kOther;  // [vdso], [vvar], [vsyscall]
      }
      continue;
    }
    uint64_t v = 0;
    if (auto c = kbField(line, "Private_Clean")) v = *c;
    if (auto d = kbField(line, "Private_Dirty")) v = *d;
    if (kind == Kind::kAnon) m.private_anon += v;
    if (kind == Kind::kFile) m.private_file += v;
  }
  return m;
}

// Voluntary + involuntary context switches of all the process's live threads.
uint64_t contextSwitches(pid_t pid) {
  uint64_t total = 0;
  for (const auto& tid : taskIds(pid)) {
    for (const auto& line : lines(readFile(procPath(pid, "task/" + tid + "/status")))) {
      for (const char* key : {"voluntary_ctxt_switches:", "nonvoluntary_ctxt_switches:"}) {
        if (line.rfind(key, 0) == 0)
          total += std::strtoull(line.c_str() + strlen(key), nullptr, 10);
      }
    }
  }
  return total;
}

// How a thread is blocked, from /proc/<pid>/task/<tid>/syscall: whether the syscall has a
// timeout (an armed timer) and when it fires, read from the process's memory.
struct ThreadWait {
  std::string tid;
  std::string comm;
  std::string what;               // "futex", "poll", ...; "running" or "?" if unknown
  bool timed = false;             // the wait ends by itself
  std::optional<double> timeout;  // its timeout in seconds, when readable
  bool absolute = false;          // `timeout` is what remains now, not what the call asked for
};

std::optional<timespec> readTimespec(pid_t pid, uint64_t address) {
  if (address == 0) return std::nullopt;
  const int fd = ::open(procPath(pid, "mem").c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  timespec ts{};
  const ssize_t n = ::pread(fd, &ts, sizeof ts, static_cast<off_t>(address));
  ::close(fd);
  if (n != static_cast<ssize_t>(sizeof ts)) return std::nullopt;
  return ts;
}

double toSeconds(const timespec& ts) {
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

double clockNow(clockid_t clock) {
  timespec ts{};
  clock_gettime(clock, &ts);
  return toSeconds(ts);
}

#if defined(__x86_64__)
enum Syscall : long {
  kPoll = 7,
  kSelect = 23,
  kNanosleep = 35,
  kRtSigtimedwait = 128,
  kFutex = 202,
  kEpollWait = 232,
  kClockNanosleep = 230,
  kPselect6 = 270,
  kPpoll = 271,
  kEpollPwait = 281,
};
#elif defined(__aarch64__)
enum Syscall : long {
  kPoll = -100,
  kSelect = -101,
  kNanosleep = 101,
  kRtSigtimedwait = 137,
  kFutex = 98,
  kEpollWait = -102,
  kClockNanosleep = 115,
  kPselect6 = 72,
  kPpoll = 73,
  kEpollPwait = 22,
};
#else
#define VIGIL_FOOTPRINT_NO_SYSCALLS
#endif

ThreadWait readThreadWait(pid_t pid, const std::string& tid) {
  ThreadWait w;
  w.tid = tid;
  std::string comm = readFile(procPath(pid, "task/" + tid + "/comm"));
  while (!comm.empty() && comm.back() == '\n') comm.pop_back();
  w.comm = comm;
  const std::string text = readFile(procPath(pid, "task/" + tid + "/syscall"));
  std::istringstream in(text);
  std::string first;
  in >> first;
  if (first.empty()) {
    w.what = "?";
    return w;
  }
  if (first == "running") {
    w.what = "running";
    return w;
  }
#ifdef VIGIL_FOOTPRINT_NO_SYSCALLS
  w.what = "syscall " + first;
  return w;
#else
  const long nr = std::strtol(first.c_str(), nullptr, 10);
  uint64_t a[6] = {};
  for (auto& arg : a) {
    std::string hex;
    in >> hex;
    arg = std::strtoull(hex.c_str(), nullptr, 16);
  }
  auto relative = [&](uint64_t address) {
    w.timed = address != 0;
    if (auto ts = readTimespec(pid, address)) w.timeout = toSeconds(*ts);
  };
  switch (nr) {
    case kFutex: {
      w.what = "futex";
      const uint64_t op = a[1] & 0x7f;  // without FUTEX_PRIVATE_FLAG, FUTEX_CLOCK_REALTIME
      if (op == 0 /* FUTEX_WAIT: relative */) {
        relative(a[3]);
      } else if (op == 9 /* FUTEX_WAIT_BITSET: absolute */) {
        w.timed = a[3] != 0;
        if (auto ts = readTimespec(pid, a[3])) {
          const clockid_t clock = (a[1] & 256) != 0 ? CLOCK_REALTIME : CLOCK_MONOTONIC;
          w.timeout = toSeconds(*ts) - clockNow(clock);
          w.absolute = true;
        }
      }
      break;
    }
    case kPoll:
    case kEpollWait:
    case kEpollPwait: {
      w.what = nr == kPoll ? "poll" : "epoll_wait";
      const auto ms = static_cast<int>(nr == kPoll ? a[2] : a[3]);
      w.timed = ms >= 0;
      if (ms >= 0) w.timeout = ms / 1000.0;
      break;
    }
    case kPpoll:
      w.what = "ppoll";
      relative(a[2]);
      break;
    case kRtSigtimedwait:
      w.what = "rt_sigtimedwait";
      relative(a[2]);
      break;
    case kNanosleep:
      w.what = "nanosleep";
      relative(a[0]);
      break;
    case kClockNanosleep:
      w.what = "clock_nanosleep";
      w.timed = true;
      if (auto ts = readTimespec(pid, a[2])) {
        const bool absolute = (a[1] & 1) != 0;  // TIMER_ABSTIME
        w.timeout =
            absolute ? toSeconds(*ts) - clockNow(static_cast<clockid_t>(a[0])) : toSeconds(*ts);
        w.absolute = absolute;
      }
      break;
    case kSelect:
    case kPselect6:
      w.what = "select";
      relative(a[4]);
      break;
    default:
      w.what = "syscall " + std::to_string(nr);
      break;
  }
  return w;
#endif
}

struct Timers {
  std::vector<ThreadWait> threads;
  int timed_waits = 0;
  int timerfds = 0;
  int posix_timers = 0;
  int total() const { return timed_waits + timerfds + posix_timers; }
};

Timers readTimers(pid_t pid) {
  Timers t;
  for (const auto& tid : taskIds(pid)) {
    t.threads.push_back(readThreadWait(pid, tid));
    if (t.threads.back().timed) ++t.timed_waits;
  }
  DIR* dir = ::opendir(procPath(pid, "fd").c_str());
  if (dir != nullptr) {
    while (dirent* e = ::readdir(dir)) {
      char target[256] = {};
      const std::string link = procPath(pid, std::string("fd/") + e->d_name);
      if (::readlink(link.c_str(), target, sizeof target - 1) > 0 &&
          std::string(target).find("timerfd") != std::string::npos) {
        ++t.timerfds;
      }
    }
    ::closedir(dir);
  }
  for (const auto& line : lines(readFile(procPath(pid, "timers")))) {
    if (line.rfind("ID:", 0) == 0) ++t.posix_timers;
  }
  return t;
}

// A UDP port that was free a moment ago, for the agent's peer witness (so that it neither
// collides with another agent on this machine nor needs the default port).
int freeUdpPort() {
  const int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  int port = 0;
  if (fd >= 0 && ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  if (fd >= 0) ::close(fd);
  return port;
}

// A real agent against `collector`, logging at info and with every channel on (as deployed),
// except that its LAN peer announcements go to loopback, never to the machine's networks.
class AgentProcess {
 public:
  AgentProcess(const TempDir& tmp, const std::string& name, const Collector& collector)
      : state_dir_(tmp.sub(name)), log_path_(tmp.sub(name + ".log")), collector_(collector) {
    std::ofstream(state_dir_ + ".conf") << "# footprint benchmark: settings on the command line\n";
    std::vector<std::string> args = {
        "--server",       "http://127.0.0.1:" + std::to_string(collector.port()),
        "--token",        collector.enrollToken(),
        "--state-dir",    state_dir_,
        "--log-level",    "info",
        "--min-interval", "1",
        "--config",       state_dir_ + ".conf",
        "--define",       "peer_broadcast=127.0.0.1",
    };
    if (const int port = freeUdpPort(); port > 0) {
      args.push_back("--define");
      args.push_back("peer_port=" + std::to_string(port));
    }
    process_ = std::make_unique<ChildProcess>(VIGIL_AGENT_BIN, args, log_path_);
  }
  pid_t pid() const { return process_->pid(); }
  bool running() { return process_->running(); }
  // The agent's highest heartbeat seq the collector accepted; 0 before the first.
  int64_t lastSeq() const {
    if (agent_id_.empty()) {
      const std::string identity = readFile(state_dir_ + "/identity.json");
      const std::string key = "\"agent_id\":\"";
      const size_t at = identity.find(key);
      if (at == std::string::npos) return 0;
      const size_t end = identity.find('"', at + key.size());
      if (end == std::string::npos) return 0;
      agent_id_ = identity.substr(at + key.size(), end - at - key.size());
    }
    try {
      auto agent = collector_.agent(agent_id_);
      return agent && !agent->isNull("last_seq") ? agent->getValue<int64_t>("last_seq") : 0;
    } catch (const std::exception&) {
      return 0;
    }
  }
  const std::string& logPath() const { return log_path_; }
  int stop() {
    process_->signal(SIGTERM);
    return process_->waitExit(10s).value_or(-1);
  }

 private:
  std::string state_dir_;
  std::string log_path_;
  const Collector& collector_;
  mutable std::string agent_id_;
  std::unique_ptr<ChildProcess> process_;
};

// Ends the run (exit status 2) through main, so that the processes and files are cleaned up.
[[noreturn]] void fail(const std::string& why, const std::string& log_path = "") {
  throw std::runtime_error(log_path.empty() ? why : why + "; log:\n" + logTail(log_path));
}

// Waits until the collector has accepted seq `seq` (or a higher one) from the agent.
void waitForSeq(AgentProcess& agent, int64_t seq, std::chrono::milliseconds timeout) {
  if (!eventually([&] { return !agent.running() || agent.lastSeq() >= seq; }, timeout) ||
      !agent.running()) {
    fail("the collector did not accept heartbeat seq " + std::to_string(seq), agent.logPath());
  }
}

double kib(uint64_t bytes) { return static_cast<double>(bytes) / 1024.0; }

// Measures, prints, and returns the exit status.
int runBenchmark(const Options& options) {
  const double cpu_target_ms =
      options.quick ? kQuickTargetCpuMsPerHeartbeat : kTargetCpuMsPerHeartbeat;
  TempDir tmp;

  // Phase 1: heartbeats every second.
  Memory memory;
  double cpu_ms = 0;          // from /proc/<pid>/stat: judged against the target
  double precise_cpu_ms = 0;  // from schedstat: reported
  size_t beats = 0;
  double busy_wall_s = 0;
  {
    Collector collector(tmp.sub("collector-busy"),
                        {{"heartbeat.intervalSeconds", "1"}, {"beacon.port", "0"}});
    collector.start();
    AgentProcess agent(tmp, "agent-busy", collector);
    // Enrolled, connected and past its first beats before measuring.
    waitForSeq(agent, 3, 30s);
    const int64_t seq0 = agent.lastSeq();
    const Seconds cpu0 = Seconds(vigil::testing::processCpuSeconds(agent.pid()));
    const Seconds precise0 = liveThreadsCpuTime(agent.pid());
    const auto t0 = std::chrono::steady_clock::now();
    waitForSeq(agent, seq0 + options.heartbeats, std::chrono::seconds(options.heartbeats * 2 + 30));
    const Seconds cpu1 = Seconds(vigil::testing::processCpuSeconds(agent.pid()));
    const Seconds precise1 = liveThreadsCpuTime(agent.pid());
    busy_wall_s = Seconds(std::chrono::steady_clock::now() - t0).count();
    // Each accepted heartbeat takes the next seq (blocks of 1,000 are reserved on disk, but
    // used one by one).
    beats = static_cast<size_t>(agent.lastSeq() - seq0);
    cpu_ms = (cpu1 - cpu0).count() * 1000.0 / static_cast<double>(beats);
    precise_cpu_ms = (precise1 - precise0).count() * 1000.0 / static_cast<double>(beats);
    memory = readMemory(agent.pid());
    if (agent.stop() != 0) fail("the agent did not stop cleanly", agent.logPath());
    collector.stop();
  }

  // Phase 2: idle, with the longest interval.
  uint64_t switches = 0;
  Timers timers;
  Memory idle_memory;
  {
    Collector collector(
        tmp.sub("collector-idle"),
        {{"heartbeat.intervalSeconds", std::to_string(kIdleIntervalS)}, {"beacon.port", "0"}});
    collector.start();
    AgentProcess agent(tmp, "agent-idle", collector);
    waitForSeq(agent, 1, 30s);
    // Idle from when every thread is blocked and the main one waits with a timeout.
    eventually(
        [&] {
          bool main_waits = false;
          for (const auto& w : readTimers(agent.pid()).threads) {
            if (w.what == "running") return false;
            if (w.tid == std::to_string(agent.pid())) main_waits = w.timed;
          }
          return main_waits;
        },
        5s);
    const uint64_t s0 = contextSwitches(agent.pid());
    eventually([&] { return !agent.running(); }, std::chrono::seconds(options.idle_seconds));
    if (!agent.running()) fail("the idle agent exited", agent.logPath());
    switches = contextSwitches(agent.pid()) - s0;
    timers = readTimers(agent.pid());
    idle_memory = readMemory(agent.pid());
    if (agent.stop() != 0) fail("the agent did not stop cleanly", agent.logPath());
    collector.stop();
  }
  const double wakeups_per_min = static_cast<double>(switches) * 60.0 / options.idle_seconds;

  const bool memory_ok = memory.private_anon <= kTargetPrivateAnonBytes;
  const bool cpu_ok = cpu_ms <= cpu_target_ms;

  std::printf("vigil-agent footprint (%s: %d heartbeats at 1 s, %d s idle at %d s interval)\n",
              options.quick ? "quick" : "full", options.heartbeats, options.idle_seconds,
              kIdleIntervalS);
  std::printf("  %-44s %10s %12s\n", "measure", "value", "target");
  std::printf("  %-44s %8.0f KiB\n", "RSS after heartbeats", kib(memory.rss));
  std::printf("  %-44s %8.0f KiB\n", "peak RSS (VmHWM)", kib(memory.vm_hwm));
  std::printf("  %-44s %8.0f KiB\n", "private (Private_Clean + Private_Dirty)",
              kib(memory.private_total));
  std::printf("  %-44s %8.0f KiB %9s %s\n", "private beyond shared libraries (anon)",
              kib(memory.private_anon), "<= 2048", memory_ok ? "ok" : "MISSED");
  std::printf("  %-44s %8.0f KiB\n", "private file-backed (library data)",
              kib(memory.private_file));
  std::printf("  %-44s %8.0f KiB\n", "private anon while idle", kib(idle_memory.private_anon));
  std::printf("  %-44s %8.3f ms %8.1f ms %s\n", "CPU per heartbeat", cpu_ms, cpu_target_ms,
              cpu_ok ? "ok" : "MISSED");
  std::printf("  %-44s %8.3f ms\n", "CPU per heartbeat (schedstat, live threads)", precise_cpu_ms);
  std::printf("  %-44s %8zu in %.1f s\n", "heartbeats measured", beats, busy_wall_s);
  std::printf("  %-44s %8.1f /min (%" PRIu64 " in %d s)\n", "wakeups while idle (context switches)",
              wakeups_per_min, switches, options.idle_seconds);
  std::printf("  %-44s %8d (%d timed waits, %d timerfds, %d POSIX timers)\n",
              "timers armed while idle", timers.total(), timers.timed_waits, timers.timerfds,
              timers.posix_timers);
  for (const auto& w : timers.threads) {
    std::printf("    thread %-8s %-16s %-16s %s", w.tid.c_str(), w.comm.c_str(), w.what.c_str(),
                w.timed ? "timed" : "untimed");
    if (w.timeout) {
      std::printf(w.absolute ? ", fires in %.1f s" : ", timeout %.1f s", *w.timeout);
    }
    std::printf("\n");
  }
  std::printf("{\"bench\":\"agent_footprint\",\"mode\":\"%s\",\"heartbeats\":%zu,",
              options.quick ? "quick" : "full", beats);
  std::printf("\"cpu_ms_per_heartbeat\":%.3f,\"cpu_ms_per_heartbeat_schedstat\":%.3f,", cpu_ms,
              precise_cpu_ms);
  std::printf("\"rss_kib\":%.0f,\"vm_hwm_kib\":%.0f,\"private_kib\":%.0f,", kib(memory.rss),
              kib(memory.vm_hwm), kib(memory.private_total));
  std::printf("\"private_anon_kib\":%.0f,\"private_file_kib\":%.0f,\"idle_private_anon_kib\":%.0f,",
              kib(memory.private_anon), kib(memory.private_file), kib(idle_memory.private_anon));
  std::printf("\"idle_seconds\":%d,\"idle_interval_s\":%d,\"wakeups_per_min\":%.1f,",
              options.idle_seconds, kIdleIntervalS, wakeups_per_min);
  std::printf("\"timers_armed\":%d,\"threads\":%zu,\"target_private_anon_kib\":2048,",
              timers.total(), timers.threads.size());
  std::printf("\"target_cpu_ms\":%.1f,\"targets_met\":%s}\n", cpu_target_ms,
              memory_ok && cpu_ok ? "true" : "false");
  return memory_ok && cpu_ok ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  Options options;
  if (!parseOptions(argc, argv, options)) {
    std::fputs("usage: vigil-agent-footprint [--quick] [--heartbeats N] [--idle-seconds S]\n",
               stderr);
    return 2;
  }
  try {
    return runBenchmark(options);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "vigil-agent-footprint: %s\n", e.what());
    return 2;
  }
}
