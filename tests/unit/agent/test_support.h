#pragma once

// Fakes and helpers shared by the agent's unit tests.

#include <atomic>
#include <boost/test/unit_test.hpp>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <ostream>
#include <random>
#include <string>
#include <vector>

#include "agent/core/collector_client.h"
#include "agent/core/identity_store.h"
#include "agent/core/platform.h"
#include "agent/core/sequence_allocator.h"
#include "agent/core/waiter.h"
#include "common/clock.h"
#include "common/protocol.h"
#include "common/status.h"
#include "tests/support/temp_dir.h"

// Lets BOOST_TEST print durations (as seconds) when a comparison fails.
namespace boost::test_tools::tt_detail {
template <typename Rep, typename Period>
struct print_log_value<std::chrono::duration<Rep, Period>> {
  void operator()(std::ostream& os, const std::chrono::duration<Rep, Period>& d) {
    os << std::chrono::duration<double>(d).count() << " s";
  }
};
// ... and file modes, in octal.
template <>
struct print_log_value<std::filesystem::perms> {
  void operator()(std::ostream& os, const std::filesystem::perms& p) {
    os << std::oct << static_cast<unsigned>(p) << std::dec;
  }
};
}  // namespace boost::test_tools::tt_detail

namespace vigil::agent::testing {

// The error of a Result as text, or "" when it holds a value: safe to pass as the message of
// BOOST_TEST, which evaluates its message even when the check passes.
template <typename T>
std::string errorText(const Result<T>& r) {
  return r.ok() ? std::string() : r.error().toString();
}
template <typename T>
std::string errorText(const Result<T, protocol::DecodeError>& r) {
  return r.ok() ? std::string() : r.error().code + " " + r.error().field;
}

// Advances a SimulatedClock instead of sleeping, and records every wait. `on_wait` runs after
// each wait (tests use it to stop the runner after a number of waits). Events posted with
// postAfter() end the wait in which they fall, after advancing the clock to their time.
class SimulatedWaiter final : public Waiter {
 public:
  explicit SimulatedWaiter(SimulatedClock& clock) : clock_(clock) {}

  WakeReason waitFor(Duration d) override {
    if (stop_.load()) return WakeReason::kStopped;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!pending_.empty()) return WakeReason::kEvent;
    }
    WakeReason why = WakeReason::kElapsed;
    Duration advanced = d;
    {
      std::lock_guard<std::mutex> lock(mu_);
      const MonoTime now = clock_.monotonicNow();
      if (!scheduled_.empty() && scheduled_.front().first <= now + d) {
        advanced = std::max(Duration::zero(), scheduled_.front().first - now);
        pending_.push_back(scheduled_.front().second);
        scheduled_.pop_front();
        why = WakeReason::kEvent;
      }
      waits_.push_back(advanced);
    }
    if (advanced > Duration::zero()) clock_.advance(advanced);
    if (on_wait) on_wait(waits().size());
    if (stop_.load()) return WakeReason::kStopped;
    return why;
  }
  std::vector<SystemEvent> takeEvents() override {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<SystemEvent> out;
    out.swap(pending_);
    return out;
  }
  void requestStop() override { stop_.store(true); }
  bool stopRequested() const override { return stop_.load(); }
  void onSystemEvent(SystemEvent event) override {
    std::lock_guard<std::mutex> lock(mu_);
    pending_.push_back(event);
  }

  // Delivers `event` when the simulated clock reaches now + `after` (during a wait).
  void postAfter(Duration after, SystemEvent event) {
    std::lock_guard<std::mutex> lock(mu_);
    scheduled_.emplace_back(clock_.monotonicNow() + after, event);
  }

  std::vector<Duration> waits() const {
    std::lock_guard<std::mutex> lock(mu_);
    return waits_;
  }
  // Called with the number of waits so far.
  std::function<void(size_t)> on_wait;

 private:
  SimulatedClock& clock_;
  std::atomic<bool> stop_{false};
  mutable std::mutex mu_;
  std::vector<Duration> waits_;
  std::vector<SystemEvent> pending_;
  std::deque<std::pair<MonoTime, SystemEvent>> scheduled_;
};

inline CollectorAnswer httpAnswer(long status, std::string body,
                                  std::optional<int64_t> retry_after_s = std::nullopt) {
  CollectorAnswer a;
  a.transport_ok = true;
  a.http_status = status;
  a.body = std::move(body);
  a.retry_after_s = retry_after_s;
  return a;
}

inline CollectorAnswer networkError(std::string why) {
  CollectorAnswer a;
  a.transport_ok = false;
  a.transport_error = std::move(why);
  a.transport_cause = protocol::causes::kConnect;
  return a;
}

// Answers from a script; records every request with the simulated time it was made.
class FakeCollectorClient final : public CollectorClient {
 public:
  explicit FakeCollectorClient(const Clock& clock) : clock_(clock) {}

  struct Request {
    std::string path;
    std::optional<protocol::EnrollRequest> enroll;
    std::optional<SignedHeartbeat> heartbeat;
    MonoTime at;
    std::optional<Duration> timeout;
  };

  // The answer the next request gets; if the script is empty, `fallback` answers.
  std::deque<std::function<CollectorAnswer(const Request&)>> script;
  std::function<CollectorAnswer(const Request&)> fallback;
  // Runs before each answer is produced (tests stop the runner from here).
  std::function<void(const Request&)> on_request;

  CollectorAnswer enroll(const protocol::EnrollRequest& request) override {
    Request r{protocol::kEnrollPath, request, std::nullopt, clock_.monotonicNow(), std::nullopt};
    return answer(r);
  }
  CollectorAnswer heartbeat(const SignedHeartbeat& heartbeat,
                            std::optional<Duration> timeout) override {
    Request r{protocol::kHeartbeatPath, std::nullopt, heartbeat, clock_.monotonicNow(), timeout};
    return answer(r);
  }
  void cancel() override { cancelled.store(true); }
  void resume() override { cancelled.store(false); }

  std::vector<Request> requests;
  std::atomic<bool> cancelled{false};

 private:
  CollectorAnswer answer(const Request& r) {
    requests.push_back(r);
    if (on_request) on_request(r);
    if (cancelled.load()) return networkError("cancelled");
    if (!script.empty()) {
      auto next = std::move(script.front());
      script.pop_front();
      return next(r);
    }
    if (fallback) return fallback(r);
    return networkError("no scripted answer");
  }

  const Clock& clock_;
};

class FakeSystemInfo final : public SystemFactsSource, public BootIdentitySource {
 public:
  Result<SystemFacts> facts() override { return facts_value; }
  Result<BootIdentity> bootIdentity() override { return boot_value; }

  SystemFacts facts_value{"host-1", "linux", "Debian GNU/Linux 12 (bookworm)", "x86_64"};
  BootIdentity boot_value{"3c9e4f2a-0000-4000-8000-000000000001", 1234};
};

class InMemoryIdentityStore final : public IdentityStore {
 public:
  Result<std::optional<Identity>> load() override {
    if (!load_error.ok()) return load_error;
    return stored;
  }
  Status save(const Identity& identity) override {
    if (!save_error.ok()) return save_error;
    stored = identity;
    ++saves;
    return Status::okStatus();
  }
  Status remove() override {
    stored.reset();
    return Status::okStatus();
  }
  std::optional<Identity> stored;
  Status load_error;
  Status save_error;
  int saves = 0;
};

class InMemorySequenceStore final : public SequenceStore {
 public:
  Result<uint64_t> loadReservation() override {
    if (!load_error.ok()) return load_error;
    return reserved_below;
  }
  Status storeReservation(uint64_t value) override {
    if (!store_error.ok()) return store_error;
    reserved_below = value;
    ++stores;
    return Status::okStatus();
  }
  uint64_t reserved_below = 0;
  Status load_error;
  Status store_error;
  int stores = 0;
};

// Creates directories and does nothing else: for core tests that do not test permissions
// (the real protections are tested in the platform tests).
class PlainStateProtection final : public StateProtection {
 public:
  Status securePrivateDirectory(const std::string& dir) override {
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    return ec ? Status::ioError(ec.message()) : Status::okStatus();
  }
  Status securePrivateFile(const std::string&) override {
    ++secured_files;
    return Status::okStatus();
  }
  Status actAsOwnerOf(const std::string&) override { return Status::okStatus(); }
  int secured_files = 0;  // files made private before they were written
};

// UDP sockets on a SimulatedClock, for tests of the runner's datagram channels (each runs on a
// DatagramWorker thread of its own). A socket's receive() returns once its timeout has passed
// on the simulated clock, or it is interrupted; nothing ever arrives. Time moves only when the
// test moves it, so after moving it the test calls settle(): it returns once every channel has
// sent what was due and waits in receive() again. Records every datagram sent.
class SimulatedUdpNetwork final : public UdpSocketFactory {
 public:
  struct Sent {
    std::string host;
    uint16_t port = 0;
    std::string bytes;
    int64_t wall_ms = 0;  // the simulated wall clock when it was sent
  };

  explicit SimulatedUdpNetwork(const Clock& clock) : clock_(clock) {}

  Result<std::unique_ptr<UdpSocket>> open(const UdpSocketOptions&) override {
    std::lock_guard<std::mutex> lock(mu_);
    auto state = std::make_shared<SocketState>();
    sockets_.push_back(state);
    return std::unique_ptr<UdpSocket>(std::make_unique<Socket>(*this, state));
  }
  std::vector<std::string> broadcastAddresses() override { return {"192.0.2.255"}; }

  // Wakes the sockets whose timeout has passed and waits until every open socket is again
  // waiting in receive() for a time still ahead (its worker took and sent what was due), or
  // was interrupted. A socket opened but not yet waiting is waited for: its worker starts by
  // sending its first datagrams.
  void settle() {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.notify_all();
    cv_.wait(lock, [&] {
      const MonoTime now = clock_.monotonicNow();
      for (const auto& weak : sockets_) {
        std::shared_ptr<SocketState> s = weak.lock();
        if (s && !s->interrupted && !(s->waiting && now < s->deadline)) return false;
      }
      return true;
    });
  }

  std::vector<Sent> sent() const {
    std::lock_guard<std::mutex> lock(mu_);
    return sent_;
  }

 private:
  struct SocketState {
    bool waiting = false;
    bool interrupted = false;
    MonoTime deadline;
  };

  class Socket final : public UdpSocket {
   public:
    Socket(SimulatedUdpNetwork& net, std::shared_ptr<SocketState> state)
        : net_(net), state_(std::move(state)) {}
    Status sendTo(const std::string& host, uint16_t port, const std::string& bytes) override {
      std::lock_guard<std::mutex> lock(net_.mu_);
      net_.sent_.push_back(Sent{host, port, bytes, toUnixMillis(net_.clock_.wallNow())});
      return Status::okStatus();
    }
    Result<std::optional<Datagram>> receive(Duration timeout, size_t) override {
      std::unique_lock<std::mutex> lock(net_.mu_);
      state_->deadline = net_.clock_.monotonicNow() + timeout;
      state_->waiting = true;
      net_.cv_.notify_all();
      net_.cv_.wait(lock, [&] {
        return state_->interrupted || net_.clock_.monotonicNow() >= state_->deadline;
      });
      state_->waiting = false;
      net_.cv_.notify_all();
      return std::optional<Datagram>();
    }
    void interrupt() override {
      std::lock_guard<std::mutex> lock(net_.mu_);
      state_->interrupted = true;
      net_.cv_.notify_all();
    }

   private:
    SimulatedUdpNetwork& net_;
    std::shared_ptr<SocketState> state_;
  };

  const Clock& clock_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::weak_ptr<SocketState>> sockets_;
  std::vector<Sent> sent_;
};

}  // namespace vigil::agent::testing
