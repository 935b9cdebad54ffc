#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"

namespace vigil::crypto {

using Sha256Digest = std::array<uint8_t, 32>;

// The functions below are implemented by the build's crypto backend (VIGIL_CRYPTO_BACKEND):
// crypto_openssl.cc (OpenSSL 3) or crypto_cng.cc (Windows CNG); hex and comparison are
// portable (crypto_common.cc).

// HMAC-SHA256. Fails only if the crypto library itself fails. Through OpenSSL 3's EVP_MAC
// (the library's own HMAC), one context per calling thread, kept for the thread's life and
// re-keyed per call (OpenSSL still allocates inside); CNG's creates a hash object.
Result<Sha256Digest> hmacSha256(std::string_view key, std::string_view data);

// SHA-256.
Result<Sha256Digest> sha256(std::string_view data);

// Lower-case hex of any byte range.
std::string toHex(const uint8_t* data, size_t len);
std::string toHex(const Sha256Digest& digest);
std::string toHex(std::string_view bytes);
// Writes the 64 lower-case hex digits of `digest` to `out`, without allocating.
void toHex(const Sha256Digest& digest, std::array<char, 64>* out);

// True if `s` is exactly `length` lower-case hex digits (how keys and signatures are written).
bool isLowerHex(std::string_view s, size_t length);

// Decodes hex (either case). Fails on odd length or a non-hex character.
Result<std::string> fromHex(std::string_view hex);

// Compares in time that depends only on the lengths, for secrets and signatures.
bool constantTimeEquals(std::string_view a, std::string_view b);

// `n_bytes` from the system's CSPRNG, hex-encoded (2 * n_bytes characters).
Result<std::string> randomHex(size_t n_bytes);

}  // namespace vigil::crypto
