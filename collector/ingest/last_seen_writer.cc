#include "collector/ingest/last_seen_writer.h"

#include <utility>

namespace vigil::collector {

LastSeenWriter::LastSeenWriter(AgentDirectory& directory, Store& store,
                               std::chrono::milliseconds interval, ErrorSink on_error)
    : directory_(directory),
      store_(store),
      on_error_(std::move(on_error)),
      thread_(interval, [this] {
        auto result = flush();
        if (!result.ok() && on_error_) on_error_(result.error());
      }) {}

LastSeenWriter::~LastSeenWriter() { stop(); }

Result<FlushStats> LastSeenWriter::flush() {
  std::lock_guard<std::mutex> lock(flush_mu_);
  std::vector<LastSeenUpdate> batch = directory_.takeDirty();
  if (batch.empty()) return FlushStats{};
  Status written = store_.updateLastSeen(batch);
  if (!written.ok()) {
    directory_.markDirty(std::move(batch));
    return written;
  }
  return FlushStats{batch.size()};
}

void LastSeenWriter::start() { thread_.start(); }

Status LastSeenWriter::stop() {
  thread_.stop();
  auto last = flush();
  return last.ok() ? Status::okStatus() : last.error();
}

}  // namespace vigil::collector
