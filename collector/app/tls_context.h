#pragma once

// The collector's TLS listener configuration (docs/operations.md, "TLS").
//
// makeServerContext() builds a Poco::Net::Context with Mozilla's "intermediate" profile:
// TLS 1.2 and 1.3 only; TLS 1.2 ciphers ECDHE with AES-GCM or ChaCha20-Poly1305 (no DHE, no
// CBC, no static RSA); TLS 1.3's three standard suites; groups X25519, P-256, P-384; the
// client's cipher preference; no renegotiation, no compression; no client certificates.
// Sessions resume (agents reconnect for most heartbeats): by session tickets, whose keys the
// collector holds and rotates with each certificate reload, and for TLS 1.2 clients without
// tickets by the session cache.
//
// The certificate is not fixed in the context: each new handshake takes the current one from
// a ServerCertificate (SSL_CTX_set_cert_cb), so CertificateReloader can swap in a renewed
// certificate without a restart. Connections already open keep the certificate they were
// established with; nothing is dropped. A new pair that does not load, does not match, or is
// not valid now is refused with a log line and the current one stays.

#include <Poco/Logger.h>
#include <Poco/Net/Context.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <sys/types.h>

#include <array>
#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "collector/http/metrics.h"
#include "common/mutex.h"
#include "common/periodic_thread.h"
#include "common/status.h"

namespace vigil::collector {

// Poco's NetSSL initialisation (Poco::Net::initializeSSL) for the owner's lifetime.
class OpenSslLibrary {
 public:
  OpenSslLibrary();
  ~OpenSslLibrary();
  OpenSslLibrary(const OpenSslLibrary&) = delete;
  OpenSslLibrary& operator=(const OpenSslLibrary&) = delete;
};

// Mozilla intermediate, TLS 1.2 (OpenSSL names). TLS 1.3 uses OpenSSL's default suites.
constexpr char kTls12CipherList[] =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";
constexpr char kTls13CipherSuites[] =
    "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256";
constexpr char kTlsGroups[] = "X25519:prime256v1:secp384r1";

// A certificate (leaf first, then its chain) with its private key, checked to match.
// Immutable once loaded.
class CertifiedKey {
 public:
  // Reads PEM files: `certificate_path` holds the leaf certificate followed by any
  // intermediates (a "full chain"); `key_path` the unencrypted private key. Fails with a
  // message naming the file and the problem.
  static Result<std::shared_ptr<const CertifiedKey>> load(const std::string& certificate_path,
                                                          const std::string& key_path);
  ~CertifiedKey();
  CertifiedKey(const CertifiedKey&) = delete;
  CertifiedKey& operator=(const CertifiedKey&) = delete;

  X509* certificate() const { return certificate_; }
  EVP_PKEY* key() const { return key_; }
  STACK_OF(X509) * chain() const { return chain_; }
  // "CN=..., expires 2027-01-01T00:00:00Z, sha256 ab:cd:..." for logs.
  const std::string& description() const { return description_; }
  // OK if `now` is within the leaf's validity period.
  Status validAt(std::chrono::system_clock::time_point now) const;

 private:
  CertifiedKey() = default;
  X509* certificate_ = nullptr;
  EVP_PKEY* key_ = nullptr;
  STACK_OF(X509) * chain_ = nullptr;
  std::string description_;
};

// The keys that seal and open TLS session tickets (RFC 5077, RFC 8446 4.6.1): the current key
// seals new tickets; the previous one still opens tickets sealed before the last rotation,
// and their holders get a new ticket. Random, in memory only: a restart starts new keys
// (each agent then pays one full handshake). Thread-safe.
class SessionTicketKeys {
 public:
  SessionTicketKeys();  // a random current key, no previous one
  void rotate();        // the current key becomes the previous one; a new random current key

  // Makes `context` seal and open its tickets with these keys. REQUIRES: this outlives every
  // connection of `context`.
  Status attachTo(SSL_CTX* context);

 private:
  struct Key {
    std::array<unsigned char, 16> name{};
    std::array<unsigned char, 32> cipher{};  // AES-256-CBC
    std::array<unsigned char, 32> mac{};     // HMAC-SHA256
  };
  static Key randomKey();
  static int onTicket(SSL* ssl, unsigned char* key_name, unsigned char* iv, EVP_CIPHER_CTX* cipher,
                      EVP_MAC_CTX* mac, int seal);
  int sealOrOpen(unsigned char* key_name, unsigned char* iv, EVP_CIPHER_CTX* cipher,
                 EVP_MAC_CTX* mac, bool seal) const;

  mutable Mutex mu_;
  Key current_ GUARDED_BY(mu_);
  std::optional<Key> previous_ GUARDED_BY(mu_);
};

// The certificate new handshakes use, and the session ticket keys, rotated with each
// replacement (a renewed certificate also ends the old key's sealing). Thread-safe.
class ServerCertificate {
 public:
  explicit ServerCertificate(std::shared_ptr<const CertifiedKey> initial);

  std::shared_ptr<const CertifiedKey> current() const;
  void replace(std::shared_ptr<const CertifiedKey> next);
  SessionTicketKeys& ticketKeys() { return ticket_keys_; }

  // Makes every new handshake on `context` present current(). REQUIRES: this outlives every
  // connection of `context`.
  Status attachTo(SSL_CTX* context);

 private:
  mutable Mutex mu_;
  std::shared_ptr<const CertifiedKey> current_ GUARDED_BY(mu_);
  SessionTicketKeys ticket_keys_;
};

// How TLS sessions resume. Agents reconnect for most heartbeats; a resumed handshake skips the
// certificate signature and its verification, the costliest steps. With tickets the server
// keeps nothing per session (TLS 1.3, and TLS 1.2 clients that accept tickets); the cache holds
// the sessions of TLS 1.2 clients without tickets (about 1 KiB each, see docs/operations.md).
struct SessionResumption {
  bool tickets = true;
  int cache_size = 100000;  // 0: no cache
  int timeout_s = 7200;     // a session (and a ticket) resumes for this long
};

// Completed TLS handshakes of a context: full, or resuming a session (by ticket or cache).
// Thread-safe.
class TlsHandshakeCounts {
 public:
  // Counts the handshakes of `context` (its info callback). REQUIRES: this outlives every
  // connection of `context`.
  Status attachTo(SSL_CTX* context);
  uint64_t full() const { return full_.load(std::memory_order_relaxed); }
  uint64_t resumed() const { return resumed_.load(std::memory_order_relaxed); }

 private:
  static void onInfo(const SSL* ssl, int where, int ret);
  std::atomic<uint64_t> full_{0};
  std::atomic<uint64_t> resumed_{0};
};

// vigil_tls_handshakes_total{kind="full|resumed"}.
MetricsSource tlsHandshakeMetrics(const TlsHandshakeCounts& counts);

// A server Context with the intermediate profile presenting `certificate`, its handshakes
// counted into `handshakes` if given. Fails (with the reason) if OpenSSL refuses a setting.
Result<Poco::Net::Context::Ptr> makeServerContext(ServerCertificate& certificate,
                                                  SessionResumption resumption = {},
                                                  TlsHandshakeCounts* handshakes = nullptr);

// Reloads the certificate and key files into a ServerCertificate when they change (checked
// every `poll_interval`) or when the process receives SIGHUP.
//
// Thread safety: start()/stop() from one owner thread; checkNow() is also called by the
// reloader's own thread once started.
class CertificateReloader {
 public:
  enum class Outcome { kUnchanged, kReloaded, kRefused };

  // `certificate` and `logger` must outlive the reloader.
  CertificateReloader(ServerCertificate& certificate, std::string certificate_path,
                      std::string key_path, Poco::Logger& logger);
  ~CertificateReloader();

  // Loads the files if they changed since the last load (or always with `force`), checks the
  // pair and its validity at `now`, and swaps it in. A refusal is logged once per version of
  // the files; the current certificate stays.
  Outcome checkNow(bool force, std::chrono::system_clock::time_point now);

  // Installs the SIGHUP handler and checks every second for it, and every `poll_interval`
  // (0: never) for changed files.
  void start(std::chrono::seconds poll_interval);
  void stop();

 private:
  struct FileStamp {
    dev_t device = 0;
    ino_t inode = 0;
    off_t size = 0;
    int64_t mtime_ns = 0;
    bool operator==(const FileStamp& o) const {
      return device == o.device && inode == o.inode && size == o.size && mtime_ns == o.mtime_ns;
    }
  };
  struct Stamps {
    std::optional<FileStamp> certificate;
    std::optional<FileStamp> key;
    bool operator==(const Stamps& o) const { return certificate == o.certificate && key == o.key; }
  };
  Stamps stampFiles() const;
  void onTimer();

  ServerCertificate& certificate_;
  const std::string certificate_path_;
  const std::string key_path_;
  Poco::Logger& logger_;
  Stamps loaded_;                  // the files' stamps at the last successful load
  std::optional<Stamps> refused_;  // the stamps of the last refused version
  std::chrono::seconds poll_interval_{0};
  std::chrono::seconds since_poll_{0};
  std::unique_ptr<PeriodicThread> thread_;
};

}  // namespace vigil::collector
