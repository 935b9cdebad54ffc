// Boost.Test compiled from its headers, for builds that have no Boost.Test library for their
// target (the mingw-w64 cross build; see VIGIL_BOOST_HEADERS in tests/CMakeLists.txt).
//
// This translation unit is the framework and main(); each test executable's own sources stay as
// they are: exactly one of them defines BOOST_TEST_MODULE before including
// <boost/test/unit_test.hpp>, which then defines the init function main() calls. This is Boost's
// "static library" variant, so BOOST_TEST_DYN_LINK must not be defined.
#include <boost/test/included/unit_test.hpp>
