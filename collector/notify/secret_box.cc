#include "collector/notify/secret_box.h"

#include <Poco/Base64Decoder.h>
#include <Poco/Base64Encoder.h>
#include <Poco/Exception.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <climits>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <iterator>
#include <optional>
#include <sstream>
#include <string>
#include <utility>

#include "common/atomic_file.h"
#include "common/crypto.h"
#include "common/unique_fd.h"

namespace vigil::collector {
namespace {

namespace fs = std::filesystem;

constexpr std::string_view kVersionPrefix = "v1:";
constexpr size_t kKeyIdDigits = 8;
constexpr std::string_view kKeyIdLabel = "vigil secret box key id";
constexpr size_t kNonceBytes = 12;
constexpr size_t kTagBytes = 16;
constexpr size_t kKeyHexDigits = 2 * SecretBox::kKeyBytes;
// EVP takes lengths as int.
constexpr size_t kMaxInputBytes = INT_MAX - kNonceBytes - kTagBytes;

struct CipherCtxDeleter {
  void operator()(EVP_CIPHER_CTX* ctx) const { EVP_CIPHER_CTX_free(ctx); }
};
using CipherCtxPtr = std::unique_ptr<EVP_CIPHER_CTX, CipherCtxDeleter>;

// A string holding key material, overwritten with zeros when it goes out of scope.
class WipedString {
 public:
  WipedString() = default;
  explicit WipedString(std::string text) : text_(std::move(text)) {}
  WipedString(const WipedString&) = delete;
  WipedString& operator=(const WipedString&) = delete;
  ~WipedString() { OPENSSL_cleanse(text_.data(), text_.size()); }

  std::string& text() { return text_; }
  const std::string& text() const { return text_; }

 private:
  std::string text_;
};

const unsigned char* bytes(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

// A failure of the crypto library; drops OpenSSL's queued errors so that they do not surface
// in an unrelated later call on this thread (Poco's TLS reads the same queue).
Status cryptoFailure(const char* what) {
  ERR_clear_error();
  return Status::internal(std::string("AES-256-GCM: ") + what + " failed");
}

bool isBase64UrlChar(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_';
}

std::string base64UrlEncode(std::string_view raw) {
  std::ostringstream encoded;
  Poco::Base64Encoder encoder(encoded, Poco::BASE64_URL_ENCODING | Poco::BASE64_NO_PADDING);
  encoder.rdbuf()->setLineLength(0);
  encoder.write(raw.data(), static_cast<std::streamsize>(raw.size()));
  encoder.close();
  return encoded.str();
}

// The bytes of canonical base64url without padding; nullopt for anything else (characters
// outside the alphabet, padding, an impossible length, unused bits that are not zero).
std::optional<std::string> base64UrlDecode(std::string_view text) {
  if (text.size() % 4 == 1) return std::nullopt;
  for (char c : text) {
    if (!isBase64UrlChar(c)) return std::nullopt;
  }
  std::string raw;
  try {
    std::istringstream in{std::string(text)};
    Poco::Base64Decoder decoder(in, Poco::BASE64_URL_ENCODING | Poco::BASE64_NO_PADDING);
    raw.assign(std::istreambuf_iterator<char>(decoder), std::istreambuf_iterator<char>());
  } catch (const Poco::Exception&) {
    return std::nullopt;
  }
  // Poco ignores unused low bits of the last character: one encoding per byte string only.
  if (base64UrlEncode(raw) != text) return std::nullopt;
  return raw;
}

Status notSealedForm(const char* why) {
  return Status::invalidArgument(std::string("not a sealed secret (v1:<key id>:<base64url>): ") +
                                 why);
}

std::string modeText(mode_t mode) {
  char text[8];
  std::snprintf(text, sizeof text, "%04o", static_cast<unsigned>(mode & 07777));
  return text;
}

std::string keyFileForm() {
  return "expected " + std::to_string(kKeyHexDigits) +
         " lower-case hex digits and an optional newline";
}

// The key file's content, checked to be exactly kKeyHexDigits lower-case hex digits and an
// optional newline (returned without it), and its mode.
struct KeyFileContent {
  WipedString hex;
  mode_t mode = 0;
};

Status readKeyFile(const std::string& path, KeyFileContent* out) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY));
  if (!fd.valid()) {
    const int err = errno;
    return Status(err == ENOENT ? StatusCode::kNotFound : StatusCode::kIoError,
                  "cannot read the secret key file " + path + ": " + std::strerror(err));
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) {
    const int err = errno;
    return Status::ioError("cannot stat the secret key file " + path + ": " + std::strerror(err));
  }
  if (!S_ISREG(st.st_mode)) {
    return Status::invalidArgument("the secret key file " + path + " is not a regular file");
  }
  // One byte more than the longest valid content, to tell a longer file apart.
  std::array<char, kKeyHexDigits + 2> buffer{};
  size_t length = 0;
  while (length < buffer.size()) {
    const ssize_t n = ::read(fd.get(), buffer.data() + length, buffer.size() - length);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int err = errno;
      OPENSSL_cleanse(buffer.data(), buffer.size());
      return Status::ioError("cannot read the secret key file " + path + ": " + std::strerror(err));
    }
    if (n == 0) break;
    length += static_cast<size_t>(n);
  }
  const std::string_view content(buffer.data(), length);
  const bool well_formed =
      (length == kKeyHexDigits || (length == kKeyHexDigits + 1 && content.back() == '\n')) &&
      crypto::isLowerHex(content.substr(0, kKeyHexDigits), kKeyHexDigits);
  if (well_formed) out->hex.text().assign(buffer.data(), kKeyHexDigits);
  OPENSSL_cleanse(buffer.data(), buffer.size());
  if (!well_formed) {
    return Status::invalidArgument("the secret key file " + path + " is not a key (" +
                                   keyFileForm() + ")");
  }
  out->mode = st.st_mode;
  return Status::okStatus();
}

// Writes a new random key to `path`, mode 0600, atomically.
Status createKeyFile(const std::string& path) {
  auto hex = crypto::randomHex(SecretBox::kKeyBytes);
  if (!hex.ok()) {
    return Status(hex.error().code(),
                  "cannot make a key for " + path + ": " + hex.error().message());
  }
  const WipedString key_hex(std::move(hex.value()));
  // Reserved first: growing the string would free a copy of the key without wiping it.
  WipedString content;
  content.text().reserve(kKeyHexDigits + 1);
  content.text().append(key_hex.text()).push_back('\n');
  Status written = replaceFileAtomically(
      path, content.text(), withPermissions(fs::perms::owner_read | fs::perms::owner_write));
  if (!written.ok()) {
    return Status(written.code(),
                  "cannot create the secret key file " + path + ": " + written.message());
  }
  return Status::okStatus();
}

}  // namespace

void SecretBox::KeyWiper::operator()(Key* key) const {
  OPENSSL_cleanse(key->data(), key->size());
  delete key;
}

Result<SecretBox> SecretBox::fromKey(std::string_view key_bytes) {
  if (key_bytes.size() != kKeyBytes) {
    return Status::invalidArgument("a secret box key is " + std::to_string(kKeyBytes) +
                                   " bytes, not " + std::to_string(key_bytes.size()));
  }
  KeyPtr key(new Key);
  std::memcpy(key->data(), key_bytes.data(), kKeyBytes);

  WipedString labelled;
  labelled.text().reserve(kKeyIdLabel.size() + kKeyBytes);
  labelled.text().append(kKeyIdLabel).append(key_bytes);
  auto digest = crypto::sha256(labelled.text());
  if (!digest.ok()) return digest.error();
  std::string key_id = crypto::toHex(digest.value()).substr(0, kKeyIdDigits);
  return SecretBox(std::move(key), std::move(key_id));
}

Result<SecretBox> SecretBox::loadOrCreate(const std::string& path) {
  KeyFileContent file;
  Status read = readKeyFile(path, &file);
  if (read.code() == StatusCode::kNotFound) {
    if (Status created = createKeyFile(path); !created.ok()) return created;
    read = readKeyFile(path, &file);
  }
  if (!read.ok()) return read;

  auto raw = crypto::fromHex(file.hex.text());
  if (!raw.ok()) {
    return Status::invalidArgument("the secret key file " + path + " is not a key (" +
                                   keyFileForm() + ")");
  }
  WipedString key_bytes(std::move(raw.value()));
  Result<SecretBox> box = fromKey(key_bytes.text());
  if (!box.ok()) return box;
  if ((file.mode & (S_IRWXG | S_IRWXO)) != 0) {
    box->warning_ = "the secret key file " + path + " has mode " + modeText(file.mode) +
                    ": group or others may read or change it; restrict it with chmod 600 " + path;
  }
  return box;
}

Result<std::string> SecretBox::seal(std::string_view plaintext, std::string_view context) const {
  if (!key_) return Status::failedPrecondition("seal on a moved-from SecretBox");
  if (plaintext.size() > kMaxInputBytes || context.size() > kMaxInputBytes) {
    return Status::invalidArgument("the secret or its context is too large to seal");
  }
  std::string raw(kNonceBytes + plaintext.size() + kTagBytes, '\0');
  auto* nonce = reinterpret_cast<unsigned char*>(raw.data());
  unsigned char* ciphertext = nonce + kNonceBytes;
  unsigned char* tag = ciphertext + plaintext.size();
  if (RAND_bytes(nonce, static_cast<int>(kNonceBytes)) != 1) return cryptoFailure("RAND_bytes");

  CipherCtxPtr ctx(EVP_CIPHER_CTX_new());
  if (!ctx) return cryptoFailure("EVP_CIPHER_CTX_new");
  if (EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, nullptr, nullptr) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_IVLEN, static_cast<int>(kNonceBytes),
                          nullptr) != 1 ||
      EVP_EncryptInit_ex(ctx.get(), nullptr, nullptr, key_->data(), nonce) != 1) {
    return cryptoFailure("EVP_EncryptInit_ex");
  }
  int len = 0;
  if (!context.empty() && EVP_EncryptUpdate(ctx.get(), nullptr, &len, bytes(context),
                                            static_cast<int>(context.size())) != 1) {
    return cryptoFailure("EVP_EncryptUpdate (context)");
  }
  if (!plaintext.empty()) {
    if (EVP_EncryptUpdate(ctx.get(), ciphertext, &len, bytes(plaintext),
                          static_cast<int>(plaintext.size())) != 1 ||
        static_cast<size_t>(len) != plaintext.size()) {
      return cryptoFailure("EVP_EncryptUpdate");
    }
  }
  if (EVP_EncryptFinal_ex(ctx.get(), ciphertext + plaintext.size(), &len) != 1 || len != 0) {
    return cryptoFailure("EVP_EncryptFinal_ex");
  }
  if (EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, static_cast<int>(kTagBytes), tag) != 1) {
    return cryptoFailure("EVP_CTRL_GCM_GET_TAG");
  }
  std::string sealed(kVersionPrefix);
  sealed += key_id_;
  sealed += ':';
  sealed += base64UrlEncode(raw);
  return sealed;
}

Result<std::string> SecretBox::open(std::string_view sealed, std::string_view context) const {
  if (!key_) return Status::failedPrecondition("open on a moved-from SecretBox");
  if (sealed.substr(0, kVersionPrefix.size()) != kVersionPrefix) {
    return notSealedForm("it does not start with v1:");
  }
  const std::string_view rest = sealed.substr(kVersionPrefix.size());
  const std::string_view key_id = rest.substr(0, kKeyIdDigits);
  if (!crypto::isLowerHex(key_id, kKeyIdDigits) || rest.size() <= kKeyIdDigits ||
      rest[kKeyIdDigits] != ':') {
    return notSealedForm("no key id of 8 lower-case hex digits and ':' after v1:");
  }
  std::optional<std::string> raw = base64UrlDecode(rest.substr(kKeyIdDigits + 1));
  if (!raw) return notSealedForm("its data is not base64url without padding");
  if (raw->size() < kNonceBytes + kTagBytes) return notSealedForm("its data is too short");
  if (raw->size() - kNonceBytes - kTagBytes > kMaxInputBytes || context.size() > kMaxInputBytes) {
    return Status::invalidArgument("the sealed secret or its context is too large to open");
  }
  if (key_id != key_id_) {
    return Status::failedPrecondition(
        "sealed with key " + std::string(key_id) + ", this collector's key is " + key_id_ +
        " (collectors sharing a database need the same secret key file)");
  }

  const auto* nonce = reinterpret_cast<const unsigned char*>(raw->data());
  const unsigned char* ciphertext = nonce + kNonceBytes;
  const size_t ciphertext_size = raw->size() - kNonceBytes - kTagBytes;
  // The tag is read into a copy: EVP's control call takes a non-const pointer.
  std::array<unsigned char, kTagBytes> tag{};
  std::memcpy(tag.data(), ciphertext + ciphertext_size, kTagBytes);

  CipherCtxPtr ctx(EVP_CIPHER_CTX_new());
  if (!ctx) return cryptoFailure("EVP_CIPHER_CTX_new");
  if (EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, nullptr, nullptr) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_IVLEN, static_cast<int>(kNonceBytes),
                          nullptr) != 1 ||
      EVP_DecryptInit_ex(ctx.get(), nullptr, nullptr, key_->data(), nonce) != 1) {
    return cryptoFailure("EVP_DecryptInit_ex");
  }
  int len = 0;
  if (!context.empty() && EVP_DecryptUpdate(ctx.get(), nullptr, &len, bytes(context),
                                            static_cast<int>(context.size())) != 1) {
    return cryptoFailure("EVP_DecryptUpdate (context)");
  }
  std::string plaintext(ciphertext_size, '\0');
  auto* out = reinterpret_cast<unsigned char*>(plaintext.data());
  if (ciphertext_size > 0) {
    if (EVP_DecryptUpdate(ctx.get(), out, &len, ciphertext, static_cast<int>(ciphertext_size)) !=
            1 ||
        static_cast<size_t>(len) != ciphertext_size) {
      OPENSSL_cleanse(plaintext.data(), plaintext.size());
      return cryptoFailure("EVP_DecryptUpdate");
    }
  }
  if (EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, static_cast<int>(kTagBytes),
                          tag.data()) != 1) {
    OPENSSL_cleanse(plaintext.data(), plaintext.size());
    return cryptoFailure("EVP_CTRL_GCM_SET_TAG");
  }
  if (EVP_DecryptFinal_ex(ctx.get(), out + ciphertext_size, &len) != 1) {
    // Unauthenticated output is never returned, nor left in memory.
    OPENSSL_cleanse(plaintext.data(), plaintext.size());
    ERR_clear_error();
    return Status::unauthenticated("the sealed secret (key " + key_id_ +
                                   ") does not authenticate: it was altered, or sealed with "
                                   "another context");
  }
  return plaintext;
}

}  // namespace vigil::collector
