#pragma once

// /readyz: the collector is ready when its listener is up, its store answers and, in a
// cluster, the shards it holds are loaded (ClusterMembership::ready()).
//
// Thread safety: safe to call concurrently.

#include <atomic>
#include <functional>
#include <utility>

#include "collector/store/store.h"
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

 private:
  Store& store_;
  std::atomic<bool> listening_{false};
  std::function<Status()> also_;
};

}  // namespace vigil::collector
