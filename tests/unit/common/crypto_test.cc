#define BOOST_TEST_MODULE common_crypto
#include "common/crypto.h"

#include <array>
#include <boost/test/unit_test.hpp>
#include <string>
#include <utility>

using namespace vigil;

namespace {

std::string bytesOf(const char* hex) { return crypto::fromHex(hex).value(); }

struct Rfc4231Case {
  const char* name;
  std::string key;
  std::string data;
  const char* expected_hex;  // full 32-byte HMAC-SHA256, or a prefix for the truncation case
};

}  // namespace

// RFC 4231, section 4: test cases 1 to 7 for HMAC-SHA-256.
BOOST_AUTO_TEST_CASE(hmac_sha256_matches_rfc4231_vectors) {
  const std::string block_key(131, '\xaa');
  const Rfc4231Case cases[] = {
      {"1", std::string(20, '\x0b'), "Hi There",
       "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"},
      {"2", "Jefe", "what do ya want for nothing?",
       "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"},
      {"3", std::string(20, '\xaa'), std::string(50, '\xdd'),
       "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe"},
      {"4", bytesOf("0102030405060708090a0b0c0d0e0f10111213141516171819"), std::string(50, '\xcd'),
       "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b"},
      {"5 (truncated to 128 bits)", std::string(20, '\x0c'), "Test With Truncation",
       "a3b6167473100ee06e0c796c2955552b"},
      {"6", block_key, "Test Using Larger Than Block-Size Key - Hash Key First",
       "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"},
      {"7", block_key,
       "This is a test using a larger than block-size key and a larger than block-size data. "
       "The key needs to be hashed before being used by the HMAC algorithm.",
       "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2"},
  };
  for (const auto& c : cases) {
    BOOST_TEST_CONTEXT("RFC 4231 test case " << c.name) {
      auto mac = crypto::hmacSha256(c.key, c.data);
      BOOST_REQUIRE(mac.ok());
      std::string hex = crypto::toHex(mac.value());
      std::string expected = c.expected_hex;
      BOOST_TEST(hex.substr(0, expected.size()) == expected);
    }
  }
}

BOOST_AUTO_TEST_CASE(hmac_accepts_empty_key_and_data) {
  auto mac = crypto::hmacSha256("", "");
  BOOST_REQUIRE(mac.ok());
  BOOST_TEST(crypto::toHex(mac.value()) ==
             "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad");
}

BOOST_AUTO_TEST_CASE(hmac_keys_at_the_block_size_are_used_as_they_are_and_longer_ones_hashed) {
  // Agents' secrets are 64 hex digits: exactly one SHA-256 block. Expected values from
  // Python's hmac module.
  const std::pair<std::string, std::string> cases[] = {
      {std::string(64, 'a'), "d80316677d99fead8866a68958ae7c368e5a43516b934aca9c3ed2496ea23444"},
      {std::string(65, 'k'), "75092ca3ee2b307470c227697b42b3e65376aa3bae98fb5a1f7b7536daa9588a"},
  };
  const std::string data[] = {"VB1\nag_1\n1790000000000", "x"};
  for (size_t i = 0; i < 2; ++i) {
    auto mac = crypto::hmacSha256(cases[i].first, data[i]);
    BOOST_REQUIRE(mac.ok());
    BOOST_TEST(crypto::toHex(mac.value()) == cases[i].second);
    std::array<char, 64> hex{};
    crypto::toHex(mac.value(), &hex);
    BOOST_TEST(std::string(hex.data(), hex.size()) == cases[i].second);
  }
}

BOOST_AUTO_TEST_CASE(sha256_matches_fips_180_vector) {
  auto digest = crypto::sha256("abc");
  BOOST_REQUIRE(digest.ok());
  BOOST_TEST(crypto::toHex(digest.value()) ==
             "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

BOOST_AUTO_TEST_CASE(hex_round_trips_and_rejects_bad_input) {
  std::string all;
  for (int i = 0; i < 256; ++i) all.push_back(static_cast<char>(i));
  BOOST_TEST(crypto::fromHex(crypto::toHex(all)).value() == all);
  BOOST_TEST(crypto::fromHex("ABcd").value() == std::string("\xab\xcd"));
  BOOST_TEST(!crypto::fromHex("abc").ok());
  BOOST_TEST(!crypto::fromHex("zz").ok());
}

BOOST_AUTO_TEST_CASE(constant_time_equals_compares_contents_and_lengths) {
  BOOST_TEST(crypto::constantTimeEquals("abc", "abc"));
  BOOST_TEST(!crypto::constantTimeEquals("abc", "abd"));
  BOOST_TEST(!crypto::constantTimeEquals("abc", "abcd"));
  BOOST_TEST(crypto::constantTimeEquals("", ""));
}

BOOST_AUTO_TEST_CASE(random_hex_has_requested_length_and_differs) {
  auto a = crypto::randomHex(32);
  auto b = crypto::randomHex(32);
  BOOST_REQUIRE(a.ok());
  BOOST_REQUIRE(b.ok());
  BOOST_TEST(a.value().size() == 64u);
  BOOST_TEST(a.value() != b.value());
}
