#include "tools/fleetsim/cuttable_proxy.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

#include "tools/fleetsim/socket_address.h"

namespace vigil::fleetsim {
namespace {

constexpr size_t kBufferBytes = 256 * 1024;  // per direction: a backend's burst fits

// A listening socket on 127.0.0.1:`port` (0: any free port), non-blocking; -1 on failure.
int listenOn(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  const int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr = ipv4Endpoint("127.0.0.1", port);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(fd, 64) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

int boundPort(int fd) {
  sockaddr_in addr{};
  socklen_t len = sizeof addr;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) return 0;
  return ntohs(addr.sin_port);
}

// Closes with a reset instead of an orderly end: the peer sees its connection torn away, as a
// partition's timeout or a middlebox would end it, not a clean goodbye.
void closeWithReset(int fd) {
  const linger abort{1, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &abort, sizeof abort);
  ::close(fd);
}

}  // namespace

// One connection: the collector's side and the server's, and what each has sent that the other
// has not taken yet.
struct CuttableProxy::Pair {
  int fd[2] = {-1, -1};    // 0: the client (collector), 1: the upstream (PostgreSQL)
  std::string pending[2];  // bytes waiting to be written to fd[i]
  bool done = false;
};

class CuttableProxy::Loop {
 public:
  Loop(CuttableProxy& proxy, int listener) : proxy_(proxy), listener_(listener) {}
  ~Loop() {
    dropAll();
    if (listener_ >= 0) ::close(listener_);
  }

  void run() {
    std::vector<pollfd> fds;
    while (!proxy_.stopping_.load()) {
      applyChange();
      fds.clear();
      fds.push_back({proxy_.wake_.fd(), POLLIN, 0});
      fds.push_back({listener_, static_cast<short>(listener_ >= 0 ? POLLIN : 0), 0});
      for (const Pair& p : pairs_) {
        for (int side = 0; side < 2; ++side) {
          short events = 0;
          // Read from a side only while the other side's queue has room.
          if (p.pending[1 - side].size() < kBufferBytes) events |= POLLIN;
          if (!p.pending[side].empty()) events |= POLLOUT;
          fds.push_back({p.fd[side], events, 0});
        }
      }
      if (::poll(fds.data(), fds.size(), 200) < 0 && errno != EINTR) return;
      if (fds[0].revents & POLLIN) proxy_.wake_.clear();
      if (listener_ >= 0 && (fds[1].revents & POLLIN)) acceptAll();
      for (size_t i = 0; i < pairs_.size() && 2 + 2 * i + 1 < fds.size(); ++i) {
        for (int side = 0; side < 2; ++side) pump(pairs_[i], side, fds[2 + 2 * i + side].revents);
      }
      for (size_t i = 0; i < pairs_.size();) {
        if (pairs_[i].done) {
          ::close(pairs_[i].fd[0]);
          ::close(pairs_[i].fd[1]);
          pairs_.erase(pairs_.begin() + static_cast<std::ptrdiff_t>(i));
        } else {
          ++i;
        }
      }
    }
  }

 private:
  // The state the runner asked for: a cut drops every connection and stops listening; a heal
  // listens again on the same port.
  void applyChange() {
    const uint64_t posted = proxy_.changes_posted_.load();
    if (posted != proxy_.changes_made_.load()) {
      const bool cut = proxy_.want_cut_.load();
      if (cut) {
        proxy_.dropped_ += pairs_.size();
        dropAll();
        if (listener_ >= 0) ::close(listener_);
        listener_ = -1;
      }
      proxy_.cut_ = cut;
      proxy_.changes_made_ = posted;
    }
    // Healed: listening again (tried again each round should the port be busy a moment).
    if (!proxy_.cut_.load() && listener_ < 0) listener_ = listenOn(proxy_.port_);
  }

  void dropAll() {
    for (Pair& p : pairs_) {
      closeWithReset(p.fd[0]);
      closeWithReset(p.fd[1]);
    }
    pairs_.clear();
  }

  void acceptAll() {
    for (;;) {
      const int client = ::accept4(listener_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (client < 0) return;
      const int upstream = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      sockaddr_in to = ipv4Endpoint("127.0.0.1", proxy_.upstream_port_);
      // On loopback a connect is answered at once; refused, the collector sees its connection
      // reset, as it would see the server's refusal.
      if (upstream < 0 || ::connect(upstream, reinterpret_cast<sockaddr*>(&to), sizeof to) != 0) {
        if (upstream >= 0) ::close(upstream);
        closeWithReset(client);
        continue;
      }
      ::fcntl(upstream, F_SETFL, ::fcntl(upstream, F_GETFL) | O_NONBLOCK);
      Pair p;
      p.fd[0] = client;
      p.fd[1] = upstream;
      pairs_.push_back(std::move(p));
      ++proxy_.accepted_;
    }
  }

  // Moves bytes of one side: what it sent goes to the other side's queue, and its own queue is
  // written to it. The end or failure of either side ends the connection.
  void pump(Pair& p, int side, short revents) {
    if (p.done) return;
    if (revents & (POLLIN | POLLHUP | POLLERR)) {
      char buffer[65536];
      const ssize_t n = ::recv(p.fd[side], buffer, sizeof buffer, 0);
      if (n > 0) {
        p.pending[1 - side].append(buffer, static_cast<size_t>(n));
      } else if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
        p.done = true;
        return;
      }
    }
    if (!p.pending[side].empty()) {
      const ssize_t n =
          ::send(p.fd[side], p.pending[side].data(), p.pending[side].size(), MSG_NOSIGNAL);
      if (n > 0) {
        p.pending[side].erase(0, static_cast<size_t>(n));
      } else if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
        p.done = true;
      }
    }
  }

  CuttableProxy& proxy_;
  int listener_;
  std::vector<Pair> pairs_;
};

Result<std::unique_ptr<CuttableProxy>> CuttableProxy::start(int upstream_port) {
  const int listener = listenOn(0);
  if (listener < 0)
    return Status::unavailable("cannot listen on 127.0.0.1: " + std::string(std::strerror(errno)));
  return std::unique_ptr<CuttableProxy>(
      new CuttableProxy(listener, boundPort(listener), upstream_port));
}

CuttableProxy::CuttableProxy(int listener, int port, int upstream_port)
    : port_(port), upstream_port_(upstream_port) {
  loop_ = std::make_unique<Loop>(*this, listener);
  thread_ = std::thread([this] { loop_->run(); });
}

CuttableProxy::~CuttableProxy() {
  stopping_ = true;
  wake_.wake();
  thread_.join();
  loop_.reset();
}

void CuttableProxy::cut() { request(true); }

void CuttableProxy::heal() { request(false); }

void CuttableProxy::request(bool cut) {
  std::lock_guard<std::mutex> lock(mu_);
  want_cut_ = cut;
  const uint64_t posted = ++changes_posted_;
  wake_.wake();
  while (changes_made_.load() < posted && !stopping_.load()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

}  // namespace vigil::fleetsim
