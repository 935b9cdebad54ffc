#define BOOST_TEST_MODULE common_text
#include "common/text.h"

#include <boost/test/unit_test.hpp>

using vigil::parsePositiveId;
using vigil::trimBlanks;

BOOST_AUTO_TEST_CASE(trim_blanks_removes_blanks_at_both_ends_only) {
  BOOST_TEST(trimBlanks(" \t a b \r\n") == "a b");
  BOOST_TEST(trimBlanks("\f\vx\v") == "x");
  BOOST_TEST(trimBlanks("plain") == "plain");
  BOOST_TEST(trimBlanks(" \r\n ").empty());
  BOOST_TEST(trimBlanks("").empty());
}

BOOST_AUTO_TEST_CASE(positive_id_accepts_one_to_eighteen_digits_above_zero) {
  BOOST_TEST(parsePositiveId("1").value_or(-1) == 1);
  BOOST_TEST(parsePositiveId("0042").value_or(-1) == 42);
  BOOST_TEST(parsePositiveId("999999999999999999").value_or(-1) == 999'999'999'999'999'999);
}

BOOST_AUTO_TEST_CASE(positive_id_refuses_zero_signs_blanks_and_overlong_text) {
  BOOST_TEST(!parsePositiveId(""));
  BOOST_TEST(!parsePositiveId("0"));
  BOOST_TEST(!parsePositiveId("-3"));
  BOOST_TEST(!parsePositiveId("+3"));
  BOOST_TEST(!parsePositiveId(" 3"));
  BOOST_TEST(!parsePositiveId("3x"));
  BOOST_TEST(!parsePositiveId("1000000000000000000"));  // 19 digits
}

BOOST_AUTO_TEST_CASE(percent_encoding_keeps_only_unreserved_bytes) {
  BOOST_TEST(vigil::percentEncode("vigil-alert-7_a.b~c") == "vigil-alert-7_a.b~c");
  BOOST_TEST(vigil::percentEncode("a b/c?d&e=f") == "a%20b%2Fc%3Fd%26e%3Df");
  BOOST_TEST(vigil::percentEncode("\xc3\xa9") == "%C3%A9");
  BOOST_TEST(vigil::percentEncode("").empty());
}
