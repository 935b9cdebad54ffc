#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "agent/core/agent_config.h"
#include "agent/core/backoff.h"
#include "agent/core/beacon_channel.h"
#include "agent/core/collector_client.h"
#include "agent/core/datagram_worker.h"
#include "agent/core/heartbeat_scheduler.h"
#include "agent/core/identity_store.h"
#include "agent/core/logger.h"
#include "agent/core/outage_diary.h"
#include "agent/core/peer_witness.h"
#include "agent/core/platform.h"
#include "agent/core/random.h"
#include "agent/core/sequence_allocator.h"
#include "agent/core/waiter.h"
#include "agent/core/wake_detector.h"
#include "common/clock.h"

namespace vigil::agent {

// How an answer to a heartbeat reads: the scheduling outcome and a line for the log.
struct HeartbeatAnswerReading {
  HeartbeatOutcome outcome;
  std::string error_code;   // the Vigil error code, if the answer carried one
  std::string description;  // "HTTP 401 unknown_agent: agent is retired", "network error: ..."
  std::string cause;        // the outage cause of a failure (protocol::causes)
  protocol::ChannelOffer channels;  // kAccepted: what the collector offers besides heartbeats
};
HeartbeatAnswerReading readHeartbeatAnswer(const CollectorAnswer& answer);

// The seams the runner works through. References must outlive the runner; pointers may be
// null (that concern is then skipped: no network self-check, no beacon, no peer witness, ...).
struct AgentRunnerDeps {
  CollectorClient& client;
  SystemFactsSource& facts;
  BootIdentitySource& boot;
  IdentityStore& identity_store;
  SequenceStore& sequence_store;
  const Clock& clock;
  Waiter& waiter;
  Logger& log;
  UniformRandom random;
  OutageDiary* diary = nullptr;
  NetworkMonitor* network = nullptr;
  PowerMonitor* power = nullptr;
  UdpSocketFactory* udp = nullptr;
  ServiceControl* service = nullptr;
};

// Timing of the runner besides the scheduler's; tests shorten them.
struct RunnerTimings {
  // A machine up for less than this when the agent starts has just booted: its first beat is
  // spread by start_delay_max_s. Otherwise only the agent restarted and it beats at once.
  Duration boot_window = std::chrono::minutes(10);
  // Longest single sleep: wakes are detected and the watchdog is fed at least this often.
  Duration max_sleep = std::chrono::seconds(60);
  // The goodbye notice may take at most this long.
  Duration goodbye_timeout = std::chrono::seconds(3);
  // A failure like the previous one is logged again only after this long (a summary counts
  // the ones in between).
  Duration repeat_log_every = std::chrono::minutes(5);
};

// How a one-shot command (vigil-agent enroll, vigil-agent retire) ended.
struct CommandOutcome {
  enum class Kind {
    kDone,         // done now, or nothing was left to do
    kRefused,      // the collector refused it (enrollment token) or the request was wrong
    kUnreachable,  // the collector could not be asked, failed, or asked to come back later
    kConflict,     // enrolled with another collector (enroll without force)
    kFailed,       // a local failure (state directory, corrupt identity)
  };
  Kind kind = Kind::kFailed;
  std::string message;  // one line for the administrator; never holds a token or secret
};

// The agent's main loop: obtains an identity (loads it, or enrolls with the token, retrying
// with backoff), then sends heartbeats whenever the HeartbeatScheduler says, carrying every
// indicator (docs/protocol.md), runs the beacon and peer-witness channels the collector
// offers, reacts to OS events (network change, sleep, wake, shutdown), and sends a goodbye
// notice when it stops. All waiting goes through the Waiter; all time comes from the Clock.
// OS events reach it through onSystemEvent() (it is the ServiceHost's event sink).
class AgentRunner final : public SystemEventSink {
 public:
  // REQUIRES: `config` passed validateConfig().
  AgentRunner(AgentConfig config, AgentRunnerDeps deps, BackoffOptions backoff = {},
              RunnerTimings timings = {});
  ~AgentRunner() override;
  AgentRunner(const AgentRunner&) = delete;
  AgentRunner& operator=(const AgentRunner&) = delete;

  // Runs until stopped (returns OK) or a fatal error: not enrolled and no token, an unreadable
  // identity, a state directory that cannot hold the identity. Call once.
  Status run();

  // One-shot commands, each instead of run(), with the service stopped or not yet started.
  //
  // vigil-agent enroll: one enrollment with the token, no retry; nothing is stored unless it
  // succeeds. Already enrolled with this server: kDone, nothing changes (safe to repeat on an
  // upgrade or a repair). Enrolled with another server (or an unreadable identity): kConflict,
  // unless `force`, which enrolls anew and replaces the identity only once that succeeded.
  CommandOutcome enrollOnce(bool force);
  // vigil-agent retire: tells the collector the agent is being uninstalled (a goodbye notice
  // "uninstall": the collector records it retired, so its silence raises no alert) and then
  // forgets the identity. kDone also when never enrolled or the collector no longer knows the
  // agent; kUnreachable keeps the identity, so the command can be repeated.
  CommandOutcome retire();

  // Makes run() return promptly after a goodbye notice ("service_stop"): ends the current
  // wait and any request in flight. Thread-safe; may be called before run().
  void stop();

  // The service manager's control, once the service host has it. Call before run().
  void setServiceControl(ServiceControl* control) { deps_.service = control; }

  // Thread-safe; called from platform threads. kServiceStop stops (as stop()), kSessionLogoff
  // stops with a "logoff" notice, the others are handled by the loop.
  void onSystemEvent(SystemEvent event) override;

 private:
  enum class WaitEnd { kBeat, kStop };

  // One enrollment request and what its answer means.
  struct EnrollAttempt {
    std::optional<Identity> identity;  // enrolled and stored
    Status store_error;                // enrolled, but the identity could not be stored
    std::string problem;               // why not enrolled, for the log
    std::string failure_key;           // equal for failures alike (rate-limited logging)
    bool refused = false;              // the collector refused the token or the request
    bool token_refused = false;        // ... because of the token (invalid_enroll_token)
    std::optional<Duration> retry_after;
  };
  EnrollAttempt attemptEnroll();
  // False (after saying why through `outcome`) when the state directory cannot hold state.
  bool prepareStateForCommand(CommandOutcome* outcome);

  Result<std::optional<Identity>> enroll();
  void heartbeatLoop(Identity& identity);
  // Sleeps up to `delay`, handling OS events and wakes; may shorten the sleep.
  WaitEnd sleepUntilBeat(Duration delay, const Identity& identity);
  protocol::Heartbeat buildHeartbeat(const Identity& identity);
  CollectorAnswer send(const Identity& identity, const protocol::Heartbeat& hb,
                       std::optional<Duration> timeout);
  void sendGoodbye(const Identity& identity, const char* reason);
  void adoptChannels(Identity& identity, const protocol::ChannelOffer& offer);
  void startBeacon(const Identity& identity);
  void startPeerWitness(const Identity& identity);
  void stopChannels();
  void logFailure(const std::string& key, const std::string& line, bool error);
  // Hands the scheduler's clock offset to the beacon and peer channels.
  void syncClockOffset();
  SystemFacts readFacts();
  BootIdentity readBootIdentity();
  void logSequenceStatus();

  AgentConfig config_;
  AgentRunnerDeps deps_;
  BackoffOptions backoff_options_;
  RunnerTimings timings_;
  HeartbeatScheduler scheduler_;
  SequenceAllocator sequence_;
  WakeDetector wake_detector_;
  std::string config_hash_;
  SystemFacts facts_;
  std::optional<BootIdentity> last_boot_;
  bool sequence_error_logged_ = false;

  // Stop requests from other threads.
  std::atomic<bool> stop_requested_{false};
  std::mutex stop_mu_;
  const char* stop_reason_ = nullptr;  // guarded by stop_mu_
  bool shutdown_announced_ = false;    // guarded by stop_mu_
  bool goodbye_started_ = false;       // guarded by stop_mu_

  // Goodbye already sent (sleep or system shutdown): the stop that follows need not repeat it.
  std::optional<MonoTime> goodbye_sent_at_;

  // Rate-limited failure logging.
  std::string last_failure_key_;
  std::optional<MonoTime> last_failure_logged_at_;
  int suppressed_failures_ = 0;
  std::optional<MonoTime> failing_since_;

  // Channels besides the heartbeat.
  protocol::ChannelOffer offer_;
  std::unique_ptr<BeaconChannel> beacon_;
  std::unique_ptr<DatagramWorker> beacon_worker_;
  std::unique_ptr<PeerWitness> peers_;
  std::unique_ptr<DatagramWorker> peer_worker_;
  bool peer_bind_failed_logged_ = false;
};

}  // namespace vigil::agent
