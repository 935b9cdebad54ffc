#include "agent/platform/posix/interruptible_poll.h"

#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <climits>

#include "agent/platform/posix/posix_status.h"

namespace vigil::agent::posix {
namespace {

// poll(2)'s timeout for `deadline`: -1 for none, else milliseconds rounded up (so a wait never
// ends before its deadline), capped at INT_MAX.
int pollTimeoutMs(std::optional<MonoTime> deadline) {
  if (!deadline) return -1;
  const Duration left = *deadline - std::chrono::steady_clock::now();
  if (left <= Duration::zero()) return 0;
  const auto ms = std::chrono::ceil<std::chrono::milliseconds>(left).count();
  return static_cast<int>(std::min<decltype(ms)>(ms, INT_MAX));
}

}  // namespace

Result<InterruptiblePoll> InterruptiblePoll::create() {
  int ends[2];
  if (::pipe(ends) != 0) return errnoStatus("pipe", errno);
  UniqueFd read_end(ends[0]);
  UniqueFd write_end(ends[1]);
  for (int fd : {read_end.get(), write_end.get()}) {
    if (Status s = setCloseOnExec(fd); !s.ok()) return s;
    if (Status s = setNonBlocking(fd); !s.ok()) return s;
  }
  return InterruptiblePoll(std::move(read_end), std::move(write_end));
}

Result<PollOutcome> InterruptiblePoll::wait(int fd, int events, std::optional<MonoTime> deadline) {
  for (;;) {
    pollfd fds[2] = {{read_end_.get(), POLLIN, 0}, {fd, static_cast<short>(events), 0}};
    const int n = ::poll(fds, 2, pollTimeoutMs(deadline));
    if (n < 0) {
      if (errno == EINTR) continue;
      return errnoStatus("poll", errno);
    }
    // The pipe is never drained: once woken, every later wait() is woken too.
    if (fds[0].revents != 0) return PollOutcome::kWoken;
    if (fds[1].revents != 0) return PollOutcome::kReady;
    if (pollTimeoutMs(deadline) == 0) return PollOutcome::kTimedOut;
  }
}

void InterruptiblePoll::wake() {
  const char byte = 1;
  // A full pipe (EAGAIN) already wakes every waiter; nothing else can go wrong that a caller
  // could act on.
  [[maybe_unused]] const ssize_t written = ::write(write_end_.get(), &byte, 1);
}

}  // namespace vigil::agent::posix
