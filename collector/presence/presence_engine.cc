#include "collector/presence/presence_engine.h"

#include <algorithm>
#include <chrono>
#include <utility>

#include "collector/presence/channel_monitor.h"
#include "collector/presence/deadline_heap.h"
#include "collector/presence/degradation_detector.h"
#include "collector/presence/engine_time.h"
#include "collector/presence/failure_detector.h"
#include "collector/presence/flap_detector.h"
#include "collector/presence/fleet_hearing.h"
#include "collector/presence/maintenance.h"
#include "collector/presence/mass_suspect_monitor.h"
#include "collector/presence/site_question.h"
#include "collector/presence/site_tracker.h"
#include "collector/presence/status_tally.h"
#include "collector/presence/tracked_agent.h"

namespace vigil::collector::presence {
namespace {

// Direct evidence arriving this soon after a shutdown notice (a beacon already in flight)
// does not cancel the notice.
constexpr Duration kShutdownSettle = std::chrono::seconds(2);

constexpr size_t kSuspectIndex = static_cast<size_t>(AgentStatus::kSuspect);
constexpr size_t kUnreachableIndex = static_cast<size_t>(AgentStatus::kUnreachable);
constexpr uint32_t kMassSuspectBit = 1u << static_cast<uint32_t>(DegradationReason::kMassSuspect);

// Its newest evidence is a shutdown notice: its silence was announced.
bool silenceAnnounced(const TrackedAgent& rec) {
  return rec.shutdown_last != kNever && rec.shutdown_last >= rec.latestDirect();
}

std::string maskText(uint32_t mask) {
  std::string text = degradationReasonNames(mask, ", ");
  return text.empty() ? std::string("none") : text;
}

std::string durationText(Duration d) {
  auto seconds = std::chrono::duration_cast<std::chrono::seconds>(d).count();
  if (seconds < 0) seconds = 0;
  const auto hours = seconds / 3600;
  const auto minutes = (seconds % 3600) / 60;
  const auto rest = seconds % 60;
  std::string text;
  if (hours > 0) text += std::to_string(hours) + "h ";
  if (hours > 0 || minutes > 0) text += std::to_string(minutes) + "m ";
  text += std::to_string(rest) + "s";
  return text;
}

Ticks ticksOfMs(uint32_t ms) { return ticksOf(std::chrono::milliseconds(ms)); }

// An agent is overdue once every direct indicator it uses has been silent for longer than
// its interval plus jitter plus this share of the interval (the margin keeps an agent whose
// next heartbeat is merely in flight from counting as silent).
constexpr double kOverdueMarginShare = 0.10;

SiteQuestionRules siteRules(const PresenceConfig& config) {
  SiteQuestionRules rules;
  rules.min_agents = config.site_min_agents;
  rules.silent_share = config.site_silent_share;
  rules.allowance = 1.0 + config.agent_jitter + kOverdueMarginShare;
  rules.lateness_floor = config.lateness_floor;
  rules.reconnect = ticksOf(config.agent_reconnect_time);
  rules.fallback_grace = ticksOf(config.beacon_fallback_grace);
  return rules;
}

// One agent's share of the projected heartbeat rate, in millionths of a heartbeat per second.
uint64_t rateShare(uint32_t interval_ms) {
  return interval_ms == 0 ? 0 : 1'000'000'000ULL / interval_ms;
}

// Whether an agent of this status counts in the projection: an OFFLINE agent is not expected to
// report until it comes back (and counts again from then).
bool projects(AgentStatus status) { return status != AgentStatus::kOffline; }

}  // namespace

class PresenceEngine::Impl {
 public:
  Impl(const PresenceConfig& config, const Clock& clock, PresenceListener& listener);

  AgentHandle addAgent(const AgentSpec& spec, const std::optional<RestoredState>& restored);
  void removeAgent(AgentHandle agent);
  void releaseAgent(AgentHandle agent);
  // Takes the agent out of every count, list and schedule; returns the status it had.
  AgentStatus detach(AgentHandle agent, TrackedAgent& rec);
  void setAgentClass(AgentHandle agent, AgentClass agent_class);
  void observe(const Observation& observation);
  void reportQueueDepth(QueueId queue, uint64_t depth, uint64_t bound);
  void reportIngestLag(Duration lag);
  void reportRequests(uint64_t accepted, uint64_t shed);
  void reportStoreWrite(bool ok);
  void reportStoreReach(bool reachable);
  void reportConnectionsStarved(uint64_t starved);
  void reportBeaconReceive(uint64_t read, uint64_t overflowed);
  void setMaintenanceWindows(std::vector<MaintenanceWindow> windows);
  void tick();

  AgentView agentView(AgentHandle agent) const;
  HealthView health() const;
  SiteView siteView(SiteId site) const;
  StatusCounts statusCounts(std::optional<TenantId> tenant, std::optional<SiteId> site) const;
  size_t agentCount() const { return sites_.fleetSize(); }
  double projectedHeartbeatsPerSecond() const {
    return static_cast<double>(projected_micro_per_s_) / 1e6;
  }
  size_t memoryBytes() const;

 private:
  struct Now {
    Ticks mono = 0;
    WallTime wall;
  };

  Now now() const { return Now{(clock_.monotonicNow() - origin_).count(), clock_.wallNow()}; }
  static WallTime wallAt(Ticks t, const Now& now) {
    return now.wall - std::chrono::duration_cast<WallTime::duration>(durationOf(now.mono - t));
  }
  static Ticks ticksAt(WallTime wall, const Now& now) {
    return now.mono - ticksOf(std::chrono::duration_cast<Duration>(now.wall - wall));
  }
  TrackedAgent* live(AgentHandle agent) {
    if (agent >= agents_.size()) return nullptr;
    TrackedAgent& rec = agents_[agent];
    return rec.has(kFlagRemoved) ? nullptr : &rec;
  }
  bool degraded() const { return health_mask_ != 0; }

  // Evidence.
  Ticks suspectTime(const TrackedAgent& rec, size_t* channel) const;
  Ticks witnessSpan(const TrackedAgent& rec) const;
  bool witnessFresh(const TrackedAgent& rec, Ticks now) const;
  void onDirectEvidence(AgentHandle agent, TrackedAgent& rec, const Now& now);
  void onWitness(AgentHandle agent, TrackedAgent& rec, Ticks at, Duration interval, const Now& now);
  void onShutdownNotice(AgentHandle agent, TrackedAgent& rec, Ticks at, const Now& now);
  // Direct evidence received at `at` establishes the agent once its probation is over.
  void noteEstablishment(TrackedAgent& rec, Ticks at);

  // AgentStatus.
  AgentStatus setStatus(AgentHandle agent, TrackedAgent& rec, AgentStatus to, Reason reason,
                        const Now& now);
  void goOnline(AgentHandle agent, TrackedAgent& rec, const Now& now);
  void enterSuspect(AgentHandle agent, TrackedAgent& rec, const Now& now, bool count);
  void judgeSilent(AgentHandle agent, TrackedAgent& rec, const Now& now, bool count);
  void enterShutdown(AgentHandle agent, TrackedAgent& rec, const Now& now);
  void evaluateDue(AgentHandle agent, TrackedAgent& rec, const Now& now);
  void confirmDue(AgentHandle agent, TrackedAgent& rec, const Now& now);
  void setDue(AgentHandle agent, TrackedAgent& rec, Ticks due);

  // Alerts.
  void hold(AgentHandle agent, TrackedAgent& rec, const Now& now, bool park);
  void release(AgentHandle agent, TrackedAgent& rec, const Now& now, const char* why);
  void openDeviceAlert(AgentHandle agent, TrackedAgent& rec, const Now& now, Reason reason);
  void resolveDeviceAlert(AgentHandle agent, TrackedAgent& rec, const Now& now, const char* why);
  void emit(AlertKind kind, AlertAction action, std::optional<AgentHandle> agent, SiteId site,
            const Now& now, std::string note);

  // Collector health.
  void syncHealth(const Now& now);
  void rearmHeld(const Now& now);

  // Sites, flapping, maintenance.
  // The site question for a SUSPECT agent whose confirmation ended (site_question.h), then,
  // for a dark site, the fleet question (fleet_hearing.h). Returns true when the agent fell
  // silent alone; otherwise it opened the site alert, scheduled the next look or held the
  // verdict.
  bool judgeAlone(AgentHandle agent, TrackedAgent& rec, const Now& now);
  void openSiteAlert(SiteId site, const SiteAnswer& answer, FleetHearing::Verdict fleet,
                     const Now& now);
  void maybeResolveSiteAlert(SiteId site, const Now& now);
  void noteFlap(AgentHandle agent, TrackedAgent& rec, const Now& now);
  void scanFlapping(const Now& now);
  void rejudgeMaintenance(const Now& now);

  const PresenceConfig config_;
  const Clock& clock_;
  PresenceListener& listener_;
  const MonoTime origin_;

  const Ticks warm_up_;
  const Ticks warm_up_end_;
  const Ticks confirm_;
  const Ticks witness_max_postpone_;
  const Ticks shutdown_grace_;
  const Ticks site_window_;
  // From a dark site's newest evidence until every agent of the fleet silenced at the same
  // instant is SUSPECT: the lateness ceiling of the longest interval.
  const Ticks site_settle_;
  const SiteQuestionRules site_rules_;
  // How long the fleet must be heard after it was deaf before it vouches for a dark site: the
  // longest interval with jitter and margin.
  const Ticks fleet_horizon_;
  const Ticks channel_window_;
  const Ticks established_after_;

  FailureDetector detector_;
  DegradationDetector degradation_;
  ChannelMonitor channels_;
  MassSuspectMonitor mass_;
  SiteTracker sites_;
  StatusTally tally_;
  FleetHearing hearing_;
  FlapDetector flaps_;
  MaintenanceCalendar maintenance_;
  DeadlineHeap heap_;
  AgentTable agents_;

  std::vector<AgentHandle> held_waiting_;  // held verdicts to re-arm at recovery
  std::vector<AgentHandle> in_maintenance_;
  std::vector<AgentHandle> scratch_;
  std::vector<Ticks> site_scratch_;
  std::vector<AgentHandle> flapping_;

  uint32_t health_mask_;
  uint32_t episode_mask_;  // every reason of the current (or last) degraded episode
  WallTime health_since_;
  // Set by a late tick until the health is synced: the last tick before the stall.
  std::optional<WallTime> stalled_since_;
  Ticks last_recovery_ = kNever;
  Ticks last_deaf_ = kNever;  // the last tick at which the fleet was deaf
  uint64_t held_count_ = 0;
  // Sum over live agents of rateShare(their heartbeat channel's interval): integers, so adding
  // and taking away an agent's share leaves no drift.
  uint64_t projected_micro_per_s_ = 0;
};

PresenceEngine::Impl::Impl(const PresenceConfig& config, const Clock& clock,
                           PresenceListener& listener)
    : config_(config),
      clock_(clock),
      listener_(listener),
      origin_(clock.monotonicNow()),
      warm_up_(ticksOf(config.warmUp())),
      warm_up_end_(warm_up_),
      confirm_(ticksOf(config.confirmation_window)),
      witness_max_postpone_(ticksOf(config.witness_max_postpone)),
      shutdown_grace_(ticksOf(config.server_shutdown_grace)),
      site_window_(ticksOf(config.site_window)),
      site_settle_(static_cast<Ticks>(std::max(config.lateness_floor, config.lateness_ceiling) *
                                      static_cast<double>(ticksOf(config.max_heartbeat_interval)))),
      site_rules_(siteRules(config)),
      fleet_horizon_(static_cast<Ticks>(
          site_rules_.allowance * static_cast<double>(ticksOf(config.max_heartbeat_interval)))),
      channel_window_(std::max<Ticks>(1, ticksOf(config.channel_window))),
      established_after_(std::max<Ticks>(0, ticksOf(config.established_after))),
      detector_(config_),
      degradation_(config_, 0, clock.wallNow()),
      channels_(config_, 0),
      mass_(config_, 0),
      hearing_(config_),
      flaps_(config_),
      health_mask_(degradation_.mask()),
      episode_mask_(degradation_.mask()),
      health_since_(clock.wallNow()) {}

// --- Evidence ------------------------------------------------------------------------------

Ticks PresenceEngine::Impl::suspectTime(const TrackedAgent& rec, size_t* channel) const {
  Ticks latest = kNever;
  for (size_t c = 0; c < kDirectChannelCount; ++c) {
    if (rec.direct[c].last == kNever) continue;
    const Ticks deadline = detector_.deadline(rec.direct[c]);
    if (deadline > latest) {
      latest = deadline;
      if (channel != nullptr) *channel = c;
    }
  }
  // The beacon fallback's promise bounds the silence, whatever the heartbeat interval.
  const Ticks promised = fallbackDue(rec, site_rules_);
  return promised != kNever && promised < latest ? promised : latest;
}

Ticks PresenceEngine::Impl::witnessSpan(const TrackedAgent& rec) const {
  const double ceiling = std::max(config_.lateness_floor, config_.lateness_ceiling);
  const auto by_interval =
      static_cast<Ticks>(ceiling * static_cast<double>(ticksOfMs(rec.witness_interval_ms)));
  return std::max(confirm_, by_interval);
}

bool PresenceEngine::Impl::witnessFresh(const TrackedAgent& rec, Ticks now) const {
  return rec.witness_last != kNever && now - rec.witness_last <= witnessSpan(rec);
}

void PresenceEngine::Impl::onDirectEvidence(AgentHandle agent, TrackedAgent& rec, const Now& now) {
  if (rec.status == AgentStatus::kShutdown &&
      rec.latestDirect() <= rec.shutdown_last + ticksOf(kShutdownSettle)) {
    return;
  }
  const Ticks deadline = suspectTime(rec, nullptr);
  if (deadline < now.mono) {
    // The evidence was already late when it reached the engine (it waited in a queue).
    switch (rec.status) {
      case AgentStatus::kOnline:
        setDue(agent, rec, deadline);
        return;
      case AgentStatus::kSuspect:
        // Silence is measured from the newest evidence: the window starts when it went late.
        if (!rec.has(kFlagHeld)) {
          rec.window_start = std::max(rec.window_start, deadline);
          setDue(agent, rec, rec.window_start + confirm_);
        }
        return;
      default:
        break;  // it was alive recently: ONLINE, and judged again at the next tick
    }
  }
  if (rec.status != AgentStatus::kOnline) goOnline(agent, rec, now);
  setDue(agent, rec, deadline);
}

void PresenceEngine::Impl::onWitness(AgentHandle agent, TrackedAgent& rec, Ticks at,
                                     Duration interval, const Now& now) {
  if (at <= rec.witness_last) return;
  rec.witness_last = at;
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(interval).count();
  rec.witness_interval_ms = static_cast<uint32_t>(std::clamp<int64_t>(ms, 0, UINT32_MAX));
  if (rec.status == AgentStatus::kSuspect && rec.reason == Reason::kHeartbeatLate) {
    setStatus(agent, rec, AgentStatus::kSuspect, Reason::kWitnessedOnly, now);
  }
}

void PresenceEngine::Impl::onShutdownNotice(AgentHandle agent, TrackedAgent& rec, Ticks at,
                                            const Now& now) {
  if (rec.shutdown_last != kNever && at < rec.shutdown_last) return;
  rec.shutdown_last = at;
  // Direct evidence clearly newer than the notice means the agent is back already.
  if (rec.latestDirect() != kNever && rec.latestDirect() > at + ticksOf(kShutdownSettle)) return;
  release(agent, rec, now, "the agent announced a shutdown");
  resolveDeviceAlert(agent, rec, now, "the agent announced a shutdown");
  enterShutdown(agent, rec, now);
}

void PresenceEngine::Impl::enterShutdown(AgentHandle agent, TrackedAgent& rec, const Now& now) {
  rec.clear(kFlagWitnessed);
  setStatus(agent, rec, AgentStatus::kShutdown, Reason::kAnnouncedShutdown, now);
  if (rec.agent_class == AgentClass::kServer) {
    rec.window_start = rec.shutdown_last;
    setDue(agent, rec, std::max(rec.shutdown_last + shutdown_grace_, now.mono));
  } else {
    rec.due = kNever;
  }
}

void PresenceEngine::Impl::noteEstablishment(TrackedAgent& rec, Ticks at) {
  if (rec.established) return;
  if (rec.established_from == kNever) rec.established_from = at + established_after_;
  if (at < rec.established_from) return;
  rec.established = true;
  hearing_.onEstablished(rec.tenant, rec.status, true);
}

// --- AgentStatus --------------------------------------------------------------------------------

AgentStatus PresenceEngine::Impl::setStatus(AgentHandle agent, TrackedAgent& rec, AgentStatus to,
                                            Reason reason, const Now& now) {
  if ((to == AgentStatus::kSuspect || to == AgentStatus::kOffline ||
       to == AgentStatus::kUnreachable) &&
      maintenance_.covers(agent, rec.site, rec.tenant)) {
    to = AgentStatus::kMaintenance;
    reason = Reason::kInMaintenance;
  }
  const AgentStatus from = rec.status;
  if (from == to && rec.reason == reason) return to;
  if (from != to) {
    if (projects(from) != projects(to)) {
      const uint64_t share = rateShare(rec.direct[kHeartbeatChannel].interval_ms);
      if (projects(to)) {
        projected_micro_per_s_ += share;
      } else {
        projected_micro_per_s_ -= share;
      }
    }
    sites_.onStatusChange(rec.site, from, to);
    tally_.onStatusChange(rec.tenant, rec.site, from, to);
    hearing_.onStatusChange(rec.tenant, from, to, rec.established);
    rec.since = now.wall;
  }
  rec.status = to;
  rec.reason = reason;
  Transition transition{agent, from, to, reason, now.wall, health_mask_, std::nullopt};
  if (to == AgentStatus::kSuspect || to == AgentStatus::kOffline ||
      to == AgentStatus::kUnreachable) {
    // When its next evidence was due: the first of its indicators' next arrivals still to come
    // after its latest evidence of any kind, each one expected interval after its latest plus
    // the agent's jitter (up to 10 %): an agent alive until then would have been heard.
    const Ticks latest = std::max(rec.latestDirect(), rec.witness_last);
    Ticks due = kNever;
    for (const ArrivalStats& stats : rec.direct) {
      if (stats.last == kNever) continue;
      const Ticks next = stats.last + ticksOf(std::chrono::duration_cast<Duration>(
                                          std::chrono::milliseconds(stats.interval_ms) * 11 / 10));
      if (next > latest && (due == kNever || next < due)) due = next;
    }
    if (due == kNever) due = latest;
    if (due != kNever) transition.overdue_from = wallAt(std::min(due, now.mono), now);
  }
  listener_.onTransition(transition);
  if (from == to) return to;
  if (to == AgentStatus::kMaintenance) {
    rec.due = kNever;
    if (!rec.has(kFlagInMaintList)) {
      rec.set(kFlagInMaintList);
      in_maintenance_.push_back(agent);
    }
  }
  // Only changes that open or resolve a device alert can form a stream of alerts.
  if (from == AgentStatus::kOffline || to == AgentStatus::kOffline) noteFlap(agent, rec, now);
  if (from == AgentStatus::kUnreachable) maybeResolveSiteAlert(rec.site, now);
  return to;
}

void PresenceEngine::Impl::goOnline(AgentHandle agent, TrackedAgent& rec, const Now& now) {
  release(agent, rec, now, "the agent was heard from again");
  resolveDeviceAlert(agent, rec, now, "the agent reported again");
  rec.clear(kFlagWitnessed);
  setStatus(agent, rec, AgentStatus::kOnline, Reason::kFreshEvidence, now);
}

void PresenceEngine::Impl::enterSuspect(AgentHandle agent, TrackedAgent& rec, const Now& now,
                                        bool count) {
  rec.clear(kFlagWitnessed);
  const Reason reason =
      witnessFresh(rec, now.mono) ? Reason::kWitnessedOnly : Reason::kHeartbeatLate;
  SiteState& site = sites_.site(rec.site);
  if (site.alert_open) {
    if (rec.has(kFlagHeld)) {  // the site alert speaks for it now
      rec.clear(kFlagHeld);
      --held_count_;
    }
    if (setStatus(agent, rec, AgentStatus::kUnreachable, Reason::kSitePartitioned, now) ==
        AgentStatus::kUnreachable) {
      ++site.partition_size;
    }
    rec.due = kNever;
    return;
  }
  if (setStatus(agent, rec, AgentStatus::kSuspect, reason, now) != AgentStatus::kSuspect) {
    rec.due = kNever;
    return;
  }
  rec.window_start = now.mono;
  setDue(agent, rec, now.mono + confirm_);
  if (!count || !rec.established) return;
  MassSuspectMonitor::Entry entry;
  entry.site = rec.site;
  entry.tenant = rec.tenant;
  entry.site_is_minority = sites_.isMinority(rec.site);
  entry.several_tenants = hearing_.establishedTenants() > 1;
  if (mass_.onSuspect(entry, hearing_.establishedAgents(), now.mono)) {
    degradation_.setCondition(DegradationReason::kMassSuspect, true, now.mono);
    syncHealth(now);
  }
}

void PresenceEngine::Impl::judgeSilent(AgentHandle agent, TrackedAgent& rec, const Now& now,
                                       bool count) {
  if (silenceAnnounced(rec)) {
    enterShutdown(agent, rec, now);
    if (rec.agent_class == AgentClass::kServer) {
      // Judged only now (after warm-up or maintenance): give it one confirmation window.
      rec.window_start = now.mono;
      setDue(agent, rec, std::max(rec.shutdown_last + shutdown_grace_, now.mono + confirm_));
    }
    return;
  }
  enterSuspect(agent, rec, now, count);
}

void PresenceEngine::Impl::setDue(AgentHandle agent, TrackedAgent& rec, Ticks due) {
  rec.due = due;
  if (due == kNever) return;
  const auto key = heap_.keyOf(agent);
  if (!key || due < *key) heap_.set(agent, due);
}

void PresenceEngine::Impl::evaluateDue(AgentHandle agent, TrackedAgent& rec, const Now& now) {
  switch (rec.status) {
    case AgentStatus::kUnknown: {
      if (rec.window_start > now.mono) {
        setDue(agent, rec, rec.window_start);
        return;
      }
      if (rec.latestDirect() == kNever && rec.shutdown_last == kNever) {
        rec.due = kNever;  // never heard of: nothing to judge
        return;
      }
      // OFFLINE before the restart and not heard since: that silence was judged and alerted
      // then, so it is no doubt now (a SUSPECT it would keep a mass suspect from settling
      // while the verdicts that event holds keep it SUSPECT).
      if (rec.has(kFlagAlertOpen) && !silenceAnnounced(rec)) {
        rec.due = kNever;
        setStatus(agent, rec, AgentStatus::kOffline, Reason::kConfirmedSilent, now);
        return;
      }
      // Silent since before the engine started: not a silence that began now, so not an
      // entry for the mass-suspect surge (a fleet silent at start is deaf, which still counts).
      judgeSilent(agent, rec, now, /*count=*/false);
      return;
    }
    case AgentStatus::kOnline: {
      size_t channel = 0;
      const Ticks late = suspectTime(rec, &channel);
      if (late >= now.mono) {
        setDue(agent, rec, late);
        return;
      }
      // Every channel it uses is late. If each of them has collapsed, their silence says
      // nothing about the agent: look again after one interval of that channel (at most a
      // channel window). A channel that still works and is silent too decides as usual.
      bool judged_by_working_channel = false;
      for (size_t c = 0; c < kDirectChannelCount; ++c) {
        if (rec.direct[c].last != kNever && !channels_.collapsed(c)) {
          judged_by_working_channel = true;
        }
      }
      if (!judged_by_working_channel) {
        const Ticks interval = ticksOf(std::chrono::milliseconds(rec.direct[channel].interval_ms));
        setDue(agent, rec, now.mono + std::clamp<Ticks>(interval, 1, channel_window_));
        return;
      }
      enterSuspect(agent, rec, now, true);
      return;
    }
    case AgentStatus::kSuspect:
      confirmDue(agent, rec, now);
      return;
    case AgentStatus::kShutdown:
      if (rec.agent_class == AgentClass::kServer) {
        confirmDue(agent, rec, now);
      } else {
        rec.due = kNever;
      }
      return;
    default:
      rec.due = kNever;
      return;
  }
}

void PresenceEngine::Impl::confirmDue(AgentHandle agent, TrackedAgent& rec, const Now& now) {
  const bool suspect = rec.status == AgentStatus::kSuspect;
  if (suspect && sites_.site(rec.site).alert_open) {
    enterSuspect(agent, rec, now, /*count=*/false);  // joins the open site alert
    return;
  }
  // While the only doubt is a mass suspect, a site can still be judged: several sites cut at
  // once look like a surge, and a dark site whose rest of the fleet is heard is a partition.
  const bool may_judge_site = suspect && health_mask_ == kMassSuspectBit;
  if (degraded() && !may_judge_site) {
    hold(agent, rec, now, /*park=*/true);
    return;
  }
  if (!degraded() && last_recovery_ != kNever && last_recovery_ >= rec.window_start) {
    // The collector was DEGRADED during the window: start it again from the recovery.
    hold(agent, rec, now, /*park=*/false);
    rec.window_start = last_recovery_;
    if (last_recovery_ + confirm_ >= now.mono) {
      setDue(agent, rec, last_recovery_ + confirm_);
      return;
    }
  }
  // Evidence received up to the reported ingest lag ago may still wait in the queue: the
  // silence is confirmed only once the whole window lies before it.
  const Ticks queued = degradation_.reportedIngestLag();
  if (queued > 0 && now.mono - queued < rec.window_start + confirm_) {
    setDue(agent, rec, rec.window_start + confirm_ + queued);
    return;
  }
  Reason verdict = Reason::kShutdownTooLong;
  if (suspect) {
    if (!judgeAlone(agent, rec, now)) return;
    if (degraded()) {
      hold(agent, rec, now, /*park=*/true);
      return;
    }
    if (witnessFresh(rec, now.mono)) {
      const Ticks bound = rec.window_start + confirm_ + witness_max_postpone_;
      if (now.mono < bound) {
        rec.set(kFlagWitnessed);
        if (rec.reason == Reason::kHeartbeatLate) {
          setStatus(agent, rec, AgentStatus::kSuspect, Reason::kWitnessedOnly, now);
        }
        setDue(agent, rec, std::min(rec.witness_last + witnessSpan(rec), bound));
        return;
      }
      verdict = Reason::kWitnessExpired;
    } else {
      verdict = rec.has(kFlagHeld) ? Reason::kConfirmedAfterHold : Reason::kConfirmedSilent;
    }
  }
  const bool was_held = rec.has(kFlagHeld);
  rec.due = kNever;
  const AgentStatus result = setStatus(agent, rec, AgentStatus::kOffline, verdict, now);
  if (result == AgentStatus::kOffline) openDeviceAlert(agent, rec, now, verdict);
  if (was_held) {
    if (result == AgentStatus::kOffline) {
      rec.clear(kFlagHeld);
      --held_count_;
    } else {
      release(agent, rec, now, "the agent is inside a maintenance window");
    }
  }
}

// --- Alerts --------------------------------------------------------------------------------

void PresenceEngine::Impl::emit(AlertKind kind, AlertAction action,
                                std::optional<AgentHandle> agent, SiteId site, const Now& now,
                                std::string note) {
  AlertEvent event;
  event.kind = kind;
  event.action = action;
  event.agent = agent;
  event.site = site;
  event.at = now.wall;
  event.note = std::move(note);
  if (agent && (action == AlertAction::kHeld || action == AlertAction::kReleased)) {
    const TrackedAgent& rec = agents_[*agent];
    event.held_since = rec.held_since;
    event.held_for_mask = rec.held_for_mask;
  }
  listener_.onAlert(event);
}

void PresenceEngine::Impl::hold(AgentHandle agent, TrackedAgent& rec, const Now& now, bool park) {
  rec.held_for_mask |= degraded() ? health_mask_ : episode_mask_;
  if (!rec.has(kFlagHeld)) {
    rec.set(kFlagHeld);
    rec.held_since = now.wall;
    ++held_count_;
    emit(AlertKind::kDeviceOffline, AlertAction::kHeld, agent, rec.site, now,
         "offline alert held: the collector is degraded (" + maskText(rec.held_for_mask) +
             "); the agent will be verified again after recovery");
    if (rec.status == AgentStatus::kSuspect) {
      setStatus(agent, rec, AgentStatus::kSuspect, Reason::kHeldDegraded, now);
    }
  }
  if (park) {
    rec.due = kNever;
    if (!rec.has(kFlagInHeldList)) {
      rec.set(kFlagInHeldList);
      held_waiting_.push_back(agent);
    }
  }
}

void PresenceEngine::Impl::release(AgentHandle agent, TrackedAgent& rec, const Now& now,
                                   const char* why) {
  if (!rec.has(kFlagHeld)) return;
  rec.clear(kFlagHeld);
  --held_count_;
  emit(AlertKind::kDeviceOffline, AlertAction::kReleased, agent, rec.site, now,
       std::string("held offline alert cleared: ") + why);
}

void PresenceEngine::Impl::openDeviceAlert(AgentHandle agent, TrackedAgent& rec, const Now& now,
                                           Reason reason) {
  if (rec.has(kFlagAlertOpen) || rec.has(kFlagFlapping)) return;
  rec.set(kFlagAlertOpen);
  AlertEvent event;
  event.kind = AlertKind::kDeviceOffline;
  event.action = AlertAction::kOpened;
  event.agent = agent;
  event.site = rec.site;
  event.at = now.wall;
  event.note = reasonText(reason);
  if (rec.has(kFlagHeld)) {
    event.held_since = rec.held_since;
    event.held_for_mask = rec.held_for_mask;
    event.note += "; this alert was held for " + durationText(now.wall - rec.held_since) +
                  " while the collector was degraded (" + maskText(rec.held_for_mask) + ")";
  }
  listener_.onAlert(event);
}

void PresenceEngine::Impl::resolveDeviceAlert(AgentHandle agent, TrackedAgent& rec, const Now& now,
                                              const char* why) {
  if (!rec.has(kFlagAlertOpen)) return;
  rec.clear(kFlagAlertOpen);
  emit(AlertKind::kDeviceOffline, AlertAction::kResolved, agent, rec.site, now, why);
}

// --- Collector health ----------------------------------------------------------------------

void PresenceEngine::Impl::syncHealth(const Now& now) {
  const uint32_t mask = degradation_.mask();
  if (mask == health_mask_) return;
  const bool was = health_mask_ != 0;
  const bool is = mask != 0;
  if (is) episode_mask_ = (was ? episode_mask_ : 0) | mask;
  health_mask_ = mask;
  if (was != is) health_since_ = now.wall;
  HealthChange change{is, mask, now.wall, std::nullopt};
  if (is && !was) change.blind_from = stalled_since_;
  listener_.onHealthChange(change);
  if (was && !is) {
    last_recovery_ = now.mono;
    rearmHeld(now);
  }
}

void PresenceEngine::Impl::rearmHeld(const Now& now) {
  for (AgentHandle agent : held_waiting_) {
    TrackedAgent& rec = agents_[agent];
    rec.clear(kFlagInHeldList);
    if (rec.has(kFlagRemoved) || !rec.has(kFlagHeld)) continue;
    if (rec.status != AgentStatus::kSuspect && rec.status != AgentStatus::kShutdown) continue;
    rec.held_for_mask |= episode_mask_;
    rec.window_start = now.mono;
    setDue(agent, rec, now.mono + confirm_);
  }
  held_waiting_.clear();
}

// --- Sites, flapping, maintenance ----------------------------------------------------------

bool PresenceEngine::Impl::judgeAlone(AgentHandle agent, TrackedAgent& rec, const Now& now) {
  const SiteState& site = sites_.site(rec.site);
  const SiteAnswer answer = askSite(site, agents_, agent, now.mono, site_rules_, site_scratch_);
  // However undecided its site, a verdict waits at most site_window after its window ended.
  const Ticks cap = rec.window_start + confirm_ + site_window_;
  switch (answer.kind) {
    case SiteAnswer::Kind::kAlone:
      return true;
    case SiteAnswer::Kind::kWait:
      if (now.mono >= cap) return true;
      setDue(agent, rec, std::min(answer.ask_again_at, cap));
      return false;
    case SiteAnswer::Kind::kDark:
      break;
  }
  // The site is dark. Judge it against the rest of the fleet only once the rest had the time
  // to show the same silence: an agent silenced when the site's last evidence arrived is
  // SUSPECT by then, so a fleet-wide silence cannot pass for a partition. And a fleet heard
  // again only just now (a stall's backlog being read) cannot vouch for a site whose own
  // backlog may come next: the fleet must have been heard for a horizon since it was deaf.
  Ticks settled = answer.dark_since + site_settle_;
  if (last_deaf_ != kNever) settled = std::max(settled, last_deaf_ + fleet_horizon_);
  if (now.mono < settled && now.mono < cap) {
    setDue(agent, rec, std::min(settled, cap));
    return false;
  }
  FleetHearing::Group group;
  group.tenant = rec.tenant;
  for (AgentHandle member : site.members) {
    const TrackedAgent& other = agents_[member];
    if (!other.established) continue;
    if (other.status == AgentStatus::kOnline || other.status == AgentStatus::kSuspect)
      ++group.listening;
    if (other.status == AgentStatus::kSuspect) ++group.silent;
  }
  const FleetHearing::Verdict fleet = hearing_.judgeRest(group);
  if (fleet == FleetHearing::Verdict::kDeaf) {
    // Most of the fleet is silent too: the collector's problem, not the site's.
    if (degraded()) {
      hold(agent, rec, now, /*park=*/true);
      return false;
    }
    if (now.mono < cap) {
      setDue(agent, rec, std::min(now.mono + confirm_, cap));
      return false;
    }
    // Still undecided after site_window: one site alert is the smaller error than one alert
    // per device.
  }
  openSiteAlert(rec.site, answer, fleet, now);
  return false;
}

void PresenceEngine::Impl::openSiteAlert(SiteId site_id, const SiteAnswer& answer,
                                         FleetHearing::Verdict fleet, const Now& now) {
  SiteState& site = sites_.site(site_id);
  if (site.alert_open) return;
  site.alert_open = true;
  site.partition_size = 0;
  std::string note = std::to_string(answer.silent) + " of " + std::to_string(answer.expected) +
                     " agents of the site went silent together";
  switch (fleet) {
    case FleetHearing::Verdict::kHeard:
      note += " while the collector still hears the rest of the fleet";
      break;
    case FleetHearing::Verdict::kNoReference:
      note +=
          "; nothing else the collector hears can tell (no other agents, or only another "
          "tenant's)";
      break;
    case FleetHearing::Verdict::kDeaf:
      note += "; most of the rest of the fleet is silent too, but for " +
              durationText(durationOf(site_window_)) + " the collector found no fault of its own";
      break;
  }
  emit(AlertKind::kSiteUnreachable, AlertAction::kOpened, std::nullopt, site_id, now,
       std::move(note));
  for (AgentHandle member : site.members) {
    TrackedAgent& rec = agents_[member];
    if (rec.status != AgentStatus::kSuspect) continue;
    if (rec.has(kFlagHeld)) {
      rec.clear(kFlagHeld);
      --held_count_;
    }
    rec.clear(kFlagWitnessed);
    rec.due = kNever;
    if (setStatus(member, rec, AgentStatus::kUnreachable, Reason::kSitePartitioned, now) ==
        AgentStatus::kUnreachable) {
      ++site.partition_size;
    }
  }
}

void PresenceEngine::Impl::maybeResolveSiteAlert(SiteId site_id, const Now& now) {
  SiteState& site = sites_.site(site_id);
  if (!site.alert_open) return;
  const uint32_t unreachable = site.by_status[kUnreachableIndex];
  if (2 * uint64_t{unreachable} > site.partition_size) return;
  site.alert_open = false;
  emit(AlertKind::kSiteUnreachable, AlertAction::kResolved, std::nullopt, site_id, now,
       "the site's agents are reporting again");
  site.partition_size = 0;
  // Agents still silent are judged on their own now, after one more start-up grace for
  // agents that back off before reconnecting.
  for (AgentHandle member : site.members) {
    TrackedAgent& rec = agents_[member];
    if (rec.status != AgentStatus::kUnreachable) continue;
    if (setStatus(member, rec, AgentStatus::kSuspect, Reason::kHeartbeatLate, now) ==
        AgentStatus::kSuspect) {
      rec.window_start = now.mono;
      setDue(member, rec, now.mono + warm_up_ + confirm_);
    }
  }
}

void PresenceEngine::Impl::noteFlap(AgentHandle agent, TrackedAgent& rec, const Now& now) {
  const double score = flaps_.addChange(rec.flap_score, rec.flap_updated, now.mono);
  if (rec.has(kFlagFlapping) || !flaps_.starts(score)) return;
  rec.set(kFlagFlapping);
  emit(AlertKind::kFlapping, AlertAction::kOpened, agent, rec.site, now,
       "the agent changes status too often; device alerts are suppressed while it flaps");
  if (!rec.has(kFlagInFlapList)) {
    rec.set(kFlagInFlapList);
    flapping_.push_back(agent);
  }
}

void PresenceEngine::Impl::scanFlapping(const Now& now) {
  size_t keep = 0;
  for (size_t i = 0; i < flapping_.size(); ++i) {
    const AgentHandle agent = flapping_[i];
    TrackedAgent& rec = agents_[agent];
    const bool still = !rec.has(kFlagRemoved) && rec.has(kFlagFlapping) &&
                       !flaps_.ends(flaps_.decayed(rec.flap_score, rec.flap_updated, now.mono));
    if (still) {
      flapping_[keep++] = agent;
      continue;
    }
    rec.clear(kFlagInFlapList);
    if (rec.has(kFlagRemoved) || !rec.has(kFlagFlapping)) continue;
    rec.clear(kFlagFlapping);
    emit(AlertKind::kFlapping, AlertAction::kResolved, agent, rec.site, now,
         "the agent's status is stable again");
    if (rec.status == AgentStatus::kOffline) openDeviceAlert(agent, rec, now, rec.reason);
  }
  flapping_.resize(keep);
}

void PresenceEngine::Impl::rejudgeMaintenance(const Now& now) {
  scratch_.swap(in_maintenance_);
  in_maintenance_.clear();
  for (AgentHandle agent : scratch_) {
    TrackedAgent& rec = agents_[agent];
    if (rec.has(kFlagRemoved) || rec.status != AgentStatus::kMaintenance) {
      rec.clear(kFlagInMaintList);
      continue;
    }
    if (maintenance_.covers(agent, rec.site, rec.tenant)) {
      in_maintenance_.push_back(agent);
      continue;
    }
    rec.clear(kFlagInMaintList);
    judgeSilent(agent, rec, now, /*count=*/false);
  }
  scratch_.clear();
}

// --- Public operations ---------------------------------------------------------------------

AgentHandle PresenceEngine::Impl::addAgent(const AgentSpec& spec,
                                           const std::optional<RestoredState>& restored) {
  const Now now = this->now();
  const auto agent = static_cast<AgentHandle>(agents_.size());
  TrackedAgent& rec = agents_.append();
  rec.site = spec.site;
  rec.tenant = spec.tenant;
  rec.agent_class = spec.agent_class;
  rec.since = now.wall;
  rec.site_slot = sites_.add(spec.site, agent);
  tally_.add(spec.tenant, spec.site, rec.status);
  if (restored) {
    auto restoredAt = [&](Indicator indicator) -> Ticks {
      const auto& seen = restored->last_seen[static_cast<size_t>(indicator)];
      if (!seen) return kNever;
      return std::min(ticksAt(*seen, now), now.mono);
    };
    const Ticks heartbeat = restoredAt(Indicator::kHeartbeat);
    const Ticks beacon = restoredAt(Indicator::kBeacon);
    if (heartbeat != kNever) {
      detector_.record(rec.direct[kHeartbeatChannel], heartbeat, restored->expected_interval);
      if (projects(rec.status)) {
        projected_micro_per_s_ += rateShare(rec.direct[kHeartbeatChannel].interval_ms);
      }
    }
    if (beacon != kNever)
      detector_.record(rec.direct[kBeaconChannel], beacon, restored->expected_interval);
    rec.witness_last = restoredAt(Indicator::kPeerWitness);
    rec.witness_interval_ms = static_cast<uint32_t>(
        std::chrono::duration_cast<std::chrono::milliseconds>(restored->expected_interval).count());
    rec.shutdown_last = restoredAt(Indicator::kShutdownNotice);
    rec.diary_last = restoredAt(Indicator::kDiary);
    // heard_since stays unset: the collector did not hear it while it was down.
    // An agent OFFLINE before the restart had its alert raised then: it is not raised again
    // while the silence continues, and is resolved when the agent returns.
    if (restored->status == AgentStatus::kOffline) rec.set(kFlagAlertOpen);
  }
  // Probation: from its enrollment.
  const Ticks enrolled = spec.enrolled_at ? ticksAt(*spec.enrolled_at, now) : now.mono;
  rec.established_from = enrolled + established_after_;
  if (rec.latestDirect() != kNever) noteEstablishment(rec, rec.latestDirect());
  rec.window_start = now.mono < warm_up_end_ ? warm_up_end_ : now.mono + warm_up_;
  if (rec.latestDirect() != kNever || rec.shutdown_last != kNever) {
    setDue(agent, rec, rec.window_start);
  }
  return agent;
}

void PresenceEngine::Impl::removeAgent(AgentHandle agent) {
  TrackedAgent* rec = live(agent);
  if (rec == nullptr) return;
  const Now now = this->now();
  resolveDeviceAlert(agent, *rec, now, "the agent was retired");
  if (rec->has(kFlagFlapping)) {
    emit(AlertKind::kFlapping, AlertAction::kResolved, agent, rec->site, now,
         "the agent was retired");
  }
  const AgentStatus status = detach(agent, *rec);
  if (status == AgentStatus::kUnreachable) {
    SiteState& site = sites_.site(rec->site);
    if (site.partition_size > 0) --site.partition_size;
    maybeResolveSiteAlert(rec->site, now);
  }
}

void PresenceEngine::Impl::releaseAgent(AgentHandle agent) {
  TrackedAgent* rec = live(agent);
  if (rec == nullptr) return;
  detach(agent, *rec);
  // The site's alert goes with the last of its agents: the new owner answers for it.
  SiteState& site = sites_.site(rec->site);
  if (site.members.empty()) {
    site.alert_open = false;
    site.partition_size = 0;
  }
}

AgentStatus PresenceEngine::Impl::detach(AgentHandle agent, TrackedAgent& rec) {
  rec.clear(kFlagFlapping);
  if (rec.has(kFlagHeld)) {
    rec.clear(kFlagHeld);
    --held_count_;
  }
  const AgentStatus status = rec.status;
  hearing_.onRemove(rec.tenant, status, rec.established);
  tally_.remove(rec.tenant, rec.site, status);
  if (auto moved = sites_.remove(rec.site, rec.site_slot, status)) {
    agents_[*moved].site_slot = rec.site_slot;
  }
  if (projects(status)) {
    projected_micro_per_s_ -= rateShare(rec.direct[kHeartbeatChannel].interval_ms);
  }
  rec.set(kFlagRemoved);
  rec.reason = Reason::kRetired;
  rec.due = kNever;
  heap_.remove(agent);
  return status;
}

void PresenceEngine::Impl::setAgentClass(AgentHandle agent, AgentClass agent_class) {
  TrackedAgent* rec = live(agent);
  if (rec == nullptr || rec->agent_class == agent_class) return;
  rec->agent_class = agent_class;
  if (rec->status != AgentStatus::kShutdown) return;
  const Now now = this->now();
  if (agent_class == AgentClass::kServer) {
    rec->window_start = rec->shutdown_last;
    setDue(agent, *rec, std::max(rec->shutdown_last + shutdown_grace_, now.mono));
  } else {
    rec->due = kNever;
    release(agent, *rec, now, "a workstation may stay shut down");
  }
}

void PresenceEngine::Impl::observe(const Observation& observation) {
  TrackedAgent* rec = live(observation.agent);
  if (rec == nullptr) return;
  const Now now = this->now();
  Ticks at = (observation.received_at - origin_).count();
  if (at > now.mono) at = now.mono;
  // A peer witness carries when the peer heard the agent, which is old by nature (the sighting
  // waits for the reporter's next heartbeat): its age is not ingest lag.
  if (now.mono - at > 0 && observation.indicator != Indicator::kPeerWitness) {
    degradation_.onObservationLag(now.mono - at, now.mono);
    syncHealth(now);
  }
  switch (observation.indicator) {
    case Indicator::kHeartbeat:
    case Indicator::kBeacon: {
      const size_t channel =
          observation.indicator == Indicator::kHeartbeat ? kHeartbeatChannel : kBeaconChannel;
      ArrivalStats& stats = rec->direct[channel];
      if (at < stats.last) return;  // older than what this channel already told
      if (channel == kHeartbeatChannel) rec->beacon_fallback = observation.beacon_fallback;
      noteDirectEvidence(*rec, at, site_rules_);
      // While DEGRADED arrival times are distorted (a backlog read at once): keep them, but
      // do not let them teach the detector.
      const uint32_t interval_before = stats.interval_ms;
      const bool taught = detector_.record(stats, at, observation.expected_interval, !degraded());
      if (channel == kHeartbeatChannel && stats.interval_ms != interval_before &&
          projects(rec->status)) {
        projected_micro_per_s_ += rateShare(stats.interval_ms);
        projected_micro_per_s_ -= rateShare(interval_before);
      }
      if (!taught) return;
      // Only established agents count: agents enrolled for the occasion cannot fake a fault.
      // Nor agents on the beacon fallback: a channel lost under them brings the other one, so
      // its loss cannot make them SUSPECT, and their stretched heartbeats say nothing per window.
      if (rec->established && !rec->beacon_fallback) {
        channels_.onArrival(channel, rec->direct, rec->tenant);
      }
      onDirectEvidence(observation.agent, *rec, now);
      noteEstablishment(*rec, at);
      return;
    }
    case Indicator::kPeerWitness:
      if (observation.witness && *observation.witness == observation.agent) return;
      onWitness(observation.agent, *rec, at, observation.expected_interval, now);
      return;
    case Indicator::kShutdownNotice:
      onShutdownNotice(observation.agent, *rec, at, now);
      return;
    case Indicator::kDiary:
      // A diary describes the past; it arrives with a heartbeat, which is the evidence.
      if (at > rec->diary_last) rec->diary_last = at;
      if (observation.diary_from && observation.diary_to) {
        listener_.onDiary(observation.agent, *observation.diary_from, *observation.diary_to);
      }
      return;
  }
}

void PresenceEngine::Impl::reportQueueDepth(QueueId queue, uint64_t depth, uint64_t bound) {
  const Now now = this->now();
  degradation_.onQueueDepth(queue, depth, bound, now.mono);
  syncHealth(now);
}

void PresenceEngine::Impl::reportIngestLag(Duration lag) {
  const Now now = this->now();
  degradation_.onIngestLag(lag, now.mono);
  syncHealth(now);
}

void PresenceEngine::Impl::reportRequests(uint64_t accepted, uint64_t shed) {
  const Now now = this->now();
  degradation_.onRequests(accepted, shed, now.mono);
  syncHealth(now);
}

void PresenceEngine::Impl::reportConnectionsStarved(uint64_t starved) {
  const Now now = this->now();
  degradation_.setCondition(DegradationReason::kConnectionsExhausted, starved > 0, now.mono);
  syncHealth(now);
}

void PresenceEngine::Impl::reportBeaconReceive(uint64_t read, uint64_t overflowed) {
  const Now now = this->now();
  degradation_.onBeaconReceive(read, overflowed, now.mono);
  syncHealth(now);
}

void PresenceEngine::Impl::reportStoreWrite(bool ok) {
  const Now now = this->now();
  degradation_.onStoreWrite(ok, now.mono);
  syncHealth(now);
}

void PresenceEngine::Impl::reportStoreReach(bool reachable) {
  const Now now = this->now();
  degradation_.onStoreReach(reachable, now.mono);
  syncHealth(now);
}

void PresenceEngine::Impl::setMaintenanceWindows(std::vector<MaintenanceWindow> windows) {
  maintenance_.setWindows(std::move(windows));
  const Now now = this->now();
  if (maintenance_.update(now.wall)) rejudgeMaintenance(now);
}

void PresenceEngine::Impl::tick() {
  const Now now = this->now();
  const WallTime previous_tick = degradation_.lastTickWall();
  if (degradation_.onTick(now.mono, now.wall)) {
    channels_.onStall(now.mono);
    stalled_since_ = previous_tick;
  }
  if (channels_.roll(now.mono)) {
    degradation_.setCondition(DegradationReason::kChannelCollapse, channels_.anyCollapsed(),
                              now.mono);
  }
  const uint64_t suspect = mass_.active() ? hearing_.silentOutsideTopTenant() : 0;
  const bool deaf = hearing_.deaf();
  if (deaf) last_deaf_ = now.mono;
  const auto mass = mass_.roll(suspect, hearing_.establishedAgents(), deaf, now.mono);
  if (mass != MassSuspectMonitor::Change::kNone) {
    degradation_.setCondition(DegradationReason::kMassSuspect,
                              mass == MassSuspectMonitor::Change::kStarted, now.mono);
  }
  syncHealth(now);
  stalled_since_.reset();
  if (maintenance_.update(now.wall)) rejudgeMaintenance(now);
  if (!flapping_.empty()) scanFlapping(now);
  while (!heap_.empty() && heap_.topKey() < now.mono) {
    const AgentHandle agent = heap_.topHandle();
    TrackedAgent& rec = agents_[agent];
    if (!rec.has(kFlagRemoved) && rec.due != kNever && rec.due >= now.mono) {
      heap_.set(agent, rec.due);  // evidence moved the deadline: the key catches up in place
      continue;
    }
    heap_.pop();
    if (rec.has(kFlagRemoved) || rec.due == kNever) continue;
    evaluateDue(agent, rec, now);
    if (rec.due != kNever && rec.due < now.mono) {
      rec.due = now.mono;  // never revisit an agent within the same tick
      heap_.set(agent, rec.due);
    }
  }
}

// --- Queries -------------------------------------------------------------------------------

AgentView PresenceEngine::Impl::agentView(AgentHandle agent) const {
  AgentView view;
  if (agent >= agents_.size()) return view;
  const TrackedAgent& rec = agents_[agent];
  const Now now = this->now();
  view.status = rec.status;
  view.reason = rec.reason;
  view.since = rec.since;
  view.held = rec.has(kFlagHeld);
  view.flapping = rec.has(kFlagFlapping);
  view.alert_open = rec.has(kFlagAlertOpen);
  view.site = rec.site;
  view.tenant = rec.tenant;
  view.agent_class = rec.agent_class;
  for (size_t c = 0; c < kDirectChannelCount; ++c) {
    const ArrivalStats& stats = rec.direct[c];
    if (stats.last == kNever) continue;
    IndicatorView& out = view.indicators[c];
    out.last_seen = wallAt(stats.last, now);
    out.expected_interval = std::chrono::milliseconds(stats.interval_ms);
    out.late_after = wallAt(detector_.deadline(stats), now);
  }
  if (rec.diary_last != kNever) {
    view.indicators[static_cast<size_t>(Indicator::kDiary)].last_seen = wallAt(rec.diary_last, now);
  }
  if (rec.shutdown_last != kNever) {
    view.indicators[static_cast<size_t>(Indicator::kShutdownNotice)].last_seen =
        wallAt(rec.shutdown_last, now);
  }
  if (rec.witness_last != kNever) {
    IndicatorView& out = view.indicators[static_cast<size_t>(Indicator::kPeerWitness)];
    out.last_seen = wallAt(rec.witness_last, now);
    out.expected_interval = std::chrono::milliseconds(rec.witness_interval_ms);
    out.late_after = wallAt(rec.witness_last + witnessSpan(rec), now);
  }
  return view;
}

HealthView PresenceEngine::Impl::health() const {
  const Now now = this->now();
  HealthView view;
  view.degraded = health_mask_ != 0;
  view.reasons_mask = health_mask_;
  view.since = health_since_;
  for (DegradationReason reason : degradationReasonsIn(health_mask_)) {
    if (auto since = degradation_.reasonSince(reason)) {
      view.reason_since[static_cast<size_t>(reason)] = wallAt(*since, now);
    }
  }
  view.agents = sites_.fleetSize();
  view.agents_by_status = sites_.fleet();
  view.held_alerts = held_count_;
  return view;
}

SiteView PresenceEngine::Impl::siteView(SiteId site) const {
  SiteView view;
  const SiteState* state = sites_.find(site);
  if (state == nullptr) return view;
  view.agents = state->members.size();
  view.silent = uint64_t{state->by_status[kSuspectIndex]} + state->by_status[kUnreachableIndex] +
                state->by_status[static_cast<size_t>(AgentStatus::kOffline)];
  view.alert_open = state->alert_open;
  return view;
}

StatusCounts PresenceEngine::Impl::statusCounts(std::optional<TenantId> tenant,
                                                std::optional<SiteId> site) const {
  if (tenant && site) return tally_.ofTenantAtSite(*tenant, *site);
  if (tenant) return tally_.ofTenant(*tenant);
  if (site) {
    const SiteState* state = sites_.find(*site);
    return state != nullptr ? state->by_status : StatusCounts{};
  }
  return sites_.fleet();
}

size_t PresenceEngine::Impl::memoryBytes() const {
  const size_t lists = (held_waiting_.capacity() + in_maintenance_.capacity() +
                        scratch_.capacity() + flapping_.capacity()) *
                       sizeof(AgentHandle);
  return sizeof(*this) + agents_.memoryBytes() + heap_.memoryBytes() + sites_.memoryBytes() +
         tally_.memoryBytes() + hearing_.memoryBytes() + mass_.memoryBytes() +
         channels_.memoryBytes() + maintenance_.memoryBytes() + lists +
         site_scratch_.capacity() * sizeof(Ticks);
}

// --- PresenceEngine ------------------------------------------------------------------------

PresenceEngine::PresenceEngine(const PresenceConfig& config, const Clock& clock,
                               PresenceListener& listener)
    : impl_(std::make_unique<Impl>(config, clock, listener)) {}
PresenceEngine::~PresenceEngine() = default;

AgentHandle PresenceEngine::addAgent(const AgentSpec& spec,
                                     const std::optional<RestoredState>& restored) {
  return impl_->addAgent(spec, restored);
}
void PresenceEngine::removeAgent(AgentHandle agent) { impl_->removeAgent(agent); }

void PresenceEngine::releaseAgent(AgentHandle agent) { impl_->releaseAgent(agent); }
void PresenceEngine::setAgentClass(AgentHandle agent, AgentClass agent_class) {
  impl_->setAgentClass(agent, agent_class);
}
void PresenceEngine::observe(const Observation& observation) { impl_->observe(observation); }
void PresenceEngine::reportQueueDepth(QueueId queue, uint64_t depth, uint64_t bound) {
  impl_->reportQueueDepth(queue, depth, bound);
}
void PresenceEngine::reportIngestLag(Duration lag) { impl_->reportIngestLag(lag); }
void PresenceEngine::reportRequests(uint64_t accepted, uint64_t shed) {
  impl_->reportRequests(accepted, shed);
}
void PresenceEngine::reportStoreWrite(bool ok) { impl_->reportStoreWrite(ok); }
void PresenceEngine::reportStoreReach(bool reachable) { impl_->reportStoreReach(reachable); }
void PresenceEngine::reportConnectionsStarved(uint64_t starved) {
  impl_->reportConnectionsStarved(starved);
}

void PresenceEngine::reportBeaconReceive(uint64_t read, uint64_t overflowed) {
  impl_->reportBeaconReceive(read, overflowed);
}
void PresenceEngine::setMaintenanceWindows(std::vector<MaintenanceWindow> windows) {
  impl_->setMaintenanceWindows(std::move(windows));
}
void PresenceEngine::tick() { impl_->tick(); }
AgentView PresenceEngine::agentView(AgentHandle agent) const { return impl_->agentView(agent); }
HealthView PresenceEngine::health() const { return impl_->health(); }
SiteView PresenceEngine::siteView(SiteId site) const { return impl_->siteView(site); }
StatusCounts PresenceEngine::statusCounts(std::optional<TenantId> tenant,
                                          std::optional<SiteId> site) const {
  return impl_->statusCounts(tenant, site);
}
size_t PresenceEngine::agentCount() const { return impl_->agentCount(); }
double PresenceEngine::projectedHeartbeatsPerSecond() const {
  return impl_->projectedHeartbeatsPerSecond();
}
size_t PresenceEngine::memoryBytes() const { return impl_->memoryBytes(); }

}  // namespace vigil::collector::presence
