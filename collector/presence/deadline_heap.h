#pragma once

// An indexed binary min-heap of (deadline, handle): at most one entry per handle, with
// O(log n) insertion, key change in either direction and removal, and O(1) lookup of a
// handle's key. Ties are broken by handle so the order is deterministic. The evaluation tick
// pops only the entries that are due instead of scanning the fleet.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

namespace vigil::collector::presence {

class DeadlineHeap {
 public:
  using Key = int64_t;
  using Handle = uint32_t;

  bool empty() const { return entries_.empty(); }
  size_t size() const { return entries_.size(); }
  bool contains(Handle handle) const {
    return handle < position_.size() && position_[handle] != kAbsent;
  }
  std::optional<Key> keyOf(Handle handle) const {
    if (!contains(handle)) return std::nullopt;
    return entries_[position_[handle]].key;
  }

  // Inserts `handle` with `key`, or moves its existing entry to `key` (earlier or later).
  void set(Handle handle, Key key);
  // Removes the handle's entry; false if it had none.
  bool remove(Handle handle);

  // REQUIRES: !empty().
  Key topKey() const { return entries_.front().key; }
  Handle topHandle() const { return entries_.front().handle; }
  Handle pop();

  // Reserves room for handles [0, handles) so that set() does not allocate.
  void reserve(size_t handles);
  size_t memoryBytes() const;

 private:
  struct Entry {
    Key key;
    Handle handle;
  };
  static constexpr uint32_t kAbsent = UINT32_MAX;

  static bool less(const Entry& a, const Entry& b) {
    return a.key < b.key || (a.key == b.key && a.handle < b.handle);
  }
  void place(size_t index, const Entry& entry);
  void siftUp(size_t index);
  void siftDown(size_t index);

  std::vector<Entry> entries_;
  std::vector<uint32_t> position_;  // by handle: index in entries_, or kAbsent
};

}  // namespace vigil::collector::presence
