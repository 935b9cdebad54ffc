#pragma once

#include <cstdint>
#include <filesystem>

#include "agent/core/platform.h"
#include "common/status.h"

namespace vigil::agent {

// Persists the sequence reservation: every heartbeat sequence number below the stored value
// may have been used. Implementations need not be thread-safe.
class SequenceStore {
 public:
  virtual ~SequenceStore() = default;
  // 0 when nothing is stored yet; an error when the stored value cannot be read or is corrupt.
  virtual Result<uint64_t> loadReservation() = 0;
  virtual Status storeReservation(uint64_t reserved_below) = 0;
};

// `<state_dir>/seq`: one decimal number and a newline, replaced atomically, mode 0600.
class FileSequenceStore final : public SequenceStore {
 public:
  // REQUIRES: `protection` outlives the store.
  FileSequenceStore(std::filesystem::path state_dir, StateProtection& protection);

  Result<uint64_t> loadReservation() override;
  Status storeReservation(uint64_t reserved_below) override;

  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path state_dir_;
  StateProtection& protection_;
  std::filesystem::path path_;
};

// Hands out heartbeat sequence numbers that strictly increase, also across restarts, with
// one write per block instead of one per beat: before a number is used, a reservation above
// it is stored; after a restart numbering resumes at the stored reservation.
// Not thread-safe.
class SequenceAllocator {
 public:
  static constexpr uint64_t kDefaultBlock = 1000;
  // Sequence numbers stay within what a JSON number carries exactly (docs/protocol.md).
  static constexpr uint64_t kMaxSequence = 9007199254740992ULL;

  // REQUIRES: `store` outlives the allocator; block >= 1.
  explicit SequenceAllocator(SequenceStore& store, uint64_t block = kDefaultBlock);

  // Loads the reservation and reserves the first block. Returns the load error, if any: then
  // numbering starts at 1 (the collector's replayed_sequence answer moves it forward). Whether
  // the first block could be stored is persistStatus().
  Status start();

  // The next sequence number. Never fails: if a new reservation cannot be stored, the number
  // is still handed out (a heartbeat matters more than the reservation; a replay after a
  // restart is repaired by jumpForward) and persistStatus() reports the error; the store is
  // retried on the next call.
  uint64_t next();

  // Skips `count` numbers and stores a reservation past them (after replayed_sequence).
  void jumpForward(uint64_t count);

  // The last store's outcome.
  const Status& persistStatus() const { return persist_status_; }
  uint64_t peekNext() const { return next_; }

 private:
  void reserveFrom(uint64_t first);

  SequenceStore& store_;
  uint64_t block_;
  uint64_t next_ = 1;
  uint64_t reserved_below_ = 1;
  Status persist_status_;
};

}  // namespace vigil::agent
