#pragma once

// Hostile connections for flood tests: raw TCP sockets to 127.0.0.1 that send a request head
// one header line at a time (slowloris), or connect and send nothing at all (idle clients, and
// on a TLS port clients that never send their ClientHello). Held open until destroyed.
// Linux only. Not thread-safe: one flood belongs to one thread.

#include <string>
#include <vector>

namespace vigil::testing {

// Raises this process's open-file limit to its hard limit (a flood needs many sockets).
void raiseOpenFileLimit();

class ConnectionFlood {
 public:
  ConnectionFlood() = default;
  ~ConnectionFlood();
  ConnectionFlood(const ConnectionFlood&) = delete;
  ConnectionFlood& operator=(const ConnectionFlood&) = delete;

  // `count` connections that send a request line and one header line, and no more until
  // drip(). Throws if a connection cannot be made.
  void addSlowHeaders(int port, int count);
  // `count` connections that send nothing.
  void addSilent(int port, int count);
  // One more header line on every slow connection (errors ignored: the server may have
  // closed it).
  void drip();
  // Connections the server has not closed yet.
  int stillOpen() const;
  int size() const { return static_cast<int>(fds_.size()); }

 private:
  int connectTo(int port);
  std::vector<int> fds_;
  std::vector<int> slow_;  // the slow-header subset of fds_
};

}  // namespace vigil::testing
