// vigil-bench-heartbeat-corpus: pre-signed heartbeat requests for a replay client
// (wrk with bench/wrk_heartbeat.lua, run by scripts/bench-ingest.sh).
//
//   vigil-bench-heartbeat-corpus --port P --data-dir DIR --agents-file FILE --out FILE
//                                [--agents K] [--requests N] [--first-seq S]
//
// Agents: when --agents-file exists its agents are used (one "id secret peer_key_id" line
// each); otherwise K agents (default 5,000) are enrolled through the collector on 127.0.0.1:P
// with the enrollment token in DIR/enroll-token, and written to it.
//
// The corpus: N requests (default 100,000), round-robin over the agents: request i is agent
// (i mod K)'s heartbeat with seq S + i / K (S defaults to 1). An agent's next heartbeat is K
// requests later, so with fewer than K requests in flight it never overtakes its previous
// one. A later corpus for the same agents must start at a seq above the last one used
// (S + ceil(N / K)). Each request is a complete HTTP/1.1 keep-alive request as the agent sends
// it (headers, signature, a body like the agent's: facts, network self-check, ~450 bytes),
// timestamped at the time of writing: the collector accepts it within
// protocol.maxClockSkewSeconds (300 s by default).
//
// File format, per request: its length in bytes, in decimal, on one line; then the bytes.
//
// Prints one line: requests, agents, mean body and request sizes. Exit status: 0 written,
// 2 it could not (collector unreachable, enrollment refused, file not writable).

#include <atomic>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "bench/bench_options.h"
#include "common/clock.h"
#include "common/protocol.h"
#include "tests/integration/harness.h"
#include "tests/integration/synthetic_agent.h"

namespace {

using namespace vigil;

struct Options {
  int port = 0;
  std::string data_dir;
  std::string agents_file;
  std::string out;
  int agents = 5000;
  int64_t requests = 100'000;
  int64_t first_seq = 1;
};

Options parse(int argc, char** argv) {
  bench::BenchOptions args(argc, argv, "vigil-bench-heartbeat-corpus",
                           "--port P --data-dir DIR --agents-file FILE --out FILE [--agents K] "
                           "[--requests N] [--first-seq S]");
  Options o;
  while (args.next()) {
    if (args.is("--port")) {
      o.port = static_cast<int>(args.integer());
    } else if (args.is("--data-dir")) {
      o.data_dir = args.text();
    } else if (args.is("--agents-file")) {
      o.agents_file = args.text();
    } else if (args.is("--out")) {
      o.out = args.text();
    } else if (args.is("--agents")) {
      o.agents = static_cast<int>(args.integer());
    } else if (args.is("--requests")) {
      o.requests = args.integer();
    } else if (args.is("--first-seq")) {
      o.first_seq = args.integer();
    } else {
      args.unknown();
    }
  }
  if (o.port <= 0 || o.data_dir.empty() || o.agents_file.empty() || o.out.empty()) {
    args.fail("--port, --data-dir, --agents-file and --out are required");
  }
  if (o.agents < 1 || o.requests < 1 || o.first_seq < 1) {
    args.fail("--agents, --requests and --first-seq must be positive");
  }
  return o;
}

// What the corpus needs of an enrolled agent.
struct BenchAgent {
  std::string id;
  std::string secret;
  std::string peer_key_id;  // "-" in the file when the collector offered none
};

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  return s;
}

std::vector<BenchAgent> readAgents(const std::string& path) {
  std::vector<BenchAgent> agents;
  std::ifstream in(path);
  BenchAgent a;
  while (in >> a.id >> a.secret >> a.peer_key_id) agents.push_back(a);
  return agents;
}

// Enrolls `count` agents from a few connections at once; empty with a message on stderr when
// any enrollment is refused.
std::vector<BenchAgent> enrollAgents(const Options& o) {
  const std::string token = trim(testing::readFile(o.data_dir + "/enroll-token"));
  if (token.empty()) {
    std::fprintf(stderr, "vigil-bench-heartbeat-corpus: no enroll-token in %s\n",
                 o.data_dir.c_str());
    return {};
  }
  std::vector<BenchAgent> agents(static_cast<size_t>(o.agents));
  std::atomic<int> next{0};
  std::atomic<int> failed{0};
  std::mutex failure_mu;
  std::string first_failure;
  constexpr int kEnrollingConnections = 4;
  std::vector<std::thread> enrollers;
  enrollers.reserve(kEnrollingConnections);
  for (int t = 0; t < kEnrollingConnections; ++t) {
    enrollers.emplace_back([&] {
      auto session = testing::SyntheticAgent::makeSession(o.port);
      for (int i = next++; i < o.agents; i = next++) {
        testing::SyntheticAgent agent(session);
        testing::SyntheticAnswer answer;
        // Enrollment writes through to the store: many at once are shed; come back soon.
        for (int attempt = 0; attempt < 200; ++attempt) {
          answer = agent.enroll(token, "bench-" + std::to_string(i) + ".corp.example");
          if (answer.status != 503 && answer.status != 429) break;
          std::this_thread::sleep_for(std::chrono::milliseconds(50));
        }
        auto decoded = protocol::decodeEnrollResponse(answer.body);
        if (answer.status != 201 || !decoded.ok()) {
          std::lock_guard<std::mutex> lock(failure_mu);
          if (failed++ == 0) {
            first_failure =
                std::to_string(answer.status) + " " + answer.body + answer.transport_error;
          }
          continue;
        }
        BenchAgent& a = agents[static_cast<size_t>(i)];
        a.id = decoded->agent_id;
        a.secret = decoded->secret;
        a.peer_key_id = decoded->channels.peer_key_id.value_or("-");
      }
    });
  }
  for (auto& e : enrollers) e.join();
  if (failed > 0) {
    std::fprintf(stderr, "vigil-bench-heartbeat-corpus: %d enrollments failed, first: %s\n",
                 failed.load(), first_failure.c_str());
    return {};
  }
  return agents;
}

bool writeAgents(const std::string& path, const std::vector<BenchAgent>& agents) {
  std::ofstream out(path, std::ios::trunc);
  for (const BenchAgent& a : agents) out << a.id << ' ' << a.secret << ' ' << a.peer_key_id << '\n';
  return static_cast<bool>(out.flush());
}

// The heartbeat a Linux agent sends on a steady 60 s interval (agent/core/heartbeat_sender.cc:
// facts on every beat, the network self-check, no outages).
protocol::Heartbeat agentLikeHeartbeat(const BenchAgent& agent, size_t index, uint64_t seq,
                                       int64_t now_ms) {
  protocol::Heartbeat beat;
  beat.agent_id = agent.id;
  beat.seq = seq;
  beat.boot_id = "5f1c2d3e-4b5a-4c6d-8e7f-" + std::to_string(100'000'000'000 + index);
  beat.uptime_s = 86'400 + index;
  beat.agent_version = "0.1.0";
  beat.sent_at_ms = now_ms;
  beat.interval_s = 60;
  beat.hostname = "bench-" + std::to_string(index) + ".corp.example";
  beat.os_name = "linux";
  beat.os_version = "Debian GNU/Linux 12 (bookworm)";
  beat.config_hash = "3f9a0c1d2e4b5a69";
  protocol::NetworkSelfCheck net;
  net.default_route = true;
  net.addresses = {"10." + std::to_string(index / 65536 % 256) + "." +
                       std::to_string(index / 256 % 256) + "." + std::to_string(index % 256),
                   "fd00:5:6::" + std::to_string(index % 10000)};
  beat.net = std::move(net);
  if (agent.peer_key_id != "-") beat.peer_key_id = agent.peer_key_id;
  return beat;
}

}  // namespace

int main(int argc, char** argv) {
  const Options o = parse(argc, argv);
  std::vector<BenchAgent> agents = readAgents(o.agents_file);
  if (agents.empty()) {
    agents = enrollAgents(o);
    if (agents.empty()) return 2;
    if (!writeAgents(o.agents_file, agents)) {
      std::fprintf(stderr, "vigil-bench-heartbeat-corpus: cannot write %s\n",
                   o.agents_file.c_str());
      return 2;
    }
  }

  std::unique_ptr<FILE, int (*)(FILE*)> out(std::fopen(o.out.c_str(), "wb"), &std::fclose);
  if (!out) {
    std::fprintf(stderr, "vigil-bench-heartbeat-corpus: cannot write %s\n", o.out.c_str());
    return 2;
  }
  std::setvbuf(out.get(), nullptr, _IOFBF, size_t{1} << 20);
  const auto requests = static_cast<uint64_t>(o.requests);
  const auto first_seq = static_cast<uint64_t>(o.first_seq);
  uint64_t body_bytes = 0;
  uint64_t request_bytes = 0;
  std::string request;
  for (uint64_t i = 0; i < requests; ++i) {
    const size_t index = static_cast<size_t>(i % agents.size());
    const BenchAgent& agent = agents[index];
    const int64_t now_ms = toUnixMillis(RealClock::instance().wallNow());
    const std::string body =
        protocol::encode(agentLikeHeartbeat(agent, index, first_seq + i / agents.size(), now_ms));
    auto signature = protocol::sign(agent.secret, "POST", protocol::kHeartbeatPath, now_ms, body);
    if (!signature.ok()) {
      std::fprintf(stderr, "vigil-bench-heartbeat-corpus: cannot sign: %s\n",
                   signature.error().message().c_str());
      return 2;
    }
    request.clear();
    request.append("POST ").append(protocol::kHeartbeatPath).append(" HTTP/1.1\r\n");
    request.append("Host: 127.0.0.1\r\nUser-Agent: vigil-agent/0.1.0\r\n");
    request.append("Accept: application/json\r\nContent-Type: ")
        .append(protocol::kContentType)
        .append("\r\n");
    request.append("Content-Length: ").append(std::to_string(body.size())).append("\r\n");
    request.append(protocol::kHeaderAgentId).append(": ").append(agent.id).append("\r\n");
    request.append(protocol::kHeaderTimestamp)
        .append(": ")
        .append(std::to_string(now_ms))
        .append("\r\n");
    request.append(protocol::kHeaderSignature)
        .append(": ")
        .append(signature.value())
        .append("\r\n\r\n");
    request.append(body);
    std::fprintf(out.get(), "%zu\n", request.size());
    std::fwrite(request.data(), 1, request.size(), out.get());
    body_bytes += body.size();
    request_bytes += request.size();
  }
  if (std::fflush(out.get()) != 0 || std::ferror(out.get())) {
    std::fprintf(stderr, "vigil-bench-heartbeat-corpus: cannot write %s\n", o.out.c_str());
    return 2;
  }
  std::printf("corpus: %" PRIu64 " requests over %zu agents (seq %" PRIu64 "..%" PRIu64
              "), body %" PRIu64 " B, request %" PRIu64 " B on average\n",
              requests, agents.size(), first_seq, first_seq + (requests - 1) / agents.size(),
              body_bytes / requests, request_bytes / requests);
  return 0;
}
