#include "collector/notify/webhook_transport.h"

#include <curl/curl.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <memory>
#include <optional>
#include <string_view>

#include "common/text.h"

#if LIBCURL_VERSION_NUM < 0x075500
#error "webhooks need libcurl 7.85 or later (CURLOPT_PREREQFUNCTION, CURLOPT_PROTOCOLS_STR)"
#endif

namespace vigil::collector {
namespace {

using std::chrono::milliseconds;
namespace failures = webhook_failures;

// TLS 1.2 suites: forward-secret AEAD only (Mozilla "intermediate"); TLS 1.3's are all fine.
constexpr char kClientCiphers[] =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
    "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";

struct CurlEasyDeleter {
  void operator()(CURL* handle) const { curl_easy_cleanup(handle); }
};
struct CurlSlistDeleter {
  void operator()(curl_slist* list) const { curl_slist_free_all(list); }
};
struct X509Deleter {
  void operator()(X509* cert) const { X509_free(cert); }
};
struct BioDeleter {
  void operator()(BIO* bio) const { BIO_free(bio); }
};
using CurlEasyPtr = std::unique_ptr<CURL, CurlEasyDeleter>;
using CurlSlistPtr = std::unique_ptr<curl_slist, CurlSlistDeleter>;

Status initialiseCurl() {
  static const CURLcode rc = curl_global_init(CURL_GLOBAL_DEFAULT);
  if (rc != CURLE_OK) {
    return Status::unavailable(std::string("cannot initialise libcurl: ") + curl_easy_strerror(rc));
  }
  return Status::okStatus();
}

// Appends `line` to `list`; false if out of memory.
bool append(CurlSlistPtr& list, const std::string& line) {
  curl_slist* grown = curl_slist_append(list.get(), line.c_str());
  if (grown == nullptr) return false;
  (void)list.release();
  list.reset(grown);
  return true;
}

// What one attempt's libcurl callbacks share.
struct AttemptState {
  const OutboundPolicy* policy = nullptr;
  std::vector<IpAddress> screened;     // the only addresses a connection may go to
  std::vector<curl_socket_t> sockets;  // opened for this attempt and not yet closed
  std::string stopped;                 // connections the policy stopped, for the log
  // The answer's head.
  int status = 0;
  std::string retry_after;
  bool head_complete = false;
  // The answer's body, read only if the request asks for it (read_body_limit > 0).
  size_t body_limit = 0;
  std::string body;

  bool permitted(const IpAddress& a) const {
    return std::find(screened.begin(), screened.end(), a) != screened.end() &&
           !policy->refusal(a).has_value();
  }
  void stop(const std::string& why) {
    if (!stopped.empty()) stopped += "; ";
    stopped += why;
  }
};

// CURLOPT_OPENSOCKETFUNCTION: a socket only for a connection to a screened address.
curl_socket_t openSocket(void* data, curlsocktype purpose, curl_sockaddr* address) {
  auto* state = static_cast<AttemptState*>(data);
  const auto ip = IpAddress::fromSockaddr(&address->addr, address->addrlen);
  if (purpose != CURLSOCKTYPE_IPCXN || !ip) {
    state->stop("a socket that is not an IP connection");
    return CURL_SOCKET_BAD;
  }
  if (!state->permitted(*ip)) {
    state->stop("connecting to " + ip->toString() + " stopped: not a screened address");
    return CURL_SOCKET_BAD;
  }
  const curl_socket_t fd =
      ::socket(address->family, address->socktype | SOCK_CLOEXEC, address->protocol);
  if (fd != CURL_SOCKET_BAD) state->sockets.push_back(fd);
  return fd;
}

// CURLOPT_CLOSESOCKETFUNCTION: forgets the socket before its number can be reused.
int closeSocket(void* data, curl_socket_t fd) {
  auto* state = static_cast<AttemptState*>(data);
  state->sockets.erase(std::remove(state->sockets.begin(), state->sockets.end(), fd),
                       state->sockets.end());
  return ::close(fd);
}

// CURLOPT_PREREQFUNCTION: connected, nothing sent yet. The peer of every connected socket of
// the attempt (asked of the kernel), and the peer libcurl reports, must be screened addresses.
int checkPeer(void* data, char* primary_ip, char* /*local_ip*/, int /*primary_port*/,
              int /*local_port*/) {
  auto* state = static_cast<AttemptState*>(data);
  auto refuse = [&](const std::string& peer) {
    state->stop("connected to " + peer + ", not a screened address: nothing sent");
    return CURL_PREREQFUNC_ABORT;
  };
  size_t connected = 0;
  for (const curl_socket_t fd : state->sockets) {
    sockaddr_storage address{};
    socklen_t length = sizeof address;
    if (::getpeername(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) continue;
    ++connected;
    const auto peer = IpAddress::fromSockaddr(&address, length);
    if (!peer || !state->permitted(*peer)) return refuse(peer ? peer->toString() : "?");
  }
  const auto reported = IpAddress::parse(primary_ip != nullptr ? primary_ip : "");
  if (connected == 0 || !reported || !state->permitted(*reported)) {
    return refuse(reported ? reported->toString() : "an unknown peer");
  }
  return CURL_PREREQFUNC_OK;
}

// CURLOPT_HEADERFUNCTION: keeps the status and Retry-After; stops the transfer at the end of
// the final head (its body is not needed).
size_t onHeader(char* data, size_t size, size_t count, void* user) {
  auto* state = static_cast<AttemptState*>(user);
  const size_t bytes = size * count;
  const std::string_view line = trimBlanks(std::string_view(data, bytes));
  if (line.substr(0, 5) == "HTTP/") {  // a status line (also of an interim 1xx answer)
    state->status = 0;
    state->retry_after.clear();
    const size_t space = line.find(' ');
    if (space != std::string_view::npos && line.size() >= space + 4) {
      int status = 0;
      for (char c : line.substr(space + 1, 3)) {
        if (c < '0' || c > '9') return 0;  // malformed: stop
        status = status * 10 + (c - '0');
      }
      state->status = status;
    }
    return bytes;
  }
  if (line.empty()) {
    if (state->status >= 200) {
      state->head_complete = true;
      // Without a body to read, ends the transfer (CURLE_WRITE_ERROR, with the head kept).
      return state->body_limit > 0 ? bytes : 0;
    }
    return bytes;
  }
  const size_t colon = line.find(':');
  if (colon != std::string_view::npos) {
    std::string name(line.substr(0, colon));
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (name == "retry-after") state->retry_after = std::string(trimBlanks(line.substr(colon + 1)));
  }
  return bytes;
}

// CURLOPT_WRITEFUNCTION: keeps the body up to its limit; a longer body ends the transfer, with
// what was read kept (the caller finds it cut).
size_t readBody(char* data, size_t size, size_t count, void* user) {
  auto* state = static_cast<AttemptState*>(user);
  const size_t bytes = size * count;
  if (state->body.size() + bytes > state->body_limit) return 0;
  state->body.append(data, bytes);
  return bytes;
}

const char* reasonFor(CURLcode rc) {
  switch (rc) {
    case CURLE_OPERATION_TIMEDOUT:
      return failures::kTimedOut;
    case CURLE_COULDNT_CONNECT:
      return failures::kConnectFailed;
    case CURLE_COULDNT_RESOLVE_HOST:
      return failures::kUnresolved;
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_INVALIDCERTSTATUS:
    case CURLE_SSL_ENGINE_INITFAILED:
      return failures::kTlsFailed;
    case CURLE_GOT_NOTHING:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_PARTIAL_FILE:
      return failures::kConnectionLost;
    case CURLE_WEIRD_SERVER_REPLY:
    case CURLE_WRITE_ERROR:  // the head ended without a status line
      return failures::kInvalidAnswer;
    case CURLE_URL_MALFORMAT:
    case CURLE_UNSUPPORTED_PROTOCOL:
      return failures::kInvalidUrl;
    default:
      return failures::kOther;
  }
}

milliseconds until(std::chrono::steady_clock::time_point deadline) {
  return std::chrono::duration_cast<milliseconds>(deadline - std::chrono::steady_clock::now());
}

}  // namespace

// The extra certificate authorities of options.ca_file, added to each TLS handshake's store.
struct HttpWebhookTransport::Authorities {
  std::vector<std::unique_ptr<X509, X509Deleter>> certificates;

  static CURLcode addTo(CURL* /*easy*/, void* ssl_ctx, void* self) {
    X509_STORE* store = SSL_CTX_get_cert_store(static_cast<SSL_CTX*>(ssl_ctx));
    for (const auto& cert : static_cast<Authorities*>(self)->certificates) {
      X509_STORE_add_cert(store, cert.get());  // an authority already there is fine
    }
    ERR_clear_error();
    return CURLE_OK;
  }
};

Result<std::unique_ptr<HttpWebhookTransport>> HttpWebhookTransport::create(
    HttpWebhookTransportOptions options, const OutboundPolicy& policy) {
  if (Status s = initialiseCurl(); !s.ok()) return s;
  auto authorities = std::make_unique<Authorities>();
  if (!options.ca_file.empty()) {
    const std::unique_ptr<BIO, BioDeleter> file(BIO_new_file(options.ca_file.c_str(), "r"));
    if (!file) {
      ERR_clear_error();
      return Status::invalidArgument("cannot read " + options.ca_file);
    }
    while (X509* cert = PEM_read_bio_X509(file.get(), nullptr, nullptr, nullptr)) {
      authorities->certificates.emplace_back(cert);
    }
    ERR_clear_error();  // the read that found no further certificate
    if (authorities->certificates.empty()) {
      return Status::invalidArgument(options.ca_file + " holds no PEM certificate");
    }
  }
  return std::unique_ptr<HttpWebhookTransport>(
      new HttpWebhookTransport(std::move(options), policy, std::move(authorities)));
}

HttpWebhookTransport::HttpWebhookTransport(HttpWebhookTransportOptions options,
                                           const OutboundPolicy& policy,
                                           std::unique_ptr<Authorities> authorities)
    : options_(std::move(options)), policy_(policy), authorities_(std::move(authorities)) {}

HttpWebhookTransport::~HttpWebhookTransport() = default;

WebhookResult HttpWebhookTransport::post(const WebhookRequest& request) {
  const auto deadline = std::chrono::steady_clock::now() + options_.attempt_timeout;
  auto parsed = parseOutboundUrl(request.url);
  if (!parsed.ok()) {
    return WebhookFailure{failures::kInvalidUrl, "the URL " + parsed.error().message()};
  }
  const OutboundDestination& destination = parsed.value();
  const std::string where = destination.key() + ": ";
  ScreenedDestination screened = policy_.screen(destination, until(deadline));
  if (screened.verdict == ScreenedDestination::Verdict::kRefused) {
    return WebhookFailure{failures::kRefusedByPolicy, screened.detail};
  }
  if (screened.verdict == ScreenedDestination::Verdict::kUnresolved) {
    return WebhookFailure{screened.timed_out ? failures::kTimedOut : failures::kUnresolved,
                          screened.detail};
  }
  const milliseconds left = until(deadline);
  if (left.count() <= 0) {
    return WebhookFailure{failures::kTimedOut, where + "no time left after resolving the host"};
  }

  AttemptState state;
  state.policy = &policy_;
  state.screened = screened.addresses;
  CurlEasyPtr easy(curl_easy_init());
  if (!easy) return WebhookFailure{failures::kOther, "cannot create a libcurl handle"};
  CURL* h = easy.get();

  state.body_limit = request.read_body_limit;
  CurlSlistPtr headers;
  bool listed =
      append(headers, "Content-Type: " + request.content_type) && append(headers, "Expect:");
  for (const auto& [name, value] : request.headers) {
    listed = listed && append(headers, name + ": " + value);
  }
  // The screened addresses, pinned: libcurl resolves nothing itself.
  CurlSlistPtr pinned;
  if (!destination.numeric_host) {
    std::string entry = destination.host + ":" + std::to_string(destination.port) + ":";
    for (size_t i = 0; i < state.screened.size(); ++i) {
      const IpAddress& a = state.screened[i];
      if (i > 0) entry += ",";
      entry += a.isV4() ? a.toString() : "[" + a.toString() + "]";
    }
    listed = listed && append(pinned, entry);
  }
  if (!listed) return WebhookFailure{failures::kOther, "out of memory"};

  char error_buffer[CURL_ERROR_SIZE] = {};
  CURLcode rc = CURLE_OK;
  auto set = [&](CURLoption option, auto value) {
    if (rc == CURLE_OK) rc = curl_easy_setopt(h, option, value);
  };
  set(CURLOPT_NOSIGNAL, 1L);
  set(CURLOPT_ERRORBUFFER, error_buffer);
  set(CURLOPT_URL, destination.url.c_str());
  set(CURLOPT_PROTOCOLS_STR, "http,https");
  set(CURLOPT_FOLLOWLOCATION, 0L);
  set(CURLOPT_PROXY, "");  // never a proxy from the environment: the policy judges the peer
  set(CURLOPT_HTTP_VERSION, static_cast<long>(CURL_HTTP_VERSION_1_1));
  set(CURLOPT_FORBID_REUSE, 1L);
  set(CURLOPT_SSL_VERIFYPEER, 1L);
  set(CURLOPT_SSL_VERIFYHOST, 2L);
  set(CURLOPT_SSLVERSION, static_cast<long>(CURL_SSLVERSION_TLSv1_2));
  set(CURLOPT_SSL_CIPHER_LIST, kClientCiphers);
  if (!authorities_->certificates.empty()) {
    set(CURLOPT_SSL_CTX_FUNCTION, &Authorities::addTo);
    set(CURLOPT_SSL_CTX_DATA, static_cast<void*>(authorities_.get()));
  }
  set(CURLOPT_TIMEOUT_MS, static_cast<long>(left.count()));
  set(CURLOPT_CONNECTTIMEOUT_MS,
      static_cast<long>(std::max<int64_t>(1, std::min(left, options_.connect_timeout).count())));
  if (pinned) set(CURLOPT_RESOLVE, pinned.get());
  set(CURLOPT_OPENSOCKETFUNCTION, &openSocket);
  set(CURLOPT_OPENSOCKETDATA, static_cast<void*>(&state));
  set(CURLOPT_CLOSESOCKETFUNCTION, &closeSocket);
  set(CURLOPT_CLOSESOCKETDATA, static_cast<void*>(&state));
  set(CURLOPT_PREREQFUNCTION, &checkPeer);
  set(CURLOPT_PREREQDATA, static_cast<void*>(&state));
  set(CURLOPT_HEADERFUNCTION, &onHeader);
  set(CURLOPT_HEADERDATA, static_cast<void*>(&state));
  set(CURLOPT_WRITEFUNCTION, &readBody);
  set(CURLOPT_WRITEDATA, static_cast<void*>(&state));
  set(CURLOPT_USERAGENT, options_.user_agent.c_str());
  set(CURLOPT_HTTPHEADER, headers.get());
  if (request.method == "GET") {
    set(CURLOPT_HTTPGET, 1L);
  } else {
    set(CURLOPT_POST, 1L);
    set(CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(request.body.size()));
    set(CURLOPT_POSTFIELDS, request.body.c_str());
    if (request.method != "POST") set(CURLOPT_CUSTOMREQUEST, request.method.c_str());
  }
  if (rc != CURLE_OK) {
    return WebhookFailure{failures::kOther,
                          std::string("cannot set up libcurl: ") + curl_easy_strerror(rc)};
  }

  rc = curl_easy_perform(h);
  if (state.head_complete) {
    WebhookResponse answer{state.status, state.retry_after, std::move(state.body)};
    // A body cut by its limit, or by the connection, is what was read; a body was asked for
    // and the transfer failed otherwise than by the limit: no answer.
    if (state.body_limit == 0 || rc == CURLE_OK || rc == CURLE_WRITE_ERROR) return answer;
  }
  if (!state.stopped.empty() && (rc == CURLE_COULDNT_CONNECT || rc == CURLE_ABORTED_BY_CALLBACK)) {
    return WebhookFailure{failures::kRefusedByPolicy, where + state.stopped};
  }
  std::string detail = where + curl_easy_strerror(rc);
  if (error_buffer[0] != '\0') detail += ": " + std::string(error_buffer);
  if (!state.stopped.empty()) detail += "; " + state.stopped;
  if (!screened.detail.empty()) detail += " (" + screened.detail + ")";
  return WebhookFailure{reasonFor(rc), detail};
}

}  // namespace vigil::collector
