// NetworkMonitor for Linux: state from /proc and getifaddrs(3), changes from rtnetlink.
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <poll.h>
#include <sys/socket.h>

#include <cerrno>
#include <chrono>
#include <memory>
#include <optional>
#include <system_error>
#include <thread>
#include <utility>

#include "agent/platform/linux/linux_platform.h"
#include "agent/platform/linux/network_state.h"
#include "agent/platform/posix/interruptible_poll.h"
#include "agent/platform/posix/posix_status.h"
#include "agent/platform/posix/unique_fd.h"

namespace vigil::agent::linux_platform {
namespace {

using posix::errnoStatus;
using posix::InterruptiblePoll;
using posix::PollOutcome;
using posix::UniqueFd;

constexpr unsigned kWatchedGroups =
    RTMGRP_LINK | RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR | RTMGRP_IPV4_ROUTE | RTMGRP_IPV6_ROUTE;

enum class DrainResult { kNothing, kChanged, kFailed };

// Reads the messages waiting on the netlink socket (at most a bounded number per call, so a
// storm cannot hold the thread). Any message, and a lost one (ENOBUFS: the kernel dropped
// messages because the socket's buffer was full), means a change.
DrainResult drainNetlink(int fd) {
  constexpr int kMaxReadsPerDrain = 256;
  char buffer[8192];
  DrainResult result = DrainResult::kNothing;
  for (int reads = 0; reads < kMaxReadsPerDrain; ++reads) {
    const ssize_t n = ::recv(fd, buffer, sizeof buffer, MSG_DONTWAIT);
    if (n >= 0 || errno == ENOBUFS) {
      result = DrainResult::kChanged;
      continue;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return result;
    return DrainResult::kFailed;
  }
  return result;
}

class NetlinkNetworkMonitor final : public NetworkMonitor {
 public:
  explicit NetlinkNetworkMonitor(Duration settle) : settle_(settle) {}
  ~NetlinkNetworkMonitor() override { stop(); }

  Result<NetworkState> state() override { return readNetworkState(); }

  Status start(SystemEventSink& sink) override {
    if (thread_.joinable()) return Status::failedPrecondition("network monitor already started");
    UniqueFd fd(::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_ROUTE));
    if (!fd.valid()) return errnoStatus("cannot watch network changes: netlink socket", errno);
    sockaddr_nl address{};
    address.nl_family = AF_NETLINK;
    address.nl_groups = kWatchedGroups;
    if (::bind(fd.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0) {
      return errnoStatus("cannot watch network changes: netlink bind", errno);
    }
    Result<InterruptiblePoll> poll = InterruptiblePoll::create();
    if (!poll.ok()) return poll.error();

    socket_ = std::move(fd);
    poll_.emplace(std::move(poll).value());
    try {
      thread_ = std::thread([this, &sink] { watch(sink); });
    } catch (const std::system_error& e) {
      socket_.reset();
      poll_.reset();
      return Status::internal(std::string("cannot start the network watch thread: ") + e.what());
    }
    return Status::okStatus();
  }

  void stop() override {
    if (!thread_.joinable()) return;
    poll_->wake();
    thread_.join();
    poll_.reset();
    socket_.reset();
  }

 private:
  // Posts one kNetworkChanged per burst: `settle_` after the burst's first message, unless
  // stop() comes first.
  void watch(SystemEventSink& sink) {
    std::optional<MonoTime> post_at;
    for (;;) {
      const Result<PollOutcome> outcome = poll_->wait(socket_.get(), POLLIN, post_at);
      if (!outcome.ok() || *outcome == PollOutcome::kWoken) return;
      if (*outcome == PollOutcome::kTimedOut) {
        sink.onSystemEvent(SystemEvent::kNetworkChanged);
        post_at.reset();
        continue;
      }
      const DrainResult drained = drainNetlink(socket_.get());
      if (drained == DrainResult::kFailed) {
        sink.onSystemEvent(SystemEvent::kNetworkChanged);  // the watch ends: look once more
        return;
      }
      if (drained == DrainResult::kChanged && !post_at) {
        post_at = std::chrono::steady_clock::now() + settle_;
      }
    }
  }

  const Duration settle_;
  UniqueFd socket_;
  std::optional<InterruptiblePoll> poll_;
  std::thread thread_;
};

}  // namespace

std::unique_ptr<NetworkMonitor> makeNetworkMonitor(Duration settle) {
  return std::make_unique<NetlinkNetworkMonitor>(settle);
}

}  // namespace vigil::agent::linux_platform
