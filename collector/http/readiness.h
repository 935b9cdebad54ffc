#pragma once

// /readyz: the collector is ready when its listener is up, its store answers and, in a
// cluster, the shards it holds are loaded (ClusterMembership::ready()).
//
// Thread safety: safe to call concurrently.

#include <atomic>
#include <functional>
#include <string>
#include <utility>

#include "collector/store/store.h"
#include "common/mutex.h"
#include "common/status.h"

namespace vigil::collector {

class ReadinessProbe {
 public:
  explicit ReadinessProbe(Store& store) : store_(store) {}

  void setListening(bool listening) { listening_.store(listening); }
  // One more condition, asked after the store. REQUIRES: before concurrent use.
  void alsoRequire(std::function<Status()> check) { also_ = std::move(check); }

  // OK when ready; otherwise says why not.
  Status check() const {
    if (!listening_.load()) return Status::unavailable("listener is not up");
    Status store = store_.ping();
    if (!store.ok()) return Status::unavailable("store: " + store.message());
    if (also_) return also_();
    return Status::okStatus();
  }

  // check(), and in `change` what a log should say when the answer differs from the previous
  // one ("not ready: <why>", "ready again"); empty when it is the same. A load balancer probes
  // every few seconds: an outage is logged once, not at every probe.
  Status checkNotingChange(std::string* change) {
    Status ready = check();
    std::string now = ready.ok() ? std::string() : ready.message();
    MutexLock lock(mu_);
    if (now != last_) {
      *change = ready.ok() ? "ready again" : "not ready: " + now;
      last_ = std::move(now);
    }
    return ready;
  }

 private:
  Store& store_;
  std::atomic<bool> listening_{false};
  std::function<Status()> also_;
  Mutex mu_;
  std::string last_ GUARDED_BY(mu_);  // the previous answer's reason; empty: ready
};

}  // namespace vigil::collector
