#pragma once

// Move-only owners of Win32 resources. Every handle the Windows platform opens lives in one.

#include <windows.h>

#include <utility>

namespace vigil::agent::windows {

// Owns one resource of the kind `Traits` describes:
//   using Value = ...;                  the raw handle type
//   static Value empty();               the value that owns nothing
//   static bool isEmpty(Value v);       whether `v` owns nothing (some APIs have two such values)
//   static void close(Value v);         frees a non-empty `v`
template <typename Traits>
class UniqueResource {
 public:
  using Value = typename Traits::Value;

  UniqueResource() = default;
  explicit UniqueResource(Value value) : value_(value) {}
  ~UniqueResource() { reset(); }
  UniqueResource(UniqueResource&& other) noexcept : value_(other.release()) {}
  UniqueResource& operator=(UniqueResource&& other) noexcept {
    if (this != &other) reset(other.release());
    return *this;
  }
  UniqueResource(const UniqueResource&) = delete;
  UniqueResource& operator=(const UniqueResource&) = delete;

  Value get() const { return value_; }
  explicit operator bool() const { return !Traits::isEmpty(value_); }
  // Gives up ownership without freeing.
  Value release() { return std::exchange(value_, Traits::empty()); }
  // Frees what is owned, then owns `value`.
  void reset(Value value = Traits::empty()) {
    if (!Traits::isEmpty(value_)) Traits::close(value_);
    value_ = value;
  }

 private:
  Value value_ = Traits::empty();
};

// A kernel object handle (file, event, thread). CreateFileW reports failure with
// INVALID_HANDLE_VALUE, most other APIs with null: both own nothing.
struct KernelHandleTraits {
  using Value = HANDLE;
  static HANDLE empty() { return nullptr; }
  static bool isEmpty(HANDLE h) { return h == nullptr || h == INVALID_HANDLE_VALUE; }
  static void close(HANDLE h) { CloseHandle(h); }
};
using UniqueHandle = UniqueResource<KernelHandleTraits>;

// Memory the system allocated with LocalAlloc for the caller (FormatMessageW,
// GetNamedSecurityInfoW, ConvertStringSecurityDescriptorToSecurityDescriptorW).
struct LocalMemoryTraits {
  using Value = HLOCAL;
  static HLOCAL empty() { return nullptr; }
  static bool isEmpty(HLOCAL h) { return h == nullptr; }
  static void close(HLOCAL h) { LocalFree(h); }
};
using UniqueLocalMemory = UniqueResource<LocalMemoryTraits>;

}  // namespace vigil::agent::windows
