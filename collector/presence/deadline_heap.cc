#include "collector/presence/deadline_heap.h"

namespace vigil::collector::presence {

void DeadlineHeap::reserve(size_t handles) {
  if (position_.size() < handles) position_.resize(handles, kAbsent);
  entries_.reserve(handles);
}

size_t DeadlineHeap::memoryBytes() const {
  return entries_.capacity() * sizeof(Entry) + position_.capacity() * sizeof(uint32_t);
}

void DeadlineHeap::place(size_t index, const Entry& entry) {
  entries_[index] = entry;
  position_[entry.handle] = static_cast<uint32_t>(index);
}

void DeadlineHeap::siftUp(size_t index) {
  const Entry entry = entries_[index];
  while (index > 0) {
    const size_t parent = (index - 1) / 2;
    if (!less(entry, entries_[parent])) break;
    place(index, entries_[parent]);
    index = parent;
  }
  place(index, entry);
}

void DeadlineHeap::siftDown(size_t index) {
  const Entry entry = entries_[index];
  const size_t count = entries_.size();
  while (true) {
    size_t child = 2 * index + 1;
    if (child >= count) break;
    if (child + 1 < count && less(entries_[child + 1], entries_[child])) ++child;
    if (!less(entries_[child], entry)) break;
    place(index, entries_[child]);
    index = child;
  }
  place(index, entry);
}

void DeadlineHeap::set(Handle handle, Key key) {
  if (handle >= position_.size()) {
    size_t grown = position_.size() < 16 ? 16 : position_.size() * 2;
    while (grown <= handle) grown *= 2;
    position_.resize(grown, kAbsent);
  }
  const uint32_t at = position_[handle];
  if (at == kAbsent) {
    entries_.push_back(Entry{key, handle});
    position_[handle] = static_cast<uint32_t>(entries_.size() - 1);
    siftUp(entries_.size() - 1);
    return;
  }
  const Key old = entries_[at].key;
  entries_[at].key = key;
  if (key < old) {
    siftUp(at);
  } else if (key > old) {
    siftDown(at);
  }
}

bool DeadlineHeap::remove(Handle handle) {
  if (!contains(handle)) return false;
  const size_t at = position_[handle];
  position_[handle] = kAbsent;
  const size_t last = entries_.size() - 1;
  if (at != last) {
    const Entry moved = entries_[last];
    entries_.pop_back();
    place(at, moved);
    // The moved entry may belong above or below its new place.
    if (at > 0 && less(moved, entries_[(at - 1) / 2])) {
      siftUp(at);
    } else {
      siftDown(at);
    }
  } else {
    entries_.pop_back();
  }
  return true;
}

DeadlineHeap::Handle DeadlineHeap::pop() {
  const Handle top = entries_.front().handle;
  remove(top);
  return top;
}

}  // namespace vigil::collector::presence
