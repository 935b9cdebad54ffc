#include "agent/core/sequence_allocator.h"

#include <algorithm>
#include <charconv>
#include <string>
#include <utility>

#include "agent/core/state_files.h"

namespace vigil::agent {

FileSequenceStore::FileSequenceStore(std::filesystem::path state_dir, StateProtection& protection)
    : state_dir_(std::move(state_dir)), protection_(protection), path_(state_dir_ / "seq") {}

Result<uint64_t> FileSequenceStore::loadReservation() {
  Result<std::optional<std::string>> content = readSmallFile(path_, 64);
  if (!content.ok()) return content.error();
  if (!content.value()) return uint64_t{0};
  std::string text = **content;
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' ')) {
    text.pop_back();
  }
  uint64_t value = 0;
  const char* first = text.data();
  const char* last = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(first, last, value);
  if (text.empty() || ec != std::errc() || ptr != last) {
    return Status::failedPrecondition("sequence file " + path_.string() + " is corrupt");
  }
  return value;
}

Status FileSequenceStore::storeReservation(uint64_t reserved_below) {
  if (Status st = prepareStateDir(state_dir_, protection_); !st.ok()) return st;
  return writePrivateFileAtomically(path_, std::to_string(reserved_below) + "\n", protection_);
}

SequenceAllocator::SequenceAllocator(SequenceStore& store, uint64_t block)
    : store_(store), block_(std::max<uint64_t>(block, 1)) {}

void SequenceAllocator::reserveFrom(uint64_t first) {
  next_ = std::clamp<uint64_t>(first, 1, kMaxSequence);
  const uint64_t below = std::min(next_ + block_, kMaxSequence + 1);
  persist_status_ = store_.storeReservation(below);
  // If the store failed, nothing past next_ counts as reserved: next() retries the store on
  // every call until it succeeds, and persistStatus() tells the caller meanwhile.
  reserved_below_ = persist_status_.ok() ? below : next_;
}

Status SequenceAllocator::start() {
  Result<uint64_t> stored = store_.loadReservation();
  reserveFrom(stored.ok() ? stored.value() : 1);
  return stored.ok() ? Status::okStatus() : stored.error();
}

uint64_t SequenceAllocator::next() {
  if (next_ >= reserved_below_) {
    const uint64_t below = std::min(next_ + block_, kMaxSequence + 1);
    persist_status_ = store_.storeReservation(below);
    if (persist_status_.ok()) reserved_below_ = below;
  }
  const uint64_t seq = next_;
  if (next_ < kMaxSequence) ++next_;
  return seq;
}

void SequenceAllocator::jumpForward(uint64_t count) {
  const uint64_t room = kMaxSequence - next_;
  reserveFrom(next_ + std::min(count, room));
}

}  // namespace vigil::agent
