#pragma once

// One HTTP request and its answer, with the single place where results become HTTP: every
// error is written as a protocol ErrorBody and logged as one line (method, path, peer, status,
// code, agent id).

#include <Poco/Logger.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>

#include <optional>
#include <string>
#include <string_view>

#include "collector/core/api_error.h"

namespace vigil::collector {

// Keeps untrusted text from forging log lines: printable ASCII only (others become '?'), at
// most `max_length` characters.
std::string printableForLog(const std::string& text, size_t max_length);

// The strong entity tag of `body`: the first 128 bits of its SHA-256 in hex, quoted. The same
// body gives the same tag on every collector of a cluster.
std::string entityTag(std::string_view body);

// True when the If-None-Match field `if_none_match` names `etag` (weak comparison, RFC 9110
// 13.1.2: a W/ prefix is ignored) or is "*".
bool ifNoneMatchNames(std::string_view if_none_match, std::string_view etag);

// The decoded path of a request target, as Poco::URI(uri).getPath() gives it; nullopt when the
// target cannot be parsed. Plain origin-form targets ("/v1/heartbeat?x=1") are cut without
// building a URI: every request pays for this on the hot path.
std::optional<std::string> requestPath(const std::string& uri);

class HttpExchange {
 public:
  HttpExchange(Poco::Net::HTTPServerRequest& request, Poco::Net::HTTPServerResponse& response,
               Poco::Logger& logger);

  Poco::Net::HTTPServerRequest& request() { return request_; }
  Poco::Net::HTTPServerResponse& response() { return response_; }
  const std::string& path() const { return path_; }
  std::optional<std::string> header(const std::string& name) const;

  // Names the agent in the log line; untrusted values are sanitised.
  void setAgentId(const std::string& agent_id);

  // Reads a JSON request body under the protocol's rules (media type, then size: the
  // Content-Length first, then at most protocol::kMaxBodyBytes read). On failure the error
  // answer has been sent and nullopt is returned.
  std::optional<std::string> readJsonBody();

  // A JSON answer; a 204 carries no body.
  void sendJson(int http_status, const std::string& body);
  // Any other document (OpenAPI YAML, Prometheus text).
  void sendDocument(int http_status, const std::string& content_type, const std::string& body);
  // A 200 answer a client may revalidate: it carries the strong entity tag `etag` (quoted),
  // and when the request's If-None-Match names that tag (or is "*") the answer is 304 with
  // no body instead. `cache_control` as the resource needs: admin data stays "no-store" (the
  // console keeps the last body itself and revalidates by hand).
  void sendTagged(const std::string& content_type, std::string_view body, std::string_view etag,
                  const std::string& cache_control);
  void sendError(const ApiError& error);
  // For a response already committed elsewhere; logs nothing.
  bool sent() const { return response_.sent(); }

 private:
  void log(int http_status, const std::string& code);

  Poco::Net::HTTPServerRequest& request_;
  Poco::Net::HTTPServerResponse& response_;
  Poco::Logger& logger_;
  std::string path_;
  std::string agent_id_;
};

}  // namespace vigil::collector
