#pragma once

// The agent's view of its operating system: one small interface per concern. Each OS has one
// implementation of each in agent/platform/<os>/ (linux, windows, macos; the POSIX pieces that
// Linux and macOS share live in agent/platform/posix/). The core and its tests see only these
// interfaces; tests use fakes. Nothing here includes an OS header.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/status.h"

namespace vigil::agent {

// --- System facts ------------------------------------------------------------------------------

// Facts about the endpoint that change rarely (sent at enrollment and on every beat).
struct SystemFacts {
  std::string hostname;
  std::string os_name;     // "linux", "windows", "macos"
  std::string os_version;  // e.g. "Debian GNU/Linux 12 (bookworm)", "Windows 10.0.22631"
  std::string arch;        // e.g. "x86_64", "arm64"
};

// Thread-compatible: called from the heartbeat loop only.
class SystemFactsSource {
 public:
  virtual ~SystemFactsSource() = default;
  virtual Result<SystemFacts> facts() = 0;
};

// --- Boot identity -----------------------------------------------------------------------------

// Which boot of the endpoint this is, and how long it has been up.
struct BootIdentity {
  // Changes at every boot. Linux: /proc/sys/kernel/random/boot_id. Windows and macOS: the boot
  // time in Unix seconds ("boot-1790000000"), rounded so clock slew does not change it.
  std::string boot_id;
  uint64_t uptime_s = 0;
};

class BootIdentitySource {
 public:
  virtual ~BootIdentitySource() = default;
  virtual Result<BootIdentity> bootIdentity() = 0;
};

// --- Events the OS tells the agent about -------------------------------------------------------

enum class SystemEvent : uint8_t {
  kNetworkChanged,  // an address, link or route changed
  kResumed,         // the machine woke from sleep or hibernation
  kSuspending,      // the machine is about to sleep or hibernate
  kSystemShutdown,  // the machine is shutting down or rebooting
  kSessionLogoff,   // the interactive user logs off (Windows)
  kServiceStop,     // the service manager asks the agent to stop
  // Not from the OS: the beacon channel's newest beacon got no ack in time (beacon fallback).
  kBeaconUnanswered,
};
const char* systemEventName(SystemEvent event);  // "network_changed", ...

// Receives events from platform threads. Implementations must be thread-safe and must not
// block: they record the event and wake the agent's loop.
class SystemEventSink {
 public:
  virtual ~SystemEventSink() = default;
  virtual void onSystemEvent(SystemEvent event) = 0;
};

// --- Network state and change events -----------------------------------------------------------

// The agent's own view of its network: the self-check carried in every heartbeat and in the
// outage diary, so an admin can tell "the endpoint lost its network" from "the collector did
// not answer".
struct NetworkState {
  bool default_route = false;          // an IPv4 or IPv6 default route exists
  std::vector<std::string> addresses;  // global and private unicast addresses, no loopback
};

// Thread safety: state() from the heartbeat loop; start()/stop() from the main thread.
class NetworkMonitor {
 public:
  virtual ~NetworkMonitor() = default;
  virtual Result<NetworkState> state() = 0;
  // Starts posting SystemEvent::kNetworkChanged to `sink` (Linux: rtnetlink; Windows:
  // NotifyIpInterfaceChange; macOS: SystemConfiguration). Changes may be coalesced. A monitor
  // that cannot watch returns an error; the agent then relies on its regular beats.
  virtual Status start(SystemEventSink& sink) = 0;
  // Stops posting; blocks until no callback runs. Idempotent.
  virtual void stop() = 0;
};

// --- Power events ------------------------------------------------------------------------------

// Sleep, wake and shutdown as the OS announces them (Linux: logind signals over D-Bus;
// Windows: the service's SERVICE_CONTROL_POWEREVENT/SHUTDOWN; macOS: IOKit power
// notifications). Wake is also detected by the core from the wall/monotonic clock jump, so an
// OS without notifications loses only the early sleep notice.
class PowerMonitor {
 public:
  virtual ~PowerMonitor() = default;
  // Posts kSuspending, kResumed and kSystemShutdown to `sink`. Where the OS allows, the monitor
  // delays sleep and shutdown until releaseHold() (or a few seconds), so the agent can send its
  // notice first.
  virtual Status start(SystemEventSink& sink) = 0;
  // The agent has sent what it had to send before sleep or shutdown.
  virtual void releaseHold() = 0;
  virtual void stop() = 0;
};

// --- Service host ------------------------------------------------------------------------------

// What the service manager should be told, from inside the agent.
class ServiceControl {
 public:
  virtual ~ServiceControl() = default;
  // Startup is over (systemd READY=1, SCM SERVICE_RUNNING). Thread-safe.
  virtual void ready(const std::string& status_line) = 0;
  // The loop is alive (systemd WATCHDOG=1). Thread-safe; cheap.
  virtual void alive() = 0;
  // How often alive() must be called; nullopt when nobody watches.
  virtual std::optional<Duration> aliveInterval() const = 0;
  // Stopping has begun (systemd STOPPING=1, SCM SERVICE_STOP_PENDING). Thread-safe.
  virtual void stopping() = 0;
};

// The agent's body as the service runs it: it receives the control to report to and returns
// the process exit code. It must return soon after `events` received kServiceStop or
// kSystemShutdown.
using ServiceBody = std::function<int(ServiceControl& control)>;

// Runs the agent as the OS's service (Linux: systemd Type=notify; Windows: an SCM service
// with stop, shutdown, preshutdown, power and session notifications; macOS: a launchd daemon
// in the foreground). Stop requests and OS events go to `events`.
class ServiceHost {
 public:
  virtual ~ServiceHost() = default;
  // Blocks until `body` returns; returns its exit code (or the host's own failure code).
  virtual int run(SystemEventSink& events, const ServiceBody& body) = 0;
};

// --- State protection --------------------------------------------------------------------------

// Makes the agent's state directory and files readable by the agent's account alone
// (Unix: directory 0700, files 0600, no sticky shared directory; Windows: a protected DACL
// granting SYSTEM and Administrators only).
class StateProtection {
 public:
  virtual ~StateProtection() = default;
  // Creates `dir` if needed and restricts it; refuses a directory others can write to.
  virtual Status securePrivateDirectory(const std::string& dir) = 0;
  // Restricts a file the agent just wrote (before it is renamed into place).
  virtual Status securePrivateFile(const std::string& path) = 0;
  // For a command an administrator runs next to the service (vigil-agent enroll, retire):
  // when the process is privileged and `dir` exists and belongs to another account (the
  // service's own), the process continues as that account, so that what it writes there stays
  // the service's. Does nothing otherwise, and where the service runs as the system account.
  // Call before any other thread starts.
  virtual Status actAsOwnerOf(const std::string& dir) = 0;
};

// --- Datagrams ---------------------------------------------------------------------------------

struct Datagram {
  std::string bytes;
  std::string from_address;  // numeric, e.g. "192.168.1.20"
  uint16_t from_port = 0;
};

// One UDP socket (IPv4 or IPv6). No TCP, nothing accepted: the agent opens no listening TCP
// port. The LAN peer port is the one port it binds by number; the beacon socket gets an
// ephemeral one when it first sends. What arrives on either is only read, never answered.
// Thread safety: send() and receive() from one thread; interrupt() from any thread.
class UdpSocket {
 public:
  virtual ~UdpSocket() = default;
  // Sends one datagram to host:port (host is resolved; broadcast addresses allowed if the
  // socket was opened for broadcast).
  virtual Status sendTo(const std::string& host, uint16_t port, const std::string& bytes) = 0;
  // Waits up to `timeout` for one datagram; nullopt on timeout or interrupt(). Datagrams
  // longer than max_bytes are discarded.
  virtual Result<std::optional<Datagram>> receive(Duration timeout, size_t max_bytes) = 0;
  // Makes the current and every later receive() return at once.
  virtual void interrupt() = 0;
};

struct UdpSocketOptions {
  // Bind to this port on all addresses (0: an ephemeral port). Several agents on one host may
  // bind the same port (SO_REUSEADDR), so all of them hear broadcasts.
  uint16_t bind_port = 0;
  bool broadcast = false;  // SO_BROADCAST
  bool ipv6 = false;       // an IPv6 socket (for an IPv6 collector)
};

// Opens sockets for the agent. Thread-safe.
class UdpSocketFactory {
 public:
  virtual ~UdpSocketFactory() = default;
  virtual Result<std::unique_ptr<UdpSocket>> open(const UdpSocketOptions& options) = 0;
  // The IPv4 broadcast address of every up, non-loopback interface (e.g. "192.168.1.255"),
  // for LAN peer announcements.
  virtual std::vector<std::string> broadcastAddresses() = 0;
};

// --- The whole platform ------------------------------------------------------------------------

// Where this operating system keeps the agent's configuration file and state directory when
// no setting names others (docs/agent.md, docs/platforms.md). Both absolute. Made by
// defaultPaths() in agent/platform/platform.h.
struct DefaultPaths {
  std::string config_path;
  std::string state_dir;
};

// Every concern of the OS this binary was built for. Made by makePlatform() in
// agent/platform/platform.h.
struct Platform {
  std::unique_ptr<SystemFactsSource> facts;
  std::unique_ptr<BootIdentitySource> boot;
  std::unique_ptr<NetworkMonitor> network;
  std::unique_ptr<PowerMonitor> power;
  std::unique_ptr<ServiceHost> service;
  std::unique_ptr<StateProtection> state;
  std::unique_ptr<UdpSocketFactory> udp;
};

}  // namespace vigil::agent
