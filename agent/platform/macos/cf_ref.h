#pragma once

// Ownership of CoreFoundation objects (CFStringRef, CFDictionaryRef, SCDynamicStoreRef, ...).

#include <CoreFoundation/CoreFoundation.h>

namespace vigil::agent::macos {

// Owns one reference to a CoreFoundation object and releases it with CFRelease. Adopt only
// what the caller owns by CoreFoundation's naming rule (a *Create* or *Copy* function); a
// *Get* result is borrowed and must not be put here. Move-only; null is allowed.
template <typename T>
class CFRef {
 public:
  CFRef() = default;
  explicit CFRef(T ref) : ref_(ref) {}
  ~CFRef() { reset(); }

  CFRef(CFRef&& other) noexcept : ref_(other.release()) {}
  CFRef& operator=(CFRef&& other) noexcept {
    if (this != &other) reset(other.release());
    return *this;
  }
  CFRef(const CFRef&) = delete;
  CFRef& operator=(const CFRef&) = delete;

  T get() const { return ref_; }
  explicit operator bool() const { return ref_ != nullptr; }

  // Gives up ownership without releasing.
  T release() {
    T ref = ref_;
    ref_ = nullptr;
    return ref;
  }

  void reset(T ref = nullptr) {
    if (ref_ != nullptr) CFRelease(ref_);
    ref_ = ref;
  }

 private:
  T ref_ = nullptr;
};

}  // namespace vigil::agent::macos
