#pragma once

#include <curl/curl.h>

#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "agent/core/collector_client.h"
#include "common/status.h"

namespace vigil::agent {

struct CurlEasyDeleter {
  void operator()(CURL* handle) const { curl_easy_cleanup(handle); }
};
struct CurlMultiDeleter {
  void operator()(CURLM* handle) const { curl_multi_cleanup(handle); }
};
struct CurlSlistDeleter {
  void operator()(curl_slist* list) const { curl_slist_free_all(list); }
};
// Move-only owners of libcurl handles.
using CurlEasyPtr = std::unique_ptr<CURL, CurlEasyDeleter>;
using CurlMultiPtr = std::unique_ptr<CURLM, CurlMultiDeleter>;
using CurlSlistPtr = std::unique_ptr<curl_slist, CurlSlistDeleter>;

struct CurlClientOptions {
  // The collector's base URL as configured (validated by parseServerUrl); the protocol paths
  // are appended to it.
  std::string server_url;
  std::string ca_file;  // empty: the system CA store
  std::string user_agent;
  long connect_timeout_ms = 10'000;
  long total_timeout_ms = 30'000;
  // "sha256//<base64>[;sha256//<base64>]": the collector's public key must match one
  // (CURLOPT_PINNEDPUBLICKEY), on top of normal certificate verification. Empty: no pin.
  std::string pinned_public_key;
  // Proxy URL. Empty: libcurl's standard environment variables (https_proxy, no_proxy, ...).
  std::string proxy;
};

// The outage cause (protocol::causes) of a failed transfer.
const char* transportCause(CURLcode code);

// Parses a Retry-After value in its seconds form ("120", parseDeltaSeconds); nullopt for the
// HTTP-date form (the collector sends only seconds, and the transport has no clock to turn a
// date into a wait) or anything malformed. Values above a day are capped to a day.
std::optional<int64_t> parseRetryAfterSeconds(std::string_view value);

// Parses the timeout=N parameter of a Keep-Alive header value ("timeout=2, max=100"): how long
// the server keeps an idle connection open, in seconds. nullopt if absent or malformed.
std::optional<int64_t> parseKeepAliveTimeoutSeconds(std::string_view value);

// CollectorClient over libcurl: one easy handle reused for every request, inside a multi
// handle so cancel() can interrupt a request at once (curl_multi_wakeup). TLS peer and host
// verification are always on. Proxies follow libcurl's environment variables.
// A connection is reused only while the collector still keeps it open by what it advertised
// (Keep-Alive: timeout=N; the collector's default of 2 s until it says), and a request that
// dies on a reused connection is sent once more on a new one: libcurl 7.88 retries such a
// request itself, but counts those retries over the handle's life and fails every sixth.
// REQUIRES: curl_global_init() was called before create().
// Thread safety: one request at a time; cancel() from any thread.
class CurlCollectorClient final : public CollectorClient {
 public:
  static Result<std::unique_ptr<CurlCollectorClient>> create(CurlClientOptions options);

  CollectorAnswer enroll(const protocol::EnrollRequest& request) override;
  CollectorAnswer heartbeat(const SignedHeartbeat& heartbeat,
                            std::optional<Duration> total_timeout) override;
  void cancel() override;
  void resume() override;

 private:
  CurlCollectorClient(CurlClientOptions options, CurlEasyPtr easy, CurlMultiPtr multi);

  Status configure();
  // Forgets the previous attempt's answer and error.
  void clearAnswer();
  // Runs the prepared transfer to its end; `failure` is set when it could not run at all.
  CURLcode perform(std::string* failure);
  CollectorAnswer post(std::string_view path, const std::string& body, CurlSlistPtr headers,
                       std::optional<Duration> total_timeout);

  static size_t onBody(char* data, size_t size, size_t count, void* self);
  static size_t onHeader(char* data, size_t size, size_t count, void* self);

  CurlClientOptions options_;
  CurlEasyPtr easy_;
  CurlMultiPtr multi_;
  std::atomic<bool> cancelled_{false};
  char error_buffer_[CURL_ERROR_SIZE] = {};
  // Per-request state filled by the callbacks.
  std::string body_;
  bool body_too_large_ = false;
  std::optional<int64_t> retry_after_s_;
  std::optional<int64_t> keep_alive_s_;
  // How long, in seconds, the collector keeps an idle connection open, as last advertised.
  int64_t server_idle_timeout_s_ = 2;
};

}  // namespace vigil::agent
