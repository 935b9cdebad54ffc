#include "collector/notify/outbound_policy.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cstddef>
#include <cstring>
#include <memory>
#include <system_error>
#include <thread>
#include <utility>

#include "common/mutex.h"

namespace vigil::collector {
namespace {

// ---- addresses ----

struct RefusedRange {
  IpNetwork network;
  const char* what;
};

// Ranges the collector does not connect to unless allowed explicitly. The first match names
// the address in logs.
const std::vector<RefusedRange>& refusedRanges() {
  static const std::vector<RefusedRange> kRanges = [] {
    const std::pair<const char*, const char*> table[] = {
        {"0.0.0.0/8", "unspecified (this network)"},
        {"10.0.0.0/8", "private"},
        {"100.64.0.0/10", "shared address space (CGNAT)"},
        {"127.0.0.0/8", "loopback"},
        {"169.254.0.0/16", "link-local"},
        {"172.16.0.0/12", "private"},
        {"192.0.0.0/24", "IETF protocol assignments"},
        {"192.168.0.0/16", "private"},
        {"198.18.0.0/15", "benchmarking"},
        {"224.0.0.0/4", "multicast"},
        {"240.0.0.0/4", "reserved or broadcast"},
        {"::/128", "unspecified"},
        {"::1/128", "loopback"},
        {"::/96", "IPv4-compatible IPv6 (deprecated)"},
        {"64:ff9b:1::/48", "local-use NAT64"},
        {"100::/64", "discard-only"},
        {"fc00::/7", "unique local (private)"},
        {"fe80::/10", "link-local"},
        {"fec0::/10", "site-local (deprecated)"},
        {"ff00::/8", "multicast"},
    };
    std::vector<RefusedRange> ranges;
    for (const auto& [cidr, what] : table) ranges.push_back({*IpNetwork::parse(cidr), what});
    return ranges;
  }();
  return kRanges;
}

std::optional<std::string> refusedRangeOf(const IpAddress& address) {
  for (const RefusedRange& r : refusedRanges()) {
    if (r.network.contains(address)) return std::string(r.what);
  }
  return std::nullopt;
}

// An IPv4 address an IPv6 address stands for, and how.
struct EmbeddedV4 {
  IpAddress address;
  const char* how;
};

std::optional<EmbeddedV4> embeddedV4(const IpAddress& a) {
  if (a.isV4()) return std::nullopt;
  static const IpNetwork kMapped = *IpNetwork::parse("::ffff:0:0/96");
  static const IpNetwork kNat64 = *IpNetwork::parse("64:ff9b::/96");
  static const IpNetwork kSixToFour = *IpNetwork::parse("2002::/16");
  const uint8_t* b = a.data();
  auto v4At = [&](size_t at) {
    return IpAddress::v4((uint32_t{b[at]} << 24) | (uint32_t{b[at + 1]} << 16) |
                         (uint32_t{b[at + 2]} << 8) | uint32_t{b[at + 3]});
  };
  if (kMapped.contains(a)) return EmbeddedV4{v4At(12), "IPv4-mapped IPv6"};
  if (kNat64.contains(a)) return EmbeddedV4{v4At(12), "NAT64"};
  if (kSixToFour.contains(a)) return EmbeddedV4{v4At(2), "6to4"};
  return std::nullopt;
}

// ---- the system resolver ----

Result<std::vector<IpAddress>> getAddresses(const std::string& host, bool numeric_only) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = numeric_only ? AI_NUMERICHOST : 0;
  addrinfo* found = nullptr;
  const int rc = ::getaddrinfo(host.c_str(), nullptr, &hints, &found);
  const std::unique_ptr<addrinfo, void (*)(addrinfo*)> owner(found, &::freeaddrinfo);
  if (rc == EAI_NONAME
#ifdef EAI_NODATA
      || rc == EAI_NODATA
#endif
  ) {
    return Status::notFound(::gai_strerror(rc));
  }
  if (rc == EAI_SYSTEM) return Status::unavailable(std::strerror(errno));
  if (rc != 0) return Status::unavailable(::gai_strerror(rc));
  std::vector<IpAddress> addresses;
  for (const addrinfo* ai = found; ai != nullptr; ai = ai->ai_next) {
    auto a = IpAddress::fromSockaddr(ai->ai_addr, ai->ai_addrlen);
    if (a && std::find(addresses.begin(), addresses.end(), *a) == addresses.end()) {
      addresses.push_back(*a);
    }
  }
  if (addresses.empty()) return Status::notFound("no IPv4 or IPv6 address");
  return addresses;
}

constexpr int kMaxLookupsRunning = 32;

std::atomic<int>& lookupsRunning() {
  static std::atomic<int> running{0};
  return running;
}

// One name lookup on a helper thread; shared so that an abandoned lookup can still finish.
struct Lookup {
  Mutex mu;
  CondVar finished;
  bool done GUARDED_BY(mu) = false;
  Result<std::vector<IpAddress>> result GUARDED_BY(mu) = Status::internal("");
};

Result<std::vector<IpAddress>> resolveBounded(const std::string& host,
                                              std::chrono::milliseconds timeout) {
  if (host.empty()) return Status::invalidArgument("empty host name");
  auto numeric = getAddresses(host, /*numeric_only=*/true);
  if (numeric.ok()) return numeric;
  if (timeout.count() <= 0) return Status::deadlineExceeded("no time left to resolve " + host);
  if (lookupsRunning().fetch_add(1) >= kMaxLookupsRunning) {
    lookupsRunning().fetch_sub(1);
    return Status::unavailable("too many name lookups in progress");
  }
  auto lookup = std::make_shared<Lookup>();
  try {
    std::thread([lookup, host] {
      auto found = getAddresses(host, /*numeric_only=*/false);
      {
        MutexLock lock(lookup->mu);
        lookup->result = std::move(found);
        lookup->done = true;
      }
      lookup->finished.notifyAll();
      lookupsRunning().fetch_sub(1);
    }).detach();
  } catch (const std::system_error& e) {
    lookupsRunning().fetch_sub(1);
    return Status::unavailable(std::string("cannot start a name lookup: ") + e.what());
  }
  MutexLock lock(lookup->mu);
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!lookup->done && lookup->finished.waitUntil(lookup->mu, deadline)) {
  }
  if (!lookup->done) {
    return Status::deadlineExceeded("resolving " + host + " took longer than " +
                                    std::to_string(timeout.count()) + " ms");
  }
  return lookup->result;
}

// ---- URLs ----

struct CurlUrlDeleter {
  void operator()(CURLU* url) const { curl_url_cleanup(url); }
};

std::optional<std::string> urlPart(CURLU* url, CURLUPart part, unsigned int flags = 0) {
  char* text = nullptr;
  if (curl_url_get(url, part, &text, flags) != CURLUE_OK || text == nullptr) return std::nullopt;
  std::string out(text);
  curl_free(text);
  return out;
}

std::string lowerCase(std::string text) {
  for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text;
}

bool isHostNameCharacter(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_';
}

// 0..max with plain decimal digits only; nullopt otherwise.
std::optional<int> smallNumber(const std::string& text, int max) {
  if (text.empty() || text.size() > 5) return std::nullopt;
  int value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + (c - '0');
  }
  if (value > max) return std::nullopt;
  return value;
}

}  // namespace

// ---- IpAddress, IpNetwork ----

IpAddress IpAddress::v4(uint32_t address) {
  IpAddress a;
  a.bytes_[0] = static_cast<uint8_t>(address >> 24);
  a.bytes_[1] = static_cast<uint8_t>(address >> 16);
  a.bytes_[2] = static_cast<uint8_t>(address >> 8);
  a.bytes_[3] = static_cast<uint8_t>(address);
  return a;
}

IpAddress IpAddress::v6(const std::array<uint8_t, 16>& bytes) {
  IpAddress a;
  a.v6_ = true;
  a.bytes_ = bytes;
  return a;
}

std::optional<IpAddress> IpAddress::parse(const std::string& text) {
  IpAddress a;
  if (::inet_pton(AF_INET, text.c_str(), a.bytes_.data()) == 1) return a;
  if (::inet_pton(AF_INET6, text.c_str(), a.bytes_.data()) == 1) {
    a.v6_ = true;
    return a;
  }
  return std::nullopt;
}

std::optional<IpAddress> IpAddress::fromSockaddr(const void* sockaddr, size_t length) {
  if (sockaddr == nullptr || length < sizeof(sa_family_t)) return std::nullopt;
  sa_family_t family = 0;
  std::memcpy(&family, static_cast<const char*>(sockaddr) + offsetof(struct sockaddr, sa_family),
              sizeof family);
  IpAddress a;
  if (family == AF_INET && length >= sizeof(sockaddr_in)) {
    sockaddr_in in{};
    std::memcpy(&in, sockaddr, sizeof in);
    std::memcpy(a.bytes_.data(), &in.sin_addr, 4);
    return a;
  }
  if (family == AF_INET6 && length >= sizeof(sockaddr_in6)) {
    sockaddr_in6 in6{};
    std::memcpy(&in6, sockaddr, sizeof in6);
    std::memcpy(a.bytes_.data(), &in6.sin6_addr, 16);
    a.v6_ = true;
    return a;
  }
  return std::nullopt;
}

std::string IpAddress::toString() const {
  char text[INET6_ADDRSTRLEN] = {};
  ::inet_ntop(v6_ ? AF_INET6 : AF_INET, bytes_.data(), text, sizeof text);
  return text;
}

IpNetwork::IpNetwork(const IpAddress& base, int prefix_bits)
    : prefix_bits_(std::clamp(prefix_bits, 0, static_cast<int>(base.size()) * 8)) {
  std::array<uint8_t, 16> bytes{};
  std::memcpy(bytes.data(), base.data(), base.size());
  for (size_t i = 0; i < base.size(); ++i) {
    const int keep = std::clamp(prefix_bits_ - static_cast<int>(i) * 8, 0, 8);
    bytes[i] = static_cast<uint8_t>(bytes[i] & static_cast<uint8_t>(0xFF00u >> keep));
  }
  if (base.isV4()) {
    base_ = IpAddress::v4((uint32_t{bytes[0]} << 24) | (uint32_t{bytes[1]} << 16) |
                          (uint32_t{bytes[2]} << 8) | uint32_t{bytes[3]});
  } else {
    base_ = IpAddress::v6(bytes);
  }
}

std::optional<IpNetwork> IpNetwork::parse(const std::string& text) {
  const size_t slash = text.find('/');
  auto base = IpAddress::parse(text.substr(0, slash));
  if (!base) return std::nullopt;
  const int max_bits = static_cast<int>(base->size()) * 8;
  if (slash == std::string::npos) return IpNetwork(*base, max_bits);
  const std::string bits = text.substr(slash + 1);
  auto prefix = bits.size() <= 3 ? smallNumber(bits, max_bits) : std::nullopt;
  if (!prefix) return std::nullopt;
  return IpNetwork(*base, *prefix);
}

bool IpNetwork::contains(const IpAddress& address) const {
  if (address.isV4() != base_.isV4()) return false;
  for (size_t i = 0; i < address.size(); ++i) {
    const int keep = std::clamp(prefix_bits_ - static_cast<int>(i) * 8, 0, 8);
    if (keep == 0) break;
    const auto mask = static_cast<uint8_t>(0xFF00u >> keep);
    if ((address.data()[i] & mask) != base_.data()[i]) return false;
  }
  return true;
}

std::string IpNetwork::toString() const {
  return base_.toString() + "/" + std::to_string(prefix_bits_);
}

// ---- resolver, destinations ----

HostResolver systemHostResolver() { return &resolveBounded; }

std::string OutboundDestination::key() const {
  const bool v6 = host.find(':') != std::string::npos;
  return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

Result<OutboundDestination> parseOutboundUrl(const std::string& url) {
  const std::unique_ptr<CURLU, CurlUrlDeleter> parsed(curl_url());
  if (!parsed) return Status::internal("out of memory");
  if (curl_url_set(parsed.get(), CURLUPART_URL, url.c_str(), 0) != CURLUE_OK) {
    return Status::invalidArgument("is not a valid absolute URL");
  }
  OutboundDestination d;
  d.scheme = lowerCase(urlPart(parsed.get(), CURLUPART_SCHEME).value_or(""));
  if (d.scheme != "http" && d.scheme != "https") {
    return Status::invalidArgument("must be an http:// or https:// URL");
  }
  if (urlPart(parsed.get(), CURLUPART_USER) || urlPart(parsed.get(), CURLUPART_PASSWORD)) {
    return Status::invalidArgument("must not carry user information (user:password@)");
  }
  if (urlPart(parsed.get(), CURLUPART_ZONEID)) {
    return Status::invalidArgument("must not carry an IPv6 zone id");
  }
  std::string host = lowerCase(urlPart(parsed.get(), CURLUPART_HOST).value_or(""));
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
    if (!IpAddress::parse(host)) return Status::invalidArgument("has an invalid IPv6 address");
    d.numeric_host = true;
  } else {
    if (host.empty()) return Status::invalidArgument("must name a host");
    if (host.size() > 253 || !std::all_of(host.begin(), host.end(), isHostNameCharacter)) {
      return Status::invalidArgument(
          "must name its host in ASCII (the punycode form of an international name) or as an "
          "IP address");
    }
    d.numeric_host = IpAddress::parse(host).has_value();
  }
  d.host = host;
  auto port =
      smallNumber(urlPart(parsed.get(), CURLUPART_PORT, CURLU_DEFAULT_PORT).value_or(""), 65535);
  if (!port || *port == 0) return Status::invalidArgument("must have a port from 1 to 65535");
  d.port = *port;
  d.url = urlPart(parsed.get(), CURLUPART_URL).value_or(url);
  return d;
}

// ---- the policy ----

OutboundPolicy::OutboundPolicy(std::vector<IpNetwork> allowed, HostResolver resolver)
    : allowed_(std::move(allowed)), resolver_(std::move(resolver)) {}

Result<std::vector<IpNetwork>> OutboundPolicy::parseAllowedNetworks(const std::string& text) {
  std::vector<IpNetwork> networks;
  std::string item;
  auto flush = [&]() -> Status {
    if (item.empty()) return Status::okStatus();
    auto network = IpNetwork::parse(item);
    if (!network) {
      return Status::invalidArgument("'" + item +
                                     "' is not a network in CIDR notation (e.g. 10.1.0.0/16, "
                                     "fd00::/8)");
    }
    networks.push_back(*network);
    item.clear();
    return Status::okStatus();
  };
  for (char c : text) {
    if (c == ',' || std::isspace(static_cast<unsigned char>(c))) {
      if (Status s = flush(); !s.ok()) return s;
    } else {
      item.push_back(c);
    }
  }
  if (Status s = flush(); !s.ok()) return s;
  return networks;
}

bool OutboundPolicy::allowedExplicitly(const IpAddress& address) const {
  return std::any_of(allowed_.begin(), allowed_.end(),
                     [&](const IpNetwork& n) { return n.contains(address); });
}

std::optional<std::string> OutboundPolicy::refusal(const IpAddress& address) const {
  if (allowedExplicitly(address)) return std::nullopt;
  if (auto embedded = embeddedV4(address)) {
    if (allowedExplicitly(embedded->address)) return std::nullopt;
    if (auto what = refusedRangeOf(embedded->address)) {
      return *what + " (as " + embedded->how + ")";
    }
    return std::nullopt;
  }
  return refusedRangeOf(address);
}

ScreenedDestination OutboundPolicy::screen(const OutboundDestination& destination,
                                           std::chrono::milliseconds timeout) const {
  ScreenedDestination screened;
  Result<std::vector<IpAddress>> found = Status::internal("");
  if (destination.numeric_host) {
    auto numeric = IpAddress::parse(destination.host);
    if (numeric) {
      found = std::vector<IpAddress>{*numeric};
    } else {
      found = Status::invalidArgument("not a numeric address");
    }
  } else {
    found = resolver_(destination.host, timeout);
  }
  if (!found.ok()) {
    screened.verdict = ScreenedDestination::Verdict::kUnresolved;
    screened.timed_out = found.error().code() == StatusCode::kDeadlineExceeded;
    screened.detail = "cannot resolve " + destination.host + ": " + found.error().message();
    return screened;
  }
  std::string refused;
  for (const IpAddress& a : found.value()) {
    if (auto what = refusal(a)) {
      if (!refused.empty()) refused += ", ";
      refused += a.toString() + " (" + *what + ")";
    } else {
      screened.addresses.push_back(a);
    }
  }
  if (!refused.empty()) {
    screened.detail = destination.host + " is refused by the outbound policy at " + refused;
  }
  screened.verdict = screened.addresses.empty() ? ScreenedDestination::Verdict::kRefused
                                                : ScreenedDestination::Verdict::kAllowed;
  return screened;
}

Status OutboundPolicy::checkUrl(const std::string& url, std::chrono::milliseconds timeout,
                                std::string* log_detail) const {
  auto destination = parseOutboundUrl(url);
  if (!destination.ok()) return destination.error();
  const ScreenedDestination screened = screen(destination.value(), timeout);
  if (screened.verdict == ScreenedDestination::Verdict::kRefused) {
    if (log_detail != nullptr) *log_detail = screened.detail;
    return Status::permissionDenied(
        "points at an address the collector does not send to (loopback, private, link-local, "
        "shared, multicast or reserved, or a name that resolves only to such addresses); its "
        "operator can allow networks with outbound.allowedNetworks");
  }
  return Status::okStatus();
}

}  // namespace vigil::collector
