// common/crypto.h through Windows CNG, bcrypt.dll (VIGIL_CRYPTO_BACKEND=cng).
#include "common/crypto.h"

// windows.h must come before bcrypt.h.
// clang-format off
#include <windows.h>
#include <bcrypt.h>
// clang-format on

#include <cstdio>
#include <limits>
#include <vector>

namespace vigil::crypto {
namespace {

// The one place an NTSTATUS from CNG becomes Status.
Status cngStatus(const char* what, NTSTATUS status) {
  char code[16];
  std::snprintf(code, sizeof code, "0x%08lX", static_cast<unsigned long>(status));
  return Status::internal(std::string(what) + " failed: NTSTATUS " + code);
}

bool succeeded(NTSTATUS status) { return status >= 0; }

// Owns an algorithm provider. Each is opened once and shared by every thread (CNG algorithm
// handles are thread-safe).
class AlgorithmProvider {
 public:
  AlgorithmProvider(const wchar_t* algorithm, ULONG flags) {
    status_ = BCryptOpenAlgorithmProvider(&handle_, algorithm, nullptr, flags);
  }
  ~AlgorithmProvider() {
    if (handle_ != nullptr) BCryptCloseAlgorithmProvider(handle_, 0);
  }
  AlgorithmProvider(const AlgorithmProvider&) = delete;
  AlgorithmProvider& operator=(const AlgorithmProvider&) = delete;

  BCRYPT_ALG_HANDLE handle() const { return handle_; }
  NTSTATUS openStatus() const { return status_; }

 private:
  BCRYPT_ALG_HANDLE handle_ = nullptr;
  NTSTATUS status_ = 0;
};

// Owns one hash or HMAC computation.
class HashObject {
 public:
  HashObject() = default;
  ~HashObject() {
    if (handle_ != nullptr) BCryptDestroyHash(handle_);
  }
  HashObject(const HashObject&) = delete;
  HashObject& operator=(const HashObject&) = delete;

  BCRYPT_HASH_HANDLE* out() { return &handle_; }
  BCRYPT_HASH_HANDLE get() const { return handle_; }

 private:
  BCRYPT_HASH_HANDLE handle_ = nullptr;
};

PUCHAR input(std::string_view s) {
  // CNG takes non-const pointers for input it only reads.
  return reinterpret_cast<PUCHAR>(const_cast<char*>(s.data()));
}

// Hashes `data` with `provider`, keyed by `key` when the provider was opened for HMAC.
Result<Sha256Digest> digest(const AlgorithmProvider& provider, const char* name,
                            std::string_view key, std::string_view data) {
  if (!succeeded(provider.openStatus())) {
    return cngStatus("BCryptOpenAlgorithmProvider", provider.openStatus());
  }
  if (key.size() > std::numeric_limits<ULONG>::max() ||
      data.size() > std::numeric_limits<ULONG>::max()) {
    return Status::invalidArgument(std::string(name) + ": input larger than 4 GiB");
  }
  // A zero-length key is legal HMAC; CNG wants a non-null pointer for it.
  static char empty_key = 0;
  PUCHAR key_ptr = key.empty() ? reinterpret_cast<PUCHAR>(&empty_key) : input(key);
  HashObject hash;
  NTSTATUS st = BCryptCreateHash(provider.handle(), hash.out(), nullptr, 0, key_ptr,
                                 static_cast<ULONG>(key.size()), 0);
  if (!succeeded(st)) return cngStatus("BCryptCreateHash", st);
  if (!data.empty()) {
    st = BCryptHashData(hash.get(), input(data), static_cast<ULONG>(data.size()), 0);
    if (!succeeded(st)) return cngStatus("BCryptHashData", st);
  }
  Sha256Digest out{};
  st = BCryptFinishHash(hash.get(), out.data(), static_cast<ULONG>(out.size()), 0);
  if (!succeeded(st)) return cngStatus("BCryptFinishHash", st);
  return out;
}

}  // namespace

Result<Sha256Digest> hmacSha256(std::string_view key, std::string_view data) {
  static const AlgorithmProvider provider(BCRYPT_SHA256_ALGORITHM, BCRYPT_ALG_HANDLE_HMAC_FLAG);
  return digest(provider, "HMAC-SHA256", key, data);
}

Result<Sha256Digest> sha256(std::string_view data) {
  static const AlgorithmProvider provider(BCRYPT_SHA256_ALGORITHM, 0);
  return digest(provider, "SHA-256", std::string_view(), data);
}

Result<std::string> randomHex(size_t n_bytes) {
  if (n_bytes > std::numeric_limits<ULONG>::max()) {
    return Status::invalidArgument("randomHex: too many bytes");
  }
  std::vector<UCHAR> buf(n_bytes);
  if (n_bytes > 0) {
    NTSTATUS st = BCryptGenRandom(nullptr, buf.data(), static_cast<ULONG>(buf.size()),
                                  BCRYPT_USE_SYSTEM_PREFERRED_RNG);
    if (!succeeded(st)) return cngStatus("BCryptGenRandom", st);
  }
  return toHex(buf.data(), buf.size());
}

}  // namespace vigil::crypto
