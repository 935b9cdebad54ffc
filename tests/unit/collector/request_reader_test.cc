#define BOOST_TEST_MODULE collector_request_reader
// Framing of untrusted requests (RFC 9112 §6): heads in any number of pieces, bodies by
// Content-Length and chunked coding, and every ambiguity that could smuggle a request refused.
#include "collector/listener/request_reader.h"

#include <boost/test/unit_test.hpp>
#include <string>

using vigil::collector::RequestLimits;
using vigil::collector::RequestReader;
using State = RequestReader::State;

namespace {

RequestLimits smallLimits() {
  RequestLimits limits;
  limits.max_head_bytes = 1024;
  limits.max_body_bytes = 64;
  return limits;
}

// Feeds all of `bytes` at once; returns how many the reader took.
size_t feedAll(RequestReader& reader, const std::string& bytes) { return reader.feed(bytes); }

void expectFailure(const std::string& bytes, int status, const std::string& code) {
  RequestReader reader(smallLimits());
  reader.feed(bytes);
  BOOST_TEST_CONTEXT(bytes) {
    BOOST_TEST(static_cast<int>(reader.state()) == static_cast<int>(State::kFailed));
    BOOST_TEST(reader.failure().http_status == status);
    BOOST_TEST(reader.failure().code == code);
  }
}

}  // namespace

BOOST_AUTO_TEST_CASE(a_get_without_body_is_complete_at_the_end_of_its_head) {
  RequestReader reader(smallLimits());
  const std::string request = "GET /livez HTTP/1.1\r\nHost: x\r\n\r\n";
  BOOST_TEST(feedAll(reader, request + "GET /next") == request.size());
  BOOST_TEST(static_cast<int>(reader.state()) == static_cast<int>(State::kComplete));
  BOOST_TEST(reader.head().getMethod() == "GET");
  BOOST_TEST(reader.head().getURI() == "/livez");
  BOOST_TEST(reader.body().empty());
}

BOOST_AUTO_TEST_CASE(a_head_arriving_one_byte_at_a_time_is_read_the_same) {
  RequestReader reader(smallLimits());
  const std::string request =
      "POST /v1/heartbeat HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello";
  for (char c : request) {
    BOOST_REQUIRE(static_cast<int>(reader.state()) != static_cast<int>(State::kFailed));
    BOOST_TEST(reader.feed(std::string(1, c)) == 1u);
  }
  BOOST_TEST(static_cast<int>(reader.state()) == static_cast<int>(State::kComplete));
  BOOST_TEST(reader.body() == "hello");
}

BOOST_AUTO_TEST_CASE(blank_lines_before_a_request_are_skipped_and_do_not_start_it) {
  RequestReader reader(smallLimits());
  reader.feed("\r\n\r\n");
  BOOST_TEST(!reader.started());
  reader.feed("GET / HTTP/1.1\r\n\r\n");
  BOOST_TEST(reader.started());
  BOOST_TEST(static_cast<int>(reader.state()) == static_cast<int>(State::kComplete));
}

BOOST_AUTO_TEST_CASE(a_get_with_a_content_length_body_consumes_that_body) {
  // The body must never be run as a second request.
  RequestReader reader(smallLimits());
  const std::string request = "GET /livez HTTP/1.1\r\nContent-Length: 23\r\n\r\n";
  const std::string smuggled = "GET /admin HTTP/1.1\r\n\r\n";
  BOOST_TEST(feedAll(reader, request + smuggled) == request.size() + smuggled.size());
  BOOST_TEST(static_cast<int>(reader.state()) == static_cast<int>(State::kComplete));
  BOOST_TEST(reader.body() == smuggled);
}

BOOST_AUTO_TEST_CASE(a_chunked_body_is_decoded_with_extensions_and_trailer) {
  RequestReader reader(smallLimits());
  const std::string request =
      "POST /v1/enroll HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
      "5;name=value\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: 1\r\n\r\n";
  BOOST_TEST(feedAll(reader, request + "NEXT") == request.size());
  BOOST_TEST(static_cast<int>(reader.state()) == static_cast<int>(State::kComplete));
  BOOST_TEST(reader.body() == "hello world");
  BOOST_TEST(reader.declaredLength() == -1);
}

BOOST_AUTO_TEST_CASE(a_chunked_body_in_pieces_is_decoded) {
  RequestReader reader(smallLimits());
  const std::string request =
      "POST /v1/enroll HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
      "a\r\n0123456789\r\n0\r\n\r\n";
  for (char c : request) reader.feed(std::string(1, c));
  BOOST_TEST(static_cast<int>(reader.state()) == static_cast<int>(State::kComplete));
  BOOST_TEST(reader.body() == "0123456789");
}

BOOST_AUTO_TEST_CASE(transfer_encoding_with_content_length_is_refused) {
  expectFailure(
      "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n0\r\n\r\n", 400,
      "bad_request");
}

BOOST_AUTO_TEST_CASE(transfer_encodings_other_than_chunked_are_refused) {
  for (const char* coding : {"gzip, chunked", "identity", "chunked, identity", "chunked, chunked",
                             "gzip", "chunked;q=1"}) {
    expectFailure(std::string("POST / HTTP/1.1\r\nTransfer-Encoding: ") + coding +
                      "\r\nContent-Length: 3\r\n\r\nabc",
                  400, "bad_request");
    expectFailure(std::string("POST / HTTP/1.1\r\nTransfer-Encoding: ") + coding + "\r\n\r\n", 400,
                  "bad_request");
  }
  // Two header fields that together say "chunked, chunked".
  expectFailure(
      "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", 400,
      "bad_request");
}

BOOST_AUTO_TEST_CASE(chunked_in_an_http_1_0_request_is_refused) {
  expectFailure("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400,
                "bad_request");
}

BOOST_AUTO_TEST_CASE(content_lengths_that_are_not_one_number_are_refused) {
  for (const char* length : {"+5", "-1", "5 5", "0x10", "", "5, 6", "1e3"}) {
    expectFailure(std::string("POST / HTTP/1.1\r\nContent-Length: ") + length + "\r\n\r\n", 400,
                  "bad_request");
  }
  expectFailure("POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n", 400,
                "bad_request");
  RequestReader same(smallLimits());
  same.feed("POST / HTTP/1.1\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nab");
  BOOST_TEST(static_cast<int>(same.state()) == static_cast<int>(State::kComplete));
}

BOOST_AUTO_TEST_CASE(bodies_over_the_limit_are_413_before_they_are_read) {
  expectFailure("POST / HTTP/1.1\r\nContent-Length: 65\r\n\r\n", 413, "body_too_large");
  expectFailure("POST / HTTP/1.1\r\nContent-Length: 99999999999999999999999\r\n\r\n", 413,
                "body_too_large");
  expectFailure("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n41\r\n", 413,
                "body_too_large");
  expectFailure(
      "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
      "20\r\n" +
          std::string(32, 'a') + "\r\n21\r\n",
      413, "body_too_large");
}

BOOST_AUTO_TEST_CASE(heads_over_the_limit_are_431) {
  expectFailure("GET / HTTP/1.1\r\nX-Big: " + std::string(2000, 'a'), 431, "headers_too_large");
  expectFailure("GET / HTTP/1.1\r\nX-Big: " + std::string(2000, 'a') + "\r\n\r\n", 431,
                "headers_too_large");
}

BOOST_AUTO_TEST_CASE(malformed_heads_are_400) {
  expectFailure("NONSENSE\r\n\r\n", 400, "bad_request");
  expectFailure("GET / HTTP/2.0\r\n\r\n", 400, "bad_request");
  expectFailure("GET http://elsewhere/ HTTP/1.1\r\n\r\n", 400, "bad_request");
  expectFailure("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400, "bad_request");
  expectFailure("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabX\r\n", 400,
                "bad_request");
}

BOOST_AUTO_TEST_CASE(expect_continue_is_seen_and_reset_clears_everything) {
  RequestReader reader(smallLimits());
  reader.feed("POST / HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n");
  BOOST_TEST(static_cast<int>(reader.state()) == static_cast<int>(State::kBody));
  BOOST_TEST(reader.expectsContinue());
  reader.feed("ok");
  BOOST_TEST(static_cast<int>(reader.state()) == static_cast<int>(State::kComplete));
  reader.reset();
  BOOST_TEST(!reader.started());
  BOOST_TEST(!reader.expectsContinue());
  reader.feed("GET /again HTTP/1.1\r\n\r\n");
  BOOST_TEST(reader.head().getURI() == "/again");
  BOOST_TEST(!reader.head().has("Expect"));
}
