#include "tools/fleetsim/cluster_steps.h"

#include <cstdio>

namespace vigil::fleetsim {
namespace {

using std::chrono::steady_clock;

WallTime wallNow() { return std::chrono::system_clock::now(); }

}  // namespace

bool isClusterAction(const std::string& action) {
  return action.rfind("collector_", 0) == 0 || action.rfind("pg_", 0) == 0 ||
         action.rfind("db_", 0) == 0;
}

ClusterTimeline::ClusterTimeline(ClusterLab& lab, RunObservations& obs,
                                 steady_clock::duration& shift, uint32_t busiest,
                                 std::chrono::seconds settle_timeout,
                                 std::function<void(const std::string&)> progress)
    : lab_(lab),
      obs_(obs),
      shift_(shift),
      busiest_(busiest),
      settle_timeout_(settle_timeout),
      progress_(std::move(progress)) {}

uint32_t ClusterTimeline::collectorOf(const FaultStep& step) const {
  if (step.action == "collector_add") return obs_.cluster.collectors + added_ + 1;
  if (step.collector == kBusiest) return busiest_;
  return step.collector > 0 ? static_cast<uint32_t>(step.collector) : 1;
}

void ClusterTimeline::settle(const std::string& after) {
  const auto began = steady_clock::now();
  Status s = lab_.awaitSettled(settle_timeout_);
  const auto took = std::chrono::duration<double>(steady_clock::now() - began).count();
  char line[96];
  std::snprintf(line, sizeof line, "settled %.1f s after %s", took, after.c_str());
  if (!s.ok()) {
    obs_.cluster.unsettled.push_back(after + ": " + s.message());
    progress_("NOT " + std::string(line) + ": " + s.message());
  } else {
    progress_(line);
  }
}

void ClusterTimeline::down(const std::string& what) { down_since_.emplace(what, wallNow()); }

void ClusterTimeline::up(const std::string& what) {
  auto it = down_since_.find(what);
  if (it == down_since_.end()) return;
  obs_.collector_down.push_back({it->second, wallNow(), {what}});
  down_since_.erase(it);
}

void ClusterTimeline::closeWindows() {
  while (!down_since_.empty()) up(down_since_.begin()->first);
}

std::function<void()> ClusterTimeline::action(const FaultStep& step) {
  const std::string& a = step.action;
  const uint32_t n = collectorOf(step);
  if (a == "collector_add") ++added_;
  const std::string name = ClusterLab::name(n);
  const std::string what = a + (a.rfind("pg_", 0) == 0 ? "" : " " + name);
  // Every step: carried out, timed, and the time it took added to the steps after it.
  auto timed = [this, what](std::function<void()> body) {
    return [this, what, body] {
      const auto began = steady_clock::now();
      body();
      shift_ += steady_clock::now() - began;
    };
  };
  auto note = [this, what](const Status& s) {
    if (!s.ok()) obs_.notes.push_back(what + ": " + s.message());
  };
  if (a == "collector_kill") {
    return timed([=] {
      down(name + " down");
      obs_.collector_interruptions.push_back(wallNow());
      lab_.kill(n);
    });
  }
  if (a == "collector_stop") {
    return timed([=] {
      down(name + " down");
      note(lab_.stop(n));
    });
  }
  if (a == "collector_start" || a == "collector_add") {
    return timed([=] {
      note(lab_.start(n));
      settle(what);
      up(name + " down");
    });
  }
  if (a == "collector_remove") {
    return timed([=] {
      note(lab_.remove(n));
      settle(what);
    });
  }
  if (a == "collector_freeze") {
    return timed([=] {
      down(name + " frozen");
      obs_.collector_interruptions.push_back(wallNow());
      lab_.freeze(n);
    });
  }
  if (a == "collector_thaw") {
    return timed([=] {
      lab_.thaw(n);
      settle(what);
      up(name + " frozen");
    });
  }
  if (a == "db_cut") {
    return timed([=] {
      down(name + " cut off from the database");
      obs_.collector_interruptions.push_back(wallNow());
      lab_.cutDatabase(n);
    });
  }
  if (a == "db_heal") {
    return timed([=] {
      lab_.healDatabase(n);
      settle(what);
      up(name + " cut off from the database");
    });
  }
  if (a == "pg_restart") {
    return timed([=] {
      note(lab_.restartDatabase());
      settle(what);
    });
  }
  if (a == "pg_stop") {
    return timed([=] {
      down("database down");
      note(lab_.stopDatabase());
    });
  }
  if (a == "pg_start") {
    return timed([=] {
      note(lab_.startDatabase());
      settle(what);
      up("database down");
    });
  }
  return timed([this, what] { obs_.notes.push_back(what + ": not an action of a cluster"); });
}

}  // namespace vigil::fleetsim
