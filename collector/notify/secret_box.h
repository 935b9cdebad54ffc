#pragma once

// Sealing of small secrets (notification channels' credentials: SMTP passwords, API keys,
// Slack webhook URLs) for storage in the database, under a key kept outside it.

#include <array>
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "common/status.h"

namespace vigil::collector {

// An AES-256-GCM key that seals secrets and opens them again. A sealed text is
//   "v1:" + keyId() + ":" + base64url, without padding, of
//   (12-byte random nonce | ciphertext | 16-byte tag)
// with the caller's `context` as the additional authenticated data. Random nonces keep their
// collision chance negligible up to about 2^32 seals per key, far beyond the number of
// channel secrets a deployment holds.
//
// Move-only: the key lives once, on the heap, and is overwritten with zeros when the box is
// destroyed or assigned over. A moved-from box may only be destroyed or assigned to (its
// seal() and open() fail with kFailedPrecondition).
// Thread safety: the const methods may be called concurrently (each uses its own cipher
// context).
class SecretBox {
 public:
  static constexpr size_t kKeyBytes = 32;

  // The key in the file at `path`: 64 lower-case hex digits and an optional newline. If no
  // file is at `path`, makes one with a new random key (the system's CSPRNG), mode 0600,
  // written atomically and durably (replaceFileAtomically, through `path`.tmp), and reads it
  // back; the directory must exist. Fails, with a message naming `path` (never its content),
  // if the file cannot be read or created or is not exactly of that form. A file whose mode
  // lets group or others access it still loads, with warning() saying so.
  // REQUIRES: no other process creates the same missing `path` at the same time (the later
  // rename would replace the key the earlier one already uses).
  static Result<SecretBox> loadOrCreate(const std::string& path);

  // The key `key_bytes` (exactly kKeyBytes raw bytes): tests, and a key a cluster shares.
  // kInvalidArgument for any other length.
  static Result<SecretBox> fromKey(std::string_view key_bytes);

  SecretBox(SecretBox&& other) noexcept = default;
  SecretBox& operator=(SecretBox&& other) noexcept = default;
  SecretBox(const SecretBox&) = delete;
  SecretBox& operator=(const SecretBox&) = delete;
  ~SecretBox() = default;

  // `plaintext` sealed with a fresh random nonce: two seals of one text differ. It opens only
  // with the same `context` (e.g. "vigil channel secrets"). Fails only if the crypto library
  // fails, or (kInvalidArgument) for a plaintext or context of about 2 GiB or more.
  Result<std::string> seal(std::string_view plaintext, std::string_view context) const;

  // The plaintext of a text seal() made under this key with this `context`. Fails with
  //   kInvalidArgument     a text not of the sealed form (prefix, key id, base64url, length);
  //   kFailedPrecondition  "sealed with key <id>, this collector's key is <id>" (collectors
  //                        sharing a database with different key files);
  //   kUnauthenticated     the text does not authenticate: altered, or sealed with another
  //                        context (common/status.h has no data-loss code; this is the tag
  //                        check failing, not a caller lacking credentials).
  // No message contains the plaintext, the key or the sealed text.
  Result<std::string> open(std::string_view sealed, std::string_view context) const;

  // 8 lower-case hex digits, the start of SHA-256("vigil secret box key id" + key bytes):
  // names the key in logs and sealed texts without revealing it.
  const std::string& keyId() const { return key_id_; }

  // Empty unless loadOrCreate found a key file that group or others may access; then a
  // sentence for the caller to log.
  const std::string& warning() const { return warning_; }

 private:
  using Key = std::array<unsigned char, kKeyBytes>;
  // Overwrites the key with zeros, then frees it.
  struct KeyWiper {
    void operator()(Key* key) const;
  };
  using KeyPtr = std::unique_ptr<Key, KeyWiper>;

  SecretBox(KeyPtr key, std::string key_id) : key_(std::move(key)), key_id_(std::move(key_id)) {}

  KeyPtr key_;
  std::string key_id_;
  std::string warning_;
};

}  // namespace vigil::collector
