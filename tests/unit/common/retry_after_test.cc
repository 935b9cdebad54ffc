#define BOOST_TEST_MODULE common_retry_after
#include "common/retry_after.h"

#include <boost/test/unit_test.hpp>

using namespace std::chrono_literals;
using vigil::fromUnixMillis;
using vigil::parseDeltaSeconds;
using vigil::parseRetryAfter;

namespace {

// Wed, 21 Oct 2015 07:28:00 GMT
const vigil::WallTime kNow = fromUnixMillis(1'445'412'480'000);
constexpr std::chrono::seconds kDay = 86'400s;

}  // namespace

BOOST_AUTO_TEST_CASE(delta_seconds_are_digits_with_blanks_around_capped_at_max) {
  BOOST_TEST(parseDeltaSeconds("120", kDay).value_or(-1s).count() == 120);
  BOOST_TEST(parseDeltaSeconds(" 5\r\n", kDay).value_or(-1s).count() == 5);
  BOOST_TEST(parseDeltaSeconds("0", kDay).value_or(-1s).count() == 0);
  BOOST_TEST(parseDeltaSeconds("99999999999999999999999", kDay).value_or(-1s).count() == 86'400);
  BOOST_TEST(!parseDeltaSeconds("", kDay));
  BOOST_TEST(!parseDeltaSeconds("-5", kDay));
  BOOST_TEST(!parseDeltaSeconds("1.5", kDay));
  BOOST_TEST(!parseDeltaSeconds("1 2", kDay));
}

BOOST_AUTO_TEST_CASE(retry_after_reads_delta_seconds) {
  BOOST_TEST(parseRetryAfter("30", kNow, kDay).value().count() == 30'000);
  BOOST_TEST(parseRetryAfter(" 0 ", kNow, kDay).value().count() == 0);
  BOOST_TEST(parseRetryAfter("100000", kNow, kDay).value().count() == 86'400'000);
}

BOOST_AUTO_TEST_CASE(retry_after_reads_an_imf_fixdate_relative_to_now) {
  BOOST_TEST(parseRetryAfter("Wed, 21 Oct 2015 07:29:00 GMT", kNow, kDay).value().count() ==
             60'000);
  BOOST_TEST(parseRetryAfter("Thu, 22 Oct 2015 07:28:00 GMT", kNow, kDay).value().count() ==
             86'400'000);
  BOOST_TEST(
      parseRetryAfter("Thu, 29 Feb 2024 00:00:00 GMT", kNow, 10 * 365 * kDay).value().count() ==
      (1'709'164'800'000 - 1'445'412'480'000));
}

BOOST_AUTO_TEST_CASE(retry_after_date_in_the_past_is_zero_and_a_far_date_is_capped) {
  BOOST_TEST(parseRetryAfter("Wed, 21 Oct 2015 07:00:00 GMT", kNow, kDay).value().count() == 0);
  BOOST_TEST(parseRetryAfter("Sun, 06 Nov 1994 08:49:37 GMT", kNow, kDay).value().count() == 0);
  BOOST_TEST(parseRetryAfter("Fri, 21 Oct 2016 07:28:00 GMT", kNow, kDay).value().count() ==
             86'400'000);
}

BOOST_AUTO_TEST_CASE(retry_after_refuses_other_text_and_other_date_forms) {
  BOOST_TEST(!parseRetryAfter("", kNow, kDay));
  BOOST_TEST(!parseRetryAfter("soon", kNow, kDay));
  BOOST_TEST(!parseRetryAfter("-5", kNow, kDay));
  BOOST_TEST(!parseRetryAfter("Wednesday, 21-Oct-15 07:29:00 GMT", kNow, kDay));  // RFC 850
  BOOST_TEST(!parseRetryAfter("Wed Oct 21 07:29:00 2015", kNow, kDay));           // asctime
  BOOST_TEST(!parseRetryAfter("Wed, 21 Oct 2015 07:29:00 UTC", kNow, kDay));
  BOOST_TEST(!parseRetryAfter("Wed, 21 Foo 2015 07:29:00 GMT", kNow, kDay));
  BOOST_TEST(!parseRetryAfter("Xyz, 21 Oct 2015 07:29:00 GMT", kNow, kDay));
  BOOST_TEST(!parseRetryAfter("Wed, 30 Feb 2015 07:29:00 GMT", kNow, kDay));
  BOOST_TEST(!parseRetryAfter("Wed, 21 Oct 2015 24:29:00 GMT", kNow, kDay));
  BOOST_TEST(!parseRetryAfter("Wed, 2x Oct 2015 07:29:00 GMT", kNow, kDay));
}
