// Fuzz target: the listener's request framing (collector/listener/request_reader.h), the first
// code to touch a client's bytes. The first input byte chooses how the rest is cut into reads
// (1..256 bytes each, as a slow or pipelining client would send them); the rest is the stream.
// Invariants: no crash; the reader never takes more bytes than it was given; once complete,
// the body is never larger than the limit and matches a declared Content-Length; once failed,
// the status is 400, 413 or 431 with an error code; a reader reset after a complete request
// reads the next one from the bytes left over, as the listener does for pipelined requests.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "collector/listener/request_reader.h"

namespace {

using vigil::collector::RequestLimits;
using vigil::collector::RequestReader;

void check(bool condition) {
  if (!condition) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const size_t piece = static_cast<size_t>(data[0]) + 1;
  std::string_view stream(reinterpret_cast<const char*>(data + 1), size - 1);
  RequestLimits limits;
  limits.max_head_bytes = 2048;
  limits.max_body_bytes = 512;
  RequestReader reader(limits);
  std::string pending;
  int requests = 0;
  while ((!stream.empty() || !pending.empty()) && requests < 64) {
    if (!stream.empty()) {
      const size_t take = std::min(piece, stream.size());
      pending.append(stream.substr(0, take));
      stream.remove_prefix(take);
    }
    const size_t used = reader.feed(pending);
    check(used <= pending.size());
    pending.erase(0, used);
    switch (reader.state()) {
      case RequestReader::State::kComplete:
        check(reader.body().size() <= limits.max_body_bytes);
        if (reader.declaredLength() >= 0) {
          check(reader.body().size() == static_cast<size_t>(reader.declaredLength()));
        }
        ++requests;
        reader.reset();
        break;
      case RequestReader::State::kFailed: {
        const int status = reader.failure().http_status;
        check(status == 400 || status == 413 || status == 431);
        check(!reader.failure().code.empty());
        return 0;  // the listener closes the connection here
      }
      case RequestReader::State::kHead:
      case RequestReader::State::kBody:
        if (stream.empty()) return 0;  // waiting for bytes that never come
        break;
    }
  }
  return 0;
}
