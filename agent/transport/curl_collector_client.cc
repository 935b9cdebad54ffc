#include "agent/transport/curl_collector_client.h"

#include <algorithm>
#include <cctype>
#include <utility>

#include "agent/transport/system_ca_bundle.h"
#include "common/protocol.h"
#include "common/retry_after.h"
#include "common/text.h"

namespace vigil::agent {
namespace {

constexpr std::chrono::seconds kMaxRetryAfter = std::chrono::hours(24);
// How long one curl_multi_poll() may sleep; cancel() wakes it earlier.
constexpr int kPollTimeoutMs = 1000;

bool equalsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

// Appends a header line; false if libcurl ran out of memory.
bool appendHeader(CurlSlistPtr* list, const std::string& line) {
  curl_slist* grown = curl_slist_append(list->get(), line.c_str());
  if (grown == nullptr) return false;
  (void)list->release();
  list->reset(grown);
  return true;
}

CollectorAnswer transportFailure(std::string message,
                                 const char* cause = protocol::causes::kOther) {
  CollectorAnswer answer;
  answer.transport_ok = false;
  answer.transport_error = std::move(message);
  answer.transport_cause = cause;
  return answer;
}

}  // namespace

const char* transportCause(CURLcode code) {
  switch (code) {
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
      return protocol::causes::kDns;
    case CURLE_COULDNT_CONNECT:
    case CURLE_GOT_NOTHING:  // the connection closed without an answer
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
      return protocol::causes::kConnect;
    case CURLE_OPERATION_TIMEDOUT:
      return protocol::causes::kTimeout;
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_SSL_INVALIDCERTSTATUS:
      return protocol::causes::kTls;
    case CURLE_WEIRD_SERVER_REPLY:
    case CURLE_FILESIZE_EXCEEDED:
    case CURLE_WRITE_ERROR:
      return protocol::causes::kBadAnswer;
    default:
      return protocol::causes::kOther;
  }
}

std::optional<int64_t> parseRetryAfterSeconds(std::string_view value) {
  const std::optional<std::chrono::seconds> wait = parseDeltaSeconds(value, kMaxRetryAfter);
  if (!wait) return std::nullopt;
  return wait->count();
}

std::optional<int64_t> parseKeepAliveTimeoutSeconds(std::string_view value) {
  while (!value.empty()) {
    const size_t comma = value.find(',');
    const std::string_view param = trimBlanks(value.substr(0, comma));
    const size_t eq = param.find('=');
    if (eq != std::string_view::npos &&
        equalsIgnoreCase(trimBlanks(param.substr(0, eq)), "timeout")) {
      return parseRetryAfterSeconds(param.substr(eq + 1));  // the same form: whole seconds
    }
    if (comma == std::string_view::npos) break;
    value.remove_prefix(comma + 1);
  }
  return std::nullopt;
}

Result<std::unique_ptr<CurlCollectorClient>> CurlCollectorClient::create(
    CurlClientOptions options) {
  CurlEasyPtr easy(curl_easy_init());
  CurlMultiPtr multi(curl_multi_init());
  if (!easy || !multi) return Status::internal("cannot initialise libcurl");
  std::unique_ptr<CurlCollectorClient> client(
      new CurlCollectorClient(std::move(options), std::move(easy), std::move(multi)));
  if (Status st = client->configure(); !st.ok()) return st;
  return client;
}

CurlCollectorClient::CurlCollectorClient(CurlClientOptions options, CurlEasyPtr easy,
                                         CurlMultiPtr multi)
    : options_(std::move(options)), easy_(std::move(easy)), multi_(std::move(multi)) {}

Status CurlCollectorClient::configure() {
  CURL* h = easy_.get();
  CURLcode rc = CURLE_OK;
  auto set = [&](CURLcode code) {
    if (rc == CURLE_OK) rc = code;
  };
  set(curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L));
  set(curl_easy_setopt(h, CURLOPT_ERRORBUFFER, error_buffer_));
#if LIBCURL_VERSION_NUM >= 0x075500
  set(curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https"));
#else
  set(curl_easy_setopt(h, CURLOPT_PROTOCOLS, CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
  set(curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L));
  // Verification is never turned off. CURLOPT_CAINFO replaces libcurl's default CA bundle (and,
  // under Schannel, the Windows root store): with ca_file, only its CAs are trusted, besides a
  // CA directory the libcurl build may have (the released agents' has none).
  set(curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L));
  set(curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L));
  const std::string ca_file = options_.ca_file.empty() ? systemCaBundle() : options_.ca_file;
  if (!ca_file.empty()) set(curl_easy_setopt(h, CURLOPT_CAINFO, ca_file.c_str()));
  set(curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, options_.connect_timeout_ms));
  set(curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, options_.total_timeout_ms));
  set(curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L));
  if (!options_.pinned_public_key.empty()) {
    set(curl_easy_setopt(h, CURLOPT_PINNEDPUBLICKEY, options_.pinned_public_key.c_str()));
  }
  if (!options_.proxy.empty()) set(curl_easy_setopt(h, CURLOPT_PROXY, options_.proxy.c_str()));
  set(curl_easy_setopt(h, CURLOPT_USERAGENT, options_.user_agent.c_str()));
  set(curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE,
                       static_cast<curl_off_t>(protocol::kMaxBodyBytes)));
  set(curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, &CurlCollectorClient::onBody));
  set(curl_easy_setopt(h, CURLOPT_WRITEDATA, this));
  set(curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, &CurlCollectorClient::onHeader));
  set(curl_easy_setopt(h, CURLOPT_HEADERDATA, this));
  set(curl_easy_setopt(h, CURLOPT_POST, 1L));
  if (rc != CURLE_OK) {
    return Status::internal(std::string("cannot configure libcurl: ") + curl_easy_strerror(rc));
  }
  return Status::okStatus();
}

size_t CurlCollectorClient::onBody(char* data, size_t size, size_t count, void* self) {
  auto* client = static_cast<CurlCollectorClient*>(self);
  const size_t n = size * count;
  if (client->body_.size() + n > protocol::kMaxBodyBytes) {
    client->body_too_large_ = true;
    return 0;  // makes libcurl stop with CURLE_WRITE_ERROR
  }
  client->body_.append(data, n);
  return n;
}

size_t CurlCollectorClient::onHeader(char* data, size_t size, size_t count, void* self) {
  auto* client = static_cast<CurlCollectorClient*>(self);
  const size_t n = size * count;
  const std::string_view line(data, n);
  if (line.rfind("HTTP/", 0) == 0) {
    // A new response (after a 100 Continue, say): forget the previous one's headers.
    client->retry_after_s_.reset();
    client->keep_alive_s_.reset();
    return n;
  }
  const size_t colon = line.find(':');
  if (colon == std::string_view::npos) return n;
  const std::string_view name = trimBlanks(line.substr(0, colon));
  if (equalsIgnoreCase(name, "Retry-After")) {
    client->retry_after_s_ = parseRetryAfterSeconds(line.substr(colon + 1));
  } else if (equalsIgnoreCase(name, "Keep-Alive")) {
    client->keep_alive_s_ = parseKeepAliveTimeoutSeconds(line.substr(colon + 1));
  }
  return n;
}

void CurlCollectorClient::cancel() {
  cancelled_.store(true);
  curl_multi_wakeup(multi_.get());
}

void CurlCollectorClient::resume() { cancelled_.store(false); }

CollectorAnswer CurlCollectorClient::post(std::string_view path, const std::string& body,
                                          CurlSlistPtr headers,
                                          std::optional<Duration> total_timeout) {
  if (cancelled_.load()) return transportFailure("cancelled");
  if (!appendHeader(&headers, std::string("Content-Type: ") + protocol::kContentType) ||
      !appendHeader(&headers, "Accept: application/json") ||
      // No "Expect: 100-continue" round trip before the body.
      !appendHeader(&headers, "Expect:")) {
    return transportFailure("out of memory building headers");
  }

  CURL* h = easy_.get();
  clearAnswer();
  const std::string url =
      options_.server_url.substr(0, options_.server_url.find_last_not_of('/') + 1) +
      std::string(path);
  CURLcode rc = curl_easy_setopt(h, CURLOPT_URL, url.c_str());
  if (rc == CURLE_OK) rc = curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers.get());
  if (rc == CURLE_OK) {
    rc = curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
  }
  if (rc == CURLE_OK) rc = curl_easy_setopt(h, CURLOPT_POSTFIELDS, body.c_str());
  const long timeout_ms =
      total_timeout
          ? static_cast<long>(
                std::chrono::duration_cast<std::chrono::milliseconds>(*total_timeout).count())
          : options_.total_timeout_ms;
  if (rc == CURLE_OK) rc = curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, std::max(1L, timeout_ms));
  // Reused only while idle for less than the collector's timeout less a second (libcurl
  // counts idle time in whole seconds and reuses up to MAXAGE_CONN + 1 s).
  const long max_idle_s = static_cast<long>(std::max<int64_t>(0, server_idle_timeout_s_ - 2));
  if (rc == CURLE_OK) rc = curl_easy_setopt(h, CURLOPT_MAXAGE_CONN, max_idle_s);
  if (rc == CURLE_OK) rc = curl_easy_setopt(h, CURLOPT_FRESH_CONNECT, 0L);
  if (rc != CURLE_OK) return transportFailure(curl_easy_strerror(rc));

  std::string failure;
  CURLcode result = perform(&failure);
  long new_connections = 0;
  curl_easy_getinfo(h, CURLINFO_NUM_CONNECTS, &new_connections);
  const bool died_on_reused_connection =
      failure.empty() && new_connections == 0 &&
      (result == CURLE_SEND_ERROR || result == CURLE_RECV_ERROR || result == CURLE_GOT_NOTHING);
  if (died_on_reused_connection) {
    // The collector closed it (its timeout, or room for others) before reading the request.
    clearAnswer();
    curl_easy_setopt(h, CURLOPT_FRESH_CONNECT, 1L);
    result = perform(&failure);
  }
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, nullptr);
  curl_easy_setopt(h, CURLOPT_POSTFIELDS, nullptr);
  if (!failure.empty()) return transportFailure(failure);

  if (result != CURLE_OK) {
    if (body_too_large_ || result == CURLE_FILESIZE_EXCEEDED) {
      return transportFailure(
          "the answer is larger than " + std::to_string(protocol::kMaxBodyBytes) + " bytes",
          protocol::causes::kBadAnswer);
    }
    // The error buffer has the specific reason ("Failed to connect to ... port 1 after 0 ms").
    return transportFailure(error_buffer_[0] != '\0' ? std::string(error_buffer_)
                                                     : std::string(curl_easy_strerror(result)),
                            transportCause(result));
  }
  if (keep_alive_s_) server_idle_timeout_s_ = *keep_alive_s_;
  CollectorAnswer answer;
  answer.transport_ok = true;
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &answer.http_status);
  answer.body = std::move(body_);
  body_.clear();
  answer.retry_after_s = retry_after_s_;
  return answer;
}

void CurlCollectorClient::clearAnswer() {
  body_.clear();
  body_too_large_ = false;
  retry_after_s_.reset();
  keep_alive_s_.reset();
  error_buffer_[0] = '\0';
}

CURLcode CurlCollectorClient::perform(std::string* failure) {
  CURL* h = easy_.get();
  if (curl_multi_add_handle(multi_.get(), h) != CURLM_OK) {
    *failure = "cannot start the request";
    return CURLE_OK;
  }
  CURLcode result = CURLE_OK;
  bool done = false;
  while (!done) {
    if (cancelled_.load()) {
      *failure = "cancelled";
      break;
    }
    int running = 0;
    CURLMcode mc = curl_multi_perform(multi_.get(), &running);
    if (mc == CURLM_OK) {
      int queued = 0;
      while (CURLMsg* msg = curl_multi_info_read(multi_.get(), &queued)) {
        if (msg->msg == CURLMSG_DONE && msg->easy_handle == h) {
          result = msg->data.result;
          done = true;
        }
      }
      if (done) break;
      if (running == 0) {
        *failure = "the request ended without a result";
        break;
      }
      mc = curl_multi_poll(multi_.get(), nullptr, 0, kPollTimeoutMs, nullptr);
    }
    if (mc != CURLM_OK) {
      *failure = curl_multi_strerror(mc);
      break;
    }
  }
  curl_multi_remove_handle(multi_.get(), h);
  return result;
}

CollectorAnswer CurlCollectorClient::enroll(const protocol::EnrollRequest& request) {
  return post(protocol::kEnrollPath, protocol::encode(request), CurlSlistPtr(), std::nullopt);
}

CollectorAnswer CurlCollectorClient::heartbeat(const SignedHeartbeat& heartbeat,
                                               std::optional<Duration> total_timeout) {
  CurlSlistPtr headers;
  if (!appendHeader(&headers, std::string(protocol::kHeaderAgentId) + ": " + heartbeat.agent_id) ||
      !appendHeader(&headers, std::string(protocol::kHeaderTimestamp) + ": " +
                                  std::to_string(heartbeat.timestamp_ms)) ||
      !appendHeader(&headers,
                    std::string(protocol::kHeaderSignature) + ": " + heartbeat.signature)) {
    return transportFailure("out of memory building headers");
  }
  return post(protocol::kHeartbeatPath, heartbeat.body, std::move(headers), total_timeout);
}

}  // namespace vigil::agent
