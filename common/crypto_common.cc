// The backend-independent part of common/crypto.h: hex and constant-time comparison.
#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/crypto.h"

namespace vigil::crypto {
namespace {

int hexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Writes the 2 * `len` hex digits of `data` to `out`.
void writeHex(const uint8_t* data, size_t len, char* out) {
  static const char kDigits[] = "0123456789abcdef";
  for (size_t i = 0; i < len; ++i) {
    out[2 * i] = kDigits[data[i] >> 4];
    out[2 * i + 1] = kDigits[data[i] & 0x0f];
  }
}

}  // namespace

std::string toHex(const uint8_t* data, size_t len) {
  std::string out(len * 2, '\0');
  writeHex(data, len, out.data());
  return out;
}

std::string toHex(const Sha256Digest& digest) { return toHex(digest.data(), digest.size()); }

void toHex(const Sha256Digest& digest, std::array<char, 64>* out) {
  static_assert(std::tuple_size<Sha256Digest>::value * 2 == 64);
  writeHex(digest.data(), digest.size(), out->data());
}

std::string toHex(std::string_view bytes) {
  return toHex(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
}

Result<std::string> fromHex(std::string_view hex) {
  if (hex.size() % 2 != 0) return Status::invalidArgument("hex string has odd length");
  std::string out;
  out.reserve(hex.size() / 2);
  for (size_t i = 0; i < hex.size(); i += 2) {
    int hi = hexValue(hex[i]);
    int lo = hexValue(hex[i + 1]);
    if (hi < 0 || lo < 0) return Status::invalidArgument("non-hex character");
    out.push_back(static_cast<char>((hi << 4) | lo));
  }
  return out;
}

bool constantTimeEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  // Every byte is read whatever the earlier ones were; the volatile accumulator keeps the
  // compiler from turning the loop into an early-exit comparison.
  volatile uint8_t diff = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    diff = diff | static_cast<uint8_t>(static_cast<uint8_t>(a[i]) ^ static_cast<uint8_t>(b[i]));
  }
  return diff == 0;
}

bool isLowerHex(std::string_view s, size_t length) {
  if (s.size() != length) return false;
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

}  // namespace vigil::crypto
