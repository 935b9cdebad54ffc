#define BOOST_TEST_MODULE collector_webhook_format
// What a webhook message looks like: Standard Webhooks secrets and signatures, and the JSON of
// the events (docs/webhooks.md).
#include <boost/test/unit_test.hpp>
#include <string>

#include "collector/events/event_json.h"
#include "collector/events/webhook_signature.h"
#include "common/json.h"
#include "common/time_format.h"

using namespace vigil::collector;
namespace ev = vigil::collector::webhook_events;

namespace {

vigil::json::JsonPtr parseObject(const std::string& text) {
  vigil::json::JsonPtr root = vigil::json::parse(text);
  BOOST_REQUIRE_MESSAGE(root && cJSON_IsObject(root.get()), "not a JSON object: " << text);
  return root;
}

std::string stringMember(const cJSON* obj, const char* name) {
  const cJSON* item = cJSON_GetObjectItemCaseSensitive(obj, name);
  BOOST_REQUIRE_MESSAGE(cJSON_IsString(item), name << " is not a string");
  return item->valuestring;
}

bool isNullMember(const cJSON* obj, const char* name) {
  return cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(obj, name)) != 0;
}

}  // namespace

// The Standard Webhooks reference vector (computed independently with
// `openssl dgst -sha256 -mac HMAC -macopt hexkey:<key>` over "id.timestamp.body").
BOOST_AUTO_TEST_CASE(signature_matches_the_standard_webhooks_reference_vector) {
  auto signature =
      signWebhook("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_p5jXN8AQM9LWM0D4loKWxJek",
                  1614265330, R"({"test": 2432232314})");
  BOOST_REQUIRE(signature.ok());
  BOOST_TEST(signature.value() == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
}

BOOST_AUTO_TEST_CASE(signature_covers_id_timestamp_and_body) {
  const std::string secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
  const std::string base = signWebhook(secret, "msg_1", 100, "{}").value();
  BOOST_TEST(signWebhook(secret, "msg_2", 100, "{}").value() != base);
  BOOST_TEST(signWebhook(secret, "msg_1", 101, "{}").value() != base);
  BOOST_TEST(signWebhook(secret, "msg_1", 100, "{ }").value() != base);
  BOOST_TEST(signWebhook("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSx", "msg_1", 100, "{}").value() !=
             base);
}

BOOST_AUTO_TEST_CASE(new_secrets_are_whsec_base64_of_32_random_bytes) {
  auto a = newWebhookSecret();
  auto b = newWebhookSecret();
  BOOST_REQUIRE(a.ok());
  BOOST_REQUIRE(b.ok());
  BOOST_TEST(a.value().rfind("whsec_", 0) == 0u);
  BOOST_TEST(a.value() != b.value());
  auto key = webhookSigningKey(a.value());
  BOOST_REQUIRE(key.ok());
  BOOST_TEST(key.value().size() == 32u);
  BOOST_TEST(base64Encode(key.value()) == a.value().substr(6));
}

BOOST_AUTO_TEST_CASE(malformed_secrets_are_refused) {
  BOOST_TEST(!webhookSigningKey("").ok());
  BOOST_TEST(!webhookSigningKey("whsec_").ok());
  BOOST_TEST(!webhookSigningKey("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").ok());
  BOOST_TEST(!webhookSigningKey("whsec_not base64!").ok());
  BOOST_TEST(!webhookSigningKey("whsec_abc").ok());  // not a multiple of 4
  BOOST_TEST(!signWebhook("whsec_***", "msg_1", 1, "{}").ok());
}

BOOST_AUTO_TEST_CASE(base64_round_trips_every_length) {
  std::string bytes;
  for (int i = 0; i < 40; ++i) {
    auto decoded = base64Decode(base64Encode(bytes));
    BOOST_REQUIRE(decoded.ok());
    BOOST_TEST(decoded.value() == bytes);
    bytes.push_back(static_cast<char>(i * 37 + 200));
  }
  BOOST_TEST(base64Encode("foobar") == "Zm9vYmFy");
  BOOST_TEST(base64Encode("fo") == "Zm8=");
}

BOOST_AUTO_TEST_CASE(times_are_rfc3339_utc_with_milliseconds) {
  BOOST_TEST(vigil::formatRfc3339Utc(0) == "1970-01-01T00:00:00.000Z");
  BOOST_TEST(vigil::formatRfc3339Utc(1614265330123) == "2021-02-25T15:02:10.123Z");
  BOOST_TEST(vigil::formatRfc3339Utc(951782400000) == "2000-02-29T00:00:00.000Z");
  BOOST_TEST(vigil::formatRfc3339Utc(-1) == "1969-12-31T23:59:59.999Z");
}

BOOST_AUTO_TEST_CASE(alert_event_carries_the_alert_object) {
  AlertRecord a;
  a.id = 42;
  a.kind = "device_offline";
  a.state = "open";
  a.tenant_id = 7;
  a.agent_id = "agent-1";
  a.opened_at_ms = 1614265330123;
  a.held_since_ms = 1614265320000;
  a.held_reasons = "clock_jump,store_failures";
  a.note = "silent for 3 min";
  const std::string payload = ev::alertEventPayload(ev::kAlertOpened, a, 1614265330500);
  auto root = parseObject(payload);
  BOOST_TEST(stringMember(root.get(), "type") == "alert.opened");
  BOOST_TEST(stringMember(root.get(), "timestamp") == "2021-02-25T15:02:10.500Z");
  const cJSON* data = cJSON_GetObjectItemCaseSensitive(root.get(), "data");
  BOOST_REQUIRE(cJSON_IsObject(data));
  BOOST_TEST(vigil::json::isIntegerInRange(cJSON_GetObjectItem(data, "id"), 42, 42));
  BOOST_TEST(vigil::json::isIntegerInRange(cJSON_GetObjectItem(data, "tenant_id"), 7, 7));
  BOOST_TEST(stringMember(data, "kind") == "device_offline");
  BOOST_TEST(stringMember(data, "state") == "open");
  BOOST_TEST(stringMember(data, "agent_id") == "agent-1");
  BOOST_TEST(isNullMember(data, "site_id"));
  BOOST_TEST(stringMember(data, "opened_at") == "2021-02-25T15:02:10.123Z");
  BOOST_TEST(isNullMember(data, "closed_at"));
  BOOST_TEST(stringMember(data, "held_since") == "2021-02-25T15:02:00.000Z");
  const cJSON* reasons = cJSON_GetObjectItemCaseSensitive(data, "held_reasons");
  BOOST_REQUIRE(cJSON_IsArray(reasons));
  BOOST_TEST(cJSON_GetArraySize(reasons) == 2);
  BOOST_TEST(std::string(cJSON_GetArrayItem(reasons, 1)->valuestring) == "store_failures");
  BOOST_TEST(isNullMember(data, "suppression_reason"));  // open: not suppressed now
  BOOST_TEST(stringMember(data, "note") == "silent for 3 min");
  BOOST_TEST(isNullMember(data, "acknowledged_at"));
  BOOST_TEST(isNullMember(data, "acknowledged_by"));
  BOOST_TEST(isNullMember(data, "closed_by"));

  a.state = "held";
  auto held = parseObject(ev::alertEventPayload(ev::kAlertHeld, a, 0));
  const cJSON* held_data = cJSON_GetObjectItemCaseSensitive(held.get(), "data");
  BOOST_TEST(stringMember(held_data, "suppression_reason") == "clock_jump,store_failures");
  BOOST_TEST(ev::alertOrderingKey(42) == "alert:42");
}

// Text stored before the collector checked what comes in (a note, who acknowledged) may hold
// bytes that are not UTF-8; the payload is valid JSON anyway, such bytes shown as U+FFFD.
BOOST_AUTO_TEST_CASE(alert_events_are_valid_utf8_whatever_the_store_holds) {
  AlertRecord a;
  a.id = 1;
  a.kind = "device_offline";
  a.state = "open";
  a.tenant_id = 1;
  a.opened_at_ms = 0;
  a.note = "caf\xE9 \xFF";
  a.acknowledged_by = std::string("tech\xC0\x80", 6);
  const std::string payload = ev::alertEventPayload(ev::kAlertOpened, a, 0);
  BOOST_TEST(vigil::json::isUtf8(payload));
  auto root = parseObject(payload);
  const cJSON* data = cJSON_GetObjectItemCaseSensitive(root.get(), "data");
  BOOST_TEST(stringMember(data, "note") == "caf\xEF\xBF\xBD \xEF\xBF\xBD");
  BOOST_TEST(stringMember(data, "acknowledged_by") == "tech\xEF\xBF\xBD\xEF\xBF\xBD");
}

BOOST_AUTO_TEST_CASE(health_events_say_degraded_or_recovered_with_reasons) {
  HealthRecord degraded{1614265330000, true, "ingest_lag"};
  BOOST_TEST(ev::healthEventType(degraded) == "collector.degraded");
  auto root = parseObject(ev::healthEventPayload(degraded));
  BOOST_TEST(stringMember(root.get(), "type") == "collector.degraded");
  const cJSON* data = cJSON_GetObjectItemCaseSensitive(root.get(), "data");
  BOOST_TEST(cJSON_IsTrue(cJSON_GetObjectItem(data, "degraded")));
  BOOST_TEST(cJSON_GetArraySize(cJSON_GetObjectItem(data, "reasons")) == 1);
  BOOST_TEST(stringMember(data, "at") == "2021-02-25T15:02:10.000Z");

  HealthRecord healthy{1614265340000, false, ""};
  BOOST_TEST(ev::healthEventType(healthy) == "collector.recovered");
  auto again = parseObject(ev::healthEventPayload(healthy));
  const cJSON* again_data = cJSON_GetObjectItemCaseSensitive(again.get(), "data");
  BOOST_TEST(cJSON_IsFalse(cJSON_GetObjectItem(again_data, "degraded")));
  BOOST_TEST(cJSON_GetArraySize(cJSON_GetObjectItem(again_data, "reasons")) == 0);
}

BOOST_AUTO_TEST_CASE(only_documented_event_types_are_subscribable) {
  BOOST_TEST(ev::subscribableTypes().size() == 6u);
  BOOST_TEST(ev::isSubscribableType("alert.released"));
  BOOST_TEST(ev::isSubscribableType("collector.recovered"));
  BOOST_TEST(!ev::isSubscribableType("webhook.test"));
  BOOST_TEST(!ev::isSubscribableType("alert.*"));
}
