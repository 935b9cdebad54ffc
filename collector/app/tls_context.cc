#include "collector/app/tls_context.h"

#include <Poco/Exception.h>
#include <Poco/Net/NetSSL.h>
#include <openssl/bio.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <signal.h>
#include <sys/stat.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <utility>

namespace vigil::collector {
namespace {

// Set by the SIGHUP handler, taken by the reloader's thread.
std::atomic<bool> g_sighup{false};
static_assert(std::atomic<bool>::is_always_lock_free, "used from a signal handler");

void onSighup(int /*signo*/) { g_sighup.store(true); }

struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};
using BioPtr = std::unique_ptr<BIO, BioFree>;

// The first queued OpenSSL error, as text ("" if none), clearing the queue.
std::string openSslError() {
  const unsigned long code = ERR_get_error();
  ERR_clear_error();
  if (code == 0) return "";
  char buffer[256];
  ERR_error_string_n(code, buffer, sizeof buffer);
  return buffer;
}

std::string withReason(std::string message) {
  const std::string reason = openSslError();
  if (!reason.empty()) message += " (" + reason + ")";
  return message;
}

std::string asn1TimeText(const ASN1_TIME* time) {
  std::tm tm{};
  if (time == nullptr || ASN1_TIME_to_tm(time, &tm) != 1) return "?";
  char buffer[32];
  std::strftime(buffer, sizeof buffer, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buffer;
}

std::string describe(X509* certificate) {
  std::string subject = "?";
  if (BioPtr bio{BIO_new(BIO_s_mem())}) {
    X509_NAME_print_ex(bio.get(), X509_get_subject_name(certificate), 0, XN_FLAG_RFC2253);
    char* data = nullptr;
    const long len = BIO_get_mem_data(bio.get(), &data);
    if (len > 0) subject.assign(data, static_cast<size_t>(len));
  }
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int digest_len = 0;
  std::string fingerprint;
  if (X509_digest(certificate, EVP_sha256(), digest, &digest_len) == 1) {
    for (unsigned int i = 0; i < digest_len; ++i) {
      char hex[4];
      std::snprintf(hex, sizeof hex, i == 0 ? "%02x" : ":%02x", digest[i]);
      fingerprint += hex;
    }
  }
  return subject + ", expires " + asn1TimeText(X509_get0_notAfter(certificate)) + ", sha256 " +
         fingerprint;
}

// SSL_CTX_set_cert_cb: presents the current certificate on each new handshake.
int presentCurrentCertificate(SSL* ssl, void* arg) {
  auto* holder = static_cast<ServerCertificate*>(arg);
  std::shared_ptr<const CertifiedKey> current = holder->current();
  if (!current) return 0;
  // Takes its own references: the pair may be replaced while this connection lives.
  return SSL_use_cert_and_key(ssl, current->certificate(), current->key(), current->chain(),
                              /*override=*/1) == 1
             ? 1
             : 0;
}

// The SSL_CTX's slots holding its SessionTicketKeys and TlsHandshakeCounts (OpenSSL's
// callbacks have no argument).
int ticketKeysIndex() {
  static const int index = SSL_CTX_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}
int handshakeCountsIndex() {
  static const int index = SSL_CTX_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}

}  // namespace

OpenSslLibrary::OpenSslLibrary() { Poco::Net::initializeSSL(); }
OpenSslLibrary::~OpenSslLibrary() { Poco::Net::uninitializeSSL(); }

CertifiedKey::~CertifiedKey() {
  if (chain_ != nullptr) sk_X509_pop_free(chain_, X509_free);
  if (key_ != nullptr) EVP_PKEY_free(key_);
  if (certificate_ != nullptr) X509_free(certificate_);
}

Result<std::shared_ptr<const CertifiedKey>> CertifiedKey::load(const std::string& certificate_path,
                                                               const std::string& key_path) {
  ERR_clear_error();
  std::shared_ptr<CertifiedKey> loaded(new CertifiedKey());
  BioPtr certs{BIO_new_file(certificate_path.c_str(), "r")};
  if (!certs) {
    return Status::invalidArgument(withReason("cannot open certificate file " + certificate_path));
  }
  loaded->certificate_ = PEM_read_bio_X509(certs.get(), nullptr, nullptr, nullptr);
  if (loaded->certificate_ == nullptr) {
    return Status::invalidArgument(
        withReason("no PEM certificate in certificate file " + certificate_path));
  }
  loaded->chain_ = sk_X509_new_null();
  if (loaded->chain_ == nullptr) return Status::internal("out of memory");
  while (X509* extra = PEM_read_bio_X509(certs.get(), nullptr, nullptr, nullptr)) {
    if (sk_X509_push(loaded->chain_, extra) == 0) {
      X509_free(extra);
      return Status::internal("out of memory");
    }
  }
  ERR_clear_error();  // the end of the file ends the loop with a "no start line" error

  BioPtr key{BIO_new_file(key_path.c_str(), "r")};
  if (!key) return Status::invalidArgument(withReason("cannot open private key file " + key_path));
  loaded->key_ = PEM_read_bio_PrivateKey(key.get(), nullptr, nullptr, const_cast<char*>(""));
  if (loaded->key_ == nullptr) {
    return Status::invalidArgument(
        withReason("no unencrypted PEM private key in private key file " + key_path));
  }
  if (X509_check_private_key(loaded->certificate_, loaded->key_) != 1) {
    return Status::invalidArgument(withReason("the private key in " + key_path +
                                              " does not belong to the certificate in " +
                                              certificate_path));
  }
  loaded->description_ = describe(loaded->certificate_);
  return std::shared_ptr<const CertifiedKey>(std::move(loaded));
}

Status CertifiedKey::validAt(std::chrono::system_clock::time_point now) const {
  const time_t t = std::chrono::system_clock::to_time_t(now);
  if (X509_cmp_time(X509_get0_notBefore(certificate_), const_cast<time_t*>(&t)) > 0) {
    return Status::failedPrecondition("the certificate is not valid before " +
                                      asn1TimeText(X509_get0_notBefore(certificate_)));
  }
  if (X509_cmp_time(X509_get0_notAfter(certificate_), const_cast<time_t*>(&t)) < 0) {
    return Status::failedPrecondition("the certificate expired at " +
                                      asn1TimeText(X509_get0_notAfter(certificate_)));
  }
  return Status::okStatus();
}

SessionTicketKeys::SessionTicketKeys() : current_(randomKey()) {}

SessionTicketKeys::Key SessionTicketKeys::randomKey() {
  Key key;
  if (RAND_bytes(key.name.data(), static_cast<int>(key.name.size())) != 1 ||
      RAND_bytes(key.cipher.data(), static_cast<int>(key.cipher.size())) != 1 ||
      RAND_bytes(key.mac.data(), static_cast<int>(key.mac.size())) != 1) {
    // No randomness: a key nobody can guess cannot be made. Without a working generator the
    // handshakes themselves fail too.
    std::abort();
  }
  return key;
}

void SessionTicketKeys::rotate() {
  Key next = randomKey();
  MutexLock lock(mu_);
  previous_ = current_;
  current_ = next;
}

Status SessionTicketKeys::attachTo(SSL_CTX* context) {
  if (ticketKeysIndex() < 0 || SSL_CTX_set_ex_data(context, ticketKeysIndex(), this) != 1) {
    return Status::internal(withReason("cannot attach the session ticket keys"));
  }
  if (SSL_CTX_set_tlsext_ticket_key_evp_cb(context, &SessionTicketKeys::onTicket) != 1) {
    return Status::internal(withReason("cannot set the session ticket callback"));
  }
  return Status::okStatus();
}

int SessionTicketKeys::onTicket(SSL* ssl, unsigned char* key_name, unsigned char* iv,
                                EVP_CIPHER_CTX* cipher, EVP_MAC_CTX* mac, int seal) {
  const auto* keys = static_cast<const SessionTicketKeys*>(
      SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), ticketKeysIndex()));
  if (keys == nullptr) return -1;
  return keys->sealOrOpen(key_name, iv, cipher, mac, seal == 1);
}

// OpenSSL's contract: sealing returns 1 (or -1: no ticket); opening returns 0 for an unknown
// key (a full handshake), 1 to resume, 2 to resume and send a new ticket. Every resumption
// gets a new ticket: TLS 1.3 clients use a ticket once (RFC 8446, C.4; libcurl 7.88 with
// OpenSSL 3 resumes only every other connection otherwise), and a ticket sealed with the
// previous key is replaced by one sealed with the current key.
int SessionTicketKeys::sealOrOpen(unsigned char* key_name, unsigned char* iv,
                                  EVP_CIPHER_CTX* cipher, EVP_MAC_CTX* mac, bool seal) const {
  Key key;
  {
    MutexLock lock(mu_);
    // Sealing takes the current key; opening the key the ticket names, current or previous.
    if (seal || std::memcmp(key_name, current_.name.data(), current_.name.size()) == 0) {
      key = current_;
    } else if (previous_ &&
               std::memcmp(key_name, previous_->name.data(), previous_->name.size()) == 0) {
      key = *previous_;
    } else {
      return 0;
    }
  }
  char digest[] = "SHA256";
  const OSSL_PARAM params[] = {
      OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_KEY, key.mac.data(), key.mac.size()),
      OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
      OSSL_PARAM_construct_end()};
  if (EVP_MAC_CTX_set_params(mac, params) != 1) return -1;
  if (seal) {
    const int iv_length = EVP_CIPHER_get_iv_length(EVP_aes_256_cbc());
    std::memcpy(key_name, key.name.data(), key.name.size());
    if (RAND_bytes(iv, iv_length) != 1 ||
        EVP_EncryptInit_ex(cipher, EVP_aes_256_cbc(), nullptr, key.cipher.data(), iv) != 1) {
      return -1;
    }
    return 1;
  }
  if (EVP_DecryptInit_ex(cipher, EVP_aes_256_cbc(), nullptr, key.cipher.data(), iv) != 1) {
    return -1;
  }
  return 2;
}

Status TlsHandshakeCounts::attachTo(SSL_CTX* context) {
  if (handshakeCountsIndex() < 0 ||
      SSL_CTX_set_ex_data(context, handshakeCountsIndex(), this) != 1) {
    return Status::internal(withReason("cannot attach the handshake counters"));
  }
  SSL_CTX_set_info_callback(context, &TlsHandshakeCounts::onInfo);
  return Status::okStatus();
}

// Called once per completed handshake with SSL_CB_HANDSHAKE_DONE (OpenSSL 3.0, server side,
// TLS 1.2 and 1.3; the tickets sent with a TLS 1.3 handshake do not add a call).
void TlsHandshakeCounts::onInfo(const SSL* ssl, int where, int /*ret*/) {
  if ((where & SSL_CB_HANDSHAKE_DONE) == 0) return;
  auto* counts = static_cast<TlsHandshakeCounts*>(
      SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), handshakeCountsIndex()));
  if (counts == nullptr) return;
  auto& counter = SSL_session_reused(ssl) == 1 ? counts->resumed_ : counts->full_;
  counter.fetch_add(1, std::memory_order_relaxed);
}

MetricsSource tlsHandshakeMetrics(const TlsHandshakeCounts& counts) {
  return [&counts](MetricsWriter& w) {
    w.family("vigil_tls_handshakes_total", MetricType::kCounter,
             "TLS handshakes completed, full or resuming a session");
    w.sample(static_cast<double>(counts.full()), {{"kind", "full"}});
    w.sample(static_cast<double>(counts.resumed()), {{"kind", "resumed"}});
  };
}

ServerCertificate::ServerCertificate(std::shared_ptr<const CertifiedKey> initial)
    : current_(std::move(initial)) {}

std::shared_ptr<const CertifiedKey> ServerCertificate::current() const {
  MutexLock lock(mu_);
  return current_;
}

void ServerCertificate::replace(std::shared_ptr<const CertifiedKey> next) {
  {
    MutexLock lock(mu_);
    current_ = std::move(next);
  }
  ticket_keys_.rotate();
}

Status ServerCertificate::attachTo(SSL_CTX* context) {
  std::shared_ptr<const CertifiedKey> initial = current();
  if (!initial) return Status::failedPrecondition("no certificate");
  // The context's own pair is a fallback; the callback overrides it per handshake.
  if (SSL_CTX_use_cert_and_key(context, initial->certificate(), initial->key(), initial->chain(),
                               /*override=*/1) != 1) {
    return Status::invalidArgument(withReason("OpenSSL refused the certificate and key"));
  }
  SSL_CTX_set_cert_cb(context, &presentCurrentCertificate, this);
  return Status::okStatus();
}

Result<Poco::Net::Context::Ptr> makeServerContext(ServerCertificate& certificate,
                                                  SessionResumption resumption,
                                                  TlsHandshakeCounts* handshakes) {
  Poco::Net::Context::Params params;
  params.verificationMode = Poco::Net::Context::VERIFY_NONE;
  params.loadDefaultCAs = false;
  params.cipherList = kTls12CipherList;
  params.ecdhCurve = kTlsGroups;
  params.dhUse2048Bits = true;
  Poco::Net::Context::Ptr context;
  try {
    context = new Poco::Net::Context(Poco::Net::Context::TLS_SERVER_USE, params);
    context->requireMinimumProtocol(Poco::Net::Context::PROTO_TLSV1_2);
  } catch (const Poco::Exception& e) {
    return Status::invalidArgument("cannot create the TLS context: " + e.displayText());
  }
  SSL_CTX* ssl = context->sslContext();
  ERR_clear_error();
  if (SSL_CTX_set_min_proto_version(ssl, TLS1_2_VERSION) != 1 ||
      SSL_CTX_set_max_proto_version(ssl, TLS1_3_VERSION) != 1) {
    return Status::internal(withReason("cannot limit the TLS versions to 1.2 and 1.3"));
  }
  if (SSL_CTX_set_cipher_list(ssl, kTls12CipherList) != 1 ||
      SSL_CTX_set_ciphersuites(ssl, kTls13CipherSuites) != 1) {
    return Status::internal(withReason("cannot set the cipher suites"));
  }
  if (SSL_CTX_set1_groups_list(ssl, kTlsGroups) != 1) {
    return Status::internal(withReason("cannot set the key exchange groups"));
  }
  // Mozilla intermediate: the client picks (it knows whether it has AES hardware).
  SSL_CTX_clear_options(ssl, SSL_OP_CIPHER_SERVER_PREFERENCE);
  SSL_CTX_set_options(ssl, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
  if (resumption.tickets) {
    // OpenSSL (and Poco 1.11's Context) issue tickets by default, sealed with a key made with
    // the context and kept for its life; ours rotate with each certificate reload.
    SSL_CTX_clear_options(ssl, SSL_OP_NO_TICKET);
    // TLS 1.3: one ticket per handshake (OpenSSL sends two); an agent keeps only the last.
    SSL_CTX_set_num_tickets(ssl, 1);
    if (Status s = certificate.ticketKeys().attachTo(ssl); !s.ok()) return s;
  } else {
    SSL_CTX_set_options(ssl, SSL_OP_NO_TICKET);
  }
  // The session (and ticket) lifetime also holds without a cache.
  SSL_CTX_set_timeout(ssl, resumption.timeout_s);
  if (resumption.cache_size > 0) {
    context->enableSessionCache(true, "vigil-collector");
    context->setSessionCacheSize(static_cast<size_t>(resumption.cache_size));
    context->setSessionTimeout(resumption.timeout_s);
  } else if (resumption.tickets) {
    // Tickets only: the context id that a resumed session must match.
    static const unsigned char kSessionContext[] = "vigil-collector";
    SSL_CTX_set_session_id_context(ssl, kSessionContext, sizeof kSessionContext - 1);
    SSL_CTX_set_session_cache_mode(ssl, SSL_SESS_CACHE_OFF);
  }
  if (handshakes != nullptr) {
    if (Status s = handshakes->attachTo(ssl); !s.ok()) return s;
  }
  if (Status s = certificate.attachTo(ssl); !s.ok()) return s;
  return context;
}

CertificateReloader::CertificateReloader(ServerCertificate& certificate,
                                         std::string certificate_path, std::string key_path,
                                         Poco::Logger& logger)
    : certificate_(certificate),
      certificate_path_(std::move(certificate_path)),
      key_path_(std::move(key_path)),
      logger_(logger),
      loaded_(stampFiles()) {}

CertificateReloader::~CertificateReloader() { stop(); }

CertificateReloader::Stamps CertificateReloader::stampFiles() const {
  auto stamp = [](const std::string& path) -> std::optional<FileStamp> {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) return std::nullopt;
    FileStamp s;
    s.device = st.st_dev;
    s.inode = st.st_ino;
    s.size = st.st_size;
    s.mtime_ns = static_cast<int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
    return s;
  };
  return Stamps{stamp(certificate_path_), stamp(key_path_)};
}

CertificateReloader::Outcome CertificateReloader::checkNow(
    bool force, std::chrono::system_clock::time_point now) {
  const Stamps stamps = stampFiles();
  if (!force && stamps == loaded_) return Outcome::kUnchanged;
  if (!force && refused_ && stamps == *refused_) return Outcome::kRefused;  // logged already
  auto loaded = CertifiedKey::load(certificate_path_, key_path_);
  Status problem = loaded.ok() ? loaded.value()->validAt(now) : loaded.error();
  if (!problem.ok()) {
    refused_ = stamps;
    logger_.error("TLS certificate reload refused, still serving the previous certificate: " +
                  problem.message());
    return Outcome::kRefused;
  }
  certificate_.replace(loaded.value());
  loaded_ = stamps;
  refused_.reset();
  logger_.notice("TLS certificate reloaded: new connections get " + loaded.value()->description());
  return Outcome::kReloaded;
}

void CertificateReloader::onTimer() {
  const bool hup = g_sighup.exchange(false);
  bool poll = false;
  if (poll_interval_.count() > 0) {
    since_poll_ += std::chrono::seconds(1);
    if (since_poll_ >= poll_interval_) {
      since_poll_ = std::chrono::seconds(0);
      poll = true;
    }
  }
  if (hup) logger_.information("SIGHUP: reloading the TLS certificate");
  if (hup || poll) checkNow(hup, std::chrono::system_clock::now());
}

void CertificateReloader::start(std::chrono::seconds poll_interval) {
  poll_interval_ = poll_interval;
  struct sigaction action {};
  action.sa_handler = &onSighup;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;
  ::sigaction(SIGHUP, &action, nullptr);
  thread_ = std::make_unique<PeriodicThread>(std::chrono::seconds(1), [this] { onTimer(); });
  thread_->start();
}

void CertificateReloader::stop() {
  if (thread_) thread_->stop();
  thread_.reset();
}

}  // namespace vigil::collector
