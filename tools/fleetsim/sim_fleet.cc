#include "tools/fleetsim/sim_fleet.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <deque>
#include <optional>
#include <ostream>
#include <queue>
#include <random>
#include <streambuf>
#include <unordered_map>

#include "agent/core/agent_runner.h"
#include "agent/core/logger.h"
#include "agent/transport/curl_collector_client.h"
#include "common/datagram.h"
#include "common/protocol.h"

namespace vigil::fleetsim {
namespace {

using agent::CurlEasyPtr;
using agent::CurlMultiPtr;
using agent::CurlSlistPtr;
using Kind = agent::HeartbeatOutcome::Kind;

constexpr char kHeartbeatPath[] = "/v1/heartbeat";
constexpr char kEnrollPath[] = "/v1/enroll";
constexpr char kSimVersion[] = "0.1.0-fleetsim";

double msBetween(MonoTime from, MonoTime to) {
  return std::chrono::duration<double, std::milli>(to - from).count();
}

std::string randomHex(std::mt19937_64& rng, size_t chars) {
  static const char kHex[] = "0123456789abcdef";
  std::string s(chars, '0');
  for (char& c : s) c = kHex[rng() & 15];
  return s;
}

// Log output the fleet does not want (the beacon channel's notices, times 100,000 agents).
class NullBuffer final : public std::streambuf {
 protected:
  int overflow(int c) override { return c; }
};

// The TLS session cache of one simulated agent: a libcurl share of SSL sessions only, as the
// real agent's one easy handle keeps its own.
struct CurlShareDeleter {
  void operator()(CURLSH* share) const { curl_share_cleanup(share); }
};
using TlsSessionCachePtr = std::unique_ptr<CURLSH, CurlShareDeleter>;

// One HTTP exchange in flight on the multi handle.
struct Exchange {
  enum class Handshake : uint8_t { kNone, kFull, kResumed };
  enum class Purpose : uint8_t { kEnroll, kHeartbeat };
  Purpose purpose = Purpose::kHeartbeat;
  uint32_t agent = 0;
  CurlEasyPtr easy;
  CurlSlistPtr headers;
  std::string request_body;
  std::string response_body;
  std::optional<int64_t> retry_after_s;
  MonoTime due;   // when the agent wanted to send
  MonoTime sent;  // when it was handed to libcurl: ingest lag counts from here
  bool carried_outages = false;
  bool handshake_read = false;
  Handshake handshake = Handshake::kNone;  // of the connection that carried it (if TLS)
};

// Reads, while the connection is still open, whether its TLS handshake resumed a session.
void readHandshake(Exchange& ex) {
  ex.handshake_read = true;
  const curl_tlssessioninfo* info = nullptr;
  if (curl_easy_getinfo(ex.easy.get(), CURLINFO_TLS_SSL_PTR, &info) != CURLE_OK ||
      info == nullptr || info->backend != CURLSSLBACKEND_OPENSSL || info->internals == nullptr) {
    return;
  }
  ex.handshake = SSL_session_reused(static_cast<SSL*>(info->internals)) == 1
                     ? Exchange::Handshake::kResumed
                     : Exchange::Handshake::kFull;
}

size_t appendBody(char* data, size_t size, size_t count, void* user) {
  auto* ex = static_cast<Exchange*>(user);
  const size_t n = size * count;
  if (ex->response_body.size() + n > protocol::kMaxBodyBytes) return 0;  // ends the transfer
  ex->response_body.append(data, n);
  return n;
}

size_t readHeader(char* data, size_t size, size_t count, void* user) {
  auto* ex = static_cast<Exchange*>(user);
  const size_t n = size * count;
  if (!ex->handshake_read) readHandshake(*ex);
  std::string_view line(data, n);
  constexpr std::string_view kName = "retry-after:";
  if (line.size() > kName.size()) {
    std::string lower(line.substr(0, kName.size()));
    std::transform(lower.begin(), lower.end(), lower.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (lower == kName) {
      std::string_view value = line.substr(kName.size());
      while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) {
        value.remove_prefix(1);
      }
      while (!value.empty() &&
             (value.back() == '\r' || value.back() == '\n' || value.back() == ' ')) {
        value.remove_suffix(1);
      }
      ex->retry_after_s = agent::parseRetryAfterSeconds(value);
    }
  }
  return n;
}

}  // namespace

struct Fleet::SimAgent {
  std::string enroll_token;
  std::string site;
  std::string hostname;
  std::string id;
  std::string secret;
  std::string boot_id;
  uint64_t seq = 0;
  int64_t uptime_base_s = 0;
  MonoTime enrolled_at{};
  std::unique_ptr<agent::HeartbeatScheduler> scheduler;
  std::unique_ptr<agent::BeaconChannel> beacon;
  TlsSessionCachePtr tls_sessions;  // ConnectionMode::kAgent
  int64_t beacon_interval_s = 0;
  bool dead = false;
  bool paused = false;
  bool heartbeat_blocked = false;
  bool beacon_blocked = false;
  bool partitioned = false;
  bool in_flight = false;        // queued to send, or sent and not answered
  MonoTime due{};                // when the beat in flight was due
  uint32_t beat_generation = 0;  // an older beat event of this agent is stale
  uint32_t beacon_generation = 0;
  // The outage diary, as the real agent keeps it (agent/core/outage_diary), in memory.
  std::vector<protocol::OutageEntry> outages;
  bool outage_open = false;
  uint16_t refusals = 0;      // 429/503 answers in the run
  int64_t back_epoch_ns = 0;  // the collector return its back_after_s belongs to
  float back_after_s = 0;     // first accepted heartbeat after that return
};

struct Fleet::Command {
  enum class Kind : uint8_t { kKill, kRevive, kPause, kResume, kBlock, kPartition };
  Kind kind = Kind::kKill;
  std::vector<uint32_t> agents;
  Channel channel = Channel::kHeartbeat;
  bool on = false;
};

// The event loop: a min-heap of due beats and beacons, the multi handle and the UDP socket.
class Fleet::Loop {
 public:
  Loop(Fleet& fleet, const FleetOptions& options)
      : fleet_(fleet),
        options_(options),
        rng_(options.seed),
        null_out_(&null_buffer_),
        log_(RealClock::instance(), null_out_, agent::LogLevel::kError),
        multi_(curl_multi_init()),
        connection_limit_(options.connection_mode == ConnectionMode::kAgent
                              ? options.agent_concurrency
                              : options.max_connections) {
    curl_multi_setopt(multi_.get(), CURLMOPT_MAX_HOST_CONNECTIONS, connection_limit_);
    curl_multi_setopt(multi_.get(), CURLMOPT_MAX_TOTAL_CONNECTIONS, connection_limit_);
    curl_multi_setopt(multi_.get(), CURLMOPT_MAXCONNECTS, connection_limit_);
    udp_ = ::socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int buffer = 8 << 20;
    ::setsockopt(udp_, SOL_SOCKET, SO_RCVBUF, &buffer, sizeof buffer);
    ::setsockopt(udp_, SOL_SOCKET, SO_SNDBUF, &buffer, sizeof buffer);
    sockaddr_in any{};
    any.sin_family = AF_INET;
    any.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(udp_, reinterpret_cast<sockaddr*>(&any), sizeof any);
  }
  ~Loop() {
    for (auto& [easy, ex] : in_flight_) curl_multi_remove_handle(multi_.get(), easy);
    in_flight_.clear();
    if (udp_ >= 0) ::close(udp_);
  }

  agent::UniformRandom uniform() {
    return [this] { return std::uniform_real_distribution<double>(0.0, 1.0)(rng_); };
  }

  std::mt19937_64& rng() { return rng_; }

  Status enroll(int concurrency) {
    if (options_.connection_mode == ConnectionMode::kAgent) {
      concurrency = static_cast<int>(connection_limit_);
    }
    std::vector<uint32_t> todo(fleet_.agents_.size());
    for (uint32_t i = 0; i < todo.size(); ++i) todo[i] = i;
    std::reverse(todo.begin(), todo.end());
    int attempts_left = 20 * static_cast<int>(todo.size()) + 100;
    std::string last_error;
    while (!todo.empty() || !in_flight_.empty()) {
      while (!todo.empty() && static_cast<int>(in_flight_.size()) < concurrency) {
        sendEnrollment(todo.back());
        todo.pop_back();
      }
      drive(std::chrono::milliseconds(100));
      for (auto& done : takeCompleted()) {
        SimAgent& a = *fleet_.agents_[done.ex->agent];
        countConnection(done);
        agent::CollectorAnswer answer = answerOf(done);
        if (answer.transport_ok && answer.http_status == 201) {
          auto decoded = protocol::decodeEnrollResponse(answer.body);
          if (!decoded.ok()) return Status::internal("enrollment answer: " + answer.body);
          a.id = decoded->agent_id;
          a.secret = decoded->secret;
          a.enrolled_at = done.at;
          a.scheduler->adoptInterval(decoded->heartbeat_interval_s);
          offerChannels(done.ex->agent, decoded->channels);
          continue;
        }
        last_error = answer.transport_ok
                         ? "HTTP " + std::to_string(answer.http_status) + " " + answer.body
                         : answer.transport_error;
        // Any server error is tried again, as an agent tries its enrollment again; one that is
        // not an overload answer is counted (the report says how many there were).
        const bool server_error =
            answer.transport_ok && answer.http_status >= 500 && answer.http_status != 503;
        if (server_error) ++enroll_server_errors_;
        const bool retryable = !answer.transport_ok || answer.http_status == 503 ||
                               answer.http_status == 429 || server_error;
        if (!retryable || --attempts_left <= 0) {
          return Status::unavailable("enrollment of agent " + std::to_string(done.ex->agent) +
                                     " failed: " + last_error);
        }
        todo.insert(todo.begin(), done.ex->agent);  // after the others: the shed passes
      }
    }
    return Status::okStatus();
  }

  uint64_t enrollServerErrors() const { return enroll_server_errors_; }

  void start(bool machine_booted) {
    const MonoTime now = std::chrono::steady_clock::now();
    for (uint32_t i = 0; i < fleet_.agents_.size(); ++i) {
      SimAgent& a = *fleet_.agents_[i];
      // A booting fleet takes the agent's own start spread. A fleet that was already running
      // is joined in its steady state: each agent at a random phase of its interval, counted
      // from its enrollment (which the collector saw as its first sign of life), so enrolling
      // a large fleet does not look like a silence.
      Duration first = a.scheduler->firstBeatDelay(true);
      if (!machine_booted) {
        const int64_t interval_s = a.scheduler->intervalInUseS().value_or(60);
        const MonoTime phase = a.enrolled_at + std::chrono::duration_cast<Duration>(
                                                   std::chrono::seconds(interval_s) * uniform()());
        first = std::max(Duration::zero(), phase - now);
      }
      scheduleBeat(i, now + first);
      scheduleBeacon(i);
    }
  }

  void run(const std::atomic<bool>& stopping) {
    // Events due within one slice are handled together, and the loop sleeps at least a slice
    // between rounds: at 100,000 agents (8,000 events a second) a round per event would spend
    // the core on poll() and recv(). A slice is far below any interval simulated.
    constexpr auto kSlice = std::chrono::milliseconds(2);
    while (!stopping.load()) {
      applyCommands();
      const MonoTime now = std::chrono::steady_clock::now();
      // Taken out first: what handling them schedules waits for the next round (a beacon
      // handled early is not yet due for its channel and asks for the same instant again).
      round_.clear();
      while (!events_.empty() && events_.top().at <= now + kSlice) {
        round_.push_back(events_.top());
        events_.pop();
      }
      for (const Event& e : round_) {
        if (e.beacon) {
          onBeaconDue(e);
        } else {
          onBeatDue(e, now);
        }
      }
      std::chrono::milliseconds wait(50);
      if (!events_.empty()) {
        auto until = std::chrono::duration_cast<std::chrono::milliseconds>(
            events_.top().at - std::chrono::steady_clock::now());
        wait = std::clamp(until, std::chrono::milliseconds(kSlice), wait);
      }
      sendReady(now);
      const bool datagrams = drive(wait);
      for (auto& done : takeCompleted()) onHeartbeatDone(done);
      if (datagrams) receiveAcks();
    }
  }

 private:
  struct Event {
    MonoTime at;
    uint32_t agent;
    uint32_t generation;
    bool beacon;
    bool operator>(const Event& o) const { return at > o.at; }
  };
  struct Completed {
    std::unique_ptr<Exchange> ex;
    CURLcode result;
    MonoTime at;
  };

  void scheduleBeat(uint32_t agent, MonoTime at) {
    SimAgent& a = *fleet_.agents_[agent];
    events_.push({at, agent, ++a.beat_generation, false});
  }

  void scheduleBeacon(uint32_t agent) {
    SimAgent& a = *fleet_.agents_[agent];
    if (!a.beacon) return;
    auto due = a.beacon->nextDue();
    if (due) events_.push({*due, agent, ++a.beacon_generation, true});
  }

  void offerChannels(uint32_t agent, const protocol::ChannelOffer& offer) {
    SimAgent& a = *fleet_.agents_[agent];
    if (!options_.beacons || !offer.beacon_port || !offer.beacon_interval_s) return;
    if (a.beacon && a.beacon_interval_s == *offer.beacon_interval_s) return;
    agent::BeaconTarget target;
    target.host = options_.beacon_host;
    target.port = static_cast<uint16_t>(*offer.beacon_port);
    target.interval = std::chrono::seconds(*offer.beacon_interval_s);
    target.agent_id = a.id;
    target.secret = a.secret;
    a.beacon = std::make_unique<agent::BeaconChannel>(std::move(target), RealClock::instance(),
                                                      uniform(), log_, options_.beacon);
    a.beacon->setClockOffset(a.scheduler->clockOffset());
    // The loop reads each request for a fallback off the channel's counter (onBeaconDue): one
    // sink for the whole fleet, which only has to be there.
    if (options_.beacon_fallback) a.beacon->setFallback(&fallback_requests_);
    a.beacon_interval_s = *offer.beacon_interval_s;
    if (!a.dead && !a.paused && started_) scheduleBeacon(agent);
    beacon_port_ = static_cast<uint16_t>(*offer.beacon_port);
  }

  void applyCommands() {
    std::vector<Command> commands;
    {
      std::lock_guard<std::mutex> lock(fleet_.mu_);
      commands.swap(fleet_.commands_);
    }
    const MonoTime now = std::chrono::steady_clock::now();
    for (const Command& c : commands) {
      for (uint32_t i : c.agents) {
        SimAgent& a = *fleet_.agents_[i];
        switch (c.kind) {
          case Command::Kind::kKill:
            a.dead = true;
            ++a.beat_generation;
            ++a.beacon_generation;
            break;
          case Command::Kind::kRevive:
            // A restarted endpoint: a new boot, its beats start at once.
            if (!a.dead) break;
            a.dead = false;
            a.boot_id = randomHex(rng_, 32);
            a.uptime_base_s = 0;
            if (!a.in_flight) scheduleBeat(i, now + a.scheduler->firstBeatDelay(false));
            scheduleBeacon(i);
            break;
          case Command::Kind::kPause:
            a.paused = true;
            ++a.beat_generation;
            ++a.beacon_generation;
            break;
          case Command::Kind::kResume:
            if (!a.paused) break;
            a.paused = false;
            if (!a.in_flight)
              scheduleBeat(i, now + a.scheduler->onTrigger(agent::BeatTrigger::kResumed).delay);
            scheduleBeacon(i);
            break;
          case Command::Kind::kBlock:
            (c.channel == Channel::kHeartbeat ? a.heartbeat_blocked : a.beacon_blocked) = c.on;
            break;
          case Command::Kind::kPartition:
            a.partitioned = c.on;
            break;
        }
      }
    }
  }

  bool quiet(const SimAgent& a) const { return a.dead || a.paused; }

  void recordFailure(SimAgent& a, const std::string& cause) {
    const int64_t now_ms = a.scheduler->correctedWallMs();
    if (a.outage_open && !a.outages.empty()) {
      a.outages.back().to_ms = now_ms;
      return;
    }
    if (a.outages.size() >= protocol::kMaxOutageEntries) {
      // Full: the two oldest merge into one that covers both (as the real diary does).
      a.outages[1].from_ms = a.outages[0].from_ms;
      a.outages.erase(a.outages.begin());
    }
    a.outages.push_back({now_ms, now_ms, cause});
    a.outage_open = true;
  }

  void onBeatDue(const Event& e, MonoTime now) {
    SimAgent& a = *fleet_.agents_[e.agent];
    if (e.generation != a.beat_generation || quiet(a) || a.in_flight) return;
    if (a.partitioned || a.heartbeat_blocked) {
      // The fault makes the attempt fail without a packet: no route (partition) or a broken
      // HTTPS path (a proxy that answers nothing useful).
      a.due = now;
      failUnsent(e.agent, a.partitioned ? protocol::causes::kConnect : protocol::causes::kTimeout,
                 now);
      return;
    }
    // Due: it waits its turn for the connection pool (the simulator's wait, not ingest lag).
    a.in_flight = true;
    a.due = std::min(e.at, now);  // sent up to one slice early: lag counts from the send
    ready_.push_back(e.agent);
  }

  // An attempt that fails without an answer: the agent's scheduler and beacon channel learn
  // of it as of a failed request.
  void failUnsent(uint32_t agent, const char* cause, MonoTime now) {
    SimAgent& a = *fleet_.agents_[agent];
    recordFailure(a, cause);
    agent::HeartbeatOutcome failed;
    failed.kind = Kind::kFailed;
    const agent::ScheduleDecision d = a.scheduler->onOutcome(failed);
    if (a.beacon) a.beacon->noteHeartbeat(false, now - a.due);
    {
      std::lock_guard<std::mutex> lock(fleet_.mu_);
      ++fleet_.stats_.simulated_failures;
    }
    scheduleBeat(agent, now + d.delay);
  }

  // Hands due beats to libcurl, keeping a bounded number of transfers in the multi handle
  // (libcurl's own queue of pending transfers costs time per transfer at every step).
  void sendReady(MonoTime now) {
    // A real agent's request times out request_timeout after it started, connection or not:
    // a beat that waited that long for the pool (a frozen collector holds every connection)
    // fails as a timeout, as the agent's would.
    while (!ready_.empty()) {
      const uint32_t agent = ready_.front();
      SimAgent& a = *fleet_.agents_[agent];
      if (!quiet(a) && now - a.due < options_.request_timeout) break;
      ready_.pop_front();
      a.in_flight = false;
      if (!quiet(a)) failUnsent(agent, protocol::causes::kTimeout, now);
    }
    // Pooled: a few transfers queue for each connection. Agent mode: a transfer is a connection.
    const size_t max_transfers = static_cast<size_t>(
        options_.connection_mode == ConnectionMode::kAgent ? connection_limit_
                                                           : 4 * connection_limit_);
    while (!ready_.empty() && in_flight_.size() < max_transfers) {
      const uint32_t agent = ready_.front();
      ready_.pop_front();
      SimAgent& a = *fleet_.agents_[agent];
      if (quiet(a)) {
        a.in_flight = false;  // killed or paused while waiting: nothing was sent
        continue;
      }
      sendHeartbeat(agent, a.due);
    }
  }

  void onBeaconDue(const Event& e) {
    SimAgent& a = *fleet_.agents_[e.agent];
    if (e.generation != a.beacon_generation || quiet(a) || !a.beacon) return;
    const uint64_t fallbacks = a.beacon->stats().fallbacks;
    std::vector<agent::OutgoingDatagram> due = a.beacon->takeDue();
    if (!a.partitioned && !a.beacon_blocked) {
      for (const auto& d : due) sendDatagram(d);
    }
    // The beacon fallback, as the agent's heartbeat loop does it: a heartbeat at once (spaced
    // from the last attempt), unless heartbeats are failing and the backoff decides.
    if (a.beacon->stats().fallbacks > fallbacks && !a.in_flight &&
        a.scheduler->consecutiveFailures() == 0) {
      const MonoTime now = std::chrono::steady_clock::now();
      scheduleBeat(e.agent,
                   now + a.scheduler->onTrigger(agent::BeatTrigger::kBeaconUnanswered).delay);
      std::lock_guard<std::mutex> lock(fleet_.mu_);
      ++fleet_.stats_.fallback_beats;
    }
    scheduleBeacon(e.agent);
  }

  void sendDatagram(const agent::OutgoingDatagram& d) {
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_port = htons(d.port);
    if (::inet_pton(AF_INET, d.host.c_str(), &to.sin_addr) != 1) return;
    if (::sendto(udp_, d.bytes.data(), d.bytes.size(), 0, reinterpret_cast<sockaddr*>(&to),
                 sizeof to) >= 0) {
      std::lock_guard<std::mutex> lock(fleet_.mu_);
      ++fleet_.stats_.beacons_sent;
    }
  }

  void receiveAcks() {
    char buffer[600];
    for (int i = 0; i < 4096; ++i) {
      ssize_t n = ::recv(udp_, buffer, sizeof buffer, 0);
      if (n <= 0) return;
      agent::Datagram d;
      d.bytes.assign(buffer, static_cast<size_t>(n));
      d.from_address = options_.beacon_host;
      d.from_port = beacon_port_;
      // "VA1 <agent_id> ...": route by the id; the channel checks the rest.
      const size_t first = d.bytes.find(' ');
      const size_t second = first == std::string::npos ? first : d.bytes.find(' ', first + 1);
      if (second == std::string::npos) continue;
      auto it = by_id_.find(d.bytes.substr(first + 1, second - first - 1));
      if (it == by_id_.end()) continue;
      SimAgent& a = *fleet_.agents_[it->second];
      if (!a.beacon || quiet(a) || a.partitioned || a.beacon_blocked) continue;
      a.beacon->onDatagram(d);
      std::lock_guard<std::mutex> lock(fleet_.mu_);
      ++fleet_.stats_.beacon_acks;
    }
  }

  CurlEasyPtr takeEasy() {
    if (!spare_.empty()) {
      CurlEasyPtr easy = std::move(spare_.back());
      spare_.pop_back();
      curl_easy_reset(easy.get());
      return easy;
    }
    return CurlEasyPtr(curl_easy_init());
  }

  void submit(std::unique_ptr<Exchange> ex, const char* path) {
    CURL* easy = ex->easy.get();
    const std::string url = options_.base_url + path;
    curl_easy_setopt(easy, CURLOPT_URL, url.c_str());
    curl_easy_setopt(easy, CURLOPT_POST, 1L);
    curl_easy_setopt(easy, CURLOPT_POSTFIELDS, ex->request_body.c_str());
    curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE, static_cast<long>(ex->request_body.size()));
    curl_easy_setopt(easy, CURLOPT_HTTPHEADER, ex->headers.get());
    curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, appendBody);
    curl_easy_setopt(easy, CURLOPT_WRITEDATA, ex.get());
    curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, readHeader);
    curl_easy_setopt(easy, CURLOPT_HEADERDATA, ex.get());
    curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS,
                     static_cast<long>(options_.connect_timeout.count()));
    curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, static_cast<long>(options_.request_timeout.count()));
    curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(easy, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(easy, CURLOPT_SSL_VERIFYHOST, 2L);
    if (!options_.ca_file.empty()) curl_easy_setopt(easy, CURLOPT_CAINFO, options_.ca_file.c_str());
    curl_easy_setopt(easy, CURLOPT_PROXY, "");  // loopback: never through a proxy
    curl_easy_setopt(easy, CURLOPT_PIPEWAIT, 0L);
    if (options_.connection_mode == ConnectionMode::kAgent) {
      // The agent's connection from its last heartbeat is long closed by the collector's
      // keep-alive timeout: a new one, whose handshake resumes the agent's own session.
      SimAgent& a = *fleet_.agents_[ex->agent];
      if (!a.tls_sessions) {
        a.tls_sessions.reset(curl_share_init());
        curl_share_setopt(a.tls_sessions.get(), CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
      }
      curl_easy_setopt(easy, CURLOPT_SHARE, a.tls_sessions.get());
      curl_easy_setopt(easy, CURLOPT_FRESH_CONNECT, 1L);
      curl_easy_setopt(easy, CURLOPT_FORBID_REUSE, 1L);
    }
    ex->sent = std::chrono::steady_clock::now();
    curl_multi_add_handle(multi_.get(), easy);
    in_flight_.emplace(easy, std::move(ex));
  }

  static CurlSlistPtr jsonHeaders() {
    curl_slist* h = curl_slist_append(nullptr, "Content-Type: application/json");
    h = curl_slist_append(h, "Expect:");
    return CurlSlistPtr(h);
  }

  void sendEnrollment(uint32_t agent) {
    SimAgent& a = *fleet_.agents_[agent];
    protocol::EnrollRequest req;
    req.enroll_token = a.enroll_token;
    req.facts.hostname = a.hostname;
    req.facts.os_name = "linux";
    req.facts.os_version = "fleetsim";
    req.facts.arch = "x86_64";
    req.facts.agent_version = kSimVersion;
    auto ex = std::make_unique<Exchange>();
    ex->purpose = Exchange::Purpose::kEnroll;
    ex->agent = agent;
    ex->easy = takeEasy();
    ex->headers = jsonHeaders();
    ex->request_body = protocol::encode(req);
    ex->due = std::chrono::steady_clock::now();
    submit(std::move(ex), kEnrollPath);
  }

  void sendHeartbeat(uint32_t agent, MonoTime due) {
    SimAgent& a = *fleet_.agents_[agent];
    protocol::Heartbeat hb;
    hb.agent_id = a.id;
    hb.seq = ++a.seq;
    hb.boot_id = a.boot_id;
    hb.agent_version = kSimVersion;
    hb.sent_at_ms = a.scheduler->correctedWallMs();
    hb.uptime_s =
        static_cast<uint64_t>(a.uptime_base_s + std::chrono::duration_cast<std::chrono::seconds>(
                                                    std::chrono::steady_clock::now() - start_time_)
                                                    .count());
    hb.interval_s = a.scheduler->intervalInUseS();
    hb.hostname = a.hostname;
    hb.os_name = "linux";
    if (a.beacon && options_.beacon_fallback) hb.beacon_state = a.beacon->beaconState();
    hb.outages = a.outages;
    auto ex = std::make_unique<Exchange>();
    ex->purpose = Exchange::Purpose::kHeartbeat;
    ex->agent = agent;
    ex->easy = takeEasy();
    ex->request_body = protocol::encode(hb);
    ex->carried_outages = !hb.outages.empty();
    ex->due = due;
    auto signature =
        protocol::sign(a.secret, "POST", kHeartbeatPath, hb.sent_at_ms, ex->request_body);
    CurlSlistPtr headers = jsonHeaders();
    curl_slist* h = headers.release();
    h = curl_slist_append(h, ("X-Vigil-Agent-Id: " + a.id).c_str());
    h = curl_slist_append(h, ("X-Vigil-Timestamp: " + std::to_string(hb.sent_at_ms)).c_str());
    h = curl_slist_append(h, ("X-Vigil-Signature: " + signature.value()).c_str());
    ex->headers.reset(h);
    a.in_flight = true;
    {
      std::lock_guard<std::mutex> lock(fleet_.mu_);
      ++fleet_.stats_.heartbeats_sent;
    }
    submit(std::move(ex), kHeartbeatPath);
  }

  // Runs libcurl's transfers, waiting up to `wait` for network activity; true if datagrams
  // arrived on the beacon socket.
  bool drive(std::chrono::milliseconds wait) {
    int running = 0;
    curl_multi_perform(multi_.get(), &running);
    curl_waitfd extra{};
    extra.fd = udp_;
    extra.events = CURL_WAIT_POLLIN;
    int ready = 0;
    curl_multi_poll(multi_.get(), &extra, 1, static_cast<int>(wait.count()), &ready);
    curl_multi_perform(multi_.get(), &running);
    return (extra.revents & CURL_WAIT_POLLIN) != 0;
  }

  std::vector<Completed> takeCompleted() {
    std::vector<Completed> done;
    int left = 0;
    while (CURLMsg* msg = curl_multi_info_read(multi_.get(), &left)) {
      if (msg->msg != CURLMSG_DONE) continue;
      CURL* easy = msg->easy_handle;
      const CURLcode result = msg->data.result;
      curl_multi_remove_handle(multi_.get(), easy);
      auto it = in_flight_.find(easy);
      if (it == in_flight_.end()) continue;
      done.push_back({std::move(it->second), result, std::chrono::steady_clock::now()});
      in_flight_.erase(it);
    }
    return done;
  }

  static agent::CollectorAnswer answerOf(const Completed& done) {
    agent::CollectorAnswer answer;
    if (done.result != CURLE_OK) {
      answer.transport_error = curl_easy_strerror(done.result);
      answer.transport_cause = agent::transportCause(done.result);
      return answer;
    }
    answer.transport_ok = true;
    curl_easy_getinfo(done.ex->easy.get(), CURLINFO_RESPONSE_CODE, &answer.http_status);
    answer.body = done.ex->response_body;
    answer.retry_after_s = done.ex->retry_after_s;
    return answer;
  }

  // Counts the new connection (and its TLS handshake) an exchange needed, if any.
  void countConnection(const Completed& done) {
    long connects = 0;
    curl_easy_getinfo(done.ex->easy.get(), CURLINFO_NUM_CONNECTS, &connects);
    if (connects <= 0) return;
    std::lock_guard<std::mutex> lock(fleet_.mu_);
    FleetStats& s = fleet_.stats_;
    s.connections_opened += static_cast<uint64_t>(connects);
    if (done.ex->handshake == Exchange::Handshake::kFull) ++s.tls_full_handshakes;
    if (done.ex->handshake == Exchange::Handshake::kResumed) ++s.tls_resumed_handshakes;
  }

  // The first accepted heartbeat after the collector's last return.
  void noteReturn(SimAgent& a, MonoTime at) {
    const int64_t back_ns = fleet_.back_from_ns_.load(std::memory_order_relaxed);
    if (back_ns == 0 || a.back_epoch_ns == back_ns) return;
    a.back_epoch_ns = back_ns;
    const int64_t at_ns =
        std::chrono::duration_cast<std::chrono::nanoseconds>(at.time_since_epoch()).count();
    const double after_s = static_cast<double>(at_ns - back_ns) / 1e9;
    a.back_after_s = static_cast<float>(std::max(0.0, after_s));
  }

  void onHeartbeatDone(Completed& done) {
    const uint32_t index = done.ex->agent;
    SimAgent& a = *fleet_.agents_[index];
    a.in_flight = false;
    const agent::CollectorAnswer answer = answerOf(done);
    const agent::HeartbeatAnswerReading reading = agent::readHeartbeatAnswer(answer);
    double server_ms = 0;
    countConnection(done);
    {
      curl_off_t pre = 0, first = 0;
      curl_easy_getinfo(done.ex->easy.get(), CURLINFO_PRETRANSFER_TIME_T, &pre);
      curl_easy_getinfo(done.ex->easy.get(), CURLINFO_STARTTRANSFER_TIME_T, &first);
      server_ms = static_cast<double>(first - pre) / 1000.0;
    }
    {
      std::lock_guard<std::mutex> lock(fleet_.mu_);
      FleetStats& s = fleet_.stats_;
      if (!answer.transport_ok) {
        ++s.transport_errors;
        if (done.result == CURLE_COULDNT_CONNECT) ++s.connect_failures;
      } else if (reading.outcome.kind == Kind::kAccepted) {
        ++s.heartbeats_accepted;
        s.server_ms.push_back(server_ms);
        s.ingest_ms.push_back(msBetween(done.ex->sent, done.at));
      } else if (reading.outcome.kind == Kind::kOverloaded) {
        if (a.refusals < UINT16_MAX) ++a.refusals;
        ++s.overloaded;
        if (!answer.retry_after_s) ++s.overloaded_without_retry_after;
      } else {
        ++s.other_http_errors;
      }
    }
    spare_.push_back(std::move(done.ex->easy));
    if (quiet(a)) return;  // killed or paused while the request was out
    if (reading.outcome.kind == Kind::kAccepted) {
      noteReturn(a, done.at);
      if (done.ex->carried_outages) {
        a.outages.clear();
        a.outage_open = false;
      } else if (a.outage_open) {
        a.outage_open = false;
      }
      offerChannels(index, reading.channels);
    } else if (reading.outcome.kind != Kind::kStaleTimestamp &&
               reading.outcome.kind != Kind::kReplayedSequence) {
      recordFailure(a, reading.cause.empty() ? protocol::causes::kOther : reading.cause);
    }
    const agent::ScheduleDecision d = a.scheduler->onOutcome(reading.outcome);
    a.seq += d.sequence_jump;
    if (a.beacon &&
        a.beacon->noteHeartbeat(reading.outcome.kind == Kind::kAccepted, done.at - done.ex->due)) {
      scheduleBeacon(index);  // resumed now
    }
    if (a.beacon) a.beacon->setClockOffset(a.scheduler->clockOffset());
    scheduleBeat(index, done.at + d.delay);
  }

 public:
  void indexIds() {
    by_id_.clear();
    for (uint32_t i = 0; i < fleet_.agents_.size(); ++i) by_id_[fleet_.agents_[i]->id] = i;
    start_time_ = std::chrono::steady_clock::now();
    started_ = true;
  }

 private:
  Fleet& fleet_;
  const FleetOptions& options_;
  std::mt19937_64 rng_;
  NullBuffer null_buffer_;
  std::ostream null_out_;
  agent::Logger log_;
  CurlMultiPtr multi_;
  const long connection_limit_;  // connections of the multi handle
  int udp_ = -1;
  // Receives the beacon channels' fallback requests; onBeaconDue reads them off each channel.
  struct IgnoredEvents : agent::SystemEventSink {
    void onSystemEvent(agent::SystemEvent /*event*/) override {}
  } fallback_requests_;
  uint16_t beacon_port_ = 0;
  uint64_t enroll_server_errors_ = 0;  // enrollment answers 5xx other than 503
  bool started_ = false;
  MonoTime start_time_;
  std::priority_queue<Event, std::vector<Event>, std::greater<Event>> events_;
  std::unordered_map<CURL*, std::unique_ptr<Exchange>> in_flight_;
  std::deque<uint32_t> ready_;  // agents whose beat is due, waiting for a transfer slot
  std::vector<Event> round_;    // the events of the current round
  std::vector<CurlEasyPtr> spare_;
  std::unordered_map<std::string, uint32_t> by_id_;
};

Fleet::Fleet(FleetOptions options) : options_(std::move(options)) {
  loop_ = std::make_unique<Loop>(*this, options_);
}

Fleet::~Fleet() { stop(); }

uint32_t Fleet::addAgents(uint32_t count, const std::string& enroll_token,
                          const std::string& site_label) {
  const uint32_t first = size();
  for (uint32_t i = 0; i < count; ++i) {
    auto a = std::make_unique<SimAgent>();
    a->enroll_token = enroll_token;
    a->site = site_label;
    a->hostname = "sim-" + site_label + "-" + std::to_string(first + i);
    a->boot_id = randomHex(loop_->rng(), 32);
    a->uptime_base_s = static_cast<int64_t>(loop_->rng()() % 864000);
    a->scheduler = std::make_unique<agent::HeartbeatScheduler>(
        options_.scheduler, RealClock::instance(), loop_->uniform());
    agents_.push_back(std::move(a));
  }
  return first;
}

Status Fleet::enroll(int concurrency) {
  Status s = loop_->enroll(concurrency);
  loop_->indexIds();
  return s;
}

uint64_t Fleet::enrollmentServerErrors() const { return loop_->enrollServerErrors(); }

void Fleet::start(bool machine_booted) {
  loop_->start(machine_booted);
  stopping_ = false;
  thread_ = std::thread([this] { loop_->run(stopping_); });
}

void Fleet::stop() {
  stopping_ = true;
  if (thread_.joinable()) thread_.join();
}

void Fleet::post(Command command) {
  const WallTime now = std::chrono::system_clock::now();
  std::lock_guard<std::mutex> lock(mu_);
  for (uint32_t agent : command.agents) {
    TruthEvent t;
    t.agent = agent;
    t.at = now;
    t.channel = command.channel;
    switch (command.kind) {
      case Command::Kind::kKill:
        t.kind = TruthEvent::Kind::kDied;
        break;
      case Command::Kind::kRevive:
        t.kind = TruthEvent::Kind::kRevived;
        break;
      case Command::Kind::kPause:
        t.kind = TruthEvent::Kind::kPaused;
        break;
      case Command::Kind::kResume:
        t.kind = TruthEvent::Kind::kResumed;
        break;
      case Command::Kind::kBlock:
        t.kind = command.on ? TruthEvent::Kind::kChannelLost : TruthEvent::Kind::kChannelBack;
        break;
      case Command::Kind::kPartition:
        t.kind = command.on ? TruthEvent::Kind::kPartitioned : TruthEvent::Kind::kPartitionOver;
        break;
    }
    truth_.push_back(t);
  }
  commands_.push_back(std::move(command));
}

void Fleet::kill(const std::vector<uint32_t>& agents) {
  post({Command::Kind::kKill, agents, Channel::kHeartbeat, true});
}
void Fleet::revive(const std::vector<uint32_t>& agents) {
  post({Command::Kind::kRevive, agents, Channel::kHeartbeat, true});
}
void Fleet::pause(const std::vector<uint32_t>& agents) {
  post({Command::Kind::kPause, agents, Channel::kHeartbeat, true});
}
void Fleet::resume(const std::vector<uint32_t>& agents) {
  post({Command::Kind::kResume, agents, Channel::kHeartbeat, true});
}
void Fleet::blockChannel(const std::vector<uint32_t>& agents, Channel channel, bool blocked) {
  post({Command::Kind::kBlock, agents, channel, blocked});
}
void Fleet::partition(const std::vector<uint32_t>& agents, bool partitioned) {
  post({Command::Kind::kPartition, agents, Channel::kHeartbeat, partitioned});
}

const std::string& Fleet::agentId(uint32_t agent) const { return agents_[agent]->id; }
const std::string& Fleet::siteLabel(uint32_t agent) const { return agents_[agent]->site; }

std::vector<uint32_t> Fleet::agentsOfSite(const std::string& site_label) const {
  std::vector<uint32_t> out;
  for (uint32_t i = 0; i < agents_.size(); ++i) {
    if (agents_[i]->site == site_label) out.push_back(i);
  }
  return out;
}

std::vector<TruthEvent> Fleet::truth() const {
  std::lock_guard<std::mutex> lock(mu_);
  return truth_;
}

FleetStats Fleet::takeStats() {
  std::lock_guard<std::mutex> lock(mu_);
  FleetStats out = std::move(stats_);
  stats_ = FleetStats();
  return out;
}

void Fleet::markCollectorBack(MonoTime at) {
  const int64_t at_ns =
      std::chrono::duration_cast<std::chrono::nanoseconds>(at.time_since_epoch()).count();
  back_from_ns_.store(std::max<int64_t>(1, at_ns), std::memory_order_relaxed);
}

ReturnStats Fleet::returnStats() const {
  ReturnStats out;
  const int64_t back_ns = back_from_ns_.load(std::memory_order_relaxed);
  out.marked = back_ns != 0;
  for (const auto& agent : agents_) {
    const SimAgent& a = *agent;
    out.max_refusals_per_agent = std::max<uint32_t>(out.max_refusals_per_agent, a.refusals);
    if (a.refusals > 0) ++out.agents_refused;
    if (a.refusals > 1) ++out.agents_refused_twice;
    if (!out.marked || a.dead) continue;
    ++out.agents_judged;
    if (a.back_epoch_ns == back_ns) {
      out.back_after_s.push_back(a.back_after_s);
    } else {
      ++out.agents_not_back;
    }
  }
  if (!out.back_after_s.empty()) {
    out.first_accept_after_s = *std::min_element(out.back_after_s.begin(), out.back_after_s.end());
    for (double& after : out.back_after_s) after -= out.first_accept_after_s;
  }
  return out;
}

void FleetStats::add(const FleetStats& later) {
  heartbeats_sent += later.heartbeats_sent;
  heartbeats_accepted += later.heartbeats_accepted;
  overloaded += later.overloaded;
  overloaded_without_retry_after += later.overloaded_without_retry_after;
  other_http_errors += later.other_http_errors;
  transport_errors += later.transport_errors;
  connect_failures += later.connect_failures;
  simulated_failures += later.simulated_failures;
  connections_opened += later.connections_opened;
  tls_full_handshakes += later.tls_full_handshakes;
  tls_resumed_handshakes += later.tls_resumed_handshakes;
  beacons_sent += later.beacons_sent;
  beacon_acks += later.beacon_acks;
  fallback_beats += later.fallback_beats;
  server_ms.insert(server_ms.end(), later.server_ms.begin(), later.server_ms.end());
  ingest_ms.insert(ingest_ms.end(), later.ingest_ms.begin(), later.ingest_ms.end());
}

size_t Fleet::approximateBytesPerAgent() const {
  return sizeof(SimAgent) + sizeof(agent::HeartbeatScheduler) + sizeof(agent::BeaconChannel) +
         4 * 64;  // four short strings (ids, secret, boot id, host name) on the heap
}

}  // namespace vigil::fleetsim
