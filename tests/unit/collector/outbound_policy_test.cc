#define BOOST_TEST_MODULE collector_outbound_policy
// The outbound destination policy: which addresses the collector refuses to send to, however
// a URL spells them; the operator's allow-list; URLs read as libcurl reads them; names
// resolved once and screened; the check at registration. Names resolve through a fake
// resolver, numeric spellings through the system's (which needs no network for them).
#include "collector/notify/outbound_policy.h"

#include <boost/test/unit_test.hpp>
#include <chrono>
#include <map>
#include <string>
#include <vector>

using namespace vigil::collector;
using namespace std::chrono_literals;
using vigil::Result;
using vigil::Status;

namespace {

IpAddress ip(const std::string& text) {
  auto a = IpAddress::parse(text);
  BOOST_REQUIRE_MESSAGE(a, "not an address: " << text);
  return *a;
}

std::string refusalOf(const OutboundPolicy& policy, const std::string& text) {
  return policy.refusal(ip(text)).value_or("allowed");
}

// A resolver with fixed answers that counts its calls.
struct FakeResolver {
  std::map<std::string, std::vector<std::string>> names;
  std::map<std::string, Status> failures;
  int calls = 0;

  HostResolver resolver() {
    return [this](const std::string& host,
                  std::chrono::milliseconds /*timeout*/) -> Result<std::vector<IpAddress>> {
      ++calls;
      if (auto f = failures.find(host); f != failures.end()) return f->second;
      auto found = names.find(host);
      if (found == names.end()) return Status::notFound("Name or service not known");
      std::vector<IpAddress> out;
      for (const std::string& a : found->second) out.push_back(ip(a));
      return out;
    };
  }
};

OutboundDestination destination(const std::string& url) {
  auto d = parseOutboundUrl(url);
  BOOST_REQUIRE_MESSAGE(d.ok(), url << ": " << (d.ok() ? "" : d.error().message()));
  return d.value();
}

}  // namespace

BOOST_AUTO_TEST_CASE(every_internal_ipv4_range_is_refused_and_public_addresses_are_not) {
  const OutboundPolicy policy;
  const std::map<std::string, std::string> expected = {
      {"127.0.0.1", "loopback"},
      {"127.255.255.254", "loopback"},
      {"0.0.0.0", "unspecified (this network)"},
      {"0.1.2.3", "unspecified (this network)"},
      {"10.0.0.1", "private"},
      {"172.16.0.1", "private"},
      {"172.31.255.255", "private"},
      {"192.168.1.1", "private"},
      {"100.64.0.1", "shared address space (CGNAT)"},
      {"100.127.255.255", "shared address space (CGNAT)"},
      {"169.254.169.254", "link-local"},
      {"169.254.0.1", "link-local"},
      {"224.0.0.1", "multicast"},
      {"239.255.255.250", "multicast"},
      {"255.255.255.255", "reserved or broadcast"},
      {"240.0.0.1", "reserved or broadcast"},
      {"192.0.0.170", "IETF protocol assignments"},
      {"198.18.0.1", "benchmarking"},
      // Neighbours of the ranges, and public addresses.
      {"172.15.255.255", "allowed"},
      {"172.32.0.0", "allowed"},
      {"100.63.255.255", "allowed"},
      {"100.128.0.0", "allowed"},
      {"11.0.0.1", "allowed"},
      {"8.8.8.8", "allowed"},
      {"93.184.216.34", "allowed"},
      {"223.255.255.255", "allowed"},
  };
  for (const auto& [address, what] : expected) {
    BOOST_TEST(refusalOf(policy, address) == what, address);
  }
}

BOOST_AUTO_TEST_CASE(ipv6_addresses_are_judged_by_what_they_reach) {
  const OutboundPolicy policy;
  const std::map<std::string, std::string> expected = {
      {"::1", "loopback"},
      {"::", "unspecified"},
      {"fe80::1", "link-local"},
      {"febf::1", "link-local"},
      {"fc00::1", "unique local (private)"},
      {"fd12:3456::1", "unique local (private)"},
      {"fec0::1", "site-local (deprecated)"},
      {"ff02::1", "multicast"},
      {"100::1", "discard-only"},
      {"64:ff9b:1::1", "local-use NAT64"},
      // IPv4 behind IPv6: the IPv4 address decides.
      {"::ffff:127.0.0.1", "loopback (as IPv4-mapped IPv6)"},
      {"::ffff:7f00:1", "loopback (as IPv4-mapped IPv6)"},
      {"::ffff:169.254.169.254", "link-local (as IPv4-mapped IPv6)"},
      {"::ffff:10.1.2.3", "private (as IPv4-mapped IPv6)"},
      {"::ffff:0.0.0.0", "unspecified (this network) (as IPv4-mapped IPv6)"},
      {"64:ff9b::7f00:1", "loopback (as NAT64)"},
      {"64:ff9b::a00:1", "private (as NAT64)"},
      {"2002:7f00:1::1", "loopback (as 6to4)"},
      {"2002:c0a8:101::", "private (as 6to4)"},
      {"::127.0.0.1", "IPv4-compatible IPv6 (deprecated)"},
      {"::ffff:8.8.8.8", "allowed"},
      {"64:ff9b::808:808", "allowed"},
      {"2002:808:808::1", "allowed"},
      {"2001:4860:4860::8888", "allowed"},
      {"2606:2800:220:1::1", "allowed"},
  };
  for (const auto& [address, what] : expected) {
    BOOST_TEST(refusalOf(policy, address) == what, address);
  }
}

// Whatever spelling the resolver accepts is judged by the address it resolves to.
BOOST_AUTO_TEST_CASE(odd_ipv4_spellings_are_judged_by_the_resolved_address) {
  const HostResolver system = systemHostResolver();
  for (const std::string spelling :
       {"127.1", "2130706433", "0x7f.1", "017700000001", "0x7f000001", "127.0.1", "0177.0.0.1"}) {
    auto found = system(spelling, 0ms);  // numeric: no lookup, no waiting
    BOOST_REQUIRE_MESSAGE(found.ok(), spelling);
    BOOST_TEST(found.value().size() == 1u);
    BOOST_TEST(found.value()[0].toString() == "127.0.0.1", spelling);
  }
  BOOST_TEST(system("0", 0ms).value()[0].toString() == "0.0.0.0");
  BOOST_TEST(system("::ffff:7f00:1", 0ms).value()[0].toString() == "::ffff:127.0.0.1");

  // In URLs: read as libcurl reads them, then screened; each one refused.
  const OutboundPolicy policy;
  for (const std::string url :
       {"http://127.1/", "http://2130706433/", "http://0x7f.1/", "http://017700000001/",
        "http://0/", "http://0.0.0.0:8470/", "http://[::1]:8470/", "http://[::]/",
        "http://[::ffff:127.0.0.1]/", "http://[::ffff:7f00:1]/", "http://[0:0:0:0:0:ffff:7f00:1]/",
        "https://169.254.169.254/latest/meta-data/", "http://[fe80::1]/", "http://[fc00::1]/",
        "http://10.0.0.1/", "http://100.64.0.1/", "http://224.0.0.1/", "http://255.255.255.255/"}) {
    const ScreenedDestination s = policy.screen(destination(url), 1s);
    BOOST_TEST((s.verdict == ScreenedDestination::Verdict::kRefused), url);
    BOOST_TEST(s.addresses.empty(), url);
    BOOST_TEST(!policy.checkUrl(url, 1s).ok(), url);
  }
  // localhost (from /etc/hosts, no DNS) is loopback.
  BOOST_TEST(!policy.checkUrl("http://localhost:8470/api/v1/tenants", 2s).ok());
}

BOOST_AUTO_TEST_CASE(the_allow_list_opens_exactly_its_networks) {
  auto allowed = OutboundPolicy::parseAllowedNetworks("127.0.0.0/8, 10.1.0.0/16 fd00::/8");
  BOOST_REQUIRE(allowed.ok());
  BOOST_TEST(allowed.value().size() == 3u);
  const OutboundPolicy policy(allowed.value());
  BOOST_TEST(refusalOf(policy, "127.0.0.1") == "allowed");
  BOOST_TEST(refusalOf(policy, "127.9.9.9") == "allowed");
  BOOST_TEST(refusalOf(policy, "::ffff:127.0.0.1") == "allowed");  // the same address
  BOOST_TEST(refusalOf(policy, "10.1.200.3") == "allowed");
  BOOST_TEST(refusalOf(policy, "fd00::5") == "allowed");
  BOOST_TEST(refusalOf(policy, "10.2.0.1") == "private");
  BOOST_TEST(refusalOf(policy, "fc00::1") == "unique local (private)");
  BOOST_TEST(refusalOf(policy, "::1") == "loopback");  // 127.0.0.0/8 is not ::1
  BOOST_TEST(refusalOf(policy, "169.254.169.254") == "link-local");
  BOOST_TEST(refusalOf(policy, "8.8.8.8") == "allowed");
  BOOST_TEST(policy.checkUrl("http://127.1:9000/", 1s).ok());
  BOOST_TEST(!policy.checkUrl("http://169.254.169.254/", 1s).ok());
  // The shipped default: nothing allowed.
  BOOST_TEST(OutboundPolicy::parseAllowedNetworks("").value().empty());
  BOOST_TEST(OutboundPolicy::parseAllowedNetworks(" ,  ").value().empty());
}

BOOST_AUTO_TEST_CASE(the_allow_list_setting_is_read_strictly) {
  for (const std::string bad :
       {"10.0.0.0/33", "10.0.0/8", "127.1/8", "2130706433", "localhost", "::1/129", "10.0.0.0/-1",
        "10.0.0.0/", "10.0.0.0/8x", "10.0.0.0/08a", "[::1]/128", "fe80::1%eth0/64"}) {
    auto parsed = OutboundPolicy::parseAllowedNetworks("127.0.0.0/8," + bad);
    BOOST_TEST(!parsed.ok(), bad);
    if (!parsed.ok()) BOOST_TEST(parsed.error().message().find(bad) != std::string::npos);
  }
  auto single = OutboundPolicy::parseAllowedNetworks("192.168.7.7");
  BOOST_REQUIRE(single.ok());
  BOOST_TEST(single.value()[0].toString() == "192.168.7.7/32");
  BOOST_TEST(IpNetwork::parse("10.1.2.3/8")->toString() == "10.0.0.0/8");
  BOOST_TEST(IpNetwork::parse("fd00::1/8")->toString() == "fd00::/8");
  BOOST_TEST(IpNetwork::parse("0.0.0.0/0")->contains(ip("8.8.8.8")));
  BOOST_TEST(!IpNetwork::parse("0.0.0.0/0")->contains(ip("::1")));
}

BOOST_AUTO_TEST_CASE(urls_are_read_as_the_http_client_reads_them) {
  OutboundDestination d = destination("https://Hooks.Example.COM/path?q=1#frag");
  BOOST_TEST(d.scheme == "https");
  BOOST_TEST(d.host == "hooks.example.com");
  BOOST_TEST(!d.numeric_host);
  BOOST_TEST(d.port == 443);
  BOOST_TEST(d.key() == "hooks.example.com:443");
  d = destination("http://127.1:8080/x");
  BOOST_TEST(d.host == "127.0.0.1");
  BOOST_TEST(d.numeric_host);
  BOOST_TEST(d.key() == "127.0.0.1:8080");
  BOOST_TEST(d.url.find("127.0.0.1:8080") != std::string::npos);  // sent to what was judged
  d = destination("http://[::1]/");
  BOOST_TEST(d.host == "::1");
  BOOST_TEST(d.key() == "[::1]:80");
  // A backslash before '@' does not hide the host from the check.
  auto tricky = parseOutboundUrl("http://evil.example\\@127.0.0.1/");
  BOOST_TEST((!tricky.ok() || tricky.value().host == "127.0.0.1"));
  for (const std::string bad :
       {"ftp://example.com/", "file:///etc/passwd", "gopher://x/", "example.com/hook", "",
        "http://", "https://u:p@example.com/", "https://user@example.com/",
        "http://[fe80::1%25eth0]/", "http://bücher.example/", "http://example.com:0/",
        "http://example.com:99999/", "http://exa mple.com/"}) {
    BOOST_TEST(!parseOutboundUrl(bad).ok(), bad);
  }
}

// A name is resolved once per screening; refused addresses are dropped and the rest kept.
BOOST_AUTO_TEST_CASE(names_are_resolved_once_and_screened) {
  FakeResolver dns;
  dns.names = {{"internal.example", {"10.0.0.5", "fd00::5"}},
               {"dual.example", {"127.0.0.1", "93.184.216.34", "::1", "2606:2800:220:1::1"}},
               {"public.example", {"93.184.216.34"}}};
  dns.failures = {{"slow.example", Status::deadlineExceeded("took too long")}};
  const OutboundPolicy policy({}, dns.resolver());

  ScreenedDestination s = policy.screen(destination("https://internal.example/"), 1s);
  BOOST_TEST((s.verdict == ScreenedDestination::Verdict::kRefused));
  BOOST_TEST(s.detail.find("10.0.0.5 (private)") != std::string::npos, s.detail);
  BOOST_TEST(dns.calls == 1);

  s = policy.screen(destination("https://dual.example/"), 1s);
  BOOST_TEST((s.verdict == ScreenedDestination::Verdict::kAllowed));
  BOOST_REQUIRE(s.addresses.size() == 2u);
  BOOST_TEST(s.addresses[0].toString() == "93.184.216.34");
  BOOST_TEST(s.addresses[1].toString() == "2606:2800:220:1::1");
  BOOST_TEST(dns.calls == 2);

  s = policy.screen(destination("https://nowhere.example/"), 1s);
  BOOST_TEST((s.verdict == ScreenedDestination::Verdict::kUnresolved));
  BOOST_TEST(!s.timed_out);
  s = policy.screen(destination("https://slow.example/"), 1s);
  BOOST_TEST((s.verdict == ScreenedDestination::Verdict::kUnresolved));
  BOOST_TEST(s.timed_out);

  // Numeric hosts need no resolver.
  const int before = dns.calls;
  BOOST_TEST((policy.screen(destination("http://8.8.8.8/"), 1s).verdict ==
              ScreenedDestination::Verdict::kAllowed));
  BOOST_TEST(dns.calls == before);

  // At registration: refused only if every address is refused; unresolvable is accepted.
  BOOST_TEST(!policy.checkUrl("https://internal.example/hook", 1s).ok());
  BOOST_TEST(policy.checkUrl("https://dual.example/hook", 1s).ok());
  BOOST_TEST(policy.checkUrl("https://public.example/hook", 1s).ok());
  BOOST_TEST(policy.checkUrl("https://nowhere.example/hook", 1s).ok());
  BOOST_TEST(policy.checkUrl("https://slow.example/hook", 1s).ok());
  std::string logged;
  const Status refused = policy.checkUrl("https://internal.example/hook", 1s, &logged);
  BOOST_TEST((refused.code() == vigil::StatusCode::kPermissionDenied));
  BOOST_TEST(refused.message().find("10.0.0.5") == std::string::npos);  // nothing internal
  BOOST_TEST(refused.message().find("outbound.allowedNetworks") != std::string::npos);
  BOOST_TEST(logged.find("10.0.0.5 (private)") != std::string::npos, logged);  // for the log
  BOOST_TEST(
      (policy.checkUrl("ftp://public.example/", 1s).code() == vigil::StatusCode::kInvalidArgument));
}

BOOST_AUTO_TEST_CASE(the_system_resolver_is_bounded) {
  const HostResolver system = systemHostResolver();
  // No time left: a name is not even looked up.
  auto none = system("name.invalid", 0ms);
  BOOST_TEST((!none.ok() && none.error().code() == vigil::StatusCode::kDeadlineExceeded));
  auto local = system("localhost", 2s);
  BOOST_REQUIRE(local.ok());
  bool loopback = false;
  for (const IpAddress& a : local.value()) loopback |= OutboundPolicy().refusal(a).has_value();
  BOOST_TEST(loopback);
}

BOOST_AUTO_TEST_CASE(addresses_convert_to_and_from_socket_addresses) {
  BOOST_TEST(!IpAddress::parse("127.1"));  // strict: the resolver reads the odd spellings
  BOOST_TEST(!IpAddress::parse("[::1]"));
  BOOST_TEST(IpAddress::parse("::ffff:1.2.3.4")->toString() == "::ffff:1.2.3.4");
  BOOST_TEST(!IpAddress::parse("::ffff:1.2.3.4")->isV4());
  BOOST_TEST((IpAddress::v4(0x7f000001) == ip("127.0.0.1")));
  BOOST_TEST((IpAddress::v4(0x7f000001) != ip("::ffff:127.0.0.1")));
  BOOST_TEST(!IpAddress::fromSockaddr(nullptr, 0));
}
