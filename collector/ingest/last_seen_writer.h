#pragma once

// Writes the AgentDirectory's dirty entries behind to the store: all of them in one
// transaction per flush, every `interval` on a background thread and once more on stop().
// A failed batch is marked dirty again and retried on the next flush; a kill -9 loses at most
// one interval of last-seen times (docs/architecture.md).
//
// Thread safety: flush() may be called from any thread; start()/stop() from one owner thread.

#include <chrono>
#include <cstdint>
#include <functional>

#include "collector/ingest/agent_directory.h"
#include "collector/store/store.h"
#include "common/mutex.h"
#include "common/periodic_thread.h"
#include "common/status.h"

namespace vigil::collector {

struct FlushStats {
  size_t agents_written = 0;
};

class LastSeenWriter {
 public:
  // Called with the outcome of each background flush that had something to write (for
  // logging: a failure, and the first success after failures); may be empty.
  using OutcomeSink = std::function<void(const Status&)>;

  // `directory` and `store` must outlive the writer.
  LastSeenWriter(AgentDirectory& directory, AgentStore& store, std::chrono::milliseconds interval,
                 OutcomeSink on_outcome = {});
  ~LastSeenWriter();  // stops (and flushes) if running
  LastSeenWriter(const LastSeenWriter&) = delete;
  LastSeenWriter& operator=(const LastSeenWriter&) = delete;

  // Writes every dirty entry now, in one batch.
  Result<FlushStats> flush();

  // Starts the background thread. REQUIRES: not running.
  void start();
  // Stops the background thread, then flushes a last time. Idempotent.
  Status stop();

 private:
  AgentDirectory& directory_;
  AgentStore& store_;
  const OutcomeSink on_outcome_;

  Mutex flush_mu_;  // one flush at a time, so batches reach the store in order
  PeriodicThread thread_;
};

}  // namespace vigil::collector
