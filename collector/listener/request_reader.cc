#include "collector/listener/request_reader.h"

#include <Poco/Exception.h>
#include <Poco/String.h>

#include <sstream>
#include <vector>

#include "common/protocol.h"

namespace vigil::collector {
namespace {

namespace errors = protocol::errors;

constexpr char kTransferEncoding[] = "Transfer-Encoding";
constexpr char kContentLength[] = "Content-Length";

// Every value of the header `name` (it may be repeated), split at commas, trimmed, lowercase.
std::vector<std::string> listValues(const Poco::Net::HTTPRequest& head, const std::string& name) {
  std::vector<std::string> out;
  for (auto it = head.find(name); it != head.end() && Poco::icompare(it->first, name) == 0; ++it) {
    std::string item;
    std::istringstream parts(it->second);
    while (std::getline(parts, item, ',')) out.push_back(Poco::toLower(Poco::trim(item)));
  }
  return out;
}

bool allDigits(const std::string& text) {
  if (text.empty()) return false;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

// A chunk size (hex digits, before any extension); false on anything else or overflow.
bool parseChunkSize(const std::string& line, uint64_t* size) {
  size_t end = line.find_first_of(";\r");
  if (end == std::string::npos) end = line.size();
  std::string digits = Poco::trim(line.substr(0, end));
  if (digits.empty() || digits.size() > 15) return false;
  uint64_t value = 0;
  for (char c : digits) {
    int d;
    if (c >= '0' && c <= '9') {
      d = c - '0';
    } else if (c >= 'a' && c <= 'f') {
      d = c - 'a' + 10;
    } else if (c >= 'A' && c <= 'F') {
      d = c - 'A' + 10;
    } else {
      return false;
    }
    value = value * 16 + static_cast<uint64_t>(d);
  }
  *size = value;
  return true;
}

}  // namespace

RequestReader::RequestReader(RequestLimits limits) : limits_(limits) {}

void RequestReader::reset() {
  state_ = State::kHead;
  started_ = false;
  head_bytes_.clear();
  head_ = Poco::Net::HTTPRequest();
  expect_continue_ = false;
  declared_length_ = 0;
  body_.clear();
  chunk_state_ = ChunkState::kSizeLine;
  chunk_left_ = 0;
  line_.clear();
  trailer_bytes_ = 0;
  failure_ = RequestFailure{};
}

void RequestReader::takeHead(Poco::Net::HTTPRequest* into) {
  into->setMethod(head_.getMethod());
  into->setURI(head_.getURI());
  into->setVersion(head_.getVersion());
  into->Poco::Net::NameValueCollection::swap(head_);
}

void RequestReader::fail(int http_status, const char* code, std::string message) {
  state_ = State::kFailed;
  failure_ = RequestFailure{http_status, code, std::move(message)};
}

size_t RequestReader::feed(std::string_view data) {
  size_t used = 0;
  while (used < data.size() && (state_ == State::kHead || state_ == State::kBody)) {
    const std::string_view rest = data.substr(used);
    used += state_ == State::kHead ? feedHead(rest) : feedBody(rest);
  }
  return used;
}

size_t RequestReader::feedHead(std::string_view data) {
  size_t used = 0;
  if (!started_) {
    // Blank lines before a request line are tolerated (RFC 9112 §2.2).
    while (used < data.size() && (data[used] == '\r' || data[used] == '\n')) ++used;
    if (used == data.size()) return used;
    started_ = true;
  }
  // The head ends at the first empty line ("\n\n", or "\n\r\n"); look only at new bytes and
  // the two before them.
  const size_t from = head_bytes_.size() >= 2 ? head_bytes_.size() - 2 : 0;
  head_bytes_.append(data.substr(used));
  size_t end = std::string::npos;
  for (size_t i = from; i < head_bytes_.size(); ++i) {
    if (head_bytes_[i] != '\n') continue;
    if (i + 1 < head_bytes_.size() && head_bytes_[i + 1] == '\n') {
      end = i + 2;
      break;
    }
    if (i + 2 < head_bytes_.size() && head_bytes_[i + 1] == '\r' && head_bytes_[i + 2] == '\n') {
      end = i + 3;
      break;
    }
  }
  if (end == std::string::npos) {
    if (head_bytes_.size() > limits_.max_head_bytes) {
      fail(431, errors::kHeadersTooLarge,
           "request head is larger than " + std::to_string(limits_.max_head_bytes) + " bytes");
    }
    return data.size();
  }
  if (end > limits_.max_head_bytes) {
    fail(431, errors::kHeadersTooLarge,
         "request head is larger than " + std::to_string(limits_.max_head_bytes) + " bytes");
    return data.size();
  }
  // Bytes after the head belong to the body or the next request.
  const size_t surplus = head_bytes_.size() - end;
  head_bytes_.resize(end);
  parseHead();
  return data.size() - surplus;
}

void RequestReader::parseHead() {
  std::istringstream in(head_bytes_);
  try {
    head_.read(in);
  } catch (const Poco::Exception& e) {
    fail(400, errors::kBadRequest, "malformed request head: " + e.message());
    return;
  }
  const std::string& version = head_.getVersion();
  if (version != Poco::Net::HTTPMessage::HTTP_1_1 && version != Poco::Net::HTTPMessage::HTTP_1_0) {
    fail(400, errors::kBadRequest, "only HTTP/1.0 and HTTP/1.1 are served");
    return;
  }
  if (head_.getURI().empty() || head_.getURI()[0] != '/') {
    fail(400, errors::kBadRequest, "the request target must be an absolute path");
    return;
  }
  decideFraming();
}

void RequestReader::decideFraming() {
  const bool has_te = head_.has(kTransferEncoding);
  const bool has_cl = head_.has(kContentLength);
  if (has_te) {
    if (has_cl) {
      fail(400, errors::kBadRequest, "Transfer-Encoding and Content-Length together");
      return;
    }
    if (head_.getVersion() == Poco::Net::HTTPMessage::HTTP_1_0) {
      fail(400, errors::kBadRequest, "Transfer-Encoding in an HTTP/1.0 request");
      return;
    }
    const std::vector<std::string> codings = listValues(head_, kTransferEncoding);
    if (codings.size() != 1 || codings[0] != "chunked") {
      fail(400, errors::kBadRequest, "the only Transfer-Encoding served is chunked");
      return;
    }
    declared_length_ = -1;
  } else if (has_cl) {
    const std::vector<std::string> lengths = listValues(head_, kContentLength);
    for (const std::string& value : lengths) {
      if (!allDigits(value) || value != lengths[0]) {
        fail(400, errors::kBadRequest, "Content-Length must be one decimal number");
        return;
      }
    }
    if (lengths.empty()) {
      fail(400, errors::kBadRequest, "Content-Length must be one decimal number");
      return;
    }
    const std::string& digits = lengths[0];
    if (digits.size() > 18) {
      fail(413, errors::kBodyTooLarge,
           "body is larger than " + std::to_string(limits_.max_body_bytes) + " bytes");
      return;
    }
    declared_length_ = static_cast<int64_t>(std::stoull(digits));
    if (static_cast<uint64_t>(declared_length_) > limits_.max_body_bytes) {
      fail(413, errors::kBodyTooLarge,
           "body is larger than " + std::to_string(limits_.max_body_bytes) + " bytes");
      return;
    }
    body_.reserve(static_cast<size_t>(declared_length_));
  } else {
    declared_length_ = 0;
  }
  expect_continue_ = head_.getVersion() == Poco::Net::HTTPMessage::HTTP_1_1 &&
                     head_.has("Expect") &&
                     Poco::icompare(head_.get("Expect"), "100-continue") == 0;
  state_ = declared_length_ == 0 ? State::kComplete : State::kBody;
}

size_t RequestReader::feedBody(std::string_view data) {
  if (declared_length_ < 0) return feedChunked(data);
  const size_t want = static_cast<size_t>(declared_length_) - body_.size();
  const size_t take = std::min(want, data.size());
  body_.append(data.substr(0, take));
  if (body_.size() == static_cast<size_t>(declared_length_)) state_ = State::kComplete;
  return take;
}

size_t RequestReader::takeLine(std::string_view data, bool* complete) {
  const size_t lf = data.find('\n');
  const size_t take = lf == std::string_view::npos ? data.size() : lf + 1;
  line_.append(data.substr(0, take));
  *complete = lf != std::string_view::npos;
  return take;
}

size_t RequestReader::feedChunked(std::string_view data) {
  size_t used = 0;
  while (used < data.size() && state_ == State::kBody) {
    const std::string_view rest = data.substr(used);
    bool line_complete = false;
    switch (chunk_state_) {
      case ChunkState::kSizeLine: {
        used += takeLine(rest, &line_complete);
        if (line_.size() > limits_.max_chunk_line_bytes) {
          fail(400, errors::kBadRequest, "chunk-size line too long");
          break;
        }
        if (!line_complete) break;
        uint64_t size = 0;
        if (!parseChunkSize(line_, &size)) {
          fail(400, errors::kBadRequest, "malformed chunk size");
          break;
        }
        line_.clear();
        if (size > limits_.max_body_bytes - body_.size()) {
          fail(413, errors::kBodyTooLarge,
               "body is larger than " + std::to_string(limits_.max_body_bytes) + " bytes");
          break;
        }
        chunk_left_ = size;
        chunk_state_ = size == 0 ? ChunkState::kTrailer : ChunkState::kData;
        break;
      }
      case ChunkState::kData: {
        const size_t take = static_cast<size_t>(std::min<uint64_t>(chunk_left_, rest.size()));
        body_.append(rest.substr(0, take));
        chunk_left_ -= take;
        used += take;
        if (chunk_left_ == 0) chunk_state_ = ChunkState::kDataEnd;
        break;
      }
      case ChunkState::kDataEnd: {
        used += takeLine(rest, &line_complete);
        if (line_.size() > 2 || (line_complete && line_ != "\r\n" && line_ != "\n")) {
          fail(400, errors::kBadRequest, "chunk data not followed by CRLF");
          break;
        }
        if (!line_complete) break;
        line_.clear();
        chunk_state_ = ChunkState::kSizeLine;
        break;
      }
      case ChunkState::kTrailer: {
        // Trailer fields are read and dropped; an empty line ends the body.
        const size_t took = takeLine(rest, &line_complete);
        used += took;
        trailer_bytes_ += took;
        if (trailer_bytes_ > limits_.max_head_bytes) {
          fail(431, errors::kHeadersTooLarge, "chunked trailer too large");
          break;
        }
        if (!line_complete) break;
        const bool empty = line_ == "\r\n" || line_ == "\n";
        line_.clear();
        if (empty) state_ = State::kComplete;
        break;
      }
    }
  }
  return used;
}

}  // namespace vigil::collector
