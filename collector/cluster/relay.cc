#include "collector/cluster/relay.h"

#include <algorithm>
#include <utility>

#include "common/crypto.h"
#include "common/json.h"

namespace vigil::collector {
namespace {

using json::JsonPtr;

constexpr int64_t kMaxAgeMs = 3'600'000;        // evidence older than an hour is no evidence
constexpr int64_t kMaxIntervalMs = 86'400'000;  // a day
constexpr size_t kMaxIdLength = 128;
constexpr size_t kMaxNodeLength = 64;
constexpr size_t kMaxListLength = 64;  // outages or witnesses of one heartbeat
constexpr char kSignaturePrefix[] = "v1=";

const char* noticeKindName(RelayedNotice::Kind kind) {
  switch (kind) {
    case RelayedNotice::Kind::kRetired:
      return "retired";
    case RelayedNotice::Kind::kClassChanged:
      return "class_changed";
  }
  return "retired";
}

std::optional<RelayedNotice::Kind> noticeKindFrom(std::string_view name) {
  if (name == "retired") return RelayedNotice::Kind::kRetired;
  if (name == "class_changed") return RelayedNotice::Kind::kClassChanged;
  return std::nullopt;
}

// An array element holding an integer. cJSON prints numbers exactly below 10^15: unix
// milliseconds (until the year 33658), ages and shard numbers all are.
cJSON* integerItem(int64_t value) { return cJSON_CreateNumber(static_cast<double>(value)); }

cJSON* pair(int64_t a, int64_t b) {
  cJSON* array = cJSON_CreateArray();
  cJSON_AddItemToArray(array, integerItem(a));
  cJSON_AddItemToArray(array, integerItem(b));
  return array;
}

// Reads the members of one JSON object, recording the first fault.
class Reader {
 public:
  explicit Reader(std::string where) : where_(std::move(where)) {}

  std::string text(const cJSON* object, const char* name, size_t max_length) {
    const cJSON* item = cJSON_GetObjectItemCaseSensitive(object, name);
    if (!cJSON_IsString(item) || item->valuestring == nullptr) {
      fail(std::string("'") + name + "' must be a string");
      return {};
    }
    std::string value = item->valuestring;
    if (value.empty() || value.size() > max_length) {
      fail(std::string("'") + name + "' must have 1 to " + std::to_string(max_length) +
           " characters");
    }
    return value;
  }
  int64_t integer(const cJSON* object, const char* name, int64_t min, int64_t max) {
    const cJSON* item = cJSON_GetObjectItemCaseSensitive(object, name);
    return integerOf(item, name, min, max);
  }
  int64_t integerOf(const cJSON* item, const char* name, int64_t min, int64_t max) {
    if (!json::isIntegerInRange(item, min, max)) {
      fail(std::string("'") + name + "' must be an integer in [" + std::to_string(min) + ", " +
           std::to_string(max) + "]");
      return 0;
    }
    return static_cast<int64_t>(item->valuedouble);
  }
  bool flag(const cJSON* object, const char* name) {
    const cJSON* item = cJSON_GetObjectItemCaseSensitive(object, name);
    if (item == nullptr) return false;
    if (!cJSON_IsBool(item)) fail(std::string("'") + name + "' must be true or false");
    return cJSON_IsTrue(item);
  }
  // The array member `name` (absent: empty), at most `max` long; null after a fault.
  const cJSON* array(const cJSON* object, const char* name, size_t max) {
    const cJSON* item = cJSON_GetObjectItemCaseSensitive(object, name);
    if (item == nullptr) return nullptr;
    if (!cJSON_IsArray(item) || static_cast<size_t>(cJSON_GetArraySize(item)) > max) {
      fail(std::string("'") + name + "' must be an array of at most " + std::to_string(max));
      return nullptr;
    }
    return item;
  }
  void fail(const std::string& what) {
    if (!fault_) fault_ = where_ + ": " + what;
  }
  const std::optional<std::string>& fault() const { return fault_; }

 private:
  std::string where_;
  std::optional<std::string> fault_;
};

}  // namespace

std::string encodeRelayBatch(const RelayBatch& batch) {
  JsonPtr root(cJSON_CreateObject());
  json::addText(root.get(), "node", batch.from_node);
  json::addText(root.get(), "instance", batch.from_instance);
  json::addInteger(root.get(), "number", static_cast<int64_t>(batch.number));
  json::addInteger(root.get(), "sent_at_ms", batch.sent_at_ms);
  cJSON* heartbeats = cJSON_AddArrayToObject(root.get(), "heartbeats");
  for (const RelayedHeartbeat& h : batch.heartbeats) {
    cJSON* item = cJSON_CreateObject();
    json::addText(item, "agent", h.agent_id);
    if (h.seq > 0) json::addInteger(item, "seq", h.seq);
    json::addInteger(item, "age_ms", h.age_ms);
    json::addInteger(item, "interval_ms", h.interval_ms);
    if (h.beacon_fallback) cJSON_AddTrueToObject(item, "fallback");
    if (h.shutdown) cJSON_AddTrueToObject(item, "shutdown");
    if (!h.outages.empty()) {
      cJSON* outages = cJSON_AddArrayToObject(item, "outages");
      for (const auto& [from, to] : h.outages) cJSON_AddItemToArray(outages, pair(from, to));
    }
    if (!h.witnesses.empty()) {
      cJSON* witnesses = cJSON_AddArrayToObject(item, "witnesses");
      for (const RelayedWitness& w : h.witnesses) {
        cJSON* witness = cJSON_CreateObject();
        json::addText(witness, "agent", w.agent_id);
        json::addInteger(witness, "age_ms", w.age_ms);
        cJSON_AddItemToArray(witnesses, witness);
      }
    }
    cJSON_AddItemToArray(heartbeats, item);
  }
  cJSON* beacons = cJSON_AddArrayToObject(root.get(), "beacons");
  for (const RelayedBeacon& b : batch.beacons) {
    cJSON* item = cJSON_CreateObject();
    json::addText(item, "agent", b.agent_id);
    json::addInteger(item, "age_ms", b.age_ms);
    json::addInteger(item, "interval_ms", b.interval_ms);
    cJSON_AddItemToArray(beacons, item);
  }
  cJSON* notices = cJSON_AddArrayToObject(root.get(), "notices");
  for (const RelayedNotice& n : batch.notices) {
    cJSON* item = cJSON_CreateObject();
    json::addText(item, "agent", n.agent_id);
    json::addText(item, "kind", noticeKindName(n.kind));
    if (n.kind == RelayedNotice::Kind::kClassChanged) {
      json::addText(item, "class", n.agent_class);
    }
    cJSON_AddItemToArray(notices, item);
  }
  return json::print(root.get());
}

Result<RelayBatch> decodeRelayBatch(std::string_view body) {
  if (auto fault = json::textFault(body)) return Status::invalidArgument(*fault);
  JsonPtr root = json::parse(body);
  if (!cJSON_IsObject(root.get())) return Status::invalidArgument("not a JSON object");
  Reader r("relay batch");
  RelayBatch batch;
  batch.from_node = r.text(root.get(), "node", kMaxNodeLength);
  batch.from_instance = r.text(root.get(), "instance", kMaxNodeLength);
  batch.number = static_cast<uint64_t>(r.integer(root.get(), "number", 0, json::kMaxExactInteger));
  batch.sent_at_ms = r.integer(root.get(), "sent_at_ms", 0, json::kMaxExactInteger);
  const cJSON* heartbeats = r.array(root.get(), "heartbeats", kRelayMaxItems);
  const cJSON* beacons = r.array(root.get(), "beacons", kRelayMaxItems);
  const cJSON* notices = r.array(root.get(), "notices", kRelayMaxItems);
  const cJSON* item = nullptr;
  cJSON_ArrayForEach(item, heartbeats) {
    RelayedHeartbeat h;
    h.agent_id = r.text(item, "agent", kMaxIdLength);
    if (cJSON_HasObjectItem(item, "seq")) h.seq = r.integer(item, "seq", 1, json::kMaxExactInteger);
    h.age_ms = r.integer(item, "age_ms", 0, kMaxAgeMs);
    h.interval_ms = r.integer(item, "interval_ms", 1, kMaxIntervalMs);
    h.beacon_fallback = r.flag(item, "fallback");
    h.shutdown = r.flag(item, "shutdown");
    const cJSON* outage = nullptr;
    cJSON_ArrayForEach(outage, r.array(item, "outages", kMaxListLength)) {
      if (!cJSON_IsArray(outage) || cJSON_GetArraySize(outage) != 2) {
        r.fail("an outage must be [from_ms, to_ms]");
        break;
      }
      const int64_t from =
          r.integerOf(cJSON_GetArrayItem(outage, 0), "outage", 0, json::kMaxExactInteger);
      const int64_t to =
          r.integerOf(cJSON_GetArrayItem(outage, 1), "outage", 0, json::kMaxExactInteger);
      h.outages.emplace_back(from, to);
    }
    const cJSON* witness = nullptr;
    cJSON_ArrayForEach(witness, r.array(item, "witnesses", kMaxListLength)) {
      h.witnesses.push_back(RelayedWitness{r.text(witness, "agent", kMaxIdLength),
                                           r.integer(witness, "age_ms", 0, kMaxAgeMs)});
    }
    batch.heartbeats.push_back(std::move(h));
  }
  cJSON_ArrayForEach(item, beacons) {
    RelayedBeacon b;
    b.agent_id = r.text(item, "agent", kMaxIdLength);
    b.age_ms = r.integer(item, "age_ms", 0, kMaxAgeMs);
    b.interval_ms = r.integer(item, "interval_ms", 1, kMaxIntervalMs);
    batch.beacons.push_back(std::move(b));
  }
  cJSON_ArrayForEach(item, notices) {
    RelayedNotice n;
    n.agent_id = r.text(item, "agent", kMaxIdLength);
    const std::string kind = r.text(item, "kind", 32);
    if (auto parsed = noticeKindFrom(kind)) {
      n.kind = *parsed;
    } else {
      r.fail("unknown notice kind '" + kind + "'");
    }
    if (n.kind == RelayedNotice::Kind::kClassChanged) {
      n.agent_class = r.text(item, "class", 16);
      if (n.agent_class != "server" && n.agent_class != "workstation") {
        r.fail("'class' must be server or workstation");
      }
    }
    batch.notices.push_back(std::move(n));
  }
  if (r.fault()) return Status::invalidArgument(*r.fault());
  if (batch.items() > kRelayMaxItems) {
    return Status::invalidArgument("relay batch: more than " + std::to_string(kRelayMaxItems) +
                                   " items");
  }
  return batch;
}

std::string encodeRelayReply(const RelayReply& reply) {
  JsonPtr root(cJSON_CreateObject());
  cJSON* shards = cJSON_AddArrayToObject(root.get(), "not_owned");
  for (int shard : reply.not_owned) cJSON_AddItemToArray(shards, integerItem(shard));
  return json::print(root.get());
}

Result<RelayReply> decodeRelayReply(std::string_view body) {
  if (auto fault = json::textFault(body)) return Status::invalidArgument(*fault);
  JsonPtr root = json::parse(body);
  if (!cJSON_IsObject(root.get())) return Status::invalidArgument("not a JSON object");
  Reader r("relay reply");
  RelayReply reply;
  const cJSON* shard = nullptr;
  cJSON_ArrayForEach(shard, r.array(root.get(), "not_owned", 4096)) {
    reply.not_owned.push_back(static_cast<int>(r.integerOf(shard, "not_owned", 0, 65535)));
  }
  if (r.fault()) return Status::invalidArgument(*r.fault());
  return reply;
}

Result<std::string> relaySignature(std::string_view key, std::string_view body) {
  auto digest = crypto::hmacSha256(key, body);
  if (!digest.ok()) return digest.error();
  return std::string(kSignaturePrefix) + crypto::toHex(digest.value());
}

bool relaySignatureValid(std::string_view key, std::string_view body, std::string_view signature) {
  auto expected = relaySignature(key, body);
  return expected.ok() && crypto::constantTimeEquals(expected.value(), signature);
}

}  // namespace vigil::collector
