#pragma once

// Reads one HTTP/1.1 request from untrusted bytes as they arrive, without blocking: the head
// (parsed by Poco's own HTTPRequest::read), then the body framed by Content-Length or chunked
// transfer coding, under the limits below. Framing follows RFC 9112 §6: a request that could
// be framed two ways is refused rather than guessed at, because a guess that differs from a
// proxy's is how requests are smuggled:
//   - Transfer-Encoding together with Content-Length: 400, and the connection must close;
//   - any Transfer-Encoding other than exactly `chunked` (`gzip, chunked`, `identity`,
//     `chunked, identity`, a repeated `chunked`), or one in an HTTP/1.0 request: 400, close;
//   - a Content-Length that is not one decimal number (or several that differ): 400, close;
//   - a head over max_head_bytes: 431; a body over max_body_bytes: 413 (both close).
// Every request's body is read in full before the request is complete, so a body a handler
// does not look at can never be taken for the next request.
//
// Thread safety: none; one reader belongs to one connection.

#include <Poco/Net/HTTPRequest.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace vigil::collector {

struct RequestLimits {
  size_t max_head_bytes = size_t{16} * 1024;  // request line and header fields
  size_t max_body_bytes = size_t{64} * 1024;  // decoded body
  size_t max_chunk_line_bytes = 1024;  // one chunk-size line with its extensions, or a trailer
};

// Why a request cannot be read. After a failure the connection is closed: where the next
// request would begin is unknown.
struct RequestFailure {
  int http_status = 400;
  std::string code;     // protocol error code: "bad_request", "body_too_large", ...
  std::string message;  // for the client and the log
};

class RequestReader {
 public:
  enum class State : uint8_t {
    kHead,      // waiting for the end of the head (nothing read yet, or part of it)
    kBody,      // head parsed; reading the body
    kComplete,  // head and body read: head() and body() are valid
    kFailed,    // failure() says why
  };

  explicit RequestReader(RequestLimits limits);

  // Consumes bytes from `data` and returns how many belong to this request; the rest (a
  // pipelined next request) is the caller's to keep. Consumes nothing once complete or failed.
  size_t feed(std::string_view data);

  State state() const { return state_; }
  // True once any byte of this request arrived (blank lines before a request do not count).
  bool started() const { return started_; }
  // Valid from kBody on.
  const Poco::Net::HTTPRequest& head() const { return head_; }
  // True if the client waits for `100 Continue` before sending its body (valid from kBody on).
  bool expectsContinue() const { return expect_continue_; }
  // The declared body length, or -1 when chunked (valid from kBody on).
  int64_t declaredLength() const { return declared_length_; }
  const std::string& body() const { return body_; }
  std::string takeBody() { return std::move(body_); }
  // Moves the head (request line and header fields) into `*into` without copying its fields;
  // head() is left without them until reset(). Valid once complete.
  void takeHead(Poco::Net::HTTPRequest* into);
  const RequestFailure& failure() const { return failure_; }

  // Ready for the next request on the same connection.
  void reset();

 private:
  enum class ChunkState : uint8_t { kSizeLine, kData, kDataEnd, kTrailer };

  size_t feedHead(std::string_view data);
  size_t feedBody(std::string_view data);
  size_t feedChunked(std::string_view data);
  void parseHead();
  void decideFraming();
  void fail(int http_status, const char* code, std::string message);
  // Appends to line_ up to the next LF; returns bytes consumed and sets `*complete`.
  size_t takeLine(std::string_view data, bool* complete);

  const RequestLimits limits_;
  State state_ = State::kHead;
  bool started_ = false;
  std::string head_bytes_;
  Poco::Net::HTTPRequest head_;
  bool expect_continue_ = false;
  int64_t declared_length_ = 0;
  std::string body_;
  ChunkState chunk_state_ = ChunkState::kSizeLine;
  uint64_t chunk_left_ = 0;
  std::string line_;
  size_t trailer_bytes_ = 0;
  RequestFailure failure_;
};

}  // namespace vigil::collector
