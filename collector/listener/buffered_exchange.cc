#include "collector/listener/buffered_exchange.h"

#include <fstream>
#include <iterator>

namespace vigil::collector {

BufferedServerRequest::BufferedServerRequest(Poco::Net::HTTPRequest& head, const std::string& body,
                                             const Poco::Net::SocketAddress& client,
                                             const Poco::Net::SocketAddress& server, bool secure,
                                             const Poco::Net::HTTPServerParams& params,
                                             BufferedServerResponse& response)
    : body_(body),
      body_stream_(&body_),
      client_(client),
      server_(server),
      secure_(secure),
      params_(params),
      response_(response) {
  setMethod(head.getMethod());
  setURI(head.getURI());
  setVersion(head.getVersion());
  Poco::Net::NameValueCollection::swap(head);
}

Poco::Net::HTTPServerResponse& BufferedServerRequest::response() const { return response_; }

BufferedServerResponse::BufferedServerResponse(bool head_only, int64_t idle_timeout_s)
    : head_only_(head_only), idle_timeout_s_(idle_timeout_s) {}

std::ostream& BufferedServerResponse::send() {
  sent_ = true;
  return body_;
}

void BufferedServerResponse::sendBuffer(const void* buffer, std::size_t length) {
  sent_ = true;
  body_.write(static_cast<const char*>(buffer), static_cast<std::streamsize>(length));
}

void BufferedServerResponse::sendFile(const std::string& path, const std::string& media_type) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    setStatusAndReason(HTTP_NOT_FOUND);
    sendBuffer("", 0);
    return;
  }
  const std::string content((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  setContentType(media_type);
  sendBuffer(content.data(), content.size());
}

void BufferedServerResponse::redirect(const std::string& uri, HTTPStatus status) {
  setStatusAndReason(status);
  set("Location", uri);
  sendBuffer("", 0);
}

void BufferedServerResponse::requireAuthentication(const std::string& realm) {
  setStatusAndReason(HTTP_UNAUTHORIZED);
  set("WWW-Authenticate", "Basic realm=\"" + realm + "\"");
  sendBuffer("", 0);
}

std::string BufferedServerResponse::wire() {
  if (!sent_) {
    // The handler returned without answering: Poco's own server would do the same.
    setStatusAndReason(HTTP_INTERNAL_SERVER_ERROR);
    setKeepAlive(false);
    sent_ = true;
  }
  const std::string body = body_.str();
  setChunkedTransferEncoding(false);
  if (getStatus() == HTTP_NO_CONTENT || getStatus() == HTTP_NOT_MODIFIED) {
    erase(CONTENT_LENGTH);  // RFC 9110 §8.6: never on a 204 or 304
  } else {
    setContentLength64(static_cast<Poco::Int64>(body.size()));
  }
  if (getKeepAlive()) {
    set("Keep-Alive", "timeout=" + std::to_string(idle_timeout_s_));
  } else {
    erase("Keep-Alive");
  }
  std::ostringstream out;
  write(out);
  if (!head_only_) out << body;
  return out.str();
}

}  // namespace vigil::collector
