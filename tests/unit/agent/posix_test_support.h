#pragma once

// Helpers shared by the POSIX platform tests (linux_*_test.cc, posix_*_test.cc): a stand-in for
// the service manager's notification socket, and skips that Boost.Test reports as skips.

#include <poll.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <boost/test/unit_test.hpp>
#include <cstring>
#include <string>

#include "agent/platform/posix/unique_fd.h"

namespace vigil::agent::platform_testing {

// Plays systemd's side of sd_notify(3): a datagram socket bound at `path`. While it lives,
// NOTIFY_SOCKET names it if `announce` (a service started by systemd), or is unset (a process
// started any other way, with the socket there all the same).
class FakeNotifySocket {
 public:
  explicit FakeNotifySocket(const std::string& path, bool announce = true)
      : path_(path), fd_(socket(AF_UNIX, SOCK_DGRAM, 0)) {
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::strncpy(address.sun_path, path.c_str(), sizeof address.sun_path - 1);
    BOOST_TEST_REQUIRE(
        bind(fd_.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0);
    if (announce) {
      this->announce();
    } else {
      unsetenv("NOTIFY_SOCKET");
    }
  }
  ~FakeNotifySocket() { unsetenv("NOTIFY_SOCKET"); }
  FakeNotifySocket(const FakeNotifySocket&) = delete;
  FakeNotifySocket& operator=(const FakeNotifySocket&) = delete;

  // From now on NOTIFY_SOCKET names this socket.
  void announce() const { setenv("NOTIFY_SOCKET", path_.c_str(), 1); }

  // The next notification, or "(none)" if none comes within 5 s.
  std::string next() { return receive(5000); }

  // A notification already sent and not yet taken, or "(none)". sd_notify(3) sends before it
  // returns, so what a call sent is here when the call is back.
  std::string pending() { return receive(0); }

 private:
  std::string receive(int timeout_ms) {
    pollfd ready{fd_.get(), POLLIN, 0};
    if (poll(&ready, 1, timeout_ms) != 1) return "(none)";
    char buffer[1024];
    const ssize_t n = recv(fd_.get(), buffer, sizeof buffer, 0);
    return n < 0 ? "(error)" : std::string(buffer, static_cast<size_t>(n));
  }

  const std::string path_;
  posix::UniqueFd fd_;
};

// A Boost.Test precondition: the case runs only where `holds()`; elsewhere the log says it was
// skipped and why, and it counts as skipped, not passed.
inline boost::unit_test::precondition skippedUnless(bool (*holds)(), const char* why) {
  return boost::unit_test::precondition([holds, why](boost::unit_test::test_unit_id) {
    boost::test_tools::assertion_result result(holds());
    result.message() << why;
    return result;
  });
}

}  // namespace vigil::agent::platform_testing
