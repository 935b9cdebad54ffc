#pragma once

// Waiting on one file descriptor in a way another thread can cut short: poll(2) on the
// descriptor and on a self-pipe (pipe(2) and fcntl(2) only, so it serves macOS too).

#include <optional>

#include "agent/platform/posix/unique_fd.h"
#include "common/clock.h"
#include "common/status.h"

namespace vigil::agent::posix {

enum class PollOutcome {
  kReady,     // the descriptor has one of the events asked for, an error or a hangup
  kTimedOut,  // the deadline passed
  kWoken,     // wake() was called
};

// Thread safety: wait() from one thread at a time; wake() from any thread, and from a signal
// handler. Move-only.
class InterruptiblePoll {
 public:
  static Result<InterruptiblePoll> create();

  // Waits until `fd` reports any of `events` (POLLIN, POLLOUT), `deadline` passes (nullopt:
  // never) or wake() has been called. kWoken wins over kReady. An error or hangup on `fd` counts
  // as kReady: the caller's next read reports it.
  Result<PollOutcome> wait(int fd, int events, std::optional<MonoTime> deadline);

  // Makes the current and every later wait() return kWoken.
  void wake();

 private:
  InterruptiblePoll(UniqueFd read_end, UniqueFd write_end)
      : read_end_(std::move(read_end)), write_end_(std::move(write_end)) {}

  UniqueFd read_end_;
  UniqueFd write_end_;
};

}  // namespace vigil::agent::posix
