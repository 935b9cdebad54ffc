#pragma once

// Ownership of libdispatch objects (queues, sources) in C++ compiled without Objective-C, where
// they are reference-counted by hand.

#include <dispatch/dispatch.h>

namespace vigil::agent::macos {

// Owns one reference to a dispatch object (dispatch_queue_t, dispatch_source_t) and drops it
// with dispatch_release. Adopts the reference a dispatch_*_create function returns.
// REQUIRES: a source is not suspended when it is released (dispatch's own rule).
template <typename T>
class DispatchRef {
 public:
  DispatchRef() = default;
  explicit DispatchRef(T object) : object_(object) {}
  ~DispatchRef() { reset(); }

  DispatchRef(DispatchRef&& other) noexcept : object_(other.object_) { other.object_ = nullptr; }
  DispatchRef& operator=(DispatchRef&& other) noexcept {
    if (this != &other) {
      reset(other.object_);
      other.object_ = nullptr;
    }
    return *this;
  }
  DispatchRef(const DispatchRef&) = delete;
  DispatchRef& operator=(const DispatchRef&) = delete;

  T get() const { return object_; }
  explicit operator bool() const { return object_ != nullptr; }

  void reset(T object = nullptr) {
    if (object_ != nullptr) dispatch_release(object_);
    object_ = object;
  }

 private:
  T object_ = nullptr;
};

}  // namespace vigil::agent::macos
