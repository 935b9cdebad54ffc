#include "tests/integration/fake_collector.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <random>
#include <stdexcept>

#include "common/protocol.h"

namespace vigil::testing {
namespace {

// Longest request head and body the fake reads; the agent's are far smaller.
constexpr size_t kMaxHeadBytes = size_t{64} * 1024;
constexpr size_t kMaxRequestBodyBytes = 1 << 20;
// How often blocked connection threads look at the stop flag.
constexpr int kPollSliceMs = 100;
// A client that stops reading cannot hold a connection thread for longer than this.
constexpr int kSendTimeoutS = 10;
constexpr size_t kFillerChunk = size_t{64} * 1024;

int64_t wallNowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string randomHex(size_t chars) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::random_device rd;
  std::string out;
  out.reserve(chars);
  for (size_t i = 0; i < chars; ++i) out.push_back(kHex[rd() % 16]);
  return out;
}

std::string toLower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string trim(const std::string& s) {
  const size_t begin = s.find_first_not_of(" \t");
  if (begin == std::string::npos) return {};
  return s.substr(begin, s.find_last_not_of(" \t") - begin + 1);
}

const char* reasonPhrase(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 201:
      return "Created";
    case 302:
      return "Found";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 409:
      return "Conflict";
    case 413:
      return "Payload Too Large";
    case 418:
      return "I'm a teapot";
    case 429:
      return "Too Many Requests";
    case 500:
      return "Internal Server Error";
    case 501:
      return "Not Implemented";
    case 503:
      return "Service Unavailable";
    default:
      return "Status";
  }
}

std::string openSslError(const std::string& what) {
  std::string out = what;
  while (unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    out += out == what ? ": " : "; ";
    out += buf;
  }
  return out;
}

[[noreturn]] void throwOpenSsl(const std::string& what) {
  throw std::runtime_error(openSslError(what));
}

// RAII owners of OpenSSL handles.
struct PkeyFree {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
struct X509Free {
  void operator()(X509* p) const { X509_free(p); }
};
struct BioFree {
  void operator()(BIO* p) const { BIO_free(p); }
};
struct X509ExtensionFree {
  void operator()(X509_EXTENSION* p) const { X509_EXTENSION_free(p); }
};
struct SslCtxFree {
  void operator()(SSL_CTX* p) const { SSL_CTX_free(p); }
};
struct SslFree {
  void operator()(SSL* p) const { SSL_free(p); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyFree>;
using X509Ptr = std::unique_ptr<X509, X509Free>;
using BioPtr = std::unique_ptr<BIO, BioFree>;
using X509ExtensionPtr = std::unique_ptr<X509_EXTENSION, X509ExtensionFree>;
using SslCtxPtr = std::unique_ptr<SSL_CTX, SslCtxFree>;
using SslPtr = std::unique_ptr<SSL, SslFree>;

PkeyPtr newKey() {
  PkeyPtr key(EVP_EC_gen("P-256"));
  if (!key) throwOpenSsl("cannot generate a key");
  return key;
}

std::string drain(BIO* bio) {
  std::string out;
  char buf[4096];
  int n = 0;
  while ((n = BIO_read(bio, buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
  return out;
}

std::string certToPem(X509* cert) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_X509(bio.get(), cert) != 1) throwOpenSsl("cannot write a certificate");
  return drain(bio.get());
}

std::string keyToPem(EVP_PKEY* key) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio ||
      PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    throwOpenSsl("cannot write a key");
  }
  return drain(bio.get());
}

void addExtension(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509ExtensionPtr ext(X509V3_EXT_conf_nid(nullptr, &ctx, nid, value));
  if (!ext || X509_add_ext(cert, ext.get(), -1) != 1) throwOpenSsl("cannot add an extension");
}

void setName(X509_NAME* name, const std::string& common_name) {
  if (X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                                 reinterpret_cast<const unsigned char*>(common_name.c_str()), -1,
                                 -1, 0) != 1) {
    throwOpenSsl("cannot set a name");
  }
}

// A certificate for `subject_key` named `common_name`, signed by `issuer_key` (and named after
// `issuer`, or self-issued when null), valid from an hour ago for a day.
X509Ptr newCertificate(const std::string& common_name, EVP_PKEY* subject_key, X509* issuer,
                       EVP_PKEY* issuer_key, const std::vector<std::pair<int, const char*>>& exts) {
  static std::atomic<long> serial{1};
  X509Ptr cert(X509_new());
  if (!cert) throwOpenSsl("cannot create a certificate");
  X509_set_version(cert.get(), 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()),
                   serial.fetch_add(1) + static_cast<long>(std::random_device()() % 100000) * 1000);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 86400);
  if (X509_set_pubkey(cert.get(), subject_key) != 1) throwOpenSsl("cannot set the key");
  setName(X509_get_subject_name(cert.get()), common_name);
  if (issuer != nullptr) {
    if (X509_set_issuer_name(cert.get(), X509_get_subject_name(issuer)) != 1) {
      throwOpenSsl("cannot set the issuer");
    }
  } else {
    setName(X509_get_issuer_name(cert.get()), common_name);
  }
  X509* issuer_cert = issuer != nullptr ? issuer : cert.get();
  addExtension(cert.get(), issuer_cert, NID_subject_key_identifier, "hash");
  for (const auto& [nid, value] : exts) addExtension(cert.get(), issuer_cert, nid, value);
  if (X509_sign(cert.get(), issuer_key, EVP_sha256()) <= 0) throwOpenSsl("cannot sign");
  return cert;
}

}  // namespace

std::string FakeRequest::header(const std::string& name) const {
  auto it = headers.find(toLower(name));
  return it == headers.end() ? std::string() : it->second;
}

namespace fake_answers {

FakeAnswer enrolled(const FakeIdentity& identity, int64_t heartbeat_interval_s) {
  protocol::EnrollResponse r;
  r.agent_id = identity.agent_id;
  r.secret = identity.secret;
  r.heartbeat_interval_s = heartbeat_interval_s;
  r.server_time_ms = wallNowMs();
  FakeAnswer a;
  a.status = 201;
  a.headers = {{"Content-Type", protocol::kContentType}};
  a.body = protocol::encode(r);
  a.label = "enrolled";
  return a;
}

FakeAnswer heartbeatAccepted(int64_t next_interval_s) {
  protocol::HeartbeatResponse r;
  r.next_interval_s = next_interval_s;
  r.server_time_ms = wallNowMs();
  FakeAnswer a;
  a.status = 200;
  a.headers = {{"Content-Type", protocol::kContentType}};
  a.body = protocol::encode(r);
  a.label = "accepted";
  return a;
}

FakeAnswer vigilError(int status, const std::string& error, const std::string& message,
                      std::optional<int64_t> retry_after_s) {
  protocol::ErrorBody e;
  e.error = error;
  e.message = message;
  e.server_time_ms = wallNowMs();
  FakeAnswer a;
  a.status = status;
  a.headers = {{"Content-Type", protocol::kContentType}};
  if (retry_after_s) a.headers.emplace_back("Retry-After", std::to_string(*retry_after_s));
  a.body = protocol::encode(e);
  a.label = "error " + std::to_string(status) + " " + error;
  return a;
}

FakeAnswer overloaded(int status, int64_t retry_after_s) {
  FakeAnswer a = vigilError(status, protocol::errors::kOverloaded, "shedding load", retry_after_s);
  a.label =
      "overloaded " + std::to_string(status) + " Retry-After " + std::to_string(retry_after_s);
  return a;
}

FakeAnswer garbage() {
  FakeAnswer a;
  a.status = 200;
  a.headers = {{"Content-Type", "application/json"}};
  a.body = "<html>\x01\x02 this is not {\"json\" \xff\xfe";
  a.label = "garbage 200";
  return a;
}

FakeAnswer hugeBody(uint64_t bytes) {
  FakeAnswer a;
  a.status = 200;
  a.headers = {{"Content-Type", "application/json"}};
  a.body = "{\"v\":1,\"pad\":\"";
  a.filler_bytes = bytes > a.body.size() ? bytes - a.body.size() : 0;
  a.label = "huge body " + std::to_string(bytes);
  return a;
}

FakeAnswer unexpectedStatus(int status) {
  FakeAnswer a;
  a.status = status;
  a.headers = {{"Content-Type", "text/plain"}};
  if (status >= 300 && status < 400) a.headers.emplace_back("Location", "http://127.0.0.1:1/");
  a.body = "not a Vigil answer\n";
  a.label = "status " + std::to_string(status);
  return a;
}

FakeAnswer slowDrip(uint64_t body_bytes, std::chrono::milliseconds interval) {
  FakeAnswer a;
  a.kind = FakeAnswer::Kind::kSlowDrip;
  a.status = 200;
  a.headers = {{"Content-Type", "application/json"}};
  a.filler_bytes = body_bytes;
  a.drip_interval = interval;
  a.label = "slow drip";
  return a;
}

FakeAnswer slowHead(uint64_t body_bytes, std::chrono::milliseconds interval) {
  FakeAnswer a = slowDrip(body_bytes, interval);
  a.kind = FakeAnswer::Kind::kSlowHead;
  a.label = "slow head";
  return a;
}

FakeAnswer neverAnswer() {
  FakeAnswer a;
  a.kind = FakeAnswer::Kind::kNeverAnswer;
  a.label = "never answer";
  return a;
}

FakeAnswer closeConnection() {
  FakeAnswer a;
  a.kind = FakeAnswer::Kind::kClose;
  a.label = "close";
  return a;
}

}  // namespace fake_answers

TlsCredentials selfSignedCredentials(const std::string& common_name) {
  PkeyPtr key = newKey();
  const std::string san = "DNS:" + common_name;
  X509Ptr cert = newCertificate(common_name, key.get(), nullptr, key.get(),
                                {{NID_subject_alt_name, san.c_str()},
                                 {NID_basic_constraints, "critical,CA:FALSE"},
                                 {NID_ext_key_usage, "serverAuth"}});
  return {certToPem(cert.get()), keyToPem(key.get())};
}

struct TestCertificateAuthority::Keys {
  PkeyPtr key;
  X509Ptr cert;
};

TestCertificateAuthority::TestCertificateAuthority() : keys_(std::make_unique<Keys>()) {
  keys_->key = newKey();
  keys_->cert = newCertificate("Vigil Test CA", keys_->key.get(), nullptr, keys_->key.get(),
                               {{NID_basic_constraints, "critical,CA:TRUE"},
                                {NID_key_usage, "critical,keyCertSign,cRLSign"}});
  cert_pem_ = certToPem(keys_->cert.get());
}

TestCertificateAuthority::~TestCertificateAuthority() = default;

TlsCredentials TestCertificateAuthority::issueServer(
    const std::vector<std::string>& ip_addresses) const {
  std::string san;
  for (const std::string& ip : ip_addresses) san += "IP:" + ip + ",";
  san += "DNS:localhost";
  PkeyPtr key = newKey();
  const std::string common_name = ip_addresses.empty() ? "localhost" : ip_addresses.front();
  X509Ptr cert = newCertificate(common_name, key.get(), keys_->cert.get(), keys_->key.get(),
                                {{NID_authority_key_identifier, "keyid:always"},
                                 {NID_subject_alt_name, san.c_str()},
                                 {NID_basic_constraints, "critical,CA:FALSE"},
                                 {NID_key_usage, "critical,digitalSignature"},
                                 {NID_ext_key_usage, "serverAuth"}});
  return {certToPem(cert.get()), keyToPem(key.get())};
}

// An SSL_CTX serving one certificate; shared by the connections accepted while it is current.
struct FakeCollector::TlsContext {
  SslCtxPtr ctx;

  explicit TlsContext(const TlsCredentials& credentials) {
    ctx.reset(SSL_CTX_new(TLS_server_method()));
    if (!ctx) throwOpenSsl("cannot create a TLS context");
    SSL_CTX_set_min_proto_version(ctx.get(), TLS1_2_VERSION);
    BioPtr cert_bio(BIO_new_mem_buf(credentials.cert_pem.data(),
                                    static_cast<int>(credentials.cert_pem.size())));
    BioPtr key_bio(
        BIO_new_mem_buf(credentials.key_pem.data(), static_cast<int>(credentials.key_pem.size())));
    if (!cert_bio || !key_bio) throwOpenSsl("cannot read the credentials");
    X509Ptr cert(PEM_read_bio_X509(cert_bio.get(), nullptr, nullptr, nullptr));
    PkeyPtr key(PEM_read_bio_PrivateKey(key_bio.get(), nullptr, nullptr, nullptr));
    if (!cert || !key || SSL_CTX_use_certificate(ctx.get(), cert.get()) != 1 ||
        SSL_CTX_use_PrivateKey(ctx.get(), key.get()) != 1 ||
        SSL_CTX_check_private_key(ctx.get()) != 1) {
      throwOpenSsl("cannot load the TLS credentials");
    }
  }
};

// A connection being served. The serving thread owns the socket; stop() may shut it down (to
// wake a blocked read or write) but only while `fd` is still open, under `mu`.
struct FakeCollector::OpenConnection {
  uint64_t id = 0;
  std::mutex mu;
  int fd = -1;
  std::shared_ptr<TlsContext> tls;  // null: plain HTTP
  SslPtr ssl;
  std::atomic<bool> done{false};

  void shutdownSocket() {
    std::lock_guard<std::mutex> lock(mu);
    if (fd >= 0) ::shutdown(fd, SHUT_RDWR);
  }
  void closeSocket() {
    std::lock_guard<std::mutex> lock(mu);
    if (fd >= 0) ::close(fd);
    fd = -1;
  }
};

FakeCollector::FakeCollector() : FakeCollector(Options{}) {}

FakeCollector::FakeCollector(Options options) : options_(std::move(options)) {
  identity_.secret = randomHex(64);
  script_ = std::make_shared<FakeScript>(normalScript());
  if (options_.tls) tls_context_ = std::make_shared<TlsContext>(*options_.tls);
}

FakeCollector::~FakeCollector() { stop(); }

void FakeCollector::start() {
  if (started_) throw std::logic_error("FakeCollector::start called twice");
  // A client that hangs up mid-answer must fail a write, not kill the test process.
  ::signal(SIGPIPE, SIG_IGN);
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (listen_fd_ < 0) throw std::runtime_error("fake collector: socket failed");
  int one = 1;
  ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::listen(listen_fd_, 64) != 0 ||
      ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    const std::string why = std::strerror(errno);
    ::close(listen_fd_);
    listen_fd_ = -1;
    throw std::runtime_error("fake collector: cannot listen on 127.0.0.1: " + why);
  }
  port_ = ntohs(addr.sin_port);
  if (::pipe2(wake_pipe_, O_CLOEXEC | O_NONBLOCK) != 0) {
    ::close(listen_fd_);
    listen_fd_ = -1;
    throw std::runtime_error("fake collector: pipe failed");
  }
  started_ = true;
  accept_thread_ = std::thread([this] { acceptLoop(); });
}

void FakeCollector::stop() {
  if (!started_ || stopping_.exchange(true)) return;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_cv_.notify_all();
  }
  const char byte = 1;
  (void)!::write(wake_pipe_[1], &byte, 1);
  accept_thread_.join();
  std::list<ConnectionThread> threads;
  {
    std::lock_guard<std::mutex> lock(mu_);
    threads.swap(connection_threads_);
  }
  for (auto& t : threads) t.conn->shutdownSocket();
  for (auto& t : threads) t.thread.join();
  ::close(listen_fd_);
  ::close(wake_pipe_[0]);
  ::close(wake_pipe_[1]);
  listen_fd_ = wake_pipe_[0] = wake_pipe_[1] = -1;
}

std::string FakeCollector::url() const {
  return std::string(options_.tls ? "https" : "http") + "://127.0.0.1:" + std::to_string(port_);
}

void FakeCollector::setScript(FakeScript script) {
  std::lock_guard<std::mutex> lock(mu_);
  script_ = std::make_shared<FakeScript>(std::move(script));
}

FakeAnswer FakeCollector::normalAnswer(const FakeRequest& request) const {
  const bool post = request.method == "POST";
  if (request.target == protocol::kEnrollPath) {
    return post ? fake_answers::enrolled(identity_, options_.heartbeat_interval_s)
                : fake_answers::vigilError(405, protocol::errors::kMethodNotAllowed, "POST only");
  }
  if (request.target == protocol::kHeartbeatPath) {
    return post ? fake_answers::heartbeatAccepted(options_.heartbeat_interval_s)
                : fake_answers::vigilError(405, protocol::errors::kMethodNotAllowed, "POST only");
  }
  return fake_answers::vigilError(404, protocol::errors::kNotFound, "no such path");
}

FakeScript FakeCollector::normalScript() const {
  return [this](const FakeRequest& request) { return normalAnswer(request); };
}

void FakeCollector::setTlsCredentials(const TlsCredentials& credentials) {
  auto context = std::make_shared<TlsContext>(credentials);
  std::lock_guard<std::mutex> lock(mu_);
  tls_context_ = std::move(context);
}

std::vector<FakeRequest> FakeCollector::requests() const {
  std::lock_guard<std::mutex> lock(mu_);
  return requests_;
}

size_t FakeCollector::requestCount() const {
  std::lock_guard<std::mutex> lock(mu_);
  return requests_.size();
}

std::vector<FakeConnection> FakeCollector::connections() const {
  std::lock_guard<std::mutex> lock(mu_);
  return connections_;
}

std::vector<FakeRequest> FakeCollector::requestsTo(const std::string& target) const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<FakeRequest> out;
  for (const auto& r : requests_) {
    if (r.target == target) out.push_back(r);
  }
  return out;
}

bool FakeCollector::sleepFor(std::chrono::milliseconds d) {
  std::unique_lock<std::mutex> lock(mu_);
  return !stop_cv_.wait_for(lock, d, [this] { return stopping_.load(); });
}

void FakeCollector::reapFinishedThreads() {
  std::list<ConnectionThread> finished;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto it = connection_threads_.begin(); it != connection_threads_.end();) {
      if (it->conn->done.load()) {
        finished.splice(finished.end(), connection_threads_, it++);
      } else {
        ++it;
      }
    }
  }
  for (auto& t : finished) t.thread.join();
}

void FakeCollector::acceptLoop() {
  uint64_t next_id = 0;
  while (!stopping_.load()) {
    pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {wake_pipe_[0], POLLIN, 0}};
    const int n = ::poll(fds, 2, 1000);
    reapFinishedThreads();
    if (n <= 0 || !(fds[0].revents & POLLIN)) continue;
    const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    timeval send_timeout{kSendTimeoutS, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &send_timeout, sizeof send_timeout);
    auto conn = std::make_shared<OpenConnection>();
    conn->id = next_id++;
    conn->fd = fd;
    FakeConnection record;
    record.id = conn->id;
    record.accepted = std::chrono::steady_clock::now();
    {
      std::lock_guard<std::mutex> lock(mu_);
      conn->tls = tls_context_;
      record.tls = conn->tls != nullptr;
      connections_.push_back(record);
      connection_threads_.push_back({conn, std::thread()});
      connection_threads_.back().thread = std::thread([this, conn] { serveConnection(conn); });
    }
  }
}

namespace {

// Reads and writes one connection, plain or TLS, giving up when the fake stops.
class ConnectionIo {
 public:
  ConnectionIo(int fd, SSL* ssl, const std::atomic<bool>& stopping)
      : fd_(fd), ssl_(ssl), stopping_(stopping) {}

  // Waits until readable; false on stop.
  bool waitReadable() {
    while (!stopping_.load()) {
      if (ssl_ != nullptr && SSL_pending(ssl_) > 0) return true;
      pollfd p{fd_, POLLIN, 0};
      const int n = ::poll(&p, 1, kPollSliceMs);
      if (n > 0) return true;
      if (n < 0 && errno != EINTR) return false;
    }
    return false;
  }

  // Bytes read, 0 at end of stream, -1 on error or stop.
  ssize_t readSome(char* buf, size_t size) {
    if (!waitReadable()) return -1;
    if (ssl_ != nullptr) {
      const int n = SSL_read(ssl_, buf, static_cast<int>(size));
      if (n > 0) return n;
      return SSL_get_error(ssl_, n) == SSL_ERROR_ZERO_RETURN ? 0 : -1;
    }
    ssize_t n = 0;
    do {
      n = ::recv(fd_, buf, size, 0);
    } while (n < 0 && errno == EINTR);
    return n;
  }

  bool writeAll(const char* data, size_t size) {
    while (size > 0) {
      if (stopping_.load()) return false;
      ssize_t n = 0;
      if (ssl_ != nullptr) {
        n = SSL_write(ssl_, data, static_cast<int>(std::min<size_t>(size, 1 << 20)));
        if (n <= 0) return false;
      } else {
        n = ::send(fd_, data, size, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return false;
      }
      data += n;
      size -= static_cast<size_t>(n);
    }
    return true;
  }
  bool writeAll(const std::string& s) { return writeAll(s.data(), s.size()); }

 private:
  int fd_;
  SSL* ssl_;
  const std::atomic<bool>& stopping_;
};

// A parsed request head.
struct RequestHead {
  std::string method;
  std::string target;
  std::map<std::string, std::string> headers;
};

std::optional<RequestHead> parseHead(const std::string& head) {
  RequestHead out;
  size_t line_end = head.find("\r\n");
  const std::string request_line = head.substr(0, line_end);
  const size_t sp1 = request_line.find(' ');
  const size_t sp2 = request_line.rfind(' ');
  if (sp1 == std::string::npos || sp2 == sp1) return std::nullopt;
  out.method = request_line.substr(0, sp1);
  out.target = request_line.substr(sp1 + 1, sp2 - sp1 - 1);
  size_t pos = line_end + 2;
  while (pos < head.size()) {
    line_end = head.find("\r\n", pos);
    if (line_end == std::string::npos) line_end = head.size();
    const std::string line = head.substr(pos, line_end - pos);
    pos = line_end + 2;
    if (line.empty()) continue;
    const size_t colon = line.find(':');
    if (colon == std::string::npos) return std::nullopt;
    out.headers[toLower(trim(line.substr(0, colon)))] = trim(line.substr(colon + 1));
  }
  return out;
}

std::string responseHead(const FakeAnswer& answer, uint64_t content_length) {
  std::string head = "HTTP/1.1 " + std::to_string(answer.status) + " " +
                     (answer.reason.empty() ? reasonPhrase(answer.status) : answer.reason) + "\r\n";
  for (const auto& [name, value] : answer.headers) {
    head.append(name).append(": ").append(value).append("\r\n");
  }
  head += "Content-Length: " + std::to_string(content_length) + "\r\n\r\n";
  return head;
}

}  // namespace

void FakeCollector::serveConnection(const std::shared_ptr<OpenConnection>& conn) {
  auto update = [&](const std::function<void(FakeConnection&)>& f) {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& c : connections_) {
      if (c.id == conn->id) f(c);
    }
  };
  auto finish = [&] {
    if (conn->ssl) SSL_shutdown(conn->ssl.get());
    conn->ssl.reset();
    conn->closeSocket();
    conn->done.store(true);
  };

  if (conn->tls) {
    conn->ssl.reset(SSL_new(conn->tls->ctx.get()));
    // The handshake blocks; a silent client is cut off after kSendTimeoutS, stop() sooner.
    timeval handshake_timeout{kSendTimeoutS, 0};
    ::setsockopt(conn->fd, SOL_SOCKET, SO_RCVTIMEO, &handshake_timeout, sizeof handshake_timeout);
    ERR_clear_error();
    if (!conn->ssl || SSL_set_fd(conn->ssl.get(), conn->fd) != 1 ||
        SSL_accept(conn->ssl.get()) != 1) {
      const std::string error = openSslError("TLS handshake failed");
      update([&](FakeConnection& c) { c.tls_error = error; });
      conn->ssl.reset();
      finish();
      return;
    }
    update([](FakeConnection& c) { c.handshake_ok = true; });
  }

  ConnectionIo io(conn->fd, conn->ssl.get(), stopping_);
  std::string buffer;
  char chunk[16 * 1024];
  while (!stopping_.load()) {
    // Read one request head.
    size_t head_end = std::string::npos;
    while ((head_end = buffer.find("\r\n\r\n")) == std::string::npos) {
      if (buffer.size() > kMaxHeadBytes) break;
      const ssize_t n = io.readSome(chunk, sizeof chunk);
      if (n <= 0) {
        finish();
        return;
      }
      buffer.append(chunk, static_cast<size_t>(n));
    }
    std::optional<RequestHead> head;
    if (head_end != std::string::npos) head = parseHead(buffer.substr(0, head_end + 2));
    if (!head) {
      io.writeAll(responseHead(fake_answers::unexpectedStatus(400), 0));
      break;
    }
    buffer.erase(0, head_end + 4);
    if (!head->headers["transfer-encoding"].empty()) {
      // The agent always sends Content-Length; chunked uploads are not supported.
      io.writeAll(responseHead(fake_answers::unexpectedStatus(501), 0));
      break;
    }
    const uint64_t length = std::strtoull(head->headers["content-length"].c_str(), nullptr, 10);
    if (length > kMaxRequestBodyBytes) {
      io.writeAll(responseHead(fake_answers::unexpectedStatus(413), 0));
      break;
    }
    bool complete = true;
    while (buffer.size() < length) {
      const ssize_t n = io.readSome(chunk, sizeof chunk);
      if (n <= 0) {
        complete = false;
        break;
      }
      buffer.append(chunk, static_cast<size_t>(n));
    }
    if (!complete) break;

    FakeRequest request;
    request.connection_id = conn->id;
    request.tls = conn->tls != nullptr;
    request.method = std::move(head->method);
    request.target = std::move(head->target);
    request.headers = std::move(head->headers);
    request.body = buffer.substr(0, length);
    buffer.erase(0, length);
    request.arrived = std::chrono::steady_clock::now();
    request.arrived_unix_ms = wallNowMs();
    {
      std::lock_guard<std::mutex> lock(mu_);
      request.index = requests_.size();
      requests_.push_back(request);
    }
    update([](FakeConnection& c) { ++c.requests; });

    FakeAnswer answer;
    {
      // The script itself, not a copy: a stateful script keeps its state across calls.
      std::lock_guard<std::mutex> script_lock(script_mu_);
      std::shared_ptr<FakeScript> script;
      {
        std::lock_guard<std::mutex> lock(mu_);
        script = script_;
      }
      answer = (*script)(request);
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      requests_[request.index].answered_with = answer.label;
    }

    bool keep_open = toLower(request.header("connection")) != "close";
    switch (answer.kind) {
      case FakeAnswer::Kind::kRespond: {
        keep_open = keep_open &&
                    io.writeAll(responseHead(answer, answer.body.size() + answer.filler_bytes)) &&
                    io.writeAll(answer.body);
        const std::string filler(kFillerChunk, 'x');
        for (uint64_t left = answer.filler_bytes; keep_open && left > 0;) {
          const size_t n = static_cast<size_t>(std::min<uint64_t>(left, kFillerChunk));
          keep_open = io.writeAll(filler.data(), n);
          left -= n;
        }
        break;
      }
      // A drip goes on until the client hangs up, whatever its Connection header asked.
      case FakeAnswer::Kind::kSlowDrip: {
        const std::string all = answer.body + std::string(answer.filler_bytes, 'x');
        bool sending = io.writeAll(responseHead(answer, all.size()));
        for (size_t i = 0; sending && i < all.size(); ++i) {
          sending = sleepFor(answer.drip_interval) && io.writeAll(&all[i], 1);
        }
        keep_open = keep_open && sending;
        break;
      }
      case FakeAnswer::Kind::kSlowHead: {
        const std::string body = answer.body + std::string(answer.filler_bytes, 'x');
        const std::string all = responseHead(answer, body.size()) + body;
        bool sending = true;
        for (size_t i = 0; sending && i < all.size(); ++i) {
          sending = sleepFor(answer.drip_interval) && io.writeAll(&all[i], 1);
        }
        keep_open = keep_open && sending;
        break;
      }
      case FakeAnswer::Kind::kNeverAnswer:
        // Until the client hangs up (or the fake stops); anything it sends is dropped.
        while (io.readSome(chunk, sizeof chunk) > 0) {
        }
        keep_open = false;
        break;
      case FakeAnswer::Kind::kClose:
        keep_open = false;
        break;
    }
    if (!keep_open) break;
  }
  finish();
}

}  // namespace vigil::testing
