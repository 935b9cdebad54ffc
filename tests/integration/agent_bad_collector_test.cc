#define BOOST_TEST_MODULE integration_agent_bad_collector
// The real vigil-agent against a collector that misbehaves: garbage, a huge body, unexpected
// statuses, a slow drip, Retry-After, silence, a closed connection, a wrong TLS certificate.
// For each, the agent must stay alive, stay cheap (no spinning), back off as the protocol says
// (capped full-jitter from 1 s, or Retry-After), log one clear line per condition without
// flooding, and send a valid, signed heartbeat, with the outage in its diary, as soon as the
// collector behaves again.
//
// Every scenario has its own FakeCollector and agent, and all run at once: a request that
// hangs costs the agent its 30 s transport timeout, and run one after the other the scenarios
// would take minutes.

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <boost/test/unit_test.hpp>
#include <cmath>
#include <fstream>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "common/protocol.h"
#include "tests/integration/fake_collector.h"
#include "tests/integration/harness.h"

using namespace vigil::testing;
using namespace std::chrono_literals;
namespace protocol = vigil::protocol;
using Seconds = std::chrono::duration<double>;

namespace {

// Time the agent gives one request before it gives up (CurlClientOptions: 30 s total).
constexpr Seconds kAgentRequestTimeout{30.0};
// Time between a decision to send and the request arriving at the fake: connect, write, and a
// loaded 2-core machine running a dozen agents.
constexpr Seconds kSchedulingSlack{1.0};
// The agent's CPU over a failure window must stay below this share of the window's wall time,
// or two clock ticks when the window is too short for the share to be measurable.
constexpr double kMaxCpuShare = 0.05;
// How long all scenarios together may take (the agent's 30 s timeout plus the longest backoff
// a scenario allows plus start-up).
constexpr auto kAllScenariosDeadline = 75s;

// The ceiling of capped full-jitter backoff after the n-th consecutive failure (n from 0).
Seconds backoffCeiling(size_t n) {
  return Seconds(std::min(300.0, std::ldexp(1.0, static_cast<int>(std::min<size_t>(n, 30)))));
}

std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

bool isWarnOrError(const std::string& line) {
  return line.find(" WARN ") != std::string::npos || line.find(" ERROR ") != std::string::npos;
}

// The agent's heartbeat `seq`, or 0 if the body does not decode.
uint64_t seqOf(const FakeRequest& r) {
  auto hb = protocol::decodeHeartbeat(r.body);
  return hb.ok() ? hb->seq : 0;
}

// Checks a heartbeat as the collector would; empty if it is valid, else why not.
std::string heartbeatProblem(const FakeRequest& r, const FakeIdentity& identity) {
  auto hb = protocol::decodeHeartbeat(r.body);
  if (!hb.ok()) return "body does not decode: " + hb.error().code + " " + hb.error().field;
  if (hb->agent_id != identity.agent_id) return "agent_id " + hb->agent_id;
  if (r.header(protocol::kHeaderAgentId) != identity.agent_id) return "agent id header differs";
  auto ts = protocol::parseTimestampHeader(r.header(protocol::kHeaderTimestamp));
  if (!ts) return "bad timestamp header";
  if (!protocol::verifySignature(identity.secret, "POST", protocol::kHeartbeatPath, *ts, r.body,
                                 r.header(protocol::kHeaderSignature))) {
    return "signature does not verify";
  }
  return {};
}

// One way for the collector to fail, as a scenario.
struct Scenario {
  std::string name;
  // The answer to each failed heartbeat (plain scenarios).
  std::function<FakeAnswer()> misbehaviour;
  // Failed exchanges before the fake goes back to normal: requests answered with the
  // misbehaviour (plain), or TLS handshakes with the wrong certificate (TLS).
  size_t failures = 5;
  // How long one failed exchange takes the agent (its timeout for silence and drips).
  Seconds exchange{0.0};
  // Set when the answer carries Retry-After: the agent must wait that long instead of backing
  // off.
  std::optional<Seconds> retry_after;
  // Each must appear in one of the agent's WARN or ERROR lines.
  std::vector<std::string> log_mentions;
  bool tls = false;
};

// A scenario's fake, agent and observations. poll() runs on the test thread only.
class ScenarioRun {
 public:
  ScenarioRun(Scenario scenario, const TempDir& tmp, const TestCertificateAuthority& ca)
      : s_(std::move(scenario)),
        state_dir_(tmp.sub(s_.name)),
        log_path_(tmp.sub(s_.name + ".log")),
        ca_path_(tmp.sub("ca.pem")) {
    FakeCollector::Options options;
    options.heartbeat_interval_s = 1;
    if (s_.tls) options.tls = selfSignedCredentials("wrong.example");
    fake_ = std::make_unique<FakeCollector>(options);
    if (s_.tls) good_credentials_ = ca.issueLoopbackServer();
    if (!s_.tls) {
      // The first heartbeat is accepted (the agent is healthy before the failures), the next
      // `failures` get the misbehaviour, then the fake is a normal collector again.
      fake_->setScript([this, accepted = 0, failed = size_t{0}](const FakeRequest& r) mutable {
        if (r.target != protocol::kHeartbeatPath) return fake_->normalAnswer(r);
        if (accepted++ == 0 || failed >= s_.failures) return fake_->normalAnswer(r);
        ++failed;
        FakeAnswer a = s_.misbehaviour();
        a.label = kMisbehaviourLabel;
        return a;
      });
    }
  }

  void start() {
    fake_->start();
    if (s_.tls) seedIdentity();
    std::ofstream(state_dir_ + ".conf") << "# everything is on the command line\n";
    std::vector<std::string> args = {
        "--server",       fake_->url(), "--token",     "tok_anything",
        "--state-dir",    state_dir_,   "--log-level", "info",
        "--min-interval", "1",          "--config",    state_dir_ + ".conf"};
    // The peer witness is not under test, and its announcements must not leave loopback.
    args.insert(args.end(), {"--define", "peer_witness=false"});
    if (s_.tls) {
      args.push_back("--ca-file");
      args.push_back(ca_path_);
    }
    agent_ = std::make_unique<ChildProcess>(VIGIL_AGENT_BIN, args, log_path_);
  }

  // Advances the scenario from what the fake and /proc show; true once it is over.
  bool poll() {
    if (done_) return true;
    if (!agent_->running()) {
      died_ = true;
      done_ = true;
      return true;
    }
    const auto now = std::chrono::steady_clock::now();
    const size_t failed = failedAttemptTimes().size();
    if (!log_offset_ && !s_.tls && !fake_->requestsTo(protocol::kHeartbeatPath).empty()) {
      // The first (accepted) heartbeat has arrived; the first failure is a second away.
      log_offset_ = readFile(log_path_).size();
    }
    if (failed > 0 && !window_start_) {
      window_start_ = now;
      cpu_start_ = Seconds(vigil::testing::processCpuSeconds(agent_->pid()));
    }
    if (s_.tls && failed >= s_.failures && !switched_at_) {
      // Only now does the agent get a certificate it can verify.
      fake_->setTlsCredentials(good_credentials_);
      switched_at_ = now;
    }
    if (!recovered_ && window_start_) {
      // The first heartbeat accepted after the last misbehaving answer, once all were given.
      const auto heartbeats = fake_->requestsTo(protocol::kHeartbeatPath);
      size_t misbehaved = 0;
      uint64_t last_misbehaved = 0;
      for (const auto& r : heartbeats) {
        if (r.answered_with == kMisbehaviourLabel) {
          ++misbehaved;
          last_misbehaved = r.index;
        }
      }
      if (s_.tls || misbehaved >= s_.failures) {
        for (const auto& r : heartbeats) {
          if (r.answered_with == "accepted" && (s_.tls || r.index > last_misbehaved)) {
            recovered_ = r;
            window_end_ = now;
            cpu_end_ = Seconds(vigil::testing::processCpuSeconds(agent_->pid()));
            break;
          }
        }
      }
    }
    // Over once the agent has logged its recovery, so the log can be judged.
    if (recovered_ && recoveryLogged()) done_ = true;
    return done_;
  }

  // SIGTERM: the agent must still stop cleanly after all this.
  std::optional<int> stopAgent() {
    if (died_) return std::nullopt;
    agent_->signal(SIGTERM);
    return agent_->waitExit(10s);
  }

  void check(std::optional<int> exit_code) const {
    BOOST_TEST_CONTEXT("scenario " << s_.name) {
      BOOST_REQUIRE_MESSAGE(!died_, "the agent died; log:\n" << logTail(log_path_));
      BOOST_TEST_MESSAGE(summary());
      checkFailuresHappened();
      checkBackoff();
      checkCpu();
      checkLog();
      if (s_.tls) checkTls();
      BOOST_TEST(exit_code.has_value(), "the agent did not stop on SIGTERM");
      BOOST_TEST(exit_code.value_or(-1) == 0);
    }
  }

  const std::string& name() const { return s_.name; }
  bool recovered() const { return recovered_.has_value(); }
  const std::string& logPath() const { return log_path_; }

 private:
  static constexpr char kMisbehaviourLabel[] = "misbehaviour";

  void seedIdentity() {
    // An already enrolled agent, so its first TLS exchanges are heartbeats.
    ::mkdir(state_dir_.c_str(), 0700);
    const std::string path = state_dir_ + "/identity.json";
    std::ofstream(path) << "{\"v\":1,\"agent_id\":\"" << fake_->identity().agent_id
                        << "\",\"secret\":\"" << fake_->identity().secret << "\",\"server_url\":\""
                        << fake_->url() << "\"}";
    ::chmod(path.c_str(), 0600);
  }

  // When each failed attempt of the agent reached the fake. Plain: one per distinct heartbeat
  // seq answered with the misbehaviour (libcurl may resend a request once on a fresh
  // connection when a reused one dies; that is the same attempt). TLS: failed handshakes.
  std::vector<SteadyTime> failedAttemptTimes() const {
    std::vector<SteadyTime> out;
    if (s_.tls) {
      for (const auto& c : fake_->connections()) {
        if (!c.handshake_ok && !c.tls_error.empty()) out.push_back(c.accepted);
      }
      return out;
    }
    std::set<uint64_t> seqs;
    for (const auto& r : fake_->requestsTo(protocol::kHeartbeatPath)) {
      if (r.answered_with == kMisbehaviourLabel && seqs.insert(seqOf(r)).second) {
        out.push_back(r.arrived);
      }
    }
    return out;
  }

  // sent_at_ms of each failed heartbeat (plain scenarios), in order.
  std::vector<int64_t> failedSentAtMs() const {
    std::vector<int64_t> out;
    for (const auto& r : fake_->requestsTo(protocol::kHeartbeatPath)) {
      auto hb = protocol::decodeHeartbeat(r.body);
      if (r.answered_with == kMisbehaviourLabel && hb.ok()) out.push_back(hb->sent_at_ms);
    }
    return out;
  }

  // The agent's log lines from its first WARN or ERROR line on, up to its recovery line.
  std::vector<std::string> windowLines() const {
    std::vector<std::string> out;
    const std::string log = readFile(log_path_);
    for (const auto& line : lines(log.substr(std::min(log.size(), log_offset_.value_or(0))))) {
      if (out.empty() && !isWarnOrError(line)) continue;
      out.push_back(line);
      if (line.find("heartbeat accepted") != std::string::npos) break;
    }
    return out;
  }
  bool recoveryLogged() const {
    auto w = windowLines();
    return !w.empty() && w.back().find("heartbeat accepted") != std::string::npos;
  }

  std::string summary() const {
    std::ostringstream out;
    const auto attempts = failedAttemptTimes();
    out << s_.name << ": " << attempts.size() << " failed attempts, " << fake_->requestCount()
        << " requests, " << fake_->connections().size() << " connections";
    if (window_start_ && window_end_) {
      out << ", window " << Seconds(*window_end_ - *window_start_).count() << " s, CPU "
          << (cpu_end_ - cpu_start_).count() * 1000 << " ms";
    }
    out << "; gaps:";
    SteadyTime prev = attempts.empty() ? SteadyTime() : attempts.front();
    for (size_t i = 1; i < attempts.size(); ++i) {
      out << " " << Seconds(attempts[i] - prev).count();
      prev = attempts[i];
    }
    if (recovered_ && !attempts.empty()) {
      out << " -> recovered after " << Seconds(recovered_->arrived - attempts.back()).count()
          << " s";
    }
    if (recovered_) {
      auto hb = protocol::decodeHeartbeat(recovered_->body);
      if (hb.ok()) {
        for (const auto& o : hb->outages) {
          out << "\n  outage diary: " << static_cast<double>(o.to_ms - o.from_ms) / 1000.0
              << " s, cause " << o.cause;
        }
      }
    }
    out << "\n  log over the failures:";
    for (const auto& line : windowLines()) out << "\n  " << line;
    return out.str();
  }

  void checkFailuresHappened() const {
    BOOST_REQUIRE_MESSAGE(recovered_, "no valid heartbeat after the collector recovered; log:\n"
                                          << logTail(log_path_));
    const auto attempts = failedAttemptTimes();
    BOOST_TEST(attempts.size() >= (s_.tls ? s_.failures : 1));
    const std::string problem = heartbeatProblem(*recovered_, fake_->identity());
    BOOST_TEST(problem.empty(), "the heartbeat after recovery is not valid: " << problem);
    // It carries the outage diary: one period from the first failed attempt to at least the
    // last one (plain scenarios, whose failed heartbeats show when they were sent).
    auto hb = protocol::decodeHeartbeat(recovered_->body);
    if (hb.ok()) {
      BOOST_TEST_REQUIRE(!hb->outages.empty(), "no outage diary after the failures");
      const auto& outage = hb->outages.back();
      BOOST_TEST(outage.from_ms <= outage.to_ms);
      BOOST_TEST(outage.to_ms <= hb->sent_at_ms);
      const auto sent = failedSentAtMs();
      if (!sent.empty()) {
        BOOST_TEST(outage.from_ms <= sent.front());
        BOOST_TEST(outage.to_ms >= sent.back());
      }
    }
    // Its seq is above every seq the agent used before.
    uint64_t highest = 0;
    for (const auto& r : fake_->requestsTo(protocol::kHeartbeatPath)) {
      if (r.index < recovered_->index) highest = std::max(highest, seqOf(r));
    }
    BOOST_TEST(seqOf(*recovered_) > highest);
  }

  // The n-th consecutive failure (from 0) is followed by a request within the exchange time
  // plus min(300 s, 2^n s) (capped full jitter from 1 s), or, with Retry-After, after that
  // long (2.5 s at least, and at most 2 s late).
  void checkBackoff() const {
    auto next = failedAttemptTimes();
    if (next.empty() || !recovered_) return;
    const auto attempts = next;
    next.erase(next.begin());
    next.push_back(recovered_->arrived);
    for (size_t n = 0; n < attempts.size(); ++n) {
      const Seconds gap = next[n] - attempts[n];
      BOOST_TEST_CONTEXT("after failed attempt " << n << ", gap " << gap.count() << " s") {
        if (s_.retry_after) {
          BOOST_TEST(gap.count() >= s_.retry_after->count() - 0.5);
          BOOST_TEST(gap.count() <= s_.retry_after->count() + 2.0);
        } else {
          BOOST_TEST(gap.count() <= (s_.exchange + backoffCeiling(n) + kSchedulingSlack).count());
        }
      }
    }
    // Not a tight loop: full jitter makes 4 consecutive retries within 0.25 s all but
    // impossible (p < 3e-6), while a spinning agent does it in milliseconds.
    if (!s_.retry_after && attempts.size() >= 4) {
      BOOST_TEST(Seconds(recovered_->arrived - attempts.front()).count() >= 0.25);
    }
    // Requests over the failure window: one per attempt, and at most one more each when
    // libcurl resends a request whose reused connection died before any answer. A retry storm
    // below the agent's own accounting would show here.
    size_t requests = 0;
    for (const auto& r : fake_->requests()) {
      if (r.arrived >= attempts.front() && r.arrived < recovered_->arrived) ++requests;
    }
    BOOST_TEST(requests <= 2 * attempts.size());
  }

  void checkCpu() const {
    if (!window_start_ || !window_end_) return;
    const double wall = Seconds(*window_end_ - *window_start_).count();
    const double cpu = (cpu_end_ - cpu_start_).count();
    const double tick = 1.0 / static_cast<double>(sysconf(_SC_CLK_TCK));
    BOOST_TEST(cpu <= std::max(kMaxCpuShare * wall, 2 * tick),
               "agent used " << cpu * 1000 << " ms of CPU in " << wall << " s of failures");
  }

  void checkLog() const {
    std::vector<std::string> problems;
    for (const auto& line : lines(readFile(log_path_))) {
      if (isWarnOrError(line)) problems.push_back(line);
    }
    for (const auto& mention : s_.log_mentions) {
      const bool found = std::any_of(problems.begin(), problems.end(), [&](const std::string& l) {
        return l.find(mention) != std::string::npos;
      });
      BOOST_TEST(found, "no WARN/ERROR line mentions '" << mention << "'; log:\n"
                                                        << logTail(log_path_));
    }
    // No flood: the agent logs a repeated condition at most once per 5 minutes, and every
    // scenario here lasts well under that, so the window holds one line for the condition plus
    // the recovery line, however many attempts failed.
    const auto window = windowLines();
    const size_t attempts = failedAttemptTimes().size();
    BOOST_TEST(window.size() <= 2u, window.size()
                                        << " log lines for " << attempts << " failed attempts:\n"
                                        << logTail(log_path_));
  }

  void checkTls() const {
    // The agent refused every connection that showed the wrong certificate: its handshake
    // failed on the fake's side with the alert the client sent, and no request was decrypted
    // before the good certificate was in place.
    size_t refused = 0;
    for (const auto& c : fake_->connections()) {
      if (c.handshake_ok) continue;
      ++refused;
      BOOST_TEST(c.tls_error.find("alert") != std::string::npos, "handshake: " << c.tls_error);
    }
    BOOST_TEST(refused >= s_.failures);
    for (const auto& r : fake_->requests()) {
      BOOST_TEST((switched_at_ && r.arrived > *switched_at_),
                 "a request reached the fake while it showed the wrong certificate");
    }
  }

  Scenario s_;
  std::string state_dir_;
  std::string log_path_;
  std::string ca_path_;
  std::unique_ptr<FakeCollector> fake_;
  TlsCredentials good_credentials_;
  std::unique_ptr<ChildProcess> agent_;

  bool done_ = false;
  bool died_ = false;
  std::optional<SteadyTime> window_start_;
  std::optional<SteadyTime> window_end_;
  std::optional<SteadyTime> switched_at_;
  Seconds cpu_start_{0};
  Seconds cpu_end_{0};
  // Where the agent's log stood before the first failure.
  std::optional<size_t> log_offset_;
  std::optional<FakeRequest> recovered_;
};

std::vector<Scenario> allScenarios() {
  using fake_answers::unexpectedStatus;
  return {
      {"garbage_200", fake_answers::garbage, 5, Seconds(0), std::nullopt, {"HTTP 200"}},
      {"huge_body_10MiB",
       [] { return fake_answers::hugeBody(); },
       5,
       Seconds(0),
       std::nullopt,
       {"larger than"}},
      {"status_302",
       [] { return unexpectedStatus(302); },
       5,
       Seconds(0),
       std::nullopt,
       {"HTTP 302"}},
      {"status_418",
       [] { return unexpectedStatus(418); },
       5,
       Seconds(0),
       std::nullopt,
       {"HTTP 418"}},
      {"status_500_not_json",
       [] { return unexpectedStatus(500); },
       5,
       Seconds(0),
       std::nullopt,
       {"HTTP 500"}},
      {"slow_drip",
       [] { return fake_answers::slowDrip(); },
       1,
       kAgentRequestTimeout,
       std::nullopt,
       {"network error", "timed out"}},
      {"overloaded_429_retry_after_3",
       [] { return fake_answers::overloaded(429, 3); },
       3,
       Seconds(0),
       Seconds(3.0),
       {"HTTP 429", "Retry-After"}},
      {"overloaded_503_retry_after_3",
       [] { return fake_answers::overloaded(503, 3); },
       3,
       Seconds(0),
       Seconds(3.0),
       {"HTTP 503", "Retry-After"}},
      {"never_answer",
       fake_answers::neverAnswer,
       1,
       kAgentRequestTimeout,
       std::nullopt,
       {"network error", "timed out"}},
      {"close_immediately",
       fake_answers::closeConnection,
       5,
       Seconds(0),
       std::nullopt,
       {"network error"}},
      {"wrong_certificate", nullptr, 5, Seconds(0), std::nullopt, {"certificate"}, true},
  };
}

}  // namespace

// Every misbehaviour at once, each against its own agent: the agent survives, stays cheap,
// backs off (or obeys Retry-After), logs the condition without flooding, refuses a
// certificate it cannot verify, and sends a valid signed heartbeat once the collector behaves.
BOOST_AUTO_TEST_CASE(agent_survives_collector_misbehaviour_backs_off_and_recovers) {
  TempDir tmp;
  TestCertificateAuthority ca;
  tmp.write("ca.pem", ca.certPem());
  std::vector<std::unique_ptr<ScenarioRun>> runs;
  for (auto& s : allScenarios()) runs.push_back(std::make_unique<ScenarioRun>(s, tmp, ca));
  for (auto& run : runs) run->start();

  const bool all_done = eventually(
      [&] {
        bool done = true;
        for (auto& run : runs) done = run->poll() && done;
        return done;
      },
      kAllScenariosDeadline);
  if (!all_done) {
    for (auto& run : runs) {
      if (!run->poll()) {
        BOOST_TEST_MESSAGE("scenario " << run->name() << " unfinished; log:\n"
                                       << logTail(run->logPath()));
      }
    }
  }
  std::vector<std::optional<int>> exit_codes;
  exit_codes.reserve(runs.size());
  for (auto& run : runs) exit_codes.push_back(run->stopAgent());
  for (size_t i = 0; i < runs.size(); ++i) runs[i]->check(exit_codes[i]);
}
