#define BOOST_TEST_MODULE collector_secret_box
// Sealing of channel secrets: round trips, the sealed form (checked against a text sealed by
// an independent AES-GCM implementation), what opening refuses and with which code, and the
// key file (created 0600, reloaded, malformed, loose mode, missing directory). Key files live
// in a fresh temporary directory per test.
#include "collector/notify/secret_box.h"

#include <sys/stat.h>

#include <boost/test/unit_test.hpp>
#include <filesystem>
#include <fstream>
#include <ostream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "common/crypto.h"
#include "tests/support/temp_dir.h"

namespace vigil {
// For Boost.Test's messages.
std::ostream& operator<<(std::ostream& out, StatusCode code) { return out << statusCodeName(code); }
}  // namespace vigil

using namespace vigil::collector;
using vigil::Result;
using vigil::StatusCode;
using vigil::testing::TempDir;
namespace fs = std::filesystem;

namespace {

constexpr const char* kContext = "vigil channel secrets";
constexpr const char* kSecret = "smtp password: hunter2";

// Bytes 0, 1, ..., 31.
std::string countingKey() {
  std::string key;
  for (int i = 0; i < 32; ++i) key.push_back(static_cast<char>(i));
  return key;
}

// The error's text, "" if none: Boost.Test evaluates a message's operands even when the check
// passes.
template <typename T>
std::string errorText(const Result<T>& result) {
  return result.ok() ? "" : result.error().toString();
}

SecretBox boxWithKey(const std::string& key) {
  auto box = SecretBox::fromKey(key);
  BOOST_REQUIRE_MESSAGE(box.ok(), errorText(box));
  return std::move(box).value();
}

std::string sealOf(const SecretBox& box, const std::string& plaintext,
                   const std::string& context = kContext) {
  auto sealed = box.seal(plaintext, context);
  BOOST_REQUIRE_MESSAGE(sealed.ok(), errorText(sealed));
  return sealed.value();
}

// The code opening `sealed` fails with; kOk if it opens.
StatusCode openFailure(const SecretBox& box, const std::string& sealed,
                       const std::string& context = kContext) {
  auto opened = box.open(sealed, context);
  return opened.ok() ? StatusCode::kOk : opened.error().code();
}

// An independent base64url codec (no padding), to take sealed texts apart in the tests.
const std::string kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

std::string toBase64Url(const std::string& raw) {
  std::string out;
  size_t i = 0;
  for (; i + 3 <= raw.size(); i += 3) {
    const uint32_t n = (static_cast<uint8_t>(raw[i]) << 16) |
                       (static_cast<uint8_t>(raw[i + 1]) << 8) | static_cast<uint8_t>(raw[i + 2]);
    for (int shift = 18; shift >= 0; shift -= 6) out += kAlphabet[(n >> shift) & 63];
  }
  if (raw.size() - i == 1) {
    const uint32_t n = static_cast<uint8_t>(raw[i]) << 16;
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
  } else if (raw.size() - i == 2) {
    const uint32_t n =
        (static_cast<uint8_t>(raw[i]) << 16) | (static_cast<uint8_t>(raw[i + 1]) << 8);
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += kAlphabet[(n >> 6) & 63];
  }
  return out;
}

std::string fromBase64Url(const std::string& text) {
  std::string out;
  uint32_t bits = 0;
  int count = 0;
  for (char c : text) {
    const size_t v = kAlphabet.find(c);
    BOOST_REQUIRE_MESSAGE(v != std::string::npos, "not base64url: " << text);
    bits = (bits << 6) | static_cast<uint32_t>(v);
    count += 6;
    if (count >= 8) {
      count -= 8;
      out.push_back(static_cast<char>((bits >> count) & 0xff));
    }
  }
  return out;
}

struct SealedParts {
  std::string header;  // "v1:<key id>:"
  std::string raw;     // nonce | ciphertext | tag
};

SealedParts partsOf(const std::string& sealed) {
  BOOST_REQUIRE_GE(sealed.size(), 12u);
  return {sealed.substr(0, 12), fromBase64Url(sealed.substr(12))};
}

std::string readFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream content;
  content << in.rdbuf();
  return content.str();
}

fs::perms modeOf(const fs::path& path) { return fs::status(path).permissions() & fs::perms::mask; }

std::string keyFileError(const TempDir& tmp, const std::string& name, const std::string& content) {
  const fs::path path = tmp.write(name, content);
  auto box = SecretBox::loadOrCreate(path.string());
  BOOST_REQUIRE_MESSAGE(!box.ok(), "loaded a key file holding \"" << content << "\"");
  BOOST_TEST(box.error().message().find(path.string()) != std::string::npos,
             "the message names the file: " << box.error().message());
  return box.error().message();
}

}  // namespace

BOOST_AUTO_TEST_CASE(sealed_text_opens_to_the_plaintext_also_empty_and_64_kib) {
  const SecretBox box = boxWithKey(countingKey());
  constexpr size_t kLargeBytes = size_t{64} * 1024;
  std::string large(kLargeBytes, '\0');
  for (size_t i = 0; i < large.size(); ++i) large[i] = static_cast<char>(i * 7 + 3);
  for (const std::string& plaintext :
       {std::string(kSecret), std::string(), std::string("\0x\0", 3), large}) {
    auto opened = box.open(sealOf(box, plaintext), kContext);
    BOOST_REQUIRE_MESSAGE(opened.ok(), errorText(opened));
    BOOST_TEST((opened.value() == plaintext), "size " << plaintext.size());
  }
}

BOOST_AUTO_TEST_CASE(sealed_text_is_v1_key_id_and_base64url_of_nonce_ciphertext_and_tag) {
  const SecretBox box = boxWithKey(countingKey());
  const std::string sealed = sealOf(box, kSecret);
  BOOST_TEST(sealed.rfind("v1:" + box.keyId() + ":", 0) == 0u, sealed);
  const std::string body = sealed.substr(3 + 8 + 1);
  BOOST_TEST(body.find_first_not_of(kAlphabet) == std::string::npos, body);
  BOOST_TEST(partsOf(sealed).raw.size() == 12 + std::string(kSecret).size() + 16);
  BOOST_TEST(toBase64Url(partsOf(sealed).raw) == body);
}

BOOST_AUTO_TEST_CASE(text_sealed_by_an_independent_aes_gcm_implementation_opens) {
  // Python's cryptography (AESGCM) with key bytes 0..31 and nonce a0..ab.
  const SecretBox box = boxWithKey(countingKey());
  const std::string sealed =
      "v1:b3e91be8:oKGio6SlpqeoqaqrlXUIXWW7Y8wREuihY0DgtgXCLXXghe3ogs4eWiG4uNPCxhbf83Y";
  auto opened = box.open(sealed, kContext);
  BOOST_REQUIRE_MESSAGE(opened.ok(), errorText(opened));
  BOOST_TEST(opened.value() == kSecret);
}

BOOST_AUTO_TEST_CASE(key_id_is_the_start_of_sha256_of_the_label_and_key) {
  BOOST_TEST(boxWithKey(countingKey()).keyId() == "b3e91be8");
  BOOST_TEST(boxWithKey(std::string(32, '\0')).keyId() == "52d82570");
  auto digest = vigil::crypto::sha256("vigil secret box key id" + std::string(32, 'k'));
  BOOST_REQUIRE(digest.ok());
  BOOST_TEST(boxWithKey(std::string(32, 'k')).keyId() ==
             vigil::crypto::toHex(digest.value()).substr(0, 8));
}

BOOST_AUTO_TEST_CASE(two_seals_of_one_text_differ_in_nonce_and_ciphertext) {
  const SecretBox box = boxWithKey(countingKey());
  const SealedParts first = partsOf(sealOf(box, kSecret));
  const SealedParts second = partsOf(sealOf(box, kSecret));
  BOOST_TEST(first.raw.substr(0, 12) != second.raw.substr(0, 12));
  BOOST_TEST(first.raw.substr(12) != second.raw.substr(12));
}

BOOST_AUTO_TEST_CASE(text_opens_only_with_the_context_it_was_sealed_with) {
  const SecretBox box = boxWithKey(countingKey());
  const std::string sealed = sealOf(box, kSecret);
  for (const char* context : {"", "vigil channel secret", "Vigil channel secrets"}) {
    auto opened = box.open(sealed, context);
    BOOST_REQUIRE_MESSAGE(!opened.ok(), "opened with context \"" << context << "\"");
    BOOST_TEST(opened.error().code() == StatusCode::kUnauthenticated);
    BOOST_TEST(opened.error().message().find("hunter2") == std::string::npos);
  }
  BOOST_TEST(openFailure(box, sealOf(box, kSecret, ""), kContext) == StatusCode::kUnauthenticated);
  BOOST_TEST(openFailure(box, sealOf(box, kSecret, ""), "") == StatusCode::kOk);
}

BOOST_AUTO_TEST_CASE(any_flipped_bit_in_nonce_ciphertext_or_tag_fails_authentication) {
  const SecretBox box = boxWithKey(countingKey());
  const std::string sealed = sealOf(box, kSecret);
  const SealedParts parts = partsOf(sealed);
  BOOST_REQUIRE(openFailure(box, parts.header + toBase64Url(parts.raw)) == StatusCode::kOk);
  for (size_t byte = 0; byte < parts.raw.size(); ++byte) {
    for (int bit = 0; bit < 8; ++bit) {
      std::string raw = parts.raw;
      raw[byte] = static_cast<char>(raw[byte] ^ (1 << bit));
      auto opened = box.open(parts.header + toBase64Url(raw), kContext);
      BOOST_REQUIRE_MESSAGE(!opened.ok(),
                            "opened with bit " << bit << " of byte " << byte << " flipped");
      BOOST_TEST(opened.error().code() == StatusCode::kUnauthenticated);
      BOOST_TEST(opened.error().message().find("hunter2") == std::string::npos);
    }
  }
}

BOOST_AUTO_TEST_CASE(truncated_texts_never_open_and_short_ones_are_invalid) {
  const SecretBox box = boxWithKey(countingKey());
  const std::string sealed = sealOf(box, kSecret);
  for (size_t length = 0; length < sealed.size(); ++length) {
    BOOST_TEST(openFailure(box, sealed.substr(0, length)) != StatusCode::kOk, "length " << length);
  }
  const SealedParts parts = partsOf(sealed);
  // Less than a nonce and a tag, however well encoded.
  for (size_t raw_length : {0, 1, 12, 27}) {
    BOOST_TEST(openFailure(box, parts.header + toBase64Url(parts.raw.substr(0, raw_length))) ==
                   StatusCode::kInvalidArgument,
               "raw length " << raw_length);
  }
  for (const std::string& text :
       std::vector<std::string>{"", "v1", "v1:", "v1:" + box.keyId(), "v1:" + box.keyId() + ":"}) {
    BOOST_TEST(openFailure(box, text) == StatusCode::kInvalidArgument, text);
  }
}

BOOST_AUTO_TEST_CASE(text_without_the_v1_prefix_or_key_id_is_invalid) {
  const SecretBox box = boxWithKey(countingKey());
  const std::string sealed = sealOf(box, kSecret);
  const std::string rest = sealed.substr(3);
  const std::string body = sealed.substr(12);
  for (const std::string& text :
       {"v2:" + rest, "V1:" + rest, "v1;" + rest, rest, " " + sealed, "v1:B3E91BE8:" + body,
        "v1:b3e91be:" + body, "v1:b3e91be8a:" + body, "v1:b3e91be8" + body,
        "v1:b3e91bx8:" + body}) {
    BOOST_TEST(openFailure(box, text) == StatusCode::kInvalidArgument, text);
  }
}

BOOST_AUTO_TEST_CASE(data_that_is_not_canonical_base64url_without_padding_is_invalid) {
  const SecretBox box = boxWithKey(countingKey());
  const SealedParts parts = partsOf(sealOf(box, kSecret));
  const std::string body = toBase64Url(parts.raw);
  // 12 + 22 + 16 = 50 bytes: 67 characters, the last carrying 2 unused bits.
  BOOST_REQUIRE_EQUAL(body.size(), 67u);
  std::string unused_bits_set = body;
  unused_bits_set.back() = kAlphabet[kAlphabet.find(body.back()) | 1];
  std::string with_plus = body;
  with_plus[5] = '+';
  std::string with_slash = body;
  with_slash[5] = '/';
  for (const std::string& bad :
       {body + "=", body + "AA", body + "AA=", with_plus, with_slash, body + " ", body + "\n",
        body.substr(0, 10) + "$" + body.substr(11), unused_bits_set,
        body.substr(0, 30) + " " + body.substr(30)}) {
    BOOST_TEST(openFailure(box, parts.header + bad) == StatusCode::kInvalidArgument, bad);
  }
}

BOOST_AUTO_TEST_CASE(text_sealed_with_another_key_names_both_key_ids) {
  const SecretBox mine = boxWithKey(countingKey());
  const SecretBox theirs = boxWithKey(std::string(32, '\x5a'));
  BOOST_REQUIRE(mine.keyId() != theirs.keyId());
  auto opened = mine.open(sealOf(theirs, kSecret), kContext);
  BOOST_REQUIRE(!opened.ok());
  BOOST_TEST(opened.error().code() == StatusCode::kFailedPrecondition);
  BOOST_TEST(opened.error().message().find("sealed with key " + theirs.keyId() +
                                           ", this collector's key is " + mine.keyId()) == 0u,
             opened.error().message());
  BOOST_TEST(opened.error().message().find("hunter2") == std::string::npos);
}

BOOST_AUTO_TEST_CASE(key_of_other_than_32_bytes_is_refused) {
  for (size_t size : {0, 16, 31, 33, 64}) {
    auto box = SecretBox::fromKey(std::string(size, 'k'));
    BOOST_REQUIRE_MESSAGE(!box.ok(), "accepted a key of " << size << " bytes");
    BOOST_TEST(box.error().code() == StatusCode::kInvalidArgument);
  }
}

BOOST_AUTO_TEST_CASE(moved_box_keeps_its_key_and_id) {
  SecretBox first = boxWithKey(countingKey());
  const std::string sealed = sealOf(first, kSecret);
  SecretBox second = std::move(first);
  BOOST_TEST(second.keyId() == "b3e91be8");
  auto opened = second.open(sealed, kContext);
  BOOST_REQUIRE_MESSAGE(opened.ok(), errorText(opened));
  BOOST_TEST(opened.value() == kSecret);
  SecretBox third = boxWithKey(std::string(32, '\x5a'));
  third = std::move(second);
  BOOST_TEST(openFailure(third, sealed) == StatusCode::kOk);
}

BOOST_AUTO_TEST_CASE(one_box_seals_and_opens_from_several_threads_at_once) {
  const SecretBox box = boxWithKey(countingKey());
  std::vector<int> failures(4, 0);
  std::vector<std::thread> threads;
  for (size_t t = 0; t < failures.size(); ++t) {
    threads.emplace_back([&box, &failures, t] {
      for (int i = 0; i < 500; ++i) {
        const std::string plaintext = "secret " + std::to_string(t) + "/" + std::to_string(i);
        auto sealed = box.seal(plaintext, kContext);
        auto opened = sealed.ok() ? box.open(sealed.value(), kContext) : sealed;
        if (!opened.ok() || opened.value() != plaintext) ++failures[t];
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  for (int f : failures) BOOST_TEST(f == 0);
}

BOOST_AUTO_TEST_CASE(missing_key_file_is_created_0600_and_loads_the_same_key_again) {
  TempDir tmp;
  const std::string path = tmp.sub("secret.key");
  auto created = SecretBox::loadOrCreate(path);
  BOOST_REQUIRE_MESSAGE(created.ok(), errorText(created));
  BOOST_TEST(created->warning().empty(), created->warning());
  BOOST_TEST((modeOf(path) == (fs::perms::owner_read | fs::perms::owner_write)));
  const std::string content = readFile(path);
  BOOST_REQUIRE_EQUAL(content.size(), 65u);
  BOOST_TEST(vigil::crypto::isLowerHex(content.substr(0, 64), 64), content);
  BOOST_TEST(content.back() == '\n');
  BOOST_TEST(!fs::exists(path + ".tmp"));
  // The key id is that of the key in the file.
  auto key = vigil::crypto::fromHex(content.substr(0, 64));
  BOOST_REQUIRE(key.ok());
  BOOST_TEST(created->keyId() == boxWithKey(key.value()).keyId());

  const std::string sealed = sealOf(created.value(), kSecret);
  auto loaded = SecretBox::loadOrCreate(path);
  BOOST_REQUIRE_MESSAGE(loaded.ok(), errorText(loaded));
  BOOST_TEST(loaded->keyId() == created->keyId());
  BOOST_TEST(loaded->warning().empty(), loaded->warning());
  BOOST_TEST(readFile(path) == content);
  auto opened = loaded->open(sealed, kContext);
  BOOST_REQUIRE_MESSAGE(opened.ok(), errorText(opened));
  BOOST_TEST(opened.value() == kSecret);
}

BOOST_AUTO_TEST_CASE(two_created_key_files_hold_different_keys) {
  TempDir tmp;
  auto first = SecretBox::loadOrCreate(tmp.sub("a.key"));
  auto second = SecretBox::loadOrCreate(tmp.sub("b.key"));
  BOOST_REQUIRE(first.ok());
  BOOST_REQUIRE(second.ok());
  BOOST_TEST(readFile(tmp.sub("a.key")) != readFile(tmp.sub("b.key")));
  BOOST_TEST(first->keyId() != second->keyId());
}

BOOST_AUTO_TEST_CASE(key_file_without_the_newline_loads) {
  TempDir tmp;
  const std::string hex = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
  const fs::path path = tmp.write("secret.key", hex);
  fs::permissions(path, fs::perms::owner_read | fs::perms::owner_write, fs::perm_options::replace);
  auto box = SecretBox::loadOrCreate(path.string());
  BOOST_REQUIRE_MESSAGE(box.ok(), errorText(box));
  BOOST_TEST(box->keyId() == "b3e91be8");
  BOOST_TEST(box->warning().empty(), box->warning());
}

BOOST_AUTO_TEST_CASE(key_file_not_exactly_64_lower_case_hex_digits_fails_naming_the_file) {
  TempDir tmp;
  const std::string hex = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
  const std::vector<std::string> bad = {
      "",
      "\n",
      hex.substr(0, 63),
      hex.substr(0, 63) + "\n",
      hex + "0",
      hex + "00\n",
      "g" + hex.substr(1),
      "000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F",
      hex + "\n\n",
      hex + "\r\n",
      " " + hex,
      hex + " ",
      std::string(100000, 'a'),
  };
  for (size_t i = 0; i < bad.size(); ++i) {
    const std::string message = keyFileError(tmp, "bad" + std::to_string(i) + ".key", bad[i]);
    BOOST_TEST(message.find("0a0b0c") == std::string::npos, "no key content: " << message);
    // The file is left as it was, not replaced by a new key.
    BOOST_TEST(readFile(tmp.sub("bad" + std::to_string(i) + ".key")) == bad[i]);
  }
}

BOOST_AUTO_TEST_CASE(key_file_that_group_or_others_may_read_loads_with_a_warning) {
  TempDir tmp;
  auto created = SecretBox::loadOrCreate(tmp.sub("secret.key"));
  BOOST_REQUIRE(created.ok());
  const std::string sealed = sealOf(created.value(), kSecret);
  for (fs::perms mode : {fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read |
                             fs::perms::others_read,
                         fs::perms::owner_read | fs::perms::group_read}) {
    fs::permissions(tmp.sub("secret.key"), mode, fs::perm_options::replace);
    auto loaded = SecretBox::loadOrCreate(tmp.sub("secret.key"));
    BOOST_REQUIRE_MESSAGE(loaded.ok(), errorText(loaded));
    BOOST_TEST(!loaded->warning().empty());
    BOOST_TEST(loaded->warning().find(tmp.sub("secret.key")) != std::string::npos,
               loaded->warning());
    BOOST_TEST(openFailure(loaded.value(), sealed) == StatusCode::kOk);
    // Loading does not change the mode: the operator decides.
    BOOST_TEST((modeOf(tmp.sub("secret.key")) == mode));
  }
  BOOST_TEST(SecretBox::loadOrCreate(tmp.sub("secret.key"))->warning().find("0440") !=
             std::string::npos);
}

BOOST_AUTO_TEST_CASE(key_file_in_a_missing_directory_fails_naming_the_file) {
  TempDir tmp;
  const std::string path = tmp.sub("missing") + "/secret.key";
  auto box = SecretBox::loadOrCreate(path);
  BOOST_REQUIRE(!box.ok());
  BOOST_TEST(box.error().message().find(path) != std::string::npos, box.error().message());
  BOOST_TEST(!fs::exists(tmp.sub("missing")));
}

BOOST_AUTO_TEST_CASE(directory_in_place_of_the_key_file_fails_naming_it) {
  TempDir tmp;
  fs::create_directory(tmp.sub("secret.key"));
  auto box = SecretBox::loadOrCreate(tmp.sub("secret.key"));
  BOOST_REQUIRE(!box.ok());
  BOOST_TEST(box.error().message().find(tmp.sub("secret.key")) != std::string::npos,
             box.error().message());
}
