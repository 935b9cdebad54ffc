#pragma once

// Value types of the presence engine: configuration, evidence, statuses, events and views.
// docs/presence.md explains each state, reason and threshold.

#include <array>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"

namespace vigil::collector::presence {

using AgentHandle = uint32_t;
using SiteId = uint32_t;
using TenantId = uint32_t;

// --- Indicators ------------------------------------------------------------------------------

enum class Indicator : uint8_t {
  kHeartbeat = 0,       // signed HTTPS heartbeat (authoritative)
  kBeacon = 1,          // signed UDP beacon
  kDiary = 2,           // outage-diary report (arrives with a heartbeat after reconnect)
  kShutdownNotice = 3,  // the agent announced a graceful stop, shutdown or sleep
  kPeerWitness = 4,     // another agent of the same site heard this one on the LAN
};
constexpr size_t kIndicatorCount = 5;
const char* indicatorName(Indicator indicator);  // "heartbeat", "beacon", ...

// --- Statuses --------------------------------------------------------------------------------

enum class AgentStatus : uint8_t {
  kUnknown,      // no evidence since the collector (re)started, grace not yet over
  kOnline,       // fresh evidence on at least one trusted indicator
  kSuspect,      // expected evidence is late; not yet confirmed
  kOffline,      // silent on all indicators, confirmed twice, collector healthy: device alert
  kShutdown,     // announced a graceful stop / shutdown / sleep
  kUnreachable,  // its whole site went silent together: one site alert instead
  kMaintenance,  // inside a maintenance window: no alerts
};
constexpr size_t kStatusCount = 7;
const char* statusName(AgentStatus status);  // "UNKNOWN", "ONLINE", ...
// The status statusName() calls `name`; nullopt for any other text.
std::optional<AgentStatus> statusFromName(std::string_view name);
// Agents by status, indexed by AgentStatus.
using StatusCounts = std::array<uint32_t, kStatusCount>;

// Why an agent has its status. One reason per status change; docs/presence.md lists them.
enum class Reason : uint8_t {
  kNoEvidenceYet,       // UNKNOWN: nothing heard since start, warm-up not over
  kFreshEvidence,       // ONLINE: an indicator arrived in time
  kHeartbeatLate,       // SUSPECT: every direct indicator is later than its detector allows
  kWitnessedOnly,       // SUSPECT: direct channels silent but LAN peers hear it
  kHeldDegraded,        // SUSPECT: confirmation due while the collector is DEGRADED
  kConfirmedSilent,     // OFFLINE: silent through the confirmation window, collector healthy
  kConfirmedAfterHold,  // OFFLINE: as above, after an alert was held during degradation
  kWitnessExpired,      // OFFLINE: only peer evidence, for longer than its bound
  kAnnouncedShutdown,   // SHUTDOWN
  kShutdownTooLong,     // OFFLINE: a server announced shutdown and did not return in time
  kSitePartitioned,     // UNREACHABLE
  kInMaintenance,       // MAINTENANCE
  kRetired,             // removed from tracking
};
const char* reasonName(Reason reason);  // "fresh_evidence", ...
// One sentence for humans, e.g. "no heartbeat or beacon for 3m 10s (expected every 60s)".
std::string reasonText(Reason reason);

enum class AgentClass : uint8_t {
  kWorkstation,  // announced shutdown/sleep never alerts
  kServer,       // announced shutdown alerts if not back within server_shutdown_grace
};

// --- Collector health ------------------------------------------------------------------------

enum class DegradationReason : uint8_t {
  kWarmUp,                // recently started: agents have not all had a chance to report
  kTickLate,              // an evaluation tick came late: the process was frozen or starved
  kClockJump,             // wall clock stepped relative to the monotonic clock
  kIngestLag,             // evidence waits longer than ingest_lag_bound before observe()
  kQueueOverBound,        // an internal queue passed its bound
  kShedRequests,          // share of shed requests over shed_share_bound
  kStoreWriteFailures,    // writes to the store are failing
  kChannelCollapse,       // one indicator vanished for many agents while another continues
  kMassSuspect,           // far more agents went SUSPECT in one window than the baseline
  kConnectionsExhausted,  // the listener dropped connections before they could send a request
  kBeaconOverflow,        // share of beacons the kernel dropped (receive queue full) over bound
  kStoreUnavailable,      // the store's database cannot be reached (a PostgreSQL server down)
};
constexpr size_t kDegradationReasonCount = 12;
const char* degradationReasonName(DegradationReason reason);  // "warm_up", ...
// The reasons set in `mask` (bit i stands for DegradationReason i), in declaration order.
std::vector<DegradationReason> degradationReasonsIn(uint32_t mask);
// The names of the reasons in `mask` joined by `separator` ("warm_up,tick_late"); empty if none.
std::string degradationReasonNames(uint32_t mask, std::string_view separator = ",");

enum class QueueId : uint8_t { kIngest, kHistory, kOutbox, kOther };
constexpr size_t kQueueCount = 4;

// --- Configuration ---------------------------------------------------------------------------

// Every threshold of the engine; defaults are the documented ones (docs/presence.md).
struct PresenceConfig {
  // Heartbeat interval the collector assigns, and the largest it may ever assign (warm-up
  // lasts max_heartbeat_interval plus jitter).
  Duration heartbeat_interval = std::chrono::seconds(60);
  Duration max_heartbeat_interval = std::chrono::seconds(60);
  double agent_jitter = 0.10;  // agents add +-10 % to every interval

  // Failure detector (phi accrual over inter-arrival times, per agent and indicator).
  double phi_threshold = 8.0;
  // Lateness bounds as multiples of the expected interval on that indicator: an indicator is
  // late no sooner than floor x interval and no later than ceiling x interval after its last
  // arrival, whatever its history says.
  double lateness_floor = 1.5;
  double lateness_ceiling = 2.0;
  // Smallest standard deviation assumed, as a share of the expected interval (keeps a very
  // regular agent from being suspected on its first small delay).
  double min_stddev_share = 0.10;

  // Double verification: how long a SUSPECT agent must stay silent on every indicator, with
  // the collector healthy throughout, before it is OFFLINE.
  Duration confirmation_window = std::chrono::seconds(60);
  // Peer-witness evidence alone postpones OFFLINE for at most this long.
  Duration witness_max_postpone = std::chrono::minutes(10);
  // A server that announced shutdown alerts if not back within this.
  Duration server_shutdown_grace = std::chrono::minutes(15);

  // Evaluation period, and how late a tick may be before the process counts as frozen.
  Duration tick_interval = std::chrono::seconds(1);
  Duration tick_late_after = std::chrono::seconds(5);
  // A wall-clock step larger than this between two ticks is a degradation reason.
  Duration clock_jump_threshold = std::chrono::seconds(5);
  // After a transient reason (late tick, clock jump, ingest lag, queue, shed, store, channel,
  // mass suspect) ends, the collector stays DEGRADED this much longer, so evidence that was
  // delayed by the fault can arrive. Defaults to one max interval plus jitter when zero.
  Duration recovery_period = Duration::zero();

  Duration ingest_lag_bound = std::chrono::seconds(10);
  double shed_share_bound = 0.05;     // of requests in the last window
  uint32_t store_failures_bound = 3;  // consecutive failed writes

  // Channel collapse: over the last channel_window, an indicator that at least
  // channel_min_agents agents used in the previous window lost more than channel_drop_share
  // of them while heartbeats held within 10 %.
  Duration channel_window = std::chrono::seconds(60);
  uint32_t channel_min_agents = 50;
  double channel_drop_share = 0.30;
  // A collapse ends at the latest after this long: the channel's new level becomes its
  // baseline and verdicts rely on the other channels. A collapse holds every verdict of the
  // fleet; one confirmation window plus recovery is enough to tell a channel fault from a
  // fleet event, so an indicator lost for good cannot hold alerts for long.
  Duration channel_collapse_max_duration = std::chrono::minutes(5);

  // Mass suspect: SUSPECT transitions in one suspect_window above
  // max(mass_suspect_min_agents, mass_suspect_factor x baseline) and above
  // mass_suspect_min_share of the fleet. The baseline is the mean of recent windows.
  Duration suspect_window = std::chrono::seconds(60);
  uint32_t mass_suspect_min_agents = 20;
  double mass_suspect_factor = 5.0;
  double mass_suspect_min_share = 0.02;
  // Mass suspect lasts while the number of SUSPECT agents stays above the threshold, at most
  // this long; afterwards held verdicts are re-verified and alert with a note.
  Duration mass_suspect_max_duration = std::chrono::minutes(30);

  // Site correlation (site_question.h, fleet_hearing.h). When a SUSPECT agent's confirmation
  // ends, its site (if at least site_min_agents of its agents are expected to report) is
  // dark when at least site_silent_share of them fell silent with it, not heard from since it
  // should have reported. A dark site gets one site alert unless the collector has lost most
  // of the rest of the fleet too. site_window caps the wait for an undecided site.
  uint32_t site_min_agents = 3;
  double site_silent_share = 0.8;
  Duration site_window = std::chrono::minutes(3);
  // Beacon fallback (Observation::beacon_fallback): how long after a beacon's due time the
  // collector waits for the fallback heartbeat, when neither the beacon nor anything else came:
  // the agent's wait for the ack (protocol::kBeaconAckWaitMs) plus the heartbeat's own way
  // (connect, TLS, request) on a working network.
  Duration beacon_fallback_grace = std::chrono::seconds(5);
  // How long an agent's attempt that began while its network was down may hang before the
  // agent retries (the agents' connect timeout, agent setting connect_timeout_s): an agent
  // whose network came back reports within this plus one interval.
  Duration agent_reconnect_time = std::chrono::seconds(10);
  // The collector is deaf, and the silence its own problem (mass suspect), when more than
  // fleet_silent_share of the agents it listens to are SUSPECT, counted by agents and by
  // tenants, and at least fleet_silent_min_agents of them.
  double fleet_silent_share = 0.5;
  uint32_t fleet_silent_min_agents = 10;
  // Only established agents count toward the fleet-wide signs of the collector's own trouble
  // (mass suspect: surge and deafness): agents whose evidence arrived at least this long after
  // they enrolled. Agents enrolled to be silenced together weigh nothing. An established agent
  // stays so through OFFLINE and back, so a second collector-side outage soon after a long one
  // is judged like the first. Zero: every agent counts at once.
  Duration established_after = std::chrono::hours(1);

  // Flapping (weighted history, as in Icinga): each status change adds 1 to a score that
  // decays with half-life flap_half_life; flapping starts above flap_high and ends below
  // flap_low.
  Duration flap_half_life = std::chrono::minutes(30);
  double flap_high = 6.0;
  double flap_low = 3.0;

  // Warm-up after start: one max interval plus jitter, max_heartbeat_interval x
  // (1 + agent_jitter). Afterwards normal verification applies.
  Duration warmUp() const;
  Duration effectiveRecoveryPeriod() const;
};

// --- Inputs ----------------------------------------------------------------------------------

struct AgentSpec {
  SiteId site = 0;
  TenantId tenant = 0;
  AgentClass agent_class = AgentClass::kWorkstation;
  // When the agent enrolled (wall time); unset: it enrolls now, as it is added. Evidence
  // arriving established_after later makes it an established agent.
  std::optional<WallTime> enrolled_at;
};

// Evidence an agent had before a collector restart (from the store).
struct RestoredState {
  std::array<std::optional<WallTime>, kIndicatorCount> last_seen{};
  AgentStatus status = AgentStatus::kUnknown;
  std::optional<WallTime> status_since;
  Duration expected_interval = std::chrono::seconds(60);
};

struct Observation {
  AgentHandle agent = 0;
  Indicator indicator = Indicator::kHeartbeat;
  // When the evidence was received (monotonic). Evidence that waited in a queue carries its
  // arrival time, not the time observe() runs; evidence older than ingest_lag_bound is itself
  // a sign of ingest lag. kPeerWitness: when the witness heard the agent, which may be long
  // before the report reached the collector (not counted as ingest lag).
  MonoTime received_at;
  // Interval the collector expects on this indicator from now on.
  Duration expected_interval = std::chrono::seconds(60);
  // kHeartbeat: the agent follows the beacon fallback (docs/protocol.md, "Beacon fallback"):
  // a beacon of its that goes unacknowledged is followed at once by a heartbeat. From this
  // heartbeat until one that does not say so, an agent that beacons is overdue once it has been
  // silent on both channels for one beacon interval (with jitter and margin) plus
  // PresenceConfig::beacon_fallback_grace, however long its heartbeat interval.
  bool beacon_fallback = false;
  // kPeerWitness: the agent that heard it. kDiary: the outage the agent reports (wall).
  std::optional<AgentHandle> witness;
  std::optional<WallTime> diary_from;
  std::optional<WallTime> diary_to;
};

// A maintenance window for a tenant, a site or one agent, one-off or weekly.
struct MaintenanceWindow {
  enum class Scope : uint8_t { kTenant, kSite, kAgent };
  Scope scope = Scope::kAgent;
  uint32_t target = 0;  // TenantId, SiteId or AgentHandle
  WallTime starts_at;
  Duration length = std::chrono::hours(1);
  bool weekly = false;  // repeats every 7 days from starts_at
};

// --- Outputs ---------------------------------------------------------------------------------

struct Transition {
  AgentHandle agent = 0;
  AgentStatus from = AgentStatus::kUnknown;
  AgentStatus to = AgentStatus::kUnknown;
  Reason reason = Reason::kNoEvidenceYet;
  WallTime at;
  // Degradation reasons active when the transition happened (bit i = DegradationReason i).
  uint32_t degradation_mask = 0;
  // Into SUSPECT, OFFLINE or UNREACHABLE: when the agent's next evidence was due (one expected
  // interval after its latest heartbeat or beacon, or a LAN peer's latest witness), at most
  // `at`; unset if it was never heard. What a check-based monitor would call the first missed
  // check: the engine says SUSPECT only once evidence is later than its history allows.
  std::optional<WallTime> overdue_from;
};

enum class AlertKind : uint8_t { kDeviceOffline, kSiteUnreachable, kFlapping };
enum class AlertAction : uint8_t {
  kOpened,    // a new alert
  kResolved,  // fresh evidence, retirement or end of the condition
  kHeld,      // it would have opened, but the collector is DEGRADED: held, not dropped
  kReleased,  // a held alert was cleared silently after recovery (the agent was heard from)
};

struct AlertEvent {
  AlertKind kind = AlertKind::kDeviceOffline;
  AlertAction action = AlertAction::kOpened;
  std::optional<AgentHandle> agent;  // device and flapping alerts
  std::optional<SiteId> site;        // site alerts (and the agent's site otherwise)
  WallTime at;
  // For alerts opened after a hold: since when it was held, and the degradation reasons.
  std::optional<WallTime> held_since;
  uint32_t held_for_mask = 0;
  std::string note;  // one sentence for the admin
};

struct HealthChange {
  bool degraded = false;
  uint32_t reasons_mask = 0;  // bit i = DegradationReason i
  WallTime at;
  // A degradation found after the fact (a late tick: the process was frozen or starved): since
  // when the collector had not been watching, its last on-time tick.
  std::optional<WallTime> blind_from;
};

// Receives every event the engine emits, synchronously.
class PresenceListener {
 public:
  virtual ~PresenceListener() = default;
  virtual void onTransition(const Transition& transition) = 0;
  virtual void onAlert(const AlertEvent& alert) = 0;
  virtual void onHealthChange(const HealthChange& change) = 0;
  // An outage-diary report: the agent was up but could not reach the collector.
  virtual void onDiary(AgentHandle agent, WallTime from, WallTime to) = 0;
};

// --- Views -----------------------------------------------------------------------------------

struct IndicatorView {
  std::optional<WallTime> last_seen;
  Duration expected_interval{};
  std::optional<WallTime> late_after;  // when this indicator will count as late
};

struct AgentView {
  AgentStatus status = AgentStatus::kUnknown;
  Reason reason = Reason::kNoEvidenceYet;
  WallTime since;
  std::array<IndicatorView, kIndicatorCount> indicators{};
  bool held = false;  // SUSPECT whose OFFLINE verdict is held by degradation
  bool flapping = false;
  bool alert_open = false;
  SiteId site = 0;
  TenantId tenant = 0;
  AgentClass agent_class = AgentClass::kWorkstation;
};

struct HealthView {
  bool degraded = true;
  uint32_t reasons_mask = 0;
  WallTime since;  // of the current healthy/degraded state
  std::array<std::optional<WallTime>, kDegradationReasonCount> reason_since{};
  uint64_t agents = 0;
  StatusCounts agents_by_status{};
  uint64_t held_alerts = 0;
};

struct SiteView {
  uint64_t agents = 0;
  uint64_t silent = 0;
  bool alert_open = false;
};

}  // namespace vigil::collector::presence
