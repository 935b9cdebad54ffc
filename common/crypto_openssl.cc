// common/crypto.h through OpenSSL 3 (VIGIL_CRYPTO_BACKEND=openssl).
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include <memory>
#include <vector>

#include "common/crypto.h"

namespace vigil::crypto {
namespace {

struct MacDeleter {
  void operator()(EVP_MAC* mac) const { EVP_MAC_free(mac); }
};
struct MacCtxDeleter {
  void operator()(EVP_MAC_CTX* ctx) const { EVP_MAC_CTX_free(ctx); }
};
using MacPtr = std::unique_ptr<EVP_MAC, MacDeleter>;
using MacCtxPtr = std::unique_ptr<EVP_MAC_CTX, MacCtxDeleter>;

const unsigned char* bytes(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

// This thread's HMAC context, its digest (SHA-256) set once: each use then only keys it, with
// no algorithm fetch and no allocation. Null if the crypto library failed.
EVP_MAC_CTX* threadHmacContext() {
  // EVP_MAC_fetch is comparatively costly; the fetched algorithm is immutable and shareable.
  static const MacPtr mac(EVP_MAC_fetch(nullptr, "HMAC", nullptr));
  thread_local const MacCtxPtr ctx = []() -> MacCtxPtr {
    if (!mac) return nullptr;
    MacCtxPtr made(EVP_MAC_CTX_new(mac.get()));
    if (!made) return nullptr;
    char digest_name[] = "SHA256";
    const OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest_name, 0),
        OSSL_PARAM_construct_end(),
    };
    if (EVP_MAC_CTX_set_params(made.get(), params) != 1) return nullptr;
    return made;
  }();
  return ctx.get();
}

}  // namespace

Result<Sha256Digest> hmacSha256(std::string_view key, std::string_view data) {
  EVP_MAC_CTX* ctx = threadHmacContext();
  if (ctx == nullptr) return Status::internal("cannot make an HMAC-SHA256 context");
  // A zero-length key is legal HMAC; OpenSSL wants a non-null pointer for it.
  static const unsigned char kEmpty = 0;
  const unsigned char* key_ptr = key.empty() ? &kEmpty : bytes(key);
  if (EVP_MAC_init(ctx, key_ptr, key.size(), nullptr) != 1) {
    return Status::internal("EVP_MAC_init failed");
  }
  if (EVP_MAC_update(ctx, bytes(data), data.size()) != 1) {
    return Status::internal("EVP_MAC_update failed");
  }
  Sha256Digest out{};
  size_t out_len = 0;
  if (EVP_MAC_final(ctx, out.data(), &out_len, out.size()) != 1 || out_len != out.size()) {
    return Status::internal("EVP_MAC_final failed");
  }
  return out;
}

Result<Sha256Digest> sha256(std::string_view data) {
  Sha256Digest out{};
  unsigned int out_len = 0;
  if (EVP_Digest(data.data(), data.size(), out.data(), &out_len, EVP_sha256(), nullptr) != 1 ||
      out_len != out.size()) {
    return Status::internal("EVP_Digest(SHA256) failed");
  }
  return out;
}

Result<std::string> randomHex(size_t n_bytes) {
  std::vector<unsigned char> buf(n_bytes);
  if (n_bytes > 0 && RAND_bytes(buf.data(), static_cast<int>(n_bytes)) != 1) {
    return Status::internal("RAND_bytes failed");
  }
  return toHex(buf.data(), buf.size());
}

}  // namespace vigil::crypto
