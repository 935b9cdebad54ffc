#include "tools/fleetsim/office_verdict.h"

#include <algorithm>
#include <cstdio>
#include <optional>

#include "tools/fleetsim/report.h"

namespace vigil::fleetsim {
namespace {

// What an alert of the offices was, by the ground truth.
enum class Role : uint8_t {
  kSiteAlert,    // a site alert opened while its office was cut
  kDeathAlert,   // a device alert of a killed agent while it was dead
  kFalseDevice,  // a device alert of a live agent whose office was cut
  kUnexpected,   // anything else
};

struct JudgedAlert {
  const SeenAlert* alert = nullptr;
  std::string subject;  // agent name or office
  Role role = Role::kUnexpected;
  int round = -1;     // index into the cuts; -1: none
  WallTime fault_at;  // the cut or the death it follows
};

bool notified(const SeenAlert& a) { return a.state == "open" || a.state == "resolved"; }

std::string fmt(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f", v);
  return buf;
}

class OfficeJudge {
 public:
  OfficeJudge(const OfficeRun& run, WallTime origin, double interval_s, double tick_s)
      : run_(run),
        origin_(origin),
        interval_s_(interval_s),
        kill_bound_s_(3 * interval_s + 2 * tick_s),
        resolve_bound_s_(2 * interval_s + tick_s) {
    for (const auto& [label, id] : run.site_ids) site_label_[id] = label;
  }

  OfficeVerdict judge(const std::vector<SeenAlert>& alerts) {
    for (const SeenAlert& a : alerts) {
      if (auto judged = classify(a)) judged_.push_back(*judged);
    }
    std::sort(judged_.begin(), judged_.end(), [](const JudgedAlert& x, const JudgedAlert& y) {
      return x.alert->opened_at < y.alert->opened_at;
    });
    for (size_t r = 0; r < run_.cuts.size(); ++r) judgeCut(r);
    for (const OfficeKill& k : run_.kills) judgeKill(k);
    for (const JudgedAlert& j : judged_) {
      if (!notified(*j.alert)) continue;
      if (j.role == Role::kFalseDevice) {
        fail("round " + std::to_string(j.round + 1) + ": false device_offline alert #" +
             std::to_string(j.alert->id) + " for " + j.subject + " (alive, its office cut " +
             fmt(since(j.fault_at, j.alert->opened_at)) + " s before)");
      } else if (j.role == Role::kUnexpected) {
        fail("unexpected " + j.alert->kind + " alert #" + std::to_string(j.alert->id) + " for " +
             j.subject + " opened at +" + fmt(at(j.alert->opened_at)) + " s");
      }
    }
    writeTimeline();
    return std::move(verdict_);
  }

 private:
  double at(WallTime t) const { return std::chrono::duration<double>(t - origin_).count(); }
  static double since(WallTime from, WallTime to) {
    return std::chrono::duration<double>(to - from).count();
  }
  void fail(const std::string& line) { verdict_.failures.push_back(line); }

  std::optional<JudgedAlert> classify(const SeenAlert& a) const {
    JudgedAlert j;
    j.alert = &a;
    if (a.kind == "site_unreachable") {
      auto label = site_label_.find(a.site_id);
      if (label == site_label_.end()) return std::nullopt;  // not an office
      j.subject = label->second;
      for (size_t r = 0; r < run_.cuts.size(); ++r) {
        const OfficeCut& c = run_.cuts[r];
        if (c.site == j.subject && c.cut_at <= a.opened_at && a.opened_at <= c.heal_at) {
          return JudgedAlert{&a, j.subject, Role::kSiteAlert, static_cast<int>(r), c.cut_at};
        }
      }
      return j;
    }
    auto name = run_.agent_names.find(a.agent_id);
    if (name == run_.agent_names.end()) return std::nullopt;  // not an office agent
    j.subject = name->second;
    if (a.kind != "device_offline") return j;
    for (const OfficeKill& k : run_.kills) {
      if (k.agent == j.subject && k.killed_at <= a.opened_at && a.opened_at < k.restarted_at) {
        return JudgedAlert{&a, j.subject, Role::kDeathAlert, roundOf(k.killed_at), k.killed_at};
      }
    }
    const auto grace = std::chrono::duration_cast<WallTime::duration>(
        std::chrono::duration<double>(2 * interval_s_));
    for (size_t r = 0; r < run_.cuts.size(); ++r) {
      const OfficeCut& c = run_.cuts[r];
      const WallTime until = c.heal_at == WallTime::max() ? c.heal_at : c.heal_at + grace;
      if (c.site == officeOf(j.subject) && c.cut_at <= a.opened_at && a.opened_at <= until) {
        return JudgedAlert{&a, j.subject, Role::kFalseDevice, static_cast<int>(r), c.cut_at};
      }
    }
    return j;
  }

  // The round a death belongs to: the last cut at or before it (kills come with cuts).
  int roundOf(WallTime t) const {
    int round = -1;
    for (size_t r = 0; r < run_.cuts.size(); ++r) {
      if (run_.cuts[r].cut_at <= t) round = static_cast<int>(r);
    }
    return round;
  }

  bool deadAt(const std::string& agent, WallTime t) const {
    return std::any_of(run_.kills.begin(), run_.kills.end(), [&](const OfficeKill& k) {
      return k.agent == agent && k.killed_at <= t && t < k.restarted_at;
    });
  }

  const SeenAlert* alertById(int64_t id) const {
    for (const JudgedAlert& j : judged_) {
      if (j.alert->id == id) return j.alert;
    }
    return nullptr;
  }

  void judgeCut(size_t r) {
    const OfficeCut& c = run_.cuts[r];
    const std::string round =
        "round " + std::to_string(r + 1) + " (" + c.site + " cut at +" + fmt(at(c.cut_at)) + " s)";
    if (c.heal_at == WallTime::max()) return;  // judged by the end-of-run assertions only
    if (c.open_site_alerts_before_heal.size() != 1) {
      fail(round + ": " + std::to_string(c.open_site_alerts_before_heal.size()) +
           " site alerts open before the heal, expected one");
    }
    for (const auto& [agent, status] : c.status_before_heal) {
      if (status != "UNREACHABLE" && !deadAt(agent, c.heal_at)) {
        fail(round + ": " + agent + " was " + status + " before the heal, expected UNREACHABLE");
      }
    }
    for (const JudgedAlert& j : judged_) {
      if (j.role == Role::kSiteAlert && j.round == static_cast<int>(r) &&
          std::count(c.open_site_alerts_before_heal.begin(), c.open_site_alerts_before_heal.end(),
                     j.alert->id) == 0) {
        fail(round + ": site alert #" + std::to_string(j.alert->id) +
             " opened and closed again during the cut");
      }
    }
    if (c.open_site_alerts_before_heal.size() == 1) {
      judgeResolution(r, round, c.open_site_alerts_before_heal.front());
    }
  }

  // The site alert open at the heal closes after it, within two intervals (an agent is heard
  // within one interval after an outage ends), unless the office is cut again first.
  void judgeResolution(size_t r, const std::string& round, int64_t alert_id) {
    const OfficeCut& c = run_.cuts[r];
    const SeenAlert* alert = alertById(alert_id);
    if (alert == nullptr) {
      fail(round + ": site alert #" + std::to_string(alert_id) + " missing from the alert list");
      return;
    }
    const double limit_s = resolve_bound_s_;
    for (size_t next = r + 1; next < run_.cuts.size(); ++next) {
      const OfficeCut& n = run_.cuts[next];
      if (n.site != c.site) continue;
      const bool recut_soon = since(c.heal_at, n.cut_at) <= limit_s;
      if (recut_soon && (!alert->closed_at || *alert->closed_at > n.cut_at)) return;  // carried
      break;
    }
    if (!alert->closed_at) {
      fail(round + ": site alert #" + std::to_string(alert_id) + " never resolved after the heal");
    } else if (*alert->closed_at < c.heal_at) {
      fail(round + ": site alert #" + std::to_string(alert_id) + " resolved before the heal");
    } else if (since(c.heal_at, *alert->closed_at) > limit_s) {
      fail(round + ": site alert #" + std::to_string(alert_id) + " resolved " +
           fmt(since(c.heal_at, *alert->closed_at)) + " s after the heal, above " + fmt(limit_s) +
           " s (two intervals and a tick)");
    }
  }

  void judgeKill(const OfficeKill& k) {
    const std::string death = k.agent + " killed at +" + fmt(at(k.killed_at)) + " s";
    std::vector<const SeenAlert*> alerts;
    for (const JudgedAlert& j : judged_) {
      if (j.role == Role::kDeathAlert && j.subject == k.agent && j.fault_at == k.killed_at &&
          notified(*j.alert)) {
        alerts.push_back(j.alert);
      }
    }
    if (alerts.empty()) {
      fail(death + ": no device_offline alert while it was dead");
      return;
    }
    if (alerts.size() > 1) {
      fail(death + ": " + std::to_string(alerts.size()) + " device_offline alerts, expected one");
    }
    const double latency = since(k.killed_at, alerts.front()->opened_at);
    if (latency > kill_bound_s_) {
      fail(death + ": alerted " + fmt(latency) + " s after its death, above " + fmt(kill_bound_s_) +
           " s (three intervals and two ticks)");
    }
    if (k.restarted_at != WallTime::max() &&
        (!alerts.front()->closed_at || *alerts.front()->closed_at < k.restarted_at)) {
      fail(death + ": its alert was not resolved by its return");
    }
  }

  std::string describe(const JudgedAlert& j) const {
    const SeenAlert& a = *j.alert;
    std::string line = "  +" + fmt(at(a.opened_at)) + " s";
    if (j.role != Role::kUnexpected) {
      line += std::string(j.role == Role::kDeathAlert ? " (death +" : " (cut +") +
              fmt(since(j.fault_at, a.opened_at)) + " s)";
    }
    line += " " + a.kind + " #" + std::to_string(a.id) + " " + j.subject + " opened";
    if (!notified(a)) line += " (" + a.state + ", not notified)";
    if (a.closed_at) line += ", closed at +" + fmt(at(*a.closed_at)) + " s";
    if (j.role == Role::kFalseDevice) line += "  FALSE: alive, its office was cut";
    if (j.role == Role::kUnexpected) line += "  UNEXPECTED";
    return line;
  }

  void writeTimeline() {
    auto& out = verdict_.timeline;
    for (size_t r = 0; r < run_.cuts.size(); ++r) {
      const OfficeCut& c = run_.cuts[r];
      std::string head =
          "round " + std::to_string(r + 1) + ": " + c.site + " cut at +" + fmt(at(c.cut_at)) + " s";
      if (c.heal_at != WallTime::max()) head += ", healed at +" + fmt(at(c.heal_at)) + " s";
      out.push_back(head);
      std::string ages = "  heartbeat ages at the cut:";
      for (const auto& [agent, age] : c.heartbeat_ages_s)
        ages += " " + agent + " " + fmt(age) + " s";
      out.push_back(ages);
      for (const OfficeKill& k : run_.kills) {
        if (roundOf(k.killed_at) != static_cast<int>(r)) continue;
        std::string kill = "  " + k.agent + " killed at +" + fmt(at(k.killed_at)) + " s";
        if (k.heartbeat_age_s >= 0) {
          kill += " (its last heartbeat " + fmt(k.heartbeat_age_s) + " s before)";
        }
        if (k.restarted_at != WallTime::max())
          kill += ", restarted at +" + fmt(at(k.restarted_at)) + " s";
        out.push_back(kill);
      }
      for (const JudgedAlert& j : judged_) {
        if (j.round == static_cast<int>(r) && j.role != Role::kUnexpected)
          out.push_back(describe(j));
      }
    }
    bool header = false;
    for (const JudgedAlert& j : judged_) {
      if (j.role != Role::kUnexpected && j.round >= 0) continue;
      if (!header) out.push_back("outside the rounds:");
      header = true;
      out.push_back(describe(j));
    }
  }

  const OfficeRun& run_;
  WallTime origin_;
  double interval_s_;
  double kill_bound_s_;
  double resolve_bound_s_;
  std::map<int64_t, std::string> site_label_;
  std::vector<JudgedAlert> judged_;
  OfficeVerdict verdict_;
};

}  // namespace

std::string officeOf(const std::string& agent_name) {
  return agent_name.substr(0, agent_name.find('/'));
}

OfficeVerdict judgeOffices(const OfficeRun& run, const std::vector<SeenAlert>& alerts,
                           WallTime origin, double interval_s, double tick_s) {
  return OfficeJudge(run, origin, interval_s, tick_s).judge(alerts);
}

}  // namespace vigil::fleetsim
