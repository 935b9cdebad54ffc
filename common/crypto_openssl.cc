// common/crypto.h through OpenSSL 3 (VIGIL_CRYPTO_BACKEND=openssl).
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include <algorithm>
#include <array>
#include <vector>

#include "common/crypto.h"

namespace vigil::crypto {
namespace {

const unsigned char* bytes(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

// HMAC (RFC 2104) over OpenSSL's SHA256_* functions, the same SHA-256 code (SHA-NI where the
// CPU has it) without the EVP layer: OpenSSL 3.0's EVP allocates on every EVP_MAC_init (5
// mallocs) and EVP_DigestInit (1), and the collector MACs every beacon, heartbeat and ack.
// This way an HMAC allocates nothing and needs no context to share or reuse. The functions are
// deprecated in OpenSSL 3 but kept; they bypass the provider (no FIPS-module path).
#if defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
#endif
constexpr size_t kShaBlockBytes = 64;

// SHA-256 of `pad` (one block) followed by `data`.
bool sha256After(const std::array<uint8_t, kShaBlockBytes>& pad, const unsigned char* data,
                 size_t size, Sha256Digest* out) {
  SHA256_CTX ctx;
  const bool ok = SHA256_Init(&ctx) == 1 && SHA256_Update(&ctx, pad.data(), pad.size()) == 1 &&
                  SHA256_Update(&ctx, data, size) == 1 && SHA256_Final(out->data(), &ctx) == 1;
  OPENSSL_cleanse(&ctx, sizeof ctx);
  return ok;
}

Result<Sha256Digest> hmacSha256Direct(std::string_view key, std::string_view data) {
  // The key as one block: hashed first when longer, zero-padded.
  std::array<uint8_t, kShaBlockBytes> block{};
  if (key.size() > block.size()) {
    SHA256(bytes(key), key.size(), block.data());
  } else {
    std::copy(key.begin(), key.end(), block.begin());
  }
  std::array<uint8_t, kShaBlockBytes> pad{};
  for (size_t i = 0; i < block.size(); ++i) pad[i] = block[i] ^ 0x36;
  Sha256Digest inner{};
  bool ok = sha256After(pad, bytes(data), data.size(), &inner);
  for (size_t i = 0; i < block.size(); ++i) pad[i] = block[i] ^ 0x5c;
  Sha256Digest out{};
  ok = ok && sha256After(pad, inner.data(), inner.size(), &out);
  OPENSSL_cleanse(block.data(), block.size());
  OPENSSL_cleanse(pad.data(), pad.size());
  if (!ok) return Status::internal("SHA256 failed");
  return out;
}
#if defined(__GNUC__)
#pragma GCC diagnostic pop
#endif

}  // namespace

Result<Sha256Digest> hmacSha256(std::string_view key, std::string_view data) {
  return hmacSha256Direct(key, data);
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
