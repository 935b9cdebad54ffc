#include "common/protocol.h"

#include <limits>

#include "common/crypto.h"
#include "common/json.h"

namespace vigil::protocol {
namespace {

using json::JsonPtr;

DecodeError decodeError(const char* code, std::string field, std::string message) {
  return DecodeError{code, std::move(field), std::move(message)};
}

// Reads typed fields from one JSON object and remembers the first failure.
class FieldReader {
 public:
  explicit FieldReader(const cJSON* object) : object_(object) {}

  void requireString(const char* name, std::string* out) { readString(name, out, true); }
  void optionalString(const char* name, std::string* out) { readString(name, out, false); }
  void optionalString(const char* name, std::optional<std::string>* out) {
    std::string value;
    if (readString(name, &value, false)) *out = std::move(value);
  }

  void requireInt(const char* name, int64_t min, int64_t max, int64_t* out) {
    readInt(name, min, max, out, true);
  }
  void requireUint(const char* name, uint64_t min, uint64_t* out) {
    int64_t v = 0;
    if (readInt(name, static_cast<int64_t>(min), json::kMaxExactInteger, &v, true)) {
      *out = static_cast<uint64_t>(v);
    }
  }
  void optionalInt(const char* name, int64_t min, int64_t max, std::optional<int64_t>* out) {
    int64_t v = 0;
    if (readInt(name, min, max, &v, false)) *out = v;
  }

  bool ok() const { return !error_.has_value(); }
  DecodeError error() const { return *error_; }

 private:
  // Returns true if the field was present and valid.
  bool readString(const char* name, std::string* out, bool required) {
    if (error_) return false;
    const cJSON* item = cJSON_GetObjectItemCaseSensitive(object_, name);
    if (item == nullptr || cJSON_IsNull(item)) {
      if (required) fail(errors::kMissingField, name, "is required");
      return false;
    }
    if (!cJSON_IsString(item) || item->valuestring == nullptr) {
      fail(errors::kInvalidField, name, "must be a string");
      return false;
    }
    std::string value(item->valuestring);
    if (value.size() > kMaxStringBytes) {
      fail(errors::kInvalidField, name, "is longer than 256 bytes");
      return false;
    }
    if (required && value.empty()) {
      fail(errors::kInvalidField, name, "must not be empty");
      return false;
    }
    *out = std::move(value);
    return true;
  }

  bool readInt(const char* name, int64_t min, int64_t max, int64_t* out, bool required) {
    if (error_) return false;
    const cJSON* item = cJSON_GetObjectItemCaseSensitive(object_, name);
    if (item == nullptr || cJSON_IsNull(item)) {
      if (required) fail(errors::kMissingField, name, "is required");
      return false;
    }
    if (!json::isIntegerInRange(item, min, max)) {
      fail(errors::kInvalidField, name,
           "must be an integer in [" + std::to_string(min) + ", " + std::to_string(max) + "]");
      return false;
    }
    *out = static_cast<int64_t>(item->valuedouble);
    return true;
  }

  void fail(const char* code, const char* name, const std::string& what) {
    error_ = decodeError(code, name, std::string("field '") + name + "' " + what);
  }

  const cJSON* object_;
  std::optional<DecodeError> error_;
};

// Parses `body` into an object and checks its version.
Result<JsonPtr, DecodeError> parseVersionedObject(std::string_view body) {
  if (body.size() > kMaxBodyBytes) {
    return decodeError(errors::kBodyTooLarge, "",
                       "body is larger than " + std::to_string(kMaxBodyBytes) + " bytes");
  }
  JsonPtr root = json::parse(body);
  if (!root) return decodeError(errors::kMalformedJson, "", "body is not valid JSON");
  if (!cJSON_IsObject(root.get())) {
    return decodeError(errors::kMalformedJson, "", "body must be a JSON object");
  }
  const cJSON* v = cJSON_GetObjectItemCaseSensitive(root.get(), "v");
  if (v == nullptr || cJSON_IsNull(v)) {
    return decodeError(errors::kMissingField, "v", "field 'v' is required");
  }
  if (!json::isIntegerInRange(v, std::numeric_limits<int32_t>::min(),
                              std::numeric_limits<int32_t>::max())) {
    return decodeError(errors::kInvalidField, "v", "field 'v' must be an integer");
  }
  if (static_cast<int>(v->valuedouble) != kVersion) {
    return decodeError(errors::kUnsupportedVersion, "v",
                       "protocol version " + std::to_string(static_cast<int64_t>(v->valuedouble)) +
                           " is not supported; this side speaks version " +
                           std::to_string(kVersion));
  }
  return root;
}

JsonPtr newVersionedObject() {
  JsonPtr root(cJSON_CreateObject());
  cJSON_AddNumberToObject(root.get(), "v", kVersion);
  return root;
}

void addInt(cJSON* obj, const char* name, int64_t value) { json::addInteger(obj, name, value); }

constexpr int64_t kMaxInt = json::kMaxExactInteger;
// Interval bounds the protocol accepts on the wire: 1 s to 1 day.
constexpr int64_t kMinIntervalS = 1;
constexpr int64_t kMaxIntervalS = 86'400;

}  // namespace

std::string encode(const EnrollRequest& m) {
  JsonPtr root = newVersionedObject();
  cJSON_AddStringToObject(root.get(), "enroll_token", m.enroll_token.c_str());
  cJSON_AddStringToObject(root.get(), "hostname", m.facts.hostname.c_str());
  cJSON_AddStringToObject(root.get(), "os_name", m.facts.os_name.c_str());
  cJSON_AddStringToObject(root.get(), "os_version", m.facts.os_version.c_str());
  cJSON_AddStringToObject(root.get(), "arch", m.facts.arch.c_str());
  cJSON_AddStringToObject(root.get(), "agent_version", m.facts.agent_version.c_str());
  return json::print(root.get());
}

std::string encode(const EnrollResponse& m) {
  JsonPtr root = newVersionedObject();
  cJSON_AddStringToObject(root.get(), "agent_id", m.agent_id.c_str());
  cJSON_AddStringToObject(root.get(), "secret", m.secret.c_str());
  addInt(root.get(), "heartbeat_interval_s", m.heartbeat_interval_s);
  addInt(root.get(), "server_time_ms", m.server_time_ms);
  return json::print(root.get());
}

std::string encode(const Heartbeat& m) {
  JsonPtr root = newVersionedObject();
  cJSON_AddStringToObject(root.get(), "agent_id", m.agent_id.c_str());
  addInt(root.get(), "seq", static_cast<int64_t>(m.seq));
  cJSON_AddStringToObject(root.get(), "boot_id", m.boot_id.c_str());
  addInt(root.get(), "uptime_s", static_cast<int64_t>(m.uptime_s));
  cJSON_AddStringToObject(root.get(), "agent_version", m.agent_version.c_str());
  addInt(root.get(), "sent_at_ms", m.sent_at_ms);
  if (m.interval_s) addInt(root.get(), "interval_s", *m.interval_s);
  if (m.hostname) cJSON_AddStringToObject(root.get(), "hostname", m.hostname->c_str());
  return json::print(root.get());
}

std::string encode(const HeartbeatResponse& m) {
  JsonPtr root = newVersionedObject();
  addInt(root.get(), "next_interval_s", m.next_interval_s);
  addInt(root.get(), "server_time_ms", m.server_time_ms);
  return json::print(root.get());
}

std::string encode(const ErrorBody& m) {
  JsonPtr root = newVersionedObject();
  cJSON_AddStringToObject(root.get(), "error", m.error.c_str());
  cJSON_AddStringToObject(root.get(), "message", m.message.c_str());
  if (m.server_time_ms) addInt(root.get(), "server_time_ms", *m.server_time_ms);
  return json::print(root.get());
}

Result<EnrollRequest, DecodeError> decodeEnrollRequest(std::string_view body) {
  auto root = parseVersionedObject(body);
  if (!root.ok()) return root.error();
  EnrollRequest m;
  FieldReader r(root.value().get());
  r.requireString("enroll_token", &m.enroll_token);
  r.requireString("hostname", &m.facts.hostname);
  r.optionalString("os_name", &m.facts.os_name);
  r.optionalString("os_version", &m.facts.os_version);
  r.optionalString("arch", &m.facts.arch);
  r.requireString("agent_version", &m.facts.agent_version);
  if (!r.ok()) return r.error();
  return m;
}

Result<EnrollResponse, DecodeError> decodeEnrollResponse(std::string_view body) {
  auto root = parseVersionedObject(body);
  if (!root.ok()) return root.error();
  EnrollResponse m;
  FieldReader r(root.value().get());
  r.requireString("agent_id", &m.agent_id);
  r.requireString("secret", &m.secret);
  r.requireInt("heartbeat_interval_s", kMinIntervalS, kMaxIntervalS, &m.heartbeat_interval_s);
  r.requireInt("server_time_ms", 0, kMaxInt, &m.server_time_ms);
  if (!r.ok()) return r.error();
  return m;
}

Result<Heartbeat, DecodeError> decodeHeartbeat(std::string_view body) {
  auto root = parseVersionedObject(body);
  if (!root.ok()) return root.error();
  Heartbeat m;
  FieldReader r(root.value().get());
  r.requireString("agent_id", &m.agent_id);
  r.requireUint("seq", 1, &m.seq);
  r.requireString("boot_id", &m.boot_id);
  r.requireUint("uptime_s", 0, &m.uptime_s);
  r.requireString("agent_version", &m.agent_version);
  r.requireInt("sent_at_ms", 0, kMaxInt, &m.sent_at_ms);
  r.optionalInt("interval_s", kMinIntervalS, kMaxIntervalS, &m.interval_s);
  r.optionalString("hostname", &m.hostname);
  if (!r.ok()) return r.error();
  return m;
}

Result<HeartbeatResponse, DecodeError> decodeHeartbeatResponse(std::string_view body) {
  auto root = parseVersionedObject(body);
  if (!root.ok()) return root.error();
  HeartbeatResponse m;
  FieldReader r(root.value().get());
  r.requireInt("next_interval_s", kMinIntervalS, kMaxIntervalS, &m.next_interval_s);
  r.requireInt("server_time_ms", 0, kMaxInt, &m.server_time_ms);
  if (!r.ok()) return r.error();
  return m;
}

Result<ErrorBody, DecodeError> decodeErrorBody(std::string_view body) {
  auto root = parseVersionedObject(body);
  if (!root.ok()) return root.error();
  ErrorBody m;
  FieldReader r(root.value().get());
  r.requireString("error", &m.error);
  r.optionalString("message", &m.message);
  r.optionalInt("server_time_ms", 0, kMaxInt, &m.server_time_ms);
  if (!r.ok()) return r.error();
  return m;
}

std::string signingInput(std::string_view method, std::string_view path, int64_t timestamp_ms,
                         std::string_view body) {
  std::string input;
  std::string ts = std::to_string(timestamp_ms);
  input.reserve(method.size() + path.size() + ts.size() + body.size() + 3);
  input.append(method).append("\n").append(path).append("\n").append(ts).append("\n");
  input.append(body);
  return input;
}

Result<std::string> sign(std::string_view secret, std::string_view method, std::string_view path,
                         int64_t timestamp_ms, std::string_view body) {
  auto mac = crypto::hmacSha256(secret, signingInput(method, path, timestamp_ms, body));
  if (!mac.ok()) return mac.error();
  return std::string(kSignaturePrefix) + crypto::toHex(mac.value());
}

bool verifySignature(std::string_view secret, std::string_view method, std::string_view path,
                     int64_t timestamp_ms, std::string_view body,
                     std::string_view signature_header) {
  auto expected = sign(secret, method, path, timestamp_ms, body);
  if (!expected.ok()) return false;
  return crypto::constantTimeEquals(expected.value(), signature_header);
}

std::optional<int64_t> parseTimestampHeader(std::string_view value) {
  if (value.empty() || value.size() > 15) return std::nullopt;
  int64_t out = 0;
  for (char c : value) {
    if (c < '0' || c > '9') return std::nullopt;
    out = out * 10 + (c - '0');
  }
  return out;
}

}  // namespace vigil::protocol
