#pragma once

// The outbound destination policy (docs/webhooks.md, "Outbound destinations"): where the
// collector may send requests to URLs a tenant chose. Webhooks use it today; every
// notification channel that posts to a tenant's URL must use it too, at registration
// (checkUrl) and on every request (screen, then connect only to the screened addresses and
// check the connected peer again, as HttpWebhookTransport does).
//
// A tenant admin must not make the collector reach what only the collector's network position
// can reach. Refused, unless the operator allows a network explicitly (outbound.allowedNetworks):
// loopback, unspecified, link-local (cloud metadata at 169.254.169.254), private (RFC 1918,
// ULA), shared address space (CGNAT), multicast, broadcast and other reserved ranges, also when
// an IPv6 address embeds such an IPv4 address (IPv4-mapped, NAT64, 6to4).
//
// Judged on addresses, never on spelling: a host is resolved once by the system resolver (which
// also reads every numeric spelling: 127.1, 2130706433, 0x7f.1, 017700000001, [::ffff:7f00:1]),
// the refused addresses are dropped, and only the rest may be connected to.

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"

namespace vigil::collector {

// An IPv4 or IPv6 address.
class IpAddress {
 public:
  IpAddress() = default;                  // 0.0.0.0
  static IpAddress v4(uint32_t address);  // host byte order
  static IpAddress v6(const std::array<uint8_t, 16>& bytes);
  // Strict numeric text (inet_pton): a dotted quad or an IPv6 address, without brackets or
  // zone. Other spellings need the resolver (see above).
  static std::optional<IpAddress> parse(const std::string& text);
  // From a struct sockaddr_in or sockaddr_in6 of `length` bytes; nullopt for anything else.
  static std::optional<IpAddress> fromSockaddr(const void* sockaddr, size_t length);

  bool isV4() const { return !v6_; }
  // IPv4: 4 bytes; IPv6: 16.
  const uint8_t* data() const { return bytes_.data(); }
  size_t size() const { return v6_ ? 16 : 4; }
  // inet_ntop's form ("127.0.0.1", "::ffff:127.0.0.1").
  std::string toString() const;

  bool operator==(const IpAddress& other) const {
    return v6_ == other.v6_ && bytes_ == other.bytes_;
  }
  bool operator!=(const IpAddress& other) const { return !(*this == other); }

 private:
  bool v6_ = false;
  std::array<uint8_t, 16> bytes_{};
};

// A network in CIDR notation.
class IpNetwork {
 public:
  // "a.b.c.d/n" or "x:y::/n"; an address alone is a /32 or /128. Host bits past the prefix
  // are ignored ("10.1.2.3/8" is 10.0.0.0/8). nullopt if malformed.
  static std::optional<IpNetwork> parse(const std::string& text);
  IpNetwork(const IpAddress& base, int prefix_bits);

  // False for an address of the other family.
  bool contains(const IpAddress& address) const;
  std::string toString() const;

 private:
  IpAddress base_;
  int prefix_bits_ = 0;
};

// Resolves `host` (a name, or a numeric address in any spelling the system resolver accepts;
// no brackets) to its addresses within `timeout`. kNotFound if it has none; kDeadlineExceeded
// if the wait ran out; kUnavailable on other resolver failures.
using HostResolver = std::function<Result<std::vector<IpAddress>>(
    const std::string& host, std::chrono::milliseconds timeout)>;

// The system's resolver (getaddrinfo). Numeric hosts are read at once; a name is looked up on
// a helper thread so that the wait is bounded: a lookup still running at the deadline is left
// to finish in the background. At most 32 lookups run at once (more: kUnavailable at once).
HostResolver systemHostResolver();

// Where a URL sends a request, as libcurl (the collector's HTTP client) reads the URL.
struct OutboundDestination {
  std::string scheme;  // "http" or "https"
  std::string host;    // lower-case name, or numeric address without IPv6 brackets
  bool numeric_host = false;
  int port = 0;
  // The URL as libcurl normalised it (numeric IPv4 spellings written as dotted quads): send
  // the request to this, so that the host judged is the host connected to.
  std::string url;

  // "host:port" ("[::1]:80" for IPv6): the unit of the dispatcher's concurrency limit.
  std::string key() const;
};

// Reads an http:// or https:// URL. kInvalidArgument, with a message fit for the tenant, if it
// is not one, carries user information or a zone id, or its host is neither an ASCII host
// name (use the punycode form of an international name) nor a numeric address.
Result<OutboundDestination> parseOutboundUrl(const std::string& url);

// What screening a destination found.
struct ScreenedDestination {
  enum class Verdict {
    kAllowed,     // `addresses` lists the addresses that may be connected to (at least one)
    kRefused,     // every address of the host is refused
    kUnresolved,  // the host has no address, or the resolver failed or ran out of time
  };
  Verdict verdict = Verdict::kUnresolved;
  std::vector<IpAddress> addresses;
  bool timed_out = false;  // kUnresolved because the timeout ran out
  // The refused addresses and their ranges, or the resolver's error. For the collector's log
  // only: never shown to a tenant.
  std::string detail;
};

class OutboundPolicy {
 public:
  // `allowed`: networks the operator allows although the ranges above refuse them.
  // `resolver`: how host names are resolved (tests inject their own).
  explicit OutboundPolicy(std::vector<IpNetwork> allowed = {},
                          HostResolver resolver = systemHostResolver());

  // The setting outbound.allowedNetworks: CIDRs (see IpNetwork::parse) separated by commas
  // and/or blanks; empty: none. kInvalidArgument naming the first bad entry.
  static Result<std::vector<IpNetwork>> parseAllowedNetworks(const std::string& text);

  // nullopt if the collector may connect to `address`; else what the address is ("loopback",
  // "private", ...), for logs.
  std::optional<std::string> refusal(const IpAddress& address) const;

  // Resolves the destination's host once (bounded by `timeout`) and drops refused addresses.
  ScreenedDestination screen(const OutboundDestination& destination,
                             std::chrono::milliseconds timeout) const;

  // The check at registration. kInvalidArgument, with a message fit for the tenant, if the URL
  // is malformed (parseOutboundUrl); kPermissionDenied, with a message fit for the tenant (it
  // names no address), if its host is, or resolves only to, refused addresses: then
  // `*log_detail` (if given) is set to the refused addresses and their ranges, for the
  // collector's log. A name that does not resolve within `timeout` is accepted: every delivery
  // screens again.
  Status checkUrl(const std::string& url, std::chrono::milliseconds timeout,
                  std::string* log_detail = nullptr) const;

  const std::vector<IpNetwork>& allowedNetworks() const { return allowed_; }

 private:
  bool allowedExplicitly(const IpAddress& address) const;

  std::vector<IpNetwork> allowed_;
  HostResolver resolver_;
};

}  // namespace vigil::collector
