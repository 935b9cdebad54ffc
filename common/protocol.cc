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

  void optionalBool(const char* name, bool* out) {
    if (error_) return;
    const cJSON* item = cJSON_GetObjectItemCaseSensitive(object_, name);
    if (item == nullptr || cJSON_IsNull(item)) return;
    if (!cJSON_IsBool(item)) return fail(errors::kInvalidField, name, "must be true or false");
    *out = cJSON_IsTrue(item) != 0;
  }

  // An optional array of at most `max_items` elements; each element is handed to `read`,
  // which returns false (after calling failElement) to refuse it. nullptr if absent.
  template <typename ReadElement>
  bool optionalArray(const char* name, size_t max_items, ReadElement read) {
    if (error_) return false;
    const cJSON* item = cJSON_GetObjectItemCaseSensitive(object_, name);
    if (item == nullptr || cJSON_IsNull(item)) return false;
    if (!cJSON_IsArray(item)) {
      fail(errors::kInvalidField, name, "must be an array");
      return false;
    }
    if (static_cast<size_t>(cJSON_GetArraySize(item)) > max_items) {
      fail(errors::kInvalidField, name, "has more than " + std::to_string(max_items) + " elements");
      return false;
    }
    for (const cJSON* element = item->child; element != nullptr; element = element->next) {
      if (!read(element)) {
        fail(errors::kInvalidField, name, "has an invalid element");
        return false;
      }
    }
    return true;
  }

  // An optional nested object read by `read` (a FieldReader over it); nullptr if absent.
  template <typename ReadObject>
  bool optionalObject(const char* name, ReadObject read) {
    if (error_) return false;
    const cJSON* item = cJSON_GetObjectItemCaseSensitive(object_, name);
    if (item == nullptr || cJSON_IsNull(item)) return false;
    if (!cJSON_IsObject(item)) {
      fail(errors::kInvalidField, name, "must be an object");
      return false;
    }
    FieldReader inner(item);
    read(inner);
    if (!inner.ok()) {
      DecodeError e = inner.error();
      e.field = std::string(name) + "." + e.field;
      e.message = "in '" + std::string(name) + "': " + e.message;
      error_ = std::move(e);
      return false;
    }
    return true;
  }

  // Refuses a present string field whose value `valid` rejects.
  void checkString(const char* name, const std::optional<std::string>& value,
                   bool (*valid)(std::string_view), const char* what) {
    if (error_ || !value || valid(*value)) return;
    fail(errors::kInvalidField, name, what);
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
  if (std::optional<std::string> fault = json::textFault(body)) {
    return decodeError(errors::kInvalidText, "", "body " + *fault);
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

bool isPeerKey(std::string_view s) { return crypto::isLowerHex(s, 64); }
bool isKeyId(std::string_view s) { return crypto::isLowerHex(s, 16); }

// An element that is a JSON string of at most kMaxStringBytes bytes.
bool readStringElement(const cJSON* element, std::string* out) {
  if (!cJSON_IsString(element) || element->valuestring == nullptr) return false;
  std::string value(element->valuestring);
  if (value.empty() || value.size() > kMaxStringBytes) return false;
  *out = std::move(value);
  return true;
}

// An element that is an object read by `read` without errors.
template <typename T, typename Read>
bool readObjectElement(const cJSON* element, Read read, T* out) {
  if (!cJSON_IsObject(element)) return false;
  FieldReader r(element);
  read(r, out);
  return r.ok();
}

void encodeChannels(cJSON* root, const ChannelOffer& c) {
  if (c.beacon_port) addInt(root, "beacon_port", *c.beacon_port);
  if (c.beacon_interval_s) addInt(root, "beacon_interval_s", *c.beacon_interval_s);
  if (c.peer_key) cJSON_AddStringToObject(root, "peer_key", c.peer_key->c_str());
  if (c.peer_key_id) cJSON_AddStringToObject(root, "peer_key_id", c.peer_key_id->c_str());
}

void decodeChannels(FieldReader& r, ChannelOffer* c) {
  r.optionalInt("beacon_port", 1, 65535, &c->beacon_port);
  r.optionalInt("beacon_interval_s", kMinIntervalS, kMaxIntervalS, &c->beacon_interval_s);
  r.optionalString("peer_key", &c->peer_key);
  r.optionalString("peer_key_id", &c->peer_key_id);
  r.checkString("peer_key", c->peer_key, isPeerKey, "must be 64 lower-case hex digits");
  r.checkString("peer_key_id", c->peer_key_id, isKeyId, "must be 16 lower-case hex digits");
}

}  // namespace

bool isKnownOutageCause(std::string_view cause) {
  for (const char* known :
       {causes::kNoNetwork, causes::kDns, causes::kConnect, causes::kTimeout, causes::kTls,
        causes::kHttpError, causes::kOverloaded, causes::kBadAnswer, causes::kOther}) {
    if (cause == known) return true;
  }
  return false;
}

bool isKnownShutdownReason(std::string_view reason) {
  for (const char* known :
       {shutdown_reasons::kServiceStop, shutdown_reasons::kSystemShutdown, shutdown_reasons::kSleep,
        shutdown_reasons::kLogoff, shutdown_reasons::kUninstall}) {
    if (reason == known) return true;
  }
  return false;
}

bool isKnownBeaconState(std::string_view state) {
  return state == beacon_states::kAcked || state == beacon_states::kUnanswered ||
         state == beacon_states::kPaused;
}

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
  encodeChannels(root.get(), m.channels);
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
  if (m.os_name) cJSON_AddStringToObject(root.get(), "os_name", m.os_name->c_str());
  if (m.os_version) cJSON_AddStringToObject(root.get(), "os_version", m.os_version->c_str());
  if (m.config_hash) cJSON_AddStringToObject(root.get(), "config_hash", m.config_hash->c_str());
  if (m.net) {
    cJSON* net = cJSON_AddObjectToObject(root.get(), "net");
    cJSON_AddBoolToObject(net, "default_route", m.net->default_route);
    cJSON* addresses = cJSON_AddArrayToObject(net, "addresses");
    for (const std::string& a : m.net->addresses) {
      cJSON_AddItemToArray(addresses, cJSON_CreateString(a.c_str()));
    }
  }
  if (!m.outages.empty()) {
    cJSON* outages = cJSON_AddArrayToObject(root.get(), "outages");
    for (const OutageEntry& o : m.outages) {
      cJSON* entry = cJSON_CreateObject();
      addInt(entry, "from_ms", o.from_ms);
      addInt(entry, "to_ms", o.to_ms);
      cJSON_AddStringToObject(entry, "cause", o.cause.c_str());
      cJSON_AddItemToArray(outages, entry);
    }
  }
  if (m.shutdown) cJSON_AddStringToObject(root.get(), "shutdown", m.shutdown->c_str());
  if (!m.peers.empty()) {
    cJSON* peers = cJSON_AddArrayToObject(root.get(), "peers");
    for (const PeerSighting& p : m.peers) {
      cJSON* entry = cJSON_CreateObject();
      cJSON_AddStringToObject(entry, "agent_id", p.agent_id.c_str());
      addInt(entry, "heard_at_ms", p.heard_at_ms);
      cJSON_AddItemToArray(peers, entry);
    }
  }
  if (m.peer_key_id) cJSON_AddStringToObject(root.get(), "peer_key_id", m.peer_key_id->c_str());
  if (m.beacon_state) {
    cJSON_AddStringToObject(root.get(), "beacon_state", m.beacon_state->c_str());
  }
  return json::print(root.get());
}

std::string encode(const HeartbeatResponse& m) {
  JsonPtr root = newVersionedObject();
  addInt(root.get(), "next_interval_s", m.next_interval_s);
  addInt(root.get(), "server_time_ms", m.server_time_ms);
  if (m.verify_interval_s && m.verify_for_s) {
    addInt(root.get(), "verify_interval_s", *m.verify_interval_s);
    addInt(root.get(), "verify_for_s", *m.verify_for_s);
  }
  encodeChannels(root.get(), m.channels);
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
  decodeChannels(r, &m.channels);
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
  r.optionalString("os_name", &m.os_name);
  r.optionalString("os_version", &m.os_version);
  r.optionalString("config_hash", &m.config_hash);
  r.checkString("config_hash", m.config_hash, isKeyId, "must be 16 lower-case hex digits");
  NetworkSelfCheck net;
  if (r.optionalObject("net", [&net](FieldReader& n) {
        n.optionalBool("default_route", &net.default_route);
        n.optionalArray("addresses", kMaxAddresses, [&net](const cJSON* e) {
          std::string a;
          if (!readStringElement(e, &a)) return false;
          net.addresses.push_back(std::move(a));
          return true;
        });
      })) {
    m.net = std::move(net);
  }
  r.optionalArray("outages", kMaxOutageEntries, [&m](const cJSON* e) {
    OutageEntry o;
    auto read = [](FieldReader& f, OutageEntry* out) {
      f.requireInt("from_ms", 0, kMaxInt, &out->from_ms);
      f.requireInt("to_ms", 0, kMaxInt, &out->to_ms);
      f.requireString("cause", &out->cause);
    };
    if (!readObjectElement(e, read, &o)) return false;
    if (o.to_ms < o.from_ms || !isKnownOutageCause(o.cause)) return false;
    m.outages.push_back(std::move(o));
    return true;
  });
  r.optionalString("shutdown", &m.shutdown);
  r.checkString("shutdown", m.shutdown, isKnownShutdownReason,
                "must be service_stop, system_shutdown, sleep, logoff or uninstall");
  r.optionalArray("peers", kMaxPeerSightings, [&m](const cJSON* e) {
    PeerSighting p;
    auto read = [](FieldReader& f, PeerSighting* out) {
      f.requireString("agent_id", &out->agent_id);
      f.requireInt("heard_at_ms", 0, kMaxInt, &out->heard_at_ms);
    };
    if (!readObjectElement(e, read, &p)) return false;
    m.peers.push_back(std::move(p));
    return true;
  });
  r.optionalString("peer_key_id", &m.peer_key_id);
  r.checkString("peer_key_id", m.peer_key_id, isKeyId, "must be 16 lower-case hex digits");
  r.optionalString("beacon_state", &m.beacon_state);
  r.checkString("beacon_state", m.beacon_state, isKnownBeaconState,
                "must be acked, unanswered or paused");
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
  r.optionalInt("verify_interval_s", kMinIntervalS, kMaxIntervalS, &m.verify_interval_s);
  r.optionalInt("verify_for_s", 1, kMaxVerifyForS, &m.verify_for_s);
  if (!r.ok()) return r.error();  // a field out of range is named as such, not as unpaired
  if (m.verify_interval_s.has_value() != m.verify_for_s.has_value()) {
    return decodeError(errors::kInvalidField, "verify_for_s",
                       "verify_interval_s and verify_for_s come together");
  }
  decodeChannels(r, &m.channels);
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
