#include "tools/fleetsim/beacon_forwarder.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <map>
#include <utility>

#include "tools/fleetsim/socket_address.h"

namespace vigil::fleetsim {
namespace {

// Generous socket buffers: a fleet's beacons come in bursts (the kernel caps them at its
// rmem_max/wmem_max).
constexpr int kSocketBufferBytes = 8 << 20;
// Senders remembered (each with a socket of its own towards the collectors): the simulated
// fleet sends from one socket, each real agent from its own.
constexpr size_t kMaxSenders = 1024;

int udpSocket(const sockaddr_in& bind_to) {
  const int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &kSocketBufferBytes, sizeof kSocketBufferBytes);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &kSocketBufferBytes, sizeof kSocketBufferBytes);
  if (::bind(fd, reinterpret_cast<const sockaddr*>(&bind_to), sizeof bind_to) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

}  // namespace

class BeaconForwarder::Loop {
 public:
  Loop(BeaconForwarder& forwarder, int front) : f_(forwarder), front_(front) {
    for (const Backend& b : f_.backends_) targets_.push_back(ipv4Endpoint(b.address, b.port));
  }
  ~Loop() {
    for (const auto& [sender, fd] : upstream_) ::close(fd);
    ::close(front_);
  }

  void run() {
    std::vector<pollfd> fds;
    std::vector<const Sender*> senders;
    while (!f_.stopping_.load()) {
      fds.assign({{f_.wake_.fd(), POLLIN, 0}, {front_, POLLIN, 0}});
      senders.clear();
      for (const auto& [sender, fd] : upstream_) {
        fds.push_back({fd, POLLIN, 0});
        senders.push_back(&sender);
      }
      if (::poll(fds.data(), fds.size(), 200) < 0 && errno != EINTR) return;
      if (fds[0].revents & POLLIN) f_.wake_.clear();
      for (size_t i = 2; i < fds.size(); ++i) {
        if (fds[i].revents & POLLIN) answer(fds[i].fd, *senders[i - 2]);
      }
      if (fds[1].revents & POLLIN) forward();
    }
  }

 private:
  using Sender = std::pair<uint32_t, uint16_t>;  // address and port, network order

  // Datagrams from agents, each to the next collector up.
  void forward() {
    char buffer[2048];
    for (int i = 0; i < 4096; ++i) {
      sockaddr_in from{};
      socklen_t len = sizeof from;
      const ssize_t n =
          ::recvfrom(front_, buffer, sizeof buffer, 0, reinterpret_cast<sockaddr*>(&from), &len);
      if (n < 0) return;
      const int out = upstreamFor({from.sin_addr.s_addr, from.sin_port});
      const sockaddr_in* to = next();
      if (out < 0 || to == nullptr) {
        ++f_.unrouted_;
        continue;
      }
      if (::sendto(out, buffer, static_cast<size_t>(n), 0, reinterpret_cast<const sockaddr*>(to),
                   sizeof *to) >= 0) {
        ++f_.forwarded_;
      }
    }
  }

  // A collector's answers, back to the agent they are for, from the port it sent to.
  void answer(int fd, const Sender& sender) {
    char buffer[2048];
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_addr.s_addr = sender.first;
    to.sin_port = sender.second;
    for (int i = 0; i < 4096; ++i) {
      const ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
      if (n < 0) return;
      if (::sendto(front_, buffer, static_cast<size_t>(n), 0, reinterpret_cast<sockaddr*>(&to),
                   sizeof to) >= 0) {
        ++f_.answered_;
      }
    }
  }

  int upstreamFor(const Sender& sender) {
    auto it = upstream_.find(sender);
    if (it != upstream_.end()) return it->second;
    if (upstream_.size() >= kMaxSenders) return -1;
    const int fd = udpSocket(ipv4Endpoint("127.0.0.1", 0));
    if (fd >= 0) upstream_.emplace(sender, fd);
    return fd;
  }

  const sockaddr_in* next() {
    for (size_t tried = 0; tried < targets_.size(); ++tried) {
      const size_t i = rotation_++ % targets_.size();
      if (f_.up_[i].load()) return &targets_[i];
    }
    return nullptr;
  }

  BeaconForwarder& f_;
  int front_;
  std::vector<sockaddr_in> targets_;
  std::map<Sender, int> upstream_;
  size_t rotation_ = 0;
};

Result<std::unique_ptr<BeaconForwarder>> BeaconForwarder::start(int port,
                                                                std::vector<Backend> backends) {
  const int front = udpSocket(ipv4Endpoint("127.0.0.1", port));
  if (front < 0) {
    return Status::unavailable("cannot bind udp 127.0.0.1:" + std::to_string(port) + ": " +
                               std::strerror(errno));
  }
  return std::unique_ptr<BeaconForwarder>(new BeaconForwarder(front, std::move(backends)));
}

BeaconForwarder::BeaconForwarder(int front, std::vector<Backend> backends)
    : backends_(std::move(backends)), up_(new std::atomic<bool>[backends_.size()]) {
  for (size_t i = 0; i < backends_.size(); ++i) up_[i] = false;
  loop_ = std::make_unique<Loop>(*this, front);
  thread_ = std::thread([this] { loop_->run(); });
}

BeaconForwarder::~BeaconForwarder() {
  stopping_ = true;
  wake_.wake();
  thread_.join();
  loop_.reset();
}

void BeaconForwarder::setUp(size_t backend, bool up) {
  if (backend < backends_.size()) up_[backend] = up;
}

}  // namespace vigil::fleetsim
