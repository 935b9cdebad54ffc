#define BOOST_TEST_MODULE integration_tls
// The collector's HTTPS listener (docs/operations.md, "TLS"): a real vigil-agent trusting a
// test CA enrolls and beats over HTTPS and shows ONLINE; TLS 1.1 and ciphers outside
// Mozilla's intermediate profile are refused (by an OpenSSL client that would accept them);
// replaced certificate files are picked up by new handshakes while an open connection and
// the agent carry on; a bad replacement is refused; without TLS a non-loopback address does
// not start (exit 78).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "tests/integration/connection_flood.h"
#include "tests/integration/fake_collector.h"
#include "tests/integration/harness.h"
#include "tests/support/temp_dir.h"

using namespace std::chrono_literals;
using vigil::testing::ChildProcess;
using vigil::testing::ConnectionFlood;
using vigil::testing::eventually;
using vigil::testing::logTail;
using vigil::testing::raiseOpenFileLimit;
using vigil::testing::readFile;
using vigil::testing::TempDir;
using vigil::testing::TestCertificateAuthority;
using vigil::testing::TlsCredentials;

namespace {

struct SslCtxFree {
  void operator()(SSL_CTX* c) const { SSL_CTX_free(c); }
};
struct SslFree {
  void operator()(SSL* s) const { SSL_free(s); }
};
struct X509Free {
  void operator()(X509* x) const { X509_free(x); }
};

// A TCP connection to 127.0.0.1:port, closed on destruction.
class Fd {
 public:
  explicit Fd(int port) : fd_(::socket(AF_INET, SOCK_STREAM, 0)) {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd_ < 0 || ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      throw std::runtime_error("cannot connect to port " + std::to_string(port));
    }
    timeval tv{10, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  }
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

// What a client may offer; by default anything this OpenSSL can still do (security level 0),
// so that a refusal is the collector's.
struct ClientOffer {
  int min_version = TLS1_VERSION;
  int max_version = TLS1_3_VERSION;
  std::string tls12_ciphers = "ALL:@SECLEVEL=0";
  std::string ca_file;            // set: verify the chain and the name 127.0.0.1
  SSL_SESSION* resume = nullptr;  // set: offer this session (resumption)
};

struct SessionFree {
  void operator()(SSL_SESSION* s) const { SSL_SESSION_free(s); }
};
using SessionPtr = std::unique_ptr<SSL_SESSION, SessionFree>;

// One TLS client connection.
class TlsClient {
 public:
  TlsClient(int port, const ClientOffer& offer) : fd_(port) {
    ctx_.reset(SSL_CTX_new(TLS_client_method()));
    SSL_CTX_set_security_level(ctx_.get(), 0);
    SSL_CTX_set_min_proto_version(ctx_.get(), offer.min_version);
    SSL_CTX_set_max_proto_version(ctx_.get(), offer.max_version);
    SSL_CTX_set_cipher_list(ctx_.get(), offer.tls12_ciphers.c_str());
    if (!offer.ca_file.empty()) {
      SSL_CTX_load_verify_locations(ctx_.get(), offer.ca_file.c_str(), nullptr);
      SSL_CTX_set_verify(ctx_.get(), SSL_VERIFY_PEER, nullptr);
      X509_VERIFY_PARAM_set1_ip_asc(SSL_CTX_get0_param(ctx_.get()), "127.0.0.1");
    }
    ssl_.reset(SSL_new(ctx_.get()));
    SSL_set_fd(ssl_.get(), fd_.get());
    if (offer.resume) SSL_set_session(ssl_.get(), offer.resume);
    ERR_clear_error();
    if (SSL_connect(ssl_.get()) == 1) {
      connected_ = true;
    } else {
      char buffer[256] = "handshake failed";
      if (unsigned long e = ERR_get_error()) ERR_error_string_n(e, buffer, sizeof buffer);
      error_ = buffer;
    }
  }

  // A clean close (close_notify), as libcurl does: only a session closed cleanly may be
  // resumed.
  ~TlsClient() {
    if (connected_) SSL_shutdown(ssl_.get());
  }
  TlsClient(const TlsClient&) = delete;
  TlsClient& operator=(const TlsClient&) = delete;

  bool connected() const { return connected_; }
  const std::string& error() const { return error_; }
  std::string protocol() const { return SSL_get_version(ssl_.get()); }
  bool resumed() const { return SSL_session_reused(ssl_.get()) == 1; }
  // The session to offer on the next connection (TLS 1.3: after a first answer was read, which
  // carries the server's session ticket message).
  SessionPtr session() const { return SessionPtr(SSL_get1_session(ssl_.get())); }
  std::string cipher() const { return SSL_get_cipher_name(ssl_.get()); }
  // SHA-256 of the certificate the server presented.
  std::string peerFingerprint() const {
    std::unique_ptr<X509, X509Free> cert(SSL_get1_peer_certificate(ssl_.get()));
    if (!cert) return "";
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    X509_digest(cert.get(), EVP_sha256(), digest, &len);
    return std::string(reinterpret_cast<char*>(digest), len);
  }

  // Bytes as they are (a partial request, for instance); false if the write failed.
  bool sendRaw(const std::string& bytes) {
    return SSL_write(ssl_.get(), bytes.data(), static_cast<int>(bytes.size())) > 0;
  }

  // One HTTP/1.1 request on this connection; returns the status and body (Content-Length).
  std::pair<int, std::string> request(const std::string& method, const std::string& path,
                                      const std::string& extra_headers = "",
                                      const std::string& body = "") {
    std::string req = method + " " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\n" + extra_headers +
                      "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
    if (SSL_write(ssl_.get(), req.data(), static_cast<int>(req.size())) <= 0) return {0, ""};
    std::string in;
    size_t header_end = std::string::npos;
    while ((header_end = in.find("\r\n\r\n")) == std::string::npos) {
      if (!readMore(in)) return {0, in};
    }
    const std::string head = in.substr(0, header_end);
    size_t length = 0;
    const size_t cl = head.find("Content-Length: ");
    if (cl != std::string::npos) length = std::stoul(head.substr(cl + 16));
    while (in.size() < header_end + 4 + length) {
      if (!readMore(in)) break;
    }
    const int status = head.size() > 12 ? std::atoi(head.c_str() + 9) : 0;
    return {status, in.substr(header_end + 4, length)};
  }

 private:
  bool readMore(std::string& in) {
    char buffer[4096];
    const int n = SSL_read(ssl_.get(), buffer, sizeof buffer);
    if (n <= 0) return false;
    in.append(buffer, static_cast<size_t>(n));
    return true;
  }

  Fd fd_;
  std::unique_ptr<SSL_CTX, SslCtxFree> ctx_;
  std::unique_ptr<SSL, SslFree> ssl_;
  bool connected_ = false;
  std::string error_;
};

void writeAtomically(const std::string& path, const std::string& content) {
  const std::string tmp = path + ".new";
  std::ofstream(tmp) << content;
  std::filesystem::rename(tmp, path);
}

int readPort(const std::string& port_file) { return std::atoi(readFile(port_file).c_str()); }

// A collector serving HTTPS with certificates of a test CA.
struct TlsCollector {
  TempDir tmp;
  TestCertificateAuthority ca;
  TlsCredentials served = ca.issueLoopbackServer();
  std::string dir = tmp.path().string();
  std::string ca_file = dir + "/ca.pem";
  std::string cert_file = dir + "/server.pem";
  std::string key_file = dir + "/server.key";
  std::string log_path = dir + "/collector.log";
  std::unique_ptr<ChildProcess> process;
  int port = 0;

  // `settings` are -D key=value on top of the TLS files; by default the agent beats every
  // second and an idle connection stays open for a minute (tests that hold one open).
  explicit TlsCollector(const std::vector<std::string>& settings = {
                            "heartbeat.intervalSeconds=1", "http.keepAliveTimeoutSeconds=60"}) {
    std::ofstream(ca_file) << ca.certPem();
    writeAtomically(key_file, served.key_pem);
    writeAtomically(cert_file, served.cert_pem);
    const std::string port_file = dir + "/port";
    std::vector<std::string> args{"--data-dir=" + dir + "/data",
                                  "--http-address=127.0.0.1",
                                  "--http-port=0",
                                  "--port-file=" + port_file,
                                  "--define=beacon.port=0",
                                  "--define=tls.certificateFile=" + cert_file,
                                  "--define=tls.privateKeyFile=" + key_file,
                                  "--define=tls.reloadIntervalSeconds=1"};
    for (const std::string& setting : settings) args.push_back("--define=" + setting);
    process = std::make_unique<ChildProcess>(VIGIL_COLLECTOR_BIN, args, log_path);
    const bool up = eventually(
        [&] {
          if (!process->running()) return true;
          port = readPort(port_file);
          if (port <= 0) return false;
          try {
            return get("/readyz").first == 200;
          } catch (const std::exception&) {
            return false;
          }
        },
        20s);
    BOOST_REQUIRE_MESSAGE(up && process->running(), "collector did not start:\n"
                                                        << logTail(log_path));
  }
  ~TlsCollector() {
    process->signal(SIGTERM);
    process->waitExit(15s);
  }

  ClientOffer verified() const {
    ClientOffer offer;
    offer.ca_file = ca_file;
    return offer;
  }
  std::pair<int, std::string> get(const std::string& path, const std::string& headers = "") {
    TlsClient client(port, verified());
    if (!client.connected()) return {0, client.error()};
    return client.request("GET", path, headers + "Connection: close\r\n");
  }
  std::string adminToken() const {
    std::string t = readFile(dir + "/data/admin-token");
    while (!t.empty() && (t.back() == '\n' || t.back() == '\r')) t.pop_back();
    return t;
  }
  std::string enrollToken() const {
    std::string t = readFile(dir + "/data/enroll-token");
    while (!t.empty() && (t.back() == '\n' || t.back() == '\r')) t.pop_back();
    return t;
  }
  std::pair<int, std::string> agentRecord(const std::string& id) {
    return get("/api/v1/agents/" + id, "Authorization: Bearer " + adminToken() + "\r\n");
  }
};

// "last_seq":N of an agent record; -1 if absent.
long long lastSeq(const std::string& record) {
  const size_t at = record.find("\"last_seq\":");
  return at == std::string::npos ? -1 : std::atoll(record.c_str() + at + 11);
}

std::string agentIdIn(const std::string& state_dir) {
  const std::string identity = readFile(state_dir + "/identity.json");
  const size_t at = identity.find("\"agent_id\":\"");
  if (at == std::string::npos) return "";
  const size_t from = at + 12;
  return identity.substr(from, identity.find('"', from) - from);
}

std::string fingerprintOf(const std::string& cert_pem) {
  BIO* bio = BIO_new_mem_buf(cert_pem.data(), static_cast<int>(cert_pem.size()));
  std::unique_ptr<X509, X509Free> cert(PEM_read_bio_X509(bio, nullptr, nullptr, nullptr));
  BIO_free(bio);
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  X509_digest(cert.get(), EVP_sha256(), digest, &len);
  return std::string(reinterpret_cast<char*>(digest), len);
}

// A real vigil-agent beating every second over HTTPS to `c`, trusting the test CA; waits until
// the collector shows it ONLINE and sets `id`.
std::unique_ptr<ChildProcess> startHttpsAgent(TlsCollector& c, std::string* id) {
  const std::string state = c.dir + "/agent";
  std::filesystem::create_directory(state);
  std::filesystem::permissions(state, std::filesystem::perms::owner_all);
  std::ofstream(c.dir + "/agent.conf") << "# everything is on the command line\n";
  const std::string agent_log = c.dir + "/agent.log";
  auto agent = std::make_unique<ChildProcess>(
      VIGIL_AGENT_BIN,
      std::vector<std::string>{"--server", "https://127.0.0.1:" + std::to_string(c.port), "--token",
                               c.enrollToken(), "--state-dir", state, "--ca-file", c.ca_file,
                               "--log-level", "debug", "--min-interval", "1", "--config",
                               c.dir + "/agent.conf", "-D", "peer_broadcast=127.255.255.255"},
      agent_log);
  BOOST_REQUIRE_MESSAGE(eventually(
                            [&] {
                              *id = agentIdIn(state);
                              if (id->empty()) return false;
                              auto [status, body] = c.agentRecord(*id);
                              return status == 200 &&
                                     body.find("\"status\":\"ONLINE\"") != std::string::npos;
                            },
                            30s),
                        "agent not ONLINE over HTTPS; agent log:\n"
                            << logTail(agent_log) << "\ncollector log:\n"
                            << logTail(c.log_path));
  return agent;
}

}  // namespace

BOOST_AUTO_TEST_CASE(only_tls_1_2_and_1_3_with_intermediate_ciphers_are_accepted) {
  TlsCollector c;
  {
    ClientOffer tls11;
    tls11.max_version = TLS1_1_VERSION;
    TlsClient client(c.port, tls11);
    BOOST_TEST(!client.connected(), "TLS 1.1 accepted: " << client.protocol());
  }
  for (const char* weak : {"ECDHE-ECDSA-AES128-SHA", "ECDHE-ECDSA-AES256-SHA384",
                           "ECDHE-ECDSA-AES256-SHA", "ECDHE-ECDSA-AES128-CCM"}) {
    ClientOffer offer;
    offer.min_version = offer.max_version = TLS1_2_VERSION;
    offer.tls12_ciphers = std::string(weak) + ":@SECLEVEL=0";
    TlsClient client(c.port, offer);
    BOOST_TEST(!client.connected(), weak << " accepted");
  }
  for (const char* good : {"ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-ECDSA-AES256-GCM-SHA384",
                           "ECDHE-ECDSA-CHACHA20-POLY1305"}) {
    ClientOffer offer = c.verified();
    offer.min_version = offer.max_version = TLS1_2_VERSION;
    offer.tls12_ciphers = good;
    TlsClient client(c.port, offer);
    BOOST_TEST(client.connected(), good << ": " << client.error());
    if (client.connected()) BOOST_TEST(client.cipher() == good);
  }
  // The client's preference wins (Mozilla intermediate: no server preference).
  {
    ClientOffer offer = c.verified();
    offer.min_version = offer.max_version = TLS1_2_VERSION;
    offer.tls12_ciphers = "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-ECDSA-AES128-GCM-SHA256";
    TlsClient client(c.port, offer);
    BOOST_REQUIRE(client.connected());
    BOOST_TEST(client.cipher() == "ECDHE-ECDSA-CHACHA20-POLY1305");
  }
  {
    ClientOffer offer = c.verified();
    offer.min_version = TLS1_3_VERSION;
    TlsClient client(c.port, offer);
    BOOST_REQUIRE_MESSAGE(client.connected(), client.error());
    BOOST_TEST(client.protocol() == "TLSv1.3");
    BOOST_TEST(client.request("GET", "/livez", "Connection: close\r\n").first == 200);
  }
}

// Agents reconnect for most heartbeats: the collector must let them resume their session
// rather than pay a full handshake (and its certificate signature) every time.
BOOST_AUTO_TEST_CASE(a_reconnecting_client_resumes_its_tls_session) {
  TlsCollector c;
  for (int version : {TLS1_2_VERSION, TLS1_3_VERSION}) {
    ClientOffer offer = c.verified();
    offer.min_version = offer.max_version = version;
    SessionPtr session;
    {
      TlsClient first(c.port, offer);
      BOOST_REQUIRE_MESSAGE(first.connected(), first.error());
      BOOST_TEST(!first.resumed());
      BOOST_TEST(first.request("GET", "/livez", "Connection: close\r\n").first == 200);
      session = first.session();
    }
    // Each reconnection resumes the session (or the ticket) the one before it left: an agent
    // resumes heartbeat after heartbeat, not every other time.
    for (int reconnection = 1; reconnection <= 3; ++reconnection) {
      BOOST_REQUIRE(session);
      offer.resume = session.get();
      TlsClient next(c.port, offer);
      BOOST_REQUIRE_MESSAGE(next.connected(), next.error());
      BOOST_TEST(next.resumed(),
                 "reconnection " << reconnection << " not resumed with " << next.protocol());
      BOOST_TEST(next.request("GET", "/livez", "Connection: close\r\n").first == 200);
      session = next.session();
    }
  }
}

// Session tickets are sealed with keys that change with each certificate reload: a ticket from
// before one reload still resumes (and is replaced), one from before two reloads does not.
BOOST_AUTO_TEST_CASE(session_tickets_outlive_one_certificate_reload_but_not_two) {
  TlsCollector c;
  ClientOffer offer = c.verified();
  offer.min_version = offer.max_version = TLS1_3_VERSION;
  auto connect = [&](SSL_SESSION* resume, bool* resumed) {
    offer.resume = resume;
    TlsClient client(c.port, offer);
    BOOST_REQUIRE_MESSAGE(client.connected(), client.error());
    *resumed = client.resumed();
    BOOST_TEST(client.request("GET", "/livez", "Connection: close\r\n").first == 200);
    return client.session();
  };
  auto reload = [&] {
    const TlsCredentials renewed = c.ca.issueLoopbackServer();
    writeAtomically(c.key_file, renewed.key_pem);
    writeAtomically(c.cert_file, renewed.cert_pem);
    BOOST_REQUIRE(eventually(
        [&] {
          TlsClient probe(c.port, c.verified());
          return probe.connected() && probe.peerFingerprint() == fingerprintOf(renewed.cert_pem);
        },
        15s));
  };
  bool resumed = false;
  SessionPtr before_first = connect(nullptr, &resumed);
  SessionPtr before_second = connect(before_first.get(), &resumed);
  BOOST_TEST(resumed);
  reload();
  SessionPtr renewed = connect(before_second.get(), &resumed);
  BOOST_TEST(resumed, "a ticket from before one reload was refused");
  reload();
  connect(before_second.get(), &resumed);
  BOOST_TEST(!resumed, "a ticket from before two reloads resumed");
  connect(renewed.get(), &resumed);
  BOOST_TEST(resumed, "the ticket that replaced it after the first reload was refused");
}

BOOST_AUTO_TEST_CASE(an_agent_beats_over_https_and_a_renewed_certificate_drops_nothing) {
  TlsCollector c;
  std::string id;
  std::unique_ptr<ChildProcess> agent = startHttpsAgent(c, &id);

  // A connection opened before the renewal.
  TlsClient before(c.port, c.verified());
  BOOST_REQUIRE(before.connected());
  BOOST_TEST(before.peerFingerprint() == fingerprintOf(c.served.cert_pem));
  BOOST_REQUIRE(before.request("GET", "/livez").first == 200);

  // A bad replacement (a key of another certificate) is refused; the old one stays.
  const TlsCredentials other = c.ca.issueLoopbackServer();
  writeAtomically(c.key_file, other.key_pem);
  BOOST_TEST(eventually(
      [&] { return readFile(c.log_path).find("reload refused") != std::string::npos; }, 15s));
  {
    TlsClient during(c.port, c.verified());
    BOOST_REQUIRE(during.connected());
    BOOST_TEST(during.peerFingerprint() == fingerprintOf(c.served.cert_pem));
  }

  // The matching certificate completes the renewal: new handshakes get it.
  const long long seq_before = lastSeq(c.agentRecord(id).second);
  writeAtomically(c.cert_file, other.cert_pem);
  BOOST_TEST(eventually(
      [&] {
        TlsClient after(c.port, c.verified());
        return after.connected() && after.peerFingerprint() == fingerprintOf(other.cert_pem);
      },
      15s));
  // The connection opened before goes on, and the agent keeps beating and stays ONLINE.
  BOOST_TEST(before.request("GET", "/livez").first == 200);
  BOOST_TEST(eventually(
      [&] {
        auto [status, body] = c.agentRecord(id);
        return status == 200 && lastSeq(body) >= seq_before + 3 &&
               body.find("\"status\":\"ONLINE\"") != std::string::npos;
      },
      30s));
  BOOST_TEST(agent->running());
  agent->signal(SIGTERM);
  agent->waitExit(10s);
}

// At the collector's default keep-alive (an idle connection closed after 2 s), an agent beating
// less often than that never sends a request into a connection the collector has closed:
// libcurl 7.88 retries such a request silently but gives up for good after five over the
// handle's life, so reuse alone failed every 7th request: 15 heartbeats pass that point twice.
// The goodbye, sent after an idle period longer than the timeout, is delivered and the
// collector records SHUTDOWN.
BOOST_AUTO_TEST_CASE(beats_slower_than_the_default_keep_alive_never_fail_and_the_goodbye_arrives) {
  TlsCollector c({"heartbeat.intervalSeconds=3"});  // keep-alive as shipped
  const std::string state = c.dir + "/agent";
  std::filesystem::create_directory(state);
  std::filesystem::permissions(state, std::filesystem::perms::owner_all);
  std::ofstream(c.dir + "/agent.conf") << "# everything is on the command line\n";
  const std::string agent_log = c.dir + "/agent.log";
  ChildProcess agent(
      VIGIL_AGENT_BIN,
      {"--server", "https://127.0.0.1:" + std::to_string(c.port), "--token", c.enrollToken(),
       "--state-dir", state, "--ca-file", c.ca_file, "--log-level", "debug", "--min-interval", "3",
       "--config", c.dir + "/agent.conf", "-D", "peer_broadcast=127.255.255.255"},
      agent_log);
  auto accepted = [&] {
    const std::string log = readFile(agent_log);
    size_t n = 0;
    for (size_t at = log.find("heartbeat accepted"); at != std::string::npos;
         at = log.find("heartbeat accepted", at + 1)) {
      ++n;
    }
    return n;
  };
  BOOST_REQUIRE_MESSAGE(eventually([&] { return accepted() >= 15; }, 90s),
                        "15 heartbeats not accepted; agent log:\n"
                            << logTail(agent_log));
  // The goodbye goes out more than the keep-alive timeout after the last request.
  const size_t before = accepted();
  BOOST_REQUIRE(eventually([&] { return accepted() > before; }, 10s));
  std::this_thread::sleep_for(2500ms);
  agent.signal(SIGTERM);
  BOOST_TEST(agent.waitExit(15s).value_or(-1) == 0);

  const std::string log = readFile(agent_log);
  BOOST_TEST(log.find("goodbye notice (service_stop) delivered") != std::string::npos,
             "no goodbye delivered; agent log:\n"
                 << logTail(agent_log));
  BOOST_TEST(log.find("WARN") == std::string::npos, "the agent warned; its log:\n" << log);
  BOOST_TEST(log.find("ERROR") == std::string::npos, "the agent logged an error:\n" << log);
  const std::string id = agentIdIn(state);
  auto [status, body] = c.agentRecord(id);
  BOOST_TEST(status == 200);
  BOOST_TEST(body.find("\"status\":\"SHUTDOWN\"") != std::string::npos, body);
}

// Over TLS, the handshake is one more place to stall: 300 clients that never send their
// ClientHello, 300 that finish it and then send half a request head, and 300 that finish it
// and send nothing. The agent keeps its rate, /livez answers within a second, nobody is paged.
BOOST_AUTO_TEST_CASE(tls_clients_that_never_handshake_or_never_finish_blind_nothing) {
  raiseOpenFileLimit();
  TlsCollector c;
  std::string id;
  std::unique_ptr<ChildProcess> agent = startHttpsAgent(c, &id);
  const long long seq_start = lastSeq(c.agentRecord(id).second);
  std::this_thread::sleep_for(8s);
  const long long beats_before = lastSeq(c.agentRecord(id).second) - seq_start;

  ConnectionFlood never_handshake;
  never_handshake.addSilent(c.port, 300);
  std::vector<std::unique_ptr<TlsClient>> slow_heads;
  std::vector<std::unique_ptr<TlsClient>> silent;
  for (int i = 0; i < 300; ++i) {
    slow_heads.push_back(std::make_unique<TlsClient>(c.port, c.verified()));
    BOOST_REQUIRE(slow_heads.back()->connected());
    slow_heads.back()->sendRaw("POST /v1/heartbeat HTTP/1.1\r\nHost: 127.0.0.1\r\n");
    silent.push_back(std::make_unique<TlsClient>(c.port, c.verified()));
    BOOST_REQUIRE(silent.back()->connected());
  }
  const long long seq_flood = lastSeq(c.agentRecord(id).second);
  int probes_failed = 0;
  double slowest_s = 0;
  const auto until = std::chrono::steady_clock::now() + 8s;
  while (std::chrono::steady_clock::now() < until) {
    const auto start = std::chrono::steady_clock::now();
    if (c.get("/livez").first != 200) ++probes_failed;
    slowest_s = std::max(
        slowest_s, std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    std::this_thread::sleep_for(500ms);
  }
  const long long beats_during = lastSeq(c.agentRecord(id).second) - seq_flood;
  BOOST_TEST_MESSAGE("agent heartbeats in 8 s: " << beats_before << " before, " << beats_during
                                                 << " during the flood");
  BOOST_TEST(beats_during >= beats_before * 8 / 10, beats_during << " against " << beats_before);
  BOOST_TEST(probes_failed == 0);
  BOOST_TEST(slowest_s < 1.0);
  auto [status, record] = c.agentRecord(id);
  BOOST_TEST(record.find("\"status\":\"ONLINE\"") != std::string::npos, record);
  const auto alerts =
      c.get("/api/v1/alerts", "Authorization: Bearer " + c.adminToken() + "\r\n").second;
  BOOST_TEST(alerts.find(id) == std::string::npos, alerts);
  agent->signal(SIGTERM);
  agent->waitExit(10s);
}

BOOST_AUTO_TEST_CASE(without_tls_a_non_loopback_address_does_not_start) {
  TempDir tmp;
  const std::string log = tmp.path().string() + "/collector.log";
  ChildProcess collector(VIGIL_COLLECTOR_BIN,
                         {"--data-dir=" + tmp.path().string() + "/data", "--http-address=0.0.0.0",
                          "--http-port=0", "--define=beacon.port=0"},
                         log);
  const std::optional<int> code = collector.waitExit(15s);
  BOOST_REQUIRE(code.has_value());
  BOOST_TEST(*code == 78);
  BOOST_TEST(readFile(log).find("not a loopback address") != std::string::npos, readFile(log));
  BOOST_TEST(!std::filesystem::exists(tmp.path() / "data"));  // refused before anything
}

BOOST_AUTO_TEST_CASE(a_key_that_does_not_match_the_certificate_does_not_start) {
  TempDir tmp;
  TestCertificateAuthority ca;
  const std::string dir = tmp.path().string();
  std::ofstream(dir + "/server.pem") << ca.issueLoopbackServer().cert_pem;
  std::ofstream(dir + "/server.key") << ca.issueLoopbackServer().key_pem;
  ChildProcess collector(
      VIGIL_COLLECTOR_BIN,
      {"--data-dir=" + dir + "/data", "--http-address=127.0.0.1", "--http-port=0",
       "--define=beacon.port=0", "--define=tls.certificateFile=" + dir + "/server.pem",
       "--define=tls.privateKeyFile=" + dir + "/server.key"},
      dir + "/collector.log");
  const std::optional<int> code = collector.waitExit(15s);
  BOOST_REQUIRE(code.has_value());
  BOOST_TEST(*code == 78);
  BOOST_TEST(readFile(dir + "/collector.log").find("does not belong") != std::string::npos);
}
