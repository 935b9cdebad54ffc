#define BOOST_TEST_MODULE common_protocol
#include "common/protocol.h"

#include <boost/test/unit_test.hpp>
#include <string>
#include <vector>

#include "common/json.h"

using namespace vigil;
using namespace vigil::protocol;

namespace {

Heartbeat sampleHeartbeat() {
  Heartbeat hb;
  hb.agent_id = "ag_0123456789abcdef01234567";
  hb.seq = 9'007'199'254'740'992ULL;  // 2^53: the largest exactly representable
  hb.boot_id = "6f1a2b3c-1111-2222-3333-444455556666";
  hb.uptime_s = uint64_t{86'400} * 400;
  hb.agent_version = "0.1.0";
  hb.sent_at_ms = 1'790'000'000'123;
  hb.interval_s = 60;
  hb.hostname = "host-\xc3\xa9t\xc3\xa9";  // UTF-8 survives
  return hb;
}

// A valid heartbeat body with one field replaced by raw JSON text, or removed (replacement "").
std::string heartbeatWith(const std::string& field, const std::string& raw_value) {
  std::vector<std::pair<std::string, std::string>> fields = {
      {"v", "1"},
      {"agent_id", "\"ag_1\""},
      {"seq", "5"},
      {"boot_id", "\"b\""},
      {"uptime_s", "10"},
      {"agent_version", "\"0.1.0\""},
      {"sent_at_ms", "1790000000000"},
  };
  std::string out = "{";
  bool first = true;
  bool replaced = false;
  for (auto& [name, value] : fields) {
    std::string v = value;
    if (name == field) {
      replaced = true;
      if (raw_value.empty()) continue;
      v = raw_value;
    }
    if (!first) out += ",";
    first = false;
    out += "\"" + name + "\":" + v;
  }
  if (!replaced && !raw_value.empty()) out += ",\"" + field + "\":" + raw_value;
  return out + "}";
}

// `item` `n` times, comma-separated.
std::string repeated(const std::string& item, int n) {
  std::string out;
  for (int i = 0; i < n; ++i) out += (i == 0 ? "" : ",") + item;
  return out;
}

}  // namespace

BOOST_AUTO_TEST_CASE(heartbeat_round_trips_every_field) {
  Heartbeat in = sampleHeartbeat();
  auto out = decodeHeartbeat(encode(in));
  BOOST_REQUIRE(out.ok());
  BOOST_TEST(out->agent_id == in.agent_id);
  BOOST_TEST(out->seq == in.seq);
  BOOST_TEST(out->boot_id == in.boot_id);
  BOOST_TEST(out->uptime_s == in.uptime_s);
  BOOST_TEST(out->agent_version == in.agent_version);
  BOOST_TEST(out->sent_at_ms == in.sent_at_ms);
  BOOST_TEST(out->interval_s.value() == 60);
  BOOST_TEST(out->hostname.value() == *in.hostname);
}

BOOST_AUTO_TEST_CASE(heartbeat_indicators_round_trip) {
  Heartbeat in = sampleHeartbeat();
  in.os_name = "linux";
  in.os_version = "Debian GNU/Linux 13 (trixie)";
  in.config_hash = "0123456789abcdef";
  in.net = NetworkSelfCheck{true, {"10.0.0.7", "fe80::1"}};
  in.outages = {{1'790'000'000'000, 1'790'000'060'000, causes::kNoNetwork},
                {1'790'000'100'000, 1'790'000'100'000, causes::kOverloaded}};
  in.shutdown = shutdown_reasons::kUninstall;
  in.peers = {{"ag_peer1", 1'790'000'000'500}, {"ag_peer2", 0}};
  in.peer_key_id = "fedcba9876543210";
  auto out = decodeHeartbeat(encode(in));
  BOOST_REQUIRE_MESSAGE(out.ok(), (out.ok() ? std::string() : out.error().message));
  BOOST_TEST(out->os_name.value() == "linux");
  BOOST_TEST(out->os_version.value() == *in.os_version);
  BOOST_TEST(out->config_hash.value() == "0123456789abcdef");
  BOOST_REQUIRE(out->net.has_value());
  BOOST_TEST(out->net->default_route);
  BOOST_TEST(out->net->addresses == in.net->addresses);
  BOOST_REQUIRE(out->outages.size() == 2u);
  BOOST_TEST(out->outages[0].from_ms == in.outages[0].from_ms);
  BOOST_TEST(out->outages[0].to_ms == in.outages[0].to_ms);
  BOOST_TEST(out->outages[1].cause == "overloaded");
  BOOST_TEST(out->shutdown.value() == "uninstall");
  BOOST_REQUIRE(out->peers.size() == 2u);
  BOOST_TEST(out->peers[0].agent_id == "ag_peer1");
  BOOST_TEST(out->peers[0].heard_at_ms == in.peers[0].heard_at_ms);
  BOOST_TEST(out->peers[1].heard_at_ms == 0);
  BOOST_TEST(out->peer_key_id.value() == "fedcba9876543210");
}

BOOST_AUTO_TEST_CASE(heartbeat_at_the_array_limits_is_accepted) {
  Heartbeat in = sampleHeartbeat();
  in.net = NetworkSelfCheck{false, std::vector<std::string>(kMaxAddresses, "10.0.0.1")};
  in.outages.assign(kMaxOutageEntries, OutageEntry{1, 1, causes::kOther});
  in.peers.assign(kMaxPeerSightings, PeerSighting{"ag_p", 1});
  auto out = decodeHeartbeat(encode(in));
  BOOST_REQUIRE(out.ok());
  BOOST_TEST(out->net->addresses.size() == kMaxAddresses);
  BOOST_TEST(out->outages.size() == kMaxOutageEntries);
  BOOST_TEST(out->peers.size() == kMaxPeerSightings);
  BOOST_TEST(!out->net->default_route);
}

BOOST_AUTO_TEST_CASE(every_outage_cause_and_shutdown_reason_is_known) {
  for (const char* cause :
       {causes::kNoNetwork, causes::kDns, causes::kConnect, causes::kTimeout, causes::kTls,
        causes::kHttpError, causes::kOverloaded, causes::kBadAnswer, causes::kOther}) {
    BOOST_TEST(isKnownOutageCause(cause));
  }
  BOOST_TEST(!isKnownOutageCause("DNS"));
  BOOST_TEST(!isKnownOutageCause(""));
  for (const char* reason :
       {shutdown_reasons::kServiceStop, shutdown_reasons::kSystemShutdown, shutdown_reasons::kSleep,
        shutdown_reasons::kLogoff, shutdown_reasons::kUninstall}) {
    BOOST_TEST(isKnownShutdownReason(reason));
  }
  BOOST_TEST(!isKnownShutdownReason("reboot"));
}

BOOST_AUTO_TEST_CASE(answers_carry_verify_and_channels) {
  HeartbeatResponse in;
  in.next_interval_s = 60;
  in.server_time_ms = 1'790'000'000'000;
  in.verify_interval_s = 10;
  in.verify_for_s = 120;
  in.channels.beacon_port = 8471;
  in.channels.beacon_interval_s = 15;
  in.channels.peer_key = std::string(64, 'c');
  in.channels.peer_key_id = "0123456789abcdef";
  auto out = decodeHeartbeatResponse(encode(in));
  BOOST_REQUIRE(out.ok());
  BOOST_TEST(out->verify_interval_s.value() == 10);
  BOOST_TEST(out->verify_for_s.value() == 120);
  BOOST_TEST(out->channels.beacon_port.value() == 8471);
  BOOST_TEST(out->channels.beacon_interval_s.value() == 15);
  BOOST_TEST(out->channels.peer_key.value() == *in.channels.peer_key);
  BOOST_TEST(out->channels.peer_key_id.value() == "0123456789abcdef");

  // Verify comes in pairs: one alone is not written.
  HeartbeatResponse half = in;
  half.verify_for_s.reset();
  const std::string body = encode(half);
  BOOST_TEST(body.find("verify") == std::string::npos);

  EnrollResponse enrolled;
  enrolled.agent_id = "ag_1";
  enrolled.secret = std::string(64, 'f');
  enrolled.heartbeat_interval_s = 60;
  enrolled.server_time_ms = 1;
  enrolled.channels = in.channels;
  auto e = decodeEnrollResponse(encode(enrolled));
  BOOST_REQUIRE(e.ok());
  BOOST_TEST(e->channels.peer_key.value() == *in.channels.peer_key);
  BOOST_TEST(e->channels.beacon_port.value() == 8471);
}

BOOST_AUTO_TEST_CASE(answer_decoders_refuse_bad_verify_and_channel_fields) {
  const std::string head = R"({"v":1,"next_interval_s":60,"server_time_ms":1,)";
  struct Case {
    std::string tail;
    const char* field;
  };
  const std::vector<Case> cases = {
      {R"("verify_interval_s":10})", "verify_for_s"},  // unpaired
      {R"("verify_for_s":10})", "verify_for_s"},
      // Out of range is named as such, even when its partner is present.
      {R"("verify_interval_s":10,"verify_for_s":901})", "verify_for_s"},
      {R"("verify_interval_s":0,"verify_for_s":10})", "verify_interval_s"},
      {R"("beacon_port":0})", "beacon_port"},
      {R"("beacon_port":65536})", "beacon_port"},
      {R"("beacon_interval_s":0})", "beacon_interval_s"},
      {R"("peer_key":"abc"})", "peer_key"},
      {R"("peer_key_id":"0123456789ABCDEF"})", "peer_key_id"},
  };
  for (const auto& c : cases) {
    BOOST_TEST_CONTEXT("answer tail " << c.tail) {
      auto r = decodeHeartbeatResponse(head + c.tail);
      BOOST_REQUIRE(!r.ok());
      BOOST_TEST(r.error().code == errors::kInvalidField);
      BOOST_TEST(r.error().field == c.field);
    }
  }
  auto range = decodeHeartbeatResponse(head + R"("verify_interval_s":10,"verify_for_s":901})");
  BOOST_REQUIRE(!range.ok());
  BOOST_TEST(range.error().message.find("901") == std::string::npos);
  BOOST_TEST(range.error().message.find("900") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(heartbeat_optional_fields_stay_absent) {
  Heartbeat in = sampleHeartbeat();
  in.interval_s.reset();
  in.hostname.reset();
  std::string body = encode(in);
  BOOST_TEST(body.find("interval_s") == std::string::npos);
  auto out = decodeHeartbeat(body);
  BOOST_REQUIRE(out.ok());
  BOOST_TEST(!out->interval_s.has_value());
  BOOST_TEST(!out->hostname.has_value());
}

BOOST_AUTO_TEST_CASE(enroll_request_and_response_round_trip) {
  EnrollRequest req;
  req.enroll_token = "tok";
  req.facts = {"host1", "linux", "Debian GNU/Linux 12 (bookworm)", "x86_64", "0.1.0"};
  auto req2 = decodeEnrollRequest(encode(req));
  BOOST_REQUIRE(req2.ok());
  BOOST_TEST(req2->enroll_token == "tok");
  BOOST_TEST(req2->facts.hostname == "host1");
  BOOST_TEST(req2->facts.os_name == "linux");
  BOOST_TEST(req2->facts.os_version == "Debian GNU/Linux 12 (bookworm)");
  BOOST_TEST(req2->facts.arch == "x86_64");
  BOOST_TEST(req2->facts.agent_version == "0.1.0");

  EnrollResponse resp;
  resp.agent_id = "ag_1";
  resp.secret = std::string(64, 'f');
  resp.heartbeat_interval_s = 60;
  resp.server_time_ms = 1'790'000'000'000;
  auto resp2 = decodeEnrollResponse(encode(resp));
  BOOST_REQUIRE(resp2.ok());
  BOOST_TEST(resp2->agent_id == "ag_1");
  BOOST_TEST(resp2->secret == resp.secret);
  BOOST_TEST(resp2->heartbeat_interval_s == 60);
  BOOST_TEST(resp2->server_time_ms == resp.server_time_ms);
}

BOOST_AUTO_TEST_CASE(heartbeat_response_and_error_body_round_trip) {
  HeartbeatResponse plain;
  plain.next_interval_s = 45;
  plain.server_time_ms = 1'790'000'000'000;
  auto hr = decodeHeartbeatResponse(encode(plain));
  BOOST_REQUIRE(hr.ok());
  BOOST_TEST(hr->next_interval_s == 45);
  BOOST_TEST(hr->server_time_ms == 1'790'000'000'000);

  auto eb = decodeErrorBody(encode(ErrorBody{errors::kStaleTimestamp, "late", 123}));
  BOOST_REQUIRE(eb.ok());
  BOOST_TEST(eb->error == "stale_timestamp");
  BOOST_TEST(eb->message == "late");
  BOOST_TEST(eb->server_time_ms.value() == 123);
  auto eb2 = decodeErrorBody(encode(ErrorBody{errors::kBadSignature, "no", std::nullopt}));
  BOOST_REQUIRE(eb2.ok());
  BOOST_TEST(!eb2->server_time_ms.has_value());
}

BOOST_AUTO_TEST_CASE(unknown_fields_are_ignored) {
  auto hb = decodeHeartbeat(heartbeatWith("future_field", "{\"nested\":[1,2,3]}"));
  BOOST_REQUIRE(hb.ok());
  BOOST_TEST(hb->seq == 5u);
}

struct BadInput {
  const char* name;
  std::string body;
  const char* code;
  const char* field;
};

BOOST_AUTO_TEST_CASE(heartbeat_bad_inputs_are_refused_with_the_right_code) {
  const std::vector<BadInput> cases = {
      {"empty body", "", errors::kMalformedJson, ""},
      {"not json", "hello", errors::kMalformedJson, ""},
      {"truncated", "{\"v\":1,", errors::kMalformedJson, ""},
      {"array", "[1,2]", errors::kMalformedJson, ""},
      {"string", "\"x\"", errors::kMalformedJson, ""},
      {"trailing garbage", heartbeatWith("", "") + "x", errors::kMalformedJson, ""},
      {"two objects", heartbeatWith("", "") + heartbeatWith("", ""), errors::kMalformedJson, ""},
      {"missing v", heartbeatWith("v", ""), errors::kMissingField, "v"},
      {"v as string", heartbeatWith("v", "\"1\""), errors::kInvalidField, "v"},
      {"v fractional", heartbeatWith("v", "1.5"), errors::kInvalidField, "v"},
      {"v = 2", heartbeatWith("v", "2"), errors::kUnsupportedVersion, "v"},
      {"v = 0", heartbeatWith("v", "0"), errors::kUnsupportedVersion, "v"},
      {"v = -1", heartbeatWith("v", "-1"), errors::kUnsupportedVersion, "v"},
      {"v null", heartbeatWith("v", "null"), errors::kMissingField, "v"},
      {"missing agent_id", heartbeatWith("agent_id", ""), errors::kMissingField, "agent_id"},
      {"null agent_id", heartbeatWith("agent_id", "null"), errors::kMissingField, "agent_id"},
      {"numeric agent_id", heartbeatWith("agent_id", "7"), errors::kInvalidField, "agent_id"},
      {"empty agent_id", heartbeatWith("agent_id", "\"\""), errors::kInvalidField, "agent_id"},
      {"long agent_id", heartbeatWith("agent_id", "\"" + std::string(257, 'a') + "\""),
       errors::kInvalidField, "agent_id"},
      {"missing seq", heartbeatWith("seq", ""), errors::kMissingField, "seq"},
      {"seq as string", heartbeatWith("seq", "\"5\""), errors::kInvalidField, "seq"},
      {"seq zero", heartbeatWith("seq", "0"), errors::kInvalidField, "seq"},
      {"seq negative", heartbeatWith("seq", "-1"), errors::kInvalidField, "seq"},
      {"seq fractional", heartbeatWith("seq", "5.5"), errors::kInvalidField, "seq"},
      {"seq above 2^53", heartbeatWith("seq", "9007199254740994"), errors::kInvalidField, "seq"},
      {"seq huge", heartbeatWith("seq", "1e300"), errors::kInvalidField, "seq"},
      {"seq bool", heartbeatWith("seq", "true"), errors::kInvalidField, "seq"},
      {"missing boot_id", heartbeatWith("boot_id", ""), errors::kMissingField, "boot_id"},
      {"boot_id object", heartbeatWith("boot_id", "{}"), errors::kInvalidField, "boot_id"},
      {"missing uptime", heartbeatWith("uptime_s", ""), errors::kMissingField, "uptime_s"},
      {"negative uptime", heartbeatWith("uptime_s", "-3"), errors::kInvalidField, "uptime_s"},
      {"missing version", heartbeatWith("agent_version", ""), errors::kMissingField,
       "agent_version"},
      {"missing sent_at", heartbeatWith("sent_at_ms", ""), errors::kMissingField, "sent_at_ms"},
      {"sent_at string", heartbeatWith("sent_at_ms", "\"now\""), errors::kInvalidField,
       "sent_at_ms"},
      {"interval zero", heartbeatWith("interval_s", "0"), errors::kInvalidField, "interval_s"},
      {"interval too long", heartbeatWith("interval_s", "86401"), errors::kInvalidField,
       "interval_s"},
      {"hostname number", heartbeatWith("hostname", "1"), errors::kInvalidField, "hostname"},
      {"config_hash upper case", heartbeatWith("config_hash", "\"0123456789ABCDEF\""),
       errors::kInvalidField, "config_hash"},
      {"config_hash short", heartbeatWith("config_hash", "\"0123\""), errors::kInvalidField,
       "config_hash"},
      {"net not an object", heartbeatWith("net", "[]"), errors::kInvalidField, "net"},
      {"net default_route string", heartbeatWith("net", R"({"default_route":"yes"})"),
       errors::kInvalidField, "net.default_route"},
      {"net too many addresses",
       heartbeatWith("net", "{\"addresses\":[" + repeated("\"10.0.0.1\"", 17) + "]}"),
       errors::kInvalidField, "net.addresses"},
      {"net empty address", heartbeatWith("net", R"({"addresses":[""]})"), errors::kInvalidField,
       "net.addresses"},
      {"outages not an array", heartbeatWith("outages", "{}"), errors::kInvalidField, "outages"},
      {"outage ends before it starts",
       heartbeatWith("outages", R"([{"from_ms":5,"to_ms":4,"cause":"dns"}])"),
       errors::kInvalidField, "outages"},
      {"outage unknown cause",
       heartbeatWith("outages", R"([{"from_ms":1,"to_ms":2,"cause":"aliens"}])"),
       errors::kInvalidField, "outages"},
      {"outage without cause", heartbeatWith("outages", R"([{"from_ms":1,"to_ms":2}])"),
       errors::kInvalidField, "outages"},
      {"outage negative time",
       heartbeatWith("outages", R"([{"from_ms":-1,"to_ms":2,"cause":"dns"}])"),
       errors::kInvalidField, "outages"},
      {"too many outages",
       heartbeatWith("outages",
                     "[" + repeated(R"({"from_ms":1,"to_ms":2,"cause":"dns"})", 33) + "]"),
       errors::kInvalidField, "outages"},
      {"shutdown unknown", heartbeatWith("shutdown", "\"reboot\""), errors::kInvalidField,
       "shutdown"},
      {"shutdown number", heartbeatWith("shutdown", "1"), errors::kInvalidField, "shutdown"},
      {"peer without agent_id", heartbeatWith("peers", R"([{"heard_at_ms":1}])"),
       errors::kInvalidField, "peers"},
      {"peer heard_at string", heartbeatWith("peers", R"([{"agent_id":"a","heard_at_ms":"1"}])"),
       errors::kInvalidField, "peers"},
      {"peer not an object", heartbeatWith("peers", R"(["ag_2"])"), errors::kInvalidField, "peers"},
      {"too many peers",
       heartbeatWith("peers", "[" + repeated(R"({"agent_id":"a","heard_at_ms":1})", 65) + "]"),
       errors::kInvalidField, "peers"},
      {"peer_key_id long", heartbeatWith("peer_key_id", "\"0123456789abcdef0\""),
       errors::kInvalidField, "peer_key_id"},
      {"oversized", heartbeatWith("pad", "\"" + std::string(kMaxBodyBytes, 'x') + "\""),
       errors::kBodyTooLarge, ""},
  };
  for (const auto& c : cases) {
    BOOST_TEST_CONTEXT("case: " << c.name) {
      auto r = decodeHeartbeat(c.body);
      BOOST_REQUIRE(!r.ok());
      BOOST_TEST(r.error().code == c.code);
      BOOST_TEST(r.error().field == c.field);
      BOOST_TEST(!r.error().message.empty());
    }
  }
}

BOOST_AUTO_TEST_CASE(enroll_bad_inputs_are_refused_with_the_right_code) {
  const std::vector<BadInput> cases = {
      {"missing token", R"({"v":1,"hostname":"h","agent_version":"1"})", errors::kMissingField,
       "enroll_token"},
      {"token number", R"({"v":1,"enroll_token":5,"hostname":"h","agent_version":"1"})",
       errors::kInvalidField, "enroll_token"},
      {"missing hostname", R"({"v":1,"enroll_token":"t","agent_version":"1"})",
       errors::kMissingField, "hostname"},
      {"os_name number",
       R"({"v":1,"enroll_token":"t","hostname":"h","agent_version":"1","os_name":3})",
       errors::kInvalidField, "os_name"},
      {"wrong version", R"({"v":7,"enroll_token":"t","hostname":"h","agent_version":"1"})",
       errors::kUnsupportedVersion, "v"},
  };
  for (const auto& c : cases) {
    BOOST_TEST_CONTEXT("case: " << c.name) {
      auto r = decodeEnrollRequest(c.body);
      BOOST_REQUIRE(!r.ok());
      BOOST_TEST(r.error().code == c.code);
      BOOST_TEST(r.error().field == c.field);
    }
  }
}

BOOST_AUTO_TEST_CASE(strings_that_are_not_clean_utf8_are_refused_not_cut_short) {
  const std::string head = R"({"v":1,"enroll_token":"t","agent_version":"1","hostname":")";
  const std::vector<std::pair<std::string, std::string>> refused = {
      {"escaped NUL", R"(trunc\u0000ated)"},  {"raw NUL", std::string("trunc\0ated", 9)},
      {"raw control character", "tab\there"}, {"lone continuation byte", "host\x80"},
      {"truncated sequence", "host\xc3"},     {"overlong slash", "host\xc0\xaf"},
      {"surrogate", "host\xed\xa0\x80"},      {"above U+10FFFF", "host\xf4\x90\x80\x80"},
  };
  for (const auto& [name, hostname] : refused) {
    BOOST_TEST_CONTEXT("case: " << name) {
      auto r = decodeEnrollRequest(head + hostname + "\"}");
      BOOST_REQUIRE(!r.ok());
      BOOST_TEST(r.error().code == errors::kInvalidText);
    }
  }
  // Heartbeats are checked the same way.
  auto beat = decodeHeartbeat(heartbeatWith("hostname", "\"a\\u0000b\""));
  BOOST_REQUIRE(!beat.ok());
  BOOST_TEST(beat.error().code == errors::kInvalidText);
  // An escaped backslash followed by "u0000" is text; so is any well-formed UTF-8.
  auto text = decodeEnrollRequest(head + R"(a\\u0000b)" + "\"}");
  BOOST_REQUIRE(text.ok());
  BOOST_TEST(text.value().facts.hostname == "a\\u0000b");
  auto utf8 = decodeEnrollRequest(head + "h\xc3\xa9te-\xf0\x9f\x96\xa5" + "\"}");
  BOOST_REQUIRE(utf8.ok());
  BOOST_TEST(utf8.value().facts.hostname == "h\xc3\xa9te-\xf0\x9f\x96\xa5");
}

BOOST_AUTO_TEST_CASE(text_stored_before_it_was_checked_prints_as_valid_utf8) {
  BOOST_TEST(json::toValidUtf8("ok \xc3\xa9") == "ok \xc3\xa9");
  BOOST_TEST(json::toValidUtf8("bad\xff\xc3") == "bad\xef\xbf\xbd\xef\xbf\xbd");
  BOOST_TEST(json::isUtf8(json::toValidUtf8("\xed\xa0\x80x")));
}

BOOST_AUTO_TEST_CASE(response_decoders_refuse_out_of_range_intervals) {
  BOOST_TEST(!decodeHeartbeatResponse(R"({"v":1,"next_interval_s":0,"server_time_ms":1})").ok());
  BOOST_TEST(!decodeHeartbeatResponse(R"({"v":1,"next_interval_s":-5,"server_time_ms":1})").ok());
  BOOST_TEST(decodeHeartbeatResponse(R"({"v":1,"next_interval_s":1,"server_time_ms":1})").ok());
  BOOST_TEST(!decodeEnrollResponse(R"({"v":1,"agent_id":"a","secret":"s"})").ok());
}

BOOST_AUTO_TEST_CASE(signing_input_joins_method_path_timestamp_body_with_newlines) {
  BOOST_TEST(signingInput("POST", "/v1/heartbeat", 1790000000000, "{\"a\":1}") ==
             "POST\n/v1/heartbeat\n1790000000000\n{\"a\":1}");
}

BOOST_AUTO_TEST_CASE(signature_verifies_and_any_change_breaks_it) {
  const std::string secret(64, 'a');
  const std::string body = encode(sampleHeartbeat());
  const int64_t ts = 1'790'000'000'000;
  auto sig = sign(secret, "POST", kHeartbeatPath, ts, body);
  BOOST_REQUIRE(sig.ok());
  BOOST_TEST(sig->rfind("v1=", 0) == 0u);
  BOOST_TEST(sig->size() == 3u + 64u);
  BOOST_TEST(verifySignature(secret, "POST", kHeartbeatPath, ts, body, *sig));

  BOOST_TEST(!verifySignature(std::string(64, 'b'), "POST", kHeartbeatPath, ts, body, *sig));
  BOOST_TEST(!verifySignature(secret, "PUT", kHeartbeatPath, ts, body, *sig));
  BOOST_TEST(!verifySignature(secret, "POST", kEnrollPath, ts, body, *sig));
  BOOST_TEST(!verifySignature(secret, "POST", kHeartbeatPath, ts + 1, body, *sig));
  BOOST_TEST(!verifySignature(secret, "POST", kHeartbeatPath, ts, body + " ", *sig));
  BOOST_TEST(!verifySignature(secret, "POST", kHeartbeatPath, ts, body, sig->substr(3)));
  BOOST_TEST(!verifySignature(secret, "POST", kHeartbeatPath, ts, body, ""));
  std::string upper = *sig;
  for (auto& ch : upper) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  BOOST_TEST(!verifySignature(secret, "POST", kHeartbeatPath, ts, body, upper));
}

BOOST_AUTO_TEST_CASE(timestamp_header_accepts_only_plain_decimal_digits) {
  BOOST_TEST(parseTimestampHeader("1790000000000").value() == 1'790'000'000'000);
  BOOST_TEST(parseTimestampHeader("0").value() == 0);
  BOOST_TEST(!parseTimestampHeader("").has_value());
  BOOST_TEST(!parseTimestampHeader("-1").has_value());
  BOOST_TEST(!parseTimestampHeader("+1").has_value());
  BOOST_TEST(!parseTimestampHeader("12a").has_value());
  BOOST_TEST(!parseTimestampHeader(" 12").has_value());
  BOOST_TEST(!parseTimestampHeader("1234567890123456").has_value());
}
