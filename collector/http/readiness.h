#pragma once

// /readyz: the collector is ready when its listener is up and its store answers.
//
// Thread safety: safe to call concurrently.

#include <atomic>

#include "collector/store/store.h"
#include "common/status.h"

namespace vigil::collector {

class ReadinessProbe {
 public:
  explicit ReadinessProbe(Store& store) : store_(store) {}

  void setListening(bool listening) { listening_.store(listening); }

  // OK when ready; otherwise says why not.
  Status check() const {
    if (!listening_.load()) return Status::unavailable("listener is not up");
    Status store = store_.ping();
    if (!store.ok()) return Status::unavailable("store: " + store.message());
    return Status::okStatus();
  }

 private:
  Store& store_;
  std::atomic<bool> listening_{false};
};

}  // namespace vigil::collector
