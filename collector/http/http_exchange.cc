#include "collector/http/http_exchange.h"

#include <Poco/Exception.h>
#include <Poco/Net/MediaType.h>
#include <Poco/URI.h>

#include <chrono>
#include <istream>
#include <string_view>

#include "common/crypto.h"
#include "common/protocol.h"
#include "common/text.h"

namespace vigil::collector {
namespace {

namespace errors = protocol::errors;

constexpr size_t kMaxLoggedAgentId = 64;
constexpr size_t kMaxLoggedPath = 200;

}  // namespace

std::string entityTag(std::string_view body) {
  auto digest = crypto::sha256(body);
  // SHA-256 fails only if OpenSSL itself does; an answer without a usable tag is then one
  // that never matches (a client fetches it whole).
  if (!digest.ok()) return "\"unhashed\"";
  return "\"" + crypto::toHex(digest.value().data(), 16) + "\"";
}

bool ifNoneMatchNames(std::string_view if_none_match, std::string_view etag) {
  if (etag.rfind("W/", 0) == 0) etag.remove_prefix(2);
  std::string_view rest = if_none_match;
  while (!rest.empty()) {
    const size_t comma = rest.find(',');
    std::string_view tag = trimBlanks(rest.substr(0, comma));
    rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
    if (tag == "*") return true;
    if (tag.rfind("W/", 0) == 0) tag.remove_prefix(2);
    if (!tag.empty() && tag == etag) return true;
  }
  return false;
}

std::string printableForLog(const std::string& text, size_t max_length) {
  std::string out;
  for (char c : text.substr(0, max_length)) {
    const auto u = static_cast<unsigned char>(c);
    out.push_back(u >= 0x21 && u < 0x7f ? c : '?');
  }
  return out;
}

std::optional<std::string> requestPath(const std::string& uri) {
  const size_t end = uri.find_first_of("?#");
  const std::string_view path = std::string_view(uri).substr(0, end);
  // An absolute path without escapes is its own decoded path; anything else (an authority,
  // an absolute URI, percent-escapes) is Poco's to parse.
  if (!path.empty() && path[0] == '/' && path.substr(0, 2) != "//" &&
      path.find('%') == std::string_view::npos) {
    return std::string(path);
  }
  try {
    return Poco::URI(uri).getPath();
  } catch (const Poco::Exception&) {
    return std::nullopt;
  }
}

HttpExchange::HttpExchange(Poco::Net::HTTPServerRequest& request,
                           Poco::Net::HTTPServerResponse& response, Poco::Logger& logger)
    : request_(request), response_(response), logger_(logger) {
  path_ = requestPath(request.getURI()).value_or(request.getURI());
}

std::optional<std::string> HttpExchange::header(const std::string& name) const {
  if (!request_.has(name)) return std::nullopt;
  return request_.get(name);
}

void HttpExchange::setAgentId(const std::string& agent_id) {
  agent_id_ = printableForLog(agent_id, kMaxLoggedAgentId);
}

std::optional<std::string> HttpExchange::readJsonBody() {
  bool json = false;
  if (request_.has("Content-Type")) {
    try {
      json = Poco::Net::MediaType(request_.getContentType()).matches("application", "json");
    } catch (const Poco::Exception&) {
      json = false;
    }
  }
  if (!json) {
    sendError(ApiError{415, errors::kUnsupportedMediaType,
                       std::string("Content-Type must be ") + protocol::kContentType,
                       std::nullopt});
    return std::nullopt;
  }
  const ApiError too_large{
      413, errors::kBodyTooLarge,
      "body is larger than " + std::to_string(protocol::kMaxBodyBytes) + " bytes", std::nullopt};
  if (request_.hasContentLength() &&
      request_.getContentLength64() > static_cast<Poco::Int64>(protocol::kMaxBodyBytes)) {
    sendError(too_large);
    return std::nullopt;
  }
  // One byte past the limit detects an oversized body; a declared length needs no more.
  const size_t capacity = request_.hasContentLength()
                              ? static_cast<size_t>(request_.getContentLength64()) + 1
                              : protocol::kMaxBodyBytes + 1;
  std::string body(capacity, '\0');
  std::istream& in = request_.stream();
  in.read(body.data(), static_cast<std::streamsize>(body.size()));
  body.resize(static_cast<size_t>(in.gcount()));
  if (body.size() > protocol::kMaxBodyBytes) {
    sendError(too_large);  // stopped reading: the rest is never consumed
    return std::nullopt;
  }
  return body;
}

void HttpExchange::sendJson(int http_status, const std::string& body) {
  if (http_status == 204) {
    response_.setStatusAndReason(Poco::Net::HTTPResponse::HTTP_NO_CONTENT);
    response_.set("Cache-Control", "no-store");
    response_.setContentLength(0);
    response_.send();
    log(http_status, "");
    return;
  }
  sendDocument(http_status, protocol::kContentType, body);
}

void HttpExchange::sendDocument(int http_status, const std::string& content_type,
                                const std::string& body) {
  response_.setStatusAndReason(static_cast<Poco::Net::HTTPResponse::HTTPStatus>(http_status));
  response_.setContentType(content_type);
  response_.set("Cache-Control", "no-store");
  response_.sendBuffer(body.data(), body.size());
  log(http_status, "");
}

void HttpExchange::sendTagged(const std::string& content_type, std::string_view body,
                              std::string_view etag, const std::string& cache_control) {
  response_.set("ETag", std::string(etag));
  response_.set("Cache-Control", cache_control);
  const std::optional<std::string> if_none_match = header("If-None-Match");
  if (if_none_match && ifNoneMatchNames(*if_none_match, etag)) {
    response_.setStatusAndReason(Poco::Net::HTTPResponse::HTTP_NOT_MODIFIED);
    response_.setContentLength(0);
    response_.send();
    log(304, "");
    return;
  }
  response_.setStatusAndReason(Poco::Net::HTTPResponse::HTTP_OK);
  response_.setContentType(content_type);
  response_.sendBuffer(body.data(), body.size());
  log(200, "");
}

void HttpExchange::sendError(const ApiError& error) {
  response_.setStatusAndReason(static_cast<Poco::Net::HTTPResponse::HTTPStatus>(error.http_status));
  response_.setContentType(protocol::kContentType);
  response_.set("Cache-Control", "no-store");
  if (error.code == errors::kUnauthorized) response_.set("WWW-Authenticate", "Bearer");
  if (error.retry_after_s) response_.set("Retry-After", std::to_string(*error.retry_after_s));
  // The listener read the whole body before the handler ran (http_listener.h): an unread body
  // cannot be taken for the next request, so only a failure of the collector closes.
  if (error.http_status >= 500) response_.setKeepAlive(false);
  const std::string body =
      protocol::encode(protocol::ErrorBody{error.code, error.message, error.server_time_ms});
  response_.sendBuffer(body.data(), body.size());
  log(error.http_status, error.code);
}

void HttpExchange::log(int http_status, const std::string& code) {
  // Success is logged at debug level: the line is built only when someone reads it.
  const bool failed = http_status >= 400 && code != errors::kRateLimited;
  if (!failed && !logger_.debug()) return;
  std::string line = request_.getMethod() + " " + printableForLog(path_, kMaxLoggedPath) +
                     " from " + request_.clientAddress().toString() + " -> " +
                     std::to_string(http_status);
  if (!code.empty()) line += " " + code;
  if (!agent_id_.empty()) line += " agent=" + agent_id_;
  if (http_status >= 500) {
    logger_.error(line);
  } else if (http_status >= 400 && code != errors::kRateLimited) {
    logger_.notice(line);
  } else {  // success, or rate limited: the limiter logs once per burst
    logger_.debug(line);
  }
}

}  // namespace vigil::collector
