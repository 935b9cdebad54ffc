#define BOOST_TEST_MODULE common_datagram
#include "common/datagram.h"

#include <boost/test/unit_test.hpp>
#include <string>
#include <vector>

#include "common/crypto.h"

using namespace vigil::datagram;

namespace {

const std::string kKey(64, 'k');
const std::string kOtherKey(64, 'o');
constexpr int64_t kTs = 1'790'000'000'000;

// The datagram with field `index` (0-based, split on single spaces) replaced by `value`.
std::string withField(const std::string& datagram, size_t index, const std::string& value) {
  std::vector<std::string> fields;
  size_t start = 0;
  while (true) {
    const size_t space = datagram.find(' ', start);
    fields.push_back(datagram.substr(start, space - start));
    if (space == std::string::npos) break;
    start = space + 1;
  }
  fields.at(index) = value;
  std::string out;
  for (const std::string& f : fields) out += (out.empty() ? "" : " ") + f;
  return out;
}

}  // namespace

BOOST_AUTO_TEST_CASE(beacon_has_the_documented_wire_form_and_round_trips) {
  const std::string bytes = encodeBeacon("ag_1", kTs, kKey);
  // docs/protocol.md: "VB1 <agent_id> <ts_ms> <sig>", sig over "VB1\nag_1\n<ts>".
  const std::string sig =
      vigil::crypto::toHex(vigil::crypto::hmacSha256(kKey, "VB1\nag_1\n1790000000000").value());
  BOOST_TEST(bytes == "VB1 ag_1 1790000000000 " + sig);
  auto parsed = parseBeacon(bytes);
  BOOST_REQUIRE(parsed.has_value());
  BOOST_TEST(parsed->agent_id == "ag_1");
  BOOST_TEST(parsed->ts_ms == kTs);
  BOOST_TEST(verify(*parsed, kKey));
  BOOST_TEST(!verify(*parsed, kOtherKey));
}

BOOST_AUTO_TEST_CASE(ack_echoes_the_beacon_and_verifies_only_with_the_agents_key) {
  const std::string bytes = encodeBeaconAck("ag_1", kTs, 15, kKey);
  const std::string sig =
      vigil::crypto::toHex(vigil::crypto::hmacSha256(kKey, "VA1\nag_1\n1790000000000\n15").value());
  BOOST_TEST(bytes == "VA1 ag_1 1790000000000 15 " + sig);
  auto ack = parseBeaconAck(bytes);
  BOOST_REQUIRE(ack.has_value());
  BOOST_TEST(ack->ts_ms == kTs);
  BOOST_TEST(ack->next_beacon_s == 15);
  BOOST_TEST(verify(*ack, kKey));
  BOOST_TEST(!verify(*ack, kOtherKey));
  // A changed interval breaks the signature.
  auto forged = parseBeaconAck(withField(bytes, 3, "1"));
  BOOST_REQUIRE(forged.has_value());
  BOOST_TEST(!verify(*forged, kKey));
}

BOOST_AUTO_TEST_CASE(peer_announcement_carries_the_key_id_and_round_trips) {
  const std::string key_id = peerKeyId(kKey);
  BOOST_TEST(key_id.size() == 16u);
  BOOST_TEST(key_id == vigil::crypto::toHex(vigil::crypto::sha256(kKey).value()).substr(0, 16));
  BOOST_TEST(peerKeyId(kOtherKey) != key_id);
  const std::string bytes = encodePeerAnnouncement(key_id, "ag_2", kTs, kKey);
  auto parsed = parsePeerAnnouncement(bytes);
  BOOST_REQUIRE(parsed.has_value());
  BOOST_TEST(parsed->key_id == key_id);
  BOOST_TEST(parsed->agent_id == "ag_2");
  BOOST_TEST(verify(*parsed, kKey));
  BOOST_TEST(!verify(*parsed, kOtherKey));
  // A beacon is not an announcement, nor the other way round.
  BOOST_TEST(!parsePeerAnnouncement(encodeBeacon("ag_2", kTs, kKey)).has_value());
  BOOST_TEST(!parseBeacon(bytes).has_value());
}

BOOST_AUTO_TEST_CASE(any_change_to_a_signed_field_breaks_the_beacon_signature) {
  const std::string bytes = encodeBeacon("ag_1", kTs, kKey);
  for (const auto& changed : {withField(bytes, 1, "ag_2"), withField(bytes, 2, "1790000000001")}) {
    auto parsed = parseBeacon(changed);
    BOOST_REQUIRE(parsed.has_value());
    BOOST_TEST(!verify(*parsed, kKey));
  }
}

BOOST_AUTO_TEST_CASE(beacon_parser_refuses_every_deviation_from_the_shape) {
  const std::string good = encodeBeacon("ag_1", kTs, kKey);
  const std::string sig = good.substr(good.rfind(' ') + 1);
  const std::vector<std::string> bad = {
      "",
      "VB1",
      good + " ",
      " " + good,
      good + "\n",
      withField(good, 0, "VB2"),
      withField(good, 0, "vb1"),
      "VB1  ag_1 1790000000000 " + sig,          // two spaces
      withField(good, 1, "ag 1"),                // would be five fields
      withField(good, 1, "ag/1"),                // charset
      withField(good, 1, std::string(65, 'a')),  // too long
      withField(good, 2, "-1790000000000"),
      withField(good, 2, "+1790000000000"),
      withField(good, 2, "01790000000000"),  // leading zero: a second spelling
      withField(good, 2, "1790000000000.5"),
      withField(good, 2, "1234567890123456"),    // 16 digits
      withField(good, 3, sig.substr(1)),         // short signature
      withField(good, 3, sig + "0"),             // long signature
      withField(good, 3, std::string(64, 'A')),  // upper-case hex
      withField(good, 3, std::string(64, 'g')),
      good + " " + sig,  // one field too many
      std::string(kMaxDatagramBytes + 1, 'V'),
  };
  for (const std::string& b : bad) {
    BOOST_TEST_CONTEXT("datagram '" << b.substr(0, 80) << "'") {
      BOOST_TEST(!parseBeacon(b).has_value());
    }
  }
  BOOST_TEST(parseBeacon(withField(good, 2, "0")).has_value());  // "0" itself is canonical
}

BOOST_AUTO_TEST_CASE(a_second_spelling_of_a_signed_number_is_refused) {
  // The signature covers the number's canonical text: "0042" would verify as 42.
  const std::string beacon = encodeBeacon("ag_1", 42, kKey);
  BOOST_REQUIRE(parseBeacon(beacon).has_value());
  BOOST_TEST(!parseBeacon(withField(beacon, 2, "0042")).has_value());
  const std::string ack = encodeBeaconAck("ag_1", kTs, 15, kKey);
  BOOST_TEST(!parseBeaconAck(withField(ack, 3, "015")).has_value());
  BOOST_TEST(!parseBeaconAck(withField(ack, 3, "0")).has_value());      // below 1
  BOOST_TEST(!parseBeaconAck(withField(ack, 3, "86401")).has_value());  // above a day
  BOOST_TEST(parseBeaconAck(withField(ack, 3, "86400")).has_value());
}

BOOST_AUTO_TEST_CASE(a_datagram_of_the_maximum_size_is_parsed) {
  // The longest beacon: 64-byte agent id, 15-digit timestamp.
  const std::string id(kMaxAgentIdBytes, 'a');
  const std::string bytes = encodeBeacon(id, 999'999'999'999'999, kKey);
  BOOST_TEST(bytes.size() <= kMaxDatagramBytes);
  BOOST_TEST(parseBeacon(bytes).has_value());
  // Acks never exceed the maximum either.
  BOOST_TEST(encodeBeaconAck(id, 999'999'999'999'999, 86'400, kKey).size() <= kMaxDatagramBytes);
}

BOOST_AUTO_TEST_CASE(the_allocation_free_beacon_path_agrees_with_the_string_one) {
  const std::string id(kMaxAgentIdBytes, 'z');
  for (const std::string& agent_id : {std::string("ag_1"), id}) {
    const std::string bytes = encodeBeacon(agent_id, kTs, kKey);
    auto view = parseBeaconView(bytes);
    BOOST_REQUIRE(view.has_value());
    BOOST_TEST(view->agent_id == agent_id);
    BOOST_TEST(view->ts_text == std::to_string(kTs));
    BOOST_TEST(view->ts_ms == kTs);
    BOOST_TEST(verify(*view, kKey));
    BOOST_TEST(!verify(*view, kOtherKey));
    BOOST_TEST(verify(*view, kKey));

    DatagramBuffer ack;
    const size_t size = encodeBeaconAck(view->agent_id, view->ts_ms, 86'400, kKey, &ack);
    BOOST_TEST(std::string(ack.data(), size) == encodeBeaconAck(agent_id, kTs, 86'400, kKey));
  }
  // The same shape checks as parseBeacon.
  const std::string good = encodeBeacon("ag_1", kTs, kKey);
  for (const std::string& bad : {std::string(), good + " ", withField(good, 2, "0042"),
                                 withField(good, 0, "VA1"), good + std::string(600, 'a')}) {
    BOOST_TEST(!parseBeaconView(bad).has_value());
  }
  // Only agent ids are acknowledged.
  DatagramBuffer ack;
  BOOST_TEST(encodeBeaconAck("ag 1", kTs, 15, kKey, &ack) == 0u);
  BOOST_TEST(encodeBeaconAck(std::string(kMaxAgentIdBytes + 1, 'a'), kTs, 15, kKey, &ack) == 0u);
}
