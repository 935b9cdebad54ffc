#include "collector/ingest/last_seen_writer.h"

#include <utility>

namespace vigil::collector {

LastSeenWriter::LastSeenWriter(AgentDirectory& directory, AgentStore& store,
                               std::chrono::milliseconds interval, OutcomeSink on_outcome)
    : directory_(directory),
      store_(store),
      on_outcome_(std::move(on_outcome)),
      thread_(interval, [this] {
        auto result = flush();
        if (!on_outcome_) return;
        if (!result.ok()) {
          on_outcome_(result.error());
        } else if (result->agents_written > 0) {
          on_outcome_(Status::okStatus());
        }
      }) {}

LastSeenWriter::~LastSeenWriter() { stop(); }

Result<FlushStats> LastSeenWriter::flush() {
  MutexLock lock(flush_mu_);
  std::vector<LastSeenUpdate> batch = directory_.takeDirty();
  if (batch.empty()) return FlushStats{};
  Status written = store_.updateLastSeen(batch);
  if (!written.ok()) {
    directory_.markDirty(std::move(batch));
    return written;
  }
  directory_.written(batch);
  return FlushStats{batch.size()};
}

void LastSeenWriter::start() { thread_.start(); }

Status LastSeenWriter::stop() {
  thread_.stop();
  auto last = flush();
  return last.ok() ? Status::okStatus() : last.error();
}

}  // namespace vigil::collector
