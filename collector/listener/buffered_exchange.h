#pragma once

// A request read in full by the listener and its answer built in memory, behind Poco's
// HTTPServerRequest and HTTPServerResponse, so handlers written for Poco run unchanged on a
// worker thread while the listener's event loop owns the socket. The answer is serialised by
// wire() once the handler returns; a handler never touches the network.
//
// Thread safety: none; an exchange belongs to the worker that runs its handler.

#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPServerParams.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/Net/SocketAddress.h>

#include <cstdint>
#include <istream>
#include <memory>
#include <sstream>
#include <streambuf>
#include <string>

namespace vigil::collector {

class BufferedServerResponse;

// Reads a string in place, without copying it; the string must outlive the stream.
class StringReadBuffer final : public std::streambuf {
 public:
  explicit StringReadBuffer(const std::string& text) {
    char* begin = const_cast<char*>(text.data());  // only ever read: no put area
    setg(begin, begin, begin + text.size());
  }
};

class BufferedServerRequest final : public Poco::Net::HTTPServerRequest {
 public:
  // Takes the parsed head's header fields (`head` is left without them) and reads the whole
  // decoded body in place. `body` and `params` must outlive the request.
  BufferedServerRequest(Poco::Net::HTTPRequest& head, const std::string& body,
                        const Poco::Net::SocketAddress& client,
                        const Poco::Net::SocketAddress& server, bool secure,
                        const Poco::Net::HTTPServerParams& params,
                        BufferedServerResponse& response);

  std::istream& stream() override { return body_stream_; }
  const Poco::Net::SocketAddress& clientAddress() const override { return client_; }
  const Poco::Net::SocketAddress& serverAddress() const override { return server_; }
  const Poco::Net::HTTPServerParams& serverParams() const override { return params_; }
  Poco::Net::HTTPServerResponse& response() const override;
  bool secure() const override { return secure_; }

 private:
  StringReadBuffer body_;
  std::istream body_stream_;
  const Poco::Net::SocketAddress client_;
  const Poco::Net::SocketAddress server_;
  const bool secure_;
  const Poco::Net::HTTPServerParams& params_;
  BufferedServerResponse& response_;
};

class BufferedServerResponse final : public Poco::Net::HTTPServerResponse {
 public:
  // `head_only`: a HEAD request; the answer keeps its Content-Length but carries no body.
  // `idle_timeout_s`: how long the connection stays open for the next request; a keep-alive
  // answer says so (Keep-Alive: timeout=N), so a client does not send on it once closed.
  BufferedServerResponse(bool head_only, int64_t idle_timeout_s);

  // The listener answers `Expect: 100-continue` itself before the body is read.
  void sendContinue() override {}
  std::ostream& send() override;
  void sendFile(const std::string& path, const std::string& media_type) override;
  void sendBuffer(const void* buffer, std::size_t length) override;
  void redirect(const std::string& uri, HTTPStatus status = HTTP_FOUND) override;
  void requireAuthentication(const std::string& realm) override;
  bool sent() const override { return sent_; }

  // The answer as bytes on the wire: status line, header fields with a Content-Length (a
  // chunked or unsized answer is sized here, its body being complete), then the body. Before
  // anything was sent, a 500 without body.
  std::string wire();

 private:
  const bool head_only_;
  const int64_t idle_timeout_s_;
  bool sent_ = false;
  std::ostringstream body_;
};

}  // namespace vigil::collector
