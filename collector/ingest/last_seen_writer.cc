#include "collector/ingest/last_seen_writer.h"

#include <utility>

namespace vigil::collector {

LastSeenWriter::LastSeenWriter(AgentDirectory& directory, Store& store,
                               std::chrono::milliseconds interval, ErrorSink on_error)
    : directory_(directory), store_(store), interval_(interval), on_error_(std::move(on_error)) {}

LastSeenWriter::~LastSeenWriter() { stop(); }

Result<FlushStats> LastSeenWriter::flush() {
  std::lock_guard<std::mutex> lock(flush_mu_);
  std::vector<LastSeenUpdate> batch = directory_.takeDirty();
  if (batch.empty()) return FlushStats{};
  Status written = store_.updateLastSeen(batch);
  if (!written.ok()) {
    directory_.markDirty(batch);
    return written;
  }
  return FlushStats{batch.size()};
}

void LastSeenWriter::start() {
  std::lock_guard<std::mutex> lock(mu_);
  stopping_ = false;
  thread_ = std::thread([this] { run(); });
}

Status LastSeenWriter::stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
  auto last = flush();
  return last.ok() ? Status::okStatus() : last.error();
}

void LastSeenWriter::run() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopping_) {
    wake_.wait_for(lock, interval_, [this] { return stopping_; });
    if (stopping_) break;
    lock.unlock();
    auto result = flush();
    if (!result.ok() && on_error_) on_error_(result.error());
    lock.lock();
  }
}

}  // namespace vigil::collector
