#pragma once

// An eventfd that wakes a thread's poll() loop from another thread (the lab's proxies: a
// change to make, or the end). Owns the descriptor.

#include <sys/eventfd.h>
#include <unistd.h>

#include <cstdint>

namespace vigil::fleetsim {

class LoopWakeup {
 public:
  LoopWakeup() : fd_(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {}
  ~LoopWakeup() {
    if (fd_ >= 0) ::close(fd_);
  }
  LoopWakeup(const LoopWakeup&) = delete;
  LoopWakeup& operator=(const LoopWakeup&) = delete;

  bool ok() const { return fd_ >= 0; }
  int fd() const { return fd_; }  // to poll for POLLIN
  // A failed write or read only means that a wake-up was pending already, or none was.
  void wake() const {
    const uint64_t one = 1;
    if (::write(fd_, &one, sizeof one) < 0) return;
  }
  void clear() const {
    uint64_t count = 0;
    if (::read(fd_, &count, sizeof count) < 0) return;
  }

 private:
  int fd_;
};

}  // namespace vigil::fleetsim
