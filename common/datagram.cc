#include "common/datagram.h"

#include <array>
#include <charconv>

#include "common/crypto.h"

namespace vigil::datagram {
namespace {

constexpr char kBeaconTag[] = "VB1";
constexpr char kAckTag[] = "VA1";
constexpr char kPeerTag[] = "VP1";
constexpr size_t kSignatureHexLength = 64;
constexpr size_t kKeyIdLength = 16;
// Unix ms fit in 15 digits until the year 33658.
constexpr size_t kMaxTimestampDigits = 15;
constexpr int64_t kMaxNextBeaconS = 86'400;

// The signed fields joined with "\n".
std::string signingInput(std::initializer_list<std::string_view> fields) {
  std::string out;
  for (std::string_view f : fields) {
    if (!out.empty()) out += '\n';
    out.append(f);
  }
  return out;
}

std::string signHex(std::string_view key, const std::string& input) {
  auto mac = crypto::hmacSha256(key, input);
  return mac.ok() ? crypto::toHex(mac.value()) : std::string();
}

std::string join(std::initializer_list<std::string_view> fields) {
  std::string out;
  for (std::string_view f : fields) {
    if (!out.empty()) out += ' ';
    out.append(f);
  }
  return out;
}

// The fields of a datagram, split on single spaces.
constexpr size_t kMaxFields = 5;
using Fields = std::array<std::string_view, kMaxFields>;

// Splits on single spaces; nullopt unless there are exactly `count` non-empty fields.
std::optional<Fields> splitFields(std::string_view bytes, size_t count) {
  if (bytes.empty() || bytes.size() > kMaxDatagramBytes || count > kMaxFields) return std::nullopt;
  Fields fields;
  size_t found = 0;
  size_t start = 0;
  while (start <= bytes.size()) {
    const size_t space = bytes.find(' ', start);
    const size_t end = space == std::string_view::npos ? bytes.size() : space;
    if (end == start || found == count) return std::nullopt;
    fields[found++] = bytes.substr(start, end - start);
    if (space == std::string_view::npos) break;
    start = space + 1;
  }
  if (found != count) return std::nullopt;
  return fields;
}

// Agent ids are the collector's "ag_" + hex, but any [A-Za-z0-9_-] up to 64 bytes is accepted.
bool isAgentId(std::string_view s) {
  if (s.empty() || s.size() > kMaxAgentIdBytes) return false;
  for (char c : s) {
    const bool ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                    c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

// Canonical decimal only: no sign, no leading zero (but "0" itself). The signature covers the
// number's canonical text, so a second spelling of the same value ("0042") would verify too:
// every signed datagram has exactly one accepted encoding.
std::optional<int64_t> parseDecimal(std::string_view s, int64_t max) {
  if (s.empty() || s.size() > kMaxTimestampDigits) return std::nullopt;
  if (s.size() > 1 && s[0] == '0') return std::nullopt;
  int64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + (c - '0');
  }
  if (v > max) return std::nullopt;
  return v;
}

constexpr int64_t kMaxTimestamp = 999'999'999'999'999;

bool checkSignature(std::string_view key, const std::string& input, std::string_view signature) {
  const std::string expected = signHex(key, input);
  return !expected.empty() && crypto::constantTimeEquals(expected, signature);
}

// An integer's canonical decimal text (as std::to_string writes it), without allocating.
class DecimalText {
 public:
  std::string_view of(int64_t v) {
    const auto result = std::to_chars(digits_.data(), digits_.data() + digits_.size(), v);
    size_ = static_cast<size_t>(result.ptr - digits_.data());
    return view();
  }
  std::string_view view() const { return std::string_view(digits_.data(), size_); }

 private:
  std::array<char, 24> digits_{};
  size_t size_ = 0;
};

// Text appended to a fixed buffer; remembers when something did not fit.
class FixedWriter {
 public:
  FixedWriter(char* data, size_t capacity) : data_(data), capacity_(capacity) {}

  void put(std::string_view s) {
    if (!fits(s.size())) return;
    s.copy(data_ + size_, s.size());
    size_ += s.size();
  }
  void put(char c) { put(std::string_view(&c, 1)); }
  // `fields` joined with `separator`.
  void putJoined(std::initializer_list<std::string_view> fields, char separator) {
    bool first = true;
    for (std::string_view f : fields) {
      if (!first) put(separator);
      put(f);
      first = false;
    }
  }

  bool ok() const { return !overflowed_; }
  std::string_view view() const { return std::string_view(data_, size_); }

 private:
  bool fits(size_t n) {
    if (overflowed_ || n > capacity_ - size_) overflowed_ = true;
    return !overflowed_;
  }

  char* data_;
  size_t capacity_;
  size_t size_ = 0;
  bool overflowed_ = false;
};

// The hex HMAC of `fields` joined with "\n", into `hex`; false if signing fails or the fields
// are longer than a datagram.
bool signFields(std::string_view key, std::initializer_list<std::string_view> fields,
                std::array<char, 64>* hex) {
  DatagramBuffer input;
  FixedWriter writer(input.data(), input.size());
  writer.putJoined(fields, '\n');
  if (!writer.ok()) return false;
  auto digest = crypto::hmacSha256(key, writer.view());
  if (!digest.ok()) return false;
  crypto::toHex(digest.value(), hex);
  return true;
}

}  // namespace

std::string encodeBeacon(std::string_view agent_id, int64_t ts_ms, std::string_view key) {
  const std::string ts = std::to_string(ts_ms);
  const std::string sig = signHex(key, signingInput({kBeaconTag, agent_id, ts}));
  if (sig.empty()) return {};
  return join({kBeaconTag, agent_id, ts, sig});
}

std::string encodeBeaconAck(std::string_view agent_id, int64_t ts_ms, int64_t next_beacon_s,
                            std::string_view key) {
  const std::string ts = std::to_string(ts_ms);
  const std::string next = std::to_string(next_beacon_s);
  const std::string sig = signHex(key, signingInput({kAckTag, agent_id, ts, next}));
  if (sig.empty()) return {};
  return join({kAckTag, agent_id, ts, next, sig});
}

std::string encodePeerAnnouncement(std::string_view key_id, std::string_view agent_id,
                                   int64_t ts_ms, std::string_view key) {
  const std::string ts = std::to_string(ts_ms);
  const std::string sig = signHex(key, signingInput({kPeerTag, key_id, agent_id, ts}));
  if (sig.empty()) return {};
  return join({kPeerTag, key_id, agent_id, ts, sig});
}

std::optional<BeaconView> parseBeaconView(std::string_view bytes) {
  auto f = splitFields(bytes, 4);
  if (!f || (*f)[0] != kBeaconTag || !isAgentId((*f)[1])) return std::nullopt;
  auto ts = parseDecimal((*f)[2], kMaxTimestamp);
  if (!ts || !crypto::isLowerHex((*f)[3], kSignatureHexLength)) return std::nullopt;
  return BeaconView{(*f)[1], (*f)[2], *ts, (*f)[3]};
}

std::optional<Beacon> parseBeacon(std::string_view bytes) {
  auto view = parseBeaconView(bytes);
  if (!view) return std::nullopt;
  return Beacon{std::string(view->agent_id), view->ts_ms, std::string(view->signature)};
}

std::optional<BeaconAck> parseBeaconAck(std::string_view bytes) {
  auto f = splitFields(bytes, 5);
  if (!f || (*f)[0] != kAckTag || !isAgentId((*f)[1])) return std::nullopt;
  auto ts = parseDecimal((*f)[2], kMaxTimestamp);
  auto next = parseDecimal((*f)[3], kMaxNextBeaconS);
  if (!ts || !next || *next < 1 || !crypto::isLowerHex((*f)[4], kSignatureHexLength)) {
    return std::nullopt;
  }
  return BeaconAck{std::string((*f)[1]), *ts, *next, std::string((*f)[4])};
}

std::optional<PeerAnnouncement> parsePeerAnnouncement(std::string_view bytes) {
  auto f = splitFields(bytes, 5);
  if (!f || (*f)[0] != kPeerTag || !crypto::isLowerHex((*f)[1], kKeyIdLength) ||
      !isAgentId((*f)[2])) {
    return std::nullopt;
  }
  auto ts = parseDecimal((*f)[3], kMaxTimestamp);
  if (!ts || !crypto::isLowerHex((*f)[4], kSignatureHexLength)) return std::nullopt;
  return PeerAnnouncement{std::string((*f)[1]), std::string((*f)[2]), *ts, std::string((*f)[4])};
}

bool verify(const Beacon& m, std::string_view key) {
  return checkSignature(key, signingInput({kBeaconTag, m.agent_id, std::to_string(m.ts_ms)}),
                        m.signature);
}

bool verify(const BeaconAck& m, std::string_view key) {
  return checkSignature(
      key,
      signingInput({kAckTag, m.agent_id, std::to_string(m.ts_ms), std::to_string(m.next_beacon_s)}),
      m.signature);
}

bool verify(const PeerAnnouncement& m, std::string_view key) {
  return checkSignature(
      key, signingInput({kPeerTag, m.key_id, m.agent_id, std::to_string(m.ts_ms)}), m.signature);
}

bool verify(const BeaconView& m, std::string_view key) {
  std::array<char, kSignatureHexLength> expected{};
  return signFields(key, {kBeaconTag, m.agent_id, m.ts_text}, &expected) &&
         crypto::constantTimeEquals(std::string_view(expected.data(), expected.size()),
                                    m.signature);
}

size_t encodeBeaconAck(std::string_view agent_id, int64_t ts_ms, int64_t next_beacon_s,
                       std::string_view key, DatagramBuffer* out) {
  if (!isAgentId(agent_id)) return 0;
  DecimalText ts;
  DecimalText next;
  std::array<char, kSignatureHexLength> sig{};
  if (!signFields(key, {kAckTag, agent_id, ts.of(ts_ms), next.of(next_beacon_s)}, &sig)) {
    return 0;
  }
  FixedWriter writer(out->data(), out->size());
  writer.putJoined({kAckTag, agent_id, ts.view(), next.view(), {sig.data(), sig.size()}}, ' ');
  return writer.ok() ? writer.view().size() : 0;
}

std::string peerKeyId(std::string_view peer_key) {
  auto digest = crypto::sha256(peer_key);
  if (!digest.ok()) return {};
  return crypto::toHex(digest.value()).substr(0, kKeyIdLength);
}

}  // namespace vigil::datagram
