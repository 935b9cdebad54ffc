#define BOOST_TEST_MODULE integration_agent_tls_pin
// The real vigil-agent over TLS: with a trusted CA and a pin of the collector's public key
// (pin_sha256), a certificate from the right CA but with another key is refused, and the
// right key is accepted. The fake collector is tests/integration/fake_collector.
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/x509.h>
#include <signal.h>

#include <boost/test/unit_test.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

#include "tests/integration/fake_collector.h"
#include "tests/integration/harness.h"
#include "tests/support/temp_dir.h"

using namespace std::chrono_literals;
using vigil::testing::ChildProcess;
using vigil::testing::eventually;
using vigil::testing::FakeCollector;
using vigil::testing::logTail;
using vigil::testing::TempDir;
using vigil::testing::TestCertificateAuthority;
using vigil::testing::TlsCredentials;

namespace {

// "sha256//" + base64(SHA-256(DER SubjectPublicKeyInfo)) of a PEM certificate: the form
// libcurl's CURLOPT_PINNEDPUBLICKEY (and the agent's pin_sha256) takes.
std::string pinOf(const std::string& cert_pem) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(
      BIO_new_mem_buf(cert_pem.data(), static_cast<int>(cert_pem.size())), BIO_free);
  std::unique_ptr<X509, decltype(&X509_free)> cert(
      PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr), X509_free);
  BOOST_TEST_REQUIRE(static_cast<bool>(cert));
  unsigned char* der = nullptr;
  const int len = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(cert.get()), &der);
  BOOST_TEST_REQUIRE(len > 0);
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(der, static_cast<size_t>(len), digest);
  OPENSSL_free(der);
  unsigned char b64[64] = {};
  EVP_EncodeBlock(b64, digest, SHA256_DIGEST_LENGTH);
  return std::string("sha256//") + reinterpret_cast<const char*>(b64);
}

struct PinnedAgent {
  TempDir tmp;
  TestCertificateAuthority ca;
  TlsCredentials served = ca.issueLoopbackServer();
  std::unique_ptr<FakeCollector> fake;
  std::unique_ptr<ChildProcess> agent;
  std::string log_path = tmp.path().string() + "/agent.log";

  // Runs an enrolled agent against the fake, trusting the CA and pinning `pin`.
  void start(const std::string& pin) {
    FakeCollector::Options options;
    options.tls = served;
    fake = std::make_unique<FakeCollector>(options);
    fake->start();
    const std::string ca_path = tmp.path().string() + "/ca.pem";
    std::ofstream(ca_path) << ca.certPem();
    const std::string state = tmp.path().string() + "/state";
    std::filesystem::create_directory(state);
    std::filesystem::permissions(state, std::filesystem::perms::owner_all);
    std::ofstream(state + "/identity.json")
        << "{\"v\":1,\"agent_id\":\"" << fake->identity().agent_id << "\",\"secret\":\""
        << fake->identity().secret << "\",\"server_url\":\"" << fake->url() << "\"}\n";
    std::ofstream(tmp.path().string() + "/agent.conf") << "# on the command line\n";
    agent = std::make_unique<ChildProcess>(
        VIGIL_AGENT_BIN,
        std::vector<std::string>{"--server", fake->url(), "--state-dir", state, "--ca-file",
                                 ca_path, "--config", tmp.path().string() + "/agent.conf",
                                 "--min-interval", "1", "-D", "peer_witness=false", "-D",
                                 "pin_sha256=" + pin},
        log_path);
  }
  ~PinnedAgent() {
    if (agent) {
      agent->signal(SIGTERM);
      agent->waitExit(10s);
    }
  }
};

}  // namespace

BOOST_AUTO_TEST_CASE(a_certificate_with_another_key_is_refused_despite_a_trusted_ca) {
  PinnedAgent p;
  TestCertificateAuthority other_keys;  // another key pair for the pin
  p.start(pinOf(other_keys.issueLoopbackServer().cert_pem));
  // The agent connects, refuses the key, and never sends a heartbeat over that connection.
  BOOST_REQUIRE_MESSAGE(
      eventually([&] { return logTail(p.log_path).find("heartbeat seq=") != std::string::npos; },
                 20s),
      "no failed attempt logged; agent log:\n"
          << logTail(p.log_path));
  const std::string log = logTail(p.log_path);
  BOOST_TEST(
      (log.find("public key") != std::string::npos || log.find("pinned") != std::string::npos),
      log);
  BOOST_TEST(p.fake->requestsTo("/v1/heartbeat").empty());
  BOOST_TEST(p.agent->running());
}

BOOST_AUTO_TEST_CASE(the_pinned_key_is_accepted) {
  PinnedAgent p;
  p.start(pinOf(p.served.cert_pem));
  BOOST_REQUIRE_MESSAGE(
      eventually([&] { return p.fake->requestsTo("/v1/heartbeat").size() >= 2; }, 20s),
      "no heartbeat over the pinned connection; agent log:\n"
          << logTail(p.log_path));
}
