#pragma once

// The owner of a POSIX file descriptor (files, sockets, pipes).

#include "common/status.h"

namespace vigil::agent::posix {

// Move-only; closes the descriptor it holds on destruction. -1 means "none".
class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  ~UniqueFd() { reset(); }
  UniqueFd(UniqueFd&& other) noexcept : fd_(other.release()) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept {
    if (this != &other) reset(other.release());
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  // Gives up ownership without closing.
  int release() {
    const int fd = fd_;
    fd_ = -1;
    return fd;
  }
  // Closes the held descriptor (if any) and takes `fd`.
  void reset(int fd = -1);

 private:
  int fd_ = -1;
};

// Sets FD_CLOEXEC on `fd`, so programs the agent might exec do not inherit it.
Status setCloseOnExec(int fd);
// Sets O_NONBLOCK on `fd`.
Status setNonBlocking(int fd);

}  // namespace vigil::agent::posix
